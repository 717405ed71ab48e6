//! A retry policy of one's own, checked from `cargo test` over many seeds: how a payments team
//! puts its own policy into CI. The scenario is a shipped one; only the policy is ours.

use payfault_domain::engine::{Fate, SimDuration};
use payfault_domain::trace::NoTrace;
use payfault_domain::{
    check_with, from_ron, run_with, Action, Failure, FailureCtx, KeyMode, Property, RetryPolicy,
};

/// Our terminal's policy: one idempotency key for the whole payment, at most four attempts,
/// a second between them, then a status inquiry before telling the customer anything.
struct OurPolicy {
    fresh_keys: bool,
}

impl RetryPolicy for OurPolicy {
    fn name(&self) -> &str {
        if self.fresh_keys {
            "ours-with-fresh-keys"
        } else {
            "ours"
        }
    }
    fn timeout(&self) -> SimDuration {
        SimDuration::from_secs(60)
    }
    fn key_mode(&self) -> KeyMode {
        if self.fresh_keys {
            KeyMode::Fresh
        } else {
            KeyMode::Same
        }
    }
    fn on_failure(&self, ctx: &FailureCtx, _fate: &mut Fate) -> Action {
        let pause = SimDuration::from_secs(1);
        match ctx.failure {
            Failure::Timeout | Failure::ErrorReply(_) if ctx.attempts < 4 => {
                Action::Retry { after: pause }
            }
            Failure::Timeout | Failure::ErrorReply(_) | Failure::InquiryTimeout => {
                Action::Inquire { after: pause }
            }
            Failure::NotFound => Action::GiveUp,
        }
    }
}

fn scenario(bank_keeps_keys: bool) -> payfault_domain::Scenario {
    let text = include_str!("../../../scenarios/cause-network-delay-naive.ron");
    let mut sc = from_ron(text).expect("the shipped scenario parses");
    if bank_keeps_keys {
        sc.bank.idempotency = Some(payfault_domain::config::IdempotencyConfig {
            retention: payfault_domain::config::Positive(payfault_domain::config::Duration(
                SimDuration::from_secs(86_400),
            )),
            durable: true,
            replay: payfault_domain::config::Replay::FirstReply,
            in_progress: payfault_domain::config::InProgress::Queue,
        });
    }
    sc
}

#[test]
fn our_policy_never_charges_twice_over_two_hundred_seeds() {
    let sc = scenario(true);
    let policy = OurPolicy { fresh_keys: false };
    for seed in 1..=200 {
        let s = run_with(&sc, seed, &policy, &mut NoTrace).unwrap();
        assert_eq!(
            s.violation_count, 0,
            "seed {seed}:\n{s}\nreplay it with the same seed"
        );
        assert_eq!(s.policy, "ours");
    }
}

#[test]
fn the_same_policy_with_a_fresh_key_per_attempt_is_caught() {
    let sc = scenario(true);
    let policy = OurPolicy { fresh_keys: true };
    let runs: Vec<_> = (1..=50)
        .map(|seed| run_with(&sc, seed, &policy, &mut NoTrace).unwrap())
        .filter(|s| s.violated().contains(&Property::NoDuplicateDebit))
        .collect();
    let caught = runs.len();
    assert!(caught > 25, "duplicates on only {caught} of 50 seeds");
    // A summary prints as `payfault run` prints it, the violation and its chain included.
    let text = runs[0].to_string();
    assert!(
        text.starts_with("scenario cause-network-delay-naive  seed "),
        "{text}"
    );
    assert!(
        text.contains("  no-duplicate-debit     VIOLATED\n"),
        "{text}"
    );
    assert!(text.contains("\nviolations ("), "{text}");
}

