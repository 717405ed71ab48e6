//! The payment network as a discrete-event system.
//!
//! One [`Sim`] owns all state of a run. Events are a closed enum; messages live in a slab and
//! events refer to them by index; per-intent bookkeeping lives in rings indexed by intent id,
//! released as soon as an intent can no longer change.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use payfault_engine::{
    prefetch, stream, Dist, EngineError, Fate, Lane, Limits, Next as Due, Scheduler, Seed,
    SimDuration, SimTime, SourceQueue, StreamRng,
};

use smallvec::SmallVec;

use crate::config::MsgKind as Kind;

use crate::config::{
    Direction, Duration, FaultSchedule, InProgress, InquiryAnswer, LinkConfig, LinkName, MsgId,
    MsgKind, NodeName, Positive, Reads94, Replay, Scenario, ScheduledCrash,
};
use crate::few::Few;
use crate::idem::IdemTable;
use crate::metrics::{Counters, Metrics, PeakQueues};
use crate::oracle::{Answer, Oracle, Violation};
use crate::policy::{Action, Failure, FailureCtx, KeyMode, RetryPolicy};
use crate::ring::{Ring, BLOCK_IDS};
use crate::timers::Timers;
use crate::trace::{MsgRef, NodeLabel, TraceEvent, Tracer};

/// Response codes (ISO 8583 field 39).
pub mod rc {
    pub const APPROVED: u8 = 0;
    /// Invalid transaction: the key was reversed or voided before this request was posted.
    pub const VOIDED: u8 = 12;
    /// Unable to locate the original (status inquiry).
    pub const NOT_FOUND: u8 = 25;
    pub const INSUFFICIENT_FUNDS: u8 = 51;
    /// Request in progress: the bank still handles a request with the same key.
    pub const IN_PROGRESS: u8 = 9;
    /// Duplicate transmission: the order is already paid.
    pub const DUPLICATE: u8 = 94;
    pub const MALFUNCTION: u8 = 96;

    pub fn text(code: u8) -> &'static str {
        match code {
            APPROVED => "00",
            IN_PROGRESS => "09",
            VOIDED => "12",
            NOT_FOUND => "25",
            INSUFFICIENT_FUNDS => "51",
            DUPLICATE => "94",
            MALFUNCTION => "96",
            _ => "??",
        }
    }
}

impl Kind {
    pub(crate) fn is_request(self) -> bool {
        matches!(self, Kind::Purchase | Kind::Reversal | Kind::Inquiry)
    }
    fn response(self) -> Kind {
        match self {
            Kind::Purchase => Kind::PurchaseResp,
            Kind::Reversal => Kind::ReversalResp,
            Kind::Inquiry => Kind::InquiryResp,
            k => k,
        }
    }
    fn mti(self, repeat: bool) -> &'static str {
        match (self, repeat) {
            (Kind::Purchase, false) => "0200",
            (Kind::Purchase, true) => "0201",
            (Kind::PurchaseResp, _) => "0210",
            (Kind::Reversal, false) => "0400",
            (Kind::Reversal, true) => "0401",
            (Kind::ReversalResp, _) => "0410",
            (Kind::Inquiry, _) => "0600",
            (Kind::InquiryResp, _) => "0610",
        }
    }
}

/// Node numbers: terminals are 0..n, then the acquirer, the switch and the bank.
type Node = u32;

/// One message on the network. Exactly a cache line, aligned to one: a message is usually
/// cold when it is delivered, and one miss should bring all of it.
#[derive(Clone, Debug)]
#[repr(align(64))]
struct Msg {
    id: u64,
    intent: u64,
    key: u64,
    amount: u64,
    attempt: u32,
    terminal: u32,
    /// The STAN (20 bits), with the repeat flag (0201, 0401) in the top bit, two marks below
    /// it ([`CUT_BIT`], [`ORDER_PAID_BIT`]) and, for a reversal, its round of sends (see
    /// [`Msg::round`]) in the eight bits below those.
    stan_repeat: u32,
    account: u32,
    from: Node,
    to: Node,
    /// The epoch of the node holding the message in service, to drop it if that node crashed.
    epoch: u32,
    kind: Kind,
    txn: u8,
    dupgen: u8,
    rc: u8,
}

const _: () = assert!(std::mem::size_of::<Msg>() == 64);

const REPEAT_BIT: u32 = 1 << 31;
/// Set on a message whose link is cut at some moment of its way, which it does not survive:
/// the link's partitions are known in advance, so this is decided when it is sent and takes
/// effect when it is due. A STAN (at most 999,999) leaves the bit free.
const CUT_BIT: u32 = 1 << 30;
/// Set on a 94 that the order check gave ("order already paid", the order's debit is under
/// some other key), not the STAN check (the debit is under the key answered): the bank's
/// answers say which, as a till that knows the order tells them apart.
const ORDER_PAID_BIT: u32 = 1 << 29;
/// Set by the bank on a purchase that claimed its key: under `in_progress: Conflict`, the
/// purchase holds the key's lock, which only it releases; under `Unlocked`, the key was not in
/// the idempotency table when its processing began, so it posts whatever the table holds when
/// it ends. Bit 20, between the STAN and the round.
const CLAIM_BIT: u32 = 1 << 20;
/// Where a reversal's round of sends sits, and the STAN below it (at most 999,999 < 2^20).
const ROUND_SHIFT: u32 = 21;
const STAN_MASK: u32 = (1 << 20) - 1;

impl Msg {
    fn stan(&self) -> u32 {
        self.stan_repeat & STAN_MASK
    }

    fn claimed(&self) -> bool {
        self.stan_repeat & CLAIM_BIT != 0
    }

    /// Which 65,536 sends of its reversal a reversal message is among, modulo 256: the
    /// attempt number holds the send modulo 65,536, and this keeps the identities, and so the
    /// fates, of the sends of a long outage apart (up to 2^24 sends of one reversal).
    fn round(&self) -> u8 {
        // The eight bits above the shift; the flags above them fall off.
        (self.stan_repeat >> ROUND_SHIFT) as u8
    }

    /// The word of this message's identity in the keys of its fates, as `kind` names it.
    fn ident(&self, kind: u64) -> u64 {
        ident_word(self.txn, self.attempt, kind) | u64::from(self.round()) << 40
    }

    fn cut(&self) -> bool {
        self.stan_repeat & CUT_BIT != 0
    }

    fn set_cut(&mut self, cut: bool) {
        self.stan_repeat = self.stan_repeat & !CUT_BIT | if cut { CUT_BIT } else { 0 };
    }

    fn repeat(&self) -> bool {
        self.stan_repeat & REPEAT_BIT != 0
    }

    fn order_paid(&self) -> bool {
        self.stan_repeat & ORDER_PAID_BIT != 0
    }

    /// A request from terminal `term` about one transaction of `job`.
    fn request(
        kind: Kind,
        repeat: bool,
        term: u32,
        job: &Job,
        attempt: u32,
        stan: u32,
        key: u64,
    ) -> Msg {
        Msg {
            id: 0,
            kind,
            stan_repeat: stan | if repeat { REPEAT_BIT } else { 0 },
            intent: job.intent,
            txn: job.txn,
            attempt,
            dupgen: 0,
            terminal: term,
            key,
            // Filled in by `send_request` from the intent.
            amount: 0,
            account: 0,
            rc: 0,
            from: term,
            to: term,
            epoch: 0,
        }
    }
}

#[derive(Copy, Clone, Debug)]
enum Ev {
    /// Message slot `slot` reaches node `to`. The node and the low bits of the message's
    /// intent ride along so that what the delivery reads can be fetched into cache before the
    /// message itself is read.
    Deliver {
        slot: u32,
        to: Node,
        intent: u32,
    },
    /// A server's service of message slot `slot` completes; fields as for `Deliver`.
    Service {
        slot: u32,
        node: Node,
        intent: u32,
    },
    BankReply(u32),
    /// A transaction's timeout or backoff: it counts if timer `timer` of [`Timers`] is live.
    MainTimer {
        term: u32,
        timer: u32,
    },
    SafTimer {
        term: u32,
        gen: u32,
    },
    PayAgain(u64),
    Crash(u32),
    Recover(Node),
}

const _: () = assert!(std::mem::size_of::<Ev>() == 16);

/// What an event reads first: its message slot, a node, and the low 32 bits of the intent
/// whose tables it reads (enough to find an entry among the intents in flight).
#[derive(Clone, Copy)]
struct Reads {
    slot: Option<u32>,
    node: Option<Node>,
    intent: Option<u32>,
}

#[inline(always)]
fn first_reads(ev: Ev) -> Reads {
    let (slot, node, intent) = match ev {
        Ev::Deliver { slot, to, intent } => (Some(slot), Some(to), Some(intent)),
        Ev::Service { slot, node, intent } => (Some(slot), Some(node), Some(intent)),
        Ev::BankReply(slot) => (Some(slot), None, None),
        Ev::MainTimer { term, .. } | Ev::SafTimer { term, .. } => (None, Some(term), None),
        Ev::PayAgain(_) | Ev::Crash(_) | Ev::Recover(_) => (None, None, None),
    };
    Reads { slot, node, intent }
}

/// A message's transaction, attempt number and kind as one word of the key of its fates.
/// Numbers below 2^24 (every purchase attempt's, and a reversal's of an attempt below 256)
/// keep the layout every draw has always had; larger ones are set apart by the top bit, so
/// that no two messages share their draws. Bits 40 to 47 are left for [`Msg::round`].
fn ident_word(txn: u8, attempt: u32, kind: u64) -> u64 {
    if attempt < 1 << 24 {
        (u64::from(txn) << 32) | (u64::from(attempt) << 8) | kind
    } else {
        1 << 63 | (u64::from(txn) << 48) | (u64::from(attempt) << 8) | kind
    }
}

/// A transaction's attempts and inquiries so far as one word of the key of its policy's
/// draws. Below 65,536 inquiries, the layout every draw has always had; more (inquiries that
/// time out go on through an outage) are set apart by the top bit, so that attempt 1 after
/// 65,536 inquiries does not draw what attempt 2 after none does.
fn policy_word(attempts: u32, inquiries: u32) -> u64 {
    if inquiries < 1 << 16 {
        u64::from(attempts) << 16 | u64::from(inquiries)
    } else {
        1 << 63 | u64::from(attempts) << 32 | u64::from(inquiries)
    }
}

/// The idempotency key of attempt `attempt` of transaction `txn` of `intent`.
fn make_key(intent: u64, txn: u8, attempt: u32) -> u64 {
    (intent << 24) | (u64::from(txn) << 16) | u64::from(attempt.min(0xffff))
}

/// The STAN that the attempt under `key` was sent with, given the transaction's latest key
/// and its STAN. Only a send under a new key takes a STAN, from the terminal's counter, and a
/// terminal runs one transaction at a time: so the attempts under other keys than the latest
/// (the first attempt beside its hedge, or attempts whose outcome is still unknown) took the
/// STANs just before it, one an attempt.
fn stan_of(key: u64, latest: u64, latest_stan: u32) -> u32 {
    let back = (latest & 0xffff).saturating_sub(key & 0xffff) % STAN_CYCLE;
    ((u64::from(latest_stan) + STAN_CYCLE - 1 - back) % STAN_CYCLE) as u32 + 1
}

/// STANs run from 1 to 999,999 and then start again at 1.
const STAN_CYCLE: u64 = 999_999;

/// One transaction a terminal is to run; the amount and account are the intent's.
#[derive(Clone, Debug)]
struct Job {
    intent: u64,
    txn: u8,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Next {
    Purchase,
    Inquiry,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Waiting,
    Inquiring,
    Backoff(Next),
    /// Ready to send, held back until the reversal queue is empty.
    Blocked(Next),
}

/// Flat and small enough that an [`IntentOps`] holding it fits two cache lines.
#[derive(Clone, Debug)]
struct Txn {
    /// The job, flattened: a nested `Job` would keep padding of its own.
    intent: u64,
    txn: u8,
    started: SimTime,
    attempts: u32,
    inquiries: u32,
    /// The inquiries sent when the policy last acted on a "not found" that left no key in
    /// doubt: an answer to one of them is no news (a link's copy, or a late answer to one that
    /// timed out), but an approval.
    heard: u32,
    key: u64,
    stan: u32,
    outstanding: Few<u64>,
    phase: Phase,
    prev_backoff: SimDuration,
    /// When the hedge is due; `SimTime::ZERO` when none is (a transaction starts after a
    /// purchase, which comes at 1 ns at the earliest, so no hedge is due at time zero). Not an
    /// `Option`, whose tag would take the room of `heard`.
    hedge_at: SimTime,
    timeout_at: SimTime,
    fresh_next: bool,
    /// Whether its hedge was sent: counted among the attempts, but no failure.
    hedged: bool,
}

impl Txn {
    fn job(&self) -> Job {
        Job {
            intent: self.intent,
            txn: self.txn,
        }
    }
}

#[derive(Clone, Debug)]
struct Rev {
    job: Job,
    key: u64,
    stan: u32,
    sends: u32,
    /// Sends made before a late approval renewed the reversal: from then it has the policy's
    /// `max_sends` again (see [`Sim::reverse_a_debit`]).
    renewed_at: u32,
}

/// A terminal's state: one cache line, for there may be a million terminals and each event
/// that touches one finds it cold. The transaction in progress lives with its intent in
/// [`IntentOps`]; reversals, which only some runs have, are boxed; the retry budget's tokens
/// live in [`Sim`].
#[derive(Debug, Default)]
#[repr(align(64))]
struct Terminal {
    down: u32,
    /// The name of the transaction's timer in [`Timers`], if one may be live; else 0.
    main_timer: u32,
    /// One more than the intent whose transaction is current, 0 if none. The transaction's
    /// state lives with its intent (an intent's transactions all run on one terminal, one at
    /// a time), where an event's intent finds it without reading the terminal first.
    cur: u64,
    /// Purchases issued so far: which draw gives the next arrival.
    arrivals: u64,
    /// Customers in line; nearly always at most one.
    waiting: SmallVec<[Job; 1]>,
    saf: Option<Box<Saf>>,
    stan: u32,
    saf_inflight: bool,
}

const _: () = assert!(std::mem::size_of::<Terminal>() == 64);
const _: () = assert!(std::mem::size_of::<Option<IntentOps>>() == 128);
const _: () = assert!(std::mem::size_of::<Option<BankIntent>>() == 64);

/// The store-and-forward queue of reversals, with its timer's generation: a timer counts
/// only if it carries the generation its terminal holds. Generations come from one counter
/// for the whole run, so the box can go once its queue is empty (at a million terminals
/// one each would outlast the run) without a new one reviving a pending timer; 0 is never
/// handed out, and marks a timer cancelled.
#[derive(Debug, Default)]
struct Saf {
    queue: VecDeque<Rev>,
    gen: u32,
}

impl Terminal {
    fn saf_empty(&self) -> bool {
        self.saf.as_ref().is_none_or(|s| s.queue.is_empty())
    }

    fn saf_front(&self) -> Option<&Rev> {
        self.saf.as_ref().and_then(|s| s.queue.front())
    }

    fn saf_mut(&mut self) -> &mut Saf {
        self.saf.get_or_insert_with(Box::default)
    }

    /// Invalidates a pending reversal timer.
    fn bump_saf_gen(&mut self) {
        if let Some(s) = &mut self.saf {
            s.gen = 0;
        }
    }

