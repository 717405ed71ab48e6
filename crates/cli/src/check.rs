//! `payfault check`: many seeds of every scenario against each scenario's expectation.
//!
//! Seeds run in parallel; results are gathered in seed order, so the verdict and everything
//! printed (timings aside) are the same whatever the number of jobs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use payfault_domain::check::{judge, Problem};
use payfault_domain::config::{Expect, Property, Scenario};
use payfault_domain::oracle::Violation;
use payfault_domain::shrink::{shrink, Limit, Size};
use payfault_domain::sim::Outcome;
use payfault_domain::SimError;

use crate::scenario_file::LoadError;
use rayon::prelude::*;
use serde::Serialize;

use crate::progress::Progress;
use crate::shell::quote;
use crate::{scenario_file, CheckArgs, CliError, Format};

/// The first failing seeds of a scenario kept for the report.
const SEEDS_SHOWN: usize = 5;

/// The most seeds `--seeds` accepts, as many as a sweep's: a typo must not ask for a year of
/// computing.
const MAX_SEEDS: u64 = 1_000_000;

#[derive(Serialize)]
struct SeedFailure {
    seed: u64,
    properties: Vec<Property>,
    /// The property of the violation shown.
    #[serde(skip)]
    property: Property,
    rule: String,
    intent: Option<u64>,
    t_ns: u64,
    detail: String,
    replay: String,
}

#[derive(Serialize)]
struct ScenarioReport {
    path: String,
    name: String,
    expect: Expect,
    seed_start: u64,
    seeds: u64,
    intents: u64,
    events: u64,
    /// Seeds on which each property was violated.
    violated_seeds: Vec<(Property, u64)>,
    /// The first failing seeds, and the first seed of each violated property not among them,
    /// in seed order.
    first_failures: Vec<SeedFailure>,
    /// Another scenario checked has this one's name: its line names its file too.
    #[serde(skip)]
    shares_name: bool,
    ok: bool,
    /// Why the expectation was not met.
    problems: Vec<String>,
    /// The smallest failing scenario found for the gravest unexpected violation (the first
    /// in `Property::ALL` order), on its first failing seed.
    shrunk: Option<ShrunkReport>,
    /// The property and seed to shrink, once the scenario is known to be reported.
    #[serde(skip)]
    shrink_target: Option<(Property, u64)>,
    /// The first seed whose run stopped at a limit, and why: the seeds after it were not run.
    stopped: Option<StoppedRun>,
    /// No seed issued a purchase: every property held with nothing tested.
    nothing_issued: bool,
    /// Why the shrunk scenario could not be written, if it could not.
    shrink_error: Option<String>,
    /// Why the chart beside a shrunk scenario written could not be, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    chart_error: Option<String>,
    /// Whether a signal cut its seeds short: such a report is not printed.
    #[serde(skip)]
    interrupted: bool,
    elapsed_s: f64,
}

#[derive(Serialize)]
struct StoppedRun {
    seed: u64,
    error: String,
    replay: String,
    /// Stopped at a limit of the model (the scenario's limits, the clock's end, a policy that
    /// never gives up), not by the machine (a table that cannot be allocated).
    #[serde(skip)]
    at_a_limit: bool,
}

#[derive(Serialize)]
struct ShrunkReport {
    file: String,
    seed: u64,
    property: Property,
    before: Size,
    after: Size,
    runs: u64,
    /// Whether shrinking ran its course, or stopped at `--shrink-runs` with the smallest run
    /// found so far.
    complete: bool,
    replay: String,
    /// The failing intent as a message sequence chart (SVG).
    chart: Option<String>,
    /// Why the chart could not be written, when the scenario was.
    #[serde(skip)]
    chart_error: Option<String>,
}

#[derive(Serialize)]
struct CheckReport<'a> {
    ok: bool,
    scenarios_checked: usize,
    scenarios_failed: usize,
    stopped_early: bool,
    /// Stopped by Ctrl-C or SIGTERM: the scenarios checked are those finished before it.
    interrupted: bool,
    scenarios: &'a [ScenarioReport],
    /// The scenarios given but not reported, after a failure without `--keep-going` or a
    /// signal: JUnit lists them as skipped, so that a dashboard's count of tests holds still.
    not_run: Vec<NotRun<'a>>,
    elapsed_s: f64,
    /// Of `elapsed_s`, the time spent shrinking failures.
    shrink_s: f64,
    jobs: usize,
}

#[derive(Serialize)]
struct NotRun<'a> {
    name: &'a str,
    path: String,
}

/// The scenario files named, with folders expanded to the `.ron` files in them and in their
/// subfolders, in path order; and the folders named that hold none, each a problem to report
/// with the files that cannot be read. Hidden entries and the folder shrunk scenarios go to
/// are passed over: a shrunk scenario fails by design, and checking it again would fail the
/// next check.
pub fn collect(
    paths: &[PathBuf],
    shrink_dir: &Path,
) -> Result<(Vec<PathBuf>, Vec<LoadError>), CliError> {
    // Where the folder is or will be made: `new/../.` is the folder checked too.
    let skip = crate::resolved(shrink_dir);
    let mut out = Vec::new();
    let mut empty = Vec::new();
    for p in paths {
        if p.is_dir() && skip.is_some() && p.canonicalize().ok() == skip {
            return Err(CliError::Usage(format!(
                "--shrink-dir {} is a folder checked: the shrunk scenarios written there, which \
                 fail by design, would be checked with the others next time; name another \
                 folder",
                shrink_dir.display()
            )));
        }
        if p.is_dir() {
            let mut found = Vec::new();
            scenarios_in(p, skip.as_deref(), &mut found)?;
            found.sort();
            if found.is_empty() {
                empty.push(LoadError::NoScenario { path: p.clone() });
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() && empty.is_empty() {
        return Err(CliError::Usage(
            "no scenario given: name files or folders".into(),
        ));
    }
    // A file named twice (`check scenarios scenarios/x.ron`, `a.ron ./a.ron`) is checked
    // once, where it first comes: twice would be two test cases of one name in JUnit.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|p| p.canonicalize().map_or(true, |c| seen.insert(c)));
    Ok((out, empty))
}

/// A pipe or a socket, which reading would wait on for ever: no scenario file of a folder
/// (named on its own, it is read, as `run <(...)` is).
fn waits_for_a_writer(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo() || m.file_type().is_socket())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

fn scenarios_in(dir: &Path, skip: Option<&Path>, found: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::Usage(format!("{}: cannot read folder: {e}", dir.display())))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // A linked folder is not followed, so that a link to a folder above cannot loop.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            if skip.is_some_and(|s| path.canonicalize().is_ok_and(|c| c == s)) {
                continue;
            }
            scenarios_in(&path, skip, found)?;
        } else if path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("ron"))
            && !waits_for_a_writer(&path)
        {
            found.push(path);
        }
    }
    Ok(())
}

