//! Which timers are still live, one bit each, so that a timer that fires after it was
//! cancelled is recognised without reading the state it belongs to. With a million
//! terminals nearly every timeout is cancelled by the answer it waited for; checking the
//! terminal for each would read a cold 64-byte line, where this table, spanning only the
//! timers pending, stays in cache.
//!
//! Ids are handed out in increasing order and named by their low 32 bits (the ids pending
//! span far fewer than 2^32); 0 names no timer.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct Timers {
    /// The id of bit 0 of `live[0]`: a multiple of 64.
    base: u64,
    next: u64,
    live: VecDeque<u64>,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            base: 0,
            next: 1,
            live: VecDeque::new(),
        }
    }
}

impl Timers {
    /// A new live timer's name.
    pub fn arm(&mut self) -> u32 {
        if self.next as u32 == 0 {
            // 0 names no timer.
            self.next += 1;
        }
        let id = self.next;
        self.next += 1;
        let word = ((id - self.base) / 64) as usize;
        if word == self.live.len() {
            self.live.push_back(0);
        }
        self.live[word] |= 1 << (id % 64);
        id as u32
    }

    /// The word and bit of the pending id named `name`, if it is still in the table.
    fn find(&self, name: u32) -> Option<(usize, u64)> {
        let offset = name.wrapping_sub(self.base as u32) as usize;
        let word = offset / 64;
        (name != 0 && word < self.live.len()).then_some((word, 1 << (offset % 64)))
    }

    /// The timer named `name` will not count when it fires. Nothing if it already has fired or
    /// been cancelled, or if `name` is 0.
    pub fn cancel(&mut self, name: u32) {
        if let Some((w, bit)) = self.find(name) {
            self.live[w] &= !bit;
            self.trim();
        }
    }

    /// Whether the timer named `name`, firing now, still counts; it is live no more.
    pub fn fire(&mut self, name: u32) -> bool {
        let Some((w, bit)) = self.find(name) else {
            return false;
        };
        let live = self.live[w] & bit != 0;
        self.live[w] &= !bit;
        self.trim();
        live
    }

    /// Whether the timer named `name` is live, without changing anything.
    #[inline]
    pub fn is_live(&self, name: u32) -> bool {
        self.find(name)
            .is_some_and(|(w, bit)| self.live[w] & bit != 0)
    }

    /// Drops the leading words with no live timer (keeping the word still being handed out).
    fn trim(&mut self) {
        while self.live.len() > 1 && self.live.front() == Some(&0) {
            self.live.pop_front();
            self.base += 64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_and_fired_timers_do_not_count() {
        let mut t = Timers::default();
        let a = t.arm();
        let b = t.arm();
        let c = t.arm();
        assert!(a != 0 && t.is_live(a) && t.is_live(b));
        t.cancel(b);
        assert!(!t.is_live(b));
        assert!(t.fire(a));
        assert!(!t.fire(a), "a timer counts once");
        assert!(!t.fire(b));
        t.cancel(0);
        assert!(t.is_live(c));
        assert!(t.fire(c));
    }

    #[test]
    fn the_table_spans_only_the_live_timers() {
        let mut t = Timers::default();
        let mut pending = std::collections::VecDeque::new();
        for i in 0..100_000u32 {
            pending.push_back(t.arm());
            // Every third is cancelled at once; the rest fire about 1000 timers later.
            if i % 3 == 0 {
                t.cancel(*pending.back().unwrap());
            }
            if pending.len() > 1000 {
                let name = pending.pop_front().unwrap();
                let cancelled = (i - 1000) % 3 == 0;
                assert_eq!(t.fire(name), !cancelled, "timer {name}");
            }
        }
        assert!(t.live.len() <= 1000 / 64 + 2, "{} words", t.live.len());
    }

    #[test]
    fn names_skip_zero_when_the_low_bits_wrap() {
        let mut t = Timers {
            base: (1 << 32) - 128,
            next: (1 << 32) - 1,
            live: VecDeque::from([0, 0]),
        };
        let a = t.arm();
        let b = t.arm();
        assert_eq!((a, b), (u32::MAX, 1));
        assert!(t.is_live(a) && t.is_live(b));
        assert!(t.fire(a) && t.fire(b));
    }
}
