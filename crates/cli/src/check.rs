//! `payfault check`: many seeds of every scenario against each scenario's expectation.
//!
//! Seeds run in parallel; results are gathered in seed order, so the verdict and everything
//! printed (timings aside) are the same whatever the number of jobs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use payfault_domain::config::{Expect, Property, Scenario};
use payfault_domain::oracle::Violation;
use payfault_domain::shrink::{shrink, Size};
use rayon::prelude::*;
use serde::Serialize;

use crate::progress::{escape_markup, Progress};
use crate::{scenario_file, CheckArgs, CliError, Format};

/// The first failing seeds of a scenario kept for the report.
const SEEDS_SHOWN: usize = 5;

#[derive(Serialize)]
struct SeedFailure {
    seed: u64,
    properties: Vec<Property>,
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
    first_failures: Vec<SeedFailure>,
    ok: bool,
    /// Why the expectation was not met.
    problems: Vec<String>,
    /// The smallest failing scenario found for the first unexpected violation.
    shrunk: Option<ShrunkReport>,
    /// The property and seed to shrink, once the scenario is known to be reported.
    #[serde(skip)]
    shrink_target: Option<(Property, u64)>,
    elapsed_s: f64,
}

#[derive(Serialize)]
struct ShrunkReport {
    file: String,
    seed: u64,
    property: Property,
    before: Size,
    after: Size,
    runs: u64,
    replay: String,
    /// The failing intent as a message sequence chart (SVG).
    chart: Option<String>,
}

#[derive(Serialize)]
struct CheckReport {
    ok: bool,
    scenarios_checked: usize,
    scenarios_failed: usize,
    stopped_early: bool,
    scenarios: Vec<ScenarioReport>,
    elapsed_s: f64,
    jobs: usize,
}

/// The scenario files named, with folders expanded to their `.ron` files in name order.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| CliError::Usage(format!("{}: cannot read folder: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "ron"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(CliError::Usage(format!(
                    "{}: no .ron scenario in this folder",
                    p.display()
                )));
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        return Err(CliError::Usage(
            "no scenario given: name files or folders".into(),
        ));
    }
    Ok(out)
}

struct SeedResult {
    seed: u64,
    intents: u64,
    events: u64,
    by_property: [u64; 4],
    first: Option<Violation>,
}

fn check_one(
    path: &Path,
    sc: &Scenario,
    args: &CheckArgs,
    progress: &Progress,
) -> Result<ScenarioReport, CliError> {
    let start = Instant::now();
    let seeds = sc.check_seeds.map_or(args.seeds, |cap| cap.min(args.seeds));
    let results: Vec<Result<SeedResult, payfault_domain::SimError>> = (args.seed_start
        ..args.seed_start + seeds)
        .into_par_iter()
        .map(|seed| {
            let out = payfault_domain::run::run_quick(sc, seed)?;
            progress.tick();
            Ok(SeedResult {
                seed,
                intents: out.metrics.intents,
                events: out.metrics.events,
                by_property: out.by_property,
                first: out.violations.into_iter().next(),
            })
        })
        .collect();
    let mut violated = [0u64; 4];
    let mut failures = Vec::new();
    let (mut intents, mut events) = (0, 0);
    for r in results {
        let r = r?;
        intents += r.intents;
        events += r.events;
        let props: Vec<Property> = Property::ALL
            .into_iter()
            .filter(|p| r.by_property[*p as usize] > 0)
            .collect();
        for p in &props {
            violated[*p as usize] += 1;
        }
        if let (Some(v), true) = (r.first, failures.len() < SEEDS_SHOWN) {
            failures.push(SeedFailure {
                seed: r.seed,
                properties: props,
                rule: v.rule.to_string(),
                intent: v.intent,
                t_ns: v.t_ns,
                detail: v.detail,
                replay: format!("payfault run {} --seed {}", path.display(), r.seed),
            });
        }
    }
    let mut problems = Vec::new();
    let expected: Vec<Property> = match &sc.expect {
        Expect::Hold => vec![],
        Expect::Violated(ps) => ps.clone(),
    };
    for p in Property::ALL {
        let n = violated[p as usize];
        if expected.contains(&p) && n == 0 {
            problems.push(format!(
                "expected {p} to be violated on some seed, but it held on all {seeds}"
            ));
        }
        if !expected.contains(&p) && n > 0 {
            let first = failures.iter().find(|f| f.properties.contains(&p));
            let replay = first.map_or(String::new(), |f| format!("; replay: {}", f.replay));
            problems.push(format!("{p} violated on {n} of {seeds} seeds{replay}"));
        }
    }
    let unexpected = Property::ALL
        .into_iter()
        .find(|p| !expected.contains(p) && violated[*p as usize] > 0);
    let shrink_target = unexpected.and_then(|p| {
        failures
            .iter()
            .find(|f| f.properties.contains(&p))
            .map(|f| (p, f.seed))
    });
    Ok(ScenarioReport {
        shrunk: None,
        shrink_target,
        path: path.display().to_string(),
        name: sc.name.clone(),
        expect: sc.expect.clone(),
        seed_start: args.seed_start,
        seeds,
        intents,
        events,
        violated_seeds: Property::ALL
            .into_iter()
            .map(|p| (p, violated[p as usize]))
            .collect(),
        first_failures: failures,
        ok: problems.is_empty(),
        problems,
        elapsed_s: start.elapsed().as_secs_f64(),
    })
}

