use crate::time::{SimDuration, SimTime};

/// Bounds on one run. Hitting either is an error, so a run that would not end says so.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// No event may be due after this instant.
    pub max_time: SimTime,
    /// At most this many events are processed.
    pub max_events: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_time: SimTime::MAX,
            max_events: u64::MAX,
        }
    }
}

/// What can go wrong in the engine itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("event scheduled at {at}, before the current time {now}")]
    InPast { now: SimTime, at: SimTime },
    #[error("the run passed its simulated-time limit of {limit} with {pending} events pending")]
    TimeLimit { limit: SimTime, pending: usize },
    #[error("the run passed its limit of {limit} events with {pending} events pending")]
    EventLimit { limit: u64, pending: usize },
}

/// Queue entry. The key packs (time, sequence) into one integer: keys are unique, and equal
/// times come out first-in first-out.
struct Entry<E> {
    key: u128,
    event: E,
}

/// A radix heap (Ahuja, Mehlhorn, Orlin and Tarjan): a monotone priority queue whose cost does
/// not grow with the number of pending events the way a binary heap's does. Entry `k` lives in
/// the bucket numbered by the highest bit in which `k` differs from the last key taken out;
/// taking out the smallest key redistributes one bucket into lower ones, so each entry moves
/// at most once per bit of the key.
pub struct RadixHeap<E> {
    last: u128,
    len: usize,
    /// Bucket 0 holds keys equal to `last`; bucket `b` keys whose highest differing bit is b-1.
    buckets: Vec<Vec<Entry<E>>>,
    /// Bit `b - 1` is set when bucket `b` (1..=128) is not empty.
    occupied: u128,
    spare: Vec<Entry<E>>,
}

impl<E> Default for RadixHeap<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> RadixHeap<E> {
    pub fn new() -> Self {
        RadixHeap {
            last: 0,
            len: 0,
            buckets: (0..129).map(|_| Vec::new()).collect(),
            occupied: 0,
            spare: Vec::new(),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `event` under `key`, which must not be below the last key taken out.
    #[inline]
    pub fn insert(&mut self, key: u128, event: E) {
        self.push(Entry { key, event });
    }

    /// Takes out the entry with the smallest key.
    #[inline]
    pub fn take_min(&mut self) -> Option<(u128, E)> {
        self.pop().map(|e| (e.key, e.event))
    }

    /// The smallest key, without taking it out.
    pub fn min_key(&mut self) -> Option<u128> {
        let e = self.pop()?;
        let k = e.key;
        // Putting back the key just taken out lands in bucket 0: nothing moves.
        self.push(e);
        Some(k)
    }

    #[inline]
    fn bucket(&self, key: u128) -> usize {
        128 - (key ^ self.last).leading_zeros() as usize
    }

    #[inline]
    fn push(&mut self, entry: Entry<E>) {
        debug_assert!(entry.key >= self.last, "a radix heap is monotone");
        let b = self.bucket(entry.key);
        if b > 0 {
            self.occupied |= 1u128 << (b - 1);
        }
        self.buckets[b].push(entry);
        self.len += 1;
    }

    /// Takes out the smallest entry.
    #[inline]
    fn pop(&mut self) -> Option<Entry<E>> {
        if self.buckets[0].is_empty() {
            if self.occupied == 0 {
                return None;
            }
            let b = self.occupied.trailing_zeros() as usize + 1;
            self.occupied &= !(1u128 << (b - 1));
            let mut items =
                std::mem::replace(&mut self.buckets[b], std::mem::take(&mut self.spare));
            self.last = items.iter().map(|e| e.key).min().expect("occupied bucket");
            for e in items.drain(..) {
                let nb = self.bucket(e.key);
                if nb > 0 {
                    self.occupied |= 1u128 << (nb - 1);
                }
                self.buckets[nb].push(e);
            }
            self.spare = items;
        }
        let e = self.buckets[0].pop()?;
        self.len -= 1;
        Some(e)
    }
}

/// Ordered by key alone, smallest first out of a `BinaryHeap` (a max-heap).
impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.key.cmp(&self.key)
    }
}

/// Pending events beyond which the queue moves from a binary heap to a radix heap. Below it a
/// binary heap's few levels stay in cache and beat the radix heap's bucket moves; above it
/// the heap's depth and cache misses grow while the radix heap's cost stays flat.
const RADIX_FROM: usize = 16_384;

