use std::cmp::Ordering;
use std::collections::BinaryHeap;

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

/// Heap entry. The key packs (time, sequence) into one integer so that comparing two
/// entries is one comparison; the sequence breaks ties first-in first-out.
struct Entry<E> {
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap; the earliest key must come out first.
        other.key.cmp(&self.key)
    }
}

/// The event queue and the clock of one run.
pub struct Scheduler<E> {
    now: SimTime,
    seq: u64,
    heap: BinaryHeap<Entry<E>>,
    processed: u64,
    peak_pending: usize,
    limits: Limits,
}

impl<E> Scheduler<E> {
    pub fn new(limits: Limits) -> Self {
        Scheduler {
            now: SimTime::ZERO,
            seq: 0,
            heap: BinaryHeap::with_capacity(1024),
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
        let Some(top) = self.heap.peek() else {
            return Ok(None);
        };
        let at = SimTime::from_nanos((top.key >> 64) as u64);
        if at > self.limits.max_time {
            return Err(EngineError::TimeLimit {
                limit: self.limits.max_time,
                pending: self.heap.len(),
            });
        }
        if self.processed >= self.limits.max_events {
            return Err(EngineError::EventLimit {
                limit: self.limits.max_events,
                pending: self.heap.len(),
            });
        }
        let entry = self.heap.pop().expect("peeked entry is present");
        debug_assert!(at >= self.now, "time never goes backwards");
        self.now = at;
        self.processed += 1;
        Ok(Some((at, entry.event)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