/// Refuses a seed count that is empty or more than [`MAX_SEEDS`]: either would check fewer
/// seeds than asked and still say ok.
fn check_seed_count(args: &CheckArgs) -> Result<(), CliError> {
    if !(1..=MAX_SEEDS).contains(&args.seeds) {
        return Err(CliError::Usage(format!(
            "--seeds: expected between 1 and {MAX_SEEDS} seeds, found {}",
            args.seeds
        )));
    }
    Ok(())
}

/// Refuses seeds that would pass the largest seed, for the seeds a scenario has checked: its
/// `check_seeds` may ask for fewer than `--seeds`.
fn check_seed_range(path: &Path, sc: &Scenario, args: &CheckArgs) -> Result<(), CliError> {
    let seeds = seeds_for(sc, args);
    let start = start_for(sc, args);
    if start.checked_add(seeds - 1).is_some() {
        return Ok(());
    }
    let with = if seeds < args.seeds {
        format!("{}'s check_seeds {seeds}", path.display())
    } else {
        format!("--seeds {seeds}")
    };
    let from = match args.seed_start {
        Some(start) => format!("--seed-start {start}"),
        None => format!("{}'s seed {start}", path.display()),
    };
    Err(CliError::Usage(format!(
        "{from} with {with} passes the largest seed, {}",
        u64::MAX
    )))
}

/// The first seed `check` runs of `sc`: `--seed-start`, else the scenario's `seed` (a shrunk
/// scenario fails on the seed it records, and may hold on every other), else 1.
fn start_for(sc: &Scenario, args: &CheckArgs) -> u64 {
    args.seed_start.or(sc.seed).unwrap_or(1)
}

/// The seeds `check` runs of `sc`: `--seeds`, or fewer if the scenario caps them, or if they
/// start at its `seed` and would pass the largest seed (asked for with `--seed-start`, that
/// is refused instead).
fn seeds_for(sc: &Scenario, args: &CheckArgs) -> u64 {
    let n = sc.check_seeds.map_or(args.seeds, |cap| cap.min(args.seeds));
    match (args.seed_start, sc.seed) {
        (None, Some(start)) => n.min((u64::MAX - start).saturating_add(1)),
        _ => n,
    }
}

impl SeedFailure {
    /// "seed 3 duplicate-debit intent 17 at 10.808563 s: what broke", as the text and JUnit
    /// verdicts give an example.
    fn example(&self) -> String {
        let intent = self.intent.map_or("-".into(), |i| i.to_string());
        format!(
            "seed {} {} intent {intent} at {:.6} s: {}",
            self.seed,
            self.rule,
            self.t_ns as f64 / 1e9,
            self.detail
        )
    }

    fn new(path: &Path, seed: u64, properties: &[Property], v: &Violation) -> SeedFailure {
        SeedFailure {
            seed,
            properties: properties.to_vec(),
            property: v.property,
            rule: v.rule.to_string(),
            intent: v.intent,
            t_ns: v.t_ns,
            detail: v.detail.clone(),
            replay: replay(path, seed),
        }
    }
}

fn replay(path: &Path, seed: u64) -> String {
    format!("payfault run {} --seed {seed}", quote(path))
}

/// What a run of consecutive seeds showed. Two tallies of adjacent runs merge into the tally of
/// both, whichever worker ran them, so the verdict does not depend on the number of jobs.
#[derive(Default)]
struct Tally {
    intents: u64,
    events: u64,
    violated: [u64; 4],
    /// The first failing seeds, at most [`SEEDS_SHOWN`].
    failures: Vec<SeedFailure>,
    /// Per property, its first failing seed: it may come after every seed in `failures`.
    first_of: [Option<SeedFailure>; 4],
    /// The first seed whose run stopped.
    stopped: Option<(u64, SimError)>,
}

impl Tally {
    /// Adds the next seed.
    fn add(&mut self, path: &Path, seed: u64, out: Outcome) {
        self.intents += out.metrics.intents;
        self.events += out.metrics.events;
        let props: Vec<Property> = Property::ALL
            .into_iter()
            .filter(|p| out.by_property[*p as usize] > 0)
            .collect();
        for p in &props {
            self.violated[*p as usize] += 1;
        }
        let Some(first) = out.violations.first() else {
            return;
        };
        if self.failures.len() < SEEDS_SHOWN {
            self.failures
                .push(SeedFailure::new(path, seed, &props, first));
        }
        for p in &props {
            if self.first_of[*p as usize].is_none() {
                let v = out.violations.iter().find(|v| v.property == *p);
                self.first_of[*p as usize] =
                    Some(SeedFailure::new(path, seed, &props, v.unwrap_or(first)));
            }
        }
    }

    /// The tally of `self`'s seeds followed by `later`'s.
    fn merge(mut self, later: Tally) -> Tally {
        // The seeds after a stop are not part of the verdict, though another worker may have
        // run some before it learnt of the stop: whether it did depends on the jobs.
        if self.stopped.is_some() {
            return self;
        }
        self.intents += later.intents;
        self.events += later.events;
        for (n, m) in self.violated.iter_mut().zip(later.violated) {
            *n += m;
        }
        let room = SEEDS_SHOWN - self.failures.len();
        self.failures.extend(later.failures.into_iter().take(room));
        for (f, g) in self.first_of.iter_mut().zip(later.first_of) {
            if f.is_none() {
                *f = g;
            }
        }
        self.stopped = later.stopped;
        self
    }
}

