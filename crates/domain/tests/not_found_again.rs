//! A policy of one's own that inquires again after "not found", meeting a link's copy of a
//! "not found".
use std::cell::RefCell;

use payfault_domain::engine::{Fate, SimDuration};
use payfault_domain::{from_ron, run_with, Action, Failure, FailureCtx, KeyMode, RetryPolicy};

struct AskAgain {
    seen: RefCell<Vec<(Failure, u32)>>,
}

impl RetryPolicy for AskAgain {
    fn name(&self) -> &str {
        "ask-again"
    }
    fn timeout(&self) -> SimDuration {
        SimDuration::from_secs(1)
    }
    fn key_mode(&self) -> KeyMode {
        KeyMode::Fresh
    }
    fn on_failure(&self, ctx: &FailureCtx, _fate: &mut Fate) -> Action {
        self.seen.borrow_mut().push((ctx.failure, ctx.inquiries));
        let pause = SimDuration::from_millis(100);
        match ctx.failure {
            Failure::Timeout | Failure::InquiryTimeout => Action::Inquire { after: pause },
            Failure::NotFound if ctx.inquiries < 3 => Action::Inquire { after: pause },
            _ => Action::GiveUp,
        }
    }
}

fn scenario(dup: bool) -> String {
    let dups = if dup {
        "(link: TerminalAcquirer, to_bank: false, intent: 0, txn: 0, attempt: 1, kind: InquiryResp)"
    } else {
        ""
    };
    format!(
        r#"Scenario(
    name: "re-inquiry-after-not-found",
    terminals: 1,
    workload: (inter_arrival: Constant("10s"), amount: (min: 500, max: 500), purchases: 1),
    links: (
        terminal_acquirer: (latency: Uniform(lo: "10ms", hi: "400ms")),
        acquirer_bank: (latency: Constant("10ms")),
    ),
    acquirer: (processing: Constant("0ms"), servers: 1, queue: 10),
    bank: (processing: Constant("0ms"), servers: 1, queue: 10),
    policy: (kind: InquireThenRetry, timeout: "1s", max_attempts: 3),
    faults: (schedule: (drops: [
        (link: TerminalAcquirer, to_bank: true, intent: 0, txn: 0, attempt: 1, kind: Purchase),
    ], duplicates: [{dups}])),
)"#
    )
}

/// Regression: a policy that inquires again after "not found" heard a link's copy of a
/// "not found" as news: asked again what to do about an answer it had acted on (seeds 1 and
/// 3), or took the copy for the answer to its next inquiry and gave up before that inquiry's
/// answer came (seed 2: told "failed" 643 ms early). The copy changes what the policy is asked
/// about nothing, and brings no answer later.
#[test]
fn a_copy_of_not_found_is_no_news_to_a_policy_that_asks_again() {
    for seed in 1..=20 {
        let run = |dup: bool| {
            let sc = from_ron(&scenario(dup)).unwrap();
            let policy = AskAgain {
                seen: RefCell::new(Vec::new()),
            };
            let s = run_with(&sc, seed, &policy, &mut payfault_domain::trace::NoTrace).unwrap();
            let seen = policy.seen.into_inner();
            (s.metrics, seen)
        };
        let (plain, asked_plain) = run(false);
        let (copied, asked_copied) = run(true);
        assert_eq!(asked_copied, asked_plain, "seed {seed}");
        assert_eq!(copied.duplicated, 1, "seed {seed}");
        assert_eq!(
            (copied.inquiries, copied.messages, copied.failed),
            (plain.inquiries, plain.messages, plain.failed),
            "seed {seed}"
        );
        // The copy may overtake its original, and bring the answer sooner; never later.
        assert!(
            copied.completion_latency.max_ms <= plain.completion_latency.max_ms,
            "seed {seed}: {} ms with the copy, {} without",
            copied.completion_latency.max_ms,
            plain.completion_latency.max_ms
        );
    }
}
