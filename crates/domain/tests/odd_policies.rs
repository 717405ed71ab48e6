//! Policies a user may write that the simulator must answer with a typed error or a correct
//! run, never a panic, a wrong report or a run of hours.

use std::cell::Cell;

use payfault_domain::engine::{Fate, SimDuration};
use payfault_domain::sim::PER_TXN;
use payfault_domain::trace::{NoTrace, TraceEvent};
use payfault_domain::{
    from_ron, run_with, Action, Failure, FailureCtx, KeyMode, RetryPolicy, Scenario, SimError,
};

fn shipped(name: &str) -> Scenario {
    let path = format!("{}/../../scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"));
    from_ron(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Answers every failure with `action`, after `timeout`.
struct Always {
    timeout: SimDuration,
    action: Action,
}

impl RetryPolicy for Always {
    fn name(&self) -> &str {
        "always"
    }
    fn timeout(&self) -> SimDuration {
        self.timeout
    }
    fn key_mode(&self) -> KeyMode {
        KeyMode::Fresh
    }
    fn on_failure(&self, ctx: &FailureCtx, _: &mut Fate) -> Action {
        match (self.action, ctx.failure) {
            (Action::Inquire { .. }, _) | (_, Failure::Timeout | Failure::ErrorReply(_)) => {
                self.action
            }
            _ => Action::GiveUp,
        }
    }
}

/// Regression: a circuit breaker counting failures in a `Cell` made `run_with`'s second run
/// (which collects the chains behind violations) differ from the first, and every chain
/// contradicted its violation ("debited twice, told approved", ending "Failed").
#[test]
fn a_policy_keeping_state_between_calls_is_refused_not_misreported() {
    struct Breaker(Cell<u32>);
    impl RetryPolicy for Breaker {
        fn name(&self) -> &str {
            "breaker"
        }
        fn timeout(&self) -> SimDuration {
            SimDuration::from_secs(1)
        }
        fn key_mode(&self) -> KeyMode {
            KeyMode::Fresh
        }
        fn on_failure(&self, ctx: &FailureCtx, _: &mut Fate) -> Action {
            self.0.set(self.0.get() + 1);
            if self.0.get() <= 10 && ctx.attempts < 3 {
                Action::Retry {
                    after: SimDuration::from_millis(200),
                }
            } else {
                Action::GiveUp
            }
        }
    }
    let sc = shipped("policy-naive");
    let e = run_with(&sc, 3, &Breaker(Cell::new(0)), &mut NoTrace).unwrap_err();
    assert_eq!(
        e,
        SimError::NotReplayable {
            policy: "breaker".into()
        }
    );
    assert!(
        e.to_string().contains("keeping no state between calls"),
        "{e}"
    );
}

/// Regression: a policy that inquires for ever ran to the 30-day time limit (71 s for 20
/// purchases, over 15 minutes for 400); one that retries at once after a zero timeout filled
/// 3.3 GB before the pending limit stopped it, and aborted where memory was short.
#[test]
fn a_policy_that_never_gives_up_stops_the_run_soon() {
    // Lossy enough that some purchase never reaches the bank: its inquiries find nothing.
    let mut sc = shipped("policy-naive");
    sc.workload.purchases = Some(20);
    sc.links.terminal_acquirer.drop = payfault_domain::config::Probability::new(0.3).unwrap();
    let inquire = Always {
        timeout: SimDuration::from_secs(1),
        action: Action::Inquire {
            after: SimDuration::ZERO,
        },
    };
    match run_with(&sc, 1, &inquire, &mut NoTrace) {
        Err(SimError::Endless { inquiries, .. }) => assert_eq!(inquiries, PER_TXN),
        other => panic!("{other:?}"),
    }
    let retry = Always {
        timeout: SimDuration::ZERO,
        action: Action::Retry {
            after: SimDuration::ZERO,
        },
    };
    match run_with(&sc, 1, &retry, &mut NoTrace) {
        Err(SimError::Endless { attempts, .. }) => assert_eq!(attempts, PER_TXN),
        other => panic!("{other:?}"),
    }
    // A policy's own durations too long for the clock are said to be the policy's too.
    let forever = Always {
        timeout: SimDuration::from_secs(1),
        action: Action::Retry {
            after: SimDuration::MAX,
        },
    };
    let e = run_with(&sc, 1, &forever, &mut NoTrace).unwrap_err();
    assert!(e.to_string().contains("or one the policy chose"), "{e}");
}

/// Regression: a policy whose timeout or reversal timeout is `SimDuration::MAX`, "wait for
/// ever", failed every run, faults or none, with "the simulated clock ran past its end": the
/// timer of a transaction long answered saturated to the clock's last instant and was taken
/// for a live one there. A 500-year timeout ran. Now a stale timer at the end is void, as one
/// is past the time limit; one that still counts is still an overflow of the clock.
#[test]
fn a_timeout_of_forever_is_no_overflow_once_its_payment_is_answered() {
    struct Forever {
        reversal: bool,
    }
    impl RetryPolicy for Forever {
        fn name(&self) -> &str {
            "forever"
        }
        fn timeout(&self) -> SimDuration {
            if self.reversal {
                SimDuration::from_millis(1)
            } else {
                SimDuration::MAX
            }
        }
        fn key_mode(&self) -> KeyMode {
            KeyMode::Fresh
        }
        fn reversal_timeout(&self) -> SimDuration {
            SimDuration::MAX
        }
        fn on_failure(&self, _: &FailureCtx, _: &mut Fate) -> Action {
            if self.reversal {
                Action::ReverseAndGiveUp
            } else {
                Action::GiveUp
            }
        }
    }
    let mut sc = shipped("policy-naive");
    sc.workload.purchases = Some(50);
    let never = payfault_domain::config::Probability::new(0.0).unwrap();
    sc.links.terminal_acquirer.drop = never;
    sc.links.acquirer_bank.as_mut().expect("a bank link").drop = never;
    let s = run_with(&sc, 1, &Forever { reversal: false }, &mut NoTrace).expect("a run");
    assert_eq!((s.metrics.approved, s.metrics.failed), (50, 0));
    assert!(s.violated().is_empty(), "{:?}", s.violated());
    // Every attempt times out at 1 ms and is reversed; each reversal is sent once and
    // acknowledged, and its timer of forever is stale.
    let s = run_with(&sc, 1, &Forever { reversal: true }, &mut NoTrace).expect("a run");
    assert_eq!((s.metrics.failed, s.metrics.reversals_sent), (50, 50));
    assert_eq!(s.metrics.reversals_lost + s.metrics.reversals_abandoned, 0);
    assert!(s.violated().is_empty(), "{:?}", s.violated());
    // A reply that never comes leaves a timer of forever that counts: the clock's end.
    sc.links.acquirer_bank.as_mut().expect("a bank link").drop =
        payfault_domain::config::Probability::new(1.0).unwrap();
    let e = run_with(&sc, 1, &Forever { reversal: false }, &mut NoTrace).unwrap_err();
    assert!(e.to_string().contains("or one the policy chose"), "{e}");
}

/// Regression: a reversal was numbered by the low 8 bits of the attempt it reverses, so the
/// reversal of attempt 257 had the number of attempt 1's, in the trace and in fault schedules.
#[test]
fn reversals_of_attempts_past_255_keep_their_own_numbers() {
    struct Reverse300;
    impl RetryPolicy for Reverse300 {
        fn name(&self) -> &str {
            "reverse-300"
        }
        fn timeout(&self) -> SimDuration {
            SimDuration::from_nanos(1)
        }
        fn key_mode(&self) -> KeyMode {
            KeyMode::Fresh
        }
        fn on_failure(&self, ctx: &FailureCtx, _: &mut Fate) -> Action {
            if ctx.attempts < 300 {
                Action::ReverseThenRetry {
                    after: SimDuration::ZERO,
                }
            } else {
                Action::ReverseAndGiveUp
            }
        }
    }
    let mut sc = shipped("policy-naive");
    sc.workload.purchases = Some(1);
    sc.policy.deadline = Some(payfault_domain::config::Positive(
        payfault_domain::config::Duration(SimDuration::from_secs(100_000)),
    ));
    let mut reversed = std::collections::BTreeSet::new();
    run_with(&sc, 3, &Reverse300, &mut |e: TraceEvent| {
        if let Some(m) = e
            .msg
            .as_ref()
            .filter(|m| e.what == "send" && m.mti.starts_with("04"))
        {
            reversed.insert(m.attempt >> 16);
        }
    })
    .unwrap();
    assert_eq!(reversed.len(), 300, "{reversed:?}");
    assert_eq!(reversed.first(), Some(&1));
    assert_eq!(reversed.last(), Some(&300));
}

/// Regression: the limit on inquiries stopped the built-in inquiry policy in an outage longer
/// than 65,535 of its inquiry timeouts; only inquiries the bank answers count against it.
#[test]
fn an_outage_outlasting_many_inquiries_is_no_endless_policy() {
    let mut sc = shipped("policy-inquiry");
    use payfault_domain::config::{Backoff, Direction, Duration, LinkName, Partition, Positive};
    sc.workload.purchases = Some(20);
    sc.policy.timeout = Positive(Duration(SimDuration::from_millis(100)));
    sc.policy.backoff = Backoff::Fixed(Duration(SimDuration::ZERO));
    // Cut for about two hours: a terminal waiting on the bank inquires every 100 ms meanwhile,
    // some 73,000 times.
    sc.faults.partitions = vec![Partition {
        link: LinkName::AcquirerBank,
        from: Duration(SimDuration::ZERO),
        until: Duration(SimDuration::from_secs(7_300)),
        direction: Direction::Both,
    }];
    let s = payfault_domain::run(&sc, 1).expect("the outage ends, and so do the inquiries");
    assert!(
        s.metrics.inquiries > u64::from(PER_TXN),
        "{}",
        s.metrics.inquiries
    );
}