fn check_one(
    path: &Path,
    sc: &Scenario,
    args: &CheckArgs,
    progress: &Progress,
    abandoned: &(dyn Fn() -> bool + Sync),
) -> ScenarioReport {
    let start = Instant::now();
    let seeds = seeds_for(sc, args);
    // `run` has checked that the range neither is empty nor passes the largest seed.
    let first = start_for(sc, args);
    let last = first + (seeds - 1);
    // Only the first seed whose run stopped is reported, so the seeds after it need not run.
    let stopped_at = AtomicU64::new(u64::MAX);
    let cut_short = AtomicBool::new(false);
    let tally = (first..=last)
        .into_par_iter()
        .fold(Tally::default, |mut t, seed| {
            if seed > stopped_at.load(Ordering::Relaxed) || abandoned() {
                return t;
            }
            if crate::interrupt::interrupted() {
                cut_short.store(true, Ordering::Relaxed);
                return t;
            }
            match payfault_domain::run::fitting(|| payfault_domain::run::run_quick(sc, seed)) {
                Ok(out) => t.add(path, seed, out),
                Err(e) => {
                    stopped_at.fetch_min(seed, Ordering::Relaxed);
                    t.stopped.get_or_insert((seed, e));
                }
            }
            progress.tick();
            t
        })
        .reduce(Tally::default, Tally::merge);
    let stopped = tally.stopped.map(|(seed, e)| StoppedRun {
        seed,
        error: e.to_string(),
        replay: replay(path, seed),
        at_a_limit: e.is_limit(),
    });
    let violated = tally.violated;
    let expected: Vec<Property> = match &sc.expect {
        Expect::Hold => vec![],
        Expect::Violated(ps) => ps.clone(),
    };
    let mut failures = tally.failures;
    for f in tally.first_of.into_iter().flatten() {
        match failures.iter_mut().find(|g| g.seed == f.seed) {
            None => failures.push(f),
            // A seed that breaks what the scenario expects and something it does not is shown
            // by the unexpected break: that is the news.
            Some(g) if expected.contains(&g.property) && !expected.contains(&f.property) => {
                *g = f;
            }
            Some(_) => {}
        }
    }
    failures.sort_by_key(|f| f.seed);
    // The first seed that shows `p`: every violated property has one among `failures`.
    let first_showing = |p: Property| failures.iter().find(|f| f.properties.contains(&p));
    let cut = cut_short.load(Ordering::Relaxed);
    let judged = payfault_domain::check::Tally {
        seeds,
        intents: tally.intents,
        violated,
        first: Property::ALL.map(|p| first_showing(p).map(|f| f.seed)),
        stopped: stopped.as_ref().map(|st| (st.seed, st.error.clone())),
        cut_short: cut,
    };
    let problems = judge(&sc.expect, &judged);
    // A workload whose `duration` ends before the first purchase holds every property
    // vacuously: a scenario to fix, not a verdict on the properties.
    let nothing_issued = problems
        .iter()
        .any(|p| matches!(p, Problem::NothingIssued { .. }));
    let problems: Vec<String> = problems
        .iter()
        .map(|problem| match problem {
            Problem::Violated { property, .. } => format!(
                "{problem}{}",
                first_showing(*property)
                    .map_or(String::new(), |f| format!("; replay: {}", f.replay))
            ),
            Problem::Stopped { .. } => format!(
                "{problem}; replay: {}",
                stopped.as_ref().map_or("", |st| st.replay.as_str())
            ),
            _ => problem.to_string(),
        })
        .collect();
    let shrink_target = Property::ALL
        .into_iter()
        .find(|p| !expected.contains(p) && violated[*p as usize] > 0)
        .and_then(|p| first_showing(p).map(|f| (p, f.seed)));
    ScenarioReport {
        shrunk: None,
        shrink_target,
        path: path.display().to_string(),
        name: sc.name.clone(),
        expect: sc.expect.clone(),
        seed_start: first,
        seeds,
        intents: tally.intents,
        events: tally.events,
        violated_seeds: Property::ALL
            .into_iter()
            .map(|p| (p, violated[p as usize]))
            .collect(),
        first_failures: failures,
        shares_name: false,
        ok: problems.is_empty(),
        problems,
        stopped,
        nothing_issued,
        shrink_error: None,
        chart_error: None,
        interrupted: cut,
        elapsed_s: start.elapsed().as_secs_f64(),
    }
}

/// "1 seed", "2 seeds".
fn seeds_word(n: u64) -> String {
    format!("{n} seed{}", if n == 1 { "" } else { "s" })
}

/// Whether writing `target` would replace one of `inputs` (canonical paths).
fn is_input(target: &Path, inputs: &[PathBuf]) -> bool {
    target.canonicalize().is_ok_and(|t| inputs.contains(&t))
}

/// Refuses to write `target` over a scenario being checked.
fn not_an_input(target: &Path, inputs: &[PathBuf], what: &str) -> Result<(), CliError> {
    if is_input(target, inputs) {
        return Err(CliError::Usage(format!(
            "{}: {what} would overwrite this scenario, which is being checked",
            target.display()
        )));
    }
    Ok(())
}

/// Where a shrink goes, and how far.
struct ShrinkTo<'a> {
    dir: &'a Path,
    stem: &'a str,
    inputs: &'a [PathBuf],
    max_runs: u64,
}

/// Between two progress lines when stderr is not a terminal: enough that a long shrink shows
/// it is alive, few enough that a CI log stays short.
const SHRINK_LINE_EVERY: u64 = 250;

