//! The report: summary.csv, pairs.csv, charts, report.md and a self-contained index.html,
//! all made from the manifest and the cells' rows.

use std::fmt::Write as _;
use std::path::Path;

use super::charts::{self, Figure, Panel, Point, Series, XAxis};
use super::data::{self, CellRows};
use super::stats::{self, Estimate};
use super::Manifest;
use crate::progress::escape_markup as esc;
use crate::CliError;

const DUP: &str = "duplicates_per_million_permanent";
const DUP_N: &str = "duplicate_permanent";
const DUP_T: &str = "duplicates_per_million_transient";
const DUP_T_N: &str = "duplicate_transient";
const INTENTS: &str = "intents";
const FAIL: &str = "customer_visible_failure_rate";
const MSGS: &str = "messages_per_intent";
const P50: &str = "completion_latency_p50_ms";
const P95: &str = "completion_latency_p95_ms";
const P99: &str = "completion_latency_p99_ms";
const ATTEMPTS: &str = "attempts_per_intent";
const NO_ANSWER: &str = "no_final_answer";
const NO_ANSWER_RATE: &str = "no_final_answer_rate";

/// The unit of a paired metric's differences in pairs.csv.
fn paired_unit(metric: &str) -> &'static str {
    match metric {
        DUP | DUP_T => "per million intents",
        FAIL => "fraction of intents",
        P50 | P95 | P99 => "ms",
        MSGS => "messages per intent",
        ATTEMPTS => "attempts per intent",
        _ => "intents per seed",
    }
}

/// Metrics compared policy against baseline, seed by seed.
const PAIRED: [&str; 9] = [
    DUP,
    DUP_T,
    FAIL,
    P50,
    P95,
    P99,
    MSGS,
    ATTEMPTS,
    "charged_but_told_failed",
];

/// Where a rate's per-seed event count comes from.
#[derive(Clone, Copy)]
enum Events {
    /// A count column.
    Count(&'static str),
    /// A rate column over the seed's intents, times those intents.
    Rate(&'static str),
}

/// A rate of events over intents, estimated pooled over seeds with an exact interval.
struct RateDef {
    /// Its column of results.csv, or its name in summary.csv where it has no column.
    name: &'static str,
    events: Events,
    /// Per intent, times this, is the column's unit (per million for duplicates).
    scale: f64,
    /// Events an intent may have several of (duplicate debits), which take a Poisson
    /// interval; the others are proportions of intents, which take a binomial one.
    several: bool,
}

const RATES: [RateDef; 6] = [
    RateDef {
        name: DUP,
        events: Events::Count(DUP_N),
        scale: 1e6,
        several: true,
    },
    RateDef {
        name: DUP_T,
        events: Events::Count(DUP_T_N),
        scale: 1e6,
        several: true,
    },
    RateDef {
        name: FAIL,
        events: Events::Rate(FAIL),
        scale: 1.0,
        several: false,
    },
    RateDef {
        name: NO_ANSWER_RATE,
        events: Events::Count(NO_ANSWER),
        scale: 1.0,
        several: false,
    },
    RateDef {
        name: "charged_but_told_failed_rate",
        events: Events::Count("charged_but_told_failed"),
        scale: 1.0,
        several: false,
    },
    RateDef {
        name: "told_approved_not_charged_rate",
        events: Events::Count("told_approved_not_charged"),
        scale: 1.0,
        several: false,
    },
];

fn rate_def(name: &str) -> Option<(usize, &'static RateDef)> {
    RATES.iter().enumerate().find(|(_, d)| d.name == name)
}

/// The data of the report, computed once.
struct Report<'a> {
    m: &'a Manifest,
    rows: &'a [CellRows],
    /// `est[cell][column]`: a rate column's is its pooled rate, with its exact interval.
    est: Vec<Vec<Estimate>>,
    /// `rates[cell][i]`: the rate [`RATES`]`[i]`, where the sweep has its columns.
    rates: Vec<Vec<Option<stats::Rate>>>,
    /// The axis along x in the charts.
    x_axis: usize,
    /// For each series: label, colour, and the cells along it.
    series: Vec<(String, plotters::style::RGBColor, Vec<usize>)>,
}

impl Report<'_> {
    fn col(&self, name: &str) -> Option<usize> {
        self.m.columns.iter().position(|c| c == name)
    }

    fn total(&self, cell: usize, name: &str) -> Option<f64> {
        self.col(name)
            .map(|c| self.rows[cell].values[c].iter().sum::<f64>())
    }

    /// The estimate of a column over a cell's seeds; `None` when no seed gives it (a
    /// per-intent metric where no seed issued a purchase).
    fn mean(&self, cell: usize, name: &str) -> Option<Estimate> {
        self.col(name)
            .map(|c| self.est[cell][c])
            .filter(|e| e.n > 0)
    }

    /// A rate of [`RATES`] in a cell, pooled over its seeds.
    fn rate(&self, cell: usize, name: &str) -> Option<stats::Rate> {
        self.rates[cell][rate_def(name)?.0]
    }

    /// When none of a rate's events was seen in a cell that issued purchases: the upper end
    /// of its 95% interval, in the rate's unit.
    fn none_seen_bound(&self, cell: usize, name: &str) -> Option<f64> {
        let r = self.rate(cell, name)?;
        let (_, hi) = r.ci?;
        let scale = rate_def(name)?.1.scale;
        (r.count == 0.0).then_some(hi * scale)
    }

    fn value_label(&self, cell: usize, axis: usize) -> &str {
        &self.m.axes[axis].values[self.m.cells[cell].coords[axis]].label
    }

    /// The cell with the same coordinates but another value on one axis.
    fn neighbour(&self, cell: usize, axis: usize, value: usize) -> usize {
        let mut coords = self.m.cells[cell].coords.clone();
        coords[axis] = value;
        coords
            .iter()
            .zip(&self.m.axes)
            .fold(0, |i, (&c, a)| i * a.values.len() + c)
    }

    /// The axes, other than x, whose values tell series apart.
    fn series_axes(&self) -> Vec<usize> {
        (0..self.m.axes.len())
            .filter(|&a| (a != self.x_axis || self.x_axis == 0) && self.m.axes[a].values.len() > 1)
            .collect()
    }
}

/// Whether a column is a ratio over the run's intents or a percentile of their latencies: a
/// run that issued no purchase has none to give, and its 0 is left out of means and pairs.
fn per_intent(col: &str) -> bool {
    col == FAIL
        || col.ends_with("_per_intent")
        || col.starts_with("duplicates_per_million")
        || col.starts_with("completion_latency_")
}

/// The values of column `col` over the seeds that `keep` (by seed index) lets through.
fn kept(values: &[f64], keep: impl Fn(usize) -> bool) -> Vec<f64> {
    values
        .iter()
        .enumerate()
        .filter(|&(s, _)| keep(s))
        .map(|(_, &v)| v)
        .collect()
}

/// Whether seed index `s` of a cell's rows issued a purchase; every seed does when the
/// sweep does not record intents.
fn issued(m: &Manifest, rows: &CellRows, s: usize) -> bool {
    m.columns
        .iter()
        .position(|c| c == INTENTS)
        .is_none_or(|ic| rows.values[ic][s] > 0.0)
}

/// Whether a column is a percentile of the latencies of the intents that got a final answer.
fn latency(col: &str) -> bool {
    col.starts_with("completion_latency_")
}

/// Whether seed index `s` of a cell's rows gave some intent a final answer: a seed on which
/// none did has no latency, and its percentiles of 0 are no measurement.
fn answered(m: &Manifest, rows: &CellRows, s: usize) -> bool {
    let col = |name: &str| m.columns.iter().position(|c| c == name);
    match (col(INTENTS), col(NO_ANSWER)) {
        (Some(i), Some(n)) => rows.values[i][s] - rows.values[n][s] > 0.0,
        _ => issued(m, rows, s),
    }
}

/// Whether seed index `s` of a cell's rows gives a value of column `col`.
fn gives(m: &Manifest, rows: &CellRows, col: &str, s: usize) -> bool {
    if latency(col) {
        answered(m, rows, s)
    } else if per_intent(col) {
        issued(m, rows, s)
    } else {
        true
    }
}

/// The rates of [`RATES`] of one cell, pooled over its seeds; none where the sweep lacks a
/// column one needs.
fn cell_rates(m: &Manifest, rows: &CellRows) -> Vec<Option<stats::Rate>> {
    let col = |name: &str| m.columns.iter().position(|c| c == name);
    RATES
        .iter()
        .map(|d| {
            let intents = &rows.values[col(INTENTS)?];
            let events: Vec<f64> = match d.events {
                Events::Count(c) => rows.values[col(c)?].clone(),
                // The count behind a ratio of whole numbers: exact, since intents are far
                // fewer than 2^52.
                Events::Rate(c) => rows.values[col(c)?]
                    .iter()
                    .zip(intents)
                    .map(|(r, n)| (r * n).round())
                    .collect(),
            };
            Some(if d.several {
                stats::pooled_count_rate(&events, intents)
            } else {
                stats::pooled_rate(&events, intents)
            })
        })
        .collect()
}

fn build<'a>(m: &'a Manifest, rows: &'a [CellRows]) -> Report<'a> {
    let rates: Vec<Vec<Option<stats::Rate>>> = rows.iter().map(|r| cell_rates(m, r)).collect();
    let est = rows
        .iter()
        .zip(&rates)
        .map(|(r, cell_rates)| {
            r.values
                .iter()
                .zip(&m.columns)
                .map(|(v, col)| {
                    let pooled = rate_def(col).and_then(|(i, d)| Some((cell_rates[i]?, d.scale)));
                    if let Some((rate, scale)) = pooled {
                        Estimate {
                            n: rate.seeds,
                            mean: rate.ratio * scale,
                            ci: rate.ci.map(|(lo, hi)| (lo * scale, hi * scale)),
                        }
                    } else {
                        stats::estimate_nonnegative(&kept(v, |s| gives(m, r, col, s)))
                    }
                })
                .collect()
        })
        .collect();
    let x_axis = (1..m.axes.len())
        .find(|&a| m.axes[a].values.len() > 1)
        .unwrap_or(0);
    let mut r = Report {
        m,
        rows,
        est,
        rates,
        x_axis,
        series: Vec::new(),
    };
    let keys = r.series_axes();
    let by_policy = keys.iter().all(|&a| a == 0);
    let mut series: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for (i, c) in m.cells.iter().enumerate() {
        let key: Vec<usize> = keys.iter().map(|&a| c.coords[a]).collect();
        match series.iter_mut().find(|(k, _)| *k == key) {
            Some((_, cells)) => cells.push(i),
            None => series.push((key, vec![i])),
        }
    }
    r.series = series
        .into_iter()
        .enumerate()
        .map(|(si, (_, cells))| {
            let first = cells[0];
            let parts: Vec<String> = keys
                .iter()
                .map(|&a| {
                    if a == 0 {
                        r.value_label(first, 0).to_string()
                    } else {
                        format!("{}={}", m.axes[a].name, r.value_label(first, a))
                    }
                })
                .collect();
            let label = if parts.is_empty() {
                r.value_label(first, 0).to_string()
            } else {
                parts.join(", ")
            };
            let color = if by_policy {
                charts::policy_color(r.value_label(first, 0))
            } else {
                charts::palette(si)
            };
            (label, color, cells)
        })
        .collect();
    r
}

/// A number with about three significant digits.
pub fn sig(v: f64) -> String {
    sig_digits(v, 3)
}

/// `v` to `digits` significant digits, whole numbers whole.
fn sig_digits(v: f64, digits: i32) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if a >= libm::pow(10.0, f64::from(digits)) {
        return format!("{v:.0}");
    }
    let decimals = (digits - 1 - libm::log10(a).floor() as i32).clamp(0, digits + 5) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A mean and its interval; a value equal on every seed has no interval to give.
fn with_ci(e: Estimate, scale: f64) -> String {
    match e.ci {
        Some((lo, hi)) if lo == hi => format!("{} on every seed", sig(e.mean * scale)),
        Some((lo, hi)) => interval_text(e.mean * scale, lo * scale, hi * scale),
        None => sig(e.mean * scale),
    }
}

