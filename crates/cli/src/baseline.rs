//! The yardstick of `payfault bench --baseline`: the minimal hand-written event loop that
//! the simulator is measured against, for the reference model (`scenarios/reference.ron`). A binary heap of
//! events, one ChaCha8 stream, transactions and the bank's keys in hash maps, terminals in a
//! vector; no oracle, metrics, trace, crashes or configuration. It runs the same model at the
//! same scales, so that the cost of an event in the simulator can be set beside what a
//! straightforward program pays on the same machine.

// The yardstick is the plain loop a programmer would write first, hash maps included. Its maps are only
// looked up, never iterated, and hashed with fixed keys, so that it draws no entropy.
#![allow(clippy::disallowed_types)]

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::hash::BuildHasherDefault;

use payfault_domain::engine::{EngineError, SimTime};
use payfault_domain::SimError;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Map<K, V> = HashMap<K, V, BuildHasherDefault<std::collections::hash_map::DefaultHasher>>;

const MS: f64 = 1e6;
/// The reference model: hops of lognormal latency (median 20 ms, sigma 0.6) losing 1% of
/// messages; a 250 ms timeout; 4 attempts under one idempotency key; arrivals a terminal
/// exponential with a mean of 1 s.
const MEDIAN: f64 = 20.0 * MS;
const SIGMA: f64 = 0.6;
const DROP: f64 = 0.01;
const TIMEOUT: u64 = 250_000_000;
const ATTEMPTS: u8 = 4;
const MEAN_GAP: f64 = 1e9;

#[derive(Clone, Copy)]
enum Ev {
    Arrive(u32),
    /// A message of transaction `txn` reaches the end of hop `leg`: 0 terminal to acquirer,
    /// 1 acquirer to bank, 2 bank to acquirer, 3 acquirer to terminal.
    Hop {
        txn: u64,
        leg: u8,
    },
    Timeout {
        txn: u64,
        attempt: u8,
    },
}

struct Entry {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
/// Reversed: the earliest comes out of the max-heap first.
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Default, Clone, Copy)]
struct Terminal {
    issued: u32,
    approved: u32,
    failed: u32,
}

struct Txn {
    terminal: u32,
    attempt: u8,
}

struct Loop {
    now: u64,
    seq: u64,
    heap: BinaryHeap<Entry>,
    rng: ChaCha8Rng,
    terms: Vec<Terminal>,
    txns: Map<u64, Txn>,
    /// The bank's idempotency keys: a transaction's attempts share one.
    bank: Map<u64, bool>,
    issued: u64,
    /// Arrivals pending: one a terminal until the last purchases are drawn.
    arriving: u64,
    purchases: u64,
    events: u64,
}

impl Loop {
    fn uniform(&mut self) -> f64 {
        // In (0, 1]: safe to take the logarithm of.
        ((self.rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn schedule(&mut self, delay: u64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Entry {
            at: self.now + delay,
            seq: self.seq,
            ev,
        });
    }

    // The yardstick is the loop one would write by hand, with the platform's maths: what it
    // gives is a timing, not a result that must be the same bits everywhere.
    #[allow(clippy::disallowed_methods)]
    fn gap(&mut self) -> u64 {
        (-MEAN_GAP * self.uniform().ln()) as u64 + 1
    }

    /// Sends the message of hop `leg`: lost, or delivered after a lognormal latency.
    #[allow(clippy::disallowed_methods)]
    fn hop(&mut self, txn: u64, leg: u8) {
        if self.uniform() < DROP {
            return;
        }
        // Box-Muller: one normal from two uniforms.
        let (u1, u2) = (self.uniform(), self.uniform());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let latency = (MEDIAN * (SIGMA * z).exp()) as u64;
        self.schedule(latency, Ev::Hop { txn, leg });
    }

    fn attempt(&mut self, txn: u64, attempt: u8) {
        self.hop(txn, 0);
        self.schedule(TIMEOUT, Ev::Timeout { txn, attempt });
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Arrive(t) => {
                self.arriving -= 1;
                let txn = self.issued;
                self.issued += 1;
                self.terms[t as usize].issued += 1;
                self.txns.insert(
                    txn,
                    Txn {
                        terminal: t,
                        attempt: 1,
                    },
                );
                self.attempt(txn, 1);
                if self.issued + self.arriving < self.purchases {
                    self.arriving += 1;
                    let gap = self.gap();
                    self.schedule(gap, Ev::Arrive(t));
                }
            }
            Ev::Hop { txn, leg: 1 } => {
                // The bank approves a key once; a repeat gets the same answer again.
                self.bank.entry(txn).or_insert(true);
                self.hop(txn, 2);
            }
            Ev::Hop { txn, leg: 3 } => {
                if let Some(x) = self.txns.remove(&txn) {
                    self.terms[x.terminal as usize].approved += 1;
                }
            }
            Ev::Hop { txn, leg } => self.hop(txn, leg + 1),
            Ev::Timeout { txn, attempt } => {
                let Some(x) = self.txns.get_mut(&txn) else {
                    return;
                };
                if x.attempt != attempt {
                    return;
                }
                if attempt < ATTEMPTS {
                    x.attempt += 1;
                    self.attempt(txn, attempt + 1);
                } else {
                    let x = self.txns.remove(&txn).expect("present");
                    self.terms[x.terminal as usize].failed += 1;
                }
            }
        }
    }
}

/// What one run of the loop did.
pub struct Outcome {
    pub events: u64,
    /// Purchases approved and failed, which the tests check.
    #[cfg(test)]
    approved: u64,
    #[cfg(test)]
    failed: u64,
}

/// Where a run of the loop must stop, as a scenario's `limits` stop the simulator.
#[derive(Clone, Copy)]
pub struct Limits {
    pub max_time: SimTime,
    pub max_events: u64,
}

impl Limits {
    /// No limit: for the tests of the yardsticks.
    #[cfg(test)]
    pub const NONE: Limits = Limits {
        max_time: SimTime::MAX,
        max_events: u64::MAX,
    };