fn write_shrunk(
    path: &Path,
    sc: &Scenario,
    seed: u64,
    property: Property,
    to: &ShrinkTo<'_>,
    progress: &Progress,
) -> Result<ShrunkReport, CliError> {
    let ShrinkTo {
        dir,
        stem,
        inputs,
        max_runs,
    } = *to;
    let name = crate::chart::one_line(&sc.name);
    let mut on_run = |runs: u64, size: Size| {
        let so_far = format!(
            "shrinking {name} seed {seed}: {runs} runs, {} purchases, {} faults",
            size.intents, size.faults
        );
        if progress.interactive() {
            progress.message(so_far);
        } else if runs.is_multiple_of(SHRINK_LINE_EVERY) {
            progress.line(&so_far);
        }
    };
    let limit = Limit {
        max_runs,
        on_run: Some(&mut on_run),
    };
    let shrunk = shrink(sc, seed, property, limit)
        .map_err(|e| CliError::Usage(format!("{}: shrinking seed {seed}: {e}", path.display())))?;
    progress.message(String::new());
    // What goes wrong from here on is the place the files go to.
    let place = |e: CliError| CliError::Usage(format!("--shrink-dir: {e}"));
    std::fs::create_dir_all(dir)
        .map_err(|source| CliError::Write {
            path: dir.to_path_buf(),
            source,
        })
        .map_err(place)?;
    let file = dir.join(format!("{stem}.seed-{seed}.shrunk.ron"));
    let chart = dir.join(format!("{stem}.seed-{seed}.svg"));
    not_an_input(&file, inputs, "the shrunk scenario").map_err(place)?;
    not_an_input(&chart, inputs, "the chart of the shrunk scenario").map_err(place)?;
    let body = payfault_domain::to_ron(&shrunk.scenario)
        .map_err(|e| CliError::Usage(format!("the shrunk scenario {e}")))?;
    let header = format!(
        "// Shrunk by `payfault check` from {} seed {seed}: the smallest run found that still violates {property}{}.\n\
         // {} -> {} purchases, {} -> {} faults, {} -> {} events. Replay: payfault run {}\n",
        crate::chart::one_line(&path.display().to_string()),
        if shrunk.complete {
            String::new()
        } else {
            format!(" in {} runs, where --shrink-runs stopped it", shrunk.runs)
        },
        shrunk.before.intents,
        shrunk.after.intents,
        shrunk.before.faults,
        shrunk.after.faults,
        shrunk.before.events,
        shrunk.after.events,
        crate::chart::one_line(&quote(&file))
    );
    crate::write_atomic(&file, format!("{header}{body}\n").as_bytes()).map_err(place)?;
    // The scenario is written: a chart that cannot be is reported beside it, not in its place.
    let (chart, chart_error) = match draw_failure(&shrunk.scenario, seed, property, &chart, &file) {
        Ok(chart) => (chart, None),
        Err(e) => (None, Some(place(e).to_string())),
    };
    Ok(ShrunkReport {
        file: file.display().to_string(),
        seed,
        property,
        before: shrunk.before,
        after: shrunk.after,
        runs: shrunk.runs,
        complete: shrunk.complete,
        replay: format!("payfault run {}", quote(&file)),
        chart,
        chart_error,
    })
}

/// Draws the first intent of the run that violates `property`, if there is one. `shrunk` is
/// the file `sc` was written to.
fn draw_failure(
    sc: &Scenario,
    seed: u64,
    property: Property,
    file: &Path,
    shrunk: &Path,
) -> Result<Option<String>, CliError> {
    let stopped = |e: SimError| {
        CliError::Usage(format!(
            "{} seed {seed}: the run stopped: {e} (replay: payfault run {})",
            shrunk.display(),
            quote(shrunk)
        ))
    };
    let out = payfault_domain::run::run_quick(sc, seed).map_err(stopped)?;
    let Some(intent) = out
        .violations
        .iter()
        .find(|v| v.property == property)
        .and_then(|v| v.intent)
    else {
        return Ok(None);
    };
    let policy = payfault_domain::Builtin::new(sc.policy.clone());
    let mut rec = crate::chart::IntentRecorder::new(intent);
    payfault_domain::run_with(sc, seed, &policy, &mut rec).map_err(stopped)?;
    crate::chart::draw(
        &rec,
        file,
        &format!("{} seed {seed} policy {}", sc.name, sc.policy.kind),
    )?;
    Ok(Some(file.display().to_string()))
}

fn expect_text(e: &Expect) -> String {
    match e {
        Expect::Hold => "all properties hold".into(),
        Expect::Violated(ps) => {
            let names: Vec<&str> = ps.iter().map(|p| p.name()).collect();
            format!("violates {}", names.join(", "))
        }
    }
}

fn line_for(r: &ScenarioReport) -> String {
    let status = if r.ok { "ok  " } else { "FAIL" };
    let caught: Vec<String> = r
        .violated_seeds
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(p, n)| format!("{p} on {n}"))
        .collect();
    // A run stopped at a limit ends the scenario's seeds: say so where the verdict is read,
    // rather than "nothing violated" of seeds that never ran.
    let why = |st: &StoppedRun| {
        if st.at_a_limit {
            "stopped at a limit"
        } else {
            "could not run"
        }
    };
    let seen = match (&r.stopped, caught.is_empty()) {
        (None, true) => "nothing violated".to_string(),
        (None, false) => format!("violated: {}", caught.join(", ")),
        (Some(st), true) => format!("seed {} {}, nothing violated before it", st.seed, why(st)),
        (Some(st), false) => format!(
            "seed {} {}; violated before it: {}",
            st.seed,
            why(st),
            caught.join(", ")
        ),
    };
    let name = if r.shares_name {
        format!("{} ({})", r.name, r.path)
    } else {
        r.name.clone()
    };
    format!(
        "{status} {:<28} {}{}, expects {}; {}",
        crate::chart::one_line(&name),
        seeds_word(r.seeds),
        if r.seed_start == 1 {
            String::new()
        } else {
            format!(" from {}", r.seed_start)
        },
        expect_text(&r.expect),
        seen
    )
}

/// The scenarios to check, their canonical paths, and the stems of their shrunk files.
type Prepared = (Vec<(PathBuf, Scenario)>, Vec<PathBuf>, Vec<String>);

/// Reads every scenario and checks every option before anything runs.
fn prepare(args: &CheckArgs) -> Result<Prepared, CliError> {
    check_seed_count(args)?;
    let (files, mut errors) = collect(&args.paths, &args.shrink_dir)?;
    // Every file is read before any runs: bad input fails fast with exit code 2, each file
    // that cannot be read (and each folder with none) named, so that they are not learned of
    // one run at a time.
    let mut scenarios: Vec<(PathBuf, Scenario)> = Vec::new();
    for f in files {
        match scenario_file::load(&f) {
            Ok(s) => scenarios.push((f, s)),
            Err(e) => errors.push(e),
        }
    }
    // In the order of the paths named, a folder with none among the files that are not.
    errors.sort_by_key(|e| {
        let at = e.path();
        args.paths
            .iter()
            .position(|p| at.starts_with(p))
            .unwrap_or(usize::MAX)
    });
    match errors.len() {
        0 => {}
        1 => return Err(errors.remove(0).into()),
        _ => return Err(CliError::Loads { errors }),
    }
    if let Some((path, _)) = scenarios.iter().find(|(_, s)| seeds_for(s, args) == 0) {
        return Err(CliError::Usage(format!(
            "{}: check_seeds is 0, so no seed would be checked",
            path.display()
        )));
    }
    for (path, sc) in &scenarios {
        check_seed_range(path, sc, args)?;
    }
    let inputs: Vec<PathBuf> = scenarios
        .iter()
        .filter_map(|(p, _)| p.canonicalize().ok())
        .collect();
    if let Some(junit) = &args.junit {
        not_an_input(junit, &inputs, "--junit")?;
        if crate::same_output(junit, &args.shrink_dir) {
            return Err(CliError::Usage(format!(
                "{}: --junit and --shrink-dir name the same path",
                junit.display()
            )));
        }
        crate::check_output(junit, "--junit")?;
    }
    if args.format == Format::Json
        && args
            .junit
            .as_deref()
            .is_some_and(|p| matches!(crate::landing(p), crate::Landing::Fd(1)))
    {
        // The verdict would go to standard error, where the progress lines are: no reader
        // could take it for JSON.
        return Err(CliError::Usage(
            "--junit - takes standard output, and --format json's verdict would then go to \
             standard error among the progress lines: write the JUnit report to a file"
                .into(),
        ));
    }
    crate::check_output_dir(&args.shrink_dir, "--shrink-dir")?;
    let stems = shrunk_stems(&scenarios);
    Ok((scenarios, inputs, stems))
}

