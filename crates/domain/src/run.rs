//! Running a scenario under a seed: the simulation, then, when a property broke, a replay of
//! the same seed that collects the chain of events behind each violation.

use std::fmt;
use std::sync::{PoisonError, RwLock};

use serde::Serialize;

use crate::config::{Property, Scenario};
use crate::metrics::Metrics;
use crate::oracle::Violation;
use crate::policy::{Builtin, RetryPolicy};
use crate::sim::{Sim, SimError};
use crate::trace::{one_line, ChainCollector, NoTrace, Tracer};

/// Chains are collected for at most this many violations, of this many steps each.
const CHAINS: usize = 10;
const CHAIN_STEPS: usize = 200;

/// What one run shows a user.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub policy: String,
    /// Each property and whether it held.
    pub properties: Vec<PropertyResult>,
    pub metrics: Metrics,
    pub violation_count: u64,
    pub violations: Vec<Violation>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PropertyResult {
    pub property: Property,
    pub held: bool,
}

impl Summary {
    pub fn all_held(&self) -> bool {
        self.violation_count == 0
    }
    pub fn violated(&self) -> Vec<Property> {
        self.properties
            .iter()
            .filter(|p| !p.held)
            .map(|p| p.property)
            .collect()
    }
}

/// The summary as `payfault run` prints it: the properties, the metrics, and the first
/// violations with the chains of events behind them.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::fmt::Write as _;
        let s = self;
        let m = &s.metrics;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "scenario {}  seed {}  policy {}",
            one_line(&s.scenario),
            s.seed,
            s.policy
        );
        let _ = writeln!(o);
        let _ = writeln!(o, "properties");
        for p in &s.properties {
            let _ = writeln!(
                o,
                "  {:<22} {}",
                p.property.name(),
                if p.held { "held" } else { "VIOLATED" }
            );
        }
        let _ = writeln!(o);
        let rows: Vec<(&str, String)> = vec![
            ("intents", m.intents.to_string()),
            (
                "approved / declined / failed",
                format!("{} / {} / {}", m.approved, m.declined, m.failed),
            ),
            (
                "duplicate debits (permanent)",
                format!(
                    "{}  ({:.1} per million)",
                    m.duplicate_permanent, m.duplicates_per_million_permanent
                ),
            ),
            (
                "duplicate debits (transient)",
                format!(
                    "{}  ({:.1} per million)",
                    m.duplicate_transient, m.duplicates_per_million_transient
                ),
            ),
            (
                "intents charged more than once",
                format!(
                    "{} standing, {} put right",
                    m.duplicate_intents_permanent, m.duplicate_intents_transient
                ),
            ),
            (
                "charged but told failed",
                m.charged_but_told_failed.to_string(),
            ),
            (
                "told approved, not charged",
                m.told_approved_not_charged.to_string(),
            ),
            (
                "customer-visible failure rate",
                format!("{:.4}%", m.customer_visible_failure_rate * 100.0),
            ),
            (
                "completion latency p50/p95/p99/max",
                format!(
                    "{:.1} / {:.1} / {:.1} / {:.1} ms",
                    m.completion_latency.p50_ms,
                    m.completion_latency.p95_ms,
                    m.completion_latency.p99_ms,
                    m.completion_latency.max_ms
                ),
            ),
            (
                "attempts per intent",
                format!("{:.3}", m.attempts_per_intent),
            ),
            (
                "messages per intent",
                format!("{:.3}", m.messages_per_intent),
            ),
            ("inquiries", m.inquiries.to_string()),
            (
                "reversals sent / posted / lost",
                format!(
                    "{} / {} / {}",
                    m.reversals_sent, m.reversals_posted, m.reversals_lost
                ),
            ),
            ("late approvals", m.late_approvals.to_string()),
            (
                "dropped / duplicated / partitioned",
                format!("{} / {} / {}", m.dropped, m.duplicated, m.partitioned),
            ),
            ("overload drops", m.overload_drops.to_string()),
            (
                "deduplicated (key table, STAN, order)",
                m.dedup_hits.to_string(),
            ),
            ("answered 09, key in progress", m.conflicts.to_string()),
            ("crashes", m.crashes.to_string()),
            (
                "peak queue acquirer/switch/bank/terminal",
                format!(
                    "{} / {} / {} / {}",
                    m.peak_queue.acquirer,
                    m.peak_queue.switch,
                    m.peak_queue.bank,
                    m.peak_queue.terminal
                ),
            ),
            ("events", m.events.to_string()),
            ("simulated time", format!("{:.3} s", m.sim_time_s)),
        ];
        let _ = writeln!(o, "metrics");
        for (k, v) in rows {
            let _ = writeln!(o, "  {k:<40} {v}");
        }
        if s.violation_count > 0 {
            let _ = writeln!(o);
            let _ = writeln!(
                o,
                "violations ({} in all, {} shown)",
                s.violation_count,
                s.violations.len().min(5)
            );
            for v in s.violations.iter().take(5) {
                let _ = writeln!(o, "  {v}");
                for c in v.chain.iter().take(30) {
                    let msg = c.msg.map_or(String::new(), |m| format!(" msg {m}"));
                    let _ = writeln!(
                        o,
                        "      event {:>8} {:>12.6} s{}  {}",
                        c.event,
                        c.t_ns as f64 / 1e9,
                        msg,
                        c.what
                    );
                }
            }
        }
        f.write_str(&o)
    }
}

