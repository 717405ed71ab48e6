//! `payfault sweep` and `payfault merge`: a grid of policies x parameters x seeds, run in
//! parallel, written to a report folder.
//!
//! The folder, as one run leaves it:
//!
//! ```text
//! manifest.json         the grid: axes, values, cells, seeds, metric columns, the command
//! sweep.ron             the sweep file, byte for byte as given
//! scenarios/<cell>.ron  each cell's full scenario (replay a row: payfault run ... --seed N)
//! cells/<cell>.csv      each finished cell's rows, written as soon as the cell is done
//! results.csv           every cell and seed, every metric (the cells' rows, in cell order)
//! summary.csv pairs.csv report.md index.html charts/
//! ```
//!
//! Every file is written whole or not at all (a temporary name, then a rename), so an
//! interrupted sweep keeps the cells it finished and `--resume` runs only the others. A folder
//! that already holds a report keeps it until the new one is whole (see [`folder`]); one that
//! payfault did not write is refused. A run that stops at a limit of its cell's scenario keeps
//! that scenario beside the folder, as `<folder>.stopped-<cell>.ron`, where its replay command
//! finds it whatever later runs do to the folder. A shard (`--shard K/N`) runs every N-th
//! cell; `merge` puts shards together, into a folder that is none of them. The report is
//! always made from the cell files on disk, so a resumed or merged folder is byte for byte
//! what one uninterrupted run writes, whatever the number of jobs.

mod charts;
mod data;
mod folder;
mod report;
mod ron_tree;
mod spec;
mod stats;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::progress::Progress;
use crate::CliError;

#[derive(clap::Args)]
pub struct SweepArgs {
    /// The sweep file (RON): a base scenario, the parameters to vary and their values, seeds.
    #[arg(value_parser = crate::path)]
    pub sweep: PathBuf,
    /// The report folder to write.
    #[arg(long, value_parser = crate::path)]
    pub out: PathBuf,
    /// Worker threads, 1 to 1024 (default: every core). The results do not depend on it.
    #[arg(long, value_parser = crate::shell::parse_jobs)]
    pub jobs: Option<usize>,
    /// Keep the cells an earlier, interrupted run of the same sweep finished; run the rest.
    #[arg(long)]
    pub resume: bool,
    /// Run only shard K of N (every N-th cell, from the K-th); `payfault merge` joins shards.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// Folders written by `payfault sweep --shard K/N` (or by interrupted runs) of one sweep.
    #[arg(required = true, value_parser = crate::path)]
    pub dirs: Vec<PathBuf>,
    /// The report folder to write: the same files one run of the whole sweep writes.
    #[arg(long, value_parser = crate::path)]
    pub out: PathBuf,
}

/// Shard `k` of `n`, counting from 1.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl Shard {
    fn owns(&self, cell_index: usize) -> bool {
        cell_index % self.n == self.k - 1
    }
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("expected K/N with 1 <= K <= N, such as 2/4, found {s:?}");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok(Shard { k, n })
}

