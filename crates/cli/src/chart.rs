//! Message sequence charts (SVG): one lifeline per node, every message of one intent as an
//! arrow labelled with its type, STAN and key; drops and crashes marked; debits, reversals,
//! timeouts and the final answer written on the lifelines.

use std::collections::BTreeMap;
use std::path::Path;

use payfault_domain::trace::{NodeLabel, TraceEvent, Tracer};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::CliError;

/// Keeps one intent's records and the crashes and recoveries it meets: those of nodes still
/// down when it starts, then those of the nodes it passes through (not other terminals'), the
/// first [`CHART_RECORDS`] from its first record on. A payment whose reversal is repeated every
/// nanosecond through an outage has millions, which no chart shows and whose SVG would take
/// gigabytes.
pub struct IntentRecorder {
    pub intent: u64,
    pub events: Vec<TraceEvent>,
    /// Before the intent's first record: each node's crash that no recovery has followed yet.
    down: BTreeMap<NodeLabel, TraceEvent>,
    /// Records kept from the intent's first on; `None` before it.
    since_start: Option<usize>,
    /// The intent's terminal, once a record of it there has come.
    terminal: Option<u32>,
    /// Records past the first [`CHART_RECORDS`], counted and left out.
    pub left_out: u64,
}

/// The most records a chart draws.
pub const CHART_RECORDS: usize = 2_000;

impl IntentRecorder {
    pub fn new(intent: u64) -> IntentRecorder {
        IntentRecorder {
            intent,
            events: Vec::new(),
            down: BTreeMap::new(),
            since_start: None,
            terminal: None,
            left_out: 0,
        }
    }
}

impl Tracer for IntentRecorder {
    fn record(&mut self, e: TraceEvent) {
        let own = e.intent == Some(self.intent);
        if own && self.terminal.is_none() {
            if let NodeLabel::Terminal(t) = e.node {
                self.terminal = Some(t);
            }
        }
        let crash = matches!(e.what, "crash" | "recover");
        if !own && !crash {
            return;
        }
        let Some(kept) = &mut self.since_start else {
            if !own {
                if e.what == "crash" {
                    self.down.insert(e.node, e);
                } else {
                    self.down.remove(&e.node);
                }
                return;
            }
            let mut down: Vec<TraceEvent> = std::mem::take(&mut self.down).into_values().collect();
            down.sort_by_key(|d| d.n);
            self.events.extend(down);
            self.events.push(e);
            self.since_start = Some(1);
            return;
        };
        let other_terminal = matches!(e.node, NodeLabel::Terminal(t) if !own && self.terminal.is_some_and(|m| m != t));
        if other_terminal {
            return;
        }
        if *kept < CHART_RECORDS {
            *kept += 1;
            self.events.push(e);
        } else {
            self.left_out += 1;
        }
    }
}

fn column(n: NodeLabel) -> usize {
    match n {
        NodeLabel::Terminal(_) | NodeLabel::Customers => 0,
        NodeLabel::Acquirer => 1,
        NodeLabel::Switch => 2,
        NodeLabel::Bank => 3,
    }
}

pub use payfault_domain::trace::one_line;

