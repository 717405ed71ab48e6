//! Sweep files: a base scenario, the parameters to vary and their values, and the seeds.
//!
//! ```ron
//! Sweep(
//!     title: "Retry strategies under a rising drop rate",
//!     description: "...",                     // optional, as is every field but base, seeds
//!     base: "bases/drop-rate.ron",            // relative to this file
//!     seeds: 10,                              // every cell runs the same seeds,
//!     seed_start: 1,                          // seed_start .. seed_start + seeds
//!     policies: [Naive, Idempotent, ReversalThenRetry, InquireThenRetry],
//!     baseline: Naive,                        // paired differences are taken against it
//!     charts: ["overload_drops"],             // metric columns charted besides the usual
//!     parameters: [
//!         (path: "links.terminal_acquirer.drop", also: ["links.acquirer_bank.drop"],
//!          name: "drop", values: [0.001, 0.01, 0.1]),
//!         (name: "setup", variants: [
//!             (name: "before", set: [("bank.processing", Exponential(mean: "400ms"))]),
//!             (name: "after", set: [("bank.processing", Exponential(mean: "20ms"))]),
//!         ]),
//!     ],
//! )
//! ```
//!
//! The grid is every combination of a policy and one value of each parameter (the last
//! parameter varying fastest); the first parameter with more than one value is the x axis of
//! the charts. A value is written at a path of the scenario as RON text and the scenario is read again by
//! its own types, so any value the scenario accepts can be varied (a number, a duration, a
//! whole backoff or latency distribution) and every check the scenario makes applies. Errors
//! point at the sweep file's line and column of the path or value at fault.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use payfault_domain::{PolicyKind, Scenario};

use super::ron_tree::{self, Body, Field, Kind, Node};
use crate::scenario_file::{self, LoadError};

/// Limits that keep a typo from asking for a year of computing.
const MAX_SEEDS: u64 = 1_000_000;
const MAX_CELLS: usize = 100_000;

/// A setting: this RON text written at this path of the scenario.
#[derive(Clone, Debug)]
pub struct Setting {
    pub path: String,
    /// Byte offset of the path in the sweep file.
    pub path_at: usize,
    pub value: String,
    /// Byte offset of the value in the sweep file.
    pub value_at: usize,
}

/// One value of an axis and what it writes into the scenario.
#[derive(Clone, Debug)]
pub struct AxisValue {
    pub label: String,
    pub settings: Vec<Setting>,
}

/// A dimension of the grid. The first axis is always the policy.
#[derive(Clone, Debug)]
pub struct Axis {
    /// Column name in the CSV files.
    pub name: String,
    /// Axis title in charts.
    pub label: String,
    pub values: Vec<AxisValue>,
    /// Whether its values are `values: [...]`, each read by the scenario's own types, so that
    /// two written differently may still be one value; variants are told apart by name.
    pub read_values: bool,
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub title: String,
    pub description: String,
    /// The base scenario as written in the sweep file.
    pub base: String,
    pub base_scenario: Scenario,
    pub seeds: u64,
    pub seed_start: u64,
    /// Index of the baseline policy on the policy axis.
    pub baseline: usize,
    pub axes: Vec<Axis>,
    /// Metric columns charted besides the standard charts.
    pub charts: Vec<String>,
    /// The sweep file's text, as read: its bytes, copied into the report.
    pub text: String,
    /// The base scenario's text, as read, copied into the report beside the sweep file's.
    pub base_text: String,
}

/// One point of the grid: a value of every axis, and the scenario they make.
#[derive(Clone, Debug)]
pub struct Cell {
    pub id: String,
    /// Index of the value on each axis.
    pub coords: Vec<usize>,
    pub scenario: Scenario,
    /// The scenario as RON, as written to `scenarios/<id>.ron`.
    pub scenario_text: String,
    /// Changes whenever anything that decides the cell's rows changes.
    pub hash: String,
}