/// Everything the report needs besides the rows: the report is a function of this and the
/// cell files, which is what lets `merge` write it without the sweep file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub payfault: String,
    /// The sweep file as it was named on the command line.
    pub sweep: String,
    /// The command that makes this grid, with the arguments that decide its results: the
    /// sweep file as named. (Absent from manifests of earlier versions.)
    #[serde(default)]
    pub command: String,
    pub title: String,
    pub description: String,
    /// The base scenario as the sweep file names it, and its name and description.
    pub base: String,
    pub base_name: String,
    pub base_description: String,
    pub seeds: u64,
    pub seed_start: u64,
    /// Index of the baseline policy on the first axis (the policy).
    pub baseline: usize,
    pub axes: Vec<AxisInfo>,
    /// Metric columns of the CSV files, after the cell, axis and seed columns.
    pub columns: Vec<String>,
    /// Metric columns charted besides the standard charts.
    pub charts: Vec<String>,
    pub cells: Vec<CellInfo>,
    /// Set in a shard's folder; a whole run's or a merge's has none.
    pub shard: Option<Shard>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AxisInfo {
    pub name: String,
    pub label: String,
    pub values: Vec<ValueInfo>,
    /// Its values are a list of one setting's values, in the order written, so that a chart
    /// may join them with a line; variants (sets of settings with a name) are not: a line
    /// through them would suggest a trend between kinds.
    #[serde(default)]
    pub ordered: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueInfo {
    pub label: String,
    /// (path, value as written) pairs.
    pub settings: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellInfo {
    pub id: String,
    pub coords: Vec<usize>,
    pub hash: String,
}

const MANIFEST: &str = "manifest.json";
/// Where a report keeps what it was made from: the sweep file, and its base scenario at the
/// same path relative to it when that path stays below the sweep file's folder, so that
/// `payfault sweep input/sweep.ron --out DIR` makes the report again.
const INPUT: &str = "input";
/// The copy of the sweep file in a report folder.
const SWEEP_COPY: &str = "input/sweep.ron";
const FORMAT: u32 = 1;

impl Manifest {
    fn seed_list(&self) -> Vec<u64> {
        // Counted from the start: the range's end, one past the last seed, may not fit in u64.
        (0..self.seeds)
            .map_while(|i| self.seed_start.checked_add(i))
            .collect()
    }

    /// `cell,policy,<parameters>,seed,<metrics>`
    fn header(&self) -> String {
        let mut h = vec!["cell".to_string()];
        h.extend(self.axes.iter().map(|a| a.name.clone()));
        h.push("seed".into());
        h.extend(self.columns.iter().cloned());
        data::line(&h)
    }

    fn label_columns(&self) -> usize {
        1 + self.axes.len()
    }

    fn cell_labels(&self, cell: &CellInfo) -> Vec<String> {
        let mut l = vec![cell.id.clone()];
        l.extend(
            self.axes
                .iter()
                .zip(&cell.coords)
                .map(|(a, &v)| a.values[v].label.clone()),
        );
        l
    }

    fn read(dir: &Path) -> Result<Manifest, CliError> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            CliError::Usage(format!(
                "{}: cannot read ({e}): is {} a sweep's report folder?",
                path.display(),
                dir.display()
            ))
        })?;
        Manifest::parse(&text).map_err(|why| CliError::Usage(format!("{}: {why}", path.display())))
    }

    /// A manifest `payfault sweep` or `merge` wrote, in this version's format: the whole
    /// structure, down to every cell's hash, is what tells it from another program's
    /// `manifest.json`.
    fn parse(text: &str) -> Result<Manifest, String> {
        let m: Manifest =
            serde_json::from_str(text).map_err(|e| format!("not a sweep's manifest ({e})"))?;
        if m.format != FORMAT {
            return Err(format!(
                "a manifest of format {}; this payfault reads format {FORMAT}",
                m.format
            ));
        }
        Ok(m)
    }

    fn write(&self, dir: &Path) -> Result<(), CliError> {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest serialises");
        text.push('\n');
        crate::write_atomic(&dir.join(MANIFEST), text.as_bytes())
    }
}

fn manifest_of(args_sweep: &Path, s: &spec::Spec, cells: &[spec::Cell]) -> Manifest {
    Manifest {
        format: FORMAT,
        payfault: env!("CARGO_PKG_VERSION").to_string(),
        sweep: args_sweep.display().to_string(),
        command: format!("payfault sweep {}", crate::shell::quote(args_sweep)),
        title: s.title.clone(),
        description: s.description.clone(),
        base: s.base.clone(),
        base_name: s.base_scenario.name.clone(),
        base_description: s.base_scenario.description.clone(),
        seeds: s.seeds,
        seed_start: s.seed_start,
        baseline: s.baseline,
        axes: s
            .axes
            .iter()
            .map(|a| AxisInfo {
                name: a.name.clone(),
                label: a.label.clone(),
                values: a
                    .values
                    .iter()
                    .map(|v| ValueInfo {
                        label: v.label.clone(),
                        settings: v
                            .settings
                            .iter()
                            .map(|x| (x.path.clone(), x.value.clone()))
                            .collect(),
                    })
                    .collect(),
                ordered: a.read_values,
            })
            .collect(),
        columns: data::metric_columns(),
        charts: s.charts.clone(),
        cells: cells
            .iter()
            .map(|c| CellInfo {
                id: c.id.clone(),
                coords: c.coords.clone(),
                hash: c.hash.clone(),
            })
            .collect(),
        shard: None,
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// The files of the report proper; index.html is written last, so a folder with it holds a
/// whole report.
const REPORT_FILES: [&str; 6] = [
    "results.csv",
    "summary.csv",
    "pairs.csv",
    "report.md",
    "charts",
    "index.html",
];

/// Removes an earlier report before the cells change under it: a folder holds the report of
/// its manifest's grid, or none.
fn remove_report(dir: &Path) -> Result<(), CliError> {
    for f in REPORT_FILES {
        let p = dir.join(f);
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        match r {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(&p)(e)),
            _ => {}
        }
    }
    std::fs::create_dir_all(dir.join("charts")).map_err(io_err(dir))
}

/// Removes cell files that are not in `keep` (from an earlier grid, or another shard).
fn remove_cells_except(dir: &Path, keep: &[&str]) -> Result<(), CliError> {
    let d = dir.join("cells");
    let entries = match std::fs::read_dir(&d) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        r => r.map_err(io_err(&d))?,
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".csv") {
            if !keep.contains(&id) {
                std::fs::remove_file(e.path()).map_err(io_err(&e.path()))?;
            }
        }
    }
    Ok(())
}

