//! What a run tells the outside world, event by event. The simulator hands each record to a
//! [`Tracer`]; writing it anywhere is the caller's business.

use serde::Serialize;

use crate::oracle::ChainLink;

/// `s` with every control character, line breaks included, as `?`: a name kept on one line
/// of a report, or in an SVG title, where XML 1.0 forbids control characters.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A node, as named in traces.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeLabel {
    Terminal(u32),
    Acquirer,
    Switch,
    Bank,
    /// The workload (customers), which is not a node of the network.
    Customers,
}

impl Serialize for NodeLabel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            NodeLabel::Terminal(i) => s.collect_str(&format_args!("terminal-{i}")),
            NodeLabel::Acquirer => s.serialize_str("acquirer"),
            NodeLabel::Switch => s.serialize_str("switch"),
            NodeLabel::Bank => s.serialize_str("bank"),
            NodeLabel::Customers => s.serialize_str("customers"),
        }
    }
}

impl std::fmt::Display for NodeLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeLabel::Terminal(i) => write!(f, "terminal-{i}"),
            NodeLabel::Acquirer => f.write_str("acquirer"),
            NodeLabel::Switch => f.write_str("switch"),
            NodeLabel::Bank => f.write_str("bank"),
            NodeLabel::Customers => f.write_str("customers"),
        }
    }
}

/// The message a trace record is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MsgRef {
    pub id: u64,
    /// ISO 8583 message type: "0200", "0201", "0210", "0400", "0401", "0410", "0600", "0610".
    pub mti: &'static str,
    pub stan: u32,
    pub key: u64,
    /// The attempt, from 1, as a fault schedule's `MsgId` names it. For a reversal, the
    /// attempt it reverses times 65,536 plus which send of the reversal this is: 65,537 is the
    /// first send of the reversal of attempt 1, 65,538 its first repeat (0401). Past 65,535
    /// sends the send number starts again from 0, in the next `round`.
    pub attempt: u32,
    /// A reversal's round of 65,536 sends, as `MsgId` names it; absent when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub round: u8,
    /// Response code, for responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rc: Option<&'static str>,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceEvent {
    /// Index of the event being processed when this was recorded.
    pub n: u64,
    /// Simulated time, nanoseconds.
    pub t: u64,
    pub node: NodeLabel,
    /// What happened: "send", "deliver", "drop", "debit", "timeout", "crash"...
    pub what: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<MsgRef>,
    /// The other end, for sends and deliveries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<NodeLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Receives trace records. `ENABLED = false` lets the compiler drop tracing entirely.
pub trait Tracer {
    const ENABLED: bool = true;
    /// Whether records about this intent (or about no intent) are wanted; saves building
    /// the ones that are not.
    fn wants(&self, _intent: Option<u64>) -> bool {
        true
    }
    fn record(&mut self, event: TraceEvent);
}

/// Tracing off.
pub struct NoTrace;

impl Tracer for NoTrace {
    const ENABLED: bool = false;
    fn record(&mut self, _: TraceEvent) {}
}

impl<F: FnMut(TraceEvent)> Tracer for F {
    fn record(&mut self, event: TraceEvent) {
        self(event)
    }
}

/// Keeps the records of chosen intents, to explain their violations.
pub struct ChainCollector {
    pub intents: std::collections::BTreeMap<u64, Vec<TraceEvent>>,
    pub cap: usize,
}

impl ChainCollector {
    pub fn new(intents: impl IntoIterator<Item = u64>, cap: usize) -> Self {
        ChainCollector {
            intents: intents.into_iter().map(|i| (i, Vec::new())).collect(),
            cap,
        }
    }

    pub fn chain(&self, intent: u64) -> Vec<ChainLink> {
        self.intents
            .get(&intent)
            .map(|evs| {
                evs.iter()
                    .map(|e| ChainLink {
                        event: e.n,
                        t_ns: e.t,
                        msg: e.msg.as_ref().map(|m| m.id),
                        what: describe(e),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One line for a person: "terminal-3 send 0200 stan 12 key 77 -> acquirer".
pub fn describe(e: &TraceEvent) -> String {
    let mut s = format!("{} {}", e.node, e.what);
    if let Some(m) = &e.msg {
        s.push_str(&format!(" {} stan {} key {}", m.mti, m.stan, m.key));
        if let Some(rc) = m.rc {
            s.push_str(&format!(" rc {rc}"));
        }
    }
    if let Some(p) = e.peer {
        let dir = if e.what == "deliver" { "from" } else { "to" };
        s.push_str(&format!(" {dir} {p}"));
    }
    if let Some(d) = &e.detail {
        s.push_str(&format!(" ({d})"));
    }
    s
}

impl Tracer for ChainCollector {
    fn wants(&self, intent: Option<u64>) -> bool {
        intent.is_some_and(|i| self.intents.contains_key(&i))
    }
    fn record(&mut self, event: TraceEvent) {
        if let Some(i) = event.intent {
            if let Some(v) = self.intents.get_mut(&i) {
                if v.len() < self.cap {
                    v.push(event);
                }
            }
        }
    }
}
