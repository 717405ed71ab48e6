//! Many seeds of a scenario judged against what it expects of them (`expect:`): the verdict
//! `payfault check` gives, for any policy, from a test.

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::config::{Expect, Property, Scenario};
use crate::policy::RetryPolicy;
use crate::sim::{Outcome, Sim, SimError};
use crate::trace::NoTrace;

/// What the seeds of one scenario showed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Seeds asked for.
    pub seeds: u64,
    /// Purchase intents issued, over the seeds run.
    pub intents: u64,
    /// Per property, numbered as [`Property`], the seeds on which it was violated.
    pub violated: [u64; 4],
    /// Per property, the first seed on which it was violated.
    pub first: [Option<u64>; 4],
    /// The first seed whose run stopped (at a limit of the scenario), and why: the seeds after
    /// it are not part of the tally.
    pub stopped: Option<(u64, String)>,
    /// Some seeds were not run at all (the caller stopped early, as `check` does on Ctrl-C):
    /// the judgement then covers the seeds run, and a tally with no purchase yet is no
    /// problem, since the seeds not run might have issued some.
    pub cut_short: bool,
}

impl Tally {
    /// A tally of `seeds` seeds, none run yet.
    pub fn new(seeds: u64) -> Tally {
        Tally {
            seeds,
            ..Tally::default()
        }
    }

    /// The seeds of `self` followed by those of `later`: rayon joins neighbours only, in
    /// order, so that a tally's seeds stay consecutive. The seeds after a stop are not part
    /// of the verdict, whether or not they ran.
    fn then(mut self, later: Tally) -> Tally {
        if self.stopped.is_some() {
            return self;
        }
        self.intents += later.intents;
        for (n, m) in self.violated.iter_mut().zip(later.violated) {
            *n += m;
        }
        for (f, g) in self.first.iter_mut().zip(later.first) {
            if f.is_none() {
                *f = g;
            }
        }
        self.stopped = later.stopped;
        self
    }

    /// Adds the run of `seed`, which comes after every seed added so far.
    pub fn add(&mut self, seed: u64, out: &Outcome) {
        self.intents += out.metrics.intents;
        for p in Property::ALL {
            if out.by_property[p as usize] > 0 {
                self.violated[p as usize] += 1;
                self.first[p as usize].get_or_insert(seed);
            }
        }
    }
}

/// One way the seeds did not do what the scenario expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// No seed issued a purchase: every property held vacuously, and nothing was tested.
    NothingIssued {
        /// The seeds asked for.
        seeds: u64,
    },
    /// A property expected to break held on every seed.
    Held {
        property: Property,
        /// The seeds asked for.
        seeds: u64,
    },
    /// A property expected to hold broke.
    Violated {
        property: Property,
        /// The seeds on which it broke.
        violated: u64,
        /// The seeds asked for.
        seeds: u64,
        /// The first seed on which it broke, when the tally knows it.
        first_seed: Option<u64>,
    },
    /// A run stopped; the seeds after it were not run.
    Stopped {
        seed: u64,
        /// Why, as [`SimError`] says it.
        error: String,
    },
}

fn seeds_word(n: u64) -> String {
    format!("{n} seed{}", if n == 1 { "" } else { "s" })
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NothingIssued { seeds } => write!(
                f,
                "no purchase was issued on any of its {}: the workload stops \
                 (workload.duration) before the first arrives, so nothing was tested",
                seeds_word(*seeds)
            ),
            Problem::Held { property, seeds } => write!(
                f,
                "expected {property} to be violated on some seed, but it held on all {seeds}"
            ),
            Problem::Violated {
                property,
                violated,
                seeds,
                ..
            } => write!(
                f,
                "{property} violated on {violated} of {}",
                seeds_word(*seeds)
            ),
            Problem::Stopped { seed, error } => write!(
                f,
                "the run of seed {seed} stopped: {error}; the seeds after it were not run"
            ),
        }
    }
}

/// What `expect` makes of a tally: no problem when the seeds did what it says.
///
/// A property it names must break on some seed, and every other must hold on every seed. A
/// tally with no purchase issued is a problem of its own (unless a run stopped, which is then
/// the problem, or the seeds were cut short); so is a run that stopped, whose later seeds
/// might have shown what is missing.
pub fn judge(expect: &Expect, t: &Tally) -> Vec<Problem> {
    let expected: &[Property] = match expect {
        Expect::Hold => &[],
        Expect::Violated(ps) => ps,
    };
    let mut problems = Vec::new();
    let nothing_issued = t.intents == 0 && t.stopped.is_none() && !t.cut_short;
    if nothing_issued {
        problems.push(Problem::NothingIssued { seeds: t.seeds });
    }
    for p in Property::ALL {
        let n = t.violated[p as usize];
        if expected.contains(&p) && n == 0 && t.stopped.is_none() && !nothing_issued {
            problems.push(Problem::Held {
                property: p,
                seeds: t.seeds,
            });
        }
        if !expected.contains(&p) && n > 0 {
            problems.push(Problem::Violated {
                property: p,
                violated: n,
                seeds: t.seeds,
                first_seed: t.first[p as usize],
            });
        }
    }
    if let Some((seed, error)) = &t.stopped {
        problems.push(Problem::Stopped {
            seed: *seed,
            error: error.clone(),
        });
    }
    problems
}

/// The verdict on a scenario's seeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// What the seeds showed.
    pub tally: Tally,
    /// Empty when the seeds did what the scenario expects.
    pub problems: Vec<Problem>,
}

