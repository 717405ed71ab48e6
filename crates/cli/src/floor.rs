//! The second yardstick of `payfault bench`, `--floor`: the least a program of the reference
//! model can cost on this machine, to tell how much of the simulator's growth with scale is
//! its own and how much the machine's. It is the loop of `--baseline` with every table made as
//! small and as cheap as the model allows: the simulator's own event queue (FIFO lanes for the
//! timeouts, a radix heap once pending events are many) and arrival queue, the
//! distributions' sampling code, a SplitMix64 stream, one 8-byte word a payment in a deque
//! by id (most of a payment's events come within a few hundred milliseconds of its start,
//! near the deque's live end), the bank's keys as one bit each, and one 4-byte counter a
//! terminal, touched once a purchase and fetched ahead. No oracle, messages, metrics or
//! trace. What grows with the terminals here is the queues, the terminals' counters and the
//! span of that deque (8 MB at a million terminals, its retried payments holding its front).

use std::collections::VecDeque;

use payfault_domain::engine::{
    prefetch, Dist, Lane, Limits as QueueLimits, Next, Prob, Scheduler, SimDuration, SimTime,
    SourceQueue,
};
use payfault_domain::SimError;
use rand::RngCore;

use crate::baseline::Limits;

/// The reference model, as [`crate::baseline`] has it.
const MEDIAN: SimDuration = SimDuration::from_nanos(20_000_000);
const SIGMA: f64 = 0.6;
const DROP: f64 = 0.01;
const TIMEOUT: SimDuration = SimDuration::from_nanos(250_000_000);
const ATTEMPTS: u8 = 4;
const MEAN_GAP: SimDuration = SimDuration::from_nanos(1_000_000_000);
/// Terminals from which a terminal's counter is fetched one arrival ahead, and the queue
/// becomes a radix heap from 2,048 pending events, as the simulator does from there.
const PREFETCH_FROM: u32 = 32_768;

/// SplitMix64 (Steele, Lea and Flood): the cheapest stream that passes the usual tests.
struct SplitMix(u64);

impl RngCore for SplitMix {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..chunk.len()]);
        }
    }
}

#[derive(Clone, Copy)]
enum Ev {
    /// A message of payment `id` reaches the end of hop `leg`: 0 terminal to acquirer, 1
    /// acquirer to bank, 2 bank to acquirer, 3 acquirer to terminal.
    Hop {
        id: u64,
        leg: u8,
    },
    Timeout {
        id: u64,
        attempt: u8,
    },
}

/// A payment in flight: its attempt, or 0 once it has ended.
type Word = u64;

struct Floor {
    sched: Scheduler<Ev>,
    timeouts: Option<Lane>,
    rng: SplitMix,
    latency: Dist,
    drop: Prob,
    /// Payments `base..` by id; ended ones leave from the front.
    live: VecDeque<Word>,
    base: u64,
    /// The bank's keys, a bit each, by payment id; a key is the payment's for all its
    /// attempts.
    bank: Vec<u64>,
    approved: u64,
    failed: u64,
}

impl Floor {
    fn word(&mut self, id: u64) -> Option<&mut Word> {
        let i = id.checked_sub(self.base)?;
        self.live.get_mut(i as usize).filter(|w| **w != 0)
    }

    fn hop(&mut self, id: u64, leg: u8) {
        if self.drop.sample(self.rng.next_u64()) {
            return;
        }
        let d = self.latency.sample(&mut self.rng);
        self.sched.schedule_in(d, Ev::Hop { id, leg });
    }

    fn attempt(&mut self, id: u64, attempt: u8) {
        self.hop(id, 0);
        self.sched
            .schedule_in_on(self.timeouts, TIMEOUT, Ev::Timeout { id, attempt });
    }

    fn end(&mut self, id: u64) {
        if let Some(w) = self.word(id) {
            *w = 0;
        }
        while self.live.front() == Some(&0) {
            self.live.pop_front();
            self.base += 1;
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Hop { id, leg: 1 } => {
                // The bank debits a key once; a repeat is answered again.
                let i = id as usize;
                if i / 64 >= self.bank.len() {
                    self.bank.resize(i / 64 + 1, 0);
                }
                self.bank[i / 64] |= 1 << (i % 64);
                self.hop(id, 2);
            }
            Ev::Hop { id, leg: 3 } => {
                if self.word(id).is_some() {
                    self.approved += 1;
                    self.end(id);
                }
            }
            Ev::Hop { id, leg } => self.hop(id, leg + 1),
            Ev::Timeout { id, attempt } => {
                let Some(w) = self.word(id) else {
                    return;
                };
                if *w != u64::from(attempt) {
                    return;
                }
                if attempt < ATTEMPTS {
                    *w += 1;
                    self.attempt(id, attempt + 1);
                } else {
                    self.failed += 1;
                    self.end(id);
                }
            }
        }
    }
}