/// With `--junit`, a check refused before it ran writes a report of one error saying why, so
/// that a CI dashboard does not show an earlier report's pass in its place; unless the path
/// is itself what is wrong with the command (one of the scenarios, say), which it leaves.
fn junit_of_a_refusal(args: &CheckArgs, e: &CliError) {
    let Some(junit) = &args.junit else {
        return;
    };
    // Each path on its own, so that one that cannot be read hides none of the others' files.
    let inputs: Vec<PathBuf> = args
        .paths
        .iter()
        .flat_map(|p| {
            let mut files = collect(std::slice::from_ref(p), &args.shrink_dir)
                .map(|(files, _)| files)
                .unwrap_or_default();
            files.push(p.clone());
            files
        })
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    // A path named as a scenario, one that does not exist included, and a symbolic link,
    // which may lead to one, are left alone.
    // Lexically, `..` undone, for a path that does not exist cannot be canonicalized.
    let named = |p: &Path| {
        std::path::absolute(p).ok().map(|p| {
            let mut out = PathBuf::new();
            for c in p.components() {
                match c {
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    std::path::Component::CurDir => {}
                    c => out.push(c),
                }
            }
            out
        })
    };
    let a_path_given = args.paths.iter().any(|p| named(p) == named(junit));
    // A descriptor of this process (`-`, `/dev/stdout`) is a link on Linux, and written
    // through, not followed.
    let a_link = !matches!(crate::landing(junit), crate::Landing::Fd(_))
        && junit
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
    let safe = !a_path_given
        && !a_link
        && !is_input(junit, &inputs)
        && !crate::same_output(junit, &args.shrink_dir)
        && crate::check_output(junit, "--junit").is_ok();
    if !safe {
        return;
    }
    let message = e.to_string();
    let first = message.lines().next().unwrap_or_default();
    let xml_text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"payfault check\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n\
         \x20 <testsuite name=\"payfault\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0.000\">\n\
         \x20   <testcase classname=\"payfault.check\" name=\"payfault check\" time=\"0.000\">\n\
         \x20     <error message=\"{}\">{}</error>\n\
         \x20   </testcase>\n\
         \x20 </testsuite>\n\
         </testsuites>\n",
        xml(first, true),
        xml(&message, false)
    );
    // The refusal is the news; a report that cannot be written adds nothing to it.
    let _ = crate::write_atomic(junit, xml_text.as_bytes());
}