/// "m [lo, hi]", to three significant digits, or as many more as the bounds need to differ
/// where they do: "3.98 [3.98, 3.98]" would read as an interval of no width.
fn interval_text(mean: f64, lo: f64, hi: f64) -> String {
    let digits = (3..=8)
        .find(|&d| lo == hi || sig_digits(lo, d) != sig_digits(hi, d))
        .unwrap_or(8);
    format!(
        "{} [{}, {}]",
        sig_digits(mean, digits),
        sig_digits(lo, digits),
        sig_digits(hi, digits)
    )
}

/// A paired difference and its interval.
fn diff_text(e: Estimate, scale: f64) -> String {
    match e.ci {
        Some((lo, hi)) if lo == hi && e.mean == 0.0 => "no difference on any seed".into(),
        _ => with_ci(e, scale),
    }
}

/// A paired difference whose t interval excludes 0 on a split of seeds that does not bear it
/// out: the exact sign test does not find it uneven (p ≥ 0.05), or most seeds that differ go
/// the other way. A few seeds that differ by large steps, as rare events do, make the t
/// interval surer than it should be.
/// Every seed going the interval's way is as far as a sign test can see: on five seeds or
/// fewer its least p is 2/2^5 = 0.0625, and so unanimous a split is not marked.
fn unsupported(p: &Pair) -> bool {
    let Some((lo, hi)) = p.diff.ci.filter(|(lo, hi)| lo < hi) else {
        return false;
    };
    let (higher, lower) = (p.signs.higher, p.signs.lower);
    let n = p.diff.n;
    (lo > 0.0 && higher < n && (p.signs.p >= 0.05 || higher <= lower))
        || (hi < 0.0 && lower < n && (p.signs.p >= 0.05 || lower <= higher))
}

/// The other way round: a t interval that holds 0 where the seeds' split is uneven enough for
/// the exact sign test (p < 0.05), as when every seed that differs goes one way by small
/// steps and one seed the other by a large one: the difference the interval misses.
fn split_only(p: &Pair) -> bool {
    p.diff
        .ci
        .is_some_and(|(lo, hi)| lo < hi && lo <= 0.0 && 0.0 <= hi && p.signs.p < 0.05)
}

/// A per-seed quantity of a cell, or why there is none.
fn mean_text(r: &Report, cell: usize, col: &str, scale: f64) -> String {
    match (r.col(col), r.mean(cell, col)) {
        (None, _) => "-".into(),
        // Equal on the seeds that measured it, which are not all of them (some issued no
        // purchase, or got no final answer): said so, not "on every seed".
        (Some(_), Some(e))
            if e.ci.is_some_and(|(lo, hi)| lo == hi) && e.n < r.rows[cell].seeds.len() =>
        {
            format!("{} on each of {} seeds", sig(e.mean * scale), e.n)
        }
        (Some(_), Some(e)) => with_ci(e, scale),
        (Some(_), None) => why_none(r, &[cell], col).into(),
    }
}

/// Why no seed gives column `col` on all of `cells` at once.
fn why_none(r: &Report, cells: &[usize], col: &str) -> &'static str {
    let seeds = cells
        .iter()
        .map(|&c| r.rows[c].seeds.len())
        .min()
        .unwrap_or(0);
    let purchases = (0..seeds).any(|s| cells.iter().all(|&c| issued(r.m, &r.rows[c], s)));
    if latency(col) && purchases {
        "no final answer"
    } else {
        "no intents"
    }
}

/// A rate of [`RATES`] times `scale` (its own unit times 100 gives a percentage): the pooled
/// ratio and its exact interval, "0 (≤ U)" where none was seen, U being the upper end of the
/// same interval.
fn rate_text(r: &Report, cell: usize, name: &str, scale: f64) -> String {
    let Some(rate) = r.rate(cell, name) else {
        return "-".into();
    };
    let Some((lo, hi)) = rate.ci else {
        return "no intents".into();
    };
    let unit = rate_def(name).map_or(1.0, |d| d.1.scale) * scale;
    if rate.count == 0.0 {
        format!("0 (≤ {})", sig(hi * unit))
    } else {
        interval_text(rate.ratio * unit, lo * unit, hi * unit)
    }
}

fn intents_text(n: f64) -> String {
    let s = format!("{n:.0}");
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The columns of pairs.csv besides the parameters'.
const PAIRS_COLUMNS: [&str; 14] = [
    "cell",
    "baseline_cell",
    "compared",
    "baseline",
    "metric",
    "unit",
    "seeds",
    "mean_difference",
    "ci95_lo",
    "ci95_hi",
    "seeds_higher",
    "seeds_lower",
    "sign_test_p",
    "sign_test_p_holm",
];

/// Every name a column of summary.csv or pairs.csv may have besides the parameters' (a
/// superset: each derived name of every metric and rate): a parameter named as one of them
/// would give a file two columns of one name, which CSV readers resolve silently.
pub fn reserved_columns() -> std::collections::BTreeSet<String> {
    let mut names: std::collections::BTreeSet<String> = PAIRS_COLUMNS
        .iter()
        .chain(&["seeds_with_intents", "seeds_with_answers"])
        .chain(&["customer_visible_failures_total"])
        .map(|s| s.to_string())
        .collect();
    let metrics = data::metric_columns();
    let counts = RATES.iter().filter_map(|d| match d.events {
        Events::Count(c) => Some(c),
        Events::Rate(_) => None,
    });
    let bases: Vec<String> = metrics
        .iter()
        .cloned()
        .chain([INTENTS.to_string()])
        .chain(RATES.iter().map(|d| d.name.to_string()))
        .chain(counts.map(String::from))
        .collect();
    for b in &bases {
        for suffix in [
            "mean",
            "pooled",
            "ci95_lo",
            "ci95_hi",
            "total",
            "overdispersion",
        ] {
            names.insert(format!("{b}_{suffix}"));
        }
    }
    names
}

/// Columns per cell: for each metric of results.csv, its mean over seeds with a Student's t
/// interval (`_mean`, `_ci95_lo`, `_ci95_hi`), or, for a rate over intents, its pooled ratio
/// with the exact interval (`_pooled`, ...); then the totals and the rates that have no column
/// of their own, and each rate's overdispersion factor.
fn summary_csv(r: &Report) -> String {
    let m = r.m;
    let mut h = vec!["cell".to_string()];
    h.extend(m.axes.iter().map(|a| a.name.clone()));
    h.push("seeds".into());
    h.push("seeds_with_intents".into());
    h.push("seeds_with_answers".into());
    for c in &m.columns {
        let point = if rate_def(c).is_some() {
            "pooled"
        } else {
            "mean"
        };
        h.push(format!("{c}_{point}"));
        h.push(format!("{c}_ci95_lo"));
        h.push(format!("{c}_ci95_hi"));
    }
    let totals: Vec<&str> = [INTENTS]
        .into_iter()
        .chain(RATES.iter().filter_map(|d| match d.events {
            Events::Count(c) => Some(c),
            Events::Rate(_) => None,
        }))
        .filter(|c| r.col(c).is_some())
        .collect();
    h.extend(totals.iter().map(|c| format!("{c}_total")));
    if r.col(FAIL).is_some() {
        h.push("customer_visible_failures_total".into());
    }
    let extra: Vec<&RateDef> = RATES.iter().filter(|d| r.col(d.name).is_none()).collect();
    for d in &extra {
        h.push(format!("{}_pooled", d.name));
        h.push(format!("{}_ci95_lo", d.name));
        h.push(format!("{}_ci95_hi", d.name));
    }
    h.extend(RATES.iter().map(|d| format!("{}_overdispersion", d.name)));
    let mut out = data::line(&h);
    let num = |v: Option<f64>| {
        v.filter(|v| v.is_finite())
            .map_or(String::new(), data::number)
    };
    for (i, cell) in m.cells.iter().enumerate() {
        let mut f = m.cell_labels(cell);
        f.push(r.rows[i].seeds.len().to_string());
        for counts in [issued, answered] {
            f.push(
                (0..r.rows[i].seeds.len())
                    .filter(|&s| counts(m, &r.rows[i], s))
                    .count()
                    .to_string(),
            );
        }
        for e in &r.est[i] {
            // No seed gave it: no value to write.
            f.push(num((e.n > 0).then_some(e.mean)));
            f.push(num(e.ci.map(|c| c.0)));
            f.push(num(e.ci.map(|c| c.1)));
        }
        for c in &totals {
            f.push(num(r.total(i, c)));
        }
        if r.col(FAIL).is_some() {
            f.push(num(r.rate(i, FAIL).map(|x| x.count)));
        }
        for d in &extra {
            let rate = r.rate(i, d.name);
            f.push(num(rate.map(|x| x.ratio * d.scale)));
            f.push(num(rate.and_then(|x| x.ci).map(|c| c.0 * d.scale)));
            f.push(num(rate.and_then(|x| x.ci).map(|c| c.1 * d.scale)));
        }
        for d in &RATES {
            let rate = r.rate(i, d.name).filter(|x| x.seeds > 0);
            f.push(num(rate.map(|x| x.dispersion)));
        }
        out.push_str(&data::line(&f));
    }
    out
}

/// One paired comparison: a cell against its twin at the reference value of one axis (the
/// baseline policy, or a parameter's first value), on one metric.
struct Pair {
    /// The axis whose value differs between the two cells.
    axis: usize,
    cell: usize,
    base: usize,
    metric: &'static str,
    diff: Estimate,
    signs: stats::Signs,
}

/// The value of `axis` that the others are compared with: the baseline policy, a
/// parameter's first value.
fn reference(m: &Manifest, axis: usize) -> usize {
    if axis == 0 {
        m.baseline
    } else {
        0
    }
}

/// The axes whose values are compared with their reference: those with more than one value.
fn compared_axes(m: &Manifest) -> Vec<usize> {
    (0..m.axes.len())
        .filter(|&a| m.axes[a].values.len() > 1)
        .collect()
}

/// Every cell against its twin at each compared axis's reference value, seed by seed: each
/// policy against the baseline at the same settings, and each value of a parameter against
/// its first, under the same policy and other settings, where the seeds' common random
/// numbers make the comparison far sharper than two cells' separate intervals.
fn pairs(r: &Report) -> Vec<Pair> {
    let mut out = Vec::new();
    for axis in compared_axes(r.m) {
        let reference = reference(r.m, axis);
        for (i, c) in r.m.cells.iter().enumerate() {
            if c.coords[axis] != reference {
                out.extend(pairs_of(r, axis, i, r.neighbour(i, axis, reference)));
            }
        }
    }
    out
}

/// Cell `i` against cell `base` on each paired metric.
fn pairs_of(r: &Report, axis: usize, i: usize, base: usize) -> Vec<Pair> {
    PAIRED
        .iter()
        .filter_map(|&metric| {
            let col = r.col(metric)?;
            // Seed by seed, over the seeds both cells can give the metric on.
            let both = |s: usize| {
                gives(r.m, &r.rows[i], metric, s) && gives(r.m, &r.rows[base], metric, s)
            };
            let (a, b) = (
                kept(&r.rows[i].values[col], both),
                kept(&r.rows[base].values[col], both),
            );
            Some(Pair {
                axis,
                cell: i,
                base,
                metric,
                diff: stats::paired(&a, &b),
                signs: stats::sign_test(&a, &b),
            })
        })
        .collect()
}

fn pairs_csv(r: &Report, ps: &[Pair]) -> String {
    let mut h: Vec<String> = PAIRS_COLUMNS[..2].iter().map(|s| s.to_string()).collect();
    h.extend(r.m.axes.iter().map(|a| a.name.clone()));
    h.extend(PAIRS_COLUMNS[2..].iter().map(|s| s.to_string()));
    let mut out = data::line(&h);
    // The file's comparisons are one family: Holm's p holds the chance of any false finding
    // among them at 5%.
    let holm = stats::holm(&ps.iter().map(|p| p.signs.p).collect::<Vec<_>>());
    for (p, holm) in ps.iter().zip(holm) {
        let mut f = vec![r.m.cells[p.cell].id.clone(), r.m.cells[p.base].id.clone()];
        f.extend((0..r.m.axes.len()).map(|a| r.value_label(p.cell, a).to_string()));
        f.push(r.m.axes[p.axis].name.clone());
        f.push(r.value_label(p.base, p.axis).to_string());
        f.push(p.metric.to_string());
        f.push(paired_unit(p.metric).to_string());
        f.push(p.diff.n.to_string());
        f.push(if p.diff.n == 0 {
            String::new()
        } else {
            data::number(p.diff.mean)
        });
        let (lo, hi) = p.diff.ci.map_or((String::new(), String::new()), |(l, h)| {
            (data::number(l), data::number(h))
        });
        f.push(lo);
        f.push(hi);
        f.push(p.signs.higher.to_string());
        f.push(p.signs.lower.to_string());
        f.push(data::number(p.signs.p));
        f.push(data::number(holm));
        out.push_str(&data::line(&f));
    }
    out
}

/// A chart, its file stem and the paragraph that says what it shows.
struct Chart {
    stem: String,
    figure: Figure,
    text: String,
}

fn x_axis_of(r: &Report) -> (XAxis, String) {
    let a = &r.m.axes[r.x_axis];
    (
        XAxis::Categories(a.values.iter().map(|v| v.label.clone()).collect()),
        a.label.clone(),
    )
}

/// A series of one metric along x, with its interval.
fn metric_series(r: &Report, name: &str, scale: f64) -> Vec<Series> {
    r.series
        .iter()
        .map(|(label, color, cells)| Series {
            label: label.clone(),
            color: *color,
            points: cells
                .iter()
                .filter_map(|&c| {
                    let e = r.mean(c, name)?;
                    Some(Point {
                        x: r.m.cells[c].coords[r.x_axis] as f64,
                        y: e.mean * scale,
                        ci: e.ci.map(|(lo, hi)| (lo * scale, hi * scale)),
                        bound: false,
                        tag: None,
                    })
                })
                .collect(),
        })
        .collect()
}

/// A rate along x, pooled with its exact interval; where none was seen, a hollow marker.
fn rate_series(r: &Report, rate: &str, scale: f64) -> Vec<Series> {
    let mut s = metric_series(r, rate, scale);
    for (series, (_, _, cells)) in s.iter_mut().zip(&r.series) {
        // The points are the cells that issued purchases, in order.
        let shown = cells.iter().filter(|&&c| r.mean(c, rate).is_some());
        for (p, &c) in series.points.iter_mut().zip(shown) {
            p.bound = r.none_seen_bound(c, rate).is_some();
        }
    }
    s
}

fn figure(r: &Report, title: &str, panels: Vec<Panel>) -> Figure {
    let (x, x_label) = x_axis_of(r);
    let height = match panels.len() {
        0 | 1 => 540,
        n => 60 + 380 * n as u32,
    };
    Figure {
        title: title.to_string(),
        x_label,
        x,
        panels,
        lines: r.m.axes[r.x_axis].ordered,
        width: 1000,
        height,
    }
}

/// Per series: the most duplicates seen and where, and where none was seen.
fn dup_facts(r: &Report, rate: &str) -> String {
    let x = &r.m.axes[r.x_axis];
    // Every value of x at which the series shows `m` as rounded: a tie names them all.
    let at = |seen: &[(usize, f64)], m: f64| {
        let values: Vec<String> = seen
            .iter()
            .filter(|s| sig(s.1) == sig(m))
            .map(|s| given(r.value_label(s.0, r.x_axis)))
            .collect();
        format!("{} = {}", given(&x.name), values.join(", "))
    };
    let facts: Vec<String> = r
        .series
        .iter()
        .map(|(label, _, cells)| {
            let label = given(label);
            if r.x_axis == 0 {
                return format!("{label}: {}", rate_text(r, cells[0], rate, 1.0));
            }
            let none: Vec<usize> = cells
                .iter()
                .copied()
                .filter(|&c| r.none_seen_bound(c, rate).is_some())
                .collect();
            // Cells that issued no purchase have nothing to count.
            let idle = cells
                .iter()
                .any(|&c| r.rate(c, rate).is_none_or(|x| x.seeds == 0));
            let bound = none
                .iter()
                .filter_map(|&c| r.none_seen_bound(c, rate))
                .fold(0.0, f64::max);
            let seen: Vec<(usize, f64)> = cells
                .iter()
                .copied()
                .filter(|c| !none.contains(c))
                .filter_map(|c| Some((c, r.mean(c, rate)?.mean)))
                .collect();
            let worst = seen.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
            let least = seen.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
            match worst {
                None if none.is_empty() => format!("{label}: no intents"),
                None => format!(
                    "{label}: none seen at any {}{} (each {}0, with a 95% interval reaching at \
                     most {} per million)",
                    given(&x.name),
                    if idle { " that issued purchases" } else { "" },
                    if idle { "such cell " } else { "cell " },
                    sig(bound)
                ),
                Some((_, m)) if none.is_empty() => match least {
                    Some((_, lm)) if sig(lm) != sig(m) => format!(
                        "{label}: seen in every cell{}, from {} ({}) to {} ({})",
                        if idle { " that issued purchases" } else { "" },
                        sig(lm),
                        at(&seen, lm),
                        sig(m),
                        at(&seen, m)
                    ),
                    _ => format!("{label}: {} ({})", sig(m), at(&seen, m)),
                },
                Some((_, m)) => {
                    let where_none: Vec<String> = none
                        .iter()
                        .map(|&n| given(r.value_label(n, r.x_axis)))
                        .collect();
                    format!(
                        "{label}: up to {} ({}), none seen at {} = {} (0, with a 95% interval \
                         reaching at most {} per million)",
                        sig(m),
                        at(&seen, m),
                        given(&x.name),
                        where_none.join(", "),
                        sig(bound)
                    )
                }
            }
        })
        .collect();
    facts.join("; ")
}

/// "At `<x>` = `<last value>`": where the x axis is hardest in most sweeps, its last value.
/// A series' mean and its name.
type Labelled<'a> = (f64, &'a str);