/// What one run of the floor did.
pub struct Outcome {
    pub events: u64,
    #[cfg(test)]
    approved: u64,
    #[cfg(test)]
    failed: u64,
}

/// Runs the reference model on `terminals` terminals until `purchases` purchases are issued
/// and every message is delivered or lost, within `limits` as the simulator is.
pub fn run(terminals: u32, purchases: u64, seed: u64, limits: Limits) -> Result<Outcome, SimError> {
    let terminals = terminals.max(1);
    let mut sched = Scheduler::new(QueueLimits {
        max_time: limits.max_time,
        max_events: limits.max_events,
        ..QueueLimits::default()
    });
    let timeouts = sched.new_lane();
    let wide = terminals >= PREFETCH_FROM;
    if wide {
        sched.set_radix_from(2_048);
    }
    let gap = Dist::Exponential { mean: MEAN_GAP };
    let mut f = Floor {
        sched,
        timeouts,
        rng: SplitMix(seed),
        latency: Dist::LogNormal {
            median: MEDIAN,
            sigma: SIGMA,
        },
        drop: Prob::new(DROP).expect("a probability"),
        live: VecDeque::new(),
        base: 0,
        bank: Vec::new(),
        approved: 0,
        failed: 0,
    };
    let mut terms = vec![0u32; terminals as usize];
    // The simulator's window: a quarter of a terminal's mean gap.
    let mut arrivals =
        SourceQueue::new(terminals, SimDuration::from_nanos(MEAN_GAP.as_nanos() / 4));
    let mut arriving = 0u64;
    for t in 0..u64::from(terminals).min(purchases) {
        arriving += 1;
        let at = SimTime::ZERO.saturating_add(gap.sample(&mut f.rng));
        arrivals.set(t as u32, at);
    }
    let mut issued = 0u64;
    let mut next_arrival = arrivals.peek().map(|(at, _)| at);
    loop {
        match f.sched.next_or(next_arrival)? {
            Next::Idle => break,
            Next::Queued(_, ev) => f.handle(ev),
            Next::Outside(now) => {
                let (_, t) = arrivals.peek().expect("an arrival is due");
                arriving -= 1;
                terms[t as usize] += 1;
                let id = issued;
                issued += 1;
                f.live.push_back(1);
                f.attempt(id, 1);
                if issued + arriving < purchases {
                    arriving += 1;
                    let at = now.saturating_add(gap.sample(&mut f.rng));
                    arrivals.replace_first(at);
                } else {
                    arrivals.take();
                }
                next_arrival = arrivals.peek().map(|(at, t)| {
                    if wide {
                        prefetch(&terms[t as usize]);
                    }
                    at
                });
            }
        }
    }
    std::hint::black_box((&terms, &f.bank));
    Ok(Outcome {
        events: f.sched.processed(),
        #[cfg(test)]
        approved: f.approved,
        #[cfg(test)]
        failed: f.failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The floor runs the same model as the hand-written loop: every purchase ends approved or
    /// failed, a few in a million fail all four attempts, as many events a purchase as the
    /// loop's to within a percent (their streams differ); and a run repeats itself.
    #[test]
    fn the_floor_runs_the_reference_model() {
        let o = run(100, 20_000, 1, Limits::NONE).expect("no limit");
        assert_eq!(o.approved + o.failed, 20_000);
        assert!(o.failed < 5, "{} failed", o.failed);
        let per = o.events as f64 / 20_000.0;
        let looped = crate::baseline::run(100, 20_000, 1, Limits::NONE).expect("no limit");
        let loop_per = looped.events as f64 / 20_000.0;
        assert!(
            (per / loop_per - 1.0).abs() < 0.01,
            "{per} against {loop_per}"
        );
        let again = run(100, 20_000, 1, Limits::NONE).expect("no limit");
        assert_eq!((again.events, again.approved), (o.events, o.approved));
    }

    /// Past the terminal count that prefetches, with its radix heap, the model is the same.
    #[test]
    fn the_floor_is_the_same_model_at_many_terminals() {
        let o = run(PREFETCH_FROM, 50_000, 2, Limits::NONE).expect("no limit");
        assert_eq!(o.approved + o.failed, 50_000);
        let per = o.events as f64 / 50_000.0;
        assert!((6.0..6.6).contains(&per), "{per} events a purchase");
    }

    #[test]
    fn the_floor_stops_at_the_scenarios_limits() {
        let r = run(
            100,
            20_000,
            1,
            Limits {
                max_events: 1_000,
                ..Limits::NONE
            },
        );
        assert!(
            matches!(
                r,
                Err(SimError::Engine(
                    payfault_domain::engine::EngineError::EventLimit { limit: 1_000, .. }
                ))
            ),
            "{:?}",
            r.err()
        );
    }
}