pub fn draw(rec: &IntentRecorder, path: &Path, title: &str) -> Result<(), CliError> {
    if rec.since_start.is_none() {
        return Err(CliError::Usage(format!(
            "intent {} did not occur in this run",
            rec.intent
        )));
    }
    // The title is SVG text, where XML 1.0 forbids control characters.
    let title = one_line(title);
    let evs: Vec<&TraceEvent> = rec.events.iter().collect();
    let terminal = evs.iter().find_map(|e| match e.node {
        NodeLabel::Terminal(t) if e.intent == Some(rec.intent) => Some(t),
        _ => None,
    });
    let has_switch = evs
        .iter()
        .any(|e| e.node == NodeLabel::Switch || e.peer == Some(NodeLabel::Switch));
    // Crashes of other terminals are not this intent's story.
    let evs: Vec<&TraceEvent> = evs
        .into_iter()
        .filter(|e| {
            e.intent.is_some() || !matches!(e.node, NodeLabel::Terminal(t) if Some(t) != terminal)
        })
        .collect();
    let (t0, t1) = match (evs.first(), evs.last()) {
        (Some(a), Some(b)) => (a.t, b.t.max(a.t + 1)),
        _ => {
            return Err(CliError::Usage(format!(
                "intent {} did not occur in this run",
                rec.intent
            )))
        }
    };
    let cols: Vec<(usize, String)> = [
        (
            0,
            terminal.map_or("terminal".into(), |t| format!("terminal-{t}")),
        ),
        (1, "acquirer".into()),
        (2, "switch".into()),
        (3, "bank".into()),
    ]
    .into_iter()
    .filter(|(c, _)| *c != 2 || has_switch)
    .collect();
    let width = 220 * cols.len() as u32 + 200;
    let rows = evs.len() as u32;
    let height = (rows * 22 + 160).max(400);
    let x_of = |c: usize| -> i32 {
        let idx = cols.iter().position(|(k, _)| *k == c).unwrap_or(0);
        120 + idx as i32 * 220
    };
    // Time runs down the page, stretched so that close events stay legible: rows by order,
    // with the simulated time printed at the left.
    let y_of = |i: usize| -> i32 { 90 + i as i32 * 22 };
    let err = |e: String| CliError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    // Drawn in memory, then written whole: a failed write leaves an earlier chart as it was.
    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let font = ("sans-serif", 13).into_font();
    let small = ("sans-serif", 11).into_font();
    let left = TextStyle::from(small.clone()).pos(Pos::new(HPos::Left, VPos::Center));
    let centre = TextStyle::from(font.clone()).pos(Pos::new(HPos::Center, VPos::Bottom));
    let draw =
        |r: Result<(), DrawingAreaErrorKind<std::io::Error>>| r.map_err(|e| err(e.to_string()));
    draw(root.draw(&Text::new(
        format!(
            "{title}: intent {}, {:.3} s to {:.3} s{}",
            rec.intent,
            t0 as f64 / 1e9,
            t1 as f64 / 1e9,
            if rec.left_out == 0 {
                String::new()
            } else {
                format!(
                    " (its first {CHART_RECORDS} records; {} later ones left out)",
                    rec.left_out
                )
            }
        ),
        (20, 24),
        font.clone(),
    )))?;
    let bottom = y_of(rows as usize) + 10;
    for (c, name) in &cols {
        let x = x_of(*c);
        draw(root.draw(&Text::new(name.clone(), (x, 70), centre.clone())))?;
        draw(root.draw(&PathElement::new(
            vec![(x, 76), (x, bottom)],
            BLACK.mix(0.4).stroke_width(2),
        )))?;
    }
    let mut sent: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, e) in evs.iter().enumerate() {
        let y = y_of(i);
        draw(root.draw(&Text::new(
            format!("{:.4}s", e.t as f64 / 1e9),
            (8, y),
            left.clone(),
        )))?;
        let x = x_of(column(e.node));
        let label = e.msg.as_ref().map(|m| {
            let rc = m.rc.map_or(String::new(), |rc| format!(" rc {rc}"));
            format!("{} stan {} key {}{rc}", m.mti, m.stan, m.key)
        });
        match e.what {
            "send" | "duplicate" => {
                if let Some(m) = &e.msg {
                    sent.insert(m.id * 2 + u64::from(e.what == "duplicate"), i);
                }
                draw(root.draw(&Circle::new((x, y), 3, BLUE.filled())))?;
            }
            "deliver" => {
                let from = e.msg.as_ref().and_then(|m| {
                    sent.remove(&(m.id * 2))
                        .or_else(|| sent.remove(&(m.id * 2 + 1)))
                });
                if let Some(si) = from {
                    let sx = x_of(e.peer.map_or(0, column));
                    let sy = y_of(si);
                    draw(root.draw(&PathElement::new(
                        vec![(sx, sy), (x, y)],
                        BLUE.stroke_width(2),
                    )))?;
                    let tip = if x > sx { -8 } else { 8 };
                    draw(root.draw(&PathElement::new(
                        vec![(x + tip, y - 5), (x, y), (x + tip, y + 5)],
                        BLUE.stroke_width(2),
                    )))?;
                    let mid = ((sx + x) / 2, (sy + y) / 2 - 2);
                    draw(root.draw(&Text::new(
                        label.clone().unwrap_or_default(),
                        mid,
                        centre.clone().color(&BLUE),
                    )))?;
                }
            }
            "lost" => {
                let px = e.peer.map_or(x + 60, |p| (x + x_of(column(p))) / 2);
                draw(root.draw(&PathElement::new(
                    vec![(x, y), (px, y)],
                    RED.stroke_width(2),
                )))?;
                draw(root.draw(&Cross::new((px, y), 6, RED.stroke_width(3))))?;
                let why = e.detail.clone().unwrap_or_else(|| "lost".into());
                let tx = x.max(px) + 10;
                draw(root.draw(&Text::new(
                    format!("{} {why}", label.unwrap_or_default()),
                    (tx, y),
                    left.clone().color(&RED),
                )))?;
            }
            what => {
                let colour = match what {
                    "debit" => RGBColor(200, 0, 0),
                    "reverse" | "void" => RGBColor(0, 130, 0),
                    "crash" | "recover" => RGBColor(120, 0, 160),
                    "timeout" | "inquiry-timeout" | "error-reply" => RGBColor(200, 120, 0),
                    _ => RGBColor(60, 60, 60),
                };
                draw(root.draw(&Rectangle::new(
                    [(x - 5, y - 5), (x + 5, y + 5)],
                    colour.filled(),
                )))?;
                let detail = e.detail.clone().map_or(String::new(), |d| format!(": {d}"));
                draw(root.draw(&Text::new(
                    format!("{what}{detail}"),
                    (x + 10, y),
                    left.clone().color(&colour),
                )))?;
            }
        }
    }
    root.present().map_err(|e| err(e.to_string()))?;
    drop(root);
    crate::write_atomic(path, svg.as_bytes())
}