impl Verdict {
    /// Whether the seeds did what the scenario expects.
    pub fn met(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.met() {
            return write!(
                f,
                "{}: expectation met, {} purchase intents",
                seeds_word(self.tally.seeds),
                self.tally.intents
            );
        }
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
            if let Problem::Violated {
                first_seed: Some(seed),
                ..
            } = p
            {
                write!(f, "; first on seed {seed}")?;
            }
        }
        Ok(())
    }
}

/// Runs `seeds` of the scenario under `policy`, in parallel on rayon's pool (every core
/// unless the caller installs a pool of its own, or sets `RAYON_NUM_THREADS`), and judges
/// them against the scenario's `expect:`, as `payfault check` does for a built-in policy. The
/// seeds are those given, whatever the scenario's `check_seeds`. The verdict is the same
/// whatever the number of threads, given memory for that many runs at once: a run refused
/// its tables runs again alone ([`crate::run::fitting`]), so the policy must not itself put
/// work on rayon's pool, where a thread waiting to run alone could wait on it.
///
/// The scenario is first held to the rules a file is ([`Scenario::validated`]):
/// [`SimError::Invalid`] otherwise; an empty range of seeds is [`SimError::NoSeeds`]. A run that stops (at a
/// limit of the scenario, or out of memory for its tables) ends the check there, as a
/// [`Problem::Stopped`] of the verdict: the seeds after it are not part of the tally, even
/// those another thread has run.
pub fn check_with<P: RetryPolicy + Sync + ?Sized>(
    sc: &Scenario,
    seeds: RangeInclusive<u64>,
    policy: &P,
) -> Result<Verdict, SimError> {
    let sc = &sc.validated().map_err(|e| SimError::Invalid(e.message))?;
    if seeds.is_empty() {
        return Err(SimError::NoSeeds {
            start: *seeds.start(),
            end: *seeds.end(),
        });
    }
    let count = (seeds.end() - seeds.start()).saturating_add(1);
    // Only the first stop counts, so a seed after one already seen need not run; and the
    // seeds go in blocks, growing, so that a stop ends the check however many seeds are left.
    let stopped_at = AtomicU64::new(u64::MAX);
    let mut tally = Tally::default();
    let (mut next, last) = (*seeds.start(), *seeds.end());
    let mut block = 64u64;
    loop {
        let end = next.saturating_add(block - 1).min(last);
        let more = (next..=end)
            .into_par_iter()
            .fold(Tally::default, |mut part, seed| {
                if part.stopped.is_some() || seed > stopped_at.load(Ordering::Relaxed) {
                    return part;
                }
                match crate::run::fitting(|| Sim::new(sc, seed, policy, &mut NoTrace).run()) {
                    Ok(out) => part.add(seed, &out),
                    Err(e) => {
                        stopped_at.fetch_min(seed, Ordering::Relaxed);
                        part.stopped = Some((seed, e.to_string()));
                    }
                }
                part
            })
            .reduce(Tally::default, Tally::then);
        tally = tally.then(more);
        if tally.stopped.is_some() || end == last {
            break;
        }
        next = end + 1;
        block = block.saturating_mul(2).min(1 << 16);
    }
    let tally = Tally {
        seeds: count,
        ..tally
    };
    Ok(Verdict {
        problems: judge(&sc.expect, &tally),
        tally,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(intents: u64, violated: [u64; 4]) -> Tally {
        Tally {
            intents,
            violated,
            first: violated.map(|n| (n > 0).then_some(7)),
            ..Tally::new(100)
        }
    }

    #[test]
    fn expectations_judged_as_check_judges_them() {
        let agreement = Expect::Violated(vec![Property::Agreement]);
        assert_eq!(judge(&Expect::Hold, &tally(50, [0; 4])), []);
        assert_eq!(judge(&agreement, &tally(50, [0, 3, 0, 0])), []);
        assert_eq!(
            judge(&agreement, &tally(50, [2, 0, 0, 0])),
            [
                Problem::Violated {
                    property: Property::NoDuplicateDebit,
                    violated: 2,
                    seeds: 100,
                    first_seed: Some(7),
                },
                Problem::Held {
                    property: Property::Agreement,
                    seeds: 100,
                },
            ]
        );
        // Nothing issued is the problem, not the break that could not be seen.
        assert_eq!(
            judge(&agreement, &tally(0, [0; 4])),
            [Problem::NothingIssued { seeds: 100 }]
        );
        // A stop is the news: the seeds after it might have shown the break expected.
        let mut stopped = tally(0, [0; 4]);
        stopped.stopped = Some((4, "limit".into()));
        assert_eq!(
            judge(&agreement, &stopped),
            [Problem::Stopped {
                seed: 4,
                error: "limit".into()
            }]
        );
        // Cut short with nothing issued yet says nothing of the workload.
        let mut cut = tally(0, [0; 4]);
        cut.cut_short = true;
        assert_eq!(judge(&Expect::Hold, &cut), []);
    }

    #[test]
    fn a_verdict_reads_as_check_prints_it() {
        let v = Verdict {
            problems: judge(&Expect::Hold, &tally(50, [0, 1, 0, 0])),
            tally: tally(50, [0, 1, 0, 0]),
        };
        assert_eq!(
            v.to_string(),
            "agreement violated on 1 of 100 seeds; first on seed 7"
        );
        let one = Tally::new(1);
        let v = Verdict {
            problems: judge(&Expect::Hold, &one),
            tally: one,
        };
        assert_eq!(
            v.to_string(),
            "no purchase was issued on any of its 1 seed: the workload stops \
             (workload.duration) before the first arrives, so nothing was tested"
        );
    }
}