/// The verdict `payfault check` gives, for a policy of our own: the scenario's expectation
/// (here, that every property holds) judged over many seeds, with the first failing seed.
#[test]
fn check_with_gives_the_verdict_of_payfault_check() {
    use payfault_domain::check::Problem;
    use payfault_domain::config::Expect;
    let mut sc = scenario(true);
    sc.expect = Expect::Hold;
    let v = check_with(&sc, 1..=200, &OurPolicy { fresh_keys: false }).unwrap();
    assert!(v.met(), "{v}");
    assert_eq!(v.tally.seeds, 200);
    assert!(v.tally.intents >= 200 * 100, "{:?}", v.tally);
    assert!(
        v.to_string().starts_with("200 seeds: expectation met"),
        "{v}"
    );

    let v = check_with(&sc, 1..=50, &OurPolicy { fresh_keys: true }).unwrap();
    assert!(!v.met());
    let [Problem::Violated {
        property: Property::NoDuplicateDebit,
        violated,
        seeds: 50,
        first_seed: Some(first_seed),
    }, ..] = v.problems[..]
    else {
        panic!("{v}");
    };
    assert!(violated > 25, "{v}");
    assert!(v.to_string().starts_with(&format!(
        "no-duplicate-debit violated on {violated} of 50 seeds; first on seed {first_seed}"
    )));
    // The first seed named is the first that shows it.
    let charged_twice = |seed| {
        run_with(&sc, seed, &OurPolicy { fresh_keys: true }, &mut NoTrace)
            .unwrap()
            .violated()
            .contains(&Property::NoDuplicateDebit)
    };
    assert!(charged_twice(first_seed));
    assert!(!(1..first_seed).any(charged_twice));

    // No seed to check (a range already used up) is a mistake of the caller's, not a verdict.
    let mut used_up = 5..=5;
    used_up.next();
    assert!(matches!(
        check_with(&sc, used_up, &OurPolicy { fresh_keys: false }),
        Err(payfault_domain::SimError::NoSeeds { start: 5, end: 5 })
    ));
    let (start, end) = (2, 1);
    assert!(matches!(
        check_with(&sc, start..=end, &OurPolicy { fresh_keys: false }),
        Err(payfault_domain::SimError::NoSeeds { start: 2, end: 1 })
    ));

    // Expecting the break it shows, the verdict is met; expecting one it never shows, not.
    sc.expect = Expect::Violated(vec![Property::NoDuplicateDebit, Property::Agreement]);
    let v = check_with(&sc, 1..=50, &OurPolicy { fresh_keys: true }).unwrap();
    let held: Vec<_> = v.problems.iter().map(ToString::to_string).collect();
    let agreement_breaks = v.tally.violated[Property::Agreement as usize] > 0;
    assert_eq!(v.met(), agreement_breaks, "{held:?}");
    if !agreement_breaks {
        assert_eq!(
            held,
            ["expected agreement to be violated on some seed, but it held on all 50"]
        );
    }
}

/// `check_with` runs seeds in parallel: its verdict is the one seeds run one after another
/// give, whatever the threads, a run that stops at a limit included (the seeds after it are
/// not counted, though other threads may have run them).
#[test]
fn check_with_gives_one_verdict_whatever_the_threads() {
    use payfault_domain::config::Expect;
    let policy = OurPolicy { fresh_keys: true };
    let mut sc = scenario(true);
    sc.expect = Expect::Hold;
    let events: Vec<u64> = (1..=40)
        .map(|seed| {
            run_with(&sc, seed, &policy, &mut NoTrace)
                .unwrap()
                .metrics
                .events
        })
        .collect();
    // An event limit that the first 15 seeds stay within and some later one does not.
    sc.limits.max_events = Some(*events[..15].iter().max().unwrap());
    let one_by_one = || {
        let mut t = payfault_domain::check::Tally::new(40);
        for seed in 1..=40 {
            match run_with(&sc, seed, &policy, &mut NoTrace) {
                Ok(s) => {
                    t.intents += s.metrics.intents;
                    for p in s.violated() {
                        t.violated[p as usize] += 1;
                        t.first[p as usize].get_or_insert(seed);
                    }
                }
                Err(e) => {
                    t.stopped = Some((seed, e.to_string()));
                    break;
                }
            }
        }
        t
    };
    let want = one_by_one();
    let (stop, _) = want.stopped.clone().expect("a seed past the limit");
    assert!(stop > 15 && want.violated[0] > 0, "{want:?}");
    for threads in [1, 2, 3, 8] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let v = pool.install(|| check_with(&sc, 1..=40, &policy)).unwrap();
        assert_eq!(v.tally, want, "{threads} threads");
        assert!(!v.met());
        assert!(
            v.to_string()
                .contains(&format!("the run of seed {stop} stopped")),
            "{v}"
        );
    }
    // Regression: after a stop every seed left was still walked, if not run: a check of all
    // 2^64 seeds whose first stops never ended. It ends at the stop.
    sc.limits.max_events = Some(10);
    let v = check_with(&sc, 1..=u64::MAX, &policy).unwrap();
    assert_eq!(v.tally.stopped.as_ref().map(|s| s.0), Some(1), "{v}");
    assert_eq!(v.tally.seeds, u64::MAX);
}

/// A failure of our own policy shrinks under our policy: the smallest scenario in which it
/// still charges twice, which fails as written when run with it again. Regression (shrinking
/// ran the scenario's built-in policy whatever the caller's): there was no way to shrink a
/// failure of one's own policy.
#[test]
fn a_failure_of_our_policy_shrinks_under_our_policy() {
    use payfault_domain::shrink::{shrink, shrink_with, Limit, ShrinkError};
    // The scenario's own policy keeps one key: with the bank's key table it never charges
    // twice, where ours, with a fresh key per attempt, does.
    let sc = scenario(true).with_policy(payfault_domain::PolicyKind::Idempotent);
    let ours = OurPolicy { fresh_keys: true };
    let dup = Property::NoDuplicateDebit;
    let seed = (1..=50)
        .find(|&seed| {
            run_with(&sc, seed, &ours, &mut NoTrace)
                .unwrap()
                .violated()
                .contains(&dup)
                && payfault_domain::run(&sc, seed)
                    .unwrap()
                    .violated()
                    .is_empty()
        })
        .expect("a seed on which only our policy charges twice");
    let shrunk = shrink_with(&sc, seed, dup, &ours, Limit::default()).expect("it shrinks");
    assert!(shrunk.after.intents < shrunk.before.intents, "{shrunk:?}");
    let again = run_with(&shrunk.scenario, seed, &ours, &mut NoTrace).unwrap();
    assert!(again.violated().contains(&dup));
    // The file cannot name our policy; its description says so, as `payfault run` of it
    // would hold.
    let d = &shrunk.scenario.description;
    assert!(
        d.contains("under the policy \"ours-with-fresh-keys\", which this file cannot name"),
        "{d}"
    );
    // The built-in policy has nothing to shrink on that seed.
    assert!(matches!(
        shrink(&sc, seed, dup, Limit::default()),
        Err(ShrinkError::DoesNotFail { .. })
    ));
}

