//! The scenario: everything a run needs besides its seed.
//!
//! Scenarios are read from RON by the binary. The types here validate themselves while they are
//! deserialised (`try_from` a raw form, or a checked leaf type), so that a parser which tracks
//! positions reports each bad value at its own line and column. A [`Scenario`] that exists is a
//! valid one.

use std::fmt;

use payfault_engine::{parse_duration, Dist, Prob, SimDuration};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// A duration written for people: "250ms", "60s", "24h".
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub SimDuration);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(Duration)
            .map_err(de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

/// A duration that must be longer than zero (a timeout, a retention window).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Positive(pub Duration);

impl Positive {
    pub fn get(self) -> SimDuration {
        self.0 .0
    }
}

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Duration::deserialize(d)?;
        if v.0.is_zero() {
            return Err(de::Error::custom(
                "expected a duration longer than zero, found 0",
            ));
        }
        Ok(Positive(v))
    }
}

/// A probability in [0, 1].
#[derive(Copy, Clone, Debug, PartialEq, Default)]
pub struct Probability {
    pub value: f64,
    pub prob: Prob,
}

impl Probability {
    pub fn new(value: f64) -> Result<Self, payfault_engine::ProbError> {
        // -0 is 0: the same probability, written (and so compared, and named in a sweep's
        // cells) one way.
        let value = if value == 0.0 { 0.0 } else { value };
        Ok(Probability {
            value,
            prob: Prob::new(value)?,
        })
    }
    pub const ZERO: Probability = Probability {
        value: 0.0,
        prob: Prob::NEVER,
    };
}

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        Probability::new(v).map_err(|_| {
            de::Error::custom(format!(
                "expected a probability between 0 and 1, found {}",
                as_written(v)
            ))
        })
    }
}

/// Brackets, in a message serde carries, the value just read, to be shown as the file writes
/// it: read as a float, `-9223372036854775808` would print as -9223372036854776000 and
/// `99999999999999999999` as 1e20. `scenario::from_ron` replaces the bracketed text.
pub(crate) const AS_WRITTEN: char = '\u{1e}';

fn as_written(shown: impl fmt::Display) -> String {
    format!("{AS_WRITTEN}{shown}{AS_WRITTEN}")
}

impl Serialize for Probability {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.value)
    }
}

/// A count that must be at least one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AtLeastOne(pub u32);

/// A whole number as written, at most `max`: a fraction, an exponent or a minus sign is
/// refused as such. Read as a plain integer, `0.5` would be taken as 0 and refused for being 0, `2.5` as 2
/// followed by something unexpected, and a number too large as "Integer is out of bounds",
/// with no bound named.
struct WholeUpTo {
    max: u64,
    /// Follows the bound in a message: " minor units".
    unit: &'static str,
}

impl de::Visitor<'_> for WholeUpTo {
    type Value = u64;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a whole number (no quotes, no sign)")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if v > self.max {
            return Err(E::custom(format!(
                "expected at most {}{}, found {v}",
                self.max, self.unit
            )));
        }
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!("expected a whole number, found {v}"))),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        // RON reads a whole number too large for 64 bits as a float, and `1e19` or `5.0`.
        const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;
        Err(E::custom(if v.fract() == 0.0 && v >= TWO_TO_64 {
            format!(
                "expected at most {}{}, found {}",
                self.max,
                self.unit,
                as_written(v)
            )
        } else if v.fract() == 0.0 && v >= 0.0 {
            // A positive whole number below 2^64 reads as a float only if written as one.
            format!(
                "expected a whole number written without an exponent or a point, \
                 found {}",
                as_written(v)
            )
        } else {
            format!(
                "expected a whole number, found {}",
                as_written(format!("{v:?}"))
            )
        }))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        Err(E::custom(format!(
            "expected a whole number (no quotes, no sign), found the string {v:?}"
        )))
    }
}

fn whole_up_to<'de, D: Deserializer<'de>>(
    d: D,
    max: u64,
    unit: &'static str,
) -> Result<u64, D::Error> {
    d.deserialize_any(WholeUpTo { max, unit })
}

/// Any whole number that fits in 64 bits.
struct Whole(u64);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        whole_up_to(d, u64::MAX, "").map(Whole)
    }
}

/// A whole number of type `T`, at most `max`.
fn whole<'de, D: Deserializer<'de>, T: Copy + TryFrom<u64>>(d: D, max: T) -> Result<T, D::Error>
where
    u64: From<T>,
{
    let max = u64::from(max);
    let v = whole_up_to(d, max, "")?;
    T::try_from(v).map_err(|_| de::Error::custom(format!("expected at most {max}, found {v}")))
}

fn whole_u8<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    whole(d, u8::MAX)
}

fn whole_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    whole(d, u32::MAX)
}

fn whole_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    whole(d, u64::MAX)
}

impl<'de> Deserialize<'de> for AtLeastOne {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        count_up_to(d, u32::MAX)
    }
}

/// The most terminals a scenario may have: a hundred times the largest the benchmark
/// measures, about 8 GB of terminal state. Beyond it a run would fail to allocate, and the
/// process could only abort rather than say which field is to blame.
pub const MAX_TERMINALS: u32 = 100_000_000;

/// The most purchases a run may issue: an idempotency key holds its purchase's number in 39
/// bits (see the simulator's keys), and a run of this many would take days.
pub const MAX_PURCHASES: u64 = 1 << 39;

/// The most cardholder accounts a bank may have: 8 GB of balances.
pub const MAX_ACCOUNTS: u32 = 1_000_000_000;

/// An [`AtLeastOne`] of at most `max`.
fn count_up_to<'de, D: Deserializer<'de>>(d: D, max: u32) -> Result<AtLeastOne, D::Error> {
    let n = whole(d, max)?;
    if n == 0 {
        return Err(de::Error::custom("expected at least 1, found 0"));
    }
    Ok(AtLeastOne(n))
}

fn terminal_count<'de, D: Deserializer<'de>>(d: D) -> Result<AtLeastOne, D::Error> {
    count_up_to(d, MAX_TERMINALS)
}

fn account_count<'de, D: Deserializer<'de>>(d: D) -> Result<AtLeastOne, D::Error> {
    count_up_to(d, MAX_ACCOUNTS)
}

/// Attempts a transaction may make: the attempt number travels in 16 bits of the key.
fn attempt_count<'de, D: Deserializer<'de>>(d: D) -> Result<AtLeastOne, D::Error> {
    count_up_to(d, MAX_ATTEMPTS)
}

/// The most attempts per transaction.
pub const MAX_ATTEMPTS: u32 = 0xffff;

