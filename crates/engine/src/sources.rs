//! A queue of many sources, each with at most one pending instant: a workload's terminals,
//! each waiting for its next customer.

use crate::queue::MonotoneQueue;
use crate::time::{SimDuration, SimTime};

/// No pending instant.
const NONE: u64 = u64::MAX;

/// Sources few enough that all their instants wait in the queue: there, a heap small enough
/// to stay in cache is faster than gathering windows, and its memory does not matter.
pub const ALL_DUE_UP_TO: usize = 16_384;

/// The pending instants of sources `0..n`, taken in order of (instant, source).
///
/// Each source's instant lives in a dense table; only those due before the end of the
/// current window, a span of time guessed at construction, also wait in a priority queue. When
/// that queue runs dry, one pass over the table gathers the next window's. So the queue holds
/// a fraction of the sources rather than all of them, each of its entries moves fewer times
/// on its way out, and a source costs 8 bytes. With a window of a quarter of a source's mean
/// gap, a pass reads about four instants for each one it gathers; the window widens or
/// narrows after each pass to keep near that.
pub struct SourceQueue {
    /// Each source's instant if it is at or after `end`. Below `end`, an entry is stale: the
    /// source's instant, if pending, is in `due`. An instant set below `end` is not written
    /// here, nor is one taken cleared, so that the table, large and touched at random, is
    /// touched only for instants beyond the window; [`NONE`] if none was ever set.
    next: Vec<u64>,
    /// Sources with an instant pending.
    pending: usize,
    /// Every pending instant before this one is in `due`; none at or after it is.
    end: u64,
    width: u64,
    /// Keys (instant, source) of the instants before `end`.
    due: MonotoneQueue<()>,
}

impl SourceQueue {
    /// `sources` sources, none with an instant pending, gathered `window` at a time. Up to
    /// [`ALL_DUE_UP_TO`] sources, all wait in the queue whatever the window.
    pub fn new(sources: u32, window: SimDuration) -> Self {
        Self::with_width(sources, Self::width_for(sources, window))
    }

    /// Like [`SourceQueue::new`], or an error if its table (8 bytes a source) cannot be
    /// allocated, so that a caller can refuse a model too large for the machine.
    pub fn try_new(
        sources: u32,
        window: SimDuration,
    ) -> Result<Self, std::collections::TryReserveError> {
        let mut next = Vec::new();
        next.try_reserve_exact(sources as usize)?;
        next.resize(sources as usize, NONE);
        Ok(Self::with_table(next, Self::width_for(sources, window)))
    }

    /// Like [`SourceQueue::new`], gathering windows however few the sources: the order the
    /// instants come out in is the same, only the cost differs.
    pub fn windowed(sources: u32, window: SimDuration) -> Self {
        Self::with_width(sources, window.as_nanos())
    }

    fn width_for(sources: u32, window: SimDuration) -> u64 {
        if sources as usize <= ALL_DUE_UP_TO {
            u64::MAX
        } else {
            window.as_nanos()
        }
    }

    fn with_width(sources: u32, width: u64) -> Self {
        Self::with_table(vec![NONE; sources as usize], width)
    }

    fn with_table(next: Vec<u64>, width: u64) -> Self {
        SourceQueue {
            next,
            pending: 0,
            end: 0,
            width: width.max(1),
            due: MonotoneQueue::new(),
        }
    }

    /// Sources with an instant pending.
    pub fn len(&self) -> usize {
        self.pending
    }

    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// Gives `source`, which has no instant pending, its next one `at`. The pair (`at`,
    /// `source`) must not come before the last one taken. [`SimTime::MAX`] counts as the
    /// nanosecond before it, where the table keeps its mark for "none": so (`MAX`, `source`)
    /// must not come before the last one taken either when read as (`MAX - 1`, `source`).
    ///
    /// # Panics
    /// If `source` is out of range.
    #[inline]
    pub fn set(&mut self, source: u32, at: SimTime) {
        assert!(
            (source as usize) < self.next.len(),
            "source {source} of {}",
            self.next.len()
        );
        let t = at.as_nanos().min(NONE - 1);
        self.pending += 1;
        if t < self.end {
            self.due.insert(key(t, source), ());
        } else {
            self.next[source as usize] = t;
        }
    }

    /// Starts loading what [`SourceQueue::set`] for `source` writes.
    #[inline]
    pub fn prefetch(&self, source: u32) {
        // With every instant in the queue, `set` writes here only before the first is taken.
        if let Some(t) = self
            .next
            .get(source as usize)
            .filter(|_| self.width != u64::MAX)
        {
            crate::prefetch(t);
        }
    }

    /// The smallest pending (instant, source), without taking it.
    #[inline]
    pub fn peek(&mut self) -> Option<(SimTime, u32)> {
        if self.due.is_empty() && !self.gather() {
            return None;
        }
        self.due.min_key().map(split)
    }