    pub fn of(sc: &payfault_domain::Scenario) -> Limits {
        Limits {
            max_time: SimTime::ZERO.saturating_add(sc.limits.max_time.get()),
            max_events: sc.limits.events(sc.workload.purchases),
        }
    }
}

/// The simulated time in which `terminals` terminals issue `purchases` purchases on average:
/// each terminal issues one a [`MEAN_GAP`].
pub fn issuing_time_ns(terminals: u32, purchases: u64) -> f64 {
    purchases as f64 / f64::from(terminals.max(1)) * MEAN_GAP
}

/// Runs the reference model on `terminals` terminals until `purchases` purchases are issued
/// and every message is delivered or lost; stops, as the simulator does, before an event past
/// `limits.max_time` or beyond `limits.max_events`, since its tables (the bank's keys are
/// never dropped) grow with every purchase.
pub fn run(terminals: u32, purchases: u64, seed: u64, limits: Limits) -> Result<Outcome, SimError> {
    let terminals = terminals.max(1);
    let mut l = Loop {
        now: 0,
        seq: 0,
        heap: BinaryHeap::new(),
        rng: ChaCha8Rng::seed_from_u64(seed),
        terms: vec![Terminal::default(); terminals as usize],
        txns: Map::default(),
        bank: Map::default(),
        issued: 0,
        arriving: 0,
        purchases,
        events: 0,
    };
    for t in 0..u64::from(terminals).min(purchases) {
        l.arriving += 1;
        let gap = l.gap();
        l.schedule(gap, Ev::Arrive(t as u32));
    }
    while let Some(e) = l.heap.pop() {
        if l.events >= limits.max_events || e.at > limits.max_time.as_nanos() {
            return Err(limit_error(&l, e.at, limits));
        }
        l.now = e.at;
        l.events += 1;
        l.handle(e.ev);
    }
    // What a real program would report: kept, so that its updates cannot be optimised away.
    std::hint::black_box(&l.terms);
    #[cfg(test)]
    let sum = |f: fn(&Terminal) -> u32| l.terms.iter().map(|t| u64::from(f(t))).sum::<u64>();
    Ok(Outcome {
        events: l.events,
        #[cfg(test)]
        approved: sum(|t| t.approved),
        #[cfg(test)]
        failed: sum(|t| t.failed),
    })
}

/// The simulator's error for the limit that the event due `at` breaks. Out of line, so that
/// the loop stays as small as before.
#[cold]
#[inline(never)]
fn limit_error(l: &Loop, at: u64, limits: Limits) -> SimError {
    // The event taken out of the heap is pending still.
    let pending = l.heap.len() + 1;
    SimError::Engine(if l.events >= limits.max_events {
        EngineError::EventLimit {
            limit: limits.max_events,
            pending,
        }
    } else {
        debug_assert!(at > limits.max_time.as_nanos());
        EngineError::TimeLimit {
            limit: limits.max_time,
            pending,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every purchase ends approved or failed, about 4% of round trips are lost, so a few in
    /// a million fail all four attempts; and a run repeats itself.
    #[test]
    fn runs_the_reference_model() {
        let o = run(100, 20_000, 1, Limits::NONE).expect("no limit");
        assert_eq!(o.approved + o.failed, 20_000);
        assert!(o.failed < 5, "{} failed", o.failed);
        // An arrival, four hops and a timeout a purchase, and more for the retries.
        let per = o.events as f64 / 20_000.0;
        assert!((6.0..6.6).contains(&per), "{per} events a purchase");
        let again = run(100, 20_000, 1, Limits::NONE).expect("no limit");
        assert_eq!((again.events, again.approved), (o.events, o.approved));
    }

    /// Regression: the loop ignored the scenario's limits, so a purchase count too large for
    /// them grew its tables until memory ran out.
    #[test]
    fn the_loop_stops_at_the_scenarios_limits_as_the_simulator_does() {
        let whole = run(100, 20_000, 1, Limits::NONE).expect("no limit");
        let events = run(
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
                events,
                Err(SimError::Engine(EngineError::EventLimit {
                    limit: 1_000,
                    ..
                }))
            ),
            "{:?}",
            events.err()
        );
        let time = run(
            100,
            20_000,
            1,
            Limits {
                max_time: SimTime::from_nanos(10_000_000_000),
                ..Limits::NONE
            },
        );
        let Err(SimError::Engine(EngineError::TimeLimit { limit, pending })) = time else {
            panic!("{:?}", time.err())
        };
        assert_eq!(limit, SimTime::from_nanos(10_000_000_000));
        assert!(pending > 0);
        // A limit the run stays within changes nothing.
        let within = run(
            100,
            20_000,
            1,
            Limits {
                max_events: whole.events,
                ..Limits::NONE
            },
        )
        .expect("within the limit");
        assert_eq!(within.events, whole.events);
    }
}