/// The largest purchase amount, in minor units: keeps every sum of money far inside 64 bits.
pub const MAX_AMOUNT: u64 = 1_000_000_000_000;

/// The largest opening balance of an account, in minor units.
pub const MAX_BALANCE: u64 = 1_000_000_000_000_000;

fn money_up_to<'de, D: Deserializer<'de>>(d: D, max: u64) -> Result<u64, D::Error> {
    whole_up_to(d, max, " minor units")
}

fn amount<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    money_up_to(d, MAX_AMOUNT)
}

fn balance<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    money_up_to(d, MAX_BALANCE)
}

/// `check_seeds`, when given, is at least one: a scenario checked on no seed would pass
/// having checked nothing.
fn seed_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<Whole>::deserialize(d)? {
        Some(Whole(0)) => Err(de::Error::custom("expected at least 1 seed, found 0")),
        n => Ok(n.map(|Whole(n)| n)),
    }
}

/// A latency or processing-time distribution, as written in a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawLatency", into = "RawLatency")]
pub struct Latency(pub Dist);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawLatency {
    Constant(Duration),
    Uniform {
        lo: Duration,
        hi: Duration,
    },
    Exponential {
        mean: Duration,
    },
    LogNormal {
        median: Duration,
        #[serde(deserialize_with = "lognormal_sigma")]
        sigma: f64,
    },
    Pareto {
        scale: Duration,
        #[serde(deserialize_with = "pareto_shape")]
        shape: f64,
    },
    /// With probability `p`, add a draw of `extra` to a draw of `base`.
    Spike {
        #[serde(deserialize_with = "checked_part")]
        base: Box<RawLatency>,
        #[serde(deserialize_with = "spike_probability")]
        p: f64,
        #[serde(deserialize_with = "checked_part")]
        extra: Box<RawLatency>,
    },
}

/// A lognormal's `sigma`, refused at the field: finite and at least 0.
fn lognormal_sigma<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let sigma = f64::deserialize(d)?;
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(de::Error::custom(format!(
            "expected a lognormal sigma, finite and at least 0, found {}",
            as_written(sigma)
        )));
    }
    Ok(sigma)
}

/// A Pareto's `shape`, refused at the field: finite and above 0.
fn pareto_shape<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let shape = f64::deserialize(d)?;
    if !(shape.is_finite() && shape > 0.0) {
        return Err(de::Error::custom(format!(
            "expected a Pareto shape, finite and above 0, found {}",
            as_written(shape)
        )));
    }
    Ok(shape)
}

/// A spike's `base` or `extra`, checked where it ends rather than where the whole spike does.
fn checked_part<'de, D: Deserializer<'de>>(d: D) -> Result<Box<RawLatency>, D::Error> {
    let raw = RawLatency::deserialize(d)?;
    raw.check().map_err(de::Error::custom)?;
    Ok(Box::new(raw))
}

/// A spike's `p`, refused at the field: the distribution as a whole is checked only where it
/// ends, which may be lines later.
fn spike_probability<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let p = f64::deserialize(d)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(de::Error::custom(format!(
            "expected a spike probability between 0 and 1, found {}",
            as_written(p)
        )));
    }
    Ok(p)
}

impl RawLatency {
    /// Whether the distribution makes sense. What is wrong with the pair `lo`, `hi` is
    /// marked to be shown at `hi` (see [`LAST_FIELD_MARK`]).
    fn check(&self) -> Result<(), String> {
        if let RawLatency::Uniform { lo, hi } = self {
            if lo > hi {
                return Err(at_last_field(
                    "hi",
                    format!(
                        "hi must be at least lo: expected at least \"{}\", found \"{}\"",
                        lo.0, hi.0
                    ),
                ));
            }
        }
        self.to_dist().validate().map_err(|e| e.to_string())
    }
    fn to_dist(&self) -> Dist {
        match self {
            RawLatency::Constant(d) => Dist::Constant(d.0),
            RawLatency::Uniform { lo, hi } => Dist::Uniform { lo: lo.0, hi: hi.0 },
            RawLatency::Exponential { mean } => Dist::Exponential { mean: mean.0 },
            RawLatency::LogNormal { median, sigma } => Dist::LogNormal {
                median: median.0,
                sigma: *sigma,
            },
            RawLatency::Pareto { scale, shape } => Dist::Pareto {
                scale: scale.0,
                shape: *shape,
            },
            RawLatency::Spike { base, p, extra } => Dist::Spike {
                base: Box::new(base.to_dist()),
                p: *p,
                extra: Box::new(extra.to_dist()),
            },
        }
    }
    fn from_dist(d: &Dist) -> RawLatency {
        match d {
            Dist::Constant(d) => RawLatency::Constant(Duration(*d)),
            Dist::Uniform { lo, hi } => RawLatency::Uniform {
                lo: Duration(*lo),
                hi: Duration(*hi),
            },
            Dist::Exponential { mean } => RawLatency::Exponential {
                mean: Duration(*mean),
            },
            Dist::LogNormal { median, sigma } => RawLatency::LogNormal {
                median: Duration(*median),
                sigma: *sigma,
            },
            Dist::Pareto { scale, shape } => RawLatency::Pareto {
                scale: Duration(*scale),
                shape: *shape,
            },
            Dist::Spike { base, p, extra } => RawLatency::Spike {
                base: Box::new(RawLatency::from_dist(base)),
                p: *p,
                extra: Box::new(RawLatency::from_dist(extra)),
            },
        }
    }
}

impl TryFrom<RawLatency> for Latency {
    type Error = String;
    fn try_from(raw: RawLatency) -> Result<Self, String> {
        raw.check()?;
        Ok(Latency(raw.to_dist()))
    }
}

impl From<Latency> for RawLatency {
    fn from(l: Latency) -> RawLatency {
        RawLatency::from_dist(&l.0)
    }
}

impl Latency {
    pub fn constant(d: SimDuration) -> Latency {
        Latency(Dist::Constant(d))
    }
}

/// A network link: both directions share these settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    pub latency: Latency,
    /// Probability that a message is lost.
    #[serde(default)]
    pub drop: Probability,
    /// Probability that a message is delivered twice (the copy with its own latency).
    #[serde(default)]
    pub duplicate: Probability,
}

/// The links of the network. With a switch, `acquirer_switch` and `switch_bank` replace
/// `acquirer_bank`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Links {
    pub terminal_acquirer: LinkConfig,
    #[serde(default)]
    pub acquirer_bank: Option<LinkConfig>,
    #[serde(default)]
    pub acquirer_switch: Option<LinkConfig>,
    #[serde(default)]
    pub switch_bank: Option<LinkConfig>,
}