    /// Takes the smallest pending (instant, source) and gives its source its next instant
    /// `at`, in one step: half the work of [`SourceQueue::take`] then [`SourceQueue::set`]
    /// when `at` falls in the current window. The pair (`at`, source) must not come before
    /// the one taken.
    #[inline]
    pub fn replace_first(&mut self, at: SimTime) -> Option<(SimTime, u32)> {
        if self.due.is_empty() && !self.gather() {
            return None;
        }
        let first = self.due.min_key()?;
        let source = first as u32;
        let t = at.as_nanos().min(NONE - 1);
        if t < self.end {
            self.due.replace_min(key(t, source), ());
        } else {
            self.due.take_min();
            self.next[source as usize] = t;
        }
        Some(split(first))
    }

    /// Takes the smallest pending (instant, source); the source then has none pending.
    #[inline]
    pub fn take(&mut self) -> Option<(SimTime, u32)> {
        if self.due.is_empty() && !self.gather() {
            return None;
        }
        let (k, ()) = self.due.take_min()?;
        self.pending -= 1;
        Some(split(k))
    }

    /// Moves the next window's instants into `due`, which is empty, skipping windows with
    /// none; false when no source has an instant pending.
    #[cold]
    #[inline(never)]
    fn gather(&mut self) -> bool {
        while self.pending > 0 {
            let start = self.end;
            let end = start.saturating_add(self.width);
            let mut first = NONE;
            for (s, &t) in self.next.iter().enumerate() {
                // Stale: see `next`.
                if t < start {
                    continue;
                }
                if t < end {
                    self.due.insert(key(t, s as u32), ());
                } else {
                    first = first.min(t);
                }
            }
            self.end = end;
            let gathered = self.due.len();
            if self.width != u64::MAX {
                // The window aims at a quarter of the pending instants: a pass that gathers
                // few costs a read of every source for each, one that gathers most makes a
                // large queue. Only the cost depends on it, never the order.
                if gathered < self.pending / 16 {
                    self.width = self.width.saturating_mul(2);
                } else if gathered > self.pending / 2 {
                    self.width = (self.width / 2).max(1);
                }
            }
            if gathered > 0 {
                return true;
            }
            if first == NONE {
                // Only if a source was set twice without being taken between.
                self.pending = 0;
                break;
            }
            // Nothing in this window: the next one starts at the first pending instant.
            self.end = first;
        }
        false
    }
}

#[inline]
fn key(t: u64, source: u32) -> u128 {
    (u128::from(t) << 64) | u128::from(source)
}

