use std::collections::VecDeque;

use crate::time::{SimDuration, SimTime};

/// Bounds on one run. Hitting one is an error, so a run that would not end, or would not fit
/// in memory, says so.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// No event may be due after this instant.
    pub max_time: SimTime,
    /// At most this many events are processed.
    pub max_events: u64,
    /// At most this many events are pending at once: a model that schedules faster than it
    /// handles (a timeout far below its own delays, say) stops here rather than filling
    /// memory.
    pub max_pending: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_time: SimTime::MAX,
            max_events: u64::MAX,
            max_pending: usize::MAX,
        }
    }
}

/// "1 event", "9 events".
fn events(n: usize) -> String {
    format!("{n} event{}", if n == 1 { "" } else { "s" })
}

/// What can go wrong in the engine itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("event scheduled at {at}, before the current time {now}")]
    InPast { now: SimTime, at: SimTime },
    #[error(
        "the run passed its simulated-time limit of {} with {} pending",
        SimDuration::from_nanos(limit.as_nanos()),
        events(*pending)
    )]
    TimeLimit { limit: SimTime, pending: usize },
    #[error("the run passed its limit of {limit} events with {} pending", events(*pending))]
    EventLimit { limit: u64, pending: usize },
    #[error("the run had more than {limit} events pending at once, at {at}")]
    PendingLimit { limit: usize, at: SimTime },
    #[error(
        "the simulated clock ran past its end (2^64 ns, about 584 years) with {} pending",
        events(*pending)
    )]
    TimeOverflow { pending: usize },
}

/// Queue entry. The key packs (time, sequence) into one integer: keys are unique, and equal
/// times come out first-in first-out.
struct Entry<E> {
    key: u128,
    event: E,
}

/// A radix heap (Ahuja, Mehlhorn, Orlin and Tarjan), with 4-bit digits: a monotone priority
/// queue whose cost does not grow with the number of pending events the way a binary heap's
/// does. A key above the reference key `last` lives in the bucket of the highest digit in
/// which it differs from `last` and of its value of that digit; taking out the smallest key
/// redistributes the lowest bucket into lower ones, so each entry moves at most once per
/// digit. The smallest keys, up to `last`, wait in a small binary heap, the front.
pub struct RadixHeap<E> {
    /// The reference key: every key in the front is at or below it, every key in a bucket
    /// above it.
    last: u128,
    /// The last key taken out: no key below it may come in.
    floor: u128,
    len: usize,
    /// The keys up to `last`: usually a whole small bucket, which [`RadixHeap::refill`]
    /// sorted in; and any key that came in below `last` after a peek. Sorted in decreasing
    /// order (`front_sorted`), so that taking the smallest is taking the last; a key that
    /// comes in while it holds [`SORTED_INSERTS`] or more turns it into a min-heap first, so
    /// that many such keys never cost more than a heap.
    front: Vec<Entry<E>>,
    front_sorted: bool,
    /// Bucket `level * DIGITS + d` holds keys above `last` whose highest digit differing from
    /// it is digit `level`, of value `d`.
    buckets: Box<[Vec<Entry<E>>; BUCKETS]>,
    /// Bit `b % 64` of word `b / 64` is set when bucket `b` is not empty.
    occupied: [u64; BUCKETS / 64],
    spare: Vec<Entry<E>>,
    /// How many times the front has been refilled from a bucket, whole or spread: see
    /// [`MonotoneQueue::upcoming`].
    runs: u64,
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
            floor: 0,
            len: 0,
            front: Vec::new(),
            front_sorted: true,
            buckets: Box::new(std::array::from_fn(|_| Vec::new())),
            occupied: [0; BUCKETS / 64],
            spare: Vec::new(),
            runs: 0,
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