/// Names a link in a fault.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LinkName {
    TerminalAcquirer,
    AcquirerBank,
    AcquirerSwitch,
    SwitchBank,
}

impl LinkName {
    /// The link of number `n` (its place in the declaration, as `link as u8` gives it).
    fn from_number(n: u8) -> LinkName {
        match n {
            0 => LinkName::TerminalAcquirer,
            1 => LinkName::AcquirerBank,
            2 => LinkName::AcquirerSwitch,
            _ => LinkName::SwitchBank,
        }
    }
}

/// A server node: `servers` messages in service at once, at most `queue` waiting; a message
/// that finds the queue full is dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub processing: Latency,
    pub servers: AtLeastOne,
    #[serde(deserialize_with = "whole_u32")]
    pub queue: u32,
}

/// The bank's idempotency table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// How long a key is remembered after its first result.
    pub retention: Positive,
    /// Whether the table survives a bank crash.
    pub durable: bool,
    /// What a key seen before is answered with.
    #[serde(default)]
    pub replay: Replay,
    /// What a repeat of a key gets while the bank still handles its first request.
    #[serde(default)]
    pub in_progress: InProgress,
}

/// What a status inquiry that finds nothing posted under its key does at the bank.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InquiryAnswer {
    /// It voids the key, so that the original, should it arrive later, is refused (12): the
    /// inquiry acts as a reversal of what was not posted.
    #[default]
    VoidsKey,
    /// It only reports: an original that arrives later is posted.
    ReportsOnly,
}

/// What the bank does with a request whose key it is still handling (queued or in service):
/// a hedge, a repeat sent before the first request's answer, or a link's copy of the request.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InProgress {
    /// It is handled like any request: whichever copy is processed first posts, and the other
    /// is answered from the table.
    #[default]
    Queue,
    /// It is answered at once with 09 ("request in progress"), as Stripe and Adyen answer
    /// such a race with 409: it saves nothing, and the terminal's policy decides what next.
    /// A link's copy of one request meets the lock too, and its 09, sent at once, usually
    /// reaches the terminal before the first copy's answer: to the terminal it is an error
    /// reply to the attempt. A key whose result the table already holds is answered from it,
    /// never 09: only a request racing one still running meets the lock. A status inquiry
    /// about a locked key with nothing posted is answered 09 as well, and voids nothing.
    Conflict,
    /// Nothing guards the key: the table is read when processing starts and written when it
    /// ends, so two requests under one key processed at the same time both post (the race
    /// that Stripe's and brandur's locks on the key close). Whichever ends last leaves its
    /// answer in the table. With no processing time it behaves as `Queue`.
    Unlocked,
}

/// What the bank's idempotency table answers a key it has seen with.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Replay {
    /// The reply it sent first, an error code included, as Stripe's keys do: a debit
    /// committed under a "96" is answered "96" again, however often it is repeated.
    #[default]
    FirstReply,
    /// The outcome it recorded: "approved" once the debit is posted, whatever the reply that
    /// first carried it said.
    Outcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankConfig {
    pub processing: Latency,
    pub servers: AtLeastOne,
    #[serde(deserialize_with = "whole_u32")]
    pub queue: u32,
    /// Time from committing a debit to sending its reply: a crash inside it loses the reply.
    #[serde(default = "zero_latency")]
    pub reply_delay: Latency,
    /// Share of replies to committed debits that carry an error code ("defective success").
    #[serde(default)]
    pub erroneous_replies: Probability,
    /// Deduplicate purchases by idempotency key; `None` posts every purchase it sees.
    #[serde(default)]
    pub idempotency: Option<IdempotencyConfig>,
    /// Deduplicate by the merchant's order reference within this window (a second debit for an
    /// order already paid is answered 94 and not posted).
    #[serde(default)]
    pub order_dedup: Option<Positive>,
    /// The issuer's own duplicate-transmission check (ISO 8583): a purchase from the terminal
    /// and with the STAN and transmission time of a debit already posted (a 0201 repeat, or a
    /// network copy of one 0200) is answered 94 and not posted. It remembers a STAN for as
    /// long as the purchase it belongs to may still be repeated.
    #[serde(default)]
    pub stan_dedup: bool,
    /// What a status inquiry that finds no debit does besides answering 25.
    #[serde(default)]
    pub inquiry: InquiryAnswer,
    /// Number of cardholder accounts, at most [`MAX_ACCOUNTS`].
    #[serde(default = "default_accounts", deserialize_with = "account_count")]
    pub accounts: AtLeastOne,
    /// Opening balance of each account, in minor units.
    #[serde(default = "default_balance", deserialize_with = "balance")]
    pub opening_balance: u64,
}

fn zero_latency() -> Latency {
    Latency::constant(SimDuration::ZERO)
}
fn default_accounts() -> AtLeastOne {
    AtLeastOne(10_000)
}
fn default_balance() -> u64 {
    1_000_000_000_000
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalConfig {
    /// Whether the pending transaction and the reversal queue survive a terminal crash.
    #[serde(default = "yes")]
    pub durable: bool,
    /// What the terminal tells the customer on a 94, the bank's "order already paid".
    #[serde(default)]
    pub reads_94_as: Reads94,
}

/// What a terminal shows for a 94 ("duplicate transmission", here: this order is already
/// paid, by an earlier debit).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reads94 {
    /// "Approved": the order is paid, as a till that knows the order reads it.
    #[default]
    Approved,
    /// "Declined", the bare code: the customer of a paid order is told the payment failed.
    Declined,
}

fn yes() -> bool {
    true
}

impl Default for TerminalConfig {
    fn default() -> Self {
        TerminalConfig {
            durable: true,
            reads_94_as: Reads94::Approved,
        }
    }
}

/// Purchase amounts in minor units, uniform on [min, max].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawAmount")]
pub struct Amount {
    pub min: u64,
    pub max: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "Amount")]
struct RawAmount {
    #[serde(deserialize_with = "amount")]
    min: u64,
    #[serde(deserialize_with = "amount")]
    max: u64,
}

impl TryFrom<RawAmount> for Amount {
    type Error = String;
    fn try_from(r: RawAmount) -> Result<Self, String> {
        if r.min == 0 {
            return Err(at_last_field(
                "min",
                "expected an amount min of at least 1 minor unit, found 0",
            ));
        }
        if r.min > r.max {
            return Err(at_last_field(
                "max",
                format!(
                    "max must be at least min: expected at least {}, found {}",
                    r.min, r.max
                ),
            ));
        }
        Ok(Amount {
            min: r.min,
            max: r.max,
        })
    }
}