/// The lowest and highest series mean of `col` (times `scale`) at the last value of the x
/// axis, after the phrase that names that value.
fn extremes_at_last<'a>(
    r: &'a Report,
    col: &str,
    scale: f64,
) -> Option<(String, Labelled<'a>, Labelled<'a>)> {
    let (lead, last) = at_last(r);
    let mut vals: Vec<Labelled> = last
        .iter()
        .filter_map(|&(name, c)| Some((r.mean(c, col)?.mean * scale, name)))
        .collect();
    vals.sort_by(|a, b| a.0.total_cmp(&b.0));
    Some((lead, *vals.first()?, *vals.last()?))
}

/// [`extremes_at_last`] of a pooled rate: its pooled ratios, and one none saw as `0 (≤ U)`,
/// as the table gives it, since zero observed is not zero possible.
fn pooled_extremes_at_last(r: &Report, col: &str, scale: f64, unit: &str) -> String {
    let (lead, last) = at_last(r);
    let factor = rate_def(col).map_or(1.0, |d| d.1.scale) * scale;
    let mut vals: Vec<(f64, &str, String)> = last
        .iter()
        .filter_map(|&(name, c)| {
            let rate = r.rate(c, col)?;
            let (_, hi) = rate.ci?;
            let text = if rate.count == 0.0 {
                format!("0 (≤ {}{unit})", sig(hi * factor))
            } else {
                format!("{}{unit}", sig(rate.ratio * factor))
            };
            Some((rate.ratio, name, text))
        })
        .collect();
    vals.sort_by(|a, b| a.0.total_cmp(&b.0));
    if vals.len() > 1 && vals.iter().all(|v| v.0 == 0.0) {
        let bound = last
            .iter()
            .filter_map(|&(_, c)| r.rate(c, col)?.ci)
            .map(|(_, hi)| hi * factor)
            .fold(0.0, f64::max);
        return format!(
            " {lead}, none seen in any (each 0, with a 95% interval reaching at most {}{unit}).",
            sig(bound)
        );
    }
    match (vals.first(), vals.last()) {
        (Some(lo), Some(hi)) => format!(
            " {lead}, from {} ({}) to {} ({}).",
            lo.2,
            given(lo.1),
            hi.2,
            given(hi.1)
        ),
        _ => String::new(),
    }
}

/// The cells to compare, each with its name: each series' cell at the last value of the x
/// axis; or, where the x axis is the policy, every cell, named by its policy, since each
/// series then holds one cell a policy.
fn at_last<'a>(r: &'a Report<'a>) -> (String, Vec<(&'a str, usize)>) {
    let a = &r.m.axes[r.x_axis];
    let last = a.values.len() - 1;
    if r.x_axis == 0 {
        let cells = r
            .series
            .iter()
            .flat_map(|(_, _, cells)| cells.iter().copied())
            .map(|c| (a.values[r.m.cells[c].coords[0]].label.as_str(), c))
            .collect();
        return ("Per policy".to_string(), cells);
    }
    let cells = r
        .series
        .iter()
        .filter_map(|(name, _, cells)| {
            cells
                .iter()
                .copied()
                .find(|&c| r.m.cells[c].coords[r.x_axis] == last)
                .map(|c| (name.as_str(), c))
        })
        .collect();
    (
        format!("At {} = {}", given(&a.name), given(&a.values[last].label)),
        cells,
    )
}

/// What a chart's words say of its points of none seen, as `f` draws them: a clause to follow
/// "where none was seen, ", or nothing where it has none.
fn none_seen_clause(f: &Figure) -> Option<&'static str> {
    match charts::none_seen(f) {
        charts::NoneSeen::Absent => None,
        charts::NoneSeen::AtZero => Some(
            "a hollow marker at 0 with its exact 95% interval, since zero observed is not zero \
             possible",
        ),
        charts::NoneSeen::InBand => Some(
            "a hollow marker in the shaded band labelled 0 under the logarithmic axis, which has \
             no zero, with a bar up to the upper end of its exact 95% interval, since zero \
             observed is not zero possible: the marker stands for 0, not for a rate below the \
             others, and the bar's top is a bound, not a rate",
        ),
    }
}