    /// Adds `event` under `key`, which must not be below the last key taken out. Equal keys
    /// come out in no particular order.
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
        self.fill();
        self.front_min().map(|e| e.key)
    }

    /// The bucket of a key above `last`: by the highest digit in which it differs from
    /// `last`, then by its value of that digit. Buckets in index order hold increasing keys.
    #[inline]
    fn bucket(&self, key: u128) -> usize {
        // On one 64-bit half, the one where the keys differ: shifting a u128 by a variable
        // amount costs several instructions, and keys nearly always differ in the upper half
        // (their time).
        let x = key ^ self.last;
        let (word, diff, base) = if (x >> 64) != 0 {
            ((key >> 64) as u64, (x >> 64) as u64, 64 / DIGIT_BITS)
        } else {
            (key as u64, x as u64, 0)
        };
        let level = (63 - diff.leading_zeros()) / DIGIT_BITS;
        let digit = (word >> (level * DIGIT_BITS)) as usize & (DIGITS - 1);
        (base + level) as usize * DIGITS + digit
    }

    #[inline]
    fn mark(&mut self, b: usize) {
        // `b` is below BUCKETS; the mask says so to the compiler, which drops the bounds check.
        self.occupied[(b / 64) % (BUCKETS / 64)] |= 1 << (b % 64);
    }

    #[inline]
    fn any_occupied(&self) -> bool {
        self.occupied.iter().any(|&w| w != 0)
    }

    #[inline]
    fn push(&mut self, entry: Entry<E>) {
        debug_assert!(entry.key >= self.floor, "a radix heap is monotone");
        self.len += 1;
        if entry.key <= self.last {
            // Only after a peek or a small bucket: the smallest keys wait in the front.
            self.front_push(entry);
            return;
        }
        let b = self.bucket(entry.key);
        self.mark(b);
        self.buckets[b % BUCKETS].push(entry);
    }

    /// Makes the front hold the smallest key, if any is pending.
    #[inline(always)]
    fn fill(&mut self) {
        if self.front.is_empty() && self.any_occupied() {
            self.refill();
        }
    }

    /// [`RadixHeap::fill`] when the front is empty and a bucket is not: kept out of line so
    /// that the common check stays small enough to inline. A small lowest bucket goes to the
    /// front whole; a larger one is spread over the buckets below it. Spreading moves each
    /// entry once per level it passes; taking the last few levels' worth at once saves most
    /// of those moves.
    #[inline(never)]
    fn refill(&mut self) {
        let w = self
            .occupied
            .iter()
            .position(|&w| w != 0)
            .expect("a bucket is occupied");
        let b = w * 64 + self.occupied[w].trailing_zeros() as usize;
        self.occupied[w] &= !(1 << (b % 64));
        if self.buckets[b].len() <= SORTED_RUN {
            // `last` becomes the largest of them. Every other bucket's keys are above it and
            // differ from it in the same highest digit, by the same value, as from the old
            // `last`, so they stay.
            // Sorted in decreasing order, so that the smallest is taken from the end.
            std::mem::swap(&mut self.front, &mut self.buckets[b]);
            self.front
                .sort_unstable_by_key(|e| std::cmp::Reverse(e.key));
            self.front_sorted = true;
            self.runs += 1;
            self.last = self.front.first().expect("occupied bucket").key;
            return;
        }
        let mut items = std::mem::replace(&mut self.buckets[b], std::mem::take(&mut self.spare));
        self.last = items.iter().map(|e| e.key).min().expect("occupied bucket");
        self.front_sorted = true;
        // The front is a new group too, of the keys equal to `last`.
        self.runs += 1;
        for e in items.drain(..) {
            if e.key == self.last {
                self.front_push(e);
                continue;
            }
            let nb = self.bucket(e.key);
            self.mark(nb);
            self.buckets[nb % BUCKETS].push(e);
        }
        // A bucket that once held a burst keeps its capacity; let the large ones go, so that
        // memory follows what is pending now rather than the largest burst of the run.
        if items.capacity() > 1024 && items.capacity() > self.len / 4 {
            items = Vec::new();
        }
        self.spare = items;
    }

    /// Takes out the smallest entry.
    #[inline]
    fn pop(&mut self) -> Option<Entry<E>> {
        self.fill();
        let e = self.front_pop()?;
        self.len -= 1;
        self.floor = e.key;
        Some(e)
    }

    #[inline]
    fn front_min(&self) -> Option<&Entry<E>> {
        if self.front_sorted {
            self.front.last()
        } else {
            self.front.first()
        }
    }

    #[inline]
    fn front_push(&mut self, entry: Entry<E>) {
        let f = &mut self.front;
        if self.front_sorted {
            if f.len() < SORTED_INSERTS {
                let at = f.partition_point(|e| e.key > entry.key);
                f.insert(at, entry);
                return;
            }
            // Reversed, a vector sorted in decreasing order is in min-heap order.
            f.reverse();
            self.front_sorted = false;
        }
        f.push(entry);
        let mut i = f.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if f[parent].key <= f[i].key {
                break;
            }
            f.swap(parent, i);
            i = parent;
        }
    }

    #[inline]
    fn front_pop(&mut self) -> Option<Entry<E>> {
        let f = &mut self.front;
        if self.front_sorted {
            return f.pop();
        }
        let n = f.len().checked_sub(1)?;
        f.swap(0, n);
        let e = f.pop();
        let mut i = 0;
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let c = if l + 1 < n && f[l + 1].key < f[l].key {
                l + 1
            } else {
                l
            };
            if f[i].key <= f[c].key {
                break;
            }
            f.swap(i, c);
            i = c;
        }
        e
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

/// Bits of a key per radix digit: an entry moves at most once per digit as it nears the
/// front, a quarter of the moves of a binary radix heap, over sixteen times the buckets.
const DIGIT_BITS: u32 = 4;
const DIGITS: usize = 1 << DIGIT_BITS;
const BUCKETS: usize = 128 / DIGIT_BITS as usize * DIGITS;