/// A customer who saw a failure paying again, as a new transaction for the same purchase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayAgain {
    pub probability: Probability,
    pub delay: Latency,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawWorkload")]
pub struct Workload {
    /// Time between two purchases at one terminal.
    pub inter_arrival: Latency,
    pub amount: Amount,
    /// Stop issuing after this many purchases in all.
    pub purchases: Option<u64>,
    /// Stop issuing at this simulated time.
    pub duration: Option<Duration>,
    pub pay_again: Option<PayAgain>,
    /// Probability that the cashier enters a purchase twice.
    pub double_submit: Probability,
    /// Issue only these purchases (by intent id, sorted); the others are drawn but not issued,
    /// so the ones kept meet exactly the customers and faults they met in the full run.
    pub only: Option<Vec<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "Workload")]
struct RawWorkload {
    inter_arrival: Latency,
    amount: Amount,
    #[serde(default)]
    purchases: Option<Whole>,
    #[serde(default)]
    duration: Option<Duration>,
    #[serde(default)]
    pay_again: Option<PayAgain>,
    #[serde(default)]
    double_submit: Probability,
    #[serde(default)]
    only: Option<Vec<Whole>>,
}

impl TryFrom<RawWorkload> for Workload {
    type Error = String;
    fn try_from(r: RawWorkload) -> Result<Self, String> {
        let purchases = r.purchases.map(|Whole(n)| n);
        let only: Option<Vec<u64>> = r.only.map(|v| v.into_iter().map(|Whole(k)| k).collect());
        if purchases.is_none() && r.duration.is_none() {
            return Err(
                "a workload needs `purchases` or `duration` (or both) so that it ends".into(),
            );
        }
        if purchases == Some(0) {
            return Err("expected at least 1 purchase, found 0".into());
        }
        if let Some(n) = purchases.filter(|&n| n > MAX_PURCHASES) {
            return Err(format!(
                "expected at most {MAX_PURCHASES} purchases (a key holds a purchase's number in \
                 39 bits), found {n}"
            ));
        }
        // Issuing none, a run would hold every property vacuously.
        if only.as_ref().is_some_and(Vec::is_empty) {
            return Err(format!(
                "only{FIELD_MARK}expected at least one purchase in `only`, found none; \
                 without `only`, every purchase is issued"
            ));
        }
        // Purchases are numbered from 0 in the order they are issued: one at or past the
        // count is never issued, and a run of none of them would hold vacuously.
        if let Some(n) = purchases {
            if let Some(k) = only.iter().flatten().find(|&&k| k >= n) {
                return Err(format!(
                    "only{FIELD_MARK}`only` names purchase {k}, which is never issued: with \
                     `purchases: {n}`, purchases are numbered 0 to {}",
                    n - 1
                ));
            }
        }
        if r.inter_arrival.0.mean_nanos() < 1.0 {
            return Err(format!(
                "inter_arrival{FIELD_MARK}expected an inter_arrival with a mean of at least \
                 1ns, found a mean of {} ns: every purchase of a terminal would come at once",
                r.inter_arrival.0.mean_nanos()
            ));
        }
        if r.duration.is_some_and(|d| d.0 == SimDuration::ZERO) {
            return Err(format!(
                "duration{FIELD_MARK}expected a duration above zero, found \"0s\": issuing \
                 would stop before the first purchase"
            ));
        }
        Ok(Workload {
            inter_arrival: r.inter_arrival,
            amount: r.amount,
            purchases,
            duration: r.duration,
            pay_again: r.pay_again,
            double_submit: r.double_submit,
            only: only.map(|mut v| {
                v.sort_unstable();
                v.dedup();
                v
            }),
        })
    }
}

/// Which built-in retry policy.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PolicyKind {
    /// Give up at the first timeout.
    None,
    /// A fresh transaction (new STAN and key) each attempt.
    Naive,
    /// Repeat with the same key; the bank deduplicates.
    Idempotent,
    /// Reverse the timed-out attempt (store and forward until acknowledged), then retry.
    ReversalThenRetry,
    /// Ask the bank for the attempt's status before charging again.
    InquireThenRetry,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 5] = [
        PolicyKind::None,
        PolicyKind::Naive,
        PolicyKind::Idempotent,
        PolicyKind::ReversalThenRetry,
        PolicyKind::InquireThenRetry,
    ];

    /// The short name used on the command line.
    pub fn cli_name(self) -> &'static str {
        match self {
            PolicyKind::None => "none",
            PolicyKind::Naive => "naive",
            PolicyKind::Idempotent => "idempotent",
            PolicyKind::ReversalThenRetry => "reversal",
            PolicyKind::InquireThenRetry => "inquiry",
        }
    }

    pub fn from_cli_name(name: &str) -> Option<PolicyKind> {
        PolicyKind::ALL.into_iter().find(|k| k.cli_name() == name)
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cli_name())
    }
}

/// Backoff between attempts (AWS "Exponential Backoff And Jitter").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Backoff {
    Fixed(Duration),
    /// min(cap, base * 2^n)
    Exponential {
        base: Duration,
        cap: Duration,
    },
    /// U(0, min(cap, base * 2^n))
    FullJitter {
        base: Duration,
        cap: Duration,
    },
    /// v/2 + U(0, v/2) with v = min(cap, base * 2^n)
    EqualJitter {
        base: Duration,
        cap: Duration,
    },
    /// min(cap, U(base, 3 * previous))
    Decorrelated {
        base: Duration,
        cap: Duration,
    },
}

/// A token bucket limiting retries (gRPC retry throttling): each first attempt earns `ratio`
/// tokens, up to `tokens`; each retry spends one; no token, no retry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub tokens: AtLeastOne,
    pub ratio: Probability,
}

/// How reversals are repeated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReversalConfig {
    /// Wait this long for the acknowledgement before repeating.
    pub timeout: Positive,
    /// Give up after this many sends; `None` repeats until acknowledged (store and forward).
    #[serde(default)]
    pub max_sends: Option<AtLeastOne>,
}