    /// Lets the reversal queue go once nothing is in it or on its way.
    fn saf_done(&mut self) {
        if !self.saf_inflight && self.saf_empty() {
            self.saf = None;
        }
    }
}

#[derive(Debug)]
struct Server {
    dist: Dist,
    servers: u32,
    cap: usize,
    busy: u32,
    queue: VecDeque<u32>,
    down: u32,
    epoch: u32,
    peak: usize,
    /// The scheduler lane for service times, when they are constant.
    lane: Option<Lane>,
}

impl Server {
    fn new(dist: Dist, servers: u32, cap: u32) -> Server {
        Server {
            dist,
            servers,
            cap: cap as usize,
            busy: 0,
            queue: VecDeque::new(),
            down: 0,
            epoch: 0,
            peak: 0,
            lane: None,
        }
    }
}

/// A debit of the intent whose record holds it.
#[derive(Debug)]
struct Posting {
    amount: u64,
    account: u32,
    reversed: bool,
}

/// What the bank holds about one intent. Durable (the ledger survives crashes); dropped when
/// the intent settles, since no message can name its keys any more. One cache line, aligned
/// to one: the bank reads it cold for nearly every request.
#[derive(Debug, Default)]
#[repr(align(64))]
struct BankIntent {
    postings: Few<(u64, Posting)>,
    /// Keys reversed or found absent by an inquiry: a late copy is refused.
    voided: Few<u64>,
    /// When the order was last paid (for order-reference deduplication).
    paid_at: Option<SimTime>,
}

#[derive(Debug)]
struct Bank {
    accounts: Vec<u64>,
    merchant: u128,
    intents: Ring<BankIntent>,
    idem: Option<IdemTable>,
    /// With `in_progress: Conflict`, the keys of the purchases the bank has admitted and not
    /// yet processed; `None` otherwise.
    in_progress: Option<BTreeSet<u64>>,
    /// With `in_progress: Unlocked`: the table is read when a purchase's processing starts.
    unlocked: bool,
    commits: u64,
}

struct CrashSource {
    node: Node,
    kind: CrashKind,
}

enum CrashKind {
    /// A crash at a stated time; `true` when it comes from an explicit fault schedule.
    Scheduled(SimDuration, bool),
    Random {
        rng: Box<StreamRng>,
        mean: Dist,
        down: Dist,
    },
    AfterCommit {
        down: SimDuration,
    },
}

/// Aligned to cache lines: a terminal's answer reads it cold, fetched ahead by the intent
/// its event carries.
#[derive(Debug, Default)]
#[repr(align(64))]
struct IntentOps {
    /// The transaction of the intent that a terminal is running, if any.
    txn: Option<Txn>,
    refs: u32,
    terminal: u32,
    amount: u64,
    account: u32,
    txns: u8,
    /// Keys whose approval the terminal accepted: another copy of that reply is no news.
    /// [`order_paid_mark`] among them says a 94 ("order already paid") approved the intent,
    /// and a key's [`reversing_mark`] that the terminal queued a reversal of it.
    approved_keys: Few<u64>,
}

/// Marks a key the terminal queued a reversal of, among the intent's approved keys: once that
/// reversal may have reached the bank, an approval of the key, a copy or an inquiry's, is
/// never the transaction's answer, even after the reversal has left the queue. The top bit,
/// which no key has: a run issues at most [`crate::config::MAX_PURCHASES`] (2^39) intents.
fn reversing_mark(key: u64) -> u64 {
    key | 1 << 63
}

/// Marks an intent a 94 ("order already paid") approved: the bank holds a debit of the order
/// under some earlier key, so a late approval of the intent is that debit, not a second one.
/// Kept among its approved keys, as the key of attempt 0, which no attempt has (they count
/// from 1), so that the per-intent record keeps its layout.
fn order_paid_mark(intent: u64) -> u64 {
    make_key(intent, 0, 0)
}

/// The transaction that terminal `t` is running, which lives with its intent.
fn txn_of<'r>(intents: &'r Ring<IntentOps>, t: &Terminal) -> Option<&'r Txn> {
    intents.get(t.cur.checked_sub(1)?)?.txn.as_ref()
}

fn txn_of_mut<'r>(intents: &'r mut Ring<IntentOps>, t: &Terminal) -> Option<&'r mut Txn> {
    intents.get_mut(t.cur.checked_sub(1)?)?.txn.as_mut()
}

/// Fixed families of random draws; changing one changes every trace.
mod family {
    pub const LINK: u64 = 1;
    pub const SERVICE: u64 = 2;
    pub const WORKLOAD: u64 = 3;
    pub const CRASH: u64 = 4;
    pub const CUSTOMER: u64 = 5;
    pub const POLICY: u64 = 6;
    pub const BANK: u64 = 7;
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub metrics: Metrics,
    pub violations: Vec<Violation>,
    /// All violations, including those beyond the ones kept in full.
    pub violation_count: u64,
    /// Violations per property, indexed by [`crate::Property`] as a number.
    pub by_property: [u64; 4],
    /// The faults that struck the run, when recording was asked for.
    pub faults: Option<FaultSchedule>,
    /// Intents moved out of the blocks of their tables: see [`Sim::spill_stragglers`].
    #[cfg(test)]
    pub(crate) spilled: u64,
    /// Terminals still holding a reversal queue at the end.
    #[cfg(test)]
    pub(crate) saf_held: usize,
}

/// Why a run could not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("{}{}", .0, hint(.0))]
    Engine(#[from] EngineError),
    /// A limit of the scenario stopped the run: what was still going on then, so that the
    /// fault or the policy that kept it going can be found.
    #[error("{error}{}; still going: {still}", hint(.error))]
    Stopped { error: EngineError, still: String },
    /// A table that grows with the model (a terminal's state, an account's balance) cannot be
    /// allocated.
    #[error(
        "the model is too large for this machine: its `{field}` need {bytes} bytes at once, \
         which cannot be allocated"
    )]
    TooLarge { field: &'static str, bytes: u64 },
    /// The same seed run again gave another result: the policy answered differently when
    /// asked the same thing, as a policy keeping state between calls does.
    #[error(
        "the policy {policy:?} gave another result when the seed was run again to collect the \
         violations' chains: a policy must answer the same way whenever it is asked the same \
         thing, keeping no state between calls"
    )]
    NotReplayable { policy: String },
    /// The policy kept one transaction going past [`PER_TXN`] attempts, whose numbers (in
    /// keys and in fault schedules) would repeat, or past [`PER_TXN`] inquiries the bank
    /// answered: a policy that never gives up would otherwise run to the time limit, which can
    /// take hours. Inquiries that time out are not counted against it, since an outage may
    /// outlast any number of them.
    #[error(
        "the policy {policy:?} kept transaction {txn} of purchase {intent} going after \
         {attempts} attempts and {inquiries} inquiries: a policy must give up within {PER_TXN} \
         attempts, and within {PER_TXN} inquiries the bank answers"
    )]
    Endless {
        policy: String,
        intent: u64,
        txn: u8,
        attempts: u32,
        inquiries: u32,
    },
    /// A scenario built or changed in code breaks a rule that a scenario file is held to
    /// (see [`Scenario::validated`]).
    #[error("the scenario is not valid: {0}")]
    Invalid(String),
    /// [`crate::check_with`] was given a range that holds no seed (`2..=1`, or one already
    /// used up): the caller's mistake, not the scenario's.
    #[error("no seed to check: the range given holds none ({start}..={end}, reversed or used up)")]
    NoSeeds { start: u64, end: u64 },
    /// The caller asked the run to stop before its end (see [`Sim::stop_when`]).
    #[error("the run was stopped before its end, as asked")]
    Cancelled,
}

impl SimError {
    /// Whether a limit stopped the run (the scenario's limits, the clock's end, or a policy
    /// that never gives up): the model ran as told and went on too long, as opposed to an
    /// error of the program, the machine or the policy's contract.
    pub fn is_limit(&self) -> bool {
        match self {
            SimError::Engine(e) | SimError::Stopped { error: e, .. } => {
                !matches!(e, EngineError::InPast { .. })
            }
            SimError::Endless { .. } => true,
            SimError::TooLarge { .. }
            | SimError::NotReplayable { .. }
            | SimError::Invalid(_)
            | SimError::NoSeeds { .. }
            | SimError::Cancelled => false,
        }
    }
}

/// Events between two questions to [`Sim::stop_when`]'s function: a few milliseconds.
pub const STOP_EVERY: u64 = 1 << 16;

/// Attempts, and inquiries, one transaction may make: their numbers fit the 16 bits that keys
/// and reversal numbers keep of them.
pub const PER_TXN: u32 = 0xffff;

/// What in a scenario an engine limit answers to.
fn hint(e: &EngineError) -> &'static str {
    match e {
        EngineError::TimeLimit { .. } => " (limits.max_time)",
        EngineError::EventLimit { .. } => " (limits.max_events)",
        EngineError::PendingLimit { .. } => {
            " (limits.max_pending): more is sent than is answered, as when a timeout \
             (policy.timeout, policy.reversal.timeout, or a policy's own) is far below the \
             network's delays"
        }
        EngineError::TimeOverflow { .. } => {
            ": a duration of the scenario, or one the policy chose, is too long"
        }
        EngineError::InPast { .. } => "",
    }
}

/// One run of a scenario under a policy.
pub struct Sim<'a, P: RetryPolicy + ?Sized, T: Tracer> {
    sc: &'a Scenario,
    seed: Seed,
    policy: &'a P,
    tracer: &'a mut T,
    sched: Scheduler<Ev>,
    msgs: Vec<Msg>,
    free: Vec<u32>,
    next_msg_id: u64,
    n_terms: u32,
    terms: Vec<Terminal>,
    acq: Server,
    sw: Option<Server>,
    bank_srv: Server,
    bank: Bank,
    bank_reply: Dist,
    /// Each terminal's next purchase, taken in order of (time, terminal): the order in which
    /// purchases are numbered does not depend on anything else that happens at the same
    /// instant.
    arrivals: SourceQueue,
    /// When the next purchase is due while purchases are being issued: the first of
    /// `arrivals`, kept so that the run loop does not ask the queue before every event.
    next_arrival_at: Option<SimTime>,
    /// When the last event that did anything happened: a timer cancelled before it fell due
    /// does nothing, and a run's simulated time ends before it.
    last_effect: SimTime,
    /// Each terminal's retry-budget tokens, in thousandths; empty without a budget.
    tokens_milli: Vec<u64>,
    issued: u64,
    /// Whether random crashes still strike: until `faults.until`, or until issuing stops.
    crashes_active: bool,
    /// Random message faults (drops, copies, erroneous replies) strike the messages of the
    /// intents below this one: those issued before `faults.until`, every one without it. A
    /// window on the purchase rather than on the moment of sending keeps a message's fate the
    /// same under every policy, however late a policy sends it (common random numbers).
    faulty_below: u64,
    intents: Ring<IntentOps>,
    timers: Timers,
    oracle: Oracle,
    crash_sources: Vec<CrashSource>,
    /// The crash sources of `crash_after_commit`, by the commit they follow (the first listed
    /// where two name one commit): a commit looks its number up rather than scan every
    /// source, of which there is one per terminal when random crashes strike them all.
    after_commit: BTreeMap<u64, u32>,
    partitions: Vec<(LinkName, SimTime, SimTime, Direction)>,
    opening: i128,
    c: Counters,
    timeout: SimDuration,
    key_mode: KeyMode,
    hedge: Option<SimDuration>,
    budget: Option<(u64, u64)>,
    schedule: Option<Schedule>,
    recorded: Option<FaultSchedule>,
    lanes: Lanes,
    /// Whether to fetch the next event's data ahead of time: worth its instructions only once
    /// the model outgrows the cache.
    prefetching: bool,
    /// The queue's count of groups of upcoming events when their data was last prefetched.
    prefetched_runs: u64,
    /// Customers told "failed" who are to pay again: their `PayAgain` events are pending.
    paying_again: u64,
    /// Asked now and then whether the run is still wanted (see [`Sim::stop_when`]).
    stop: Option<&'a (dyn Fn() -> bool + 'a)>,
    /// Blocks of the intents' tables never spilled: see [`Sim::spill_stragglers`].
    spill_keep: u64,
    /// The last generation given to a reversal timer: see [`Saf`].
    saf_gen: u32,
    /// Intents spilled so far, which the tests check.
    #[cfg(test)]
    spilled: u64,
}

/// Terminals from which a run prefetches: their state alone (64 bytes each) then fills a
/// core's 2 MiB second-level cache, and the messages and intents in flight grow with them.
const PREFETCH_FROM_TERMINALS: u32 = 32_768;

/// Blocks of the intents' tables that are never spilled (see [`Sim::spill_stragglers`]):
/// those of the intents most recently issued, nearly all in flight.
const KEEP_BLOCKS: u64 = 4;

/// Pending events from which a prefetching run's queue is a radix heap (16,384 otherwise):
/// its groups are worth more than a binary heap's fewer instructions (7% faster at 100,000
/// terminals, with about 3% more instructions).
const PREFETCH_RADIX_FROM: usize = 2_048;

/// The scheduler's FIFO lanes this run uses: one each for the terminals' main and reversal
/// timers, and one per constant delay (a constant hop latency, processing time or reply
/// delay), shared by every event of that delay. Their times arrive in order, so they skip the
/// heap. A server keeps its own lane.
#[derive(Default)]
struct Lanes {
    timer: Option<Lane>,
    saf: Option<Lane>,
    /// Per link, by [`LinkName`].
    link: [Option<Lane>; 4],
    bank_reply: Option<Lane>,
    by_delay: Vec<(SimDuration, Lane)>,
}

impl Lanes {
    fn for_dist<E>(&mut self, sched: &mut Scheduler<E>, d: &Dist) -> Option<Lane> {
        let d = d.constant()?;
        if let Some(&(_, l)) = self.by_delay.iter().find(|(x, _)| *x == d) {
            return Some(l);
        }
        let l = sched.new_lane()?;
        self.by_delay.push((d, l));
        Some(l)
    }
}

/// A fault schedule in lookup form.
struct Schedule {
    drops: BTreeSet<MsgId>,
    duplicates: BTreeSet<MsgId>,
    erroneous: BTreeSet<MsgId>,
}

/// Whether the scenario has faults that may strike at any moment, not known in advance: a
/// link that drops or duplicates, erroneous replies, random crashes, or an explicit schedule
/// (its drops, duplicates and erroneous replies strike when their message is sent).
/// Scheduled crashes and partitions end at known times, and a crash after a commit says when
/// it ends as it strikes.
fn random_faults(sc: &Scenario) -> bool {
    let l = &sc.links;
    let lossy = [
        Some(&l.terminal_acquirer),
        l.acquirer_bank.as_ref(),
        l.acquirer_switch.as_ref(),
        l.switch_bank.as_ref(),
    ]
    .into_iter()
    .flatten()
    .any(|c| !c.drop.prob.is_never() || !c.duplicate.prob.is_never());
    match &sc.faults.schedule {
        // A schedule stands for the random faults of a run it was recorded from, its crashes
        // too: judged as they were (regression: a shrunk run with only crashes left ended the
        // faults at its last crash rather than with issuing, and broke liveness where the run
        // it came from had not).
        Some(f) => !f.is_empty(),
        None => {
            lossy
                || !sc.bank.erroneous_replies.prob.is_never()
                || !sc.faults.random_crashes.is_empty()
        }
    }
}

/// The first guess at the span of time whose purchases [`SourceQueue`] gathers at once: a
/// quarter of a terminal's mean gap, so that about a quarter of the terminals wait in its
/// queue and each pass over them gathers one in four. Only the speed depends on it, never the
/// order.
fn arrival_window(gap: &Dist) -> SimDuration {
    let mean = gap.mean_nanos();
    // An infinite mean (a heavy tail): a second, which the queue widens or narrows to fit.
    let quarter = if mean.is_finite() { mean / 4.0 } else { 1e9 };
    SimDuration::from_nanos(quarter.clamp(1.0, 1e15) as u64)
}