fn charts(r: &Report) -> Vec<Chart> {
    let mut out = Vec::new();
    let n_seeds = r.m.seeds;
    // One seed gives a mean but no interval.
    let (seeds_with, intervals) = if n_seeds > 1 {
        ("seeds with 95% intervals", " (95% intervals)")
    } else {
        ("seed, without intervals", "")
    };
    let have = |c: &str| r.col(c).is_some();
    if have(DUP) && have(DUP_N) && have(INTENTS) {
        for (stem, rate, count, what) in [
            ("duplicates", DUP, DUP_N, "permanent"),
            ("duplicates-transient", DUP_T, DUP_T_N, "transient"),
        ] {
            if !have(rate) || !have(count) {
                continue;
            }
            let series = rate_series(r, rate, 1.0);
            let title = if what == "permanent" {
                "Duplicate debits per million intents (permanent)"
            } else {
                "Duplicate debits later reversed, per million intents (transient)"
            };
            let facts = dup_facts(r, rate);
            let meaning = if what == "permanent" {
                "A permanent duplicate is a second debit for one purchase that is never reversed: the \
                 customer paid twice (the 9984 case)."
            } else {
                "A transient duplicate is a second debit that a reversal or refund later undid: the \
                 customer was charged twice for a while."
            };
            let figure = figure(
                r,
                title,
                vec![Panel {
                    title: String::new(),
                    y_label: format!("{what} duplicates per million intents"),
                    series,
                }],
            );
            let none = none_seen_clause(&figure).map_or(String::new(), |c| {
                format!("; where no duplicate was seen, {c}")
            });
            out.push(Chart {
                stem: stem.into(),
                text: format!(
                    "{meaning} Each point is the rate pooled over the intents of the cell's \
                     {n_seeds} {seeds}, with its exact 95% interval{none}. The y axis turns \
                     logarithmic when the values span two decades or more. Per series: {facts}.",
                    seeds = if n_seeds == 1 { "seed" } else { "seeds" },
                ),
                figure,
            });
        }
    }
    if have(P50) && have(P95) && have(P99) {
        let panels: Vec<Panel> = [("p50", P50), ("p95", P95), ("p99", P99)]
            .into_iter()
            .map(|(t, c)| Panel {
                title: t.to_string(),
                y_label: "completion latency (ms)".into(),
                series: metric_series(r, c, 1.0),
            })
            .collect();
        let spread = match extremes_at_last(r, P99, 1.0) {
            Some((lead, lo, hi)) => format!(
                "{lead}, the p99 runs from {} ms ({}) to {} ms ({})",
                sig(lo.0),
                given(lo.1),
                sig(hi.0),
                given(hi.1)
            ),
            None => String::new(),
        };
        out.push(Chart {
            stem: "latency".into(),
            figure: figure(r, "Completion latency percentiles", panels),
            text: format!(
                "How long a customer waits from the purchase (joining the terminal's line, so \
                 time behind earlier customers counts) to the final answer, as the 50th, 95th and \
                 99th percentiles of each run, averaged over seeds{intervals}. Only intents that \
                 got a final answer count: the table gives the share that never did, and a seed \
                 on which none did is left out. Each \
                 percentile is the upper edge of its histogram bucket, up to 6.25% above the \
                 exact value; the intervals show the spread over seeds and leave that out. \
                 Retries, backoff pauses, reversals and inquiries all lengthen the tail. \
                 {spread}."
            ),
        });
    }
    for (stem, col, title, y_label, scale, what, pooled) in [
        (
            "messages",
            MSGS,
            "Messages per intent (amplification)",
            "messages per intent",
            1.0,
            "Every transmission on every hop, requests and replies, retries, reversals and \
             inquiries included, per purchase intent: the load a policy puts on the network and \
             the bank. Without faults a purchase costs one message a hop each way: four \
             without a switch (two hops), six through one.",
            false,
        ),
        (
            "failures",
            FAIL,
            "Customer-visible failure rate",
            "intents with a visible failure (%)",
            100.0,
            "The share of purchase intents whose customer saw at least one failure (an error or a \
             timeout shown at the till), whatever happened to the money.",
            true,
        ),
    ] {
        if !have(col) {
            continue;
        }
        let unit = if scale == 100.0 { "%" } else { "" };
        let spread = if pooled {
            pooled_extremes_at_last(r, col, scale, unit)
        } else {
            match extremes_at_last(r, col, scale) {
                Some((lead, lo, hi)) => format!(
                    " {lead}, from {}{unit} ({}) to {}{unit} ({}).",
                    sig(lo.0),
                    given(lo.1),
                    sig(hi.0),
                    given(hi.1)
                ),
                None => String::new(),
            }
        };
        let figure = figure(
            r,
            title,
            vec![Panel {
                title: String::new(),
                y_label: y_label.into(),
                series: if pooled {
                    rate_series(r, col, scale)
                } else {
                    metric_series(r, col, scale)
                },
            }],
        );
        let none = none_seen_clause(&figure)
            .map_or(String::new(), |c| format!("; where none was seen, {c}"));
        out.push(Chart {
            stem: stem.into(),
            text: if pooled {
                format!(
                    "{what} Pooled over the intents of the cell's seeds, with exact 95% \
                     intervals{none}.{spread}"
                )
            } else {
                format!("{what} Means over {n_seeds} {seeds_with}.{spread}")
            },
            figure,
        });
    }
    for col in &r.m.charts {
        if !have(col) {
            continue;
        }
        let rate = rate_def(col).map(|(_, d)| d);
        // A share of intents in %, as the results table gives it; duplicates stay per million.
        let (scale, unit) = match rate {
            Some(d) if d.scale == 1.0 => (100.0, " (%)"),
            _ => (1.0, ""),
        };
        let (lead, last) = at_last(r);
        let facts: Vec<String> = last
            .iter()
            .filter_map(|&(name, c)| {
                Some(format!(
                    "{}: {}",
                    given(name),
                    if rate.is_some() {
                        rate_text(r, c, col, scale)
                    } else {
                        with_ci(r.mean(c, col)?, 1.0)
                    }
                ))
            })
            .collect();
        let figure = figure(
            r,
            &col.replace('_', " "),
            vec![Panel {
                title: String::new(),
                y_label: format!("{}{unit}", col.replace('_', " ")),
                series: if rate.is_some() {
                    rate_series(r, col, scale)
                } else {
                    metric_series(r, col, 1.0)
                },
            }],
        );
        let how = if rate.is_some() {
            let none = none_seen_clause(&figure)
                .map_or(String::new(), |c| format!("; where none was seen, {c}"));
            let unit = if scale == 100.0 {
                ", in % of intents as in the results table"
            } else {
                ""
            };
            format!(
                "pooled over the intents of each cell's seeds{unit}, with exact 95% \
                 intervals{none}"
            )
        } else {
            format!("means over {n_seeds} {seeds_with}")
        };
        out.push(Chart {
            stem: format!("metric-{col}"),
            text: format!(
                "The column `{col}` of results.csv, asked for by the sweep file: {how}. \
                 {lead}: {}.",
                facts.join("; ")
            ),
            figure,
        });
    }
    if have(DUP) && have(P99) && have(DUP_N) {
        let dups = rate_series(r, DUP, 1.0);
        let series: Vec<Series> = dups
            .into_iter()
            .zip(&r.series)
            .map(|(mut s, (_, _, cells))| {
                let shown: Vec<usize> = cells
                    .iter()
                    .copied()
                    .filter(|&c| r.mean(c, DUP).is_some())
                    .collect();
                let last = shown.len().saturating_sub(1);
                for (k, (p, &c)) in s.points.iter_mut().zip(&shown).enumerate() {
                    p.x = r.mean(c, P99).map_or(f64::NAN, |e| e.mean);
                    // A measured rate's interval would cross the others; a rate of none seen
                    // keeps its upper end, where a logarithmic axis marks it.
                    if !p.bound {
                        p.ci = None;
                    }
                    // Both ends of a series are labelled; in between the order tells.
                    if r.x_axis != 0 && (k == 0 || k == last) {
                        p.tag = Some(r.value_label(c, r.x_axis).to_string());
                    }
                }
                s.points.retain(|p| p.x.is_finite());
                s
            })
            .collect();
        let measured = if series.iter().flat_map(|s| &s.points).any(|p| !p.bound) {
            " A rate that was seen is drawn without its 95% interval, which would cross the \
             others; the results table gives it."
        } else {
            ""
        };
        // A cell that issued no purchase says nothing either way.
        let seen = |c: usize| r.rate(c, DUP).is_some_and(|x| x.count > 0.0);
        let clean: Vec<String> = r
            .series
            .iter()
            .filter(|(_, _, cells)| {
                !cells.iter().any(|&c| seen(c))
                    && cells.iter().any(|&c| r.none_seen_bound(c, DUP).is_some())
            })
            .map(|(l, _, _)| given(l))
            .collect();
        let verdict = if clean.is_empty() {
            let idle = (0..r.m.cells.len()).any(|c| r.rate(c, DUP).is_none_or(|x| x.seeds == 0));
            format!(
                "Every series{} charged some customer twice somewhere on the grid.",
                if idle { " that issued purchases" } else { "" }
            )
        } else {
            format!(
                "No permanent duplicate was seen anywhere on the grid with {}.",
                clean.join("; ")
            )
        };
        let tags = if r.x_axis != 0 {
            format!(
                " Each point is a cell; a series' points are joined in the order of {}, whose \
                 first and last values label its ends.",
                given(&r.m.axes[r.x_axis].name)
            )
        } else {
            String::new()
        };
        let figure = Figure {
            title: "Trade-off: duplicates against p99 latency".into(),
            x_label: "p99 completion latency (ms)".into(),
            x: XAxis::Numeric,
            panels: vec![Panel {
                title: String::new(),
                y_label: "permanent duplicates per million intents".into(),
                series,
            }],
            lines: false,
            width: 1000,
            height: 540,
        };
        let none = none_seen_clause(&figure)
            .map_or(String::new(), |c| format!(" Where none was seen, {c}."));
        out.push(Chart {
            stem: "tradeoff".into(),
            text: format!(
                "What each policy pays for safety: permanent duplicates per million intents \
                 (down is better) against the mean p99 completion latency (left is \
                 better).{none}{measured}{tags} {verdict} It leaves out the third cost, the \
                 customers who saw a failure: latency counts their answers too, so a policy \
                 or setting that gives up sooner (a retry budget, fewer attempts) moves left \
                 and down by failing customers; read it beside the visible failures."
            ),
            figure,
        });
    }
    out
}

/// Marks around text that comes from the sweep file or the base scenario (a title, a name,
/// a label, a value as written) inside the report's own words, so that each format escapes it
/// its own way; private-use characters, dropped from the text they mark.
const GIVEN: char = '\u{E000}';
const GIVEN_CODE: char = '\u{E001}';
const END: char = '\u{E002}';

/// Given text, marked to be escaped as text.
fn given(s: &str) -> String {
    format!("{GIVEN}{}{END}", s.replace([GIVEN, GIVEN_CODE, END], ""))
}

/// Given text, marked to be shown as code (a file name).
fn given_code(s: &str) -> String {
    format!(
        "{GIVEN_CODE}{}{END}",
        s.replace([GIVEN, GIVEN_CODE, END], "")
    )
}

/// Report text with each part rendered by its kind: the report's own words, given text, and
/// given code.
fn render(
    text: &str,
    own: impl Fn(&str) -> String,
    given: impl Fn(&str) -> String,
    code: impl Fn(&str) -> String,
) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find([GIVEN, GIVEN_CODE]) {
        out.push_str(&own(&rest[..i]));
        let as_code = rest[i..].starts_with(GIVEN_CODE);
        let inside = &rest[i + GIVEN.len_utf8()..];
        let end = inside.find(END).unwrap_or(inside.len());
        out.push_str(&if as_code {
            code(&inside[..end])
        } else {
            given(&inside[..end])
        });
        rest = inside.get(end + END.len_utf8()..).unwrap_or("");
    }
    out.push_str(&own(rest));
    out
}

/// Report text as Markdown: the report's own words are Markdown already.
fn md(text: &str) -> String {
    render(text, str::to_string, md_text, md_code)
}

/// Report text as HTML: the report's own words with their `code`, given text as it is.
fn html_text(text: &str) -> String {
    render(
        text,
        |s| code_spans(&esc(s)),
        esc,
        |s| format!("<code>{}</code>", esc(s)),
    )
}