fn cell_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("cells").join(format!("{id}.csv"))
}

/// Reads a finished cell's rows, or says why they cannot be used.
fn read_cell(dir: &Path, m: &Manifest, cell: &CellInfo) -> Result<data::CellRows, String> {
    let path = cell_path(dir, &cell.id);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    data::read_cell(&text, &m.header(), m.label_columns(), &m.seed_list())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A progress bar on a terminal; a plain line per finished cell otherwise or under CI.
struct CellProgress {
    bar: Progress,
    cells_total: usize,
    cells_done: AtomicUsize,
    start: Instant,
}

impl CellProgress {
    fn new(runs: u64, cells_total: usize) -> CellProgress {
        CellProgress {
            bar: Progress::new(runs, "runs"),
            cells_total,
            cells_done: AtomicUsize::new(0),
            start: Instant::now(),
        }
    }
    fn run_done(&self) {
        self.bar.tick();
    }
    fn cell_done(&self, what: &str) {
        let n = self.cells_done.fetch_add(1, Ordering::Relaxed) + 1;
        if self.bar.interactive() {
            self.bar.message(format!("{n}/{} cells", self.cells_total));
        } else {
            let secs = self.start.elapsed().as_secs_f64();
            let rate = n as f64 / secs.max(1e-9);
            let eta = (self.cells_total - n) as f64 / rate.max(1e-9);
            self.bar.line(&format!(
                "[{n:>4}/{}] {what}  ({rate:.1} cells/s, eta {eta:.0} s)",
                self.cells_total
            ));
        }
    }
    /// A line above the bar, or on its own without one.
    fn line(&self, line: &str) {
        self.bar.line(line);
    }
    fn done(&self) {
        self.bar.done();
    }
}

/// The CSV row of one run of a cell, as its cell file holds it.
fn row(m: &Manifest, info: &CellInfo, seed: u64, out: &payfault_domain::Outcome) -> String {
    let mut fields = m.cell_labels(info);
    fields.push(seed.to_string());
    fields.extend(data::metric_values(out));
    data::line(&fields)
}

/// Runs the first seed of a finished cell again with this build and compares the row with
/// the one its file holds. A cell is known by a hash of its scenario, seeds and version, and
/// the version does not change with every build: a build whose model differs would otherwise
/// have its cells taken for this one's, and the report would mix two models. One run of one
/// cell is enough to catch a changed model, which changes nearly every row.
fn same_build(
    m: &Manifest,
    info: &CellInfo,
    scenario: &payfault_domain::Scenario,
    rows: &data::CellRows,
) -> Result<(), u64> {
    let Some(&seed) = rows.seeds.first() else {
        return Ok(());
    };
    match payfault_domain::run::run_quick(scenario, seed) {
        Ok(out) if rows.body.starts_with(&row(m, info, seed, &out)) => Ok(()),
        _ => Err(seed),
    }
}

/// Why a cell has no rows.
enum CellError {
    /// A run of the cell stopped (at a limit of its scenario): the first seed that did.
    Stopped {
        seed: u64,
        error: payfault_domain::SimError,
    },
    Failed(CliError),
    /// Not run, or not to the end, because a signal asked the sweep to stop.
    Interrupted,
    /// Not run, or not to the end, because a cell before it failed, which ends the sweep.
    Abandoned,
}

impl From<CliError> for CellError {
    fn from(e: CliError) -> Self {
        CellError::Failed(e)
    }
}

/// Why cell `i` of the cells to run is not to go on, if it is not: a signal, or a cell before
/// it that failed (`failed`, the first such, else `usize::MAX`). Cells before the first failure
/// go on, so that the failure reported, the first in the grid's order, does not depend on
/// which run happened to stop first.
fn not_wanted(i: usize, failed: &AtomicUsize) -> Option<CellError> {
    if crate::interrupt::interrupted() {
        Some(CellError::Interrupted)
    } else if failed.load(Ordering::Relaxed) < i {
        Some(CellError::Abandoned)
    } else {
        None
    }
}

/// Runs every seed of one cell, the `i`th to run, and writes its rows to `cells/<id>.csv`. A
/// run under way stops within milliseconds of a signal, or of the failure of a cell before it
/// (see [`not_wanted`]), rather than at its end, which may be hours away for a run that goes
/// on to its time limit.
fn run_cell(
    dir: &Path,
    m: &Manifest,
    (i, info): (usize, &CellInfo),
    cell: &spec::Cell,
    progress: &CellProgress,
    failed: &AtomicUsize,
) -> Result<(), CellError> {
    if let Some(why) = not_wanted(i, failed) {
        return Err(why);
    }
    let stop = || not_wanted(i, failed).is_some();
    let rows: Vec<Result<String, CellError>> = m
        .seed_list()
        .into_par_iter()
        .map(|seed| {
            // A cell cut short is run again whole by --resume: its other seeds are not run.
            if let Some(why) = not_wanted(i, failed) {
                return Err(why);
            }
            let out = payfault_domain::run::fitting(|| {
                payfault_domain::run::run_quick_unless(&cell.scenario, seed, &stop)
            })
            .map_err(|error| match error {
                payfault_domain::SimError::Cancelled => {
                    not_wanted(i, failed).unwrap_or(CellError::Interrupted)
                }
                error => {
                    if failed.fetch_min(i, Ordering::Relaxed) > i && i > 0 {
                        progress.line(&format!(
                            "note: {} seed {seed} stopped, which ends the sweep; cells before it \
                             still running go on, so that the grid's first to stop is the one \
                             reported (Ctrl-C ends it now)",
                            cell.id
                        ));
                    }
                    CellError::Stopped { seed, error }
                }
            })?;
            progress.run_done();
            Ok(row(m, info, seed, &out))
        })
        .collect();
    let mut text = m.header();
    for r in rows {
        text.push_str(&r?);
    }
    crate::write_atomic(&cell_path(dir, &cell.id), text.as_bytes())?;
    let what: Vec<String> = m
        .axes
        .iter()
        .zip(&info.coords)
        .map(|(a, &v)| format!("{}={}", a.name, a.values[v].label))
        .collect();
    progress.cell_done(&format!("{} {}", cell.id, what.join(" ")));
    Ok(())
}

/// A cell's scenario file: a comment on where it comes from and `how` to replay it, then the
/// scenario.
fn scenario_file_text(m: &Manifest, cell: &spec::Cell, how: &str) -> String {
    let info = m
        .cells
        .iter()
        .find(|c| c.id == cell.id)
        .expect("cell listed");
    let what: Vec<String> = m
        .axes
        .iter()
        .zip(&info.coords)
        .map(|(a, &v)| format!("{} = {}", a.name, a.values[v].label))
        .collect();
    // A line break in a name or label would end the comment and leave the rest to be read as
    // part of the scenario.
    let one_line = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    format!(
        "// Grid cell {} ({}), from {}.\n// {}\n{}\n",
        cell.id,
        one_line(&what.join(", ")),
        one_line(&m.base),
        one_line(how),
        cell.scenario_text
    )
}

fn pool(jobs: Option<usize>) -> Result<(rayon::ThreadPool, usize), CliError> {
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start {jobs} workers: {e}")))?;
    Ok((pool, jobs))
}

pub fn run(args: &SweepArgs) -> Result<u8, CliError> {
    // Everything that can refuse the sweep is settled before the folder is touched.
    let (s, cells) = spec::read(&args.sweep)?;
    let mut m = manifest_of(&args.sweep, &s, &cells);
    m.shard = args.shard;
    let (pool, jobs) = pool(args.jobs)?;
    let out = folder::Out::open(&args.out)?;

    let mine: Vec<usize> = (0..cells.len())
        .filter(|&i| args.shard.is_none_or(|sh| sh.owns(i)))
        .collect();
    // Whether folder `d`, with manifest `e`, holds a finished cell `info` of this grid.
    let holds = |d: &Path, e: &Manifest, info: &CellInfo| {
        e.columns == m.columns
            && e.cells
                .iter()
                .any(|c| c.id == info.id && c.hash == info.hash)
            && read_cell(d, &m, info).is_ok()
    };
    let mut to_run = Vec::new();
    // Finished cells of this grid, and the folder each is in.
    let mut kept: Vec<(&str, &Path)> = Vec::new();
    if args.resume {
        // Each earlier folder holding cells of this grid has its first one run again: a
        // folder of another build gives none (a report made before an upgrade, beside the
        // cells of this build's interrupted run), and with no folder of this build the resume
        // is refused before the folder is touched.
        let mut usable: Vec<&(PathBuf, Manifest)> = Vec::new();
        let mut other: Option<String> = None;
        for f @ (d, e) in out.earlier() {
            let Some(&i) = mine.iter().find(|&&i| holds(d, e, &m.cells[i])) else {
                continue;
            };
            let rows = read_cell(d, &m, &m.cells[i]).map_err(CliError::Usage)?;
            match same_build(&m, &m.cells[i], &cells[i].scenario, &rows) {
                Ok(()) => usable.push(f),
                Err(seed) => {
                    other.get_or_insert_with(|| {
                        format!(
                            "{}: made by a different build of payfault, or changed since it \
                             was written: its row for seed {seed} is not what this build \
                             computes for the same scenario, so the finished cells cannot be \
                             kept",
                            cell_path(d, &m.cells[i].id).display()
                        )
                    });
                }
            }
        }
        match (usable.is_empty(), other) {
            (true, Some(why)) => {
                return Err(CliError::Usage(format!(
                    "{why}; run the sweep without --resume to compute every cell again"
                )))
            }
            (false, Some(why)) => crate::note!("note: {why} from there: they are run again"),
            _ => {}
        }
        for &i in &mine {
            let info = &m.cells[i];
            match usable.iter().find(|(d, e)| holds(d, e, info)) {
                Some((d, _)) => kept.push((&info.id, d)),
                None => to_run.push(i),
            }
        }
    } else {
        // An interrupted run is where --resume was likely forgotten.
        let found = mine
            .iter()
            .filter(|&&i| out.earlier().iter().any(|(d, e)| holds(d, e, &m.cells[i])))
            .count();
        if found > 0 && found < mine.len() {
            crate::note!(
                "note: running every cell again; {found} finished cells of an interrupted run in {} \
                 would have been kept with --resume",
                out.named().display()
            );
        }
        to_run = mine.clone();
    }
    let dir = out.work();
    let built = (|| {
        out.prepare(&m, &kept)?;
        crate::write_atomic(&dir.join(SWEEP_COPY), s.text.as_bytes())?;
        if let Some(base) = below(&s.base) {
            let path = dir.join(INPUT).join(base);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            crate::write_atomic(&path, s.base_text.as_bytes())?;
        }
        for c in &cells {
            let path = dir.join("scenarios").join(format!("{}.ron", c.id));
            let how = format!(
                "Replay one row of results.csv: payfault run scenarios/{}.ron --seed N",
                c.id
            );
            crate::write_atomic(&path, scenario_file_text(&m, c, &how).as_bytes())?;
        }
        let runs = to_run.len() as u64 * s.seeds;
        let progress = CellProgress::new(runs, to_run.len());
        let start = Instant::now();
        // Ctrl-C or SIGTERM stops taking cells; those finished stay where --resume finds them.
        crate::interrupt::install();
        let failed = AtomicUsize::new(usize::MAX);
        let results: Vec<Result<(), CellError>> = pool.install(|| {
            to_run
                .par_iter()
                .enumerate()
                .map(|(k, &i)| {
                    let r = run_cell(dir, &m, (k, &m.cells[i]), &cells[i], &progress, &failed);
                    if matches!(r, Err(CellError::Failed(_))) {
                        failed.fetch_min(k, Ordering::Relaxed);
                    }
                    r
                })
                .collect()
        });
        progress.done();
        let finished = results.iter().filter(|r| r.is_ok()).count();
        let interrupted = results
            .iter()
            .any(|r| matches!(r, Err(CellError::Interrupted)));
        for (r, &i) in results.into_iter().zip(&to_run) {
            match r {
                Ok(()) | Err(CellError::Interrupted | CellError::Abandoned) => {}
                Err(CellError::Failed(e)) => return Err(e),
                Err(CellError::Stopped { seed, error }) => {
                    let c = &cells[i];
                    // The working folder's copy is replaced or taken away by a later run into
                    // the same folder, which would break the replay command: the cell's
                    // scenario is kept beside the folder, under a name of its own.
                    let kept = out.beside(&c.id);
                    let replay =
                        format!("payfault run {} --seed {seed}", crate::shell::quote(&kept));
                    let text = scenario_file_text(
                        &m,
                        c,
                        &format!("Its run of seed {seed} stopped: {error}. Replay: {replay}"),
                    );
                    let (replay, note) = match crate::write_atomic(&kept, text.as_bytes()) {
                        Ok(()) => (replay, "; the cell's scenario is kept beside the folder"),
                        Err(_) => (
                            format!(
                                "payfault run {} --seed {seed}",
                                crate::shell::quote(
                                    &dir.join("scenarios").join(format!("{}.ron", c.id))
                                )
                            ),
                            "",
                        ),
                    };
                    return Err(CliError::Usage(format!(
                        "{} seed {seed}: the run stopped: {error}{note} (replay: {replay})",
                        c.id
                    )));
                }
            }
        }
        if interrupted {
            return Err(CliError::Interrupted(format!(
                "interrupted: {finished} of {} cells finished{}; `payfault sweep {} --out {}{} \
                 --resume` runs the rest",
                to_run.len(),
                if kept.is_empty() {
                    String::new()
                } else {
                    format!(", beside {} kept from the earlier run", kept.len())
                },
                crate::shell::quote(&args.sweep),
                crate::shell::quote(&args.out),
                args.shard
                    .map_or(String::new(), |sh| format!(" --shard {}/{}", sh.k, sh.n)),
            )));
        }
        let secs = start.elapsed().as_secs_f64();
        crate::note!(
            "{} cells x {} seeds = {runs} runs in {secs:.2} s on {jobs} job{}: {:.2} cells/s, {:.1} runs/s{}",
            to_run.len(),
            s.seeds,
            if jobs == 1 { "" } else { "s" },
            to_run.len() as f64 / secs.max(1e-9),
            runs as f64 / secs.max(1e-9),
            if kept.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} finished cell{} kept from the earlier run)",
                    kept.len(),
                    if kept.len() == 1 { "" } else { "s" }
                )
            }
        );
        let rows = mine
            .iter()
            .map(|&i| read_cell(dir, &m, &m.cells[i]).map_err(CliError::Usage))
            .collect::<Result<Vec<_>, _>>()?;
        write_results(dir, &m, &rows)?;
        if args.shard.is_none() {
            report::write(dir, &m, &rows)?;
        }
        Ok(())
    })();
    let named = out.conclude(built, true)?;
    match args.shard {
        Some(sh) => crate::say!(
            "shard {}/{}: {} of {} cells in {}; join the shards with payfault merge DIR... --out DIR",
            sh.k,
            sh.n,
            mine.len(),
            cells.len(),
            named.display()
        ),
        None => crate::say!("report: {}", named.join("index.html").display()),
    }
    Ok(0)
}