/// A bucket this small goes to the front whole, sorted, rather than being spread over the
/// buckets below: sorting a few more saves each of them a move. On the reference at 100,000
/// and 1,000,000 terminals, 128 was about 2% faster than 32 and than 256.
const SORTED_RUN: usize = 128;
/// The longest sorted front that takes a key by insertion (shifting the keys above it); a
/// longer one turns into a heap first.
const SORTED_INSERTS: usize = 64;

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
        /// Pending entries beyond which it becomes a radix heap.
        radix_from: usize,
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
            radix_from: RADIX_FROM,
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

    /// The events of a radix heap's front, the next to come out, in no particular order, and
    /// a count that changes whenever the front is refilled from a bucket; none from a binary
    /// heap, whose few pending events are in cache anyway.
    #[inline]
    pub fn upcoming(&self) -> (u64, impl Iterator<Item = &E>) {
        let (runs, front) = match &self.0 {
            Inner::Small { .. } => (0, &[][..]),
            Inner::Large(r) => (r.runs, &r.front[..]),
        };
        (runs, front.iter().map(|e| &e.event))
    }

    /// The entry with the smallest key, without taking it out.
    #[inline]
    pub fn peek(&mut self) -> Option<&E> {
        match &mut self.0 {
            Inner::Small { heap, .. } => heap.peek().map(|e| &e.event),
            Inner::Large(r) => {
                r.fill();
                r.front_min().map(|e| &e.event)
            }
        }
    }

    /// Takes out the entry with the smallest key and adds `event` under `key` in one step:
    /// half the work of [`MonotoneQueue::take_min`] then [`MonotoneQueue::insert`] on a heap.
    /// `key` must not be below the key taken out. On an empty queue it only adds the event.
    #[inline]
    pub fn replace_min(&mut self, key: u128, event: E) -> Option<(u128, E)> {
        if self.is_empty() {
            self.insert(key, event);
            return None;
        }
        match &mut self.0 {
            Inner::Small { heap, last, .. } => {
                let mut top = heap.peek_mut()?;
                debug_assert!(key >= top.key, "a monotone queue only moves forward");
                let old = std::mem::replace(&mut *top, Entry { key, event });
                *last = old.key;
                Some((old.key, old.event))
            }
            Inner::Large(r) => {
                let old = r.pop().expect("not empty");
                r.push(Entry { key, event });
                Some((old.key, old.event))
            }
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
            Inner::Small {
                heap, radix_from, ..
            } => {
                heap.push(entry);
                if heap.len() > *radix_from {
                    self.grow();
                }
            }
            Inner::Large(r) => r.push(entry),
        }
    }

    /// Moves to a radix heap once more than `pending` entries are pending, rather than the
    /// default 16,384: for a caller that reads the radix heap's front
    /// ([`MonotoneQueue::upcoming`]) to prefetch. No effect once it is a radix heap.
    pub fn set_radix_from(&mut self, pending: usize) {
        if let Inner::Small {
            radix_from, heap, ..
        } = &mut self.0
        {
            *radix_from = pending;
            if heap.len() > pending {
                self.grow();
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        if let Inner::Small { heap, last, .. } = &mut self.0 {
            let mut radix = RadixHeap::new();
            radix.last = *last;
            radix.floor = *last;
            for e in std::mem::take(heap) {
                radix.push(e);
            }
            self.0 = Inner::Large(radix);
        }
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<Entry<E>> {
        match &mut self.0 {
            Inner::Small { heap, last, .. } => {
                let e = heap.pop()?;
                *last = e.key;
                Some(e)
            }
            Inner::Large(r) => r.pop(),
        }
    }
}

/// A first-in first-out lane of the [`Scheduler`]: events put on it at non-decreasing times
/// (a timeout of constant length, a hop of constant latency) come out in order without a
/// heap's sifting. Which lane an event goes to never changes the order events come out in.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Lane(u8);

/// The most lanes one scheduler has; asking for more gives the heap instead.
pub const MAX_LANES: usize = 8;

/// What [`Scheduler::next_or`] found next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<E> {
    /// An event of the queue, at its time.
    Queued(SimTime, E),
    /// The caller's own event, which comes first.
    Outside(SimTime),
    /// Nothing is pending anywhere.
    Idle,
}

/// The event queue and the clock of one run. Pending events live in a monotone heap and in
/// up to [`MAX_LANES`] FIFO lanes; each event is keyed by (time, insertion number), and
/// the smallest key across all of them comes out next, so the order is that of a single
/// queue whatever lanes were used.
pub struct Scheduler<E> {
    now: SimTime,
    seq: u64,
    heap: MonotoneQueue<E>,
    lanes: Vec<VecDeque<Entry<E>>>,
    /// The smallest pending key and where it is, kept up to date by every push and pop, so
    /// that the next event is known as soon as one is taken (see [`Scheduler::peek`]).
    head: Option<(u128, Source)>,
    pending: usize,
    processed: u64,
    peak_pending: usize,
    limits: Limits,
    /// `limits.max_events`, or 0 once more than `limits.max_pending` events were pending:
    /// `next_or` then stops at its one check of the event count, which costs nothing more.
    events_cap: u64,
}

/// Where the smallest pending key is.
#[derive(Copy, Clone)]
enum Source {
    Heap,
    Lane(usize),
}

impl<E> Scheduler<E> {
    pub fn new(limits: Limits) -> Self {
        // The last instant of the clock is where too long a delay saturates; it is never due.
        let limits = Limits {
            max_time: limits.max_time.min(SimTime::from_nanos(u64::MAX - 1)),
            ..limits
        };
        Scheduler {
            now: SimTime::ZERO,
            seq: 0,
            heap: MonotoneQueue::new(),
            lanes: Vec::new(),
            head: None,
            pending: 0,
            processed: 0,
            peak_pending: 0,
            events_cap: limits.max_events,
            limits,
        }
    }

    /// A new FIFO lane, or `None` once [`MAX_LANES`] are in use: the caller then schedules
    /// on the heap. A lane pays off for events whose times arrive in order, such as a
    /// constant delay; others are still correct on it, they just fall through to the heap.
    pub fn new_lane(&mut self) -> Option<Lane> {
        if self.lanes.len() >= MAX_LANES {
            return None;
        }
        self.lanes.push(VecDeque::new());
        Some(Lane(self.lanes.len() as u8 - 1))
    }

    /// The time of the event being processed.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events taken from the queue so far, with the caller's own ([`Next::Outside`]).
    pub fn processed(&self) -> u64 {
        self.processed
    }

    pub fn pending(&self) -> usize {
        self.pending
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
        self.schedule_at_on(None, at, event)
    }

    /// Schedules `event` after `delay`; a delay is never negative, so this cannot fail.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) {
        self.schedule_in_on(None, delay, event);
    }

    /// [`Scheduler::schedule_at`] on `lane` when it has one.
    #[inline]
    pub fn schedule_at_on(
        &mut self,
        lane: Option<Lane>,
        at: SimTime,
        event: E,
    ) -> Result<(), EngineError> {
        if at < self.now {
            return Err(EngineError::InPast { now: self.now, at });
        }
        self.push(lane, at, event);
        Ok(())
    }

    /// [`Scheduler::schedule_in`] on `lane` when it has one.
    #[inline]
    pub fn schedule_in_on(&mut self, lane: Option<Lane>, delay: SimDuration, event: E) {
        let at = self.now.saturating_add(delay);
        self.push(lane, at, event);
    }

    #[inline]
    fn push(&mut self, lane: Option<Lane>, at: SimTime, event: E) {
        let key = (u128::from(at.as_nanos()) << 64) | u128::from(self.seq);
        self.seq += 1;
        let entry = Entry { key, event };
        let src = match lane {
            Some(Lane(l)) => {
                let q = &mut self.lanes[l as usize];
                // Out of order for its lane: the heap keeps it in its place.
                if q.back().is_none_or(|b| b.key < key) {
                    q.push_back(entry);
                    Source::Lane(l as usize)
                } else {
                    self.heap.push(entry);
                    Source::Heap
                }
            }
            None => {
                self.heap.push(entry);
                Source::Heap
            }
        };
        if self.head.is_none_or(|(k, _)| key < k) {
            self.head = Some((key, src));
        }
        self.pending += 1;
        if self.pending > self.peak_pending {
            self.peak_pending = self.pending;
            if self.pending > self.limits.max_pending {
                self.events_cap = 0;
            }
        }
    }

    /// A group of the events to come out next, from the heap (lanes aside), in no particular
    /// order, and a count that changes when the group does: a simulation fetches their data
    /// into cache once per group, well before each is taken.
    #[inline]
    pub fn upcoming(&self) -> (u64, impl Iterator<Item = &E>) {
        self.heap.upcoming()
    }

    /// Whether the next event comes from a radix heap's front, so that [`Scheduler::upcoming`]
    /// has listed it (unless it came in below the front's keys after the list was read).
    #[inline]
    pub fn next_is_upcoming(&self) -> bool {
        matches!(self.head, Some((_, Source::Heap))) && matches!(self.heap.0, Inner::Large(_))
    }

    /// See [`MonotoneQueue::set_radix_from`].
    pub fn set_radix_from(&mut self, pending: usize) {
        self.heap.set_radix_from(pending);
    }

    /// The next event to come out of the queue, if nothing earlier is scheduled before it is
    /// taken. A simulation uses it to fetch that event's data into cache ahead of time.
    #[inline]
    pub fn peek(&mut self) -> Option<&E> {
        match self.head? {
            (_, Source::Heap) => self.heap.peek(),
            (_, Source::Lane(i)) => self.lanes[i].front().map(|e| &e.event),
        }
    }

    /// The smallest pending key and where it is, found by looking at every source.
    #[inline]
    fn min(&mut self) -> Option<(u128, Source)> {
        let mut best = self.heap.min_key().map(|k| (k, Source::Heap));
        for (i, q) in self.lanes.iter().enumerate() {
            if let Some(e) = q.front() {
                if best.is_none_or(|(k, _)| e.key < k) {
                    best = Some((e.key, Source::Lane(i)));
                }
            }
        }
        best
    }

    /// Takes out the next queued event without moving the clock or counting it as processed:
    /// for a caller that knows it void (a timer cancelled lazily), so that a limit it lies
    /// beyond does not stop the run. Nothing may be scheduled before its time afterwards; a
    /// caller that discards only past a limit, where every event pending is beyond it, never
    /// does, since handling any of them would break the limit first.
    #[cold]
    #[inline(never)]
    pub fn discard_next(&mut self) -> Option<E> {
        // Through `next_or`, with the clock, the count and the limits put back: a second
        // path to the heap's pop would keep the compiler from inlining it into `next_or`,
        // which every event takes (20 instructions an event more, measured).
        let kept = (self.now, self.processed, self.limits);
        self.limits = Limits::default();
        let next = self.next_or(None);
        (self.now, self.processed, self.limits) = kept;
        match next {
            Ok(Next::Queued(_, e)) => Some(e),
            _ => None,
        }
    }

    #[cold]
    #[inline(never)]
    fn in_past(&self, at: SimTime) -> EngineError {
        EngineError::InPast { now: self.now, at }
    }

    /// Takes the next event and advances the clock to its time. `Ok(None)` when the queue is
    /// empty; an error when the next event would break a limit.
    #[inline]
    pub fn next_event(&mut self) -> Result<Option<(SimTime, E)>, EngineError> {
        match self.next_or(None)? {
            Next::Queued(at, e) => Ok(Some((at, e))),
            Next::Outside(_) | Next::Idle => Ok(None),
        }
    }

    /// Which limit the next event, due at `at` with `pending` events pending, breaks. Out of
    /// line, so that `next_or` stays small enough for the heap's `pop` to be inlined into it.
    #[cold]
    #[inline(never)]
    fn limit_error(&self, at: SimTime, pending: usize) -> EngineError {
        let l = &self.limits;
        if self.peak_pending > l.max_pending {
            EngineError::PendingLimit {
                limit: l.max_pending,
                at,
            }
        } else if self.processed >= l.max_events {
            EngineError::EventLimit {
                limit: l.max_events,
                pending,
            }
        } else if at == SimTime::MAX {
            // `max_time` is below `SimTime::MAX` (see `new`), where a delay too long for the
            // clock saturates: such an event is an overflow, never due.
            EngineError::TimeOverflow { pending }
        } else {
            EngineError::TimeLimit {
                limit: l.max_time,
                pending,
            }
        }
    }

    /// Like [`Scheduler::next_event`], with one more event kept by the caller, due at
    /// `outside`: when it is due strictly before every queued event, the clock moves to it
    /// and [`Next::Outside`] says so. At equal times queued events go first. A caller's own
    /// monotone stream (a workload's arrivals) thus skips the queue yet keeps a total order.
    /// An `outside` before [`Scheduler::now`] is an error, as scheduling into the past is.
    #[inline]
    pub fn next_or(&mut self, outside: Option<SimTime>) -> Result<Next<E>, EngineError> {
        let (at, from) = match (self.head, outside) {
            (None, None) => return Ok(Next::Idle),
            (Some((k, src)), o) => {
                let t = SimTime::from_nanos((k >> 64) as u64);
                match o {
                    Some(o) if o < t => (o, None),
                    _ => (t, Some(src)),
                }
            }
            (None, Some(o)) => (o, None),
        };
        if self.processed >= self.events_cap || at > self.limits.max_time {
            return Err(self.limit_error(at, self.pending + usize::from(outside.is_some())));
        }
        if at < self.now {
            // Only an outside instant can be: queued ones are never before `now`.
            return Err(self.in_past(at));
        }
        self.now = at;
        self.processed += 1;
        let Some(src) = from else {
            return Ok(Next::Outside(at));
        };
        let entry = match src {
            Source::Heap => self.heap.pop(),
            Source::Lane(i) => self.lanes[i].pop_front(),
        }
        .expect("the head is pending");
        self.head = self.min();
        self.pending -= 1;
        Ok(Next::Queued(at, entry.event))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Knuth's MMIX step: reproducible pseudo-random times for the tests.
    pub(crate) fn lcg(x: u64) -> u64 {
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
    fn upcoming_events_are_the_next_to_come_out() {
        let mut s = Scheduler::new(Limits::default());
        let mut x = 7u64;
        for i in 0..(2 * RADIX_FROM as u32) {
            x = lcg(x);
            s.schedule_in(SimDuration::from_nanos((x >> 33) % 1_000_000), i);
        }
        let (mut groups, mut seen) = (0, None);
        while s.pending() > 0 {
            let (count, group) = s.upcoming();
            let group: std::collections::BTreeSet<u32> = group.copied().collect();
            if seen != Some(count) {
                // A new group: exactly the events that come out next, in some order.
                seen = Some(count);
                groups += 1;
                let next: std::collections::BTreeSet<u32> = (0..group.len())
                    .map(|_| s.next_event().unwrap().unwrap().1)
                    .collect();
                assert_eq!(next, group);
            } else {
                s.next_event().unwrap();
            }
        }
        assert!(groups > 100, "{groups} groups");
    }

    #[test]
    fn a_lower_switch_point_makes_a_radix_heap_sooner_in_the_same_order() {
        let run = |radix_from: Option<usize>| {
            let mut s = Scheduler::new(Limits::default());
            if let Some(n) = radix_from {
                s.set_radix_from(n);
            }
            let mut x = 3u64;
            let mut out = Vec::new();
            for i in 0..3000u32 {
                x = lcg(x);
                s.schedule_in(SimDuration::from_nanos((x >> 33) % 100_000), i);
                if i % 4 == 0 {
                    out.push(s.next_event().unwrap().unwrap());
                }
            }
            let large = matches!(s.heap.0, Inner::Large(_));
            out.extend(std::iter::from_fn(|| s.next_event().unwrap()));
            (large, out)
        };
        let (small, expected) = run(None);
        let (large, got) = run(Some(500));
        assert!(!small && large);
        assert_eq!(got, expected);
    }

    #[test]
    fn lanes_keep_the_order_of_a_single_queue() {
        // The same schedule twice: once all on the heap, once spread over lanes, some of whose
        // events arrive out of order for their lane. Enough stay pending for the heap to turn
        // into a radix heap.
        const N: u32 = 4 * RADIX_FROM as u32;
        let run = |use_lanes: bool| {
            let mut s = Scheduler::new(Limits::default());
            let lanes: Vec<Option<Lane>> = (0..3)
                .map(|_| if use_lanes { s.new_lane() } else { None })
                .collect();
            let mut x = 7u64;
            let mut out = Vec::new();
            for i in 0..N {
                x = lcg(x);
                let lane = lanes[(x % 4) as usize % 3];
                // Lane 0 gets a constant delay, the others random ones; every fourth event
                // goes to the heap.
                let delay = match x % 4 {
                    0 => 250,
                    3 => (x >> 20) % 100_000,
                    _ => (x >> 40) % 1000,
                };
                let lane = if x % 4 == 3 { None } else { lane };
                s.schedule_in_on(lane, SimDuration::from_nanos(delay), i);
                if i % 2 == 0 {
                    // What `peek` shows is what comes out next.
                    let peeked = s.peek().copied();
                    let (t, e) = s.next_event().unwrap().unwrap();
                    assert_eq!(peeked, Some(e));
                    out.push((t.as_nanos(), e));
                }
            }
            assert_eq!(s.pending(), N as usize / 2);
            assert!(matches!(s.heap.0, Inner::Large(_)));
            out.extend(drain(&mut s));
            out
        };
        let plain = run(false);
        assert_eq!(plain.len(), N as usize);
        assert_eq!(run(true), plain);
    }

    #[test]
    fn an_outside_event_goes_first_only_when_strictly_earlier() {
        let mut s = Scheduler::new(Limits::default());
        s.schedule_in(SimDuration::from_nanos(10), 1);
        let at = |n| Some(SimTime::from_nanos(n));
        assert_eq!(
            s.next_or(at(10)).unwrap(),
            Next::Queued(SimTime::from_nanos(10), 1)
        );
        s.schedule_in(SimDuration::from_nanos(5), 2);
        assert_eq!(
            s.next_or(at(12)).unwrap(),
            Next::Outside(SimTime::from_nanos(12))
        );
        assert_eq!(s.now(), SimTime::from_nanos(12));
        assert_eq!(s.processed(), 2);
        assert_eq!(
            s.next_or(at(20)).unwrap(),
            Next::Queued(SimTime::from_nanos(15), 2)
        );
        assert_eq!(
            s.next_or(at(20)).unwrap(),
            Next::Outside(SimTime::from_nanos(20))
        );
        assert_eq!(s.next_or(None).unwrap(), Next::Idle);
        // The limits hold for outside events too.
        let mut s: Scheduler<u32> = Scheduler::new(Limits {
            max_time: SimTime::from_nanos(100),
            max_events: 1,
            ..Limits::default()
        });
        assert!(matches!(
            s.next_or(at(101)),
            Err(EngineError::TimeLimit { .. })
        ));
        assert_eq!(
            s.next_or(at(50)).unwrap(),
            Next::Outside(SimTime::from_nanos(50))
        );
        assert!(matches!(
            s.next_or(at(60)),
            Err(EngineError::EventLimit { .. })
        ));
    }

    /// Regression: an outside instant before the current time moved the clock back, and an
    /// event could then be scheduled before one already processed.
    #[test]
    fn an_outside_instant_in_the_past_is_refused_and_changes_nothing() {
        let mut s: Scheduler<u32> = Scheduler::new(Limits::default());
        s.schedule_at(SimTime::from_nanos(10), 1).unwrap();
        s.schedule_at(SimTime::from_nanos(20), 2).unwrap();
        assert_eq!(s.next_event().unwrap(), Some((SimTime::from_nanos(10), 1)));
        assert_eq!(
            s.next_or(Some(SimTime::from_nanos(5))),
            Err(EngineError::InPast {
                now: SimTime::from_nanos(10),
                at: SimTime::from_nanos(5),
            })
        );
        assert_eq!(s.now(), SimTime::from_nanos(10));
        assert_eq!(s.processed(), 1);
        assert!(s.schedule_at(SimTime::from_nanos(7), 3).is_err());
        // An outside instant equal to the current time is fine.
        assert_eq!(
            s.next_or(Some(SimTime::from_nanos(10))).unwrap(),
            Next::Outside(SimTime::from_nanos(10))
        );
        assert_eq!(s.next_event().unwrap(), Some((SimTime::from_nanos(20), 2)));
    }

    #[test]
    fn a_discarded_event_moves_neither_the_clock_nor_the_count() {
        let mut s: Scheduler<u32> = Scheduler::new(Limits {
            max_time: SimTime::from_nanos(100),
            ..Limits::default()
        });
        let lane = s.new_lane();
        s.schedule_at(SimTime::from_nanos(10), 1).unwrap();
        s.schedule_at_on(lane, SimTime::from_nanos(200), 2).unwrap();
        s.schedule_at(SimTime::from_nanos(300), 3).unwrap();
        assert_eq!(s.next_event().unwrap(), Some((SimTime::from_nanos(10), 1)));
        assert!(matches!(
            s.next_event(),
            Err(EngineError::TimeLimit { pending: 2, .. })
        ));
        assert_eq!(s.discard_next(), Some(2), "from its lane");
        assert_eq!(
            (s.now(), s.processed(), s.pending()),
            (SimTime::from_nanos(10), 1, 1)
        );
        assert!(
            s.next_event().is_err(),
            "the heap's is beyond the limit too"
        );
        assert_eq!(s.discard_next(), Some(3));
        assert_eq!(s.discard_next(), None);
        assert_eq!(s.next_event().unwrap(), None);
        assert_eq!(s.now(), SimTime::from_nanos(10));
    }

    /// Regression: replacing the minimum of an empty queue dropped the event it was given.
    #[test]
    fn replacing_the_minimum_of_an_empty_queue_adds_the_event() {
        for radix_from in [RADIX_FROM, 0] {
            let mut q = MonotoneQueue::new();
            q.set_radix_from(radix_from);
            assert_eq!(q.replace_min(5, 7u32), None);
            assert_eq!(q.len(), 1);
            assert_eq!(q.replace_min(6, 8), Some((5, 7)));
            assert_eq!(q.take_min(), Some((6, 8)));
            assert_eq!(q.replace_min(9, 1), None);
            assert_eq!(q.take_min(), Some((9, 1)));
            assert!(q.is_empty());
        }
    }

    /// Regression: when the radix heap spread a large bucket rather than moving it to the
    /// front whole, `upcoming` kept its count, so the next events were never listed to be
    /// prefetched.
    #[test]
    fn a_spread_bucket_makes_a_new_group() {
        let mut s: Scheduler<u32> = Scheduler::new(Limits::default());
        s.set_radix_from(0);
        for i in 0..5 {
            s.schedule_at(SimTime::from_nanos(1), i).unwrap();
        }
        let burst = 2 * SORTED_RUN as u32;
        for i in 100..100 + burst {
            s.schedule_at(SimTime::from_nanos(2), i).unwrap();
        }
        s.peek();
        let (first, group) = s.upcoming();
        assert_eq!(group.count(), 5);
        for _ in 0..5 {
            s.next_event().unwrap();
        }
        assert_eq!(s.peek(), Some(&100));
        let (second, mut group) = s.upcoming();
        assert_ne!(first, second, "the front was refilled");
        assert!(group.any(|&e| e == 100), "the next event is listed");
        assert!(s.next_is_upcoming());
    }

    #[test]
    fn replacing_the_minimum_matches_taking_then_inserting() {
        for n in [100usize, 3 * RADIX_FROM] {
            let mut a = MonotoneQueue::new();
            let mut b = MonotoneQueue::new();
            let mut x = 3u64;
            for i in 0..n as u64 {
                x = lcg(x);
                let k = (u128::from(x >> 30) << 64) | u128::from(i);
                a.insert(k, i);
                b.insert(k, i);
            }
            for i in 0..(4 * n) as u64 {
                x = lcg(x);
                let min = a.min_key().unwrap();
                let k = ((min >> 64) + u128::from(x >> 40)) << 64 | u128::from(n as u64 + i);
                let taken = a.take_min();
                a.insert(k, i);
                assert_eq!(b.replace_min(k, i), taken);
            }
            while let Some(e) = a.take_min() {
                assert_eq!(b.take_min(), Some(e));
            }
            assert!(b.is_empty());
        }
    }

    /// Regression: looking at the radix heap's smallest key moved its reference key up to
    /// it, so a key that came in afterwards between the last one taken out and that smallest
    /// was filed against the wrong reference and came out after it.
    #[test]
    fn a_key_below_a_peeked_minimum_still_comes_out_first() {
        let mut q = MonotoneQueue::new();
        for i in 0..(2 * RADIX_FROM as u64) {
            q.insert(u128::from(1000 + i * 10) << 64, i);
        }
        assert!(matches!(q.0, Inner::Large(_)));
        assert_eq!(q.take_min().map(|(_, e)| e), Some(0));
        assert_eq!(q.min_key(), Some(u128::from(1010u64) << 64));
        for (t, e) in [(1007u64, 100u64), (1003, 101), (1005, 102)] {
            q.insert(u128::from(t) << 64, e);
        }
        assert_eq!(q.min_key(), Some(u128::from(1003u64) << 64));
        let first: Vec<u64> = (0..5).map(|_| q.take_min().unwrap().1).collect();
        assert_eq!(first, vec![101, 102, 100, 1, 2]);
        // The same through the scheduler: a lane's event is next, so the heap's smallest has
        // been looked at; the lane's event then schedules one before it on the heap.
        let mut s = Scheduler::new(Limits::default());
        let lane = s.new_lane();
        for i in 0..(2 * RADIX_FROM as u32) {
            s.schedule_in(SimDuration::from_nanos(1000 + u64::from(i) * 10), i);
        }
        s.schedule_in_on(lane, SimDuration::from_nanos(500), 1_000_000);
        assert_eq!(
            s.next_event().unwrap(),
            Some((SimTime::from_nanos(500), 1_000_000))
        );
        s.schedule_in(SimDuration::from_nanos(400), 2_000_000);
        assert_eq!(
            s.next_event().unwrap(),
            Some((SimTime::from_nanos(900), 2_000_000))
        );
        assert_eq!(
            s.next_event().unwrap(),
            Some((SimTime::from_nanos(1000), 0))
        );
    }

    /// Many keys below a peeked minimum: the sorted front takes the first ones by insertion,
    /// then turns into a heap; the order holds throughout.
    #[test]
    fn a_burst_below_a_peeked_minimum_keeps_its_order() {
        let mut q = MonotoneQueue::new();
        let mut set = std::collections::BTreeSet::new();
        for i in 0..(2 * RADIX_FROM as u64) {
            let k = u128::from(1_000_000 + i * 1000) << 64;
            q.insert(k, i);
            set.insert((k, i));
        }
        assert_eq!(q.take_min(), set.pop_first());
        assert_eq!(q.min_key(), set.first().map(|e| e.0));
        let mut x = 5u64;
        // Keys never below the last one taken: the queue is monotone.
        let mut floor = 1_000_000u64;
        for i in 0..500u64 {
            x = lcg(x);
            let span = 1_001_000u64.saturating_sub(floor).max(1);
            let k = (u128::from(floor + (x >> 33) % span) << 64) | u128::from(i);
            q.insert(k, 1_000_000 + i);
            set.insert((k, 1_000_000 + i));
            if i % 5 == 0 {
                let e = q.take_min();
                assert_eq!(e, set.pop_first());
                floor = e.map_or(floor, |(k, _)| (k >> 64) as u64);
            }
        }
        while let Some(e) = q.take_min() {
            assert_eq!(Some(e), set.pop_first());
        }
        assert!(set.is_empty());
    }

    /// Regression: with the smallest keys kept in a sorted list, a key equal to the reference
    /// key was appended to it unsorted and came out before smaller ones.
    #[test]
    fn equal_keys_do_not_overtake_smaller_ones() {
        let mut r = RadixHeap::new();
        for k in [5u128, 6, 7] {
            r.insert(k, k as u32);
        }
        assert_eq!(r.take_min(), Some((5, 5)));
        r.insert(7, 99);
        let keys: Vec<u128> = std::iter::from_fn(|| r.take_min().map(|(k, _)| k)).collect();
        assert_eq!(keys, vec![6, 7, 7]);
    }

    /// Pushes near and far from the smallest key, peeks and pops at random, on a radix heap:
    /// the order is that of a sorted set, whether a bucket was spread or sorted whole.
    #[test]
    fn a_radix_heap_with_peeks_keeps_a_sorted_sets_order() {
        let mut q = MonotoneQueue::new();
        let mut set = std::collections::BTreeSet::new();
        let mut x = 11u64;
        let mut taken = 0u64;
        for i in 0..200_000u64 {
            x = lcg(x);
            match x % 8 {
                0..=4 => {
                    // Mostly far ahead, sometimes just past the last key taken out.
                    // Mostly within a millisecond, some just past the floor, some hours ahead.
                    let ahead = if x % 16 < 11 {
                        (x >> 20) % 1_000_000
                    } else if x % 16 < 15 {
                        (x >> 40) % 50
                    } else {
                        x >> 20
                    };
                    let k = (u128::from(taken + ahead) << 64) | u128::from(i);
                    q.insert(k, i);
                    set.insert((k, i));
                }
                5 => assert_eq!(q.min_key(), set.first().map(|e| e.0)),
                _ => {
                    let got = q.take_min();
                    assert_eq!(got, set.pop_first());
                    if let Some((k, _)) = got {
                        taken = (k >> 64) as u64;
                    }
                }
            }
            if i == 100_000 {
                assert!(matches!(q.0, Inner::Large(_)));
            }
        }
        while let Some(e) = q.take_min() {
            assert_eq!(Some(e), set.pop_first());
        }
        assert!(set.is_empty());
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
            ..Limits::default()
        });
        s.schedule_in(SimDuration::from_nanos(200), 0);
        assert!(matches!(s.next_event(), Err(EngineError::TimeLimit { .. })));

        let mut s = Scheduler::new(Limits {
            max_events: 3,
            ..Limits::default()
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

    /// Regression: a model scheduling faster than it handled (an inquiry timeout of 1 ns
    /// against 100 ms hops) filled memory, 10 GB and more, before any limit applied.
    #[test]
    fn too_many_pending_events_stop_the_run() {
        let mut s = Scheduler::new(Limits {
            max_pending: 4,
            ..Limits::default()
        });
        for i in 0..5 {
            s.schedule_in(SimDuration::from_nanos(i), 0u32);
        }
        assert_eq!(
            s.next_event(),
            Err(EngineError::PendingLimit {
                limit: 4,
                at: SimTime::ZERO
            })
        );
        let mut s = Scheduler::new(Limits {
            max_pending: 5,
            ..Limits::default()
        });
        for i in 0..5 {
            s.schedule_in(SimDuration::from_nanos(i), 0u32);
        }
        assert!(s.next_event().is_ok(), "at the limit is within it");
    }

    /// Regression: a delay too long for the clock saturated at its last instant, where every
    /// such event then came due at once: a 1 s timeout beat a 10 ms reply and false
    /// violations followed, with no word of the clock having run out.
    #[test]
    fn a_clock_run_out_is_an_error_whatever_the_time_limit() {
        for max_time in [SimTime::MAX, SimTime::from_nanos(u64::MAX - 1)] {
            let mut s = Scheduler::new(Limits {
                max_time,
                ..Limits::default()
            });
            s.schedule_at(SimTime::from_nanos(u64::MAX - 5), 1u32)
                .unwrap();
            assert_eq!(s.next_event().unwrap().map(|(_, e)| e), Some(1));
            s.schedule_in(SimDuration::from_nanos(10), 2);
            let e = s.next_event().unwrap_err();
            assert_eq!(e, EngineError::TimeOverflow { pending: 1 });
            assert!(e.to_string().contains("ran past its end"), "{e}");
        }
        let e = EngineError::TimeLimit {
            limit: SimTime::from_nanos(30 * 86_400 * 1_000_000_000),
            pending: 1,
        };
        assert_eq!(
            e.to_string(),
            "the run passed its simulated-time limit of 30d with 1 event pending"
        );
    }
}