/// Given text for a line of Markdown or a table cell: what could start markup, raw HTML or
/// an entity, or end a cell is backslash-escaped, and a line break or other control
/// character, which would end the line or the table row, becomes a space.
fn md_text(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        let in_word = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|c| c.is_alphanumeric())
        };
        match c {
            c if c.is_control() => out.push(' '),
            // Inside a word (`terminal_acquirer`) `_` marks no emphasis: left as it is.
            '_' if in_word(i.checked_sub(1)) && in_word(Some(i + 1)) => out.push(c),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Given text as a paragraph of its own: besides [`md_text`], what would make its start a
/// list, a rule or a code block is neutralised.
fn md_paragraph(s: &str) -> String {
    let text = md_text(s);
    let text = text.trim_start();
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if text.starts_with(['-', '+', '=']) {
        format!("\\{text}")
    } else if digits > 0 && text[digits..].starts_with(['.', ')']) {
        format!("{}\\{}", &text[..digits], &text[digits..])
    } else {
        text.to_string()
    }
}

/// Given text as a Markdown code span: fenced by more backquotes than it holds in a row, and
/// padded with a space at each end where a reader would take one off or join a backquote to
/// the fence.
fn md_code(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let spaced = s.starts_with(' ') && s.ends_with(' ');
    let pad = if s.is_empty() || s.starts_with('`') || s.ends_with('`') || spaced {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// A table as header and rows of text.
struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn md(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "| {} |",
            self.head
                .iter()
                .map(|h| md(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(o, "|{}", " --- |".repeat(self.head.len()));
        for r in &self.rows {
            let _ = writeln!(
                o,
                "| {} |",
                r.iter().map(|c| md(c)).collect::<Vec<_>>().join(" | ")
            );
        }
        o
    }
    fn html(&self) -> String {
        let mut o = String::from("<table>\n<thead><tr>");
        for h in &self.head {
            let _ = write!(o, "<th>{}</th>", html_text(h));
        }
        o.push_str("</tr></thead>\n<tbody>\n");
        for r in &self.rows {
            o.push_str("<tr>");
            for c in r {
                let _ = write!(o, "<td>{}</td>", html_text(c));
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</tbody>\n</table>\n");
        o
    }
}

fn varied_axes(m: &Manifest) -> Vec<usize> {
    (0..m.axes.len())
        .filter(|&a| a == 0 || m.axes[a].values.len() > 1)
        .collect()
}

fn results_table(r: &Report) -> Table {
    let axes = varied_axes(r.m);
    let mut head: Vec<String> = axes.iter().map(|&a| given(&r.m.axes[a].name)).collect();
    head.extend(
        [
            "duplicates / M (permanent)",
            "duplicates / M (transient)",
            "visible failures (%)",
            "charged but told failed (%)",
            "p99 latency (ms)",
            "no final answer (%)",
            "messages / intent",
            "seeds with a violated property",
        ]
        .map(String::from),
    );
    let rows = (0..r.m.cells.len())
        .map(|i| {
            let mut row: Vec<String> = axes.iter().map(|&a| given(r.value_label(i, a))).collect();
            row.push(rate_text(r, i, DUP, 1.0));
            row.push(rate_text(r, i, DUP_T, 1.0));
            row.push(rate_text(r, i, FAIL, 100.0));
            row.push(rate_text(r, i, "charged_but_told_failed_rate", 100.0));
            row.push(mean_text(r, i, P99, 1.0));
            row.push(rate_text(r, i, NO_ANSWER_RATE, 100.0));
            row.push(mean_text(r, i, MSGS, 1.0));
            row.push(violations_text(r, i));
            row
        })
        .collect();
    Table { head, rows }
}

/// "3/10 (no-duplicate-debit 3, agreement 1)"
fn violations_text(r: &Report, cell: usize) -> String {
    let Some(all) = r.col("violations") else {
        return "-".into();
    };
    let vals = &r.rows[cell].values[all];
    let seeds = vals.iter().filter(|v| **v > 0.0).count();
    let mut by = Vec::new();
    for p in payfault_domain::Property::ALL {
        if let Some(c) = r.col(&data::violation_column(p)) {
            let n = r.rows[cell].values[c].iter().filter(|v| **v > 0.0).count();
            if n > 0 {
                by.push(format!("{} {n}", p.name()));
            }
        }
    }
    if by.is_empty() {
        format!("{seeds}/{}", vals.len())
    } else {
        format!("{seeds}/{} ({})", vals.len(), by.join(", "))
    }
}

/// The paired differences along `axis`, a row a cell.
fn pairs_table(r: &Report, ps: &[Pair], axis: usize) -> Table {
    // By cell and metric: a grid may hold 100,000 cells, each with its pairs.
    let by: std::collections::BTreeMap<(usize, &str), &Pair> = ps
        .iter()
        .filter(|p| p.axis == axis)
        .map(|p| ((p.cell, p.metric), p))
        .collect();
    let axes: Vec<usize> = varied_axes(r.m);
    let shown: [(&str, &str, f64); 5] = [
        (DUP, "Δ duplicates / M (permanent)", 1.0),
        (DUP_T, "Δ duplicates / M (transient)", 1.0),
        (FAIL, "Δ visible failures (points of %)", 100.0),
        (P99, "Δ p99 latency (ms)", 1.0),
        (MSGS, "Δ messages / intent", 1.0),
    ];
    let mut head: Vec<String> = axes.iter().map(|&a| given(&r.m.axes[a].name)).collect();
    head.extend(shown.iter().map(|s| s.1.to_string()));
    let mut rows = Vec::new();
    let mut cells: Vec<usize> = by.keys().map(|k| k.0).collect();
    cells.dedup();
    for c in cells {
        let mut row: Vec<String> = axes.iter().map(|&a| given(r.value_label(c, a))).collect();
        for (metric, _, scale) in shown {
            let cell = match by.get(&(c, metric)) {
                None => "-".into(),
                Some(p) if p.diff.n == 0 => why_none(r, &[p.cell, p.base], metric).into(),
                Some(p) if unsupported(p) => format!("{} †", diff_text(p.diff, scale)),
                Some(p) if split_only(p) => format!("{} ‡", diff_text(p.diff, scale)),
                Some(p) => diff_text(p.diff, scale),
            };
            row.push(cell);
        }
        rows.push(row);
    }
    Table { head, rows }
}

fn run_facts(r: &Report) -> Vec<String> {
    let m = r.m;
    let intents: f64 = (0..m.cells.len()).filter_map(|i| r.total(i, INTENTS)).sum();
    let dims: Vec<String> = m
        .axes
        .iter()
        .map(|a| format!("{} {}", a.values.len(), given(&a.name)))
        .collect();
    let mut f = vec![
        format!("Sweep file: {}; base scenario: {} ({}{}).", given_code(&m.sweep), given_code(&m.base),
            given(&m.base_name),
            if m.base_description.is_empty() { String::new() } else { format!(": {}", given(&m.base_description)) }),
        format!(
            "Made by payfault {} with {} and `--out` naming this folder; the sweep file is \
             copied here, byte for byte, as `input/sweep.ron`, with its base scenario beside \
             it when the base lies in the sweep file's folder or below, so that \
             `payfault sweep input/sweep.ron --out DIR` makes this report again. The number of jobs, \
             `--resume` and `--shard` with `merge` change none of the results.",
            given(&m.payfault),
            given_code(&m.command)
        ),
        format!(
            "Grid: {} = {} {}: {}, {} purchase intents in all.",
            dims.join(" × "),
            match m.cells.len() {
                1 => "1 cell, run".to_string(),
                n => format!("{n} cells, each run"),
            },
            if m.seeds == 1 {
                format!("on seed {}", m.seed_start)
            } else {
                format!(
                    "on the same {} seeds ({} to {})",
                    m.seeds,
                    m.seed_start,
                    m.seed_start.saturating_add(m.seeds.saturating_sub(1))
                )
            },
            match m.cells.len() as u64 * m.seeds {
                1 => "1 run".to_string(),
                n => format!("{n} runs"),
            },
            intents_text(intents)
        ),
        "Common random numbers: every cell runs the same seeds, and a seed draws the same \
         purchases and the same fate for each message (from the message's identity, not its \
         place in a stream) in every cell, except where a cell's settings change them: \
         differences between cells on one seed come from the settings, so comparisons are \
         paired seed by seed."
            .to_string(),
        format!(
            "Rates over intents (duplicates per million, visible failures, no final answer): \
             the events of all the cell's seeds over all their intents (the pooled ratio, not a \
             mean of per-seed ratios), with the exact 95% interval of that count: \
             Clopper–Pearson for a share of intents, Poisson (Garwood) for duplicate debits, \
             which a purchase may have several of. {} Where none was seen, the table gives \
             0 (≤ U): U is the upper end of the same 95% interval, about 3.7/n for n intents \
             when n is large.",
            if m.seeds < 2 {
                "Where seeds vary more than chance would have them the interval is widened, but \
                 with one seed no spread between seeds can be seen (summary.csv gives φ = 1)."
            } else {
                "It is widened where the seeds vary more than chance would have them: with k \
                 seeds that issued purchases and X² Pearson's statistic of the per-seed counts \
                 against the pooled rate, where X²/(k − 1) > 1 count and intents are divided by \
                 φ = (t/z)² X²/(k − 1), t/z being the ratio of the 0.975 quantiles of Student's \
                 t on k − 1 degrees of freedom and of the normal, since the spread is itself \
                 estimated from the seeds (summary.csv gives φ, 1 where not widened)."
            }
        ),
        per_seed_statistics(r),
        "Latency percentiles come from a histogram: each is the upper edge of its bucket, up to \
         6.25% above the exact value. Their intervals show the spread over seeds and leave that \
         quantisation out: a percentile in the same bucket on every seed is given as \
         \"x on every seed\", not as an interval. Latency counts the intents that got a final \
         answer; those that never did are left out of it, and the table gives their share \
         beside it. A seed on which none did has no latency to give: it is left out of the \
         latency means and paired differences."
            .to_string(),
    ];
    if m.axes[0].values.len() > 1 && m.seeds < 2 {
        f.push(format!(
            "Paired differences subtract the baseline policy ({}) on the same seed and settings: \
             with one seed, the difference on that seed, without an interval, as one seed shows \
             no spread; for a rate, the difference of the two rates on that seed.",
            given(&m.axes[0].values[m.baseline].label)
        ));
    } else if m.axes[0].values.len() > 1 {
        f.push(format!(
            "Paired differences subtract the baseline policy ({}) on the same seed and settings: \
             the mean of the per-seed differences, with a paired Student's t interval. For a rate \
             this is the mean of per-seed differences of rates, each seed weighing the same, \
             beside the pooled rates of the results table; a difference the same on every seed \
             is given as such (\"no difference on any seed\" where it is 0).",
            given(&m.axes[0].values[m.baseline].label)
        ));
    }
    f.push(
        "Replay any row of results.csv: `payfault run scenarios/<cell>.ron --seed <seed>` from \
         this folder."
            .to_string(),
    );
    f
}

/// How the means of quantities measured once a run are given, with the degrees of freedom
/// of the seeds that gave them.
fn per_seed_statistics(r: &Report) -> String {
    let used: Vec<usize> = (0..r.m.cells.len())
        .flat_map(|c| {
            [P50, P95, P99, MSGS, ATTEMPTS]
                .into_iter()
                .filter_map(move |col| r.mean(c, col).map(|e| e.n))
        })
        .collect();
    let (lo, hi) = (
        used.iter().copied().min().unwrap_or(0),
        used.iter().copied().max().unwrap_or(0),
    );
    let what = "Quantities measured once a run (latency percentiles, messages and attempts per \
                intent): means over seeds";
    let cut = ", a lower bound below zero cut at zero for a quantity that cannot be negative; \
               a seed that issued no purchase is left out of them, and a seed on which no \
               intent got a final answer out of the latency percentiles";
    if hi < 2 {
        return format!(
            "{what}, without intervals: no cell has two seeds that issued purchases, and one \
             seed shows no spread."
        );
    }
    let df = if lo == hi {
        format!("{} degrees of freedom ({lo} seeds)", lo - 1)
    } else {
        format!(
            "k − 1 degrees of freedom, k being the seeds of the cell that issued purchases, \
             from {lo} to {hi} (a cell with one such seed has no interval)"
        )
    };
    format!("{what} with 95% intervals from Student's t distribution with {df}{cut}.")
}

fn params_table(m: &Manifest) -> Table {
    let rows = m
        .axes
        .iter()
        .map(|a| {
            let paths: Vec<String> = {
                let mut p: Vec<String> = a
                    .values
                    .iter()
                    .flat_map(|v| v.settings.iter().map(|s| s.0.clone()))
                    .collect();
                p.sort();
                p.dedup();
                p
            };
            let values: Vec<String> = a
                .values
                .iter()
                .map(|v| {
                    let uniform = v.settings.iter().all(|s| s.1 == v.label)
                        || (a.name == "policy" && v.settings.len() <= 1);
                    if uniform {
                        given(&v.label)
                    } else {
                        let s: Vec<String> = v
                            .settings
                            .iter()
                            .map(|(p, x)| format!("{} = {}", given(p), given(&squeeze(x))))
                            .collect();
                        format!("{} ({})", given(&v.label), s.join("; "))
                    }
                })
                .collect();
            vec![
                given(&a.name),
                if paths.is_empty() {
                    "(the base scenario's)".into()
                } else {
                    paths
                        .iter()
                        .map(|p| given(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                values.join(", "),
            ]
        })
        .collect();
    Table {
        head: vec!["parameter".into(), "scenario path".into(), "values".into()],
        rows,
    }
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

const FILES: [(&str, &str); 7] = [
    ("results.csv", "one row per cell and seed, every metric"),
    (
        "summary.csv",
        "per cell: every metric's mean and 95% interval, or for a rate its pooled ratio and \
         exact 95% interval; totals, more rates, and each rate's overdispersion factor",
    ),
    (
        "pairs.csv",
        "per cell and key metric: the paired difference from the baseline policy, and from \
         each parameter's first value, with its interval",
    ),
    (
        "input/",
        "the sweep file, byte for byte as given, and its base scenario at the same path",
    ),
    (
        "manifest.json",
        "the grid: parameters, values, cells, seeds, and the command",
    ),
    ("scenarios/", "the full scenario of every cell"),
    ("cells/", "the rows of each cell as it finished"),
];

fn results_note(m: &Manifest) -> String {
    format!(
        "Rates (duplicates, visible failures, customers charged but told failed, no final \
         answer) are pooled over the cell's intents, with exact 95% intervals in brackets, \
         and 0 (≤ U) where none was seen; that bound supposes intents independent, and where \
         events cluster (one fault charging many customers at once) the true rate can be \
         well above it: more seeds, each long enough to see several events, are the remedy. \
         Latency and messages per intent are {}.",
        if m.seeds < 2 {
            "the one seed's values, without intervals"
        } else {
            "means over seeds with 95% t intervals in brackets"
        }
    )
}

/// What is subtracted from what along `axis`.
fn pairs_subject(m: &Manifest, axis: usize) -> String {
    if axis == 0 {
        "Each policy minus the baseline on the same seeds and settings".into()
    } else {
        let a = &m.axes[axis];
        format!(
            "Each value of {} minus {}, under the same policy, seeds and other settings",
            a.name,
            a.values[reference(m, axis)].label
        )
    }
}

/// The heading of the paired differences along `axis`.
fn pairs_heading(m: &Manifest, axis: usize) -> String {
    let a = &m.axes[axis];
    let value = &a.values[reference(m, axis)].label;
    if axis == 0 {
        format!("Paired differences against {value}")
    } else {
        format!("Paired differences against {} = {value}", a.name)
    }
}

fn pairs_note(m: &Manifest, axis: usize) -> String {
    let subject = pairs_subject(m, axis);
    if m.seeds < 2 {
        format!(
            "{subject}: with one seed, the difference on that seed, without an interval; one \
             seed cannot tell a difference from chance."
        )
    } else {
        format!(
            "{subject}: the mean of the per-seed differences, with its paired 95% t interval. \
             An interval that excludes 0 is a difference the seeds support; across many cells \
             and metrics, about one interval in twenty excludes 0 by chance where there is no \
             difference. † marks an interval that excludes 0 although the seeds' split does \
             not bear it out: the exact sign test does not find it uneven (p ≥ 0.05), or most \
             seeds that differ go the other way; a split where every seed goes the interval's \
             way is not marked, however few the seeds. Few seeds differ, by large steps, as \
             with rare events, and the t interval is then too sure. ‡ marks the other way \
             round, an interval that holds 0 where the split is uneven enough for the sign \
             test (p < 0.05): most seeds moved one way, by steps the interval's spread hides. \
             pairs.csv gives, for every difference, the seeds on which the cell was higher and \
             lower, the sign test's p, and that p adjusted by Holm's method for all the \
             file's comparisons at once (sign_test_p_holm), which holds the chance of any \
             false finding among them at 5%."
        )
    }
}

fn markdown(r: &Report, charts: &[Chart], results: &Table, pairs: &[(usize, Table)]) -> String {
    let m = r.m;
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", md_text(&m.title));
    if !m.description.is_empty() {
        let _ = writeln!(o, "{}\n", md_paragraph(&m.description));
    }
    let _ = writeln!(o, "## What was run\n");
    for f in run_facts(r) {
        let _ = writeln!(o, "- {}", md(&f));
    }
    let _ = writeln!(o, "\n{}", params_table(m).md());
    let _ = writeln!(o, "## Charts\n");
    for c in charts {
        let _ = writeln!(o, "### {}\n", c.figure.title);
        let _ = writeln!(o, "![{}](charts/{}.png)\n", c.figure.title, c.stem);
        let _ = writeln!(o, "{}\n", md(&c.text));
        let _ = writeln!(
            o,
            "Files: [SVG](charts/{0}.svg), [PNG](charts/{0}.png).\n",
            c.stem
        );
    }
    let _ = writeln!(o, "## Results per cell\n");
    let _ = writeln!(o, "{}\n", results_note(m));
    let _ = writeln!(o, "{}", results.md());
    for (axis, table) in pairs {
        let _ = writeln!(o, "## {}\n", md_text(&pairs_heading(m, *axis)));
        let _ = writeln!(o, "{}\n", md_text(&pairs_note(m, *axis)));
        let _ = writeln!(o, "{}", table.md());
    }
    let _ = writeln!(o, "## Data\n");
    for (f, what) in FILES {
        let _ = writeln!(o, "- [{f}]({f}): {what}");
    }
    o
}

const STYLE: &str =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1180px;\
margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}\
h1{font-size:1.7rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;font-size:.85rem;margin:1rem 0;display:block;overflow-x:auto}\
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#f4f4f4}tr:nth-child(even) td{background:#fafafa}\
figure{margin:1.5rem 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}\
figcaption{max-width:900px}code{background:#f4f4f4;padding:0 .2rem}";

/// Counts the charts that drew and any resource that failed to load, into attributes of
/// `<body>` that a browser test reads (`data-report-status="ok"`).
const SCRIPT: &str = "var failures=[];\
window.addEventListener('error',function(e){var t=e.target||{};\
failures.push(t.src||t.href||String(e.message));},true);\
document.addEventListener('securitypolicyviolation',function(e){failures.push(e.blockedURI);});\
window.addEventListener('load',function(){\
var figs=document.querySelectorAll('figure.chart'),ok=0,bad=[];\
figs.forEach(function(f){var s=f.querySelector('svg');var b=s&&s.getBBox();\
var r=s&&s.getBoundingClientRect();\
if(s&&b.width>0&&b.height>0&&r.width>0&&s.querySelectorAll('text').length>0){ok++;}else{bad.push(f.id);}});\
var d=document.body.dataset;d.chartsExpected=figs.length;d.chartsRendered=ok;\
d.loadFailures=failures.length;\
d.reportStatus=(ok===figs.length&&failures.length===0)?'ok':'failed: '+bad.concat(failures).join(' ');});";

fn html(
    r: &Report,
    charts: &[(&Chart, String)],
    results: &Table,
    pairs: &[(usize, Table)],
) -> String {
    let m = r.m;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n<script>{SCRIPT}</script>\n</head>\n<body>\n",
        esc(&m.title)
    );
    let _ = writeln!(o, "<h1>{}</h1>", esc(&m.title));
    if !m.description.is_empty() {
        let _ = writeln!(o, "<p>{}</p>", esc(&m.description));
    }
    let _ = writeln!(o, "<h2>What was run</h2>\n<ul>");
    for f in run_facts(r) {
        let _ = writeln!(o, "<li>{}</li>", html_text(&f));
    }
    let _ = writeln!(o, "</ul>\n{}", params_table(m).html());
    let _ = writeln!(o, "<h2>Charts</h2>");
    for (c, svg) in charts {
        let _ = writeln!(
            o,
            "<figure class=\"chart\" id=\"chart-{}\">\n<h3>{}</h3>\n{}\n<figcaption><p>{}</p>\
             <p>Files: <a href=\"charts/{0}.svg\">SVG</a>, <a href=\"charts/{0}.png\">PNG</a>.</p>\
             </figcaption>\n</figure>",
            c.stem,
            esc(&c.figure.title),
            svg.replacen(
                "<svg ",
                &format!(
                    "<svg class=\"plot\" role=\"img\" aria-label=\"{}\" ",
                    esc(&c.figure.title)
                ),
                1
            ),
            html_text(&c.text)
        );
    }
    let _ = writeln!(
        o,
        "<h2>Results per cell</h2>\n<p>{}</p>\n{}",
        esc(&results_note(m)),
        results.html()
    );
    for (axis, table) in pairs {
        let _ = writeln!(
            o,
            "<h2>{}</h2>\n<p>{}</p>\n{}",
            esc(&pairs_heading(m, *axis)),
            esc(&pairs_note(m, *axis)),
            table.html()
        );
    }
    let _ = writeln!(o, "<h2>Data</h2>\n<ul>");
    for (f, what) in FILES {
        let _ = writeln!(o, "<li><a href=\"{f}\">{f}</a>: {}</li>", esc(what));
    }
    o.push_str("</ul>\n</body>\n</html>\n");
    o
}

/// `text` in backquotes as `<code>`.
fn code_spans(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Writes every report file of `dir`.
pub fn write(dir: &Path, m: &Manifest, rows: &[CellRows]) -> Result<(), CliError> {
    let r = build(m, rows);
    crate::write_atomic(&dir.join("summary.csv"), summary_csv(&r).as_bytes())?;
    let ps = pairs(&r);
    crate::write_atomic(&dir.join("pairs.csv"), pairs_csv(&r, &ps).as_bytes())?;
    let charts = charts(&r);
    let chart_dir = dir.join("charts");
    let mut rendered = Vec::new();
    for c in &charts {
        let (svg, png) = charts::render(&c.figure)
            .map_err(|e| CliError::Usage(format!("drawing chart {}: {e}", c.stem)))?;
        crate::write_atomic(&chart_dir.join(format!("{}.svg", c.stem)), svg.as_bytes())?;
        crate::write_atomic(&chart_dir.join(format!("{}.png", c.stem)), &png)?;
        rendered.push((c, svg));
    }
    let results = results_table(&r);
    let pairs: Vec<(usize, Table)> = compared_axes(m)
        .into_iter()
        .map(|a| (a, pairs_table(&r, &ps, a)))
        .filter(|(_, t)| !t.rows.is_empty())
        .collect();
    crate::write_atomic(
        &dir.join("report.md"),
        markdown(&r, &charts, &results, &pairs).as_bytes(),
    )?;
    crate::write_atomic(
        &dir.join("index.html"),
        html(&r, &rendered, &results, &pairs).as_bytes(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{AxisInfo, CellInfo, ValueInfo};
    use super::*;

    /// A grid of the policies times the values of `x` (when given), on `seeds` seeds, with
    /// `columns`; the cells are in the order the sweep numbers them.
    fn manifest(seeds: u64, policies: &[&str], x: &[&str], columns: &[&str]) -> Manifest {
        let axis = |name: &str, labels: &[&str]| AxisInfo {
            name: name.into(),
            label: name.into(),
            values: labels
                .iter()
                .map(|l| ValueInfo {
                    label: l.to_string(),
                    settings: Vec::new(),
                })
                .collect(),
            ordered: name != "policy",
        };
        let mut axes = vec![axis("policy", policies)];
        if !x.is_empty() {
            axes.push(axis("drop", x));
        }
        let cells = (0..policies.len())
            .flat_map(|p| (0..x.len().max(1)).map(move |v| (p, v)))
            .enumerate()
            .map(|(i, (p, v))| CellInfo {
                id: format!("cell-{:03}", i + 1),
                coords: if x.is_empty() { vec![p] } else { vec![p, v] },
                hash: String::new(),
            })
            .collect();
        Manifest {
            format: 1,
            payfault: "0.1.0".into(),
            sweep: "s.ron".into(),
            command: "payfault sweep s.ron".into(),
            title: "t".into(),
            description: String::new(),
            base: "b.ron".into(),
            base_name: "b".into(),
            base_description: String::new(),
            seeds,
            seed_start: 5,
            baseline: 0,
            axes,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            charts: Vec::new(),
            cells,
            shard: None,
        }
    }

    /// A cell's rows from `values[column][seed]`.
    fn rows(m: &Manifest, values: Vec<Vec<f64>>) -> CellRows {
        CellRows {
            seeds: (0..m.seeds).map(|s| m.seed_start + s).collect(),
            values,
            body: String::new(),
        }
    }

    /// The messages-per-intent difference of the first row of the policies' paired table.
    fn first_row_messages(r: &Report, ps: &[Pair]) -> String {
        pairs_table(r, ps, 0).rows[0]
            .last()
            .expect("a messages column")
            .clone()
    }

    /// Every column summary.csv and pairs.csv write, but the parameters', is reserved: a
    /// sweep refuses a parameter of that name (regression: `seeds` or `metric` as a
    /// parameter's name gave those files two columns of one name).
    #[test]
    fn every_column_of_summary_and_pairs_is_reserved() {
        let metrics = data::metric_columns();
        let columns: Vec<&str> = metrics.iter().map(String::as_str).collect();
        let m = manifest(2, &["naive", "idempotent"], &["0.1", "0.2"], &columns);
        let cell = || rows(&m, vec![vec![1.0, 2.0]; columns.len()]);
        let cells: Vec<CellRows> = (0..4).map(|_| cell()).collect();
        let r = build(&m, &cells);
        let reserved = reserved_columns();
        for text in [summary_csv(&r), pairs_csv(&r, &pairs(&r))] {
            let csv = data::parse_csv(&text).expect("CSV");
            let unreserved: Vec<&String> = csv[0]
                .iter()
                .filter(|h| !["policy", "drop"].contains(&h.as_str()))
                .filter(|h| !reserved.contains(*h))
                .collect();
            assert!(unreserved.is_empty(), "{unreserved:?}");
        }
    }

    /// Regression: a paired difference on a few seeds that differ by large steps (five seeds
    /// of twenty one message more) was shown as one the seeds support, its t interval
    /// excluding 0, though so uneven a split comes one time in sixteen by chance.
    #[test]
    fn a_t_interval_the_sign_test_does_not_support_is_marked() {
        let m = manifest(
            20,
            &["naive", "few", "many", "skewed"],
            &[],
            &[INTENTS, MSGS],
        );
        let msgs = |more: usize| (0..20).map(|s| if s < more { 5.0 } else { 4.0 }).collect();
        let cell = |more: usize| rows(&m, vec![vec![10.0; 20], msgs(more)]);
        // One more message on five seeds, a hundredth fewer on the other fifteen: the mean
        // and its interval are above 0, most seeds below it.
        let skewed: Vec<f64> = (0..20).map(|s| if s < 5 { 5.0 } else { 3.99 }).collect();
        let cells = [
            cell(0),
            cell(5),
            cell(9),
            rows(&m, vec![vec![10.0; 20], skewed]),
        ];
        let r = build(&m, &cells);
        let ps = pairs(&r);
        let table = pairs_table(&r, &ps, 0);
        let few = table.rows[0].last().expect("a messages column");
        let many = table.rows[1].last().expect("a messages column");
        let other_way = table.rows[2].last().expect("a messages column");
        assert!(few.ends_with(" †") && few.starts_with("0.25 ["), "{few}");
        assert!(!many.contains('†') && many.starts_with("0.45 ["), "{many}");
        assert!(
            other_way.ends_with(" †") && other_way.starts_with("0.243 ["),
            "{other_way}"
        );
        let csv = data::parse_csv(&pairs_csv(&r, &ps)).expect("CSV");
        let col = |name: &str| csv[0].iter().position(|h| h == name).expect(name);
        let row = csv
            .iter()
            .find(|l| l[col("metric")] == MSGS && l[0] == "cell-002")
            .expect("the pair of few and naive");
        assert_eq!(row[col("seeds_higher")], "5");
        assert_eq!(row[col("seeds_lower")], "0");
        assert_eq!(row[col("sign_test_p")], "0.0625");
        assert!(pairs_note(&m, 0).contains("† marks"));
    }

    /// Regression (parameter values compared only by their separate intervals): the values of
    /// a parameter are compared seed by seed with its first, under each policy, as policies
    /// are with the baseline; on common random numbers a difference within both cells'
    /// intervals shows.
    #[test]
    fn each_value_of_a_parameter_is_paired_with_its_first() {
        let m = manifest(
            4,
            &["naive", "idempotent"],
            &["0.1", "0.2"],
            &[INTENTS, MSGS],
        );
        // Seeds spread widely; the higher drop adds 0.1 messages on each.
        let msgs = |more: f64| {
            vec![
                vec![10.0; 4],
                vec![4.0 + more, 6.0 + more, 8.0 + more, 10.0 + more],
            ]
        };
        let cells = [
            rows(&m, msgs(0.0)),
            rows(&m, msgs(0.1)),
            rows(&m, msgs(0.0)),
            rows(&m, msgs(0.1)),
        ];
        let r = build(&m, &cells);
        let ps = pairs(&r);
        let by_drop: Vec<&Pair> = ps
            .iter()
            .filter(|p| p.axis == 1 && p.metric == MSGS)
            .collect();
        assert_eq!(
            by_drop.iter().map(|p| (p.cell, p.base)).collect::<Vec<_>>(),
            vec![(1, 0), (3, 2)]
        );
        for p in &by_drop {
            let (lo, hi) = p.diff.ci.expect("four seeds");
            assert!(lo > 0.09 && hi < 0.11, "{:?}", p.diff.ci);
        }
        // The cells' own intervals overlap.
        let (a, b) = (r.mean(0, MSGS).unwrap(), r.mean(1, MSGS).unwrap());
        assert!(a.ci.unwrap().1 > b.ci.unwrap().0);
        let table = pairs_table(&r, &ps, 1);
        assert_eq!(table.rows.len(), 2);
        assert_eq!(
            pairs_heading(&m, 1),
            "Paired differences against drop = 0.1"
        );
        assert!(
            pairs_note(&m, 1).starts_with("Each value of drop minus 0.1, under the same policy")
        );
        let csv = data::parse_csv(&pairs_csv(&r, &ps)).expect("CSV");
        let col = |name: &str| csv[0].iter().position(|h| h == name).expect(name);
        let row = csv
            .iter()
            .find(|l| {
                l[col("metric")] == MSGS && l[col("compared")] == "drop" && l[0] == "cell-004"
            })
            .expect("idempotent at 0.2 against 0.1");
        assert_eq!(row[col("baseline_cell")], "cell-003");
        assert_eq!(row[col("baseline")], "0.1");
        assert_eq!(row[col("unit")], "messages per intent");
        assert_eq!(row[col("seeds_higher")], "4");
        // Four seeds of four higher: p = 2/2^4. Every row of the file is one test of the
        // family, so the adjusted p is no smaller.
        let p: f64 = row[col("sign_test_p")].parse().expect("a number");
        let p_holm: f64 = row[col("sign_test_p_holm")].parse().expect("a number");
        assert!((p - 0.125).abs() < 1e-12 && p_holm >= p, "{p} {p_holm}");
        let policy_row = csv
            .iter()
            .find(|l| l[col("compared")] == "policy" && l[0] == "cell-004")
            .expect("idempotent against naive at 0.2");
        assert_eq!(policy_row[col("baseline")], "naive");
    }

    /// Regression (a tie named one value): the highest rate, reached at two values of x, was
    /// said to be at the last of them alone.
    #[test]
    fn a_tie_names_every_value_it_is_reached_at() {
        let cols = [INTENTS, DUP_N, DUP];
        let m = manifest(1, &["naive"], &["1", "2", "3"], &cols);
        let cell = |dups: f64| rows(&m, vec![vec![1000.0], vec![dups], vec![dups * 1000.0]]);
        let cells = [cell(7.0), cell(7.0), cell(0.0)];
        let r = build(&m, &cells);
        let text = md(&dup_facts(&r, DUP));
        assert!(
            text.contains("up to 7000 (drop = 1, 2), none seen"),
            "{text}"
        );
        let cells = [cell(7.0), cell(7.0), cell(3.0)];
        let r = build(&m, &cells);
        let text = md(&dup_facts(&r, DUP));
        assert!(
            text.contains("from 3000 (drop = 3) to 7000 (drop = 1, 2)"),
            "{text}"
        );
    }

    /// Regression (an interval that read as no width): "3.98 [3.98, 3.98]", bounds that
    /// differ only past three digits, now get the digits that tell them apart.
    #[test]
    fn an_interval_gets_the_digits_its_bounds_need() {
        let e = |mean: f64, lo: f64, hi: f64| Estimate {
            n: 20,
            mean,
            ci: Some((lo, hi)),
        };
        assert_eq!(
            with_ci(e(3.9801, 3.9795, 3.9808), 1.0),
            "3.98 [3.979, 3.981]"
        );
        assert_eq!(with_ci(e(3.98, 3.95, 4.01), 1.0), "3.98 [3.95, 4.01]");
        assert_eq!(with_ci(e(4.0, 4.0, 4.0), 1.0), "4 on every seed");
    }

    /// Regression (a split the t interval missed went unmarked): nine seeds of ten a little
    /// lower and one far higher hold 0 in the t interval, though the sign test finds the
    /// split uneven (p = 0.021); it is marked ‡.
    #[test]
    fn a_split_the_t_interval_misses_is_marked() {
        let m = manifest(10, &["naive", "mostly-lower"], &[], &[INTENTS, MSGS]);
        let lower: Vec<f64> = (0..10).map(|s| if s < 9 { 3.9 } else { 6.0 }).collect();
        let cells = [
            rows(&m, vec![vec![10.0; 10], vec![4.0; 10]]),
            rows(&m, vec![vec![10.0; 10], lower]),
        ];
        let r = build(&m, &cells);
        let ps = pairs(&r);
        let shown = first_row_messages(&r, &ps);
        assert!(
            shown.starts_with("0.11 [") && shown.ends_with(" ‡"),
            "{shown}"
        );
        assert!(pairs_note(&m, 0).contains("‡ marks"));
    }

    /// Regression: on five seeds or fewer every interval that excluded 0 was marked †, a
    /// split of five seeds out of five included, since no split of five reaches p < 0.05.
    #[test]
    fn a_unanimous_split_of_few_seeds_is_not_marked() {
        let m = manifest(5, &["naive", "fewer"], &[], &[INTENTS, MSGS]);
        let cells = [
            rows(&m, vec![vec![10.0; 5], vec![5.0, 5.1, 5.2, 5.3, 5.4]]),
            rows(&m, vec![vec![10.0; 5], vec![4.0, 4.2, 4.1, 4.3, 4.2]]),
        ];
        let r = build(&m, &cells);
        let ps = pairs(&r);
        let fewer = first_row_messages(&r, &ps);
        assert!(
            fewer.starts_with("-1.04 [") && !fewer.contains('†'),
            "{fewer}"
        );
        // Four of five going that way, one the other: p = 0.375, marked.
        let cells = [
            cells[0].clone(),
            rows(&m, vec![vec![10.0; 5], vec![4.0, 4.2, 4.1, 4.3, 5.5]]),
        ];
        let r = build(&m, &cells);
        let ps = pairs(&r);
        let table = pairs_table(&r, &ps, 0);
        let split = table.rows[0].last().expect("a messages column");
        assert!(
            split.starts_with("-0.78 [") && split.ends_with(" †"),
            "{split}"
        );
    }

    /// Regression: a seed on which no intent got a final answer gave p99 latency 0, and that 0
    /// was averaged into the latency means and paired differences (only seeds without intents
    /// were left out), though the report says latency counts the intents that got an answer.
    #[test]
    fn a_seed_without_a_final_answer_gives_no_latency() {
        let m = manifest(
            3,
            &["naive", "idempotent"],
            &[],
            &[INTENTS, NO_ANSWER, P99, MSGS],
        );
        let cells = [
            // Seed 2 issued ten purchases and answered none.
            rows(
                &m,
                vec![
                    vec![10.0, 10.0, 10.0],
                    vec![0.0, 10.0, 0.0],
                    vec![100.0, 0.0, 200.0],
                    vec![4.0, 8.0, 6.0],
                ],
            ),
            rows(
                &m,
                vec![
                    vec![10.0, 10.0, 10.0],
                    vec![0.0, 0.0, 0.0],
                    vec![300.0, 400.0, 500.0],
                    vec![4.0, 4.0, 4.0],
                ],
            ),
        ];
        let r = build(&m, &cells);
        let p99 = r.mean(0, P99).expect("two seeds answered");
        assert_eq!((p99.n, p99.mean), (2, 150.0));
        // It issued purchases: its other per-intent means keep it.
        assert_eq!(r.mean(0, MSGS).map(|e| e.n), Some(3));
        let ps = pairs(&r);
        let pair = |metric: &str| ps.iter().find(|p| p.metric == metric).expect("a pair").diff;
        assert_eq!((pair(P99).n, pair(P99).mean), (2, 250.0));
        assert_eq!(pair(MSGS).n, 3);
        let csv = data::parse_csv(&summary_csv(&r)).expect("CSV");
        let field = |name: &str| &csv[1][csv[0].iter().position(|h| h == name).expect(name)];
        assert_eq!(field("seeds_with_intents"), "3");
        assert_eq!(field("seeds_with_answers"), "2");
        assert_eq!(field(&format!("{P99}_mean")), "150");

        // No seed answered at all: no latency, and the table says why.
        let silent = rows(
            &m,
            vec![vec![10.0; 3], vec![10.0; 3], vec![0.0; 3], vec![4.0; 3]],
        );
        let cells = [silent, cells[1].clone()];
        let r = build(&m, &cells);
        assert!(r.mean(0, P99).is_none());
        assert_eq!(mean_text(&r, 0, P99, 1.0), "no final answer");
        let table = pairs_table(&r, &pairs(&r), 0);
        assert!(
            table.rows[0].contains(&"no final answer".to_string()),
            "{:?}",
            table.rows
        );
        let text = run_facts(&r).join(" ");
        assert!(
            text.contains("A seed on which none did has no latency to give"),
            "{text}"
        );
    }

    /// Regression: with one seed the report said "each run on the same 1 seeds (1 to 1)" and
    /// promised paired 95% t intervals and t intervals in the results table, which one seed
    /// cannot give; a duplicate rate of none seen beside cells that saw some lost its unit
    /// ("reaching at most 12"); and the upper end of none seen was "about 3.7/n" for every n,
    /// which holds only for large n.
    #[test]
    fn the_words_fit_one_seed_and_keep_their_units() {
        let cols = [INTENTS, DUP_N, DUP, P99, MSGS];
        let m = manifest(1, &["naive", "idempotent"], &["0.01", "0.1"], &cols);
        // Naive double-debits at the higher drop rate only.
        let cell = |dups: f64| {
            rows(
                &m,
                vec![
                    vec![1000.0],
                    vec![dups],
                    vec![dups * 1000.0],
                    vec![500.0],
                    vec![4.0],
                ],
            )
        };
        let cells = [cell(0.0), cell(7.0), cell(0.0), cell(0.0)];
        let r = build(&m, &cells);
        let facts = run_facts(&r).join("\n");
        assert!(
            facts.contains("= 4 cells, each run on seed 5: 4 runs,"),
            "{facts}"
        );
        assert!(!facts.contains("1 seeds"), "{facts}");
        assert!(!facts.contains("Student's t"), "{facts}");
        assert!(
            facts.contains("3.7/n for n intents when n is large"),
            "{facts}"
        );
        assert!(!pairs_note(&m, 0).contains("95% t"));
        assert!(!results_note(&m).contains("95% t"));
        let dups = md(&dup_facts(&r, DUP));
        assert!(dups.contains("none seen at drop = 0.01 (0, "), "{dups}");
        let bounds: Vec<&str> = dups.split("reaching at most ").skip(1).collect();
        assert_eq!(bounds.len(), 2, "{dups}");
        for b in bounds {
            assert!(b.starts_with("3689 per million)"), "{dups}");
        }

        // One cell, one seed.
        let one = manifest(1, &["naive"], &[], &cols);
        let r = build(&one, &cells[..1]);
        let facts = run_facts(&r).join("\n");
        assert!(facts.contains("= 1 cell, run on seed 5: 1 run,"), "{facts}");
        // More seeds keep the plural and the intervals.
        let many = manifest(2, &["naive", "idempotent"], &[], &cols);
        assert!(pairs_note(&many, 0).contains("paired 95% t interval"));
    }

    /// Regression (a custom chart of `customer_visible_failure_rate` and its words gave the
    /// rate as a fraction, "0 (≤ 0.265)", where the results table gives it in %, "0 (≤ 26.5)").
    #[test]
    fn a_custom_chart_of_a_share_of_intents_is_in_percent_as_in_the_table() {
        let mut m = manifest(2, &["naive", "idempotent"], &["1", "3"], &[INTENTS, FAIL]);
        m.charts = vec![FAIL.to_string()];
        let cell = |fails: [f64; 2]| rows(&m, vec![vec![10.0, 10.0], fails.to_vec()]);
        let cells = [
            cell([0.0, 0.0]),
            cell([0.1, 0.2]),
            cell([0.0, 0.0]),
            cell([0.0, 0.0]),
        ];
        let r = build(&m, &cells);
        let charts = charts(&r);
        let chart = charts
            .iter()
            .find(|c| c.stem == format!("metric-{FAIL}"))
            .expect("the custom chart");
        let table = results_table(&r);
        let col = table
            .head
            .iter()
            .position(|h| h == "visible failures (%)")
            .expect("the column");
        // The words name the cells at the last value of x, 3: cells 1 and 3.
        for (name, cell) in [("naive", 1), ("idempotent", 3)] {
            let shown = format!("{}: {}", given(name), table.rows[cell][col]);
            assert!(chart.text.contains(&shown), "{shown} in {}", chart.text);
        }
        assert!(chart.text.contains("in % of intents"), "{}", chart.text);
        let panel = &chart.figure.panels[0];
        assert!(panel.y_label.ends_with("(%)"), "{}", panel.y_label);
        // 3 failures in 20 intents: 15%, and the bound of none seen in % too.
        let naive = &panel.series[0].points;
        assert!((naive[1].y - 15.0).abs() < 1e-9, "{naive:?}");
        let bound = r.none_seen_bound(0, FAIL).expect("none seen") * 100.0;
        assert_eq!(naive[0].ci.map(|c| c.1), Some(bound));
    }

    /// Regression (a cell that issued no purchase counted against a series): the trade-off's
    /// verdict said every series charged someone twice where one saw none in every cell that
    /// issued purchases, the duplicates' words said "each cell 0" of a cell of no intents, and
    /// a value equal on the seeds that issued purchases was "on every seed".
    #[test]
    fn cells_that_issued_no_purchase_count_for_nothing() {
        let m = manifest(
            3,
            &["naive", "idempotent"],
            &["1", "3"],
            &[INTENTS, DUP_N, DUP, P99, MSGS],
        );
        let cell = |intents: [f64; 3], dups: f64| {
            let per_intent = |v: f64| -> Vec<f64> {
                intents
                    .iter()
                    .map(|&n| if n > 0.0 { v } else { 0.0 })
                    .collect()
            };
            rows(
                &m,
                vec![
                    intents.to_vec(),
                    vec![dups; 3],
                    per_intent(dups * 1e4),
                    per_intent(300.0),
                    per_intent(4.0),
                ],
            )
        };
        // naive at 1, naive at 3, idempotent at 1 (no purchase on either seed), idempotent
        // at 3 (purchases on two seeds of three).
        let cells = [
            cell([100.0; 3], 2.0),
            cell([100.0; 3], 3.0),
            cell([0.0; 3], 0.0),
            cell([100.0, 100.0, 0.0], 0.0),
        ];
        let r = build(&m, &cells);
        let charts = charts(&r);
        let tradeoff = charts
            .iter()
            .find(|c| c.stem == "tradeoff")
            .expect("the trade-off chart");
        let verdict = format!(
            "No permanent duplicate was seen anywhere on the grid with {}.",
            given("idempotent")
        );
        assert!(tradeoff.text.contains(&verdict), "{}", tradeoff.text);
        let dups = charts
            .iter()
            .find(|c| c.stem == "duplicates")
            .expect("the duplicates chart");
        assert!(
            dups.text
                .contains("that issued purchases (each such cell 0,"),
            "{}",
            dups.text
        );
        let table = results_table(&r);
        let idempotent_at_3 = &table.rows[3];
        assert!(
            idempotent_at_3.contains(&"4 on each of 2 seeds".to_string())
                && idempotent_at_3.contains(&"300 on each of 2 seeds".to_string()),
            "{idempotent_at_3:?}"
        );
        assert!(
            !idempotent_at_3.iter().any(|t| t.contains("every seed")),
            "{idempotent_at_3:?}"
        );
    }

    /// Regression: a series that saw duplicates in every cell that issued purchases, beside
    /// one that issued none, was "seen in every cell".
    #[test]
    fn a_series_seen_in_every_cell_that_issued_purchases_says_so() {
        let m = manifest(
            2,
            &["naive", "idempotent"],
            &["1", "2", "3"],
            &[INTENTS, DUP_N, DUP, P99],
        );
        let cell = |intents: f64, dups: f64| {
            let each = |v: f64| vec![if intents > 0.0 { v } else { 0.0 }; 2];
            rows(
                &m,
                vec![
                    vec![intents; 2],
                    vec![dups; 2],
                    each(dups * 1e4),
                    each(300.0),
                ],
            )
        };
        let cells = [
            cell(100.0, 2.0),
            cell(100.0, 3.0),
            cell(0.0, 0.0),
            cell(100.0, 0.0),
            cell(100.0, 0.0),
            cell(100.0, 0.0),
        ];
        let r = build(&m, &cells);
        let dups = charts(&r)
            .into_iter()
            .find(|c| c.stem == "duplicates")
            .expect("the duplicates chart");
        let said = format!(
            "{}: seen in every cell that issued purchases, from",
            given("naive")
        );
        assert!(dups.text.contains(&said), "{said} in {}", dups.text);
    }

    /// Regression (the failures chart's words gave a rate none saw as "0%", where the table
    /// gives "0 (≤ U)"): its extremes at the last value of x are pooled rates in the table's
    /// words; where no cell there saw any, it says so.
    #[test]
    fn the_failures_chart_gives_a_rate_none_saw_as_a_bound() {
        let m = manifest(2, &["naive", "idempotent"], &["1", "3"], &[INTENTS, FAIL]);
        let words = |fails: [f64; 2]| {
            let cell = |f: [f64; 2]| rows(&m, vec![vec![10.0, 10.0], f.to_vec()]);
            let cells = [
                cell([0.0, 0.0]),
                cell(fails),
                cell([0.0, 0.0]),
                cell([0.0, 0.0]),
            ];
            let r = build(&m, &cells);
            let bound = r.none_seen_bound(3, FAIL).expect("none seen") * 100.0;
            let text = charts(&r)
                .into_iter()
                .find(|c| c.stem == "failures")
                .expect("the failures chart")
                .text;
            (text, sig(bound))
        };
        let (text, bound) = words([0.1, 0.2]);
        let said = format!(
            "from 0 (≤ {bound}%) ({}) to 15% ({}).",
            given("idempotent"),
            given("naive")
        );
        assert!(text.contains(&said), "{said} in {text}");
        let (text, bound) = words([0.0, 0.0]);
        let said =
            format!("none seen in any (each 0, with a 95% interval reaching at most {bound}%)");
        assert!(text.contains(&said), "{said} in {text}");
        assert!(!text.contains(" 0%"), "{text}");
    }

    /// Regression (a rate of none seen on a log axis was drawn as a triangle at its upper
    /// bound, which the words described, where it could outrank measured rates by height): the
    /// words now say where it is drawn, in the band at 0 on a log axis, at 0 on a linear one.
    #[test]
    fn the_words_say_where_a_rate_of_none_seen_is_drawn() {
        let m = manifest(
            2,
            &["naive", "idempotent"],
            &["1", "3"],
            &[INTENTS, DUP_N, DUP],
        );
        let chart_of = |naive_dups: f64| {
            let cell = |dups: f64| {
                rows(
                    &m,
                    vec![
                        vec![1000.0, 1000.0],
                        vec![dups, dups],
                        vec![dups * 1000.0, dups * 1000.0],
                    ],
                )
            };
            let cells = [cell(naive_dups), cell(naive_dups), cell(0.0), cell(0.0)];
            let r = build(&m, &cells);
            charts(&r)
                .into_iter()
                .find(|c| c.stem == "duplicates")
                .expect("the duplicates chart")
        };
        // A rate of 0.5 per intent, over two decades above the bounds of none seen: a log axis.
        let log = chart_of(500.0);
        assert_eq!(charts::none_seen(&log.figure), charts::NoneSeen::InBand);
        assert!(
            log.text.contains("in the shaded band labelled 0"),
            "{}",
            log.text
        );
        assert!(!log.text.contains("triangle"), "{}", log.text);
        let linear = chart_of(3.0);
        assert_eq!(charts::none_seen(&linear.figure), charts::NoneSeen::AtZero);
        assert!(
            linear
                .text
                .contains("a hollow marker at 0 with its exact 95% interval"),
            "{}",
            linear.text
        );
        assert!(!linear.text.contains("band"), "{}", linear.text);
    }

    #[test]
    fn numbers_for_people() {
        for (v, s) in [
            (0.0, "0"),
            (1234.6, "1235"),
            (12.345, "12.3"),
            (0.012345, "0.0123"),
            (2.0, "2"),
        ] {
            assert_eq!(sig(v), s);
        }
        assert_eq!(intents_text(1234567.0), "1,234,567");
    }

    #[test]
    fn given_text_is_escaped_for_each_format() {
        for (text, md) in [
            ("a|b\nc\r\td", r"a\|b c  d"),
            ("<b>&amp;</b>", r"\<b\>\&amp;\</b\>"),
            (
                "terminal_acquirer _x_ *y*",
                r"terminal_acquirer \_x\_ \*y\*",
            ),
            ("`x` \\ [l](u) # ~", r"\`x\` \\ \[l\](u) \# \~"),
        ] {
            assert_eq!(md_text(text), md, "{text:?}");
        }
        for (text, md) in [("- a", r"\- a"), ("12. a", r"12\. a"), ("  + a", r"\+ a")] {
            assert_eq!(md_paragraph(text), md, "{text:?}");
        }
        for (text, md) in [("a.ron", "`a.ron`"), ("a`b", "``a`b``"), ("`a", "`` `a ``")] {
            assert_eq!(md_code(text), md, "{text:?}");
        }
        let text = format!("`own` {} in {}", given("<a|b>"), given_code("x`y"));
        assert_eq!(md(&text), r"`own` \<a\|b\> in ``x`y``");
        assert_eq!(
            html_text(&text),
            "<code>own</code> &lt;a|b&gt; in <code>x`y</code>"
        );
    }
}