/// The sweep file's text, for errors that point into it.
struct Src<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Src<'_> {
    fn err(&self, at: usize, message: impl Into<String>) -> LoadError {
        let (line, col) = ron_tree::line_col(self.text, at);
        LoadError::Invalid {
            path: self.path.to_path_buf(),
            line,
            col,
            message: message.into(),
        }
    }

    fn fields<'n>(&self, n: &'n Node, what: &str) -> Result<&'n [Field], LoadError> {
        match &n.kind {
            Kind::Group {
                body: Body::Fields(f),
                ..
            } => Ok(f),
            Kind::Group {
                body: Body::Items(i),
                ..
            } if i.is_empty() => Ok(&[]),
            _ => Err(self.err(
                n.start,
                format!("expected {what} `(name: value, ...)`, found {}", n.what()),
            )),
        }
    }

    /// Refuses fields other than `allowed`, and the same field twice.
    fn check_fields(&self, fields: &[Field], allowed: &[&str]) -> Result<(), LoadError> {
        for (i, f) in fields.iter().enumerate() {
            if !allowed.contains(&f.name.as_str()) {
                let names: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
                return Err(self.err(
                    f.at,
                    format!(
                        "unknown field `{}`, expected one of {}",
                        f.name,
                        names.join(", ")
                    ),
                ));
            }
            if fields[..i].iter().any(|g| g.name == f.name) {
                return Err(self.err(f.at, format!("field `{}` is given twice", f.name)));
            }
        }
        Ok(())
    }

    fn string(&self, n: &Node) -> Result<String, LoadError> {
        match &n.kind {
            Kind::Str(s) => Ok(s.clone()),
            _ => Err(self.err(
                n.start,
                format!("expected a string in quotes, found {}", n.what()),
            )),
        }
    }

    fn count(&self, n: &Node) -> Result<u64, LoadError> {
        match &n.kind {
            Kind::Number(t) => t
                .replace('_', "")
                .parse::<u64>()
                .map_err(|_| self.err(n.start, format!("expected a whole number, found {t}"))),
            _ => Err(self.err(
                n.start,
                format!("expected a whole number, found {}", n.what()),
            )),
        }
    }

    fn list<'n>(&self, n: &'n Node) -> Result<&'n [Node], LoadError> {
        match &n.kind {
            Kind::List(items) => Ok(items),
            _ => Err(self.err(
                n.start,
                format!("expected a list `[...]`, found {}", n.what()),
            )),
        }
    }
}

fn field<'f>(fields: &'f [Field], name: &str) -> Option<&'f Field> {
    fields.iter().find(|f| f.name == name)
}