impl Default for ReversalConfig {
    fn default() -> Self {
        ReversalConfig {
            timeout: Positive(Duration(SimDuration::from_secs(30))),
            max_sends: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub kind: PolicyKind,
    /// Wait this long for a reply before the attempt counts as failed.
    pub timeout: Positive,
    /// Attempts per transaction, the first included.
    #[serde(default = "default_attempts", deserialize_with = "attempt_count")]
    pub max_attempts: AtLeastOne,
    /// No attempt starts later than this after the transaction began. None by default: then
    /// `max_attempts` alone bounds the retries, so that a timeout as long as the 60 s of
    /// card networks still leaves room for them.
    /// Written out even when `None`, so that a sweep can set it on a base that has none.
    #[serde(default)]
    pub deadline: Option<Positive>,
    #[serde(default = "no_backoff")]
    pub backoff: Backoff,
    /// Send one backup copy of the transaction's first attempt if no reply came after this
    /// long (a hedged request); it counts towards `max_attempts` and keeps the first
    /// attempt's timeout, so it must be below `timeout`.
    #[serde(default)]
    pub hedge_after: Option<Positive>,
    #[serde(default)]
    pub budget: Option<Budget>,
    /// Reverse an approval that arrives after the terminal gave up on it.
    #[serde(default)]
    pub reverse_late_approvals: bool,
    #[serde(default)]
    pub reversal: ReversalConfig,
}

impl PolicyConfig {
    /// How long after a transaction began an attempt may still start: its `deadline`, or
    /// without one no bound.
    pub fn attempt_deadline(&self) -> SimDuration {
        self.deadline.map_or(SimDuration::MAX, Positive::get)
    }
}

fn default_attempts() -> AtLeastOne {
    AtLeastOne(3)
}
fn no_backoff() -> Backoff {
    Backoff::Fixed(Duration(SimDuration::ZERO))
}

/// Which node a fault strikes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NodeName {
    Terminal(#[serde(deserialize_with = "whole_u32")] u32),
    /// Every terminal (for random crashes: each with its own process).
    AllTerminals,
    Acquirer,
    Switch,
    Bank,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Direction {
    /// Both ways.
    Both,
    /// Towards the bank only.
    Request,
    /// Towards the terminal only.
    Response,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawPartition")]
pub struct Partition {
    pub link: LinkName,
    pub from: Duration,
    pub until: Duration,
    pub direction: Direction,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "Partition")]
struct RawPartition {
    link: LinkName,
    from: Duration,
    until: Duration,
    #[serde(default = "both")]
    direction: Direction,
}

fn both() -> Direction {
    Direction::Both
}

impl TryFrom<RawPartition> for Partition {
    type Error = String;
    fn try_from(r: RawPartition) -> Result<Self, String> {
        if r.until <= r.from {
            return Err(format!(
                "a partition must end after it starts, found from {} until {}",
                r.from.0, r.until.0
            ));
        }
        Ok(Partition {
            link: r.link,
            from: r.from,
            until: r.until,
            direction: r.direction,
        })
    }
}

/// A crash at a stated time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledCrash {
    pub node: NodeName,
    pub at: Duration,
    pub down_for: Positive,
}

/// Crashes at a rate: exponential times between failures, each down for a drawn duration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomCrashes {
    pub node: NodeName,
    pub mean_interval: Positive,
    pub down_for: Latency,
}

/// The bank crashes right after committing its `nth` debit (counting from 1), before the reply
/// leaves: the window in which a volatile idempotency table loses a committed key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashAfterCommit {
    pub nth: AtLeastOne,
    pub down_for: Positive,
}

/// The kind of a message, as named in a fault schedule.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MsgKind {
    Purchase,
    PurchaseResp,
    Reversal,
    ReversalResp,
    Inquiry,
    InquiryResp,
}

/// The smallest attempt number of a reversal: that of the first send of the reversal of
/// attempt 1 (sends count from 1 too, in the low 16 bits).
const REVERSAL_ATTEMPTS: u32 = (1 << 16) + 1;

/// The identity of one message: the same under every policy that sends it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsgId {
    pub link: LinkName,
    /// Travelling towards the bank (a request) or away from it (a response).
    pub to_bank: bool,
    #[serde(deserialize_with = "whole_u64")]
    pub intent: u64,
    /// The transaction of the intent (a customer paying again starts a new one).
    #[serde(deserialize_with = "whole_u8")]
    pub txn: u8,
    /// The attempt or inquiry number, from 1; for a reversal, the attempt it reverses times
    /// 65,536 plus which send of the reversal this is (65,537: the first send of the reversal
    /// of attempt 1), as the trace shows it. A reversal sent more than 65,535 times counts its
    /// later sends again from 0, in rounds of 65,536 (see `round`).
    #[serde(deserialize_with = "attempt_number")]
    pub attempt: u32,
    pub kind: MsgKind,
    /// 0 for the original, 1 and up for copies made by a duplicating link.
    #[serde(default, deserialize_with = "whole_u8")]
    pub copy: u8,
    /// For a reversal sent more than 65,535 times, which round of 65,536 sends this one is in
    /// (its 65,536th send is send 0 of round 1), modulo 256; 0 for every other message.
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "whole_u8"
    )]
    pub round: u8,
}

impl MsgId {
    /// Whether this message is sent under a fault schedule whose scheduled duplicates are
    /// `duplicates`: an original always is; copy `c * 4 + 1 + l` only if a duplicate of copy
    /// `c` on link `l` is scheduled (in a byte, as the run numbers copies).
    pub fn made_by(&self, duplicates: &[MsgId]) -> bool {
        self.copy == 0
            || duplicates.iter().any(|d| {
                d.intent == self.intent
                    && d.txn == self.txn
                    && d.attempt == self.attempt
                    && d.copy.wrapping_mul(4).wrapping_add(1 + d.link as u8) == self.copy
            })
    }
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// A message's attempt number: no message has attempt 0, so a fault naming it would never
/// strike.
fn attempt_number<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match whole_u32(d)? {
        0 => Err(de::Error::custom(
            "expected an attempt number of at least 1 (attempts count from 1), found 0",
        )),
        n => Ok(n),
    }
}

/// An explicit list of the faults of a run. With a schedule, links drop and duplicate exactly
/// the messages listed, the bank errs on exactly the replies listed, and random crashes are
/// replaced by the crashes listed: a run with one replays exactly.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSchedule {
    #[serde(default)]
    pub drops: Vec<MsgId>,
    #[serde(default)]
    pub duplicates: Vec<MsgId>,
    /// Purchase replies sent with an error code although the debit was committed, by the
    /// purchase request's identity.
    #[serde(default)]
    pub erroneous: Vec<MsgId>,
    #[serde(default)]
    pub crashes: Vec<ScheduledCrash>,
}