fn write_results(dir: &Path, m: &Manifest, rows: &[data::CellRows]) -> Result<(), CliError> {
    let mut text = m.header();
    for r in rows {
        text.push_str(&r.body);
    }
    crate::write_atomic(&dir.join("results.csv"), text.as_bytes())
}

/// `base`, a path relative to the sweep file, if it stays below the sweep file's folder: only
/// then can its copy sit at the same path beside the sweep file's copy.
fn below(base: &str) -> Option<PathBuf> {
    let p = Path::new(base);
    p.components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
        .then(|| p.to_path_buf())
        .filter(|p| p.file_name().is_some())
}

/// Every file under a folder's `input/`, by path relative to it, in sorted order.
fn inputs_of(from: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, CliError> {
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = from.join(INPUT).join(&rel);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<_> = entries.filter_map(Result::ok).collect();
        names.sort_by_key(|e| e.file_name());
        for e in names {
            let rel = rel.join(e.file_name());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(rel);
            } else {
                let bytes = std::fs::read(e.path()).map_err(io_err(&e.path()))?;
                files.push((rel, bytes));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// Writes `files`, from [`inputs_of`], under `to`'s `input/`.
fn copy_inputs(files: &[(PathBuf, Vec<u8>)], to: &Path) -> Result<(), CliError> {
    for (rel, bytes) in files {
        let path = to.join(INPUT).join(rel);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(io_err(d))?;
        }
        crate::write_atomic(&path, bytes)?;
    }
    Ok(())
}

/// The folder of `dirs` that is `folder`, however either is spelled (a link, `./`, `..`).
fn one_of<'d>(folder: &Path, dirs: &'d [PathBuf]) -> Option<&'d PathBuf> {
    // What is not there yet is no input.
    let target = folder.canonicalize().ok()?;
    dirs.iter()
        .find(|d| d.canonicalize().is_ok_and(|d| d == target))
}