fn write_shrunk(
    path: &Path,
    sc: &Scenario,
    seed: u64,
    property: Property,
    dir: &Path,
) -> Result<ShrunkReport, CliError> {
    let shrunk = shrink(sc, seed, property)
        .map_err(|e| CliError::Usage(format!("{}: shrinking seed {seed}: {e}", path.display())))?;
    let stem = path
        .file_stem()
        .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
    std::fs::create_dir_all(dir).map_err(|source| CliError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let file = dir.join(format!("{stem}.seed-{seed}.shrunk.ron"));
    let body = ron::ser::to_string_pretty(
        &shrunk.scenario,
        ron::ser::PrettyConfig::default().struct_names(true),
    )
    .map_err(|e| CliError::Usage(format!("cannot write the shrunk scenario: {e}")))?;
    let header = format!(
        "// Shrunk by `payfault check` from {} seed {seed}: the smallest run found that still violates {property}.\n\
         // {} -> {} purchases, {} -> {} faults, {} -> {} events. Replay: payfault run {}\n",
        path.display(),
        shrunk.before.intents,
        shrunk.after.intents,
        shrunk.before.faults,
        shrunk.after.faults,
        shrunk.before.events,
        shrunk.after.events,
        file.display()
    );
    crate::write_atomic(&file, format!("{header}{body}\n").as_bytes())?;
    let chart = draw_failure(
        &shrunk.scenario,
        seed,
        property,
        &dir.join(format!("{stem}.seed-{seed}.svg")),
    )?;
    Ok(ShrunkReport {
        file: file.display().to_string(),
        seed,
        property,
        before: shrunk.before,
        after: shrunk.after,
        runs: shrunk.runs,
        replay: format!("payfault run {}", file.display()),
        chart,
    })
}

/// Draws the first intent of the run that violates `property`, if there is one.
fn draw_failure(
    sc: &Scenario,
    seed: u64,
    property: Property,
    file: &Path,
) -> Result<Option<String>, CliError> {
    let out = payfault_domain::run::run_quick(sc, seed)?;
    let Some(intent) = out
        .violations
        .iter()
        .find(|v| v.property == property)
        .and_then(|v| v.intent)
    else {
        return Ok(None);
    };
    let policy = payfault_domain::Builtin::new(sc.policy.clone());
    let mut rec = crate::chart::IntentRecorder {
        intent,
        events: Vec::new(),
    };
    payfault_domain::run_with(sc, seed, &policy, &mut rec)?;
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
    let seen = if caught.is_empty() {
        "nothing violated".to_string()
    } else {
        format!("violated: {}", caught.join(", "))
    };
    format!(
        "{status} {:<28} {} seeds, expects {}; {}",
        r.name,
        r.seeds,
        expect_text(&r.expect),
        seen
    )
}

pub fn run(args: &CheckArgs) -> Result<u8, CliError> {
    let files = collect(&args.paths)?;
    // Every file is read before any runs: bad input fails fast with exit code 2.
    let scenarios: Vec<(PathBuf, Scenario)> = files
        .into_iter()
        .map(|f| scenario_file::load(&f).map(|s| (f, s)))
        .collect::<Result<_, _>>()?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start {jobs} workers: {e}")))?;
    let total: u64 = scenarios
        .iter()
        .map(|(_, s)| s.check_seeds.map_or(args.seeds, |c| c.min(args.seeds)))
        .sum();
    let progress = Progress::new(total, "seeds");
    let start = Instant::now();
    // Every scenario and seed at once on the pool, so that cores stay busy across scenarios;
    // progress lines still come out in scenario order.
    let printed = std::sync::Mutex::new((0usize, std::collections::BTreeMap::new()));
    let results: Vec<Result<ScenarioReport, CliError>> = pool.install(|| {
        scenarios
            .par_iter()
            .enumerate()
            .map(|(i, (path, sc))| {
                let r = check_one(path, sc, args, &progress);
                let line = match &r {
                    Ok(r) => format!(
                        "checked {}: {} seeds{}",
                        r.name,
                        r.seeds,
                        if r.ok { "" } else { ", expectation not met" }
                    ),
                    Err(_) => format!("checked {}: the run stopped", sc.name),
                };
                let mut guard = printed.lock().expect("no panics while holding it");
                let (next, waiting) = &mut *guard;
                waiting.insert(i, line);
                while let Some(line) = waiting.remove(next) {
                    progress.line(&line);
                    *next += 1;
                }
                r
            })
            .collect()
    });
    let mut reports = Vec::new();
    let mut stopped_early = false;
    for ((path, sc), r) in scenarios.iter().zip(results) {
        let mut r = r?;
        if let Some((p, seed)) = r.shrink_target {
            r.shrunk = Some(write_shrunk(path, sc, seed, p, &args.shrink_dir)?);
        }
        let failed = !r.ok;
        reports.push(r);
        if failed && !args.keep_going {
            stopped_early = reports.len() < scenarios.len();
            break;
        }
    }
    progress.done();
    let failed = reports.iter().filter(|r| !r.ok).count();
    let report = CheckReport {
        ok: failed == 0,
        scenarios_checked: reports.len(),
        scenarios_failed: failed,
        stopped_early,
        scenarios: reports,
        elapsed_s: start.elapsed().as_secs_f64(),
        jobs,
    };
    if let Some(path) = &args.junit {
        crate::write_atomic(path, junit(&report).as_bytes())?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = match args.format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out)),
        Format::Text => write!(out, "{}", text(&report)),
    };
    written.map_err(|source| CliError::Write {
        path: "stdout".into(),
        source,
    })?;
    Ok(if report.ok { 0 } else { 1 })
}