impl FaultSchedule {
    pub fn len(&self) -> usize {
        self.drops.len() + self.duplicates.len() + self.erroneous.len() + self.crashes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    #[serde(default)]
    pub partitions: Vec<Partition>,
    #[serde(default)]
    pub crashes: Vec<ScheduledCrash>,
    #[serde(default)]
    pub random_crashes: Vec<RandomCrashes>,
    #[serde(default)]
    pub crash_after_commit: Vec<CrashAfterCommit>,
    /// Random drops, duplicates and erroneous replies strike the messages of the purchases
    /// issued before this time, however late those messages are sent (so that a policy that
    /// sends late meets the same faults as one that sends at once); random crashes stop at
    /// it. By default, every purchase's messages, and random crashes stop when the workload
    /// stops issuing.
    #[serde(default)]
    pub until: Option<Duration>,
    /// Replaces the random faults (drops, duplicates, erroneous replies, random crashes).
    #[serde(default)]
    pub schedule: Option<FaultSchedule>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunLimits {
    #[serde(default = "default_max_time")]
    pub max_time: Positive,
    /// Events beyond which a run stops; by default a million a purchase, at least 10^9 and at
    /// most 2^40 (2^40 with no purchase count, under `duration`): see [`RunLimits::events`].
    #[serde(
        default,
        deserialize_with = "event_limit",
        serialize_with = "plain_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_events: Option<u64>,
    /// Events pending at once beyond which a run stops, rather than fill memory; by default
    /// 2^22 (about 400 MB of queue and messages) or four a terminal, whichever is more (see
    /// [`RunLimits::pending`]).
    #[serde(
        default,
        deserialize_with = "pending_limit",
        serialize_with = "plain_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_pending: Option<u64>,
}

impl RunLimits {
    /// The event limit of a run of `purchases` purchases (`None`: as many as `duration`
    /// issues). Legitimate runs take tens of events a purchase, and a long outage with fast
    /// repeats some hundred thousand; a run far beyond that (a timeout of a nanosecond, say)
    /// makes tens of millions of events a second with almost no simulated time, and would
    /// otherwise run for hours before 2^40.
    pub fn events(&self, purchases: Option<u64>) -> u64 {
        self.max_events.unwrap_or_else(|| match purchases {
            Some(n) => n.saturating_mul(1_000_000).clamp(1_000_000_000, 1 << 40),
            None => 1 << 40,
        })
    }

    /// The pending-event limit of a run of `terminals` terminals. Legitimate runs keep a few
    /// events a payment in flight, and at most one payment a terminal is in flight.
    pub fn pending(&self, terminals: u32) -> u64 {
        self.max_pending
            .unwrap_or((1 << 22).max(4 * u64::from(terminals)))
    }
}

/// As with events, a limit of no pending event would stop a run at its first.
fn pending_limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match whole_u64(d)? {
        0 => Err(de::Error::custom(
            "expected at least 1 pending event, found 0",
        )),
        n => Ok(Some(n)),
    }
}

/// A limit given, written as the number it is (as it is read), not `Some(...)`.
fn plain_number<S: serde::Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(n) => s.serialize_u64(*n),
        None => s.serialize_none(),
    }
}

/// A run allowed no event would stop at its first, failing for no fault of the scenario.
fn event_limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match whole_u64(d)? {
        0 => Err(de::Error::custom("expected at least 1 event, found 0")),
        n => Ok(Some(n)),
    }
}

fn default_max_time() -> Positive {
    Positive(Duration(SimDuration::from_secs(30 * 86_400)))
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            max_time: default_max_time(),
            max_events: None,
            max_pending: None,
        }
    }
}

/// A property of the oracle, by name.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Property {
    NoDuplicateDebit,
    Agreement,
    Conservation,
    Liveness,
}