/// The input of `dirs` that `folder`, or where it would be made, lies inside, if any.
fn inside_one_of<'d>(folder: &Path, dirs: &'d [PathBuf]) -> Option<&'d PathBuf> {
    let target = crate::resolved(folder)?;
    dirs.iter().find(|d| {
        d.canonicalize()
            .is_ok_and(|d| target != d && target.starts_with(d))
    })
}

/// The inputs the folders hold (the sweep file and the base scenario beside it), which must
/// be the same in all: the merged report copies them, and would otherwise depend on the order
/// its folders were named in.
fn inputs_in_all(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<u8>)>, CliError> {
    let mut first: Option<Vec<(PathBuf, Vec<u8>)>> = None;
    for d in dirs {
        let path = d.join(SWEEP_COPY);
        if let Err(e) = std::fs::metadata(&path) {
            return Err(CliError::Usage(format!(
                "{}: cannot read ({e}): a folder made by an earlier payfault has no copy of its \
                 sweep file; run its shard again with this build, then merge",
                path.display()
            )));
        }
        let files = inputs_of(d)?;
        let Some(f) = &first else {
            first = Some(files);
            continue;
        };
        // The first file that differs, by the order of paths.
        let differ = (0..f.len().max(files.len())).find_map(|i| match (f.get(i), files.get(i)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(a), Some(b)) => Some(a.0.clone().min(b.0.clone())),
            (Some(a), None) | (None, Some(a)) => Some(a.0.clone()),
            (None, None) => None,
        });
        if let Some(rel) = differ {
            let rel = Path::new(INPUT).join(rel);
            return Err(CliError::Usage(if rel == Path::new(SWEEP_COPY) {
                format!(
                    "{} and {} hold different sweeps: their copies of the sweep file \
                     ({SWEEP_COPY}) differ",
                    dirs[0].display(),
                    d.display()
                )
            } else {
                format!(
                    "{} and {} were made from different inputs: {} differs between them (or is \
                     in one only); run the shards again from the same files, then merge",
                    dirs[0].display(),
                    d.display(),
                    rel.display()
                )
            }));
        }
    }
    Ok(first.unwrap_or_default())
}

