//! The bank's idempotency table, sized for long runs.
//!
//! A key is remembered for its retention window after it was stored. Nearly every intent stores
//! one key, that of its first attempt, so that case is packed into five bytes in a dense array
//! indexed by intent id (a code and the time in milliseconds, rounded up: a key is kept at most
//! a millisecond longer than its window). Other keys, and times past the range of the packed
//! form, go to an exact ordered map. Memory follows the keys inside their window, not the run.

use std::collections::{BTreeMap, VecDeque};

use payfault_engine::{SimDuration, SimTime};

const ABSENT: u8 = 0;
/// The first attempt's key is stored; the code is `code - 1`.
const PACKED_BASE: u8 = 1;
const NS_PER_MS: u64 = 1_000_000;

/// A packed entry: its code, then its time in milliseconds, in five bytes, so that one read
/// finds both.
#[derive(Clone, Copy, Debug)]
struct Packed([u8; 5]);

impl Packed {
    const ABSENT: Packed = Packed([ABSENT, 0, 0, 0, 0]);

    fn new(code: u8, ms: u32) -> Packed {
        let t = ms.to_le_bytes();
        Packed([code, t[0], t[1], t[2], t[3]])
    }

    fn get(self) -> (u8, u32) {
        let [code, t @ ..] = self.0;
        (code, u32::from_le_bytes(t))
    }
}

#[derive(Debug)]
pub struct IdemTable {
    retention: SimDuration,
    /// The sub-key (the key's low 24 bits) that the packed form stands for.
    common_sub: u64,
    base: u64,
    packed: VecDeque<Packed>,
    exact: BTreeMap<u64, (u8, SimTime)>,
    exact_expiry: VecDeque<(SimTime, u64)>,
}

impl IdemTable {
    /// `common_sub` is the low 24 bits of the key most intents store (their first attempt's).
    pub fn new(retention: SimDuration, common_sub: u64) -> Self {
        IdemTable {
            retention,
            common_sub,
            base: 0,
            packed: VecDeque::new(),
            exact: BTreeMap::new(),
            exact_expiry: VecDeque::new(),
        }
    }

    fn packed_expired(&self, ms: u32, now: SimTime) -> bool {
        SimTime::from_nanos(u64::from(ms) * NS_PER_MS).saturating_add(self.retention) <= now
    }

    /// Starts loading the packed entry of the intent whose id has low 32 bits `intent_low`
    /// into cache. The table spans fewer than 2^32 intents, so the low bits name one.
    #[inline]
    pub fn prefetch_low(&self, intent_low: u32) {
        let idx = intent_low.wrapping_sub(self.base as u32) as usize;
        if let Some(p) = self.packed.get(idx) {
            payfault_engine::prefetch_all(p);
        }
    }

    /// The response stored for `key`, if it is still inside its window.
    pub fn lookup(&mut self, key: u64, now: SimTime) -> Option<u8> {
        self.expire(now);
        let (intent, sub) = (key >> 24, key & 0xff_ffff);
        if sub == self.common_sub {
            if let Some(idx) = intent.checked_sub(self.base).map(|i| i as usize) {
                if let Some((code, ms)) = self.packed.get(idx).map(|p| p.get()) {
                    if code != ABSENT && !self.packed_expired(ms, now) {
                        return Some(code - PACKED_BASE);
                    }
                }
            }
        }
        self.exact
            .get(&key)
            .filter(|(_, at)| at.saturating_add(self.retention) > now)
            .map(|&(code, _)| code)
    }

    /// Stores the response to `key` at `now` (a later store of the same key renews it).
    pub fn store(&mut self, key: u64, code: u8, now: SimTime) {
        let (intent, sub) = (key >> 24, key & 0xff_ffff);
        let ms = now.as_nanos().div_ceil(NS_PER_MS);
        let packable =
            sub == self.common_sub && code < u8::MAX - PACKED_BASE && ms <= u64::from(u32::MAX);
        if packable {
            if self.packed.is_empty() {
                self.base = intent;
            }
            while intent < self.base {
                self.packed.push_front(Packed::ABSENT);
                self.base -= 1;
            }
            let idx = (intent - self.base) as usize;
            if self.packed.len() <= idx {
                self.packed.resize(idx + 1, Packed::ABSENT);
            }
            self.packed[idx] = Packed::new(code + PACKED_BASE, ms as u32);
            self.exact.remove(&key);
        } else {
            self.exact.insert(key, (code, now));
            self.exact_expiry
                .push_back((now.saturating_add(self.retention), key));
        }
    }

    /// Forgets what has left its window. Packed entries go from the front of the array, so one
    /// that outlives its older neighbours holds them a little past their window; lookups check
    /// each entry's own time, so that costs memory for a while, never correctness.
    fn expire(&mut self, now: SimTime) {
        while let Some((code, ms)) = self.packed.front().map(|p| p.get()) {
            if code != ABSENT && !self.packed_expired(ms, now) {
                break;
            }
            self.packed.pop_front();
            self.base += 1;
        }
        while let Some(&(exp, key)) = self.exact_expiry.front() {
            if exp > now {
                break;
            }
            self.exact_expiry.pop_front();
            if self
                .exact
                .get(&key)
                .is_some_and(|(_, at)| at.saturating_add(self.retention) <= now)
            {
                self.exact.remove(&key);
            }
        }
    }

    /// A crash of a volatile table.
    pub fn clear(&mut self) {
        self.packed.clear();
        self.exact.clear();
        self.exact_expiry.clear();
    }

    /// Entries held, live or waiting to be swept.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.packed.len() + self.exact.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(intent: u64, sub: u64) -> u64 {
        (intent << 24) | sub
    }
    fn s(secs: u64) -> SimTime {
        SimTime::from_nanos(secs * 1_000_000_000)
    }

    #[test]
    fn remembers_within_the_window_and_forgets_after() {
        let mut t = IdemTable::new(SimDuration::from_secs(10), 1);
        t.store(key(5, 1), 0, s(1));
        t.store(key(5, 2), 51, s(1));
        t.store(key(3, 1), 0, s(2));
        assert_eq!(t.lookup(key(5, 1), s(10)), Some(0));
        assert_eq!(t.lookup(key(5, 2), s(10)), Some(51));
        assert_eq!(t.lookup(key(3, 1), s(11)), Some(0));
        assert_eq!(t.lookup(key(4, 1), s(11)), None);
        assert_eq!(t.lookup(key(5, 1), s(11)), None, "stored at 1 s, kept 10 s");
        assert_eq!(t.lookup(key(5, 2), s(11)), None);
        assert_eq!(t.lookup(key(3, 1), s(12)), None);
        assert_eq!(t.held(), 0, "everything expired is released");
    }

    #[test]
    fn a_crash_of_a_volatile_table_forgets_everything() {
        let mut t = IdemTable::new(SimDuration::from_secs(10), 1);
        t.store(key(1, 1), 0, s(1));
        t.store(key(1, 7), 0, s(1));
        t.clear();
        assert_eq!(t.lookup(key(1, 1), s(2)), None);
        assert_eq!(t.lookup(key(1, 7), s(2)), None);
    }

    #[test]
    fn memory_follows_the_window_not_the_run() {
        let mut t = IdemTable::new(SimDuration::from_secs(60), 1);
        for i in 0..1_000_000u64 {
            let now = SimTime::from_nanos(i * 1_000_000); // one purchase a millisecond
            t.store(key(i, 1), 0, now);
            t.lookup(key(i, 1), now);
        }
        assert!(t.held() <= 60_001, "{}", t.held());
    }
}