impl<'a, P: RetryPolicy + ?Sized, T: Tracer> Sim<'a, P, T> {
    pub fn new(sc: &'a Scenario, seed: u64, policy: &'a P, tracer: &'a mut T) -> Self {
        let seed = Seed(seed);
        let n_terms = sc.terminals.0;
        let b = &sc.bank;
        let opening = i128::from(b.opening_balance) * i128::from(b.accounts.0);
        let limits = Limits {
            max_time: SimTime::ZERO.saturating_add(sc.limits.max_time.get()),
            max_events: sc.limits.events(sc.workload.purchases),
            max_pending: usize::try_from(sc.limits.pending(n_terms)).unwrap_or(usize::MAX),
        };
        let mut sim = Sim {
            sc,
            seed,
            policy,
            tracer,
            sched: Scheduler::new(limits),
            msgs: Vec::new(),
            free: Vec::new(),
            next_msg_id: 0,
            n_terms,
            // The tables that grow with the model are made by `run`, which can refuse them.
            terms: Vec::new(),
            acq: Server::new(
                sc.acquirer.processing.0.clone(),
                sc.acquirer.servers.0,
                sc.acquirer.queue,
            ),
            sw: sc
                .switch
                .as_ref()
                .map(|s| Server::new(s.processing.0.clone(), s.servers.0, s.queue)),
            bank_srv: Server::new(b.processing.0.clone(), b.servers.0, b.queue),
            bank: Bank {
                accounts: Vec::new(),
                merchant: 0,
                intents: Ring::default(),
                idem: b
                    .idempotency
                    .as_ref()
                    .map(|i| IdemTable::new(i.retention.get(), make_key(0, 0, 1))),
                in_progress: b
                    .idempotency
                    .as_ref()
                    .filter(|i| i.in_progress == InProgress::Conflict)
                    .map(|_| BTreeSet::new()),
                unlocked: b
                    .idempotency
                    .as_ref()
                    .is_some_and(|i| i.in_progress == InProgress::Unlocked),
                commits: 0,
            },
            bank_reply: b.reply_delay.0.clone(),
            arrivals: SourceQueue::new(0, SimDuration::ZERO),
            next_arrival_at: None,
            last_effect: SimTime::ZERO,
            tokens_milli: Vec::new(),
            issued: 0,
            crashes_active: true,
            faulty_below: 0,
            intents: Ring::default(),
            timers: Timers::default(),
            oracle: Oracle::new(seed.0, sc.liveness_bound.get()),
            crash_sources: Vec::new(),
            after_commit: BTreeMap::new(),
            partitions: sc
                .faults
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.link,
                        SimTime::ZERO.saturating_add(p.from.0),
                        SimTime::ZERO.saturating_add(p.until.0),
                        p.direction,
                    )
                })
                .collect(),
            opening,
            c: Counters::default(),
            timeout: policy.timeout(),
            key_mode: policy.key_mode(),
            hedge: policy.hedge_after(),
            budget: policy
                .budget()
                .map(|(t, r)| (u64::from(t) * 1000, u64::from(r))),
            schedule: sc.faults.schedule.as_ref().map(|f| Schedule {
                drops: f.drops.iter().copied().collect(),
                duplicates: f.duplicates.iter().copied().collect(),
                erroneous: f.erroneous.iter().copied().collect(),
            }),
            recorded: None,
            lanes: Lanes::default(),
            prefetching: n_terms >= PREFETCH_FROM_TERMINALS,
            spill_keep: KEEP_BLOCKS,
            saf_gen: 0,
            #[cfg(test)]
            spilled: 0,
            prefetched_runs: 0,
            paying_again: 0,
            stop: None,
        };
        sim.lanes.timer = sim.sched.new_lane();
        sim.lanes.saf = sim.sched.new_lane();
        let links = &sc.links;
        for (name, cfg) in [
            (LinkName::TerminalAcquirer, Some(&links.terminal_acquirer)),
            (LinkName::AcquirerBank, links.acquirer_bank.as_ref()),
            (LinkName::AcquirerSwitch, links.acquirer_switch.as_ref()),
            (LinkName::SwitchBank, links.switch_bank.as_ref()),
        ] {
            if let Some(cfg) = cfg {
                sim.lanes.link[name as usize] = sim.lanes.for_dist(&mut sim.sched, &cfg.latency.0);
            }
        }
        for srv in [Some(&mut sim.acq), sim.sw.as_mut(), Some(&mut sim.bank_srv)]
            .into_iter()
            .flatten()
        {
            srv.lane = sim.lanes.for_dist(&mut sim.sched, &srv.dist);
        }
        sim.lanes.bank_reply = sim.lanes.for_dist(&mut sim.sched, &sim.bank_reply);
        if sim.prefetching {
            // Prefetching by group reads the radix heap's front.
            sim.sched.set_radix_from(PREFETCH_RADIX_FROM);
        }
        sim
    }

    /// Records every fault that strikes the run, for [`Outcome::faults`].
    pub fn record_faults(mut self) -> Self {
        self.recorded = Some(FaultSchedule::default());
        self
    }

    fn msg_id(&self, slot: u32, link: LinkName, to_bank: bool) -> MsgId {
        let m = &self.msgs[slot as usize];
        MsgId {
            link,
            to_bank,
            intent: m.intent,
            txn: m.txn,
            attempt: m.attempt,
            kind: m.kind,
            copy: m.dupgen,
            round: m.round(),
        }
    }

    const fn acq_node(&self) -> Node {
        self.n_terms
    }
    const fn sw_node(&self) -> Node {
        self.n_terms + 1
    }
    const fn bank_node(&self) -> Node {
        self.n_terms + 2
    }

    fn label(&self, n: Node) -> NodeLabel {
        if n < self.n_terms {
            NodeLabel::Terminal(n)
        } else if n == self.acq_node() {
            NodeLabel::Acquirer
        } else if n == self.sw_node() {
            NodeLabel::Switch
        } else {
            NodeLabel::Bank
        }
    }

    /// Makes the run ask `stop` every [`STOP_EVERY`] events and end with
    /// [`SimError::Cancelled`] once it answers yes: for a caller that no longer wants the
    /// result (a signal, or another run that failed), with no effect on a run that goes on.
    pub fn stop_when(mut self, stop: &'a (dyn Fn() -> bool + 'a)) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Runs to the end: every purchase issued, every message delivered or lost.
    pub fn run(mut self) -> Result<Outcome, SimError> {
        self.start()?;
        loop {
            let next = match self.sched.next_or(self.next_arrival_at) {
                // A timeout of "forever" saturates to the clock's last instant: stale, it is
                // void like any cancelled timer, and the run ends when the rest has.
                Err(EngineError::TimeLimit { .. } | EngineError::TimeOverflow { .. })
                    if self.discard_void() =>
                {
                    continue
                }
                Err(error @ (EngineError::TimeLimit { .. } | EngineError::EventLimit { .. })) => {
                    return Err(SimError::Stopped {
                        still: self.still_going(&error),
                        error,
                    })
                }
                next => next?,
            };
            let (at, ev) = match next {
                Due::Queued(at, ev) => (at, ev),
                Due::Outside(at) => {
                    self.c.events += 1;
                    self.last_effect = at;
                    self.on_arrival()?;
                    continue;
                }
                Due::Idle => break,
            };
            if self.prefetching {
                self.prefetch_next();
            }
            self.c.events += 1;
            if self.c.events.is_multiple_of(STOP_EVERY) && self.stop.is_some_and(|stop| stop()) {
                return Err(SimError::Cancelled);
            }
            match ev {
                Ev::Deliver { slot, .. } => self.on_deliver(slot)?,
                Ev::Service { slot, .. } => self.on_service(slot)?,
                Ev::BankReply(slot) => self.on_bank_reply(slot)?,
                Ev::MainTimer { term, timer } => {
                    if !self.timers.fire(timer) {
                        continue;
                    }
                    self.on_main_timer(term)?;
                }
                Ev::SafTimer { term, gen } => {
                    if self.terms[term as usize]
                        .saf
                        .as_ref()
                        .is_none_or(|s| s.gen != gen)
                    {
                        continue;
                    }
                    self.on_saf_timer(term)?;
                }
                Ev::PayAgain(intent) => self.on_pay_again(intent)?,
                Ev::Crash(src) => {
                    if !self.on_crash_source(src)? {
                        continue;
                    }
                }
                Ev::Recover(node) => self.on_recover(node)?,
            }
            self.last_effect = at;
        }
        Ok(self.finish())
    }

    /// What was still going on when `error`, a limit, stopped the run: the transactions and
    /// reversal queues still open (the oldest transaction and the first queue told in full),
    /// the purchases still to issue, and the faults in force when it stopped.
    #[cold]
    #[inline(never)]
    fn still_going(&self, error: &EngineError) -> String {
        fn count(n: usize, one: &str, many: &str) -> String {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {many}")
            }
        }
        let secs = |t: SimTime| t.as_nanos() as f64 / 1e9;
        let (at, pending) = match *error {
            EngineError::TimeLimit { limit, pending } => (limit, pending),
            EngineError::EventLimit { pending, .. } => (self.sched.now(), pending),
            _ => (self.sched.now(), self.sched.pending()),
        };
        let mut said = Vec::new();
        let open = (0..self.n_terms)
            .filter_map(|t| txn_of(&self.intents, &self.terms[t as usize]).map(|c| (t, c)));
        if let Some((t, c)) = open.clone().min_by_key(|&(t, c)| (c.started, t)) {
            let doing = if self.terms[t as usize].down > 0 {
                "its terminal down"
            } else {
                match c.phase {
                    Phase::Waiting => "waiting for an answer",
                    Phase::Inquiring => "waiting for the answer to an inquiry",
                    Phase::Backoff(_) => "backing off",
                    Phase::Blocked(_) => "held behind its reversals",
                }
            };
            said.push(format!(
                "{} open, the oldest at terminal-{t}: purchase {} (transaction {}, begun at \
                 {:.3} s, attempts {}, inquiries {}), {doing}",
                count(open.count(), "transaction", "transactions"),
                c.intent,
                c.txn,
                secs(c.started),
                c.attempts,
                c.inquiries,
            ));
        }
        let reversing = (0..self.n_terms).filter_map(|t| {
            self.terms[t as usize]
                .saf_front()
                .map(|r| (t, r.job.intent, r.sends))
        });
        if let Some((t, intent, sends)) = reversing.clone().next() {
            said.push(format!(
                "{} repeating reversals, the first terminal-{t}: a reversal of purchase \
                 {intent}, sends {sends}",
                count(reversing.count(), "terminal", "terminals"),
            ));
        }
        if let Some(next) = self.next_arrival_at {
            let left = self
                .sc
                .workload
                .purchases
                .map(|p| format!("{} ", p.saturating_sub(self.issued)));
            said.push(format!(
                "{}purchases still to issue, the next at {:.3} s",
                left.unwrap_or_default(),
                secs(next)
            ));
        }
        for &(link, from, until, direction) in &self.partitions {
            if from <= at && at < until {
                said.push(format!(
                    "a partition of {link:?} ({direction:?}) from {} until {}",
                    SimDuration::from_nanos(from.as_nanos()),
                    SimDuration::from_nanos(until.as_nanos())
                ));
            }
        }
        let down = [
            (NodeLabel::Acquirer, self.acq.down),
            (NodeLabel::Switch, self.sw.as_ref().map_or(0, |s| s.down)),
            (NodeLabel::Bank, self.bank_srv.down),
        ];
        for (node, d) in down {
            if d > 0 {
                said.push(format!("the {node} down"));
            }
        }
        let terms_down = self.terms.iter().filter(|t| t.down > 0).count();
        if terms_down > 0 {
            said.push(format!(
                "{} down",
                count(terms_down, "terminal", "terminals")
            ));
        }
        if self.paying_again > 0 {
            said.push(format!(
                "{} told \"failed\" to pay again",
                count(self.paying_again as usize, "customer", "customers")
            ));
        }
        // Messages on a link, queued or in service at a node, or a reply the bank holds back.
        let in_flight = self.msgs.len() - self.free.len();
        if in_flight > 0 {
            said.push(format!(
                "{} on the way or in service",
                count(in_flight, "message", "messages")
            ));
        }
        if said.is_empty() {
            said.push(format!(
                "no transaction, reversal, message or purchase to come; {} pending",
                count(pending, "event", "events")
            ));
        }
        said.join("; ")
    }

    /// Past the time limit, or at the clock's end: takes out the void events at the head of the
    /// queue (timers cancelled lazily, which would do nothing), true if there were any. A run
    /// whose payments are all done is not stopped by a timeout that no longer counts.
    #[cold]
    fn discard_void(&mut self) -> bool {
        let mut any = false;
        loop {
            let void = match self.sched.peek() {
                Some(&Ev::MainTimer { timer, .. }) => !self.timers.is_live(timer),
                Some(&Ev::SafTimer { term, gen }) => self.terms[term as usize]
                    .saf
                    .as_ref()
                    .is_none_or(|s| s.gen != gen),
                Some(&Ev::Crash(src)) => self.crash_is_void(src),
                _ => false,
            };
            if !void {
                return any;
            }
            self.sched.discard_next();
            any = true;
        }
    }

    /// Makes the tables that grow with the number of terminals and accounts, refusing a model
    /// larger than the machine can hold rather than aborting.
    fn make_tables(&mut self) -> Result<(), SimError> {
        fn table<T>(
            n: u64,
            field: &'static str,
            make: impl FnMut() -> T,
        ) -> Result<Vec<T>, SimError> {
            let too_large = || SimError::TooLarge {
                field,
                bytes: n.saturating_mul(std::mem::size_of::<T>() as u64),
            };
            let len = usize::try_from(n).map_err(|_| too_large())?;
            let mut v = Vec::new();
            v.try_reserve_exact(len).map_err(|_| too_large())?;
            v.resize_with(len, make);
            Ok(v)
        }
        let n = u64::from(self.n_terms);
        let opening = self.sc.bank.opening_balance;
        self.bank.accounts = table(u64::from(self.sc.bank.accounts.0), "bank.accounts", || {
            opening
        })?;
        self.terms = table(n, "terminals", Terminal::default)?;
        self.arrivals = SourceQueue::try_new(
            self.n_terms,
            arrival_window(&self.sc.workload.inter_arrival.0),
        )
        .map_err(|_| SimError::TooLarge {
            field: "terminals",
            bytes: n * 8,
        })?;
        if let Some((cap, _)) = self.budget {
            self.tokens_milli = table(n, "terminals", || cap)?;
        }
        Ok(())
    }

    fn start(&mut self) -> Result<(), SimError> {
        self.make_tables()?;
        let sc = self.sc;
        // Faults whose moment is not known in advance last, without `until`, as long as
        // purchases are issued, and after that until the last message fault strikes (each
        // says so). Without them, the faults end with the last scheduled one to end (each
        // crash says so when it strikes), and liveness is judged from the start.
        self.oracle
            .faults_last_till_now(sc.faults.until.is_none() && random_faults(sc));
        if let Some(until) = sc.faults.until {
            let at = SimTime::ZERO.saturating_add(until.0);
            self.oracle.fault_until(at);
            self.sched.schedule_at(at, Ev::Crash(u32::MAX))?;
        }
        for p in &sc.faults.partitions {
            self.oracle
                .fault_until(SimTime::ZERO.saturating_add(p.until.0));
        }
        for t in 0..self.n_terms {
            // Every terminal's first: its count is 0, not read from a million cold terminals.
            let at = self.next_arrival(t, 0, SimTime::ZERO);
            self.arrivals.set(t, at);
        }
        self.check_issuing();
        let node_list = |n: NodeName, nt: u32| -> Vec<Node> {
            match n {
                NodeName::Terminal(i) => vec![i],
                NodeName::AllTerminals => (0..nt).collect(),
                NodeName::Acquirer => vec![nt],
                NodeName::Switch => vec![nt + 1],
                NodeName::Bank => vec![nt + 2],
            }
        };
        for c in &sc.faults.crashes {
            for node in node_list(c.node, self.n_terms) {
                let src = self.crash_sources.len() as u32;
                self.crash_sources.push(CrashSource {
                    node,
                    kind: CrashKind::Scheduled(c.down_for.get(), false),
                });
                self.sched
                    .schedule_at(SimTime::ZERO.saturating_add(c.at.0), Ev::Crash(src))?;
            }
        }
        let explicit: Vec<ScheduledCrash> = sc
            .faults
            .schedule
            .as_ref()
            .map_or(Vec::new(), |f| f.crashes.clone());
        for c in &explicit {
            for node in node_list(c.node, self.n_terms) {
                let src = self.crash_sources.len() as u32;
                self.crash_sources.push(CrashSource {
                    node,
                    kind: CrashKind::Scheduled(c.down_for.get(), true),
                });
                self.sched
                    .schedule_at(SimTime::ZERO.saturating_add(c.at.0), Ev::Crash(src))?;
            }
        }
        let random = if sc.faults.schedule.is_some() {
            &[][..]
        } else {
            &sc.faults.random_crashes[..]
        };
        for (i, c) in random.iter().enumerate() {
            // The stream of each process is named by what it crashes, never by the number of
            // terminals or by other entries, so that adding either leaves its draws alone:
            // the entry's target as written, how many entries before it name the same, and
            // the node (a terminal by its number, the others apart from every terminal).
            let kind: u64 = match c.node {
                NodeName::Terminal(_) => 0,
                NodeName::AllTerminals => 1,
                NodeName::Acquirer => 2,
                NodeName::Switch => 3,
                NodeName::Bank => 4,
            };
            let repeat = random[..i].iter().filter(|e| e.node == c.node).count() as u64;
            for node in node_list(c.node, self.n_terms) {
                let src = self.crash_sources.len() as u32;
                let which = match node.checked_sub(self.n_terms) {
                    None => u64::from(node),
                    Some(k) => (1 << 32) | u64::from(k),
                };
                let mut rng = stream(
                    self.seed,
                    family::CRASH,
                    (kind << 60) | (repeat << 34) | which,
                );
                let mean = Dist::Exponential {
                    mean: c.mean_interval.get(),
                };
                let first = mean.sample(&mut rng);
                self.crash_sources.push(CrashSource {
                    node,
                    kind: CrashKind::Random {
                        rng: Box::new(rng),
                        mean,
                        down: c.down_for.0.clone(),
                    },
                });
                self.sched.schedule_in(first, Ev::Crash(src));
            }
        }
        for c in &sc.faults.crash_after_commit {
            let src = self.crash_sources.len() as u32;
            self.after_commit.entry(u64::from(c.nth.0)).or_insert(src);
            self.crash_sources.push(CrashSource {
                node: self.bank_node(),
                kind: CrashKind::AfterCommit {
                    down: c.down_for.get(),
                },
            });
        }
        Ok(())
    }

    // ----- tracing -------------------------------------------------------------------------

    fn msg_ref(&self, slot: u32) -> MsgRef {
        let m = &self.msgs[slot as usize];
        MsgRef {
            id: m.id,
            mti: m.kind.mti(m.repeat()),
            stan: m.stan(),
            key: m.key,
            // As in `MsgId`, so that a fault schedule can name a message read off a trace.
            attempt: m.attempt,
            round: m.round(),
            rc: (!m.kind.is_request()).then(|| rc::text(m.rc)),
        }
    }

    #[inline]
    fn trace_msg(
        &mut self,
        node: Node,
        what: &'static str,
        slot: u32,
        peer: Option<Node>,
        detail: Option<std::fmt::Arguments<'_>>,
    ) {
        if T::ENABLED && self.tracer.wants(Some(self.msgs[slot as usize].intent)) {
            let ev = TraceEvent {
                n: self.sched.processed(),
                t: self.sched.now().as_nanos(),
                node: self.label(node),
                what,
                intent: Some(self.msgs[slot as usize].intent),
                msg: Some(self.msg_ref(slot)),
                peer: peer.map(|p| self.label(p)),
                detail: detail.map(|d| d.to_string()),
            };
            self.tracer.record(ev);
        }
    }

    #[inline]
    fn trace(
        &mut self,
        node: NodeLabel,
        what: &'static str,
        intent: Option<u64>,
        detail: Option<std::fmt::Arguments<'_>>,
    ) {
        if T::ENABLED && self.tracer.wants(intent) {
            let ev = TraceEvent {
                n: self.sched.processed(),
                t: self.sched.now().as_nanos(),
                node,
                what,
                intent,
                msg: None,
                peer: None,
                detail: detail.map(|d| d.to_string()),
            };
            self.tracer.record(ev);
        }
    }

    // ----- intents and messages ------------------------------------------------------------

    #[inline]
    fn hold(&mut self, intent: u64) {
        if let Some(o) = self.intents.get_mut(intent) {
            o.refs += 1;
        }
    }

    /// Drops one reference; an intent with none left can no longer change and is judged.
    #[inline]
    fn release(&mut self, intent: u64) {
        let Some(o) = self.intents.get_mut(intent) else {
            return;
        };
        o.refs -= 1;
        if o.refs == 0 {
            let spilled = intent < self.intents.spilled_below();
            self.intents.discard(intent);
            let now = self.sched.now();
            self.oracle.settle(intent, now);
            // Nothing can refer to the intent's keys any more. Its bank entry goes once every
            // intent before it has settled too, from the front of the table, read in order (which
            // the processor streams) rather than at random (a likely cache miss) only to be
            // dropped; the table spans the same ids. A spilled intent's entry was spilled with
            // it, and goes now.
            if spilled {
                self.bank.intents.discard(intent);
            } else {
                let oldest = self.intents.first_near_id().unwrap_or(u64::MAX);
                self.bank.intents.drop_near_before(oldest);
            }
            debug_assert!(
                self.intents.len() > 0 || self.bank.intents.len() == 0,
                "the bank's entries go with their intents"
            );
        }
    }

    /// Moves the intents still live in the oldest blocks of the intents' tables, once those
    /// blocks are nearly empty, out to ordered maps, so that the blocks can go: otherwise the
    /// few intents that wait out timeouts and retries would keep every block after them, and
    /// memory would follow the length of a short, wide run rather than what is in flight.
    fn spill_stragglers(&mut self) {
        let Some(end) = self.intents.sparse_front(self.spill_keep) else {
            return;
        };
        let mut spilled = Vec::new();
        self.intents.spill_before(end, |id| {
            spilled.push(id);
            true
        });
        #[cfg(test)]
        {
            self.spilled += spilled.len() as u64;
        }
        self.oracle.spill_before(end);
        // The bank's entries below `end` of intents that settled go; the others follow their
        // intents. Both lists are in increasing order.
        let mut i = 0;
        self.bank.intents.spill_before(end, |id| {
            while spilled.get(i).is_some_and(|&s| s < id) {
                i += 1;
            }
            spilled.get(i) == Some(&id)
        });
    }

    fn alloc(&mut self, m: Msg) -> u32 {
        self.hold(m.intent);
        match self.free.pop() {
            Some(s) => {
                self.msgs[s as usize] = m;
                s
            }
            None => {
                self.msgs.push(m);
                (self.msgs.len() - 1) as u32
            }
        }
    }

    fn free_slot(&mut self, slot: u32) {
        let intent = self.msgs[slot as usize].intent;
        self.free.push(slot);
        self.release(intent);
    }

    fn new_msg_id(&mut self) -> u64 {
        self.next_msg_id += 1;
        self.next_msg_id
    }

    // ----- links ---------------------------------------------------------------------------

    fn link_of(&self, a: Node, b: Node) -> (LinkName, &'a LinkConfig, bool) {
        let l = &self.sc.links;
        let (lo, hi) = (a.min(b), a.max(b));
        let towards_bank = b > a;
        if lo < self.n_terms {
            (
                LinkName::TerminalAcquirer,
                &l.terminal_acquirer,
                towards_bank,
            )
        } else if hi == self.bank_node() && lo == self.acq_node() {
            (
                LinkName::AcquirerBank,
                l.acquirer_bank.as_ref().expect("validated"),
                towards_bank,
            )
        } else if hi == self.sw_node() {
            (
                LinkName::AcquirerSwitch,
                l.acquirer_switch.as_ref().expect("validated"),
                towards_bank,
            )
        } else {
            (
                LinkName::SwitchBank,
                l.switch_bank.as_ref().expect("validated"),
                towards_bank,
            )
        }
    }

    /// Whether `link` is cut in the message's direction at some moment from now to `until`
    /// (a message due at `until` is lost if the cut begins then).
    fn partitioned(&self, link: LinkName, towards_bank: bool, until_at: SimTime) -> bool {
        let now = self.sched.now();
        self.partitions.iter().any(|&(l, from, until, dir)| {
            l == link
                && from <= until_at
                && now < until
                && match dir {
                    Direction::Both => true,
                    Direction::Request => towards_bank,
                    Direction::Response => !towards_bank,
                }
        })
    }

    /// Puts the message in `slot` on the link from its current holder to `to`.
    fn transmit(&mut self, slot: u32, from: Node, to: Node) {
        {
            let m = &mut self.msgs[slot as usize];
            m.from = from;
            m.to = to;
        }
        self.c.messages += 1;
        let (link, cfg, towards_bank) = self.link_of(from, to);
        if !self.partitions.is_empty() && self.partitioned(link, towards_bank, self.sched.now()) {
            self.c.partitioned += 1;
            self.trace_msg(
                from,
                "lost",
                slot,
                Some(to),
                Some(format_args!("partition")),
            );
            self.free_slot(slot);
            return;
        }
        let m = &self.msgs[slot as usize];
        // Low bits only: see `Reads`.
        let intent = m.intent as u32;
        let ident = [
            family::LINK,
            (link as u64) << 1 | u64::from(towards_bank),
            m.intent,
            m.ident(m.kind as u64),
            u64::from(m.dupgen),
        ];
        let mut fate = Fate::new(self.seed, &ident);
        let faults = m.intent < self.faulty_below;
        // The drop is drawn whether or not it can strike (a purchase issued after `until`, a
        // probability of 0, a schedule instead), so that the latency drawn after it is the
        // message's own in every configuration: the common random numbers hold across fault
        // settings too.
        let drop_draw = fate.next_u64();
        let random_drop = faults && cfg.drop.prob.sample(drop_draw);
        let drop = match &self.schedule {
            Some(s) => s.drops.contains(&self.msg_id(slot, link, towards_bank)),
            None => random_drop,
        };
        if drop {
            self.fault_strikes_now();
            let id = self.msg_id(slot, link, towards_bank);
            if let Some(r) = &mut self.recorded {
                r.drops.push(id);
            }
            self.c.dropped += 1;
            self.trace_msg(from, "lost", slot, Some(to), Some(format_args!("dropped")));
            self.free_slot(slot);
            return;
        }
        let latency = cfg.latency.0.sample(&mut fate);
        // The last draw of the fate (a copy's latency has a fate of its own), so skipping it
        // shifts nothing.
        let random_dup =
            faults && !cfg.duplicate.prob.is_never() && fate.chance(cfg.duplicate.prob);
        let dup = match &self.schedule {
            Some(s) => s
                .duplicates
                .contains(&self.msg_id(slot, link, towards_bank)),
            None => random_dup,
        };
        if dup {
            self.fault_strikes_now();
            let id = self.msg_id(slot, link, towards_bank);
            if let Some(r) = &mut self.recorded {
                r.duplicates.push(id);
            }
        }
        self.trace_msg(from, "send", slot, Some(to), None);
        let cut = !self.partitions.is_empty()
            && self.partitioned(link, towards_bank, self.sched.now().saturating_add(latency));
        self.msgs[slot as usize].set_cut(cut);
        let lane = self.lanes.link[link as usize];
        self.sched
            .schedule_in_on(lane, latency, Ev::Deliver { slot, to, intent });
        if dup {
            self.c.duplicated += 1;
            let mut copy = self.msgs[slot as usize].clone();
            // A copy made on another hop, or of another copy, has an identity of its own.
            copy.dupgen = copy.dupgen.wrapping_mul(4).wrapping_add(1 + link as u8);
            let copy_ident = [
                ident[0],
                ident[1],
                ident[2],
                ident[3],
                u64::from(copy.dupgen),
            ];
            let lat = cfg.latency.0.sample(&mut Fate::new(self.seed, &copy_ident));
            copy.set_cut(
                !self.partitions.is_empty()
                    && self.partitioned(link, towards_bank, self.sched.now().saturating_add(lat)),
            );
            let s2 = self.alloc(copy);
            self.trace_msg(from, "duplicate", s2, Some(to), None);
            self.sched.schedule_in_on(
                lane,
                lat,
                Ev::Deliver {
                    slot: s2,
                    to,
                    intent,
                },
            );
        }
    }

    fn on_deliver(&mut self, slot: u32) -> Result<(), SimError> {
        let (to, kind, from, cut) = {
            let m = &self.msgs[slot as usize];
            (m.to, m.kind, m.from, m.cut())
        };
        if cut {
            // Its link was cut while it was on the wire: it is lost where it was due.
            self.c.partitioned += 1;
            self.trace_msg(
                to,
                "lost",
                slot,
                Some(from),
                Some(format_args!("partition")),
            );
            self.free_slot(slot);
            return Ok(());
        }
        if to < self.n_terms {
            if self.terms[to as usize].down > 0 {
                self.trace_msg(to, "lost", slot, None, Some(format_args!("terminal down")));
                self.free_slot(slot);
                return Ok(());
            }
            self.trace_msg(to, "deliver", slot, Some(from), None);
            return self.terminal_receive(to, slot);
        }
        if self.server(to).down > 0 {
            self.trace_msg(to, "lost", slot, None, Some(format_args!("node down")));
            self.free_slot(slot);
            return Ok(());
        }
        self.trace_msg(to, "deliver", slot, Some(from), None);
        if self.bank.in_progress.is_some() && kind == Kind::Purchase && to == self.bank_node() {
            let key = self.msgs[slot as usize].key;
            let now = self.sched.now();
            // A key whose result the table holds is answered from it: nothing runs under it.
            let done = self
                .bank
                .idem
                .as_mut()
                .is_some_and(|t| t.lookup(key, now).is_some());
            let busy = self.bank.in_progress.as_mut().expect("checked");
            let claimed = !done && busy.insert(key);
            if claimed {
                self.msgs[slot as usize].stan_repeat |= CLAIM_BIT;
            }
            if !done && !claimed {
                self.c.conflicts += 1;
                self.trace_msg(
                    to,
                    "conflict",
                    slot,
                    None,
                    Some(format_args!("key in progress")),
                );
                self.bank_reply_now(slot, rc::IN_PROGRESS);
                return Ok(());
            }
        }
        if kind.is_request() {
            self.admit(to, slot);
        } else {
            // Responses pass back through the acquirer and the switch without queueing.
            let back = self.hop_back(to, slot);
            self.transmit(slot, to, back);
        }
        Ok(())
    }

    fn hop_back(&self, at: Node, slot: u32) -> Node {
        if at == self.bank_node() {
            if self.sw.is_some() {
                self.sw_node()
            } else {
                self.acq_node()
            }
        } else if at == self.sw_node() {
            self.acq_node()
        } else {
            self.msgs[slot as usize].terminal
        }
    }

    fn hop_forward(&self, at: Node) -> Node {
        if at == self.acq_node() && self.sw.is_some() {
            self.sw_node()
        } else {
            self.bank_node()
        }
    }

    // ----- servers -------------------------------------------------------------------------

    fn server(&mut self, node: Node) -> &mut Server {
        if node == self.acq_node() {
            &mut self.acq
        } else if node == self.sw_node() {
            self.sw.as_mut().expect("switch exists")
        } else {
            &mut self.bank_srv
        }
    }

    fn admit(&mut self, node: Node, slot: u32) {
        let srv = self.server(node);
        if srv.busy < srv.servers {
            srv.busy += 1;
            self.start_service(node, slot);
        } else if srv.queue.len() < srv.cap {
            srv.queue.push_back(slot);
            srv.peak = srv.peak.max(srv.queue.len());
        } else {
            self.c.overload_drops += 1;
            self.trace_msg(node, "lost", slot, None, Some(format_args!("queue full")));
            if node == self.bank_node() {
                self.release_claim(slot);
            }
            self.free_slot(slot);
        }
    }

    /// Releases the key's lock if purchase `slot` holds it (`in_progress: Conflict`).
    fn release_claim(&mut self, slot: u32) {
        let m = &self.msgs[slot as usize];
        if let (Some(busy), true) = (&mut self.bank.in_progress, m.claimed()) {
            busy.remove(&m.key);
        }
    }

    /// With `in_progress: Unlocked`, reads the idempotency table for purchase `slot` as the
    /// bank starts processing it, and keeps what it found in the message (its code plus one,
    /// or 0 for none) for the commit.
    #[cold]
    fn read_key_unlocked(&mut self, slot: u32) {
        let now = self.sched.now();
        let m = &mut self.msgs[slot as usize];
        let found = self.bank.idem.as_mut().and_then(|t| t.lookup(m.key, now));
        m.rc = found.map_or(0, |c| c + 1);
        m.stan_repeat |= CLAIM_BIT;
    }

    fn start_service(&mut self, node: Node, slot: u32) {
        if self.bank.unlocked
            && node == self.bank_node()
            && self.msgs[slot as usize].kind == Kind::Purchase
        {
            self.read_key_unlocked(slot);
        }
        let (epoch, d, lane, intent) = {
            let m = &self.msgs[slot as usize];
            let ident = [
                family::SERVICE,
                u64::from(node - self.n_terms),
                m.intent,
                m.ident(m.kind as u64),
                u64::from(m.dupgen),
            ];
            let intent = m.intent as u32;
            let mut fate = Fate::new(self.seed, &ident);
            let srv = self.server(node);
            (srv.epoch, srv.dist.sample(&mut fate), srv.lane, intent)
        };
        self.msgs[slot as usize].epoch = epoch;
        self.sched
            .schedule_in_on(lane, d, Ev::Service { slot, node, intent });
    }

    fn on_service(&mut self, slot: u32) -> Result<(), SimError> {
        let node = self.msgs[slot as usize].to;
        let epoch = self.msgs[slot as usize].epoch;
        let unlocked_bank = node == self.bank_node() && self.bank.unlocked;
        let srv = self.server(node);
        if srv.epoch != epoch {
            self.free_slot(slot);
            return Ok(());
        }
        if unlocked_bank {
            // The next request's processing starts as this one's ends: it reads the table
            // after this one's commit has written it. A crash at the commit loses it, queued.
            let next = srv.queue.pop_front();
            if next.is_none() {
                srv.busy -= 1;
            }
            self.bank_process(slot);
            if let Some(next) = next {
                if self.server(node).epoch == epoch {
                    self.start_service(node, next);
                } else {
                    self.free_slot(next);
                }
            }
            return Ok(());
        }
        match srv.queue.pop_front() {
            Some(next) => self.start_service(node, next),
            None => srv.busy -= 1,
        }
        if node == self.bank_node() {
            self.bank_process(slot);
        } else {
            let next = self.hop_forward(node);
            self.transmit(slot, node, next);
        }
        Ok(())
    }

    // ----- the bank ------------------------------------------------------------------------

    fn idem_store(&mut self, key: u64, code: u8) {
        let now = self.sched.now();
        if let Some(t) = &mut self.bank.idem {
            t.store(key, code, now);
        }
    }

    /// Whether the bank has posted a debit from the terminal and STAN of purchase `m`, sent
    /// at the same time (ISO 8583 matches the STAN with the original's transmission time,
    /// which a repeat keeps). An intent's transactions all run on one terminal, and a terminal
    /// gives each new attempt a new key and a new STAN, and a repeat both of its original's:
    /// so a posting of the intent under the message's key is one under its STAN and time. A
    /// STAN that the terminal reuses after wrapping past 999,999 comes with a new time, and a
    /// new key: a new purchase.
    fn stan_posted(&self, m: &Msg) -> bool {
        self.bank
            .intents
            .get(m.intent)
            .is_some_and(|b| b.postings.iter().any(|(k, _)| *k == m.key))
    }

    /// Counts and traces a purchase the bank answers without posting it, as seen before.
    fn deduplicated(&mut self, slot: u32, why: std::fmt::Arguments<'_>) {
        self.c.dedup_hits += 1;
        let bank = self.bank_node();
        self.trace_msg(bank, "dedup", slot, None, Some(why));
    }

    fn bank_process(&mut self, slot: u32) {
        let bank = self.bank_node();
        let now = self.sched.now();
        let m = self.msgs[slot as usize].clone();
        let code = match m.kind {
            Kind::Purchase => {
                self.release_claim(slot);
                let cached = if self.bank.unlocked && m.claimed() {
                    // What the table held when processing began, whatever it holds now.
                    m.rc.checked_sub(1)
                } else {
                    self.bank.idem.as_mut().and_then(|t| t.lookup(m.key, now))
                };
                let order_paid = self.sc.bank.order_dedup.is_some_and(|w| {
                    self.bank
                        .intents
                        .get(m.intent)
                        .and_then(|b| b.paid_at)
                        .is_some_and(|at| now.saturating_since(at) <= w.get())
                });
                let voided = self
                    .bank
                    .intents
                    .get(m.intent)
                    .is_some_and(|b| b.voided.contains(&m.key));
                if voided {
                    self.trace_msg(bank, "refuse", slot, None, Some(format_args!("key voided")));
                    rc::VOIDED
                } else if let Some(code) = cached {
                    self.deduplicated(slot, format_args!("idempotency key seen"));
                    code
                } else if self.sc.bank.stan_dedup && self.stan_posted(&m) {
                    self.deduplicated(slot, format_args!("STAN {} already posted", m.stan()));
                    rc::DUPLICATE
                } else if order_paid {
                    self.msgs[slot as usize].stan_repeat |= ORDER_PAID_BIT;
                    self.deduplicated(slot, format_args!("order already paid"));
                    rc::DUPLICATE
                } else if self.bank.accounts[m.account as usize] < m.amount {
                    self.idem_store(m.key, rc::INSUFFICIENT_FUNDS);
                    rc::INSUFFICIENT_FUNDS
                } else {
                    self.bank.accounts[m.account as usize] -= m.amount;
                    self.bank.merchant += u128::from(m.amount);
                    let record = self
                        .bank
                        .intents
                        .get_or_insert_with(m.intent, BankIntent::default);
                    record.postings.push((
                        m.key,
                        Posting {
                            amount: m.amount,
                            account: m.account,
                            reversed: false,
                        },
                    ));
                    if self.sc.bank.order_dedup.is_some() {
                        record.paid_at = Some(now);
                    }
                    self.bank.commits += 1;
                    self.oracle.debit(m.intent, m.amount, now);
                    self.idem_store(m.key, rc::APPROVED);
                    self.trace_msg(
                        bank,
                        "debit",
                        slot,
                        None,
                        Some(format_args!("amount {}", m.amount)),
                    );
                    let crash = self.after_commit.get(&self.bank.commits).copied();
                    if let Some(src) = crash {
                        // The debit is committed; the reply never leaves.
                        self.crash(src);
                        self.free_slot(slot);
                        return;
                    }
                    let mut fate = Fate::new(
                        self.seed,
                        &[family::BANK, m.intent, m.ident(0), u64::from(m.dupgen)],
                    );
                    let random_err = m.intent < self.faulty_below
                        && fate.chance(self.sc.bank.erroneous_replies.prob);
                    let id = MsgId {
                        link: LinkName::AcquirerBank,
                        to_bank: true,
                        intent: m.intent,
                        txn: m.txn,
                        attempt: m.attempt,
                        kind: MsgKind::Purchase,
                        copy: m.dupgen,
                        round: 0,
                    };
                    let err = match &self.schedule {
                        Some(s) => s.erroneous.contains(&id),
                        None => random_err,
                    };
                    if err {
                        self.fault_strikes_now();
                        if let Some(r) = &mut self.recorded {
                            r.erroneous.push(id);
                        }
                        self.c.erroneous_replies += 1;
                        if self
                            .sc
                            .bank
                            .idempotency
                            .as_ref()
                            .is_some_and(|i| i.replay == Replay::FirstReply)
                        {
                            self.idem_store(m.key, rc::MALFUNCTION);
                        }
                        rc::MALFUNCTION
                    } else {
                        rc::APPROVED
                    }
                }
            }
            Kind::Reversal => {
                let record = self
                    .bank
                    .intents
                    .get_or_insert_with(m.intent, BankIntent::default);
                // A late copy of the original must not be posted after its reversal.
                if !record.voided.contains(&m.key) {
                    record.voided.push(m.key);
                }
                let posting = record
                    .postings
                    .iter_mut()
                    .find(|(k, p)| *k == m.key && !p.reversed)
                    .map(|(_, p)| p);
                match posting {
                    Some(p) => {
                        p.reversed = true;
                        let (intent, amount, account) = (m.intent, p.amount, p.account);
                        // The order stays paid while another of its debits stands.
                        if record.postings.iter().all(|(_, p)| p.reversed) {
                            record.paid_at = None;
                        }
                        self.bank.accounts[account as usize] += amount;
                        self.bank.merchant -= u128::from(amount);
                        self.oracle.credit(intent, amount, now);
                        self.trace_msg(
                            bank,
                            "reverse",
                            slot,
                            None,
                            Some(format_args!("amount {amount}")),
                        );
                    }
                    None => {
                        // A repeat of a reversal already posted (its answer lost or late), or a
                        // reversal with nothing to undo yet: the original not posted (yet).
                        let repeat = record.postings.iter().any(|(k, _)| *k == m.key);
                        let why = if repeat {
                            "already reversed"
                        } else {
                            "nothing posted under the key"
                        };
                        self.trace_msg(bank, "void", slot, None, Some(format_args!("{why}")));
                    }
                }
                rc::APPROVED
            }
            Kind::Inquiry => {
                let record = self
                    .bank
                    .intents
                    .get_or_insert_with(m.intent, BankIntent::default);
                let posted = record
                    .postings
                    .iter()
                    .any(|(k, p)| *k == m.key && !p.reversed);
                if posted {
                    rc::APPROVED
                } else if !record.voided.contains(&m.key)
                    && self
                        .bank
                        .in_progress
                        .as_ref()
                        .is_some_and(|busy| busy.contains(&m.key))
                {
                    // A purchase under the key holds its lock: its outcome is not known yet, and
                    // the bank, knowing it is running, says so rather than "not found".
                    self.c.conflicts += 1;
                    self.trace_msg(
                        bank,
                        "in-progress",
                        slot,
                        None,
                        Some(format_args!(
                            "inquiry: the key's purchase is being processed"
                        )),
                    );
                    rc::IN_PROGRESS
                } else if self.sc.bank.inquiry == InquiryAnswer::VoidsKey {
                    if !record.voided.contains(&m.key) {
                        record.voided.push(m.key);
                    }
                    self.trace_msg(
                        bank,
                        "void",
                        slot,
                        None,
                        Some(format_args!("inquiry found nothing")),
                    );
                    rc::NOT_FOUND
                } else {
                    self.trace_msg(
                        bank,
                        "not-found",
                        slot,
                        None,
                        Some(format_args!("inquiry found nothing; the key stays open")),
                    );
                    rc::NOT_FOUND
                }
            }
            _ => unreachable!("the bank receives requests only"),
        };
        self.make_reply(slot, code);
        let delay = if m.kind == Kind::Purchase {
            self.bank_reply.sample(&mut Fate::new(
                self.seed,
                &[family::BANK, m.intent, m.ident(0), u64::from(m.dupgen), 1],
            ))
        } else {
            SimDuration::ZERO
        };
        if delay.is_zero() {
            let back = self.hop_back(bank, slot);
            self.transmit(slot, bank, back);
        } else {
            self.sched
                .schedule_in_on(self.lanes.bank_reply, delay, Ev::BankReply(slot));
        }
    }

    /// Turns the request in `slot` into the bank's reply to it, with `code`.
    #[inline]
    fn make_reply(&mut self, slot: u32, code: u8) {
        let epoch = self.bank_srv.epoch;
        {
            let msg = &mut self.msgs[slot as usize];
            msg.kind = msg.kind.response();
            msg.rc = code;
            msg.epoch = epoch;
            msg.id = 0;
        }
        let id = self.new_msg_id();
        self.msgs[slot as usize].id = id;
    }

    /// Answers the request in `slot` with `code` at once, without processing it.
    #[cold]
    fn bank_reply_now(&mut self, slot: u32, code: u8) {
        self.make_reply(slot, code);
        let bank = self.bank_node();
        let back = self.hop_back(bank, slot);
        self.transmit(slot, bank, back);
    }

    fn on_bank_reply(&mut self, slot: u32) -> Result<(), SimError> {
        let bank = self.bank_node();
        if self.msgs[slot as usize].epoch != self.bank_srv.epoch || self.bank_srv.down > 0 {
            self.trace_msg(
                bank,
                "lost",
                slot,
                None,
                Some(format_args!("bank crashed before replying")),
            );
            self.free_slot(slot);
            return Ok(());
        }
        let back = self.hop_back(bank, slot);
        self.transmit(slot, bank, back);
        Ok(())
    }

    // ----- workload ------------------------------------------------------------------------

    /// The time of terminal `term`'s purchase number `k` (from 0), after `after`.
    fn next_arrival(&self, term: u32, k: u64, after: SimTime) -> SimTime {
        let mut fate = Fate::new(self.seed, &[family::WORKLOAD, u64::from(term), k, 0]);
        let gap = self.sc.workload.inter_arrival.0.sample(&mut fate);
        // A zero gap would let one terminal issue forever at one instant.
        after.saturating_add(gap.max(SimDuration::from_nanos(1)))
    }

    /// Stops issuing once the workload's count is reached or its next purchase would fall
    /// after its duration.
    fn check_issuing(&mut self) {
        let w = &self.sc.workload;
        let next = self.arrivals.peek().map(|(at, _)| at);
        let more = next.is_some_and(|at| {
            w.purchases.is_none_or(|n| self.issued < n)
                && w.duration.is_none_or(|d| at.as_nanos() <= d.0.as_nanos())
        });
        if more {
            self.next_arrival_at = next;
        } else {
            self.stop_issuing();
        }
    }

    /// A drop, duplicate or erroneous reply strikes, a random one or a schedule's, whenever
    /// its message is sent (a retry of a purchase issued in the window, after issuing too):
    /// the liveness bound counts from the last fault. For every payment: a fault on one
    /// payment holds up those behind it in its terminal's line or at a busy server.
    fn fault_strikes_now(&mut self) {
        self.oracle.fault_until(self.sched.now());
    }

    fn stop_issuing(&mut self) {
        self.next_arrival_at = None;
        let now = self.sched.now();
        // Without `until`, random crashes stop with the workload; with it, at `until`.
        if self.sc.faults.until.is_none() {
            self.crashes_active = false;
            if random_faults(self.sc) {
                self.oracle.fault_until(now);
                self.oracle.faults_last_till_now(false);
            }
        }
        let issued = self.issued;
        self.trace(
            NodeLabel::Customers,
            "stop-issuing",
            None,
            Some(format_args!("{issued} purchases")),
        );
    }

    /// Starts loading what the next queued events will read, so that the misses of a large
    /// model (a million terminals) overlap the handling of the current event: for each group
    /// of upcoming events the queue forms, all of theirs at once, well ahead; and for the next
    /// event, which may not be in a group (a timer, a service that takes no time).
    #[inline(always)]
    fn prefetch_next(&mut self) {
        // Looking at the next event first lets the queue form its next group.
        let next = self.sched.peek().copied();
        let runs = {
            let (runs, group) = self.sched.upcoming();
            if runs != self.prefetched_runs {
                for &ev in group {
                    self.prefetch_reads(ev);
                }
            }
            runs
        };
        self.prefetched_runs = runs;
        if let Some(ev) = next {
            if !self.sched.next_is_upcoming() {
                self.prefetch_reads(ev);
            }
            self.prefetch_deep(ev);
        }
    }

    /// Starts loading what `ev` reads first: its message, its terminal, and the intent's
    /// entries in the tables it reads, all at once so that their misses overlap.
    #[inline(always)]
    fn prefetch_reads(&self, ev: Ev) {
        if let Ev::MainTimer { timer, .. } = ev {
            if !self.timers.is_live(timer) {
                // Cancelled: it will not read its terminal.
                return;
            }
        }
        let r = first_reads(ev);
        if let Some(m) = r.slot.and_then(|s| self.msgs.get(s as usize)) {
            prefetch(m);
        }
        let Some(node) = r.node else {
            return;
        };
        if let Some(t) = self.terms.get(node as usize) {
            prefetch(t);
        }
        let Some(intent) = r.intent else {
            return;
        };
        if node < self.n_terms {
            // The intent's entry holds the terminal's transaction; the answer settles it.
            self.intents.prefetch_low(intent);
            self.oracle.prefetch_low(intent);
        } else if node == self.bank_node() {
            // Also on delivery: with no processing time the bank's service follows it at
            // once, too soon to be seen here as the next event.
            self.bank.intents.prefetch_low(intent);
            self.oracle.prefetch_low(intent);
            if let Some(t) = &self.bank.idem {
                t.prefetch_low(intent);
            }
        }
    }

    /// The second step for a delivery to the bank: the account its message names. The message
    /// was asked for with the delivery's group, well ahead, so reading it here seldom waits.
    #[inline(always)]
    fn prefetch_deep(&self, ev: Ev) {
        if let Ev::Deliver { slot, to, .. } = ev {
            if to == self.bank_node() {
                if let Some(a) = self
                    .msgs
                    .get(slot as usize)
                    .and_then(|m| self.bank.accounts.get(m.account as usize))
                {
                    prefetch(a);
                }
            }
        }
    }

    fn on_arrival(&mut self) -> Result<(), SimError> {
        let (now, term) = self.arrivals.peek().expect("an arrival is due");
        debug_assert_eq!(now, self.sched.now());
        let k = self.terms[term as usize].arrivals;
        self.terms[term as usize].arrivals += 1;
        let next = self.next_arrival(term, k + 1, now);
        self.arrivals.replace_first(next);
        if self.prefetching {
            if let Some((_, t)) = self.arrivals.peek() {
                prefetch(&self.terms[t as usize]);
                self.arrivals.prefetch(t);
            }
            // The next purchase's records, which it will write first.
            self.intents.prefetch_next(self.issued + 1);
            self.oracle.prefetch_next(self.issued + 1);
        }
        let w = &self.sc.workload;
        let mut fate = Fate::new(self.seed, &[family::WORKLOAD, u64::from(term), k, 1]);
        let span = w.amount.max - w.amount.min;
        let amount =
            w.amount.min + ((u128::from(fate.next_u64()) * (u128::from(span) + 1)) >> 64) as u64;
        let account =
            ((u128::from(fate.next_u64()) * u128::from(self.sc.bank.accounts.0)) >> 64) as u32;
        let intent = self.issued;
        if intent >= crate::config::MAX_PURCHASES {
            // Only a workload bounded by `duration` alone gets here, after days of running.
            return Err(SimError::Invalid(format!(
                "the workload issued {intent} purchases, the most a run can number (a key holds \
                 a purchase's number in 39 bits): bound it with `purchases`"
            )));
        }
        self.issued += 1;
        if self
            .sc
            .faults
            .until
            .is_none_or(|u| now.as_nanos() < u.0.as_nanos())
        {
            self.faulty_below = self.issued;
        }
        if intent.is_multiple_of(BLOCK_IDS) {
            self.spill_stragglers();
        }
        if w.only
            .as_ref()
            .is_some_and(|only| only.binary_search(&intent).is_err())
        {
            self.check_issuing();
            return Ok(());
        }
        self.intents.insert(
            intent,
            IntentOps {
                refs: 0,
                terminal: term,
                amount,
                account,
                txns: 0,
                approved_keys: Few::None,
                txn: None,
            },
        );
        self.oracle.issue(intent, amount, now);
        self.trace(
            NodeLabel::Terminal(term),
            "purchase",
            Some(intent),
            Some(format_args!("amount {amount} account {account}")),
        );
        let mut cf = Fate::new(self.seed, &[family::CUSTOMER, intent, 0]);
        let double = cf.chance(w.double_submit.prob);
        self.enqueue_job(term, intent);
        if double {
            self.c.double_submits += 1;
            self.trace(
                NodeLabel::Terminal(term),
                "double-submit",
                Some(intent),
                None,
            );
            self.enqueue_job(term, intent);
        }
        self.pump(term);
        self.note_line(term);
        self.check_issuing();
        Ok(())
    }

    /// Counts the customers waiting at `term` towards the longest line, once the terminal
    /// has taken the first of them if it was free: as a server's queue, the line is what waits
    /// behind a busy (or crashed) terminal, not who is being served.
    fn note_line(&mut self, term: u32) {
        let waiting = self.terms[term as usize].waiting.len();
        self.c.peak_terminal_queue = self.c.peak_terminal_queue.max(waiting);
    }

    /// Puts a transaction of `intent` in the terminal's line; returns its number.
    fn enqueue_job(&mut self, term: u32, intent: u64) -> u8 {
        let ops = self.intents.get_mut(intent).expect("intent is live");
        let job = Job {
            intent,
            txn: ops.txns,
        };
        let txn = job.txn;
        ops.txns = ops.txns.saturating_add(1);
        ops.refs += 1;
        self.c.transactions += 1;
        self.terms[term as usize].waiting.push(job);
        txn
    }

    fn on_pay_again(&mut self, intent: u64) -> Result<(), SimError> {
        let term = self
            .intents
            .get(intent)
            .expect("held by the event")
            .terminal;
        self.c.pay_again += 1;
        self.paying_again -= 1;
        self.trace(NodeLabel::Terminal(term), "pay-again", Some(intent), None);
        let txn = self.enqueue_job(term, intent);
        self.oracle.ask_again(intent, txn, self.sched.now());
        self.release(intent);
        self.pump(term);
        self.note_line(term);
        Ok(())
    }

    // ----- terminals -----------------------------------------------------------------------

    fn arm_main(&mut self, term: u32, at: SimTime) {
        let t = &mut self.terms[term as usize];
        self.timers.cancel(t.main_timer);
        let timer = self.timers.arm();
        t.main_timer = timer;
        self.sched
            .schedule_at_on(self.lanes.timer, at, Ev::MainTimer { term, timer })
            .expect("timers are set in the future");
    }

    fn arm_saf(&mut self, term: u32) {
        self.saf_gen = self.saf_gen.checked_add(1).unwrap_or(1);
        let gen = self.saf_gen;
        self.terms[term as usize].saf_mut().gen = gen;
        self.sched.schedule_in_on(
            self.lanes.saf,
            self.policy.reversal_timeout(),
            Ev::SafTimer { term, gen },
        );
    }

    fn next_stan(&mut self, term: u32) -> u32 {
        let t = &mut self.terms[term as usize];
        t.stan = (u64::from(t.stan) % STAN_CYCLE) as u32 + 1;
        t.stan
    }

    /// Moves the terminal forward: reversals first, then the current transaction, then the
    /// next customer in line.
    fn pump(&mut self, term: u32) {
        let t = &self.terms[term as usize];
        if t.down > 0 || t.saf_inflight {
            return;
        }
        self.abandon_spent_reversal(term);
        let t = &self.terms[term as usize];
        if let Some(phase) = txn_of(&self.intents, t).map(|c| c.phase) {
            match phase {
                Phase::Waiting | Phase::Inquiring | Phase::Backoff(_) => return,
                Phase::Blocked(next) => {
                    if t.saf_empty() {
                        let cur = txn_of(&self.intents, t).expect("a transaction is current");
                        let (started, attempts, intent) = (cur.started, cur.attempts, cur.intent);
                        if next == Next::Purchase && attempts > 0 && self.past_deadline(started) {
                            // The retry waited behind reversals past the deadline, which no
                            // attempt may start after: the policy's give-up, late.
                            self.trace(NodeLabel::Terminal(term), "deadline", Some(intent), None);
                            self.finish_txn(term, Answer::Failed);
                        } else {
                            self.send_next(term, next);
                        }
                    } else {
                        self.send_reversal(term);
                    }
                    return;
                }
            }
        }
        if !t.saf_empty() {
            self.send_reversal(term);
            return;
        }
        let waiting = &mut self.terms[term as usize].waiting;
        if waiting.is_empty() {
            return;
        }
        let job = waiting.remove(0);
        if waiting.is_empty() && waiting.spilled() {
            // Back inline: a line that once held two must not keep its heap block for the rest
            // of the run, at a million terminals a block each.
            waiting.shrink_to_fit();
        }
        let now = self.sched.now();
        let intent = job.intent;
        self.intents
            .get_mut(intent)
            .expect("a job's intent is held")
            .txn = Some(Txn {
            intent,
            txn: job.txn,
            started: now,
            attempts: 0,
            inquiries: 0,
            heard: 0,
            key: 0,
            stan: 0,
            outstanding: Few::None,
            phase: Phase::Blocked(Next::Purchase),
            prev_backoff: SimDuration::ZERO,
            hedge_at: SimTime::ZERO,
            timeout_at: now,
            fresh_next: true,
            hedged: false,
        });
        self.terms[term as usize].cur = intent + 1;
        self.send_next(term, Next::Purchase);
    }

    fn send_next(&mut self, term: u32, next: Next) {
        self.abandon_spent_reversal(term);
        let t = &self.terms[term as usize];
        if !t.saf_empty() || t.saf_inflight {
            let inflight = t.saf_inflight;
            txn_of_mut(&mut self.intents, t)
                .expect("a transaction is current")
                .phase = Phase::Blocked(next);
            if !inflight {
                self.send_reversal(term);
            }
            return;
        }
        match next {
            Next::Purchase => self.send_purchase(term, false),
            Next::Inquiry => self.send_inquiry(term),
        }
    }

    /// Sends the transaction's next purchase attempt; `hedge_copy`: a backup copy of the attempt
    /// in flight, which keeps that attempt's timeout.
    fn send_purchase(&mut self, term: u32, hedge_copy: bool) {
        let now = self.sched.now();
        let fresh = txn_of(&self.intents, &self.terms[term as usize])
            .expect("current")
            .fresh_next;
        let stan = if fresh { self.next_stan(term) } else { 0 };
        let budget = self.budget;
        let hedge = self.hedge;
        let timeout = self.timeout;
        let cur = txn_of_mut(&mut self.intents, &self.terms[term as usize]).expect("current");
        cur.attempts = cur.attempts.saturating_add(1);
        if cur.attempts == 1 {
            if let Some((cap, ratio)) = budget {
                let tokens = &mut self.tokens_milli[term as usize];
                *tokens = (*tokens + ratio).min(cap);
            }
        }
        let repeat = !fresh;
        if fresh {
            cur.key = make_key(cur.intent, cur.txn, cur.attempts);
            cur.stan = stan;
        }
        if self.key_mode == KeyMode::Fresh || !cur.outstanding.contains(&cur.key) {
            cur.outstanding.push(cur.key);
        }
        // After the first attempt, the policy's key mode decides.
        cur.fresh_next = self.key_mode == KeyMode::Fresh;
        cur.phase = Phase::Waiting;
        cur.hedged |= hedge_copy;
        if !hedge_copy {
            cur.timeout_at = now.saturating_add(timeout);
            // One backup request per transaction ("The Tail at Scale"), sent only while its
            // first attempt waits; the timeout still runs from that attempt's send, so
            // hedging never makes a customer wait longer.
            cur.hedge_at = hedge
                .filter(|h| *h < timeout && cur.attempts == 1)
                .map_or(SimTime::ZERO, |h| now.saturating_add(h));
        }
        let wake = if cur.hedge_at > SimTime::ZERO {
            cur.hedge_at
        } else {
            cur.timeout_at
        };
        let msg = Msg::request(
            Kind::Purchase,
            repeat,
            term,
            &cur.job(),
            cur.attempts,
            cur.stan,
            cur.key,
        );
        self.c.attempts += 1;
        // A hedge is counted apart: it answers no failure.
        if cur.attempts > 1 && !hedge_copy {
            self.c.retries += 1;
        }
        self.arm_main(term, wake);
        self.send_request(term, msg);
    }

    fn send_request(&mut self, term: u32, mut msg: Msg) {
        msg.id = self.new_msg_id();
        let ops = self
            .intents
            .get(msg.intent)
            .expect("a request's intent is held by its job");
        (msg.amount, msg.account) = (ops.amount, ops.account);
        let slot = self.alloc(msg);
        let acq = self.acq_node();
        self.transmit(slot, term, acq);
    }

    /// Asks the bank about the newest attempt whose outcome is unknown: the latest, or, once
    /// that is found not posted, the first attempt beside its hedge.
    fn send_inquiry(&mut self, term: u32) {
        let now = self.sched.now();
        let timeout = self.timeout;
        let cur = txn_of_mut(&mut self.intents, &self.terms[term as usize]).expect("current");
        cur.inquiries = cur.inquiries.saturating_add(1);
        cur.phase = Phase::Inquiring;
        cur.timeout_at = now.saturating_add(timeout);
        let key = cur
            .outstanding
            .as_slice()
            .last()
            .copied()
            .unwrap_or(cur.key);
        let msg = Msg::request(
            Kind::Inquiry,
            false,
            term,
            &cur.job(),
            cur.inquiries,
            stan_of(key, cur.key, cur.stan),
            key,
        );
        let at = cur.timeout_at;
        self.c.inquiries += 1;
        self.arm_main(term, at);
        self.send_request(term, msg);
    }

    fn send_reversal(&mut self, term: u32) {
        let t = &mut self.terms[term as usize];
        t.saf_inflight = true;
        let r = t.saf_mut().queue.front_mut().expect("a reversal is queued");
        r.sends = r.sends.saturating_add(1);
        // Reversals of different attempts of one transaction keep apart identities, and so do
        // the sends of one reversal: the first 65,535 as they always have, the later ones by
        // their round.
        let (low, round) = if r.sends <= 0xffff {
            (r.sends, 0)
        } else {
            (r.sends & 0xffff, (r.sends >> 16) & 0xff)
        };
        let attempt = ((r.key & 0xffff) as u32) << 16 | low;
        let mut msg = Msg::request(
            Kind::Reversal,
            r.sends > 1,
            term,
            &r.job,
            attempt,
            r.stan,
            r.key,
        );
        msg.stan_repeat |= round << ROUND_SHIFT;
        self.c.reversals_sent += 1;
        self.arm_saf(term);
        self.send_request(term, msg);
    }

    /// Reverses a debit a late approval shows: a reversal of its key still queued, which may
    /// have spent most of its sends before the debit was made, gets the policy's `max_sends`
    /// again from now; else one is queued. (It still reverses one posting: a bank that posted
    /// the key twice keeps one of them.)
    fn reverse_a_debit(&mut self, term: u32, rev: Rev) {
        let queued = self.terms[term as usize]
            .saf
            .as_mut()
            .and_then(|s| s.queue.iter_mut().find(|r| r.key == rev.key));
        let Some(r) = queued else {
            self.queue_reversal(term, rev);
            return;
        };
        r.renewed_at = r.sends;
        let (intent, key) = (r.job.intent, r.key);
        self.trace(
            NodeLabel::Terminal(term),
            "renew-reversal",
            Some(intent),
            Some(format_args!("key {key}: its debit is made")),
        );
    }

    fn queue_reversal(&mut self, term: u32, rev: Rev) {
        self.note_approved(rev.job.intent, reversing_mark(rev.key));
        let t = &self.terms[term as usize];
        if t.saf
            .as_ref()
            .is_some_and(|s| s.queue.iter().any(|r| r.key == rev.key))
        {
            return;
        }
        let (intent, key) = (rev.job.intent, rev.key);
        self.hold(intent);
        self.c.reversals_queued += 1;
        self.terms[term as usize].saf_mut().queue.push_back(rev);
        self.trace(
            NodeLabel::Terminal(term),
            "queue-reversal",
            Some(intent),
            Some(format_args!("key {key}")),
        );
    }

    /// With `reverse_late_approvals`, reverses the attempts beside the approved one whose
    /// outcome is unknown (a hedge, or the first attempt beside it): one debit is owed, and the
    /// other may be posted with its reply lost, where no late approval would come to be
    /// reversed.
    fn reverse_the_others(&mut self, term: u32, approved: u64) {
        if !self.policy.reverse_late_approvals() {
            return;
        }
        let cur = txn_of_mut(&mut self.intents, &self.terms[term as usize]).expect("current");
        if cur.outstanding.iter().all(|k| *k == approved) {
            return;
        }
        cur.outstanding.retain(|k| *k != approved);
        self.reverse_outstanding(term);
    }

    fn reverse_outstanding(&mut self, term: u32) {
        let cur = txn_of_mut(&mut self.intents, &self.terms[term as usize]).expect("current");
        let keys = std::mem::take(&mut cur.outstanding);
        let (job, latest, stan) = (cur.job(), cur.key, cur.stan);
        for &key in keys.iter() {
            self.queue_reversal(
                term,
                Rev {
                    job: job.clone(),
                    key,
                    stan: stan_of(key, latest, stan),
                    sends: 0,
                    renewed_at: 0,
                },
            );
        }
    }

    fn terminal_receive(&mut self, term: u32, slot: u32) -> Result<(), SimError> {
        let m = self.msgs[slot as usize].clone();
        self.free_slot_keep_intent(slot);
        let t = &self.terms[term as usize];
        let cur = txn_of(&self.intents, t);
        let matches_cur = cur.is_some_and(|c| c.intent == m.intent && c.txn == m.txn);
        match m.kind {
            Kind::PurchaseResp => {
                // A reply to an attempt the transaction still stands by, in whatever phase: an
                // approval that comes while the terminal backs off or inquires still approves.
                let approves = m.rc == rc::APPROVED
                    || (m.rc == rc::DUPLICATE && self.sc.terminal.reads_94_as == Reads94::Approved);
                // An approval that names its debit: a 00, or a 94 of the STAN check (the debit
                // under this very key). A 94 of the order check names none.
                let debit_here = approves && !(m.rc == rc::DUPLICATE && m.order_paid());
                let already = self
                    .intents
                    .get(m.intent)
                    .is_some_and(|o| o.approved_keys.contains(&m.key));
                // A terminal that inquires has let go of a key only on a "not found", which an
                // issuer that `ReportsOnly` may still post. Its approval, heard before a fresh
                // attempt goes out (while the terminal inquires or backs off), is the
                // transaction's answer, as it would be had an inquiry brought it; unless the
                // key was ever queued for reversal.
                let reconciled = matches_cur
                    && debit_here
                    && !already
                    && cur.is_some_and(|c| c.inquiries > 0 && c.phase != Phase::Waiting)
                    && !self.reversal_stands(term, m.intent, m.key);
                let open = reconciled
                    || (matches_cur && cur.is_some_and(|c| c.outstanding.contains(&m.key)));
                let waiting = open && cur.is_some_and(|c| c.phase == Phase::Waiting);
                if open && approves {
                    if reconciled {
                        self.recall_reversal(term, m.intent, m.key);
                    }
                    self.note_approved(m.intent, m.key);
                    // A 94 of the order check: the bank holds one debit of the order. If the
                    // terminal is about to reverse a late approval of it, that is the one;
                    // else its approval may still come, and is to be kept when it does. A 94
                    // of the STAN check names the debit under this key, noted above.
                    if m.rc == rc::DUPLICATE
                        && m.order_paid()
                        && !self.keep_the_order_paid(term, m.intent)
                    {
                        self.note_approved(m.intent, order_paid_mark(m.intent));
                    }
                    if debit_here {
                        self.reverse_the_others(term, m.key);
                    }
                    self.finish_txn(term, Answer::Approved);
                } else if waiting {
                    match m.rc {
                        // A 94 here is one the terminal reads as a decline.
                        rc::INSUFFICIENT_FUNDS | rc::DUPLICATE => {
                            self.finish_txn(term, Answer::Declined)
                        }
                        code => self.fail(term, Failure::ErrorReply(code))?,
                    }
                } else if open {
                    // An error for an attempt already given up on: the policy has decided.
                } else if already {
                    // A second copy of the reply that approved the payment.
                    self.trace(
                        NodeLabel::Terminal(term),
                        "duplicate-reply",
                        Some(m.intent),
                        Some(format_args!("key {}", m.key)),
                    );
                } else if debit_here {
                    self.c.late_approvals += 1;
                    let paid_by_order = self
                        .intents
                        .get(m.intent)
                        .is_some_and(|o| o.approved_keys.contains(&order_paid_mark(m.intent)));
                    self.trace(
                        NodeLabel::Terminal(term),
                        "late-approval",
                        Some(m.intent),
                        Some(format_args!(
                            "key {}{}",
                            m.key,
                            if paid_by_order {
                                ": the debit the order was approved by, kept"
                            } else {
                                ""
                            }
                        )),
                    );
                    // Reversing the debit a 94 approved would leave the customer told
                    // "approved" and not charged; any later one is a second debit.
                    if paid_by_order {
                        let mark = order_paid_mark(m.intent);
                        if let Some(o) = self.intents.get_mut(m.intent) {
                            o.approved_keys.retain(|k| *k != mark);
                            o.approved_keys.push(m.key);
                        }
                    } else if self.policy.reverse_late_approvals() {
                        let job = Job {
                            intent: m.intent,
                            txn: m.txn,
                        };
                        let rev = Rev {
                            job,
                            key: m.key,
                            stan: m.stan(),
                            sends: 0,
                            renewed_at: 0,
                        };
                        self.reverse_a_debit(term, rev);
                        self.pump(term);
                    }
                }
            }
            Kind::InquiryResp => {
                // Heard while inquiring, even after its inquiry timed out and while the next one
                // waits: an approval of any attempt of the transaction (under `ReportsOnly` a
                // key once "not found" may be posted after all); a "not found" about a key
                // still in doubt, or with none left, the latest (a policy may ask again). A
                // copy of a "not found" already heard is no news, nor is the answer to any
                // inquiry sent before the policy acted on one (its number, the message's
                // attempt, is not above `heard`).
                // An approval of a key the terminal reverses is no answer: the reversal undoes
                // that debit (unless it is still unsent, and recalled).
                let reversed = self.reversal_stands(term, m.intent, m.key);
                let waiting = matches_cur
                    && cur.is_some_and(|c| {
                        let asked = (m.rc == rc::APPROVED && !reversed)
                            || (m.attempt > c.heard
                                && match c.outstanding.as_slice() {
                                    [] => c.key == m.key,
                                    keys => keys.contains(&m.key),
                                });
                        asked && matches!(c.phase, Phase::Inquiring | Phase::Backoff(Next::Inquiry))
                    });
                if reversed && m.rc == rc::APPROVED && matches_cur {
                    self.trace(
                        NodeLabel::Terminal(term),
                        "refuse-approval",
                        Some(m.intent),
                        Some(format_args!("key {}: its reversal is under way", m.key)),
                    );
                }
                if waiting {
                    match m.rc {
                        rc::APPROVED if reversed => {}
                        rc::APPROVED => {
                            self.recall_reversal(term, m.intent, m.key);
                            self.note_approved(m.intent, m.key);
                            self.reverse_the_others(term, m.key);
                            self.finish_txn(term, Answer::Approved)
                        }
                        // The key's purchase is still being processed: no verdict yet. The
                        // inquiry's timeout runs on, and the policy decides then.
                        rc::IN_PROGRESS => self.trace(
                            NodeLabel::Terminal(term),
                            "in-progress",
                            Some(m.intent),
                            Some(format_args!("key {}: no verdict yet", m.key)),
                        ),
                        _ => {
                            let cur = txn_of_mut(&mut self.intents, &self.terms[term as usize])
                                .expect("current");
                            cur.outstanding.retain(|k| *k != m.key);
                            // "Not found" speaks for one key: with a hedge's beside it, the
                            // other may be posted, and is asked about before anything else.
                            if cur.outstanding.as_slice().is_empty() {
                                cur.heard = cur.inquiries;
                                self.fail(term, Failure::NotFound)?
                            } else if cur.phase == Phase::Inquiring {
                                self.send_next(term, Next::Inquiry)
                            }
                        }
                    }
                }
            }
            Kind::ReversalResp => {
                let t = &mut self.terms[term as usize];
                if t.saf_inflight && t.saf_front().is_some_and(|r| r.key == m.key) {
                    let r = t.saf_mut().queue.pop_front().expect("front exists");
                    t.saf_inflight = false;
                    t.bump_saf_gen();
                    t.saf_done();
                    self.c.reversals_acked += 1;
                    self.release(r.job.intent);
                    self.pump(term);
                }
            }
            _ => {}
        }
        self.release(m.intent);
        Ok(())
    }

    /// Drops the first reversal of `intent` still waiting at terminal `term`, if there is one,
    /// and says whether it did: a 94 says the bank holds the order's one debit, which that
    /// reversal, of a late approval, would undo. One already sent cannot be recalled.
    #[cold]
    #[inline(never)]
    fn keep_the_order_paid(&mut self, term: u32, intent: u64) -> bool {
        let t = &mut self.terms[term as usize];
        let inflight = usize::from(t.saf_inflight);
        let Some(saf) = t.saf.as_mut() else {
            return false;
        };
        let Some(at) = (inflight..saf.queue.len()).find(|&i| saf.queue[i].job.intent == intent)
        else {
            return false;
        };
        let key = saf.queue.remove(at).map(|r| r.key);
        t.saf_done();
        self.trace(
            NodeLabel::Terminal(term),
            "drop-reversal",
            Some(intent),
            Some(format_args!(
                "key {}: the order is paid by it",
                key.unwrap_or(0)
            )),
        );
        self.release(intent);
        true
    }

    /// Whether the terminal queued a reversal of `key` of `intent` (see [`reversing_mark`]).
    fn reversed(&self, intent: u64, key: u64) -> bool {
        self.intents
            .get(intent)
            .is_some_and(|o| o.approved_keys.contains(&reversing_mark(key)))
    }

    /// Whether an approval of `key` of `intent` cannot be the answer: the terminal queued a
    /// reversal of it, which may have reached the bank; one still waiting unsent in
    /// terminal `term`'s queue can be recalled (see [`Sim::recall_reversal`]).
    fn reversal_stands(&self, term: u32, intent: u64, key: u64) -> bool {
        self.reversed(intent, key) && self.unsent_reversal(term, key).is_none()
    }

    /// Where in terminal `term`'s queue a reversal of `key` waits, never sent.
    fn unsent_reversal(&self, term: u32, key: u64) -> Option<usize> {
        let t = &self.terms[term as usize];
        let saf = t.saf.as_ref()?;
        (usize::from(t.saf_inflight)..saf.queue.len())
            .find(|&i| saf.queue[i].key == key && saf.queue[i].sends == 0)
    }

    /// Takes back a reversal of `key` of `intent` that was queued but never sent, if there
    /// is one, when its approval becomes the answer: the debit it would undo is the one the
    /// customer is told of.
    fn recall_reversal(&mut self, term: u32, intent: u64, key: u64) {
        let Some(at) = self.unsent_reversal(term, key) else {
            return;
        };
        let t = &mut self.terms[term as usize];
        t.saf_mut().queue.remove(at);
        t.saf_done();
        if let Some(o) = self.intents.get_mut(intent) {
            o.approved_keys.retain(|k| *k != reversing_mark(key));
        }
        self.trace(
            NodeLabel::Terminal(term),
            "drop-reversal",
            Some(intent),
            Some(format_args!("key {key}: its approval is the answer")),
        );
        self.release(intent);
    }

    fn note_approved(&mut self, intent: u64, key: u64) {
        if let Some(o) = self.intents.get_mut(intent) {
            if !o.approved_keys.contains(&key) {
                o.approved_keys.push(key);
            }
        }
    }

    /// Frees a slot whose intent reference the caller releases itself, after acting on it.
    fn free_slot_keep_intent(&mut self, slot: u32) {
        self.free.push(slot);
    }

    fn fail(&mut self, term: u32, failure: Failure) -> Result<(), SimError> {
        let now = self.sched.now();
        let cur = txn_of(&self.intents, &self.terms[term as usize]).expect("current");
        let ctx = FailureCtx {
            failure,
            attempts: cur.attempts,
            hedges: u32::from(cur.hedged),
            inquiries: cur.inquiries,
            elapsed: now.saturating_since(cur.started),
            previous_backoff: cur.prev_backoff,
        };
        let mut fate = Fate::new(
            self.seed,
            &[
                family::POLICY,
                cur.intent,
                u64::from(cur.txn),
                policy_word(cur.attempts, cur.inquiries),
            ],
        );
        let (intent, txn) = (cur.intent, cur.txn);
        let action = self.policy.on_failure(&ctx, &mut fate);
        let endless = match action {
            Action::Retry { .. } | Action::ReverseThenRetry { .. } => ctx.attempts >= PER_TXN,
            // An outage may outlast any number of inquiries that time out; asking again what
            // the bank has answered is the loop that never ends.
            Action::Inquire { .. } => {
                ctx.inquiries >= PER_TXN
                    && !matches!(ctx.failure, Failure::Timeout | Failure::InquiryTimeout)
            }
            Action::GiveUp | Action::ReverseAndGiveUp => false,
        };
        if endless {
            return Err(SimError::Endless {
                policy: self.policy.describe(),
                intent,
                txn,
                attempts: ctx.attempts,
                inquiries: ctx.inquiries,
            });
        }
        let what = match failure {
            Failure::Timeout => "timeout",
            Failure::ErrorReply(_) => "error-reply",
            Failure::NotFound => "not-found",
            Failure::InquiryTimeout => "inquiry-timeout",
        };
        if T::ENABLED {
            let plan = match action {
                Action::Retry { after } => format!("retry after {after}"),
                Action::ReverseThenRetry { after } => format!("reverse, then retry after {after}"),
                Action::Inquire { after } => format!("inquire after {after}"),
                Action::GiveUp => "give up".to_string(),
                Action::ReverseAndGiveUp => "reverse and give up".to_string(),
            };
            self.trace(
                NodeLabel::Terminal(term),
                what,
                Some(intent),
                Some(format_args!("{plan}")),
            );
        }
        let retry_allowed = |s: &mut Self| -> bool {
            match s.budget {
                None => true,
                Some(_) => {
                    let tokens = &mut s.tokens_milli[term as usize];
                    if *tokens >= 1000 {
                        *tokens -= 1000;
                        true
                    } else {
                        s.c.budget_refusals += 1;
                        false
                    }
                }
            }
        };
        match action {
            Action::Retry { after } | Action::ReverseThenRetry { after } => {
                let reverse = matches!(action, Action::ReverseThenRetry { .. });
                if !retry_allowed(self) {
                    if reverse {
                        self.reverse_outstanding(term);
                    }
                    self.finish_txn(term, Answer::Failed);
                    return Ok(());
                }
                if reverse {
                    self.reverse_outstanding(term);
                }
                let fresh = reverse || self.key_mode == KeyMode::Fresh;
                let cur =
                    txn_of_mut(&mut self.intents, &self.terms[term as usize]).expect("current");
                if fresh {
                    cur.outstanding.clear();
                }
                cur.fresh_next = fresh;
                cur.prev_backoff = after;
                cur.phase = Phase::Backoff(Next::Purchase);
                self.arm_main(term, now.saturating_add(after));
            }
            Action::Inquire { after } => {
                let cur =
                    txn_of_mut(&mut self.intents, &self.terms[term as usize]).expect("current");
                cur.prev_backoff = after;
                cur.phase = Phase::Backoff(Next::Inquiry);
                self.arm_main(term, now.saturating_add(after));
            }
            Action::GiveUp => self.finish_txn(term, Answer::Failed),
            Action::ReverseAndGiveUp => {
                self.reverse_outstanding(term);
                self.finish_txn(term, Answer::Failed);
            }
        }
        Ok(())
    }

    /// Whether a transaction that began at `started` may start no more attempts.
    fn past_deadline(&self, started: SimTime) -> bool {
        self.sched.now().saturating_since(started) >= self.sc.policy.attempt_deadline()
    }

    fn on_main_timer(&mut self, term: u32) -> Result<(), SimError> {
        let now = self.sched.now();
        let Some(cur) = txn_of_mut(&mut self.intents, &self.terms[term as usize]) else {
            return Ok(());
        };
        match cur.phase {
            Phase::Waiting => {
                if cur.hedge_at > SimTime::ZERO && cur.hedge_at <= now {
                    cur.hedge_at = SimTime::ZERO;
                    let in_time =
                        now.saturating_since(cur.started) < self.sc.policy.attempt_deadline();
                    if cur.attempts < self.sc.policy.max_attempts.0 && in_time {
                        let intent = cur.intent;
                        self.c.hedges += 1;
                        self.trace(NodeLabel::Terminal(term), "hedge", Some(intent), None);
                        self.send_purchase(term, true);
                    } else {
                        let at = cur.timeout_at;
                        self.arm_main(term, at);
                    }
                } else {
                    self.fail(term, Failure::Timeout)?;
                }
            }
            Phase::Inquiring => self.fail(term, Failure::InquiryTimeout)?,
            Phase::Backoff(next) => self.send_next(term, next),
            Phase::Blocked(_) => {}
        }
        Ok(())
    }

    fn on_saf_timer(&mut self, term: u32) -> Result<(), SimError> {
        let t = &mut self.terms[term as usize];
        if !t.saf_inflight || t.down > 0 {
            return Ok(());
        }
        t.saf_inflight = false;
        // `pump` abandons the reversal if it was sent as often as the policy allows.
        self.pump(term);
        Ok(())
    }

    /// Abandons the reversal at the front of `term`'s queue if it was sent as often as the
    /// policy allows and none of its sends is awaited: its timer abandons it then, and a crash
    /// of the terminal, which cancels that timer, must not lead to one more send when the
    /// terminal recovers.
    fn abandon_spent_reversal(&mut self, term: u32) {
        let t = &mut self.terms[term as usize];
        if t.saf.is_none() || t.saf_inflight {
            return;
        }
        // A queued reversal is sent at least once: `Some(0)` counts as `Some(1)`.
        let Some(max) = self.policy.reversal_max_sends().map(|m| m.max(1)) else {
            return;
        };
        if t.saf_front()
            .is_none_or(|r| r.sends < r.renewed_at.saturating_add(max))
        {
            return;
        }
        let r = t.saf_mut().queue.pop_front().expect("front");
        t.saf_done();
        self.c.reversals_abandoned += 1;
        self.trace(
            NodeLabel::Terminal(term),
            "abandon-reversal",
            Some(r.job.intent),
            Some(format_args!("after {} sends", r.sends)),
        );
        self.release(r.job.intent);
    }

    fn finish_txn(&mut self, term: u32, answer: Answer) {
        let now = self.sched.now();
        let t = &mut self.terms[term as usize];
        let intent = std::mem::take(&mut t.cur).checked_sub(1).expect("current");
        self.timers.cancel(std::mem::take(&mut t.main_timer));
        let ops = self.intents.get_mut(intent).expect("current");
        let (attempts, txn) = {
            let cur = ops.txn.as_ref().expect("current");
            (cur.attempts, cur.txn)
        };
        // Dropped in place rather than moved out: it is most of a cache line's worth of copying.
        ops.txn = None;
        self.oracle.answer(intent, txn, answer, now);
        self.trace(
            NodeLabel::Terminal(term),
            "answer",
            Some(intent),
            Some(format_args!("{answer:?} after {attempts} attempts")),
        );
        if answer == Answer::Failed {
            self.c.visible_failures += 1;
            // Transactions of one purchase are numbered in a byte: the 256th customer retry
            // does not happen.
            let more = self.intents.get(intent).is_some_and(|o| o.txns < u8::MAX);
            if let Some(pa) = self.sc.workload.pay_again.as_ref().filter(|_| more) {
                let mut f = Fate::new(self.seed, &[family::CUSTOMER, intent, 1 + u64::from(txn)]);
                if f.chance(pa.probability.prob) {
                    let d = pa.delay.0.sample(&mut f);
                    self.hold(intent);
                    self.paying_again += 1;
                    self.sched.schedule_in(d, Ev::PayAgain(intent));
                }
            }
        }
        self.release(intent);
        self.pump(term);
    }

    // ----- crashes -------------------------------------------------------------------------

    /// A crash source's turn; false when it does nothing (random faults have stopped, or
    /// this is the mark of their end).
    fn on_crash_source(&mut self, src: u32) -> Result<bool, SimError> {
        if self.crash_is_void(src) {
            return Ok(false);
        }
        let now = self.sched.now();
        let s = &mut self.crash_sources[src as usize];
        if let CrashKind::Random { rng, mean, .. } = &mut s.kind {
            let gap = mean.sample(rng);
            self.sched
                .schedule_at(now.saturating_add(gap), Ev::Crash(src))?;
        }
        self.crash(src);
        Ok(true)
    }

    /// Whether crash source `src`'s turn does nothing: the mark of the end of random faults
    /// (`faults.until`), which it stops, or a random crash once they have stopped.
    fn crash_is_void(&mut self, src: u32) -> bool {
        if src == u32::MAX {
            self.crashes_active = false;
            return true;
        }
        !self.crashes_active
            && matches!(
                self.crash_sources[src as usize].kind,
                CrashKind::Random { .. }
            )
    }

    fn crash(&mut self, src: u32) {
        let s = &mut self.crash_sources[src as usize];
        let node = s.node;
        let down = match &mut s.kind {
            CrashKind::Scheduled(d, _) => *d,
            CrashKind::Random { rng, down, .. } => down.sample(rng).max(SimDuration::from_nanos(1)),
            CrashKind::AfterCommit { down, .. } => *down,
        };
        // Random crashes and those of a schedule: the ones a shrunk schedule must keep.
        let is_random = matches!(
            s.kind,
            CrashKind::Random { .. } | CrashKind::Scheduled(_, true)
        );
        if let (true, Some(r)) = (is_random, &mut self.recorded) {
            let node_name = if node < self.n_terms {
                NodeName::Terminal(node)
            } else if node == self.n_terms {
                NodeName::Acquirer
            } else if node == self.n_terms + 1 {
                NodeName::Switch
            } else {
                NodeName::Bank
            };
            r.crashes.push(ScheduledCrash {
                node: node_name,
                at: Duration(self.sched.now().saturating_since(SimTime::ZERO)),
                down_for: Positive(Duration(down)),
            });
        }
        self.c.crashes += 1;
        self.oracle
            .fault_until(self.sched.now().saturating_add(down));
        self.trace(
            self.label(node),
            "crash",
            None,
            Some(format_args!("down for {down}")),
        );
        self.sched.schedule_in(down, Ev::Recover(node));
        if node < self.n_terms {
            self.crash_terminal(node);
        } else {
            let volatile_table = node == self.bank_node()
                && self
                    .sc
                    .bank
                    .idempotency
                    .as_ref()
                    .is_some_and(|i| !i.durable);
            let srv = self.server(node);
            srv.down += 1;
            srv.epoch = srv.epoch.wrapping_add(1);
            srv.busy = 0;
            let lost: Vec<u32> = srv.queue.drain(..).collect();
            for slot in lost {
                self.free_slot(slot);
            }
            if volatile_table {
                if let Some(t) = &mut self.bank.idem {
                    t.clear();
                }
            }
            if node == self.bank_node() {
                // What it was handling is lost with it.
                if let Some(busy) = &mut self.bank.in_progress {
                    busy.clear();
                }
            }
        }
    }

    fn crash_terminal(&mut self, term: u32) {
        let durable = self.sc.terminal.durable;
        let t = &mut self.terms[term as usize];
        t.down += 1;
        self.timers.cancel(std::mem::take(&mut t.main_timer));
        t.bump_saf_gen();
        t.saf_inflight = false;
        if durable {
            return;
        }
        let lost: Vec<Rev> = t
            .saf
            .as_mut()
            .map_or_else(Vec::new, |s| s.queue.drain(..).collect());
        t.saf_done();
        for r in lost {
            self.c.reversals_lost += 1;
            self.trace(
                NodeLabel::Terminal(term),
                "reversal-lost",
                Some(r.job.intent),
                Some(format_args!("key {}", r.key)),
            );
            self.release(r.job.intent);
        }
        if self.terms[term as usize].cur != 0 {
            // The screen went dark mid-payment: the customer was told nothing good.
            self.finish_txn_quiet(term);
        }
    }

    /// Ends the current transaction as failed without moving the (crashed) terminal on.
    fn finish_txn_quiet(&mut self, term: u32) {
        let down = self.terms[term as usize].down;
        debug_assert!(down > 0);
        self.finish_txn(term, Answer::Failed);
    }

    fn on_recover(&mut self, node: Node) -> Result<(), SimError> {
        self.trace(self.label(node), "recover", None, None);
        if node < self.n_terms {
            let t = &mut self.terms[node as usize];
            t.down -= 1;
            if t.down > 0 {
                return Ok(());
            }
            // A durable terminal resumes: whatever it was waiting for is now unknown.
            let phase = txn_of(&self.intents, t).map(|c| c.phase);
            match phase {
                Some(Phase::Waiting) => self.fail(node, Failure::Timeout)?,
                Some(Phase::Inquiring) => self.fail(node, Failure::InquiryTimeout)?,
                Some(Phase::Backoff(next)) => self.send_next(node, next),
                Some(Phase::Blocked(_)) | None => self.pump(node),
            }
        } else {
            let srv = self.server(node);
            srv.down -= 1;
        }
        Ok(())
    }

    // ----- the end -------------------------------------------------------------------------

    fn finish(mut self) -> Outcome {
        let now = self.sched.now();
        let closing = self
            .bank
            .accounts
            .iter()
            .map(|&b| i128::from(b))
            .sum::<i128>()
            + self.bank.merchant as i128;
        let merchant_gain = self.bank.merchant as i128;
        self.oracle
            .finish(now, self.opening, closing, merchant_gain);
        let peaks = PeakQueues {
            acquirer: self.acq.peak as u64,
            switch: self.sw.as_ref().map_or(0, |s| s.peak as u64),
            bank: self.bank_srv.peak as u64,
            terminal: self.c.peak_terminal_queue as u64,
        };
        let metrics = Metrics::build(
            &self.c,
            self.oracle.counts(),
            self.oracle.latency(),
            peaks,
            self.last_effect,
            self.sched.peak_pending() as u64,
        );
        let (violations, violation_count, by_property) = self.oracle.into_violations();
        Outcome {
            metrics,
            violations,
            violation_count,
            by_property,
            faults: self.recorded,
            #[cfg(test)]
            spilled: self.spilled,
            #[cfg(test)]
            saf_held: self.terms.iter().filter(|t| t.saf.is_some()).count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Builtin;
    use crate::trace::TraceEvent;

    /// Where the engine's queue turns into a radix heap.
    const RADIX_FROM: u64 = 16_384;

    /// Regression: the policy's draws were keyed by `attempts << 16 | inquiries`, so attempt 1
    /// after 65,536 inquiries (which go on through an outage) drew what attempt 2 did.
    #[test]
    fn policy_draws_of_many_inquiries_are_their_own() {
        assert_ne!(policy_word(1, 1 << 16), policy_word(2, 0));
        assert_ne!(policy_word(1, (1 << 16) + 5), policy_word(2, 5));
        // Below that, the layout every draw has always had.
        assert_eq!(policy_word(3, 65_535), 3 << 16 | 65_535);
    }

    /// A reversal's round of sends rides beside its STAN without changing it, and sets apart
    /// the identities of sends 65,536 apart.
    #[test]
    fn a_reversal_round_keeps_the_stan_and_parts_identities() {
        let job = Job { intent: 7, txn: 0 };
        let mut m = Msg::request(Kind::Reversal, true, 0, &job, 1 << 16 | 5, 999_999, 42);
        let first = m.ident(Kind::Reversal as u64);
        m.stan_repeat |= 1 << ROUND_SHIFT;
        m.set_cut(true);
        assert_eq!(
            (m.stan(), m.round(), m.repeat(), m.cut()),
            (999_999, 1, true, true)
        );
        assert_ne!(m.ident(Kind::Reversal as u64), first);
        m.stan_repeat |= 0xff << ROUND_SHIFT;
        assert_eq!(
            (m.stan(), m.round(), m.order_paid()),
            (999_999, 0xff, false)
        );
    }

    /// Regression: with reversals numbered by 16 bits of the attempt they reverse, the
    /// reversal of attempt 257 of transaction 0 drew the fates of that of attempt 1 of
    /// transaction 1; numbers below 2^24 keep the layout every result was drawn with.
    #[test]
    fn messages_of_large_attempt_numbers_draw_their_own_fates() {
        let reversal = |attempt: u32, send: u32| attempt << 16 | send;
        assert_ne!(
            ident_word(0, reversal(257, 1), Kind::Reversal as u64),
            ident_word(1, reversal(1, 1), Kind::Reversal as u64)
        );
        assert_eq!(ident_word(3, 70_000, 2), (3 << 32) | (70_000 << 8) | 2);
        let mut words: Vec<u64> = (0..4u8)
            .flat_map(|txn| {
                [1, 255, 256, 65_535]
                    .into_iter()
                    .flat_map(move |a| [a, reversal(a, 1), reversal(a, 65_535)])
                    .map(move |attempt| ident_word(txn, attempt, 0))
            })
            .collect();
        let n = words.len();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), n, "every message its own word");
    }

    /// The trace (as a count and an FNV-1a hash of every record) and the metrics of one run.
    fn fingerprint(sc: &Scenario, seed: u64, prefetching: bool) -> (u64, u64, Metrics) {
        fingerprint_with(sc, seed, |sim| sim.prefetching = prefetching).0
    }

    /// The count and hash of the trace records of a run and its metrics, with the run set up
    /// by `set`; and how many intents it spilled.
    fn fingerprint_with(
        sc: &Scenario,
        seed: u64,
        set: impl FnOnce(&mut Sim<Builtin, &mut dyn FnMut(TraceEvent)>),
    ) -> ((u64, u64, Metrics), u64) {
        let policy = Builtin::new(sc.policy.clone());
        let (mut n, mut h) = (0u64, 0xcbf2_9ce4_8422_2325u64);
        let mut tracer = |e: TraceEvent| {
            n += 1;
            for b in format!("{e:?}").bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        };
        let mut tracer: &mut dyn FnMut(TraceEvent) = &mut tracer;
        let mut sim = Sim::new(sc, seed, &policy, &mut tracer);
        set(&mut sim);
        let out = sim.run().expect("runs");
        let spilled = out.spilled;
        ((n, h, out.metrics), spilled)
    }

    /// Regression: a terminal's reversal queue, once made, stayed for the rest of the run, so
    /// that at a million terminals memory grew with the run until every terminal had one
    /// (83 MiB after 10^6 purchases of `policy-reversal` at the load of 20 terminals, 211
    /// after 3 x 10^7).
    #[test]
    fn reversal_queues_go_once_empty() {
        for name in [
            "policy-reversal.ron",
            "trap-reversal-lost-volatile-terminal.ron",
        ] {
            let sc = shipped(name);
            let policy = Builtin::new(sc.policy.clone());
            let out = Sim::new(&sc, 3, &policy, &mut crate::trace::NoTrace)
                .run()
                .expect("runs");
            assert!(out.metrics.reversals_sent > 0, "{name} reverses nothing");
            assert_eq!(out.saf_held, 0, "{name}");
        }
    }

    fn shipped(name: &str) -> Scenario {
        let path = format!("{}/../../scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("readable");
        crate::from_ron(&text).expect("shipped scenarios parse")
    }

    /// A run asked whether it is still wanted ends `Cancelled` once the answer is no, within
    /// `STOP_EVERY` events; a run always wanted gives what it gives unasked.
    #[test]
    fn a_run_told_to_stop_ends_cancelled_and_one_never_told_is_unchanged() {
        let mut sc = shipped("reference.ron");
        sc.workload.purchases = Some(20_000);
        let policy = Builtin::new(sc.policy.clone());
        let plain = Sim::new(&sc, 3, &policy, &mut crate::trace::NoTrace)
            .run()
            .expect("runs");
        assert!(plain.metrics.events > 2 * STOP_EVERY);
        let asked = std::cell::Cell::new(0u64);
        let wanted = || {
            asked.set(asked.get() + 1);
            false
        };
        let kept = Sim::new(&sc, 3, &policy, &mut crate::trace::NoTrace)
            .stop_when(&wanted)
            .run()
            .expect("runs");
        assert_eq!(kept.metrics, plain.metrics);
        assert!(asked.get() >= 2, "asked {} times", asked.get());
        let unwanted = || true;
        let stopped = Sim::new(&sc, 3, &policy, &mut crate::trace::NoTrace)
            .stop_when(&unwanted)
            .run();
        assert_eq!(stopped.err(), Some(SimError::Cancelled));
    }

    /// Prefetching is a cache hint only: every shipped scenario gives the same trace and
    /// metrics with it on as with it off.
    #[test]
    fn prefetching_changes_no_trace() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("scenarios directory")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".ron"))
            .collect();
        names.sort();
        assert!(names.len() > 20);
        for name in names {
            let mut sc = shipped(&name);
            // The reference in full is a benchmark; a slice of it is enough here.
            sc.workload.purchases = Some(sc.workload.purchases.map_or(2000, |n| n.min(2000)));
            for seed in [1, 2] {
                let off = fingerprint(&sc, seed, false);
                assert!(off.0 > 0);
                assert_eq!(off, fingerprint(&sc, seed, true), "{name}, seed {seed}");
            }
        }
    }

    /// Spilling intents out of their tables' blocks moves where they are kept, nothing else:
    /// runs give the same trace and metrics whether the tables spill as soon as they can or
    /// never. The scenarios are made wide enough for blocks of intents to be in flight, and
    /// long enough for stragglers: retries, reversals, inquiries, hedges.
    #[test]
    fn spilling_changes_no_trace() {
        for name in [
            "reference.ron",
            "policy-reversal.ron",
            "policy-inquiry.ron",
            "trap-hedge-idempotent.ron",
        ] {
            let mut sc = shipped(name);
            sc.terminals.0 = 4000;
            sc.workload.purchases = Some(30_000);
            sc.workload.duration = None;
            let (never, none) = fingerprint_with(&sc, 1, |sim| sim.spill_keep = u64::MAX);
            assert_eq!(none, 0);
            let (eager, spilled) = fingerprint_with(&sc, 1, |sim| sim.spill_keep = 1);
            assert!(spilled > 0, "{name} spilled nothing");
            assert_eq!(never, eager, "{name}");
        }
    }

    /// Gathering the terminals' arrivals a window at a time, as beyond `ALL_DUE_UP_TO`
    /// terminals, numbers and times the purchases as keeping all in one queue does, starting
    /// from windows of a hundredth of a mean gap, of a quarter, and of one nanosecond.
    #[test]
    fn arrival_windows_change_no_trace() {
        for name in ["reference.ron", "trap-pay-again-idempotent.ron"] {
            let mut sc = shipped(name);
            sc.terminals.0 = 2000;
            sc.workload.purchases = Some(8_000);
            let n = sc.terminals.0;
            let mean = sc.workload.inter_arrival.0.mean_nanos() as u64;
            let all = fingerprint_with(&sc, 5, |_| ());
            for window in [mean / 100, mean / 4, 1] {
                let windowed = fingerprint_with(&sc, 5, |sim| {
                    sim.arrivals = SourceQueue::windowed(n, SimDuration::from_nanos(window));
                });
                assert_eq!(windowed, all, "{name}, window {window} ns");
            }
        }
    }

    /// The same at a scale where it is on by default and the event queue is a radix heap,
    /// whose next event the prefetch looks at before it is taken.
    #[test]
    fn prefetching_changes_no_trace_at_scale() {
        let mut sc = shipped("reference.ron");
        sc.terminals.0 = 2 * PREFETCH_FROM_TERMINALS;
        sc.workload.purchases = Some(40_000);
        let on = fingerprint(&sc, 7, true);
        assert!(on.0 > 300_000, "{} records", on.0);
        assert!(on.2.peak_pending_events > RADIX_FROM, "{on:?}");
        assert_eq!(fingerprint(&sc, 7, false), on);
    }
}
