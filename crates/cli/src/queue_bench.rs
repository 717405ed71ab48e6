//! `payfault bench --queue`: the event queue alone, in the hold model (Jones, 1986) that
//! queue studies use. N events are pending; each hold takes out the earliest and schedules
//! one at its time plus a random increment, so N stays constant. The run's own scheduler is
//! measured against a binary heap (the standard library's) holding the same entries, from a
//! thousand to ten million pending: where the heap's cost per event grows with the depth of
//! the heap and its cache misses, the scheduler's should stay flat.
//!
//! Both queues take out the same keys in the same order (time, then scheduling order), which
//! each run folds into a checksum; the two checksums must agree, or the comparison is void.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use payfault_engine::{stream, Limits, Scheduler, Seed, SimTime};
use rand::RngCore;

use crate::{bench::peak_rss_kib, say, CliError};

/// Increments are uniform in [0, 2 * MEAN_INCREMENT_NS): 50 ms on average, so that 100,000
/// pending events are as dense in time as the deliveries of the reference at a million
/// terminals.
const MEAN_INCREMENT_NS: u64 = 50_000_000;

/// Timed holds a row. Before them, as many untimed holds as there are pending events: the
/// pending times settle to their steady spread, and a radix heap's buckets, each used in
/// its turn, have all been filled once (ten million pending measured 150 ns a hold after
/// two million holds, 70 after ten million).
const HOLDS: u64 = 2_000_000;

/// An entry's payload: as large as a simulator's event, so that each queue moves as many
/// bytes an entry as it does in a run.
type Payload = [u32; 4];

/// The queues measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueKind {
    /// The simulator's [`Scheduler`]: a binary heap up to 16,384 pending, a radix heap past.
    Scheduler,
    /// `std::collections::BinaryHeap` of (time, sequence) keys.
    BinaryHeap,
}

impl QueueKind {
    fn name(self) -> &'static str {
        match self {
            QueueKind::Scheduler => "scheduler",
            QueueKind::BinaryHeap => "binary-heap",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [QueueKind::Scheduler, QueueKind::BinaryHeap]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// What one queue did at one size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Holds {
    pub holds: u64,
    pub secs: f64,
    /// Folds every key taken out, in order: equal for queues that agree.
    pub checksum: u64,
}

/// The hold-model operations of one queue.
trait HoldQueue {
    fn push(&mut self, at: u64, payload: Payload);
    /// Takes out the earliest entry: its time and payload.
    fn pop(&mut self) -> (u64, Payload);
}

impl HoldQueue for Scheduler<Payload> {
    #[inline]
    fn push(&mut self, at: u64, payload: Payload) {
        self.schedule_at(SimTime::from_nanos(at), payload)
            .expect("a hold schedules at or after the time it took out");
    }

    #[inline]
    fn pop(&mut self) -> (u64, Payload) {
        let (at, p) = self
            .next_event()
            .expect("no limits are set")
            .expect("the hold model keeps events pending");
        (at.as_nanos(), p)
    }
}

/// The standard binary heap, with the scheduler's tie-break: equal times first in, first out.
struct Heap {
    heap: BinaryHeap<(Reverse<(u64, u64)>, Payload)>,
    seq: u64,
}

impl HoldQueue for Heap {
    #[inline]
    fn push(&mut self, at: u64, payload: Payload) {
        self.heap.push((Reverse((at, self.seq)), payload));
        self.seq += 1;
    }

