//! Retry policies: what a terminal does when an attempt's outcome is unknown.
//!
//! A policy is consulted at decision points only; the simulator carries out what it decides.
//! The built-ins ([`Builtin`]) are configured from a scenario; implement [`RetryPolicy`] to
//! check a policy of your own.

use payfault_engine::{Fate, SimDuration};

use crate::config::{Backoff, PolicyConfig, PolicyKind};

/// Whether a retry reuses the transaction's idempotency key and STAN (a repeat, 0201) or
/// starts a fresh transaction with new ones.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KeyMode {
    Same,
    Fresh,
}

/// Why the policy is being asked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No reply within the attempt's timeout.
    Timeout,
    /// A reply with an error code. For most (96 system malfunction, issuer inoperative...) the
    /// outcome is unknown and the debit may have been committed; 12 says the key was reversed
    /// or voided before the request was posted (by an inquiry that found nothing, under the
    /// bank's default `inquiry: VoidsKey`), so a retry under the same key is refused the same
    /// way; 9 says the same key is still being processed (`in_progress: Conflict`).
    ErrorReply(u8),
    /// A status inquiry answered that the bank has no (unreversed) debit for the attempt. A
    /// bank whose `inquiry` is `VoidsKey` (the default) has voided the attempt's key, so a
    /// late copy will not be posted; one that `ReportsOnly` may still post it.
    NotFound,
    /// A status inquiry got no verdict in time: no answer, or only 09 (under `in_progress:
    /// Conflict`, the key's purchase is still being processed).
    InquiryTimeout,
}

/// What the terminal knows when it asks.
#[derive(Copy, Clone, Debug)]
pub struct FailureCtx {
    pub failure: Failure,
    /// Purchase attempts sent so far for this transaction (at least one), its hedge included.
    pub attempts: u32,
    /// Of those attempts, the hedges (0 or 1): sent while the first attempt waited, they
    /// answer no failure, so a pause that grows with the failures leaves them out.
    pub hedges: u32,
    /// Status inquiries sent so far for this transaction.
    pub inquiries: u32,
    /// Time since the transaction began.
    pub elapsed: SimDuration,
    /// The pause chosen at the previous failure (zero before the first), so that
    /// decorrelated jitter can build on it.
    pub previous_backoff: SimDuration,
}

/// What the terminal does next.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send another purchase attempt after a pause, with the policy's [`KeyMode`].
    Retry { after: SimDuration },
    /// Queue a reversal of every attempt that may have been posted, then retry with a fresh
    /// transaction once the reversals are acknowledged.
    ReverseThenRetry { after: SimDuration },
    /// Ask the bank for the status of the last attempt.
    Inquire { after: SimDuration },
    /// Tell the customer the payment failed.
    GiveUp,
    /// Queue reversals of every attempt that may have been posted, and tell the customer the
    /// payment failed.
    ReverseAndGiveUp,
}