/// Regression (a scenario changed in code ran as something else, or panicked): a link taken
/// away that the network needs panicked in the run, and purchases listed out of order in
/// `only` issued fewer of them, where a file saying the same is refused or put in order.
#[test]
fn a_scenario_changed_in_code_is_held_to_the_rules_of_a_file() {
    let policy = OurPolicy { fresh_keys: false };
    let mut broken = scenario(true);
    broken.links.acquirer_bank = None;
    let e = run_with(&broken, 1, &policy, &mut NoTrace).unwrap_err();
    assert!(matches!(e, payfault_domain::SimError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("acquirer_bank"), "{e}");
    assert!(
        e.to_string()
            .starts_with("the scenario is not valid: links: "),
        "{e}"
    );

    // Regression (a value out of range named no field): the message gave the rule alone,
    // the same for every field with that rule, and a line of text the caller never sees.
    let mut zero_servers = scenario(true);
    zero_servers.acquirer.servers.0 = 0;
    let mut nan_drop = scenario(true);
    nan_drop.links.terminal_acquirer.drop.value = f64::NAN;
    let mut zero_attempts = scenario(true);
    zero_attempts.policy.max_attempts.0 = 0;
    // A string that mentions a field is no field.
    let mut late_hedge = scenario(true);
    late_hedge.description = "policy hedge_after: 1s".into();
    late_hedge.policy.hedge_after = Some(payfault_domain::config::Positive(
        payfault_domain::config::Duration(SimDuration::from_secs(10_000)),
    ));
    for (sc, field) in [
        (
            zero_servers,
            "the scenario is not valid: acquirer.servers: expected at least 1",
        ),
        (
            nan_drop,
            "the scenario is not valid: links.terminal_acquirer.drop: expected a probability",
        ),
        (
            zero_attempts,
            "the scenario is not valid: policy.max_attempts: expected at least 1",
        ),
        (
            late_hedge,
            "the scenario is not valid: policy.hedge_after: ",
        ),
    ] {
        let e = run_with(&sc, 1, &policy, &mut NoTrace)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(field), "{e}");
    }

    let mut listed = scenario(true);
    listed.workload.only = Some(vec![30, 2]);
    let s = run_with(&listed, 1, &policy, &mut NoTrace).unwrap();
    assert_eq!(s.metrics.intents, 2);
}

/// The shipped reversal policy with its `reversal_max_sends` replaced.
struct MaxSends(payfault_domain::Builtin, Option<u32>);

impl RetryPolicy for MaxSends {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn timeout(&self) -> SimDuration {
        self.0.timeout()
    }
    fn key_mode(&self) -> KeyMode {
        self.0.key_mode()
    }
    fn hedge_after(&self) -> Option<SimDuration> {
        self.0.hedge_after()
    }
    fn reverse_late_approvals(&self) -> bool {
        self.0.reverse_late_approvals()
    }
    fn reversal_timeout(&self) -> SimDuration {
        self.0.reversal_timeout()
    }
    fn reversal_max_sends(&self) -> Option<u32> {
        self.1
    }
    fn budget(&self) -> Option<(u32, u32)> {
        self.0.budget()
    }
    fn on_failure(&self, ctx: &FailureCtx, fate: &mut Fate) -> Action {
        self.0.on_failure(ctx, fate)
    }
}

/// Regression: with `reversal_max_sends` of `Some(0)`, which the trait says counts as
/// `Some(1)`, every reversal was abandoned unsent as it was queued, and each debit it was to
/// undo stood.
#[test]
fn a_max_of_zero_reversal_sends_counts_as_one() {
    let sc = from_ron(include_str!("../../../scenarios/policy-reversal.ron")).unwrap();
    let run = |max| {
        let p = MaxSends(payfault_domain::Builtin::new(sc.policy.clone()), max);
        run_with(&sc, 1, &p, &mut NoTrace).unwrap()
    };
    let (zero, one) = (run(Some(0)), run(Some(1)));
    assert!(one.metrics.reversals_sent > 0);
    assert_eq!(zero.metrics, one.metrics);
    assert_eq!(zero.violation_count, one.violation_count);
}