fn text(r: &CheckReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    for s in &r.scenarios {
        let _ = writeln!(o, "{}", line_for(s));
        for p in &s.problems {
            let _ = writeln!(o, "     {p}");
        }
        if let Some(sh) = &s.shrunk {
            let _ = writeln!(
                o,
                "     shrunk seed {} to {} ({} -> {} purchases, {} -> {} faults, {} -> {} events)\n       replay: {}",
                sh.seed,
                sh.file,
                sh.before.intents,
                sh.after.intents,
                sh.before.faults,
                sh.after.faults,
                sh.before.events,
                sh.after.events,
                sh.replay
            );
            if let Some(c) = &sh.chart {
                let _ = writeln!(o, "       chart: {c}");
            }
        }
        if !s.ok {
            for f in s.first_failures.iter().take(3) {
                let intent = f.intent.map_or("-".into(), |i| i.to_string());
                let _ = writeln!(
                    o,
                    "     seed {} {} intent {} at {:.6} s: {}\n       replay: {}",
                    f.seed,
                    f.rule,
                    intent,
                    f.t_ns as f64 / 1e9,
                    f.detail,
                    f.replay
                );
            }
        }
    }
    let seeds: u64 = r.scenarios.iter().map(|s| s.seeds).sum();
    let _ = writeln!(
        o,
        "\n{} scenarios checked, {} failed{}",
        r.scenarios_checked,
        r.scenarios_failed,
        if r.stopped_early {
            " (stopped at the first failure; --keep-going runs the rest)"
        } else {
            ""
        }
    );
    eprintln!(
        "{seeds} seeds in {:.2} s on {} jobs ({:.0} seeds/s)",
        r.elapsed_s,
        r.jobs,
        seeds as f64 / r.elapsed_s.max(1e-9)
    );
    o
}

/// JUnit XML: one test case per scenario, the failure text inside.
fn junit(r: &CheckReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<testsuites name=\"payfault check\" tests=\"{}\" failures=\"{}\">",
        r.scenarios_checked, r.scenarios_failed
    );
    let _ = writeln!(
        o,
        "  <testsuite name=\"payfault\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
        r.scenarios_checked, r.scenarios_failed, r.elapsed_s
    );
    for s in &r.scenarios {
        let _ = write!(
            o,
            "    <testcase classname=\"payfault.check\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
            escape_markup(&s.name),
            escape_markup(&s.path),
            s.elapsed_s
        );
        if s.ok {
            o.push_str("/>\n");
        } else {
            let mut body = s.problems.join("\n");
            for f in &s.first_failures {
                let _ = write!(
                    body,
                    "\nseed {} {}: {}\nreplay: {}",
                    f.seed, f.rule, f.detail, f.replay
                );
            }
            let _ = writeln!(
                o,
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                escape_markup(s.problems.first().map_or("", |p| p.as_str())),
                escape_markup(&body)
            );
        }
    }
    o.push_str("  </testsuite>\n</testsuites>\n");
    o
}