impl Property {
    pub const ALL: [Property; 4] = [
        Property::NoDuplicateDebit,
        Property::Agreement,
        Property::Conservation,
        Property::Liveness,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Property::NoDuplicateDebit => "no-duplicate-debit",
            Property::Agreement => "agreement",
            Property::Conservation => "conservation",
            Property::Liveness => "liveness",
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a scenario expects of its runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Expect {
    /// Every property holds on every seed.
    #[default]
    Hold,
    /// These properties are violated on at least one seed (a known-bad setup that the checker
    /// must keep catching); the others hold on every seed.
    Violated(Vec<Property>),
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawScenario")]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub terminals: AtLeastOne,
    pub workload: Workload,
    pub links: Links,
    pub switch: Option<ServerConfig>,
    pub acquirer: ServerConfig,
    pub bank: BankConfig,
    pub terminal: TerminalConfig,
    pub policy: PolicyConfig,
    pub faults: Faults,
    /// Once faults stop (see `Faults::until`, and the README's "The four properties"), every
    /// purchase must reach a final answer within this bound.
    pub liveness_bound: Positive,
    pub limits: RunLimits,
    pub expect: Expect,
    /// `check` runs at most this many seeds of this scenario: for benchmark-sized scenarios.
    pub check_seeds: Option<u64>,
    /// The seed `run` uses when none is given (shrunk scenarios carry the seed they fail on).
    pub seed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Scenario")]
struct RawScenario {
    #[serde(deserialize_with = "scenario_name")]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(deserialize_with = "terminal_count")]
    terminals: AtLeastOne,
    workload: Workload,
    links: Links,
    #[serde(default)]
    switch: Option<ServerConfig>,
    acquirer: ServerConfig,
    bank: BankConfig,
    #[serde(default)]
    terminal: TerminalConfig,
    policy: PolicyConfig,
    #[serde(default)]
    faults: Faults,
    #[serde(default = "default_liveness")]
    liveness_bound: Positive,
    #[serde(default)]
    limits: RunLimits,
    #[serde(default, deserialize_with = "expectation")]
    expect: Expect,
    #[serde(default, deserialize_with = "seed_count")]
    check_seeds: Option<u64>,
    #[serde(default)]
    seed: Option<Whole>,
}

/// A scenario's name heads every report of it, so it must show.
fn scenario_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    if name.trim().is_empty() {
        return Err(de::Error::custom("expected a name, found an empty one"));
    }
    Ok(name)
}

/// `Violated([])` would pass `check` having expected nothing of it.
fn expectation<'de, D: Deserializer<'de>>(d: D) -> Result<Expect, D::Error> {
    let e = Expect::deserialize(d)?;
    if matches!(&e, Expect::Violated(ps) if ps.is_empty()) {
        return Err(de::Error::custom(at_last_field(
            "expect",
            "expected at least one property in `Violated([...])`; a scenario whose properties all hold expects `Hold`",
        )));
    }
    // A property named twice is a slip (another one was meant, most likely).
    if let Expect::Violated(ps) = &e {
        if let Some(p) = ps
            .iter()
            .enumerate()
            .find_map(|(i, p)| ps[..i].contains(p).then_some(p))
        {
            return Err(de::Error::custom(at_last_field(
                "expect",
                format!("expected each property once in `Violated([...])`, found {p:?} twice"),
            )));
        }
    }
    Ok(e)
}

fn default_liveness() -> Positive {
    Positive(Duration(SimDuration::from_secs(600)))
}

impl TryFrom<RawScenario> for Scenario {
    type Error = String;
    fn try_from(r: RawScenario) -> Result<Self, String> {
        let s = Scenario {
            name: r.name,
            description: r.description,
            terminals: r.terminals,
            workload: r.workload,
            links: r.links,
            switch: r.switch,
            acquirer: r.acquirer,
            bank: r.bank,
            terminal: r.terminal,
            policy: r.policy,
            faults: r.faults,
            liveness_bound: r.liveness_bound,
            limits: r.limits,
            expect: r.expect,
            check_seeds: r.check_seeds,
            seed: r.seed.map(|Whole(n)| n),
        };
        // The field rides along for the reader to point at: see `scenario::from_ron`.
        s.check()
            .map_err(|m| format!("{}{FIELD_MARK}{}", m.field, m.message))?;
        Ok(s)
    }
}

/// Separates, in a message serde carries about a value just read whose fields disagree, the
/// field to point at from the message: `scenario::from_ron` points at the last `field:`
/// before where the reader stands, which is the value's own.
pub(crate) const LAST_FIELD_MARK: char = '\u{1d}';

fn at_last_field(field: &str, message: impl fmt::Display) -> String {
    format!("{field}{LAST_FIELD_MARK}{message}")
}

/// Separates the field a cross-field error is about from its message, inside the message
/// serde carries.
pub(crate) const FIELD_MARK: char = '\u{1f}';

/// What a scenario's parts disagree on, and the field to look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Misfit {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for Misfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn misfit(field: &'static str, message: impl Into<String>) -> Misfit {
    Misfit {
        field,
        message: message.into(),
    }
}

impl Scenario {
    /// Checks what no single field can: that the parts agree with each other.
    pub fn check(&self) -> Result<(), Misfit> {
        let l = &self.links;
        match &self.switch {
            Some(_) => {
                if l.acquirer_switch.is_none() || l.switch_bank.is_none() {
                    return Err(misfit(
                        "links",
                        "a scenario with a switch needs links `acquirer_switch` and `switch_bank`",
                    ));
                }
                if l.acquirer_bank.is_some() {
                    return Err(misfit("acquirer_bank", "with a switch, replace `acquirer_bank` by `acquirer_switch` and `switch_bank`"));
                }
            }
            None => {
                if l.acquirer_bank.is_none() {
                    return Err(misfit(
                        "links",
                        "a scenario without a switch needs the link `acquirer_bank`",
                    ));
                }
                if l.acquirer_switch.is_some() || l.switch_bank.is_some() {
                    return Err(misfit(
                        "acquirer_switch",
                        "links `acquirer_switch` and `switch_bank` need a `switch`",
                    ));
                }
            }
        }
        let node_ok = |field: &'static str, n: NodeName| -> Result<(), Misfit> {
            match n {
                NodeName::Terminal(i) if i >= self.terminals.0 => Err(misfit(
                    field,
                    format!(
                        "Terminal({i}) does not exist: terminals are numbered 0 to {}",
                        self.terminals.0 - 1
                    ),
                )),
                NodeName::Switch if self.switch.is_none() => Err(misfit(
                    field,
                    "a fault names the Switch, but the scenario has none",
                )),
                _ => Ok(()),
            }
        };
        for c in &self.faults.crashes {
            node_ok("crashes", c.node)?;
        }
        for c in &self.faults.random_crashes {
            node_ok("random_crashes", c.node)?;
            // As a scheduled crash's `down_for` must be: a crash that is over as it strikes
            // changes nothing, and the run would pass for want of it.
            if c.down_for.0.mean_nanos() < 1.0 {
                return Err(misfit(
                    "random_crashes",
                    "expected a `down_for` of random crashes with a mean of at least 1ns, \
                     found one that is always 0: such a crash is over as it strikes",
                ));
            }
        }
        for c in self.faults.schedule.iter().flat_map(|f| &f.crashes) {
            node_ok("schedule", c.node)?;
        }
        if let Some(h) = self.policy.hedge_after {
            let (h, t) = ((h.0).0, (self.policy.timeout.0).0);
            // The one hedge is sent while the first attempt waits: at or past the timeout, or
            // with no attempt to spare, it would silently never be sent.
            if h >= t {
                return Err(misfit(
                    "hedge_after",
                    format!("expected hedge_after below the timeout ({t}), found {h}: the hedge is sent while the first attempt waits"),
                ));
            }
            if self.policy.max_attempts.0 < 2 {
                return Err(misfit(
                    "hedge_after",
                    "expected max_attempts of at least 2 with hedge_after: the hedge is an attempt",
                ));
            }
            // No attempt starts past the deadline, which runs from the transaction's start, at
            // or before the first attempt's send.
            if let Some(d) = self.policy.deadline.map(Positive::get) {
                if d.as_nanos() <= h.as_nanos() {
                    return Err(misfit(
                        "hedge_after",
                        format!("expected hedge_after below the deadline ({d}), found {h}: the hedge is an attempt, and none starts past the deadline"),
                    ));
                }
            }
        }
        // A cap below the base would make every wait the cap, the base given for nothing, as a
        // uniform latency's `hi` below its `lo` would.
        if let Backoff::Exponential { base, cap }
        | Backoff::FullJitter { base, cap }
        | Backoff::EqualJitter { base, cap }
        | Backoff::Decorrelated { base, cap } = &self.policy.backoff
        {
            if cap < base {
                let waits = match &self.policy.backoff {
                    Backoff::FullJitter { .. } | Backoff::EqualJitter { .. } => {
                        "every wait would be drawn up to the cap, the base counting for nothing"
                    }
                    _ => "every wait would be the cap",
                };
                return Err(misfit(
                    "backoff",
                    format!(
                        "expected the backoff's cap at least its base (\"{}\"), found \"{}\": \
                         {waits}",
                        base.0, cap.0
                    ),
                ));
            }
        }
        // The parser refuses these at their fields; a scenario built in code meets them here.
        if self.policy.max_attempts.0 > MAX_ATTEMPTS {
            return Err(misfit(
                "max_attempts",
                format!(
                    "max_attempts is at most {MAX_ATTEMPTS}, found {}",
                    self.policy.max_attempts.0
                ),
            ));
        }
        if self.workload.amount.max > MAX_AMOUNT {
            return Err(misfit(
                "amount",
                format!(
                    "amounts are at most {MAX_AMOUNT} minor units, found {}",
                    self.workload.amount.max
                ),
            ));
        }
        if self.bank.opening_balance > MAX_BALANCE {
            return Err(misfit(
                "opening_balance",
                format!(
                    "opening_balance is at most {MAX_BALANCE} minor units, found {}",
                    self.bank.opening_balance
                ),
            ));
        }
        let present = |link: LinkName| match link {
            LinkName::TerminalAcquirer => true,
            LinkName::AcquirerBank => l.acquirer_bank.is_some(),
            LinkName::AcquirerSwitch => l.acquirer_switch.is_some(),
            LinkName::SwitchBank => l.switch_bank.is_some(),
        };
        for p in &self.faults.partitions {
            if !present(p.link) {
                return Err(misfit(
                    "partitions",
                    format!(
                        "a partition names the link {:?}, which this scenario does not have",
                        p.link
                    ),
                ));
            }
        }
        if let Some(f) = &self.faults.schedule {
            self.check_schedule(f, &present)?;
        }
        if self.policy.kind == PolicyKind::Idempotent && self.bank.idempotency.is_none() {
            // Allowed on purpose: it shows that keys without a bank that honours them do nothing.
        }
        Ok(())
    }