pub fn run(args: &CheckArgs) -> Result<u8, CliError> {
    let (scenarios, inputs, stems) = match prepare(args) {
        Ok(p) => p,
        Err(e) => {
            junit_of_a_refusal(args, &e);
            return Err(e);
        }
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start {jobs} workers: {e}")))?;
    let total: u64 = scenarios.iter().map(|(_, s)| seeds_for(s, args)).sum();
    let progress = Progress::new(total, "seeds");
    crate::interrupt::install();
    let start = Instant::now();
    // Every scenario and seed at once on the pool, so that cores stay busy across scenarios.
    // Each scenario's verdict is shrunk and printed as soon as it and those before it are
    // done, in scenario order, so that a check stopped by a job's timeout has printed what
    // it finished. Unless told to keep going, the check stops at the first scenario that
    // fails: those after it are abandoned, seeds not yet begun left unrun, and never
    // reported.
    let first_failed = AtomicUsize::new(usize::MAX);
    let queue = std::sync::Mutex::new(Queue::default());
    let finisher = std::sync::Mutex::new(Finished::default());
    // Only one worker finishes at a time (see below). A report is recorded before it is
    // shrunk, and the lock is not held while shrinking, so that a signal that comes meanwhile
    // still reports it; printing happens under the lock, so that a block is printed once.
    let finish = |i: usize, r: ScenarioReport| {
        let at = {
            let mut f = finisher.lock().expect("no panics while holding it");
            if f.cut_short || i > first_failed.load(Ordering::Relaxed) {
                return;
            }
            if r.interrupted {
                f.cut_short = true;
                return;
            }
            f.reports.push(r);
            f.reports.len() - 1
        };
        let target = finisher.lock().expect("no panics while holding it").reports[at].shrink_target;
        let mut shrunk = None;
        let mut shrink_s = 0.0;
        if let Some((p, seed)) = target.filter(|_| !crate::interrupt::interrupted()) {
            let shrinking = Instant::now();
            let (path, sc) = &scenarios[i];
            // Shrinking a large scenario runs it many times: say so, so that the wait is not
            // taken for a hang.
            progress.line(&format!(
                "shrinking {} seed {seed} ({p})",
                crate::chart::one_line(&sc.name)
            ));
            shrunk = Some(
                write_shrunk(
                    path,
                    sc,
                    seed,
                    p,
                    &ShrinkTo {
                        dir: &args.shrink_dir,
                        stem: &stems[i],
                        inputs: &inputs,
                        max_runs: args.shrink_runs,
                    },
                    &progress,
                )
                .map_err(|e| e.to_string()),
            );
            shrink_s = shrinking.elapsed().as_secs_f64();
        }
        let mut f = finisher.lock().expect("no panics while holding it");
        f.shrink_s += shrink_s;
        let r = &mut f.reports[at];
        match shrunk {
            Some(Ok(mut sh)) => {
                r.chart_error = sh.chart_error.take();
                r.shrunk = Some(sh);
            }
            Some(Err(e)) => r.shrink_error = Some(e),
            None => {}
        }
        progress.line(&format!(
            "checked {}: {}{}",
            crate::chart::one_line(&r.name),
            seeds_word(r.seeds),
            if r.ok { "" } else { ", expectation not met" }
        ));
        print_blocks(&mut f, args, &progress);
    };
    let concluded = AtomicBool::new(false);
    let conclude_with = |f: &Finished, interrupted: bool| {
        let report = CheckReport {
            ok: !interrupted && f.reports.iter().all(|r| r.ok),
            scenarios_checked: f.reports.len(),
            scenarios_failed: f.reports.iter().filter(|r| !r.ok).count(),
            stopped_early: !interrupted && f.reports.len() < scenarios.len(),
            interrupted,
            scenarios: &f.reports,
            not_run: scenarios[f.reports.len()..]
                .iter()
                .map(|(path, sc)| NotRun {
                    name: &sc.name,
                    path: path.display().to_string(),
                })
                .collect(),
            elapsed_s: start.elapsed().as_secs_f64(),
            shrink_s: f.shrink_s,
            jobs,
        };
        conclude(args, &report, scenarios.len(), f.stdout.as_ref())
    };
    // Two scenarios of one name (a scenario and an edited copy of it, say) are told apart by
    // their files in the verdict's lines.
    let mut uses = std::collections::BTreeMap::<&str, usize>::new();
    for (_, sc) in scenarios.iter() {
        *uses.entry(sc.name.as_str()).or_default() += 1;
    }
    std::thread::scope(|scope| {
        // A seed under way runs to its end before its worker sees a signal, which may take
        // minutes: on a signal, what is finished is reported at once and the process ends.
        scope.spawn(|| {
            while !concluded.load(Ordering::SeqCst) {
                if crate::interrupt::interrupted() {
                    let f = lock_for(&finisher, std::time::Duration::from_secs(2));
                    if !concluded.swap(true, Ordering::SeqCst) {
                        progress.done();
                        let code = match f {
                            Some(mut f) => {
                                print_blocks(&mut f, args, &progress);
                                conclude_with(&f, true)
                            }
                            None => conclude_with(&Finished::default(), true),
                        };
                        std::process::exit(code.into());
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        // Should a worker panic, the watcher must still stop, or the scope waits for it
        // forever and the process hangs instead of failing.
        let _stops_the_watcher = Conclude(&concluded);
        pool.install(|| {
            scenarios
                .par_iter()
                .enumerate()
                .for_each(|(i, (path, sc))| {
                    let abandoned = || first_failed.load(Ordering::Relaxed) < i;
                    let mut r = check_one(path, sc, args, &progress, &abandoned);
                    r.shares_name = uses.get(sc.name.as_str()).is_some_and(|&n| n > 1);
                    if !r.ok && !r.interrupted && !args.keep_going {
                        first_failed.fetch_min(i, Ordering::Relaxed);
                    }
                    // One worker at a time finishes the reports that are next in order, outside
                    // the queue's lock, so that the others go on running seeds meanwhile.
                    let mut q = queue.lock().expect("no panics while holding it");
                    q.waiting.insert(i, r);
                    if q.busy {
                        return;
                    }
                    q.busy = true;
                    loop {
                        let next = q.next;
                        let Some(r) = q.waiting.remove(&next) else {
                            q.busy = false;
                            return;
                        };
                        q.next += 1;
                        drop(q);
                        finish(next, r);
                        q = queue.lock().expect("no panics while holding it");
                    }
                });
        });
        let f = finisher.lock().expect("no panics while holding it");
        if concluded.swap(true, Ordering::SeqCst) {
            // The watcher is concluding, and ends the process.
            drop(f);
            loop {
                std::thread::park();
            }
        }
        progress.done();
        let interrupted = f.cut_short || crate::interrupt::interrupted();
        Ok(conclude_with(&f, interrupted))
    })
}

/// Marks the check concluded when dropped, on every way out of the scope, unwinding included.
struct Conclude<'a>(&'a AtomicBool);

impl Drop for Conclude<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Where the verdict is printed: standard output, unless `--junit` writes its XML there,
/// which then keeps it to itself (as a trace does for `run`); then standard error.
fn verdict_out(args: &CheckArgs) -> Box<dyn Write> {
    let junit_takes_stdout = args
        .junit
        .as_deref()
        .is_some_and(|p| matches!(crate::landing(p), crate::Landing::Fd(1)));
    if junit_takes_stdout {
        Box::new(std::io::stderr().lock())
    } else {
        Box::new(std::io::stdout().lock())
    }
}

/// Prints the end of the verdict, writes JUnit, and gives the exit code.
fn conclude(
    args: &CheckArgs,
    report: &CheckReport,
    of: usize,
    stdout_failed: Option<&std::io::Error>,
) -> u8 {
    let mut errors = Vec::new();
    let written = match (args.format, stdout_failed) {
        (_, Some(e)) => Err(std::io::Error::new(e.kind(), e.to_string())),
        (Format::Json, None) => {
            let mut out = verdict_out(args);
            serde_json::to_writer_pretty(&mut out, report)
                .map_err(std::io::Error::from)
                .and_then(|_| writeln!(out))
                .and_then(|()| out.flush())
        }
        (Format::Text, None) => {
            let mut out = verdict_out(args);
            write!(out, "{}", summary_line(report, of)).and_then(|()| out.flush())
        }
    };
    crate::note!("{}", timing_line(report));
    if let Err(e) = crate::printed(written, 0) {
        errors.push(e.to_string());
    }
    if let Some(path) = &args.junit {
        if let Err(e) = write_junit(path, report) {
            errors.push(e.to_string());
        }
    }
    for e in &errors {
        crate::note!("error: {}", crate::shell::printable(e));
    }
    exit_code(report, !errors.is_empty())
}

/// The lock, if it comes within `wait`: a shrink under way holds it.
fn lock_for<T>(
    m: &std::sync::Mutex<T>,
    wait: std::time::Duration,
) -> Option<std::sync::MutexGuard<'_, T>> {
    let until = Instant::now() + wait;
    loop {
        match m.try_lock() {
            Ok(g) => return Some(g),
            Err(std::sync::TryLockError::WouldBlock) if Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(_) => return None,
        }
    }
}

/// 1 when a scenario's expectation was not met, which is what a check is for; else 130 when
/// a signal stopped it; else 2 when a run stopped at a limit or an output could not be
/// written; else 0.
fn exit_code(r: &CheckReport, output_failed: bool) -> u8 {
    let stopped = |s: &ScenarioReport| {
        s.stopped.is_some()
            || s.nothing_issued
            || s.shrink_error.is_some()
            || s.chart_error.is_some()
    };
    if r.scenarios.iter().any(|s| !s.ok && !only_stopped(s)) {
        1
    } else if r.interrupted {
        crate::interrupt::exit_code()
    } else if output_failed || r.scenarios.iter().any(stopped) {
        2
    } else {
        0
    }
}

fn write_junit(path: &Path, report: &CheckReport) -> Result<(), CliError> {
    let written: Vec<PathBuf> = report
        .scenarios
        .iter()
        .filter_map(|s| s.shrunk.as_ref())
        .flat_map(|sh| std::iter::once(&sh.file).chain(&sh.chart))
        .filter_map(|f| Path::new(f).canonicalize().ok())
        .collect();
    if is_input(path, &written) {
        return Err(CliError::Usage(format!(
            "{}: --junit would overwrite a shrunk scenario or chart written by this check",
            path.display()
        )));
    }
    crate::write_atomic(path, junit(report).as_bytes()).map_err(|e| match e {
        CliError::Write { path, source } => {
            CliError::Usage(format!("--junit: {}: {source}", path.display()))
        }
        other => other,
    })
}

/// The reports waiting to be finished in scenario order.
#[derive(Default)]
struct Queue {
    next: usize,
    waiting: std::collections::BTreeMap<usize, ScenarioReport>,
    /// Whether a worker is finishing reports.
    busy: bool,
}

/// The reports finished, in scenario order.
#[derive(Default)]
struct Finished {
    reports: Vec<ScenarioReport>,
    /// How many of `reports` are printed.
    printed: usize,
    shrink_s: f64,
    /// A report was cut short by a signal: it and those after it are not reported.
    cut_short: bool,
    /// Standard output failed: nothing more is printed to it.
    stdout: Option<std::io::Error>,
}

/// Prints the blocks of the finished reports not printed yet (text only: JSON is one
/// document, printed at the end).
fn print_blocks(f: &mut Finished, args: &CheckArgs, progress: &Progress) {
    while f.printed < f.reports.len() {
        if args.format == Format::Text && f.stdout.is_none() {
            let block = crate::shell::printable(&block(&f.reports[f.printed]));
            let written = progress.suspend(|| {
                let mut out = verdict_out(args);
                out.write_all(block.as_bytes()).and_then(|()| out.flush())
            });
            if let Err(e) = written {
                f.stdout = Some(e);
            }
        }
        f.printed += 1;
    }
}

/// The name each scenario's shrunk files start with: its file's stem, or, for stems that two
/// scenarios of this check share, its path's parts joined, so that one's files never replace
/// the other's.
fn shrunk_stems(scenarios: &[(PathBuf, Scenario)]) -> Vec<String> {
    let stem = |p: &Path| {
        p.file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned())
    };
    let stems: Vec<String> = scenarios.iter().map(|(p, _)| stem(p)).collect();
    let mut out: Vec<String> = Vec::with_capacity(stems.len());
    for (i, (path, _)) in scenarios.iter().enumerate() {
        let mut name = if stems.iter().filter(|s| **s == stems[i]).count() > 1 {
            let parts: Vec<String> = path
                .with_extension("")
                .components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect();
            parts.join("-")
        } else {
            stems[i].clone()
        };
        // The same file named twice, or paths that join alike.
        if out.contains(&name) {
            name = format!("{name}-{}", i + 1);
        }
        out.push(name);
    }
    out
}

/// What is printed of one scenario: its line, and for a failure why, the shrunk scenario and
/// the first failing seeds.
fn block(s: &ScenarioReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "{}", line_for(s));
    for p in &s.problems {
        let _ = writeln!(o, "     {p}");
    }
    if let Some(sh) = &s.shrunk {
        let _ = writeln!(
            o,
            "     shrunk seed {} to {} ({} -> {} purchases, {} -> {} faults, {} -> {} events{})\n       replay: {}",
            sh.seed,
            sh.file,
            sh.before.intents,
            sh.after.intents,
            sh.before.faults,
            sh.after.faults,
            sh.before.events,
            sh.after.events,
            if sh.complete {
                String::new()
            } else {
                format!("; --shrink-runs stopped it after {} runs", sh.runs)
            },
            sh.replay
        );
        if let Some(c) = &sh.chart {
            let _ = writeln!(o, "       chart: {c}");
        }
    }
    if let Some(e) = &s.shrink_error {
        let _ = writeln!(o, "     not shrunk: {e}");
    }
    if let Some(e) = &s.chart_error {
        let _ = writeln!(o, "     chart not written: {e}");
    }
    if !s.ok {
        for (f, known) in failures_shown(s).into_iter().take(3) {
            let _ = writeln!(
                o,
                "     {}{}\n       replay: {}",
                f.example(),
                if known { " (as expected)" } else { "" },
                f.replay
            );
        }
    }
    o
}

/// A failing scenario's first failing seeds, unexpected breaks first (a known-bad scenario's
/// expected ones are no news), each with whether all it broke was expected: shown beside a
/// problem of another kind (an expected break that never came, say), such a seed must not
/// read as the failure.
fn failures_shown(s: &ScenarioReport) -> Vec<(&SeedFailure, bool)> {
    let expected = match &s.expect {
        Expect::Hold => &[][..],
        Expect::Violated(ps) => &ps[..],
    };
    let (news, known): (Vec<&SeedFailure>, Vec<&SeedFailure>) = s
        .first_failures
        .iter()
        .partition(|f| f.properties.iter().any(|p| !expected.contains(p)));
    news.into_iter()
        .map(|f| (f, false))
        .chain(known.into_iter().map(|f| (f, true)))
        .collect()
}

/// The last line of the text verdict, after a blank one.
fn summary_line(r: &CheckReport, of: usize) -> String {
    let scenarios = |n: usize| format!("{n} scenario{}", if n == 1 { "" } else { "s" });
    let why = if r.interrupted {
        format!(
            " (interrupted: {} of {} finished)",
            r.scenarios_checked,
            scenarios(of)
        )
    } else if r.stopped_early {
        " (stopped at the first failure; --keep-going runs the rest)".to_string()
    } else {
        String::new()
    };
    format!(
        "\n{} checked, {} failed{why}\n",
        scenarios(r.scenarios_checked),
        r.scenarios_failed
    )
}

/// How long the check took, for standard error: it is not part of the verdict.
fn timing_line(r: &CheckReport) -> String {
    let seeds: u64 = r.scenarios.iter().map(|s| s.seeds).sum();
    let running = r.elapsed_s - r.shrink_s;
    format!(
        "{} in {running:.2} s on {} jobs ({:.0} seeds/s){}",
        seeds_word(seeds),
        r.jobs,
        seeds as f64 / running.max(1e-9),
        if r.shrink_s > 0.0 {
            format!("; shrinking took {:.2} s more", r.shrink_s)
        } else {
            String::new()
        }
    )
}

/// `s` as XML 1.0 text, or as an attribute value in double quotes: markup escaped; carriage
/// returns, and in attributes quotes, tabs and line feeds (which a parser would turn to
/// spaces), as references; the characters XML 1.0 forbids, which no reference can carry,
/// spelled out as `\u{..}`.
fn xml(s: &str, attribute: bool) -> String {
    use std::fmt::Write as _;
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' if attribute => o.push_str("&quot;"),
            '\'' if attribute => o.push_str("&apos;"),
            '\r' => o.push_str("&#13;"),
            '\t' | '\n' if attribute => {
                let _ = write!(o, "&#{};", c as u32);
            }
            '\t' | '\n' => o.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// Whether the only problem of a scenario is one of its input, not of the properties: a run
/// that stopped at a limit, or a workload that issued nothing.
fn only_stopped(s: &ScenarioReport) -> bool {
    (s.stopped.is_some() || s.nothing_issued) && s.problems.len() == 1
}

/// JUnit XML: one test case per scenario, the failure text inside.
fn junit(r: &CheckReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // A signal is the error of the first scenario it left unrun, so that the count of tests
    // is the count of scenarios whatever happened; with none left, a case of its own.
    let signal_case = r.interrupted && r.not_run.is_empty();
    let cut = usize::from(r.interrupted && !r.not_run.is_empty());
    let errors =
        r.scenarios.iter().filter(|s| only_stopped(s)).count() + usize::from(r.interrupted);
    let skipped = r.not_run.len() - cut;
    let tests = r.scenarios_checked + r.not_run.len() + usize::from(signal_case);
    let failures = r.scenarios_failed - r.scenarios.iter().filter(|s| only_stopped(s)).count();
    let _ = writeln!(
        o,
        "<testsuites name=\"payfault check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">"
    );
    let _ = writeln!(
        o,
        "  <testsuite name=\"payfault\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">",
        r.elapsed_s
    );
    // Dashboards key a test case by its class and name: two scenarios of one name (a
    // scenario and an edited copy of it, say) would be merged into one history, so those are named
    // with their file as well.
    let mut uses = std::collections::BTreeMap::<&str, usize>::new();
    for n in r
        .scenarios
        .iter()
        .map(|s| s.name.as_str())
        .chain(r.not_run.iter().map(|n| n.name))
    {
        *uses.entry(n).or_default() += 1;
    }
    let case_name = |name: &str, path: &str| {
        if uses.get(name).is_some_and(|&n| n > 1) {
            format!("{name} ({path})")
        } else {
            name.to_string()
        }
    };
    for s in r.scenarios {
        let _ = write!(
            o,
            "    <testcase classname=\"payfault.check\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
            xml(&case_name(&s.name, &s.path), true),
            xml(&s.path, true),
            s.elapsed_s
        );
        if s.ok {
            o.push_str("/>\n");
        } else if only_stopped(s) {
            // A run stopped at a limit is no verdict on the properties: an error, not a
            // failure.
            let body = s.stopped.as_ref().map_or_else(
                || s.problems[0].clone(),
                |st| format!("seed {}: {}\nreplay: {}", st.seed, st.error, st.replay),
            );
            let _ = writeln!(
                o,
                ">\n      <error message=\"{}\">{}</error>\n    </testcase>",
                xml(&s.problems[0], true),
                xml(&body, false)
            );
        } else {
            let mut body = s.problems.join("\n");
            for (f, known) in failures_shown(s) {
                let _ = write!(
                    body,
                    "\n{}{}\nreplay: {}",
                    f.example(),
                    if known { " (as expected)" } else { "" },
                    f.replay
                );
            }
            if let Some(sh) = &s.shrunk {
                let _ = write!(
                    body,
                    "\nshrunk seed {} ({}) to {}\nreplay: {}",
                    sh.seed, sh.property, sh.file, sh.replay
                );
                if let Some(chart) = &sh.chart {
                    let _ = write!(body, "\nchart: {chart}");
                }
            }
            if let Some(e) = &s.shrink_error {
                let _ = write!(body, "\nnot shrunk: {e}");
            }
            if let Some(e) = &s.chart_error {
                let _ = write!(body, "\nchart not written: {e}");
            }
            let _ = writeln!(
                o,
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                xml(s.problems.first().map_or("", |p| p.as_str()), true),
                xml(&body, false)
            );
        }
    }
    let why = if r.interrupted {
        "not run: the check was stopped by a signal"
    } else {
        "not run: the check stopped at the first failure (--keep-going runs every scenario)"
    };
    let stopped = format!(
        "stopped by a signal after {} finished scenarios",
        r.scenarios_checked
    );
    for (i, n) in r.not_run.iter().enumerate() {
        let inner = if i < cut {
            format!("<error message=\"{stopped}\"/>")
        } else {
            format!("<skipped message=\"{why}\"/>")
        };
        let _ = writeln!(
            o,
            "    <testcase classname=\"payfault.check\" name=\"{}\" file=\"{}\">\n      {inner}\n    </testcase>",
            xml(&case_name(n.name, &n.path), true),
            xml(&n.path, true),
        );
    }
    if signal_case {
        let _ = writeln!(
            o,
            "    <testcase classname=\"payfault.check\" name=\"interrupted\">\n      <error message=\"stopped by a signal after {} finished scenarios\"/>\n    </testcase>",
            r.scenarios_checked
        );
    }
    o.push_str("  </testsuite>\n</testsuites>\n");
    o
}