    #[inline]
    fn pop(&mut self) -> (u64, Payload) {
        let (Reverse((at, _)), p) = self.heap.pop().expect("events pending");
        (at, p)
    }
}

/// Fills `q` with `pending` events, lets it settle, then times `holds` holds.
fn hold<Q: HoldQueue>(q: &mut Q, pending: u64, holds: u64) -> Holds {
    let mut rng = stream(Seed(1), 0, 0);
    let mut draw =
        move || ((u128::from(rng.next_u64()) * u128::from(2 * MEAN_INCREMENT_NS)) >> 64) as u64;
    for i in 0..pending {
        q.push(draw(), [i as u32, 0, 0, 0]);
    }
    let mut checksum = 0u64;
    let mut step = |q: &mut Q| {
        let (at, p) = q.pop();
        checksum = (checksum.rotate_left(5) ^ at).wrapping_add(u64::from(p[0]));
        q.push(at + draw(), [p[0], p[1].wrapping_add(1), 0, 0]);
    };
    for _ in 0..pending {
        step(q);
    }
    let start = Instant::now();
    for _ in 0..holds {
        step(q);
    }
    let secs = start.elapsed().as_secs_f64();
    Holds {
        holds,
        secs,
        checksum,
    }
}

/// Runs the hold model on one queue.
pub fn measure(kind: QueueKind, pending: u64, holds: u64) -> Holds {
    match kind {
        QueueKind::Scheduler => hold(&mut Scheduler::new(Limits::default()), pending, holds),
        QueueKind::BinaryHeap => {
            let mut h = Heap {
                heap: BinaryHeap::new(),
                seq: 0,
            };
            hold(&mut h, pending, holds)
        }
    }
}

/// The sizes measured: every power of ten from a thousand to `max_pending`.
fn sizes(max_pending: u64) -> Vec<u64> {
    std::iter::successors(Some(1_000u64), |&n| n.checked_mul(10))
        .take_while(|&n| n <= max_pending)
        .collect()
}

/// `--queue-run PENDING:KIND`, in a child process: one line, `holds secs kib checksum`.
pub fn run_one(spec: &str) -> Result<u8, CliError> {
    let bad = || CliError::Usage(format!("--queue-run {spec}: expected PENDING:KIND"));
    let (n, kind) = spec.split_once(':').ok_or_else(bad)?;
    let pending: u64 = n.parse().map_err(|_| bad())?;
    let kind = QueueKind::parse(kind).ok_or_else(bad)?;
    let h = measure(kind, pending.max(1), HOLDS);
    say!(
        "{} {} {} {}",
        h.holds,
        h.secs,
        peak_rss_kib().unwrap_or(0),
        h.checksum
    );
    Ok(0)
}

/// One size of one queue in a child process, so that each peak memory is its own: (holds,
/// seconds, peak KiB, checksum).
fn child(pending: u64, kind: QueueKind) -> Result<(f64, f64, f64, u64), CliError> {
    let exe = std::env::current_exe().map_err(|source| CliError::Write {
        path: "payfault".into(),
        source,
    })?;
    let out = std::process::Command::new(&exe)
        .args([
            "bench",
            "--queue-run",
            &format!("{pending}:{}", kind.name()),
        ])
        .output()
        .map_err(|source| CliError::Write { path: exe, source })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let w: Vec<&str> = text.split_whitespace().collect();
    let parsed = (w.len() == 4)
        .then(|| {
            Some((
                w[0].parse().ok()?,
                w[1].parse().ok()?,
                w[2].parse().ok()?,
                w[3].parse().ok()?,
            ))
        })
        .flatten();
    match parsed {
        Some(r) if out.status.success() => Ok(r),
        _ => Err(CliError::Usage(format!(
            "the queue benchmark at {pending} pending ({}) failed: {}",
            kind.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// `payfault bench --queue`: the table of both queues at every size.
pub fn run(max_pending: u64) -> Result<u8, CliError> {
    say!(
        "bench --queue: the hold model, each queue in a process of its own: N events pending; \
         take out the earliest, schedule one at its time plus a draw uniform in [0, {} ms); \
         N holds to settle, then {HOLDS} timed",
        2 * MEAN_INCREMENT_NS / 1_000_000
    );
    say!(
        "{:>10}  {:>12} {:>10} {:>8} {:>9}  {:>12} {:>10} {:>8} {:>9}  {:>10}",
        "pending",
        "sched hold/s",
        "ns/hold",
        "wall s",
        "peak MiB",
        "heap hold/s",
        "ns/hold",
        "wall s",
        "peak MiB",
        "heap/sched"
    );
    for n in sizes(max_pending) {
        let (sh, ss, sk, sc) = child(n, QueueKind::Scheduler)?;
        let (hh, hs, hk, hc) = child(n, QueueKind::BinaryHeap)?;
        if sc != hc {
            return Err(CliError::Usage(format!(
                "at {n} pending the scheduler and the binary heap took out different keys \
                 (checksums {sc:#x} and {hc:#x}): the scheduler is out of order"
            )));
        }
        let s_ns = ss * 1e9 / sh;
        let h_ns = hs * 1e9 / hh;
        say!(
            "{:>10}  {:>12.0} {:>10.1} {:>8.3} {:>9.1}  {:>12.0} {:>10.1} {:>8.3} {:>9.1}  {:>10.2}",
            n,
            sh / ss,
            s_ns,
            ss,
            sk / 1024.0,
            hh / hs,
            h_ns,
            hs,
            hk / 1024.0,
            h_ns / s_ns
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The comparison is fair only if both queues take out the same keys in the same order,
    /// through the binary heap's range and the radix heap's.
    #[test]
    fn both_queues_take_out_the_same_keys() {
        for pending in [1, 1_000, 40_000] {
            let s = measure(QueueKind::Scheduler, pending, 50_000);
            let h = measure(QueueKind::BinaryHeap, pending, 50_000);
            assert_eq!(s.checksum, h.checksum, "at {pending} pending");
            assert_ne!(s.checksum, 0);
        }
        assert_ne!(
            measure(QueueKind::Scheduler, 1_000, 50_000).checksum,
            measure(QueueKind::Scheduler, 1_000, 50_001).checksum,
            "the checksum follows every key"
        );
    }

    #[test]
    fn sizes_are_the_powers_of_ten_up_to_the_largest() {
        assert_eq!(sizes(999), Vec::<u64>::new());
        assert_eq!(sizes(1_000), [1_000]);
        assert_eq!(sizes(99_999), [1_000, 10_000]);
        assert_eq!(sizes(10_000_000).len(), 5);
        assert_eq!(sizes(u64::MAX).len(), 17);
    }

    #[test]
    fn a_queue_run_names_what_it_expected() {
        for bad in ["", "1000", "x:scheduler", "1000:calendar"] {
            let e = run_one(bad).unwrap_err().to_string();
            assert!(e.contains("expected PENDING:KIND"), "{bad}: {e}");
        }
    }
}