/// Runs the scenario's own built-in policy: metrics and violations, without replaying the
/// seed for the chains behind them (the fast path for checking many seeds). Unlike [`run`], it
/// takes the scenario as valid: one read from text ([`crate::from_ron`]) is, and one built or
/// changed in code should go through [`Scenario::validated`] first.
pub fn run_quick(sc: &Scenario, seed: u64) -> Result<crate::sim::Outcome, SimError> {
    Sim::new(sc, seed, &Builtin::new(sc.policy.clone()), &mut NoTrace).run()
}

/// [`run_quick`], ended with [`SimError::Cancelled`] once `stop` answers yes: it is asked
/// every [`crate::sim::STOP_EVERY`] events. The same result as [`run_quick`] otherwise.
pub fn run_quick_unless(
    sc: &Scenario,
    seed: u64,
    stop: &dyn Fn() -> bool,
) -> Result<crate::sim::Outcome, SimError> {
    Sim::new(sc, seed, &Builtin::new(sc.policy.clone()), &mut NoTrace)
        .stop_when(stop)
        .run()
}

/// Runs `run` side by side with the other runs of this process that go through here, and
/// once more alone, when every other has ended, if the system refused its tables
/// ([`SimError::TooLarge`]): so whether a model fits in memory does not depend on how many
/// run at once, and many threads refuse only what one thread does. `run` must not itself
/// come back here.
pub fn fitting<T>(run: impl Fn() -> Result<T, SimError>) -> Result<T, SimError> {
    static GATE: RwLock<()> = RwLock::new(());
    let first = {
        let _side_by_side = GATE.read().unwrap_or_else(PoisonError::into_inner);
        run()
    };
    match first {
        Err(SimError::TooLarge { .. }) => {
            let _alone = GATE.write().unwrap_or_else(PoisonError::into_inner);
            run()
        }
        other => other,
    }
}

/// Runs the scenario's own built-in policy.
pub fn run(sc: &Scenario, seed: u64) -> Result<Summary, SimError> {
    run_with(sc, seed, &Builtin::new(sc.policy.clone()), &mut NoTrace)
}

/// Runs any policy, handing every trace record to `tracer`.
///
/// When a property broke, the seed is run a second time with the same `policy` to collect the
/// chain of events behind each violation: a policy must answer the same way every time it is
/// asked the same thing (see [`RetryPolicy`]). One that does not (a circuit breaker counting
/// failures in a `Cell`, say) makes [`SimError::NotReplayable`], not chains that contradict
/// the violations.
///
/// [`Summary::violations`] keeps the first 100 violations in full, and past them the first of
/// each property (`violation_count` counts them all); chains are filled in for the first 10,
/// of up to 200 steps.
///
/// The scenario is first held to the rules a scenario file is ([`Scenario::validated`]), so
/// that one built or changed in code that breaks one gives [`SimError::Invalid`], not a run
/// of something else. A run that issues no purchase (a `duration` shorter than the first
/// arrival, say) holds every property vacuously: a test should also look at
/// `summary.metrics.intents`, as `payfault run` and `check` do.
pub fn run_with<P: RetryPolicy + ?Sized, T: Tracer>(
    sc: &Scenario,
    seed: u64,
    policy: &P,
    tracer: &mut T,
) -> Result<Summary, SimError> {
    let sc = &sc.validated().map_err(|e| SimError::Invalid(e.message))?;
    let out = Sim::new(sc, seed, policy, tracer).run()?;
    let mut violations = out.violations;
    let wanted: Vec<u64> = violations
        .iter()
        .filter_map(|v| v.intent)
        .take(CHAINS)
        .collect();
    if !wanted.is_empty() {
        // Same scenario, seed and policy: the same run, this time keeping these intents' events.
        let mut chains = ChainCollector::new(wanted, CHAIN_STEPS);
        let again = Sim::new(sc, seed, policy, &mut chains).run()?;
        if again.metrics != out.metrics || again.violation_count != out.violation_count {
            return Err(SimError::NotReplayable {
                policy: policy.describe(),
            });
        }
        for v in &mut violations {
            if let Some(i) = v.intent {
                v.chain = chains.chain(i);
            }
        }
    }
    let properties = Property::ALL
        .iter()
        .map(|&p| PropertyResult {
            property: p,
            held: out.by_property[p as usize] == 0,
        })
        .collect();
    Ok(Summary {
        scenario: sc.name.clone(),
        seed,
        policy: policy.describe(),
        properties,
        metrics: out.metrics,
        violation_count: out.violation_count,
        violations,
    })
}