pub fn merge(args: &MergeArgs) -> Result<u8, CliError> {
    // The merged report would replace the shard it was read from.
    if let Some(d) = one_of(&args.out, &args.dirs) {
        return Err(CliError::Usage(format!(
            "--out {} is {}, one of the folders merged: the merged report would replace it; \
             choose another --out",
            args.out.display(),
            if *d == args.out {
                "an input".to_string()
            } else {
                format!("the input {}", d.display())
            }
        )));
    }
    if let Some(d) = inside_one_of(&args.out, &args.dirs) {
        return Err(CliError::Usage(format!(
            "--out {} is inside {}, one of the folders merged: the merged report would be \
             written into it; choose another --out",
            args.out.display(),
            d.display()
        )));
    }
    let manifests = args
        .dirs
        .iter()
        .map(|d| Manifest::read(d))
        .collect::<Result<Vec<_>, _>>()?;
    let mut m = manifests[0].clone();
    m.shard = None;
    for (d, other) in args.dirs.iter().zip(&manifests).skip(1) {
        let mut o = other.clone();
        o.shard = None;
        if o != m {
            let what = if o.payfault != m.payfault {
                format!("written by payfault {} and {}", m.payfault, o.payfault)
            } else if o.cells != m.cells {
                "their cells (grid, scenarios or seeds) differ".into()
            } else if o.sweep != m.sweep {
                format!(
                    "the sweep file was named {} and {}: name it the same way in every shard",
                    m.sweep, o.sweep
                )
            } else {
                "their titles, labels or charts differ".into()
            };
            return Err(CliError::Usage(format!(
                "{} and {} hold different sweeps: {what}",
                args.dirs[0].display(),
                d.display()
            )));
        }
    }
    let mut rows = Vec::with_capacity(m.cells.len());
    let mut found_in = Vec::with_capacity(m.cells.len());
    let mut missing = Vec::new();
    // Cell files that are there but cannot be used (cut short, say): why, so that a missing
    // cell is not looked for in the wrong place.
    let mut unusable = Vec::new();
    for (i, cell) in m.cells.iter().enumerate() {
        let mut why = Vec::new();
        let hit = args.dirs.iter().find_map(|d| match read_cell(d, &m, cell) {
            Ok(r) => Some((d, r)),
            Err(e) => {
                if cell_path(d, &cell.id).exists() {
                    why.push(e);
                }
                None
            }
        });
        if hit.is_none() {
            unusable.extend(why);
        }
        match hit {
            Some((d, r)) => {
                rows.push(r);
                found_in.push(d.clone());
            }
            None => {
                let owner = manifests
                    .iter()
                    .find_map(|x| x.shard)
                    .map_or(String::new(), |sh| {
                        format!(" (shard {}/{})", i % sh.n + 1, sh.n)
                    });
                missing.push(format!("{}{owner}", cell.id));
            }
        }
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(8).map(String::as_str).collect();
        return Err(CliError::Usage(format!(
            "{} of {} cells are in none of these folders: {}{}; run the shards that hold them \
             (or `payfault sweep SWEEP --out DIR --resume`) and merge again{}",
            missing.len(),
            m.cells.len(),
            shown.join(", "),
            if missing.len() > shown.len() {
                ", ..."
            } else {
                ""
            },
            match unusable.as_slice() {
                [] => String::new(),
                [e, rest @ ..] => format!(
                    ". Found but unusable: {e}{}",
                    if rest.is_empty() {
                        String::new()
                    } else {
                        format!(" (and {} more)", rest.len())
                    }
                ),
            }
        )));
    }
    // The sweep file each folder was made from: the same bytes in all, or they are not shards
    // of one sweep.
    let inputs = inputs_in_all(&args.dirs)?;
    // The first cell taken from each folder, run again from its scenario file: a shard made by
    // another build is refused.
    let mut checked: Vec<&PathBuf> = Vec::new();
    for ((cell, r), from) in m.cells.iter().zip(&rows).zip(&found_in) {
        if checked.contains(&from) {
            continue;
        }
        checked.push(from);
        let src = from.join("scenarios").join(format!("{}.ron", cell.id));
        let scenario = crate::scenario_file::load(&src)?;
        if let Err(seed) = same_build(&m, cell, &scenario, r) {
            return Err(CliError::Usage(format!(
                "{}: made by a different build of payfault, or changed since it was written: its \
                 row for seed {seed} is not what this build computes for the same scenario; run \
                 the shard in {} again with this build, then merge",
                cell_path(from, &cell.id).display(),
                from.display()
            )));
        }
    }
    // Every input is read before the output folder is touched.
    let scenarios = m
        .cells
        .iter()
        .zip(&found_in)
        .map(|(cell, from)| {
            let src = from.join("scenarios").join(format!("{}.ron", cell.id));
            std::fs::read(&src)
                .map_err(|e| CliError::Usage(format!("{}: cannot read: {e}", src.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = folder::Out::open(&args.out)?;
    let dir = out.work();
    if let Some(d) = one_of(dir, &args.dirs) {
        return Err(CliError::Usage(format!(
            "{} is where the merged report for --out {} is built before it takes the old one's \
             place: merge from a copy of it, or choose another --out",
            d.display(),
            args.out.display()
        )));
    }
    let built = (|| {
        out.prepare(&m, &[])?;
        copy_inputs(&inputs, dir)?;
        for ((cell, r), text) in m.cells.iter().zip(&rows).zip(&scenarios) {
            let name = format!("{}.ron", cell.id);
            crate::write_atomic(&dir.join("scenarios").join(&name), text)?;
            let mut cell_text = m.header();
            cell_text.push_str(&r.body);
            crate::write_atomic(&cell_path(dir, &cell.id), cell_text.as_bytes())?;
        }
        write_results(dir, &m, &rows)?;
        report::write(dir, &m, &rows)
    })();
    let named = out.conclude(built, false)?;
    crate::say!(
        "merged {} folders, {} cells: {}",
        args.dirs.len(),
        m.cells.len(),
        named.join("index.html").display()
    );
    Ok(0)
}