/// A monotone priority queue: a binary heap while few entries are pending, a radix heap once
/// many are. The switch is one
/// way and keeps the order: every pending key is above the last key taken out.
pub struct MonotoneQueue<E>(Inner<E>);

enum Inner<E> {
    Small {
        heap: std::collections::BinaryHeap<Entry<E>>,
        last: u128,
    },
    Large(RadixHeap<E>),
}

impl<E> Default for MonotoneQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> MonotoneQueue<E> {
    pub fn new() -> Self {
        MonotoneQueue(Inner::Small {
            heap: std::collections::BinaryHeap::with_capacity(1024),
            last: 0,
        })
    }

    /// Adds `event` under `key`, which must not be below the last key taken out.
    #[inline]
    pub fn insert(&mut self, key: u128, event: E) {
        self.push(Entry { key, event });
    }

    /// Takes out the entry with the smallest key.
    #[inline]
    pub fn take_min(&mut self) -> Option<(u128, E)> {
        self.pop().map(|e| (e.key, e.event))
    }

    /// The smallest key, without taking it out.
    #[inline]
    pub fn min_key(&mut self) -> Option<u128> {
        match &mut self.0 {
            Inner::Small { heap, .. } => heap.peek().map(|e| e.key),
            Inner::Large(r) => r.min_key(),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            Inner::Small { heap, .. } => heap.len(),
            Inner::Large(r) => r.len(),
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline(always)]
    fn push(&mut self, entry: Entry<E>) {
        match &mut self.0 {
            Inner::Small { heap, .. } => {
                heap.push(entry);
                if heap.len() > RADIX_FROM {
                    self.grow();
                }
            }
            Inner::Large(r) => r.push(entry),
        }
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        if let Inner::Small { heap, last } = &mut self.0 {
            let mut radix = RadixHeap::new();
            radix.last = *last;
            for e in std::mem::take(heap) {
                radix.push(e);
            }
            self.0 = Inner::Large(radix);
        }
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<Entry<E>> {
        match &mut self.0 {
            Inner::Small { heap, last } => {
                let e = heap.pop()?;
                *last = e.key;
                Some(e)
            }
            Inner::Large(r) => r.pop(),
        }
    }
}

/// The event queue and the clock of one run.
pub struct Scheduler<E> {
    now: SimTime,
    seq: u64,
    heap: MonotoneQueue<E>,
    processed: u64,
    peak_pending: usize,
    limits: Limits,
}

impl<E> Scheduler<E> {
    pub fn new(limits: Limits) -> Self {
        Scheduler {
            now: SimTime::ZERO,
            seq: 0,
            heap: MonotoneQueue::new(),
            processed: 0,
            peak_pending: 0,
            limits,
        }
    }

    /// The time of the event being processed.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events taken from the queue so far.
    pub fn processed(&self) -> u64 {
        self.processed
    }

    pub fn pending(&self) -> usize {
        self.heap.len()
    }

    pub fn peak_pending(&self) -> usize {
        self.peak_pending
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Schedules `event` at instant `at`, which must not be before [`Scheduler::now`].
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> Result<(), EngineError> {
        if at < self.now {
            return Err(EngineError::InPast { now: self.now, at });
        }
        self.push(at, event);
        Ok(())
    }

    /// Schedules `event` after `delay`; a delay is never negative, so this cannot fail.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) {
        let at = self.now.saturating_add(delay);
        self.push(at, event);
    }

    #[inline]
    fn push(&mut self, at: SimTime, event: E) {
        let key = (u128::from(at.as_nanos()) << 64) | u128::from(self.seq);
        self.seq += 1;
        self.heap.push(Entry { key, event });
        if self.heap.len() > self.peak_pending {
            self.peak_pending = self.heap.len();
        }
    }

    /// Takes the next event and advances the clock to its time. `Ok(None)` when the queue is
    /// empty; an error when the next event would break a limit.
    #[inline]
    pub fn next_event(&mut self) -> Result<Option<(SimTime, E)>, EngineError> {
        if self.processed >= self.limits.max_events && !self.heap.is_empty() {
            return Err(EngineError::EventLimit {
                limit: self.limits.max_events,
                pending: self.heap.len(),
            });
        }
        let Some(entry) = self.heap.pop() else {
            return Ok(None);
        };
        let at = SimTime::from_nanos((entry.key >> 64) as u64);
        if at > self.limits.max_time {
            // Put it back: the queue stays as it was, for whoever looks at it next.
            self.heap.push(entry);
            return Err(EngineError::TimeLimit {
                limit: self.limits.max_time,
                pending: self.heap.len(),
            });
        }
        debug_assert!(at >= self.now, "time never goes backwards");
        self.now = at;
        self.processed += 1;
        Ok(Some((at, entry.event)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Knuth's MMIX step: reproducible pseudo-random times for the tests.
    fn lcg(x: u64) -> u64 {
        x.wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407)
    }

    fn drain(s: &mut Scheduler<u32>) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        while let Some((t, e)) = s.next_event().unwrap() {
            out.push((t.as_nanos(), e));
        }
        out
    }

    #[test]
    fn orders_by_time_then_insertion() {
        let mut s = Scheduler::new(Limits::default());
        s.schedule_in(SimDuration::from_nanos(5), 1);
        s.schedule_in(SimDuration::from_nanos(3), 2);
        s.schedule_in(SimDuration::from_nanos(5), 3);
        s.schedule_in(SimDuration::from_nanos(3), 4);
        assert_eq!(drain(&mut s), vec![(3, 2), (3, 4), (5, 1), (5, 3)]);
    }

    #[test]
    fn many_events_come_out_in_time_then_insertion_order() {
        let mut s = Scheduler::new(Limits::default());
        let mut x = 12345u64;
        // Pending (time, insertion number), kept sorted by a plain method to compare against.
        let mut pending = std::collections::BTreeSet::new();
        for i in 0..20_000u32 {
            x = lcg(x);
            let t = (x >> 40) % 5000;
            pending.insert((s.now().as_nanos() + t, i));
            s.schedule_in(SimDuration::from_nanos(t), i);
            // Interleave pops with pushes, as a simulation does.
            if i % 3 == 0 {
                let (now, e) = s.next_event().unwrap().unwrap();
                assert_eq!(pending.pop_first(), Some((now.as_nanos(), e)));
            }
        }
        let out = drain(&mut s);
        assert_eq!(out, pending.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn the_order_holds_across_the_switch_to_a_radix_heap() {
        let mut s = Scheduler::new(Limits::default());
        let mut pending = std::collections::BTreeSet::new();
        let mut x = 99u64;
        // Grow well past the switch, then drain, popping as we go.
        for i in 0..(3 * RADIX_FROM as u32) {
            x = lcg(x);
            let t = (x >> 33) % 1_000_000;
            pending.insert((s.now().as_nanos() + t, i));
            s.schedule_in(SimDuration::from_nanos(t), i);
            if i % 7 == 0 {
                let (now, e) = s.next_event().unwrap().unwrap();
                assert_eq!(pending.pop_first(), Some((now.as_nanos(), e)));
            }
        }
        assert!(matches!(s.heap.0, Inner::Large(_)));
        assert_eq!(drain(&mut s), pending.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn scheduling_into_the_past_is_an_error() {
        let mut s = Scheduler::new(Limits::default());
        s.schedule_in(SimDuration::from_nanos(10), 1);
        s.next_event().unwrap();
        let err = s.schedule_at(SimTime::from_nanos(9), 2).unwrap_err();
        assert_eq!(
            err,
            EngineError::InPast {
                now: SimTime::from_nanos(10),
                at: SimTime::from_nanos(9)
            }
        );
        assert!(s.schedule_at(SimTime::from_nanos(10), 3).is_ok());
    }

    #[test]
    fn limits_are_errors_not_hangs() {
        let mut s = Scheduler::new(Limits {
            max_time: SimTime::from_nanos(100),
            max_events: 3,
        });
        s.schedule_in(SimDuration::from_nanos(200), 0);
        assert!(matches!(s.next_event(), Err(EngineError::TimeLimit { .. })));

        let mut s = Scheduler::new(Limits {
            max_time: SimTime::MAX,
            max_events: 3,
        });
        for i in 0..5 {
            s.schedule_in(SimDuration::from_nanos(i), 0u32);
        }
        for _ in 0..3 {
            s.next_event().unwrap();
        }
        assert!(matches!(
            s.next_event(),
            Err(EngineError::EventLimit { limit: 3, .. })
        ));
    }
}
