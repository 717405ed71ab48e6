//! Per-run metrics: what a run's summary, `check` and `sweep` report.

use payfault_engine::SimTime;
use serde::Serialize;

use crate::oracle::{Histogram, OracleCounts};

/// Raw counters the simulator keeps as it goes.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub events: u64,
    pub transactions: u64,
    pub attempts: u64,
    pub retries: u64,
    pub hedges: u64,
    pub inquiries: u64,
    pub messages: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub partitioned: u64,
    pub overload_drops: u64,
    pub erroneous_replies: u64,
    pub dedup_hits: u64,
    pub conflicts: u64,
    pub late_approvals: u64,
    pub reversals_queued: u64,
    pub reversals_sent: u64,
    pub reversals_acked: u64,
    pub reversals_abandoned: u64,
    pub reversals_lost: u64,
    pub visible_failures: u64,
    pub pay_again: u64,
    pub double_submits: u64,
    pub budget_refusals: u64,
    pub crashes: u64,
    pub peak_terminal_queue: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PeakQueues {
    pub acquirer: u64,
    pub switch: u64,
    pub bank: u64,
    /// The longest line of customers waiting at any one terminal, behind the one it serves:
    /// as at a server, who is being served is not in the line.
    pub terminal: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Everything measured in one run. Rates are per intent unless named otherwise.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Metrics {
    pub intents: u64,
    pub transactions: u64,
    pub approved: u64,
    pub declined: u64,
    pub failed: u64,
    /// Duplicate debits still standing when their intents settled: each intent's net debit
    /// beyond its amount, in debits of the amount (a purchase charged three times counts 2).
    pub duplicate_permanent: u64,
    /// Duplicate debits that a reversal undid before their intents settled: debits that took
    /// an intent's net above its amount, less those still standing.
    pub duplicate_transient: u64,
    /// `duplicate_permanent` per million intents.
    pub duplicates_per_million_permanent: f64,
    /// `duplicate_transient` per million intents.
    pub duplicates_per_million_transient: f64,
    /// Intents charged more than once when they settled: those that broke no-duplicate-debit.
    pub duplicate_intents_permanent: u64,
    /// Intents charged more than once at some moment, and put right before they settled.
    pub duplicate_intents_transient: u64,
    pub charged_but_told_failed: u64,
    pub told_approved_not_charged: u64,
    pub no_final_answer: u64,
    pub late_final_answer: u64,
    /// Share of intents whose customer saw at least one failure.
    pub customer_visible_failure_rate: f64,
    pub completion_latency: Latency,
    pub attempts: u64,
    pub attempts_per_intent: f64,
    pub retries: u64,
    pub hedges: u64,
    pub inquiries: u64,
    /// Link transmissions of every kind, every hop.
    pub messages: u64,
    pub messages_per_intent: f64,
    pub debits_posted: u64,
    pub reversals_sent: u64,
    pub reversals_posted: u64,
    pub reversals_abandoned: u64,
    pub reversals_lost: u64,
    pub late_approvals: u64,
    pub dedup_hits: u64,
    /// Requests the bank answered 09, their key being in progress (`in_progress: Conflict`).
    pub conflicts: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub partitioned: u64,
    pub overload_drops: u64,
    pub erroneous_replies: u64,
    pub pay_again: u64,
    pub double_submits: u64,
    pub budget_refusals: u64,
    pub crashes: u64,
    pub peak_queue: PeakQueues,
    pub events: u64,
    pub peak_pending_events: u64,
    /// When the last event that did anything happened, in seconds: the time the run took,
    /// without the timers cancelled before they fell due, which the queue still held.
    pub sim_time_s: f64,
}

fn per(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

impl Metrics {
    pub fn build(
        c: &Counters,
        o: &OracleCounts,
        lat: &Histogram,
        peak_queue: PeakQueues,
        end: SimTime,
        peak_pending: u64,
    ) -> Metrics {
        let ms = |ns: u64| ns as f64 / 1e6;
        Metrics {
            intents: o.intents,
            transactions: c.transactions,
            approved: o.approved,
            declined: o.declined,
            failed: o.failed,
            duplicate_permanent: o.duplicate_permanent,
            duplicate_transient: o.duplicate_transient,
            duplicates_per_million_permanent: per(o.duplicate_permanent * 1_000_000, o.intents),
            duplicates_per_million_transient: per(o.duplicate_transient * 1_000_000, o.intents),
            duplicate_intents_permanent: o.duplicate_intents_permanent,
            duplicate_intents_transient: o.duplicate_intents_transient,
            charged_but_told_failed: o.charged_but_told_failed,
            told_approved_not_charged: o.told_approved_not_charged,
            no_final_answer: o.no_final_answer,
            late_final_answer: o.late_final_answer,
            customer_visible_failure_rate: per(o.customer_saw_failure, o.intents),
            completion_latency: Latency {
                p50_ms: ms(lat.quantile(0.50)),
                p95_ms: ms(lat.quantile(0.95)),
                p99_ms: ms(lat.quantile(0.99)),
                max_ms: ms(lat.max()),
            },
            attempts: c.attempts,
            attempts_per_intent: per(c.attempts, o.intents),
            retries: c.retries,
            hedges: c.hedges,
            inquiries: c.inquiries,
            messages: c.messages,
            messages_per_intent: per(c.messages, o.intents),
            debits_posted: o.debits_posted,
            reversals_sent: c.reversals_sent,
            reversals_posted: o.reversals_posted,
            reversals_abandoned: c.reversals_abandoned,
            reversals_lost: c.reversals_lost,
            late_approvals: c.late_approvals,
            dedup_hits: c.dedup_hits,
            conflicts: c.conflicts,
            dropped: c.dropped,
            duplicated: c.duplicated,
            partitioned: c.partitioned,
            overload_drops: c.overload_drops,
            erroneous_replies: c.erroneous_replies,
            pay_again: c.pay_again,
            double_submits: c.double_submits,
            budget_refusals: c.budget_refusals,
            crashes: c.crashes,
            peak_queue,
            events: c.events,
            peak_pending_events: peak_pending,
            sim_time_s: end.as_nanos() as f64 / 1e9,
        }
    }
}