/// A retry policy. Implementations must be deterministic: randomness comes only from the
/// `fate` handed in, which is derived from the transaction's identity; and a policy keeps no
/// state between calls, since a run may be repeated with the same policy (to collect the
/// chains behind violations: [`crate::run_with`]).
///
/// The scenario's `policy:` block still bounds every policy in two ways: a retry that waited
/// behind reversals ([`Action::ReverseThenRetry`]) until past its `deadline` is not sent (the
/// transaction ends failed, without asking [`RetryPolicy::on_failure`] again), and a hedge is
/// sent only before the `deadline` and while the attempts are below its `max_attempts`. A policy
/// that keeps a transaction going past [`crate::sim::PER_TXN`] attempts, or past as many
/// inquiries the bank answered, stops the run with [`crate::SimError::Endless`].
///
/// The other settings of the `policy:` block configure [`crate::Builtin`] alone, and a policy
/// of one's own that wants them reads them from the scenario itself:
///
/// | `policy:` setting | under a policy of one's own |
/// | --- | --- |
/// | `deadline` | bounds a retry that waited behind reversals, and the hedge |
/// | `max_attempts` | bounds the hedge only; retries are the policy's ([`Action`]) |
/// | `kind`, `timeout`, `backoff`, `hedge_after`, `budget` | not read: [`RetryPolicy::timeout`], [`RetryPolicy::on_failure`]'s pauses, [`RetryPolicy::hedge_after`], [`RetryPolicy::budget`] |
/// | `reversal`, `reverse_late_approvals` | not read: [`RetryPolicy::reversal_timeout`], [`RetryPolicy::reversal_max_sends`], [`RetryPolicy::reverse_late_approvals`] |
///
/// A file refuses a zero `timeout`; what [`RetryPolicy::timeout`] answers is not checked.
pub trait RetryPolicy {
    fn name(&self) -> &str;
    /// How long to wait for a reply to a purchase attempt or an inquiry.
    fn timeout(&self) -> SimDuration;
    fn key_mode(&self) -> KeyMode;
    /// Send one backup copy of a transaction's first attempt when no reply came after this
    /// long. The copy is an attempt (it counts towards the attempts) and keeps the first
    /// attempt's timeout, so a value not below [`RetryPolicy::timeout`] sends none; nor does a
    /// scenario whose `policy.max_attempts` is 1 (see the trait's own documentation).
    fn hedge_after(&self) -> Option<SimDuration> {
        None
    }
    /// Reverse an approval that arrives after the terminal stopped waiting for it.
    fn reverse_late_approvals(&self) -> bool {
        false
    }
    /// Wait this long for a reversal's acknowledgement before repeating it.
    fn reversal_timeout(&self) -> SimDuration {
        SimDuration::from_secs(30)
    }
    /// Sends of one reversal before it is abandoned; `None`: until acknowledged. A reversal
    /// the terminal queues is sent at least once, so `Some(0)` counts as `Some(1)`.
    fn reversal_max_sends(&self) -> Option<u32> {
        None
    }
    /// Retry budget: (bucket size, tokens earned per first attempt, in thousandths).
    fn budget(&self) -> Option<(u32, u32)> {
        None
    }
    /// Decides what to do after a failure whose outcome is unknown.
    fn on_failure(&self, ctx: &FailureCtx, fate: &mut Fate) -> Action;
    /// How the policy is named in summaries and reports.
    fn describe(&self) -> String {
        self.name().to_string()
    }
}

/// The built-in policies, configured from a scenario.
#[derive(Clone, Debug)]
pub struct Builtin {
    cfg: PolicyConfig,
}

impl Builtin {
    pub fn new(cfg: PolicyConfig) -> Self {
        Builtin { cfg }
    }
    pub fn config(&self) -> &PolicyConfig {
        &self.cfg
    }

    fn may_retry(&self, ctx: &FailureCtx, after: SimDuration) -> bool {
        ctx.attempts < self.cfg.max_attempts.0
            && ctx.elapsed.saturating_add(after) < self.cfg.attempt_deadline()
    }
}

/// The pause before retry number `n` (1 for the first retry).
pub fn backoff(b: &Backoff, n: u32, previous: SimDuration, fate: &mut Fate) -> SimDuration {
    let exp = |base: SimDuration, cap: SimDuration| -> u64 {
        let shift = n.saturating_sub(1).min(62);
        base.as_nanos()
            .saturating_mul(1u64 << shift)
            .min(cap.as_nanos())
    };
    let uniform = |fate: &mut Fate, lo: u64, hi: u64| -> u64 {
        if hi <= lo {
            return lo;
        }
        // The span in u128: `hi - lo + 1` is 2^64 for the whole range.
        lo + ((u128::from(fate.next_u64()) * (u128::from(hi - lo) + 1)) >> 64) as u64
    };
    let ns = match b {
        Backoff::Fixed(d) => d.0.as_nanos(),
        Backoff::Exponential { base, cap } => exp(base.0, cap.0),
        Backoff::FullJitter { base, cap } => uniform(fate, 0, exp(base.0, cap.0)),
        Backoff::EqualJitter { base, cap } => {
            let v = exp(base.0, cap.0);
            v / 2 + uniform(fate, 0, v - v / 2)
        }
        Backoff::Decorrelated { base, cap } => {
            let prev = previous.as_nanos().max(base.0.as_nanos());
            uniform(fate, base.0.as_nanos(), prev.saturating_mul(3)).min(cap.0.as_nanos())
        }
    };
    SimDuration::from_nanos(ns)
}