/// A value's text with its white space and comments squeezed, for labels.
fn compact(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for word in code.split_whitespace() {
            if !out.is_empty() && !out.ends_with(['(', '[']) && !word.starts_with([')', ']']) {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

fn label_of(n: &Node, text: &str) -> String {
    match &n.kind {
        Kind::Str(s) => s.clone(),
        _ => compact(n.text(text)),
    }
}

fn policy_of(name: &str) -> Option<PolicyKind> {
    PolicyKind::ALL
        .into_iter()
        .find(|k| format!("{k:?}") == name || k.cli_name() == name)
}

/// Reads and checks a sweep file, its base scenario, and every cell's scenario.
pub fn read(path: &Path) -> Result<(Spec, Vec<Cell>), LoadError> {
    let text = scenario_file::read_text(path)?;
    let src = Src { path, text: &text };
    let root = ron_tree::parse(&text).map_err(|e| src.err(e.at, e.message))?;
    if let Kind::Group {
        name: Some(name), ..
    } = &root.kind
    {
        if name != "Sweep" {
            return Err(src.err(root.start, format!("expected `Sweep(...)`, found `{name}`")));
        }
    }
    let fields = src.fields(&root, "a sweep")?;
    src.check_fields(
        fields,
        &[
            "title",
            "description",
            "base",
            "seeds",
            "seed_start",
            "policies",
            "baseline",
            "parameters",
            "charts",
        ],
    )?;
    let required = |name: &str| {
        field(fields, name)
            .ok_or_else(|| src.err(root.start, format!("the sweep needs the field `{name}`")))
    };

    let base_field = required("base")?;
    let base = src.string(&base_field.value)?;
    let base_path = path.parent().unwrap_or(Path::new("")).join(&base);
    let base_scenario = match scenario_file::load(&base_path) {
        Ok(sc) => sc,
        Err(LoadError::Io { source, .. }) => {
            return Err(src.err(
                base_field.value.start,
                format!(
                "cannot read the base scenario {} (paths are relative to the sweep file): {source}",
                base_path.display()
            ),
            ))
        }
        Err(e) => return Err(e),
    };
    // Read whole once already, as the scenario was loaded.
    let base_text = scenario_file::read_text(&base_path)?;

    let seeds_field = required("seeds")?;
    let seeds = src.count(&seeds_field.value)?;
    if seeds == 0 || seeds > MAX_SEEDS {
        return Err(src.err(
            seeds_field.value.start,
            format!("expected between 1 and {MAX_SEEDS} seeds, found {seeds}"),
        ));
    }
    let seed_start = match field(fields, "seed_start") {
        Some(f) => {
            let start = src.count(&f.value)?;
            // The last seed is seed_start + seeds - 1.
            let latest = u64::MAX - (seeds - 1);
            if start > latest {
                return Err(src.err(
                    f.value.start,
                    format!(
                        "expected a seed_start of at most {latest}, found {start}: with {seeds} \
                         seeds it passes the largest seed, {}",
                        u64::MAX
                    ),
                ));
            }
            start
        }
        None => 1,
    };
    let title = match field(fields, "title") {
        Some(f) => src.string(&f.value)?,
        None => path
            .file_stem()
            .map_or("sweep".into(), |s| s.to_string_lossy().into_owned()),
    };
    let description = match field(fields, "description") {
        Some(f) => src.string(&f.value)?,
        None => String::new(),
    };

    let mut axes = vec![policy_axis(&src, fields, &base_scenario)?];
    let baseline = match field(fields, "baseline") {
        None => 0,
        Some(f) => {
            let of: Vec<&str> = axes[0].values.iter().map(|v| v.label.as_str()).collect();
            let name = match &f.value.kind {
                Kind::Ident(n) | Kind::Str(n) => n.clone(),
                _ => {
                    return Err(src.err(
                        f.value.start,
                        format!(
                            "expected a policy name from `policies` as the baseline (one of {}), \
                             found {} `{}`",
                            of.join(", "),
                            f.value.what(),
                            compact(f.value.text(src.text))
                        ),
                    ))
                }
            };
            let kind = policy_of(&name).map(|k| k.cli_name());
            axes[0]
                .values
                .iter()
                .position(|v| Some(v.label.as_str()) == kind)
                .ok_or_else(|| {
                    let message = if kind.is_none() {
                        format!(
                            "unknown policy `{name}`: the baseline is one of {}",
                            of.join(", ")
                        )
                    } else {
                        format!(
                            "the baseline `{name}` is not among the sweep's policies ({})",
                            of.join(", ")
                        )
                    };
                    src.err(f.value.start, message)
                })?
        }
    };
    // A parameter's column sits beside every metric's in results.csv: no name twice.
    let mut columns: BTreeSet<String> = ["cell", "policy", "seed"].map(String::from).into();
    columns.extend(super::data::metric_columns());
    if let Some(f) = field(fields, "parameters") {
        for p in src.list(&f.value)? {
            let cells_before = axes.iter().map(|a| a.values.len()).product();
            let axis = parameter(&src, p, cells_before)?;
            let reserved = super::report::reserved_columns().contains(&axis.name);
            if !columns.insert(axis.name.clone()) || reserved {
                let what = if super::data::metric_columns().contains(&axis.name) {
                    "is a metric's column in results.csv"
                } else if reserved {
                    "is a column of summary.csv or pairs.csv"
                } else {
                    "names a column already"
                };
                return Err(src.err(
                    p.start,
                    format!("`{}` {what}: give this parameter another `name`", axis.name),
                ));
            }
            // The policy axis labels rows and colours charts by policy: a kind set elsewhere
            // would run under another policy's name.
            if let Some(bad) = axis
                .values
                .iter()
                .flat_map(|v| &v.settings)
                .find(|s| s.path == "policy" || s.path == "policy.kind")
            {
                return Err(src.err(
                    bad.path_at,
                    "vary the policy kind with `policies: [...]`, not as a parameter",
                ));
            }
            axes.push(axis);
        }
    }
    let mut charts = Vec::new();
    if let Some(f) = field(fields, "charts") {
        let columns = super::data::metric_columns();
        for n in src.list(&f.value)? {
            let name = src.string(n)?;
            if !columns.contains(&name) {
                return Err(src.err(
                    n.start,
                    format!(
                        "no metric `{name}`: chart one of the columns of results.csv: {}",
                        columns.join(", ")
                    ),
                ));
            }
            charts.push(name);
        }
    }
    // Within MAX_CELLS: each parameter was held to it as it was read.
    let cells_total = axes.iter().map(|a| a.values.len()).product();

    let spec = Spec {
        title,
        description,
        base,
        base_scenario,
        seeds,
        seed_start,
        baseline,
        axes,
        charts,
        text: text.clone(),
        base_text,
    };
    let cells = build_cells(&spec, &src, cells_total)?;
    Ok((spec, cells))
}

fn policy_axis(src: &Src, fields: &[Field], base: &Scenario) -> Result<Axis, LoadError> {
    let mut values = Vec::new();
    match field(fields, "policies") {
        None => values.push(AxisValue {
            label: base.policy.kind.cli_name().to_string(),
            settings: Vec::new(),
        }),
        Some(f) => {
            let items = src.list(&f.value)?;
            if items.is_empty() {
                return Err(src.err(f.value.start, "name at least one policy"));
            }
            for n in items {
                let name = match &n.kind {
                    Kind::Ident(s) | Kind::Str(s) => s.clone(),
                    _ => String::new(),
                };
                let kind = policy_of(&name).ok_or_else(|| {
                    let names: Vec<String> =
                        PolicyKind::ALL.iter().map(|k| format!("{k:?}")).collect();
                    src.err(
                        n.start,
                        format!(
                            "unknown policy `{}`, expected one of {}",
                            compact(n.text(src.text)),
                            names.join(", ")
                        ),
                    )
                })?;
                if values
                    .iter()
                    .any(|v: &AxisValue| v.label == kind.cli_name())
                {
                    return Err(src.err(n.start, format!("policy {kind:?} is named twice")));
                }
                values.push(AxisValue {
                    label: kind.cli_name().to_string(),
                    settings: vec![Setting {
                        path: "policy.kind".into(),
                        path_at: n.start,
                        value: format!("{kind:?}"),
                        value_at: n.start,
                    }],
                });
            }
        }
    }
    Ok(Axis {
        name: "policy".into(),
        label: "policy".into(),
        values,
        read_values: false,
    })
}

/// Reads a parameter; `cells_before` is the size of the grid without it, since its values
/// multiply the grid.
fn parameter(src: &Src, p: &Node, cells_before: usize) -> Result<Axis, LoadError> {
    let fields = src.fields(p, "a parameter")?;
    src.check_fields(
        fields,
        &["path", "also", "name", "label", "values", "variants"],
    )?;
    let text_field = |name: &str| -> Result<Option<(String, usize)>, LoadError> {
        field(fields, name)
            .map(|f| src.string(&f.value).map(|s| (s, f.value.start)))
            .transpose()
    };
    let path = text_field("path")?;
    let name = text_field("name")?;
    if let Some((_, at)) = name.as_ref().filter(|(n, _)| n.is_empty()) {
        return Err(src.err(
            *at,
            "a parameter's `name` is its column in results.csv: give it one that is not empty",
        ));
    }
    let name = name.map(|(s, _)| s);
    let label = text_field("label")?.map(|(s, _)| s);
    let mut also = Vec::new();
    if let Some(f) = field(fields, "also") {
        for n in src.list(&f.value)? {
            also.push((src.string(n)?, n.start));
        }
    }
    let values = field(fields, "values");
    let variants = field(fields, "variants");
    // Refused by its length alone, before its values are read: a list long enough to pass
    // the limit is long enough for reading it to take a while.
    let within_limit =
        |list: &Node, items: &[Node], what: &str| match cells_before.checked_mul(items.len()) {
            Some(n) if n <= MAX_CELLS => Ok(()),
            _ => Err(src.err(
                list.start,
                format!(
                    "more than {MAX_CELLS} cells: {} {what} here times {cells_before} from the \
                     policies and the parameters before; expected at most {MAX_CELLS} cells in all",
                    items.len()
                ),
            )),
        };
    let mut out = Vec::new();
    // Where each value or variant starts in the sweep file.
    let mut starts = Vec::new();
    let name = match (values, variants, &path) {
        (Some(vf), None, Some((path, path_at))) => {
            let items = src.list(&vf.value)?;
            if items.is_empty() {
                return Err(src.err(vf.value.start, "give at least one value"));
            }
            within_limit(&vf.value, items, "values")?;
            for n in items {
                let settings = std::iter::once((path.clone(), *path_at))
                    .chain(also.iter().cloned())
                    .map(|(path, path_at)| Setting {
                        path,
                        path_at,
                        value: n.text(src.text).to_string(),
                        value_at: n.start,
                    })
                    .collect();
                out.push(AxisValue {
                    label: label_of(n, src.text),
                    settings,
                });
                starts.push(n.start);
            }
            name.unwrap_or_else(|| path.clone())
        }
        (None, Some(vf), None) if also.is_empty() => {
            let items = src.list(&vf.value)?;
            if items.is_empty() {
                return Err(src.err(vf.value.start, "give at least one variant"));
            }
            within_limit(&vf.value, items, "variants")?;
            for n in items {
                out.push(variant(src, n)?);
                starts.push(n.start);
            }
            name.unwrap_or_else(|| "variant".into())
        }
        _ => {
            return Err(src.err(
                p.start,
                "a parameter needs `path` and `values` (and optionally `also`), or `variants` \
                 whose entries are `(name: \"...\", set: [(\"path\", value), ...])`",
            ))
        }
    };
    let mut first_at = BTreeMap::new();
    for (v, &at) in out.iter().zip(&starts) {
        if let Some(&first) = first_at.get(v.label.as_str()) {
            let (line, col) = ron_tree::line_col(src.text, first);
            return Err(src.err(
                at,
                format!(
                    "the value `{}` is given twice, first at line {line}, column {col}",
                    v.label
                ),
            ));
        }
        first_at.insert(v.label.as_str(), at);
    }
    Ok(Axis {
        label: label.unwrap_or_else(|| name.clone()),
        name,
        values: out,
        read_values: values.is_some(),
    })
}

fn variant(src: &Src, n: &Node) -> Result<AxisValue, LoadError> {
    let fields = src.fields(n, "a variant")?;
    src.check_fields(fields, &["name", "set"])?;
    let name = field(fields, "name").ok_or_else(|| src.err(n.start, "a variant needs a `name`"))?;
    let label = src.string(&name.value)?;
    let set = field(fields, "set").ok_or_else(|| src.err(n.start, "a variant needs `set`"))?;
    let pairs: Vec<(&Node, &Node)> = match &set.value.kind {
        Kind::Map(entries) => entries.iter().map(|(k, v)| (k, v)).collect(),
        Kind::List(items) => items
            .iter()
            .map(|it| match &it.kind {
                Kind::Group {
                    name: None,
                    body: Body::Items(kv),
                } if kv.len() == 2 => Ok((&kv[0], &kv[1])),
                _ => Err(src.err(
                    it.start,
                    format!("expected a pair `(\"path\", value)`, found {}", it.what()),
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(src.err(set.value.start, "expected `set: [(\"path\", value), ...]`")),
    };
    let settings = pairs
        .into_iter()
        .map(|(k, v)| {
            Ok(Setting {
                path: src.string(k)?,
                path_at: k.start,
                value: v.text(src.text).to_string(),
                value_at: v.start,
            })
        })
        .collect::<Result<Vec<_>, LoadError>>()?;
    Ok(AxisValue { label, settings })
}

/// Optional values a scenario's text leaves out while unset (the base is read as the
/// simulator writes it), rather than write `None`: a path to one is unset, not unknown.
const UNSET_UNWRITTEN: [&str; 2] = ["limits.max_events", "limits.max_pending"];

/// The node at a dotted path (`links.terminal_acquirer.drop`, `faults.crashes.0.at`),
/// looking through `Some(...)`.
fn locate<'n>(root: &'n Node, path: &str, text: &str) -> Result<&'n Node, String> {
    let mut node = root;
    let mut walked = String::from("the scenario");
    let mut prefix: Vec<&str> = Vec::new();
    for seg in path.split('.') {
        let here = node.unwrap_some();
        node = match &here.kind {
            Kind::Group {
                body: Body::Fields(fields),
                ..
            } => match fields.iter().find(|f| f.name == seg) {
                Some(f) => &f.value,
                None => {
                    let full = [prefix.as_slice(), &[seg]].concat().join(".");
                    if UNSET_UNWRITTEN.contains(&full.as_str()) {
                        return Err(format!(
                            "`{full}` is not set in the base scenario: give it a value there"
                        ));
                    }
                    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                    return Err(format!(
                        "{walked} has no field `{seg}`: its fields are {}",
                        names.join(", ")
                    ));
                }
            },
            Kind::List(items) => match seg.parse::<usize>().ok().and_then(|i| items.get(i)) {
                Some(n) => n,
                None if items.is_empty() => {
                    return Err(format!(
                        "{walked} is an empty list in the base scenario: it has no entry \
                         `{seg}` to set; give the base that entry, or set the list whole"
                    ))
                }
                None => {
                    return Err(format!(
                        "{walked} is a list of {} entries: `{seg}` is not an index from 0 to {}",
                        items.len(),
                        items.len() - 1
                    ))
                }
            },
            Kind::Ident(n) if n == "None" => {
                return Err(format!(
                    "{walked} is None in the base scenario: give it a value there, or set it whole"
                ))
            }
            _ => {
                return Err(format!(
                    "{walked} is `{}`, which has no field `{seg}`",
                    compact(here.text(text))
                ))
            }
        };
        prefix.push(seg);
        walked = format!("`{}`", prefix.join("."));
    }
    Ok(node)
}

/// FNV-1a: a stable hash (std's hashers may change between Rust releases).
pub fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Writes each setting's value into the base scenario's text and reads the result as a
/// scenario, with the scenario's own checks.
struct Builder<'a> {
    src: &'a Src<'a>,
    base_text: String,
    base_tree: Node,
}

/// A bad setting, found either by reading or by checking the scenario it makes.
enum BuildError {
    /// At a byte offset of the sweep file.
    At(usize, String),
    /// Somewhere outside the spliced values: the combination is at fault.
    Combination(String),
}

impl Builder<'_> {
    fn build(&self, settings: &[&Setting]) -> Result<Scenario, BuildError> {
        let mut spans: Vec<(usize, usize, &Setting)> = Vec::new();
        for s in settings {
            let n = locate(&self.base_tree, &s.path, &self.base_text).map_err(|m| {
                BuildError::At(s.path_at, format!("no parameter `{}`: {m}", s.path))
            })?;
            spans.push((n.start, n.end, s));
        }
        spans.sort_by_key(|(start, _, _)| *start);
        for w in spans.windows(2) {
            if w[1].2.path == w[0].2.path {
                return Err(BuildError::At(
                    w[1].2.path_at,
                    format!("`{}` is set twice in one cell", w[1].2.path),
                ));
            }
            if w[1].0 < w[0].1 {
                return Err(BuildError::At(
                    w[1].2.path_at,
                    format!(
                        "`{}` lies inside `{}`, which this cell also sets: set one or the other",
                        w[1].2.path, w[0].2.path
                    ),
                ));
            }
        }
        // Spliced text, and where each value landed in it.
        let mut text = String::with_capacity(self.base_text.len() + 256);
        let mut landed = Vec::new();
        let mut last = 0;
        for (start, end, s) in &spans {
            text.push_str(&self.base_text[last..*start]);
            landed.push((text.len(), text.len() + s.value.len(), *s));
            text.push_str(&s.value);
            last = *end;
        }
        text.push_str(&self.base_text[last..]);
        match scenario_file::parse(Path::new("cell"), &text) {
            Ok(sc) => Ok(sc),
            Err(LoadError::Invalid {
                line, col, message, ..
            }) => {
                let at = ron_offset(&text, line, col);
                // A value read with an error points inside it, or just past its end.
                let hit = landed
                    .iter()
                    .find(|(a, b, _)| *a <= at && at <= *b)
                    .or_else(|| {
                        landed
                            .iter()
                            .rev()
                            .find(|(_, b, _)| *b <= at && text[*b..at].trim().is_empty())
                    });
                match hit {
                    // The reader stops at the end of a value it refuses as a whole: point at
                    // the value's start then, and inside it otherwise.
                    Some((a, b, s)) => Err(BuildError::At(
                        s.value_at + if at >= *b { 0 } else { at - a },
                        format!("`{}` = {}: {message}", s.path, compact(&s.value)),
                    )),
                    None => Err(BuildError::Combination(message)),
                }
            }
            Err(LoadError::Io { source, .. }) => Err(BuildError::Combination(source.to_string())),
            Err(e @ LoadError::NoScenario { .. }) => Err(BuildError::Combination(e.to_string())),
        }
    }
}

/// The byte offset of a scenario error's position (columns in characters, from 1).
fn ron_offset(text: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    // Scenario errors count columns in characters.
    let rest = &text[start..];
    let line_len = rest.find('\n').unwrap_or(rest.len());
    let skip = col.saturating_sub(1);
    let at = match rest[..line_len].char_indices().nth(skip) {
        Some((i, _)) => i,
        // Past the line's end, each column counts one.
        None => line_len + (skip - rest[..line_len].chars().count()),
    };
    (start + at).min(text.len())
}

fn build_cells(spec: &Spec, src: &Src, total: usize) -> Result<Vec<Cell>, LoadError> {
    let base_text = ron::ser::to_string_pretty(&spec.base_scenario, Default::default())
        .map_err(|e| src.err(0, format!("cannot restate the base scenario: {e}")))?;
    let base_tree = ron_tree::parse(&base_text).map_err(|e| {
        src.err(
            0,
            format!("cannot restate the base scenario: {}", e.message),
        )
    })?;
    let builder = Builder {
        src,
        base_text,
        base_tree,
    };
    let width = total.to_string().len().max(3);
    let mut cells = Vec::with_capacity(total);
    for index in 0..total {
        // The last axis varies fastest.
        let mut coords = vec![0; spec.axes.len()];
        let mut rest = index;
        for (a, axis) in spec.axes.iter().enumerate().rev() {
            coords[a] = rest % axis.values.len();
            rest /= axis.values.len();
        }
        let settings: Vec<&Setting> = spec
            .axes
            .iter()
            .zip(&coords)
            .flat_map(|(axis, &v)| axis.values[v].settings.iter())
            .collect();
        let scenario = match builder.build(&settings) {
            Ok(sc) => sc,
            Err(BuildError::At(at, message)) => return Err(builder.src.err(at, message)),
            Err(BuildError::Combination(message)) => {
                return Err(blame(&builder, &settings, message))
            }
        };
        let scenario_text = payfault_domain::to_ron(&scenario)
            .map_err(|e| src.err(0, format!("a cell's scenario {e}")))?;
        let hash = fnv64(
            format!(
                "payfault {}\nseeds {} from {}\n{scenario_text}",
                env!("CARGO_PKG_VERSION"),
                spec.seeds,
                spec.seed_start
            )
            .as_bytes(),
        );
        cells.push(Cell {
            id: format!("cell-{:0width$}", index + 1),
            coords,
            scenario,
            scenario_text,
            hash: format!("{hash:016x}"),
        });
    }
    refuse_equal_values(spec, src, &cells)?;
    Ok(cells)
}

/// Refuses two values of one parameter that the scenario reads as one (`2` and `0x2`, `"1s"`
/// and `"1000ms"`): their cells would run the same scenario under two labels. Values are
/// compared by the cells they make with every other axis at its first value; each parameter
/// sets paths no other sets, so what is equal there is equal in every cell.
fn refuse_equal_values(spec: &Spec, src: &Src, cells: &[Cell]) -> Result<(), LoadError> {
    // Cells between two values of an axis: the product of the sizes of the axes after it.
    let mut stride = cells.len();
    for axis in &spec.axes {
        stride /= axis.values.len();
        if !axis.read_values {
            continue;
        }
        let mut seen: BTreeMap<&str, &AxisValue> = BTreeMap::new();
        for (i, v) in axis.values.iter().enumerate() {
            match seen.get(cells[i * stride].scenario_text.as_str()) {
                Some(first) => {
                    let at = |v: &AxisValue| v.settings.first().map_or(0, |s| s.value_at);
                    let (line, col) = ron_tree::line_col(src.text, at(first));
                    return Err(src.err(
                        at(v),
                        format!(
                            "the value `{}` is read as the same as `{}`, first at line {line}, \
                             column {col}: give each value once",
                            v.label, first.label
                        ),
                    ));
                }
                None => {
                    seen.insert(&cells[i * stride].scenario_text, v);
                }
            }
        }
    }
    Ok(())
}

/// A cell whose scenario fails a check that spans several fields: the first setting that
/// fails alone is blamed, or else the cell's first setting, naming them all.
fn blame(builder: &Builder, settings: &[&Setting], message: String) -> LoadError {
    for s in settings {
        match builder.build(&[s]) {
            Err(BuildError::At(at, m)) => return builder.src.err(at, m),
            Err(BuildError::Combination(m)) => {
                return builder.src.err(
                    s.value_at,
                    format!("`{}` = {}: {m}", s.path, compact(&s.value)),
                )
            }
            Ok(_) => {}
        }
    }
    let all: Vec<String> = settings
        .iter()
        .map(|s| format!("{} = {}", s.path, compact(&s.value)))
        .collect();
    let at = settings.first().map_or(0, |s| s.value_at);
    builder.src.err(
        at,
        format!(
            "these settings together do not make a valid scenario ({}): {message}",
            all.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_squeeze_white_space_and_comments() {
        assert_eq!(
            compact("FullJitter(\n  base: \"10ms\", // why\n  cap: \"1s\",\n)"),
            "FullJitter(base: \"10ms\", cap: \"1s\",)"
        );
    }

    #[test]
    fn paths_name_what_exists_when_they_miss() {
        let text = "S(a: (b: 1, c: Some(D(e: 2))), l: [(x: 1)], n: None)";
        let tree = ron_tree::parse(text).expect("valid");
        let at = |p: &str| locate(&tree, p, text).map(|n| n.text(text).to_string());
        assert_eq!(at("a.b").as_deref(), Ok("1"));
        assert_eq!(at("a.c.e").as_deref(), Ok("2"));
        assert_eq!(at("l.0.x").as_deref(), Ok("1"));
        assert_eq!(
            at("a.z"),
            Err("`a` has no field `z`: its fields are b, c".into())
        );
        assert!(at("l.3").unwrap_err().contains("not an index from 0 to 0"));
        assert!(at("n.q")
            .unwrap_err()
            .contains("is None in the base scenario"));
        assert!(at("a.b.q").unwrap_err().contains("`a.b` is `1`"));
    }

    /// The optional values a scenario's text leaves out while unset are those named in
    /// `UNSET_UNWRITTEN`: set, each is written; unset, none is.
    #[test]
    fn the_values_left_out_while_unset_are_known() {
        let text = include_str!("../../../../scenarios/policy-naive.ron");
        let mut sc = payfault_domain::from_ron(text).expect("a shipped scenario");
        let unset = payfault_domain::to_ron(&sc).expect("written");
        sc.limits.max_events = Some(7);
        sc.limits.max_pending = Some(9);
        let set = payfault_domain::to_ron(&sc).expect("written");
        for path in UNSET_UNWRITTEN {
            let field = path.rsplit('.').next().expect("a field");
            assert!(!unset.contains(field), "{field} written while unset");
            assert!(set.contains(field), "{field} not written when set");
        }
        let (tree, set_tree) = (
            ron_tree::parse(&unset).expect("valid"),
            ron_tree::parse(&set).expect("valid"),
        );
        assert_eq!(
            locate(&tree, "limits.max_events", &unset).map(|_| ()),
            Err(
                "`limits.max_events` is not set in the base scenario: give it a value there".into()
            )
        );
        assert!(locate(&set_tree, "limits.max_events", &set).is_ok());
    }
}

/// Sweep files damaged as an editor damages them (cut short, a character deleted, a stray one
/// typed), with comments in more than one byte a character: reading never panics, and an
/// error in the file points at a line and column inside it.
#[cfg(test)]
mod damaged {
    use super::*;

    #[test]
    fn damaged_sweep_files_are_refused_at_a_place_in_the_text() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sweeps");
        let dir =
            std::env::temp_dir().join(format!("payfault-damaged-sweeps-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bases")).unwrap();
        for e in std::fs::read_dir(root.join("bases")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dir.join("bases").join(p.file_name().unwrap())).unwrap();
        }
        let mut tried = 0;
        // A plain grid, and one of variants with whole values.
        for name in ["drop-rate.ron", "retry-storm.ron"] {
            let text = std::fs::read_to_string(root.join(name))
                .unwrap()
                .replace("// ", "// é ");
            let file = dir.join(name);
            for (i, c) in text.char_indices() {
                let (head, tail) = (&text[..i], &text[i..]);
                let mut damaged =
                    vec![head.to_string(), format!("{head}{}", &tail[c.len_utf8()..])];
                for typed in [")", "(", ",", "\"", "é", "[", ":"] {
                    damaged.push(format!("{head}{typed}{tail}"));
                }
                for v in damaged {
                    tried += 1;
                    std::fs::write(&file, &v).unwrap();
                    let read = std::panic::catch_unwind(|| read(&file).err())
                        .unwrap_or_else(|_| panic!("{name} damaged at byte {i}: a panic"));
                    if let Some(LoadError::Invalid {
                        path,
                        line,
                        col,
                        message,
                    }) = read
                    {
                        if path != file {
                            continue;
                        }
                        let lines: Vec<&str> = v.split('\n').collect();
                        let inside = (1..=lines.len()).contains(&line)
                            && (1..=lines[line - 1].chars().count() + 1).contains(&col);
                        assert!(
                            inside,
                            "{name} damaged at byte {i}: {line}:{col} is outside: {message}"
                        );
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(tried > 10_000, "{tried} variants");
    }
}