    /// A schedule's messages must be ones the run can send: a fault on any other never
    /// strikes, and the run would pass for want of it.
    fn check_schedule(
        &self,
        f: &FaultSchedule,
        present: &dyn Fn(LinkName) -> bool,
    ) -> Result<(), Misfit> {
        let lists: [(&'static str, &str, &[MsgId]); 3] = [
            ("drops", "a scheduled drop", &f.drops),
            ("duplicates", "a scheduled duplicate", &f.duplicates),
            ("erroneous", "a scheduled erroneous reply", &f.erroneous),
        ];
        let w = &self.workload;
        // Transactions after the first come from a customer entering the purchase twice (the
        // second) or paying again after a failure (any later one).
        let last_txn: u8 = if w.pay_again.is_some() {
            u8::MAX
        } else if !w.double_submit.prob.is_never() {
            1
        } else {
            0
        };
        for (field, what, ids) in lists {
            for m in ids {
                let never = |why: String| {
                    Err(misfit(
                        field,
                        format!(
                            "{what} of intent {} (txn {}, attempt {}, {:?}, copy {}) names a \
                             message this scenario never sends: {why}",
                            m.intent, m.txn, m.attempt, m.kind, m.copy
                        ),
                    ))
                };
                // An erroneous reply is named by its purchase as it reaches the bank from the
                // acquirer, whichever links it took.
                if field == "erroneous"
                    && (m.link != LinkName::AcquirerBank
                        || !m.to_bank
                        || m.kind != MsgKind::Purchase)
                {
                    return never(
                        "an erroneous reply is named by its purchase as it reaches the bank: \
                         expected `link: AcquirerBank, to_bank: true, kind: Purchase`"
                            .into(),
                    );
                }
                if m.to_bank != m.kind.is_request() {
                    return never(format!(
                        "{:?} travels {} the bank, expected `to_bank: {}`",
                        m.kind,
                        if m.kind.is_request() {
                            "towards"
                        } else {
                            "away from"
                        },
                        m.kind.is_request()
                    ));
                }
                if m.txn > last_txn {
                    return never(format!(
                        "a purchase has transactions 0 to {last_txn} here (a second one needs \
                         `double_submit`, later ones `pay_again`)"
                    ));
                }
                let reversal = matches!(m.kind, MsgKind::Reversal | MsgKind::ReversalResp);
                if !reversal && m.round != 0 {
                    return never(format!(
                        "only a reversal's sends have rounds (each of 65,536 sends), expected \
                         `round: 0` for {:?}, found {}",
                        m.kind, m.round
                    ));
                }
                if reversal && (m.attempt < REVERSAL_ATTEMPTS || m.attempt & 0xffff == 0) {
                    return never(format!(
                        "a reversal's attempt is the attempt it reverses times 65,536 plus its \
                         send (65,537: the first send of the reversal of attempt 1), found {}",
                        m.attempt
                    ));
                }
                // Under a schedule only its own duplicates make copies.
                if !m.made_by(&f.duplicates) {
                    return never(format!(
                        "copy {} would be made by a scheduled duplicate of copy {} on link {:?}, \
                         and `duplicates` lists none",
                        m.copy,
                        (m.copy - 1) / 4,
                        LinkName::from_number((m.copy - 1) % 4)
                    ));
                }
                if field != "erroneous" && !present(m.link) {
                    return Err(misfit(
                        field,
                        format!(
                            "{what} of intent {} (attempt {}, {:?}) names the link {:?}, \
                             which this scenario does not have",
                            m.intent, m.attempt, m.kind, m.link
                        ),
                    ));
                }
                // As with `only`: purchases are numbered 0 to `purchases` - 1.
                if let Some(n) = self.workload.purchases.filter(|&n| m.intent >= n) {
                    return Err(misfit(
                        field,
                        format!(
                            "{what} names intent {}, which is never issued: with \
                             `purchases: {n}`, purchases are numbered 0 to {}",
                            m.intent,
                            n - 1
                        ),
                    ));
                }
                if let Some(only) = &self.workload.only {
                    if only.binary_search(&m.intent).is_err() {
                        return Err(misfit(
                            field,
                            format!(
                                "{what} names intent {}, which is never issued: `only` does \
                                 not list it",
                                m.intent
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The scenario with another built-in policy kind, all other policy settings kept.
    pub fn with_policy(mut self, kind: PolicyKind) -> Scenario {
        self.policy.kind = kind;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (a runaway run went silent for hours): a nanosecond timeout over a link of a
    /// second makes tens of millions of events a second with almost no simulated time, and
    /// the event limit, 2^40 whatever the run, took about nine hours to stop it. The default
    /// now follows the purchases.
    #[test]
    fn the_default_event_limit_follows_the_purchases() {
        let l = RunLimits::default();
        assert_eq!(l.events(Some(1)), 1_000_000_000);
        assert_eq!(l.events(Some(1_000)), 1_000_000_000);
        assert_eq!(l.events(Some(1_000_000)), 1_000_000_000_000);
        assert_eq!(l.events(Some(10_000_000)), 1 << 40);
        assert_eq!(l.events(Some(u64::MAX)), 1 << 40);
        assert_eq!(l.events(None), 1 << 40);
        let given = RunLimits {
            max_events: Some(50),
            ..RunLimits::default()
        };
        assert_eq!(given.events(Some(1)), 50);
    }
}