#[inline]
fn split(k: u128) -> (SimTime, u32) {
    (SimTime::from_nanos((k >> 64) as u64), k as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::tests::lcg;
    use std::collections::BTreeSet;

    /// Takes `rounds` instants from `sources` sources that each set a new one after a random
    /// gap up to `max_gap`, checking every one against an ordered set.
    fn against_a_set(sources: u32, window: u64, max_gap: u64, rounds: usize) {
        let mut q = SourceQueue::with_width(sources, window);
        let mut model = BTreeSet::new();
        let mut x = u64::from(sources) ^ window;
        for s in 0..sources {
            x = lcg(x);
            let t = (x >> 20) % max_gap;
            q.set(s, SimTime::from_nanos(t));
            model.insert((t, s));
        }
        for i in 0..rounds {
            let want = model.pop_first();
            let as_time = |(t, s): (u64, u32)| (SimTime::from_nanos(t), s);
            assert_eq!(q.peek(), want.map(as_time), "peek {i}");
            let Some((t, s)) = want else {
                assert_eq!(q.take(), None);
                break;
            };
            x = lcg(x);
            // Some sources stop; the rest go on, some at once (a gap of zero), in either of
            // the two ways.
            let next = t + (x >> 20) % max_gap;
            match x % 7 {
                0 => assert_eq!(q.take(), want.map(as_time), "take {i}"),
                1..=3 => {
                    assert_eq!(q.take(), want.map(as_time), "take {i}");
                    q.set(s, SimTime::from_nanos(next));
                    model.insert((next, s));
                }
                _ => {
                    let got = q.replace_first(SimTime::from_nanos(next));
                    assert_eq!(got, want.map(as_time), "replace {i}");
                    model.insert((next, s));
                }
            }
            assert_eq!(q.len(), model.len());
        }
    }

    #[test]
    fn instants_come_out_in_order_of_time_then_source() {
        against_a_set(1, 10, 100, 1000);
        // Every instant in the queue, as [`SourceQueue::new`] does for few sources.
        against_a_set(1000, u64::MAX, 1000, 20_000);
        against_a_set(5, 1, 3, 2000);
        against_a_set(1000, 250, 1000, 20_000);
        against_a_set(1000, 1_000_000, 1000, 20_000);
        against_a_set(30_000, 1 << 20, 1 << 22, 200_000);
        // Enough in one window for the queue to become a radix heap.
        against_a_set(100_000, 1 << 22, 1 << 22, 300_000);
    }

    #[test]
    fn few_sources_all_wait_in_the_queue() {
        let few = SourceQueue::new(ALL_DUE_UP_TO as u32, SimDuration::from_nanos(10));
        assert_eq!(few.width, u64::MAX);
        let many = SourceQueue::new(ALL_DUE_UP_TO as u32 + 1, SimDuration::from_nanos(10));
        assert_eq!(many.width, 10);
    }

    #[test]
    fn instants_at_the_end_of_time_are_kept() {
        for window in [0, 1, 1 << 40, u64::MAX] {
            let mut q = SourceQueue::windowed(2, SimDuration::from_nanos(window));
            let last = SimTime::from_nanos(u64::MAX - 1);
            q.set(1, SimTime::MAX);
            q.set(0, last);
            assert_eq!(q.take(), Some((last, 0)), "window {window}");
            assert_eq!(q.take(), Some((last, 1)), "window {window}");
            assert_eq!(q.take(), None);
        }
    }

    #[test]
    fn the_window_follows_the_gaps() {
        // Gaps of about a million nanoseconds and a window guessed a thousand times too small:
        // the window widens until each pass gathers a fair share.
        let n = 20_000u32;
        let mut q = SourceQueue::windowed(n, SimDuration::from_nanos(1_000));
        let mut x = 99u64;
        for s in 0..n {
            x = lcg(x);
            q.set(s, SimTime::from_nanos((x >> 20) % 1_000_000));
        }
        for _ in 0..100_000 {
            x = lcg(x);
            let (t, _) = q.peek().unwrap();
            q.replace_first(t.saturating_add(SimDuration::from_nanos(1 + (x >> 20) % 2_000_000)));
        }
        assert!(
            (20_000..=2_000_000).contains(&q.width),
            "window {}",
            q.width
        );
        // Guessed far too large, it narrows at the first pass.
        let mut q = SourceQueue::windowed(n, SimDuration::from_secs(1));
        for s in 0..n {
            q.set(s, SimTime::from_nanos(u64::from(s) * 50));
        }
        q.peek();
        assert_eq!(q.width, 500_000_000);
    }

    /// A source out of range is refused, inside the window as beyond it, rather than coming
    /// out of the queue later under a number no caller has.
    #[test]
    fn sources_out_of_range_are_refused() {
        for at in [6, 60] {
            let refused = std::panic::catch_unwind(|| {
                let mut q = SourceQueue::windowed(3, SimDuration::from_nanos(10));
                q.set(0, SimTime::from_nanos(5));
                assert_eq!(q.take(), Some((SimTime::from_nanos(5), 0)));
                q.set(3, SimTime::from_nanos(at));
            });
            let message = refused.expect_err("refused");
            let message = message
                .downcast_ref::<String>()
                .expect("a formatted message");
            assert_eq!(message, "source 3 of 3", "at {at}");
        }
    }

    /// A step of a script: give a source an instant, or take one and expect it.
    enum Step {
        Set(u32, u64),
        Take(Option<(u64, u32)>),
    }
    use Step::{Set, Take};

    /// Plays `steps` on three sources gathered `window` nanoseconds at a time.
    fn play(window: u64, steps: &[Step]) {
        let mut q = SourceQueue::windowed(3, SimDuration::from_nanos(window));
        for (i, step) in steps.iter().enumerate() {
            match *step {
                Set(s, t) => q.set(s, SimTime::from_nanos(t)),
                Take(want) => {
                    let want = want.map(|(t, s)| (SimTime::from_nanos(t), s));
                    assert_eq!(q.take(), want, "step {i}, window {window}");
                }
            }
        }
        assert!(q.is_empty());
    }

    #[test]
    fn scripts() {
        // An instant at the window's end, [0, 10), waits for the next window and comes after
        // an earlier source's instant at the same time.
        let at_the_end = [
            Set(0, 5),
            Set(1, 10),
            Take(Some((5, 0))),
            Set(2, 10),
            Take(Some((10, 1))),
            Take(Some((10, 2))),
        ];
        play(10, &at_the_end);
        // Empty windows are skipped: the next pass starts at the first pending instant.
        let far = [
            Set(2, 1 << 50),
            Set(0, 1 << 50),
            Take(Some((1 << 50, 0))),
            Take(Some((1 << 50, 2))),
            Take(None),
        ];
        play(1, &far);
        // A source set again within the window comes out in its place, before one gathered
        // with the window; one set within it for the first time, after.
        let within = [
            Set(0, 10),
            Set(1, 50),
            Take(Some((10, 0))),
            Set(0, 20),
            Set(2, 50),
            Take(Some((20, 0))),
            Take(Some((50, 1))),
            Take(Some((50, 2))),
            Take(None),
        ];
        play(100, &within);
    }
}