impl RetryPolicy for Builtin {
    fn name(&self) -> &str {
        self.cfg.kind.cli_name()
    }
    fn timeout(&self) -> SimDuration {
        self.cfg.timeout.get()
    }
    fn key_mode(&self) -> KeyMode {
        match self.cfg.kind {
            PolicyKind::Idempotent => KeyMode::Same,
            _ => KeyMode::Fresh,
        }
    }
    fn hedge_after(&self) -> Option<SimDuration> {
        self.cfg.hedge_after.map(|p| p.get())
    }
    fn reverse_late_approvals(&self) -> bool {
        self.cfg.reverse_late_approvals
    }
    fn reversal_timeout(&self) -> SimDuration {
        self.cfg.reversal.timeout.get()
    }
    fn reversal_max_sends(&self) -> Option<u32> {
        self.cfg.reversal.max_sends.map(|n| n.0)
    }
    fn budget(&self) -> Option<(u32, u32)> {
        self.cfg
            .budget
            .as_ref()
            .map(|b| (b.tokens.0, (b.ratio.value * 1000.0).round() as u32))
    }

    fn on_failure(&self, ctx: &FailureCtx, fate: &mut Fate) -> Action {
        // Every failure so far counts towards the pause, inquiries included, so that a policy
        // that keeps asking backs off as one that keeps retrying does; a hedge is no failure.
        let after = backoff(
            &self.cfg.backoff,
            ctx.attempts.saturating_sub(ctx.hedges) + ctx.inquiries,
            ctx.previous_backoff,
            fate,
        );
        let retry = self.may_retry(ctx, after);
        match self.cfg.kind {
            PolicyKind::None => Action::GiveUp,
            PolicyKind::Naive | PolicyKind::Idempotent if retry => Action::Retry { after },
            PolicyKind::Naive | PolicyKind::Idempotent => Action::GiveUp,
            PolicyKind::ReversalThenRetry if retry => Action::ReverseThenRetry { after },
            PolicyKind::ReversalThenRetry => Action::ReverseAndGiveUp,
            PolicyKind::InquireThenRetry => match ctx.failure {
                // A bank that voids the attempt on "not found" (the default) makes a fresh
                // one safe; one that only reports leaves the late original free to post.
                Failure::NotFound if retry => Action::Retry { after },
                Failure::NotFound => Action::GiveUp,
                // Keep asking until the bank answers: giving up without an answer could
                // leave the customer charged but told failed.
                Failure::InquiryTimeout | Failure::Timeout | Failure::ErrorReply(_) => {
                    Action::Inquire { after }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Duration;
    use payfault_engine::Seed;

    fn d(ms: u64) -> Duration {
        Duration(SimDuration::from_millis(ms))
    }

    #[test]
    fn exponential_backoff_doubles_up_to_its_cap() {
        let b = Backoff::Exponential {
            base: d(100),
            cap: d(1000),
        };
        let mut f = Fate::new(Seed(0), &[]);
        let got: Vec<u64> = (1..=6)
            .map(|n| backoff(&b, n, SimDuration::ZERO, &mut f).as_nanos() / 1_000_000)
            .collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let mut f = Fate::new(Seed(1), &[]);
        for n in 1..8 {
            let v = (100u64 << (n - 1)).min(1000) * 1_000_000;
            let full = backoff(
                &Backoff::FullJitter {
                    base: d(100),
                    cap: d(1000),
                },
                n,
                SimDuration::ZERO,
                &mut f,
            );
            assert!(full.as_nanos() <= v);
            let eq = backoff(
                &Backoff::EqualJitter {
                    base: d(100),
                    cap: d(1000),
                },
                n,
                SimDuration::ZERO,
                &mut f,
            );
            assert!(eq.as_nanos() >= v / 2 && eq.as_nanos() <= v);
            let prev = SimDuration::from_millis(300);
            let dec = backoff(
                &Backoff::Decorrelated {
                    base: d(100),
                    cap: d(1000),
                },
                n,
                prev,
                &mut f,
            );
            assert!(dec >= SimDuration::from_millis(100) && dec <= SimDuration::from_millis(900));
        }
    }

    /// Regression: jitter over the whole range of the clock (a base and cap of
    /// 18446744073709551615ns) wrapped its span to zero and gave no pause at all.
    #[test]
    fn jitter_over_the_whole_clock_is_not_zero() {
        let max = Duration(SimDuration::MAX);
        let mut f = Fate::new(Seed(1), &[]);
        for b in [
            Backoff::FullJitter {
                base: max,
                cap: max,
            },
            Backoff::EqualJitter {
                base: max,
                cap: max,
            },
        ] {
            let draws: Vec<u64> = (0..8)
                .map(|_| backoff(&b, 1, SimDuration::ZERO, &mut f).as_nanos())
                .collect();
            assert!(draws.iter().all(|&x| x > 1 << 40), "{b:?}: {draws:?}");
        }
    }
}
