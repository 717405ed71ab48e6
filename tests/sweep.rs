//! Tests of `payfault sweep` and `payfault merge` as a researcher uses them: the rows agree
//! with runs done one by one, a folder is the same bytes however it was made (jobs, shards,
//! interruptions), the report's files exist and point at each other, bad sweep files are
//! refused with file, line and column, and the HTML report renders in a real browser.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn fixture(name: &str) -> PathBuf {
    Path::new(WORKSPACE).join("tests/sweep").join(name)
}

/// An empty scratch folder unique to this test process and `tag`, removed when the test
/// passes and kept for a look when it fails.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn scratch(tag: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("payfault-sweep-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch folder");
    Scratch(d)
}

fn payfault<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(args)
        .env("CI", "1")
        .output()
        .expect("the binary starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "payfault panicked: {stderr}");
    out
}

fn ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let out = payfault(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "payfault {:?} failed: {}",
        args.iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sweep(file: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec![
        "sweep".into(),
        file.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    ok(&args)
}

/// Asserts that a command was refused as bad input (exit 2) with each of `phrases` in its
/// stderr.
fn refused(out: &Output, phrases: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for p in phrases {
        assert!(err.contains(p), "expected {p:?} in {err}");
    }
}

/// The tiny sweep run in two shards, `shard1` and `shard2` under `root`.
fn two_shards(root: &Path) -> Vec<PathBuf> {
    let shards: Vec<PathBuf> = (1..=2).map(|k| root.join(format!("shard{k}"))).collect();
    for (k, dir) in shards.iter().enumerate() {
        sweep(
            &fixture("tiny.ron"),
            dir,
            &["--shard", &format!("{}/2", k + 1)],
        );
    }
    shards
}

/// `payfault merge` of `dirs`, in that order, into `out`.
fn merge_into(dirs: &[&PathBuf], out: &Path) -> Output {
    let mut a = vec!["merge".to_string()];
    a.extend(dirs.iter().map(|d| d.display().to_string()));
    a.extend(["--out".into(), out.display().to_string()]);
    payfault(&a)
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).expect("readable folder").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("inside").display().to_string();
                out.insert(rel, std::fs::read(&p).expect("readable file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn assert_same_folder(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    let names = |t: &BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&ta),
        names(&tb),
        "{} and {} hold different files",
        a.display(),
        b.display()
    );
    for (name, bytes) in &ta {
        assert!(
            tb[name] == *bytes,
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// CSV records (the fields these tests read hold no commas or quotes).
fn csv(p: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = read(p);
    let mut lines = text.lines();
    let head = lines
        .next()
        .expect("a header")
        .split(',')
        .map(String::from)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (head, rows)
}

/// A JSON value's numbers by flattened name (`completion_latency_p99_ms`).
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, f64>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}_{k}")
                };
                flatten(&key, x, out);
            }
        }
        serde_json::Value::Number(n) => {
            out.insert(prefix.to_string(), n.as_f64().expect("a number"));
        }
        _ => {}
    }
}

/// The metrics of one run of a scenario file, as `payfault run --format json` prints them.
fn run_json(scenario: &Path, seed: &str) -> BTreeMap<String, f64> {
    let out = payfault(&[
        "run",
        &scenario.display().to_string(),
        "--seed",
        seed,
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    let mut m = BTreeMap::new();
    flatten("", &v["metrics"], &mut m);
    m
}

#[test]
fn rows_match_runs_done_one_by_one() {
    let out = scratch("rows");
    sweep(&fixture("tiny.ron"), &out, &[]);
    let (head, rows) = csv(&out.join("results.csv"));
    assert_eq!(&head[..4], ["cell", "policy", "drop", "seed"]);
    assert_eq!(rows.len(), 2 * 2 * 3, "one row per cell and seed");
    let base = read(&fixture("base.ron"));
    let mut compared = 0;
    for row in &rows {
        let (cell, policy, drop, seed) = (&row[0], &row[1], &row[2], &row[3]);
        // The cell's scenario made by hand, independently of the sweep's own path setting.
        let kind = match policy.as_str() {
            "naive" => "Naive",
            "idempotent" => "Idempotent",
            other => panic!("unexpected policy {other}"),
        };
        let text = base
            .replace("drop: 0.03", &format!("drop: {drop}"))
            .replace("kind: Naive", &format!("kind: {kind}"));
        let by_hand = out.join(format!("{cell}-by-hand.ron"));
        std::fs::write(&by_hand, text).expect("write scenario");
        let expected = run_json(&by_hand, seed);
        // The scenario the sweep wrote for the cell replays the row too.
        let replayed = run_json(&out.join("scenarios").join(format!("{cell}.ron")), seed);
        assert_eq!(
            expected, replayed,
            "{cell}: scenarios/{cell}.ron is not the cell"
        );
        for (k, want) in &expected {
            let i = head
                .iter()
                .position(|h| h == k)
                .unwrap_or_else(|| panic!("results.csv has no column {k}"));
            let got: f64 = row[i].parse().expect("a number");
            assert_eq!(got, *want, "{cell} seed {seed}: {k}");
            compared += 1;
        }
    }
    assert!(compared > 12 * 40, "only {compared} values compared");
    // The grid did what it is for: naive retry charged twice, the same key never did.
    let dup = head
        .iter()
        .position(|h| h == "duplicate_permanent")
        .expect("column");
    let total = |p: &str| -> f64 {
        rows.iter()
            .filter(|r| r[1] == p)
            .map(|r| r[dup].parse::<f64>().expect("number"))
            .sum()
    };
    assert!(total("naive") > 0.0);
    assert_eq!(total("idempotent"), 0.0);
}

#[test]
fn the_folder_is_the_same_whatever_the_jobs_and_merged_shards_equal_one_run() {
    let root = scratch("shards");
    let (one, two) = (root.join("jobs1"), root.join("jobs2"));
    sweep(&fixture("tiny.ron"), &one, &["--jobs", "1"]);
    sweep(&fixture("tiny.ron"), &two, &["--jobs", "2"]);
    assert_same_folder(&one, &two);

    let shards: Vec<PathBuf> = (1..=3).map(|k| root.join(format!("shard{k}"))).collect();
    for (k, dir) in shards.iter().enumerate() {
        let out = sweep(
            &fixture("tiny.ron"),
            dir,
            &["--shard", &format!("{}/3", k + 1)],
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("payfault merge"));
        assert!(!dir.join("index.html").exists(), "a shard writes no report");
    }
    // Shards split the cells: 4 cells over 3 shards, round robin.
    let held: Vec<usize> = shards
        .iter()
        .map(|d| std::fs::read_dir(d.join("cells")).expect("cells").count())
        .collect();
    assert_eq!(held, [2, 1, 1]);

    let merged = root.join("merged");
    let mut args: Vec<String> = vec!["merge".into()];
    args.extend(shards.iter().rev().map(|d| d.display().to_string()));
    args.extend(["--out".into(), merged.display().to_string()]);
    ok(&args);
    assert_same_folder(&one, &merged);

    // Merging without every shard says which cells are missing.
    let out = payfault(&[
        "merge",
        &shards[0].display().to_string(),
        "--out",
        &root.join("partial").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 of 4 cells") && err.contains("cell-002 (shard 2/3)"),
        "{err}"
    );

    // Regression (a cut-short cell reported as absent): a cell file that is there but cannot
    // be used was passed over in silence, so the message sent the user looking for a shard
    // that was at hand. Why it cannot be used is now said.
    let cut = shards[1].join("cells/cell-002.csv");
    let text = read(&cut);
    let first_lines: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&cut, first_lines).unwrap();
    let out = merge_into(&shards.iter().collect::<Vec<_>>(), &root.join("cut"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 of 4 cells")
            && err.contains("Found but unusable: ")
            && err.contains("cell-002.csv: "),
        "{err}"
    );
}

#[test]
fn resume_after_deleted_cells_equals_one_run() {
    let root = scratch("resume");
    let (whole, resumed) = (root.join("whole"), root.join("resumed"));
    sweep(&fixture("tiny.ron"), &whole, &[]);
    sweep(&fixture("tiny.ron"), &resumed, &[]);
    for f in [
        "cells/cell-002.csv",
        "cells/cell-004.csv",
        "results.csv",
        "index.html",
    ] {
        std::fs::remove_file(resumed.join(f)).expect("remove");
    }
    // A cell file kept from before is used as it is, not run again: mark one to see.
    let kept = resumed.join("cells/cell-001.csv");
    let original = read(&kept);
    let out = sweep(&fixture("tiny.ron"), &resumed, &["--resume"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 cells x 3 seeds") && err.contains("2 finished cells kept"),
        "{err}"
    );
    assert_eq!(read(&kept), original);
    assert_same_folder(&whole, &resumed);
    // Without --resume every cell runs again.
    let err =
        String::from_utf8_lossy(&sweep(&fixture("tiny.ron"), &resumed, &[]).stderr).into_owned();
    assert!(err.contains("4 cells x 3 seeds"), "{err}");
}

#[test]
fn resume_after_a_kill_equals_one_run() {
    let root = scratch("kill");
    let (whole, killed) = (root.join("whole"), root.join("killed"));
    sweep(&fixture("slow.ron"), &whole, &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(["sweep", &fixture("slow.ron").display().to_string(), "--out"])
        .arg(&killed)
        .args(["--jobs", "1"])
        .env("CI", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let finished = |d: &Path| -> usize {
        std::fs::read_dir(d.join("cells"))
            .map(|r| {
                r.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".csv"))
                    .count()
            })
            .unwrap_or(0)
    };
    let start = Instant::now();
    while finished(&killed) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no cell finished"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("kill");
    child.wait().expect("reaped");
    let done = finished(&killed);
    assert!(
        (2..16).contains(&done),
        "the kill should land mid-grid: {done} of 16 cells were done"
    );
    assert!(!killed.join("results.csv").exists());
    let out = sweep(&fixture("slow.ron"), &killed, &["--resume"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{done} finished cells kept")),
        "{err}"
    );
    assert_same_folder(&whole, &killed);
}

#[test]
fn the_report_files_exist_and_reference_each_other() {
    let out = scratch("report");
    sweep(&fixture("tiny.ron"), &out, &[]);
    for f in [
        "results.csv",
        "summary.csv",
        "pairs.csv",
        "report.md",
        "index.html",
        "manifest.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let html = read(&out.join("index.html"));
    let md = read(&out.join("report.md"));
    let charts: Vec<String> = std::fs::read_dir(out.join("charts"))
        .expect("charts/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg"))
        .map(|n| n.trim_end_matches(".svg").to_string())
        .collect();
    for stem in [
        "duplicates",
        "duplicates-transient",
        "latency",
        "messages",
        "failures",
        "tradeoff",
    ] {
        assert!(charts.iter().any(|c| c == stem), "no chart {stem}");
    }
    for stem in &charts {
        let png = std::fs::read(out.join(format!("charts/{stem}.png"))).expect("PNG beside SVG");
        assert_eq!(&png[1..4], b"PNG");
        assert!(
            html.contains(&format!("id=\"chart-{stem}\"")),
            "{stem} not in index.html"
        );
        assert!(html.contains(&format!("href=\"charts/{stem}.svg\"")));
        assert!(html.contains(&format!("href=\"charts/{stem}.png\"")));
        assert!(
            md.contains(&format!("](charts/{stem}.png)")),
            "{stem} not in report.md"
        );
    }
    // Self-contained: every chart inline, nothing fetched from anywhere.
    assert_eq!(
        html.matches("<figure class=\"chart\"").count(),
        charts.len()
    );
    assert_eq!(html.matches("<svg class=\"plot\"").count(), charts.len());
    for bad in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "<link",
        "src=\"charts/",
    ] {
        assert!(!html.contains(bad), "index.html references {bad}");
    }
    // Every file the report links to exists.
    for doc in [&html, &md] {
        for link in doc.split("href=\"").skip(1).chain(doc.split("](").skip(1)) {
            let target = link.split(['"', ')']).next().unwrap_or("");
            if !target.is_empty() && !target.starts_with('#') {
                assert!(out.join(target).exists(), "broken link {target}");
            }
        }
    }
}

/// A title, a description, a parameter name and variant names full of Markdown and HTML.
const MARKUP: &str = r#"Sweep(
    title: "A <b>title</b> | with `code` & a\n# heading",
    description: "- a list?\n<script>alert(1)</script> [a link](http://example.com) *em*",
    base: "base.ron",
    seeds: 1,
    policies: [Naive, Idempotent],
    parameters: [(name: "set|up\nx", variants: [
        (name: "a|b\n| c |", set: []),
        (name: "<img src=x onerror=alert(1)>", set: [("links.terminal_acquirer.drop", 0.05)]),
        (name: "`tick` \\ & <", set: [("links.terminal_acquirer.drop", 0.01)]),
    ])],
)"#;

/// The `|` of a Markdown line that divide table cells (not those escaped).
fn cell_bars(line: &str) -> usize {
    let mut escaped = false;
    let mut bars = 0;
    for c in line.chars() {
        match c {
            '|' if !escaped => bars += 1,
            '\\' => {
                escaped = !escaped;
                continue;
            }
            _ => {}
        }
        escaped = false;
    }
    bars
}

/// Regression: names, labels, the title and the description went into report.md as they
/// were written, so raw HTML passed into it and a line break or a `|` broke its lines and
/// table rows; a line break in a label also broke the comment atop each cell's scenario
/// file, which then could not be replayed.
#[test]
fn names_and_labels_are_text_in_report_md_and_comments() {
    let dir = scratch("markup");
    std::fs::copy(fixture("base.ron"), dir.join("base.ron")).expect("copy base");
    let file = dir.join("markup.ron");
    std::fs::write(&file, MARKUP).expect("write");
    let out = dir.join("r");
    sweep(&file, &out, &[]);
    let md = read(&out.join("report.md"));
    let unescaped = md.replace(r"\<", "");
    for raw in [
        "<b>",
        "<script>",
        "<img",
        "\n# heading",
        "\n- a list",
        "\n| c |",
    ] {
        assert!(
            !unescaped.contains(raw),
            "{raw:?} passed into report.md:\n{md}"
        );
    }
    let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(headings.len(), 1, "{headings:?}");
    // Every row of a table has as many cells as its header.
    let mut header_bars = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let bars = cell_bars(line);
            assert_eq!(*header_bars.get_or_insert(bars), bars, "{line}");
        } else {
            header_bars = None;
        }
    }
    for shown in [
        r"\`tick\` \\ \& \<",
        r"\<img src=x onerror=alert(1)\>",
        r"a\|b \| c \|",
    ] {
        assert!(md.contains(shown), "no {shown:?} in report.md:\n{md}");
    }
    // Each cell's scenario file still runs.
    for cell in names(&out.join("scenarios")) {
        let metrics = run_json(&out.join("scenarios").join(&cell), "1");
        assert!(metrics["intents"] > 0.0, "{cell}: {metrics:?}");
    }
}

/// The upper end of the exact Poisson 95% interval with no event in `n` intents: the 0.975
/// quantile of Gamma(1), -ln 0.025, over n.
fn none_seen_upper(n: f64) -> f64 {
    -libm::log(0.025) / n
}

#[test]
fn summaries_follow_the_rows_with_t_intervals_pooled_rates_and_paired_differences() {
    let out = scratch("stats");
    sweep(&fixture("tiny.ron"), &out, &[]);
    let (rh, rows) = csv(&out.join("results.csv"));
    let (sh, sums) = csv(&out.join("summary.csv"));
    let (ph, pairs) = csv(&out.join("pairs.csv"));
    let col = |h: &[String], name: &str| {
        h.iter()
            .position(|x| x == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let values = |cell: &str, name: &str| -> Vec<f64> {
        rows.iter()
            .filter(|r| r[0] == cell)
            .map(|r| r[col(&rh, name)].parse().expect("number"))
            .collect()
    };
    let num = |r: &[String], h: &[String], name: &str| -> f64 {
        r[col(h, name)].parse().expect("number")
    };
    for s in &sums {
        let cell = &s[0];
        let x = values(cell, "messages_per_intent");
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let sd = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt();
        // Three seeds: Student's t with 2 degrees of freedom, 4.3027 at 97.5%.
        let half = 4.3027 * sd / n.sqrt();
        assert!((num(s, &sh, "messages_per_intent_mean") - mean).abs() < 1e-12);
        assert!((num(s, &sh, "messages_per_intent_ci95_hi") - (mean + half)).abs() < 1e-9);
        // A rate is pooled: the events of all seeds over all their intents.
        let per_seed = values(cell, "duplicate_permanent");
        let trials = values(cell, "intents");
        let (dups, intents): (f64, f64) = (per_seed.iter().sum(), trials.iter().sum());
        let pooled = num(s, &sh, "duplicates_per_million_permanent_pooled");
        assert!((pooled - dups * 1e6 / intents).abs() < 1e-9, "{cell}");
        let (lo, hi) = (
            num(s, &sh, "duplicates_per_million_permanent_ci95_lo"),
            num(s, &sh, "duplicates_per_million_permanent_ci95_hi"),
        );
        // Overdispersion: Pearson's X² of the per-seed counts against the pooled rate (a
        // Poisson variance: a purchase may be charged more than twice), over k − 1; where that
        // is above 1, times (t/z)² for φ estimated on k − 1 = 2 degrees of freedom; else 1.
        let phi = num(s, &sh, "duplicates_per_million_permanent_overdispersion");
        if dups == 0.0 {
            assert_eq!(phi, 1.0);
            assert_eq!(lo, 0.0, "{cell}");
            let u = none_seen_upper(intents) * 1e6;
            assert!((hi - u).abs() < 1e-6 * u, "{cell}: {hi} against {u}");
        } else {
            let p = dups / intents;
            let chi2: f64 = per_seed
                .iter()
                .zip(&trials)
                .map(|(x, n)| (x - n * p) * (x - n * p) / (n * p))
                .sum();
            let stretch: f64 = 4.3027 / 1.959964;
            let raw = chi2 / (trials.len() - 1) as f64;
            let expected = if raw > 1.0 {
                stretch * stretch * raw
            } else {
                1.0
            };
            assert!(
                (phi / expected - 1.0).abs() < 1e-4,
                "{cell}: {phi} against {expected}"
            );
            assert!(
                0.0 < lo && lo < pooled && pooled < hi,
                "{cell}: {lo} {pooled} {hi}"
            );
        }
        assert_eq!(num(s, &sh, "intents_total"), intents);
        assert_eq!(num(s, &sh, "duplicate_permanent_total"), dups);
    }
    // Every rate has one meaning per column: no column of a per-seed mean of a rate, and no
    // bound of another kind beside the interval.
    for gone in [
        "duplicates_per_million_permanent_mean",
        "customer_visible_failure_rate_mean",
        "duplicates_per_million_permanent_upper95",
    ] {
        assert!(!sh.iter().any(|h| h == gone), "{gone} in summary.csv");
    }
    for kept in [
        "customer_visible_failure_rate_pooled",
        "no_final_answer_rate_pooled",
        "no_final_answer_rate_ci95_hi",
        "messages_per_intent_mean",
    ] {
        assert!(sh.iter().any(|h| h == kept), "no {kept} in summary.csv");
    }
    let at = |name: &str| ph.iter().position(|h| h == name).expect(name);
    let metrics: Vec<&str> = pairs.iter().map(|p| p[at("metric")].as_str()).collect();
    for m in [
        "completion_latency_p50_ms",
        "completion_latency_p95_ms",
        "completion_latency_p99_ms",
    ] {
        assert!(metrics.contains(&m), "no {m} in pairs.csv");
    }
    // Idempotent against naive, seed by seed, in the same drop setting.
    let p = pairs
        .iter()
        .find(|r| {
            r[at("compared")] == "policy"
                && r[at("policy")] == "idempotent"
                && r[at("drop")] == "0.05"
                && r[at("metric")] == "duplicates_per_million_permanent"
        })
        .expect("a paired row");
    let (a, b) = (&p[0], &p[1]);
    let d: Vec<f64> = values(a, "duplicates_per_million_permanent")
        .iter()
        .zip(values(b, "duplicates_per_million_permanent"))
        .map(|(x, y)| x - y)
        .collect();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    assert_eq!(num(p, &ph, "mean_difference"), mean);
    assert!(
        mean < 0.0,
        "the same key should remove naive retry's duplicates"
    );
}

/// A sweep file that must be refused, and where.
struct Bad {
    what: &'static str,
    text: &'static str,
    line: usize,
    col: usize,
    phrase: &'static str,
}

const BAD: &[Bad] = &[
    // Regression: `0.0` and `-0.0`, one probability, made two cells of one scenario.
    Bad {
        what: "a probability and its negative zero",
        text: "Sweep(base: \"base.ron\", seeds: 2, policies: [Naive],\n  parameters: [(path: \"links.terminal_acquirer.drop\", values: [0.0, -0.0])])",
        line: 2,
        col: 69,
        phrase: "the value `-0.0` is read as the same as `0.0`",
    },
    // Regression: an entry of a list the base leaves empty was "not an index from 0 to 0".
    Bad {
        what: "an entry of a list the base leaves empty",
        text: "Sweep(base: \"base.ron\", seeds: 2, policies: [Naive],\n  parameters: [(path: \"faults.random_crashes.0.mean_interval\", values: [\"1s\", \"2s\"])])",
        line: 2,
        col: 23,
        phrase: "`faults.random_crashes` is an empty list in the base scenario: it has no entry `0` to set",
    },
    // Regression: a `#` comment was "expected a value, found `#`" with no word of comments,
    // and a `#!` line was skipped to the first `]` of the file as if an attribute.
    Bad {
        what: "a comment written with `#`",
        text: "# drops\nSweep(base: \"base.ron\", seeds: 2)",
        line: 1,
        col: 1,
        phrase: "found `#`: a comment is written `// ...` or `/* ... */`",
    },
    Bad {
        what: "a `#!` line",
        text: "#!/usr/bin/env payfault\nSweep(base: \"base.ron\", seeds: 2, policies: [Naive])",
        line: 1,
        col: 1,
        phrase: "found `#`: a comment is written `// ...` or `/* ... */`",
    },
    // Regression: a sweep file that starts with a byte-order mark was refused at 1:1, where a
    // scenario file is read past it; its errors are where an editor shows them.
    Bad {
        what: "an error on the first line of a file with a byte-order mark",
        text: "\u{feff}Sweep(base: \"base.ron\", seeds: x)",
        line: 1,
        col: 32,
        phrase: "expected a whole number, found a name",
    },
    Bad {
        what: "an error on a later line of a file with a byte-order mark",
        text: "\u{feff}Sweep(base: \"base.ron\",\n  seeds: x)",
        line: 2,
        col: 10,
        phrase: "expected a whole number, found a name",
    },
    // Regression: an empty name made an empty column header in results.csv.
    Bad {
        what: "an empty parameter name",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(name: \"\", path: \"terminals\", values: [2, 3])])",
        line: 2,
        col: 23,
        phrase: "a parameter's `name` is its column in results.csv: give it one that is not empty",
    },
    // Regression: values written differently but read as one value made two cells of one
    // scenario.
    Bad {
        what: "one number written two ways",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(path: \"terminals\", values: [2, 3,\n    0x2])])",
        line: 3,
        col: 5,
        phrase: "the value `0x2` is read as the same as `2`, first at line 2, column 45",
    },
    Bad {
        what: "one duration written two ways",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(path: \"policy.timeout\", values: [\"1s\", \"1000ms\"])])",
        line: 2,
        col: 56,
        phrase: "the value `1000ms` is read as the same as `1s`, first at line 2, column 50",
    },
    // Regression: a parameter named like a metric gave results.csv two columns of one name.
    Bad {
        what: "a parameter named like a metric",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(name: \"attempts\", path: \"policy.max_attempts\", values: [2, 3])])",
        line: 2,
        col: 16,
        phrase: "`attempts` is a metric's column in results.csv: give this parameter another `name`",
    },
    Bad {
        what: "a parameter named like a column of summary.csv",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(name: \"seeds\", path: \"policy.max_attempts\", values: [2, 3])])",
        line: 2,
        col: 16,
        phrase: "`seeds` is a column of summary.csv or pairs.csv: give this parameter another `name`",
    },
    Bad {
        what: "a parameter named like a column of pairs.csv",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(name: \"metric\", path: \"policy.max_attempts\", values: [2, 3])])",
        line: 2,
        col: 16,
        phrase: "`metric` is a column of summary.csv or pairs.csv: give this parameter another `name`",
    },
    Bad {
        what: "a probability above one",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(path: \"links.terminal_acquirer.drop\", values: [0.1, 1.5])])",
        line: 2,
        col: 69,
        phrase: "expected a probability between 0 and 1, found 1.5",
    },
    Bad {
        what: "a path that does not exist",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(path: \"links.terminal_acquirer.dorp\", values: [0.1])])",
        line: 2,
        col: 23,
        phrase: "`links.terminal_acquirer` has no field `dorp`: its fields are latency, drop, duplicate",
    },
    Bad {
        what: "a path through an absent part",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(path: \"switch.servers\", values: [2])])",
        line: 2,
        col: 23,
        phrase: "`switch` is None in the base scenario",
    },
    // Regression: a limit the base leaves unset, which its text leaves out, was said not to
    // exist (the base of these cases sets `max_events`).
    Bad {
        what: "a limit the base does not set",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(path: \"limits.max_pending\", values: [1000000])])",
        line: 2,
        col: 23,
        phrase: "`limits.max_pending` is not set in the base scenario: give it a value there",
    },
    Bad {
        what: "a zero timeout",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(path: \"policy.timeout\", values: [\"1s\",\n      \"0s\"])])",
        line: 3,
        col: 7,
        phrase: "expected a duration longer than zero, found 0",
    },
    Bad {
        what: "a value of the wrong type inside a variant",
        text: "Sweep(base: \"base.ron\", seeds: 2, parameters: [(name: \"b\", variants: [\n  (name: \"x\", set: [(\"policy.backoff\", FullJitter(base: \"10ms\", cap: 7))])])])",
        line: 2,
        col: 70,
        phrase: "`policy.backoff` = FullJitter(base: \"10ms\", cap: 7)",
    },
    Bad {
        what: "an unknown policy",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  policies: [Naive, Sometimes])",
        line: 2,
        col: 21,
        phrase: "unknown policy `Sometimes`, expected one of None, Naive",
    },
    Bad {
        what: "an unknown field",
        text: "Sweep(base: \"base.ron\",\n  seed: 2)",
        line: 2,
        col: 3,
        phrase: "unknown field `seed`, expected one of `title`",
    },
    Bad {
        what: "a missing base scenario",
        text: "Sweep(\n  base: \"nowhere.ron\", seeds: 2)",
        line: 2,
        col: 9,
        phrase: "cannot read the base scenario",
    },
    Bad {
        what: "no seeds",
        text: "Sweep(base: \"base.ron\", seeds: 0)",
        line: 1,
        col: 32,
        phrase: "expected between 1 and 1000000 seeds, found 0",
    },
    // Regression: "expected a whole number of at least 0", where 0 is refused too.
    Bad {
        what: "negative seeds",
        text: "Sweep(base: \"base.ron\", seeds: -2)",
        line: 1,
        col: 32,
        phrase: "expected a whole number, found -2",
    },
    // Regression: a fraction for a count was read as 0 and refused for being 0.
    Bad {
        what: "a fraction for a count",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(path: \"terminals\", values: [4, 0.5])])",
        line: 2,
        col: 48,
        phrase: "`terminals` = 0.5: expected a whole number, found 0.5",
    },
    // Regression: an unknown policy as the baseline was said not to be among the sweep's.
    Bad {
        what: "an unknown baseline",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  baseline: Foo)",
        line: 2,
        col: 13,
        phrase: "unknown policy `Foo`: the baseline is one of",
    },
    Bad {
        what: "two settings of one place",
        text: "Sweep(base: \"base.ron\", seeds: 1, parameters: [\n  (path: \"policy.backoff\", values: [Fixed(\"1s\")]),\n  (path: \"policy.backoff\", values: [Fixed(\"2s\")], name: \"b2\")])",
        line: 3,
        col: 10,
        phrase: "`policy.backoff` is set twice in one cell",
    },
    Bad {
        what: "the policy kind as a parameter",
        text: "Sweep(base: \"base.ron\", seeds: 1,\n  parameters: [(path: \"policy.kind\", values: [Naive, Idempotent])])",
        line: 2,
        col: 23,
        phrase: "vary the policy kind with `policies: [...]`",
    },
    Bad {
        what: "a chart of no metric",
        text: "Sweep(base: \"base.ron\", seeds: 1, charts: [\"overload\"])",
        line: 1,
        col: 44,
        phrase: "no metric `overload`",
    },
    Bad {
        what: "a value given twice",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(path: \"terminals\", values: [4, 8,\n    4])])",
        line: 3,
        col: 5,
        phrase: "the value `4` is given twice, first at line 2, column 45",
    },
    // Regression: the size of the grid was checked only once every parameter had been read,
    // and the refusal pointed at the start of the file.
    Bad {
        what: "a parameter that takes the grid past its limit",
        text: "Sweep(base: \"base.ron\", seeds: 1,\n  policies: [None, Naive, Idempotent, ReversalThenRetry, InquireThenRetry],\n  parameters: [\n    (name: \"a\", path: \"x\", values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),\n    (name: \"b\", path: \"x\", values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),\n    (name: \"c\", path: \"x\", values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),\n    (name: \"d\", path: \"x\", values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),\n    (name: \"e\", path: \"x\", values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),\n  ])",
        line: 8,
        col: 36,
        phrase: "more than 100000 cells: 10 values here times 50000 from the policies and the parameters before",
    },
    // Regression: a range whose last seed is the largest was refused as an overflow, and a
    // range past it was refused at 1:1.
    Bad {
        what: "seeds past the largest seed",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  seed_start: 18446744073709551615)",
        line: 2,
        col: 15,
        phrase: "expected a seed_start of at most 18446744073709551614, found 18446744073709551615",
    },
    // Regression: "unknown policy ``: the baseline is one of naive", naming nothing.
    Bad {
        what: "a number as the baseline",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  baseline: 1)",
        line: 2,
        col: 13,
        phrase: "expected a policy name from `policies` as the baseline (one of naive), found a number `1`",
    },
    // Regression: "the baseline is not among the sweep's policies `None`: the baseline is one
    // of naive, idempotent".
    Bad {
        what: "a baseline that is not among the policies",
        text: "Sweep(base: \"base.ron\", seeds: 2, policies: [Naive, Idempotent],\n  baseline: None)",
        line: 2,
        col: 13,
        phrase: "the baseline `None` is not among the sweep's policies (naive, idempotent)",
    },
    // Regression: "Expected string", RON's name for the type, not what the setting takes.
    Bad {
        what: "a number for a duration",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(path: \"bank.idempotency.retention\", values: [\"1h\", 0])])",
        line: 2,
        col: 68,
        phrase: "`bank.idempotency.retention` = 0: expected a duration in quotes, with a unit, such as \"1s\" or \"250ms\", found `0`",
    },
    // Regression: "Expected float".
    Bad {
        what: "a string for a probability",
        text: "Sweep(base: \"base.ron\", seeds: 2,\n  parameters: [(path: \"links.terminal_acquirer.drop\", values: [\"0.1\"])])",
        line: 2,
        col: 64,
        phrase: "`links.terminal_acquirer.drop` = \"0.1\": expected a number, found the string \"0.1\"",
    },
];

#[test]
fn bad_sweep_files_are_refused_with_file_line_and_column() {
    let dir = scratch("bad");
    std::fs::copy(fixture("base.ron"), dir.join("base.ron")).expect("copy base");
    for b in BAD {
        let file = dir.join("bad.ron");
        std::fs::write(&file, b.text).expect("write");
        let out = payfault(&[
            "sweep",
            &file.display().to_string(),
            "--out",
            &dir.join("out").display().to_string(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", b.what);
        let at = format!("{}:{}:{}: ", file.display(), b.line, b.col);
        assert!(err.contains(&at), "{}: expected {at} in {err}", b.what);
        assert!(
            err.contains(b.phrase),
            "{}: expected {:?} in {err}",
            b.what,
            b.phrase
        );
        assert!(!dir.join("out").exists(), "{}: wrote output", b.what);
    }
}

/// Regression: a sweep file that starts with a UTF-8 byte-order mark was refused ("expected a
/// value, found `\u{feff}`") where a scenario file with one is read.
#[test]
fn a_sweep_file_with_a_byte_order_mark_is_read_as_without_it() {
    let dir = scratch("bom");
    std::fs::copy(fixture("base.ron"), dir.join("base.ron")).expect("copy base");
    let text = read(&fixture("tiny.ron"));
    let (plain, marked) = (dir.join("plain.ron"), dir.join("marked.ron"));
    std::fs::write(&plain, &text).expect("write");
    std::fs::write(&marked, format!("\u{feff}{text}")).expect("write");
    sweep(&plain, &dir.join("plain"), &[]);
    sweep(&marked, &dir.join("marked"), &[]);
    assert_eq!(
        read(&dir.join("marked/results.csv")),
        read(&dir.join("plain/results.csv"))
    );
    // The copy of the sweep file is the file as given, mark included.
    assert_eq!(
        std::fs::read(dir.join("marked/input/sweep.ron")).expect("a copy"),
        std::fs::read(&marked).expect("the file")
    );
}

/// Regression: a parameter of 100001 values was refused for the size of its grid only after a
/// check for repeated values that compared every pair of them (36 s; 165 s with 400-digit
/// values), and the refusal pointed at the start of the file.
#[test]
fn a_parameter_past_the_grid_limit_is_refused_before_its_values_are_compared() {
    let dir = scratch("huge");
    std::fs::copy(fixture("base.ron"), dir.join("base.ron")).expect("copy base");
    let values: Vec<String> = (0..=100_000)
        .map(|i| format!("{}.{:06}", i / 1_000_000, i % 1_000_000))
        .collect();
    let file = dir.join("huge.ron");
    std::fs::write(
        &file,
        format!(
            "Sweep(base: \"base.ron\", seeds: 1, policies: [Naive], parameters: [\n  (name: \"d\", \
             path: \"links.terminal_acquirer.drop\",\n   values: [{}])])",
            values.join(", ")
        ),
    )
    .expect("write");
    let out = payfault_in_time(&args(&[
        "sweep",
        &file.display().to_string(),
        "--out",
        &dir.join("out").display().to_string(),
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let expected = format!(
        "{}:3:12: more than 100000 cells: 100001 values here times 1 from the policies",
        file.display()
    );
    assert!(err.contains(&expected), "expected {expected:?} in {err}");
}

#[test]
fn a_folder_that_is_not_a_report_is_left_alone() {
    let dir = scratch("foreign");
    std::fs::write(dir.join("notes.txt"), "mine").expect("write");
    let out = payfault(&[
        "sweep",
        &fixture("tiny.ron").display().to_string(),
        "--out",
        &dir.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a sweep's report folder"));
    assert_eq!(read(&dir.join("notes.txt")), "mine");
}

/// Regression: `merge s1 s2 --out s1` replaced the shard folder s1, an input, with the merged
/// report.
#[test]
fn merge_refuses_an_out_that_is_one_of_its_inputs() {
    let root = scratch("merge-into-input");
    let (s1, s2) = (root.join("s1"), root.join("s2"));
    sweep(&fixture("tiny.ron"), &s1, &["--shard", "1/2"]);
    sweep(&fixture("tiny.ron"), &s2, &["--shard", "2/2"]);
    std::os::unix::fs::symlink(&s1, root.join("link")).expect("symlink");
    let before = tree(&s1);
    let spelled = |p: &Path| p.display().to_string();
    for (out, phrase) in [
        (
            spelled(&s1),
            format!("--out {} is an input, one of", spelled(&s1)),
        ),
        (
            format!("{}/", s1.display()),
            format!("--out {}/ is an input, one of", s1.display()),
        ),
        (
            spelled(&root.join("s2/../s1")),
            "one of the folders merged: the merged report would replace it".into(),
        ),
        (
            spelled(&root.join("link")),
            format!("is the input {}, one of the folders merged", s1.display()),
        ),
        // Regression: an --out inside an input, its `cells` folder or a folder still to be
        // made in it, got the merged report written into the shard.
        (
            spelled(&s1.join("cells")),
            format!("is inside {}, one of the folders merged", s1.display()),
        ),
        (
            spelled(&s1.join("new/report")),
            format!("is inside {}, one of the folders merged", s1.display()),
        ),
        (
            spelled(&s1.join("new/../merged")),
            format!("is inside {}, one of the folders merged", s1.display()),
        ),
    ] {
        let out_ = payfault_in_time(&args(&[
            "merge",
            &spelled(&s1),
            &spelled(&s2),
            "--out",
            &out,
        ]));
        let err = String::from_utf8_lossy(&out_.stderr);
        assert_eq!(out_.status.code(), Some(2), "--out {out}: {err}");
        assert!(
            err.contains(&phrase),
            "--out {out}: expected {phrase:?} in {err}"
        );
        assert!(tree(&s1) == before, "--out {out} changed {}", s1.display());
    }
    // Nor the folder where a new report for --out is built before it takes the old one's place.
    let report = root.join("report");
    sweep(&fixture("tiny.ron"), &report, &[]);
    let staging = root.join(".report.payfault-new");
    sweep(&fixture("tiny.ron"), &staging, &["--shard", "1/2"]);
    let out = payfault_in_time(&args(&[
        "merge",
        &spelled(&staging),
        &spelled(&s2),
        "--out",
        &spelled(&report),
    ]));
    refused(&out, &["is where the merged report for --out"]);
}

/// Regression: an `--out` that could not be made was refused with the system's words alone
/// ("Not a directory (os error 20)", "File exists (os error 17)", "No such file or directory"),
/// naming neither the option nor what was in the way.
#[test]
fn an_out_that_cannot_be_made_is_refused_naming_the_option_the_path_and_why() {
    let root = scratch("bad-out");
    let whole = root.join("whole");
    sweep(&fixture("tiny.ron"), &whole, &[]);
    let a_file = root.join("a-file");
    std::fs::write(&a_file, "mine").expect("write");
    let nowhere = root.join("nowhere").join("x");
    std::os::unix::fs::symlink(&nowhere, root.join("dangling")).expect("symlink");
    let at = |p: &Path| p.display().to_string();
    let cases = [
        (
            at(&a_file.join("sub")),
            format!(": --out cannot be made: {} is not a folder", at(&a_file)),
        ),
        (
            at(&root.join("dangling")),
            format!(
                ": --out is a symbolic link to {}, which does not exist",
                at(&nowhere)
            ),
        ),
        (
            at(&root.join("dangling").join("sub")),
            format!(
                ": --out cannot be made: {} is a symbolic link to {}, which does not exist",
                at(&root.join("dangling")),
                at(&nowhere)
            ),
        ),
        (
            "/proc/payfault-x".to_string(),
            ": --out cannot be made: /proc takes no new folders".to_string(),
        ),
    ];
    for (out, phrase) in cases {
        for command in [
            args(&["sweep", &at(&fixture("tiny.ron")), "--out", &out]),
            args(&["merge", &at(&whole), "--out", &out]),
        ] {
            let o = payfault_in_time(&command);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{command:?}: {err}");
            let expected = format!("error: {out}{phrase}");
            assert!(
                err.contains(&expected),
                "{command:?}: expected {expected:?} in {err}"
            );
        }
    }
    assert_eq!(read(&a_file), "mine");
    assert!(!nowhere.exists());
    assert_eq!(names(&root), ["a-file", "dangling", "whole"]);
}

/// `payfault` with `args`, which must be done within a minute: a refusal that never comes is a
/// hang, and a test that hangs says nothing.
fn payfault_in_time(args: &[String]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(args)
        .env("CI", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("payfault {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "payfault panicked: {stderr}");
    out
}

/// The names in a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .expect("readable folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// A web app's folder, with its own `manifest.json`: nothing a report would write.
const SITE: &[(&str, &str)] = &[
    ("manifest.json", "{\"name\":\"my pwa\"}\n"),
    ("index.html", "site\n"),
    ("report.md", "notes\n"),
    ("charts/q3-sales.svg", "precious\n"),
];

/// Regression: any folder holding a `manifest.json` was taken for a report folder, so a sweep
/// into a web app's folder overwrote its index.html, report.md and manifest.json and deleted
/// its charts.
#[test]
fn a_folder_with_another_programs_manifest_is_left_alone() {
    let root = scratch("pwa");
    let whole = root.join("whole");
    sweep(&fixture("tiny.ron"), &whole, &[]);
    let site = root.join("site");
    for (file, text) in SITE {
        let path = site.join(file);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let before = tree(&site);
    let (tiny, whole, site_arg) = (
        fixture("tiny.ron").display().to_string(),
        whole.display().to_string(),
        site.display().to_string(),
    );
    for command in [
        args(&["sweep", &tiny, "--out", &site_arg]),
        args(&["sweep", &tiny, "--out", &site_arg, "--resume"]),
        args(&["merge", &whole, "--out", &site_arg]),
    ] {
        let out = payfault_in_time(&command);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            tree(&site) == before,
            "{command:?} changed {site_arg}: {err}"
        );
        assert_eq!(out.status.code(), Some(2), "{command:?}: {err}");
        assert!(
            err.contains(&format!(
                "{site_arg} is not a report folder this payfault wrote: its manifest.json is \
                 not a sweep's manifest"
            )),
            "{command:?}: {err}"
        );
    }
}

/// A sweep refused before it runs, and the words that say why.
struct Refused {
    sweep: &'static str,
    extra: &'static [&'static str],
    phrase: &'static str,
}

const REFUSED: &[Refused] = &[
    Refused {
        sweep: "tiny.ron",
        extra: &["--jobs", "0"],
        phrase: "expected between 1 and 1024 worker threads, found 0",
    },
    Refused {
        sweep: "tiny.ron",
        extra: &["--jobs", "100000"],
        phrase: "expected between 1 and 1024 worker threads, found 100000",
    },
    Refused {
        sweep: "tiny.ron",
        extra: &["--jobs", "many"],
        phrase: "expected a whole number of worker threads",
    },
    Refused {
        sweep: "tiny.ron",
        extra: &["--shard", "3/2"],
        phrase: "expected K/N with 1 <= K <= N",
    },
    Refused {
        sweep: "nowhere.ron",
        extra: &[],
        phrase: "nowhere.ron",
    },
    Refused {
        sweep: "nowhere.ron",
        extra: &["--resume"],
        phrase: "nowhere.ron",
    },
];

/// Regression: the report folder was cleared before the arguments were checked, so a refused
/// sweep (`--jobs 0`) deleted the earlier report's results, charts and cell files, and
/// `--jobs 100000` went on to start that many threads and hung.
#[test]
fn a_refused_sweep_leaves_the_earlier_report_as_it_was() {
    let root = scratch("refused");
    let report = root.join("report");
    sweep(&fixture("tiny.ron"), &report, &[]);
    let before = tree(&report);
    for r in REFUSED {
        let mut command = args(&[
            "sweep",
            &fixture(r.sweep).display().to_string(),
            "--out",
            &report.display().to_string(),
        ]);
        command.extend(args(r.extra));
        let out = payfault_in_time(&command);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            tree(&report) == before,
            "{command:?} changed the report: {err}"
        );
        assert_eq!(out.status.code(), Some(2), "{command:?}: {err}");
        assert!(
            err.contains(r.phrase),
            "{command:?}: expected {:?} in {err}",
            r.phrase
        );
    }
    assert_eq!(
        names(&root),
        ["report"],
        "a refused sweep left something beside it"
    );
}

/// A grid whose cells with a budget of 50 events stop mid-run: that value is the mistake.
const STOPS: &str = "Sweep(base: \"base.ron\", seeds: 2, policies: [Naive, Idempotent],\n  \
                     parameters: [(path: \"limits.max_events\", values: [1000000, 50])])";
/// The same grid with the mistake mended: its other cells are the same cells.
const MENDED: &str = "Sweep(base: \"base.ron\", seeds: 2, policies: [Naive, Idempotent],\n  \
                      parameters: [(path: \"limits.max_events\", values: [1000000, 2000000])])";

/// Regression: a sweep that stopped mid-run (a cell over its `max_events`) had already deleted
/// the earlier report in its folder before the first cell ran.
#[test]
fn a_sweep_that_stops_mid_run_leaves_the_earlier_report_and_resume_keeps_its_cells() {
    let root = scratch("stops");
    std::fs::copy(fixture("base.ron"), root.join("base.ron")).expect("copy base");
    let (stops, mended) = (root.join("stops.ron"), root.join("mended.ron"));
    std::fs::write(&stops, STOPS).expect("write");
    std::fs::write(&mended, MENDED).expect("write");
    let report = root.join("report");
    sweep(&fixture("tiny.ron"), &report, &[]);
    // A file of the user's in the folder belongs to the folder, whatever report it holds.
    std::fs::write(report.join("notes.txt"), "mine").expect("write");
    let before = tree(&report);

    let out = payfault_in_time(&args(&[
        "sweep",
        &stops.display().to_string(),
        "--out",
        &report.display().to_string(),
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        tree(&report) == before,
        "the stopped sweep changed the report: {err}"
    );
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cell-002 seed 1: the run stopped")
            && err.contains(&format!("{} is as it was", report.display())),
        "{err}"
    );

    // The cells it finished are not lost: mended, the sweep runs only the others. Cell 1,
    // before the stopped cell 2, always finishes; cell 3, after it, finishes unless the stop
    // came first and ended its runs.
    let out = sweep(&mended, &report, &["--resume"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        (err.contains("2 cells x 2 seeds") && err.contains("2 finished cells kept"))
            || (err.contains("3 cells x 2 seeds") && err.contains("1 finished cell kept")),
        "{err}"
    );
    assert_eq!(read(&report.join("notes.txt")), "mine");
    std::fs::remove_file(report.join("notes.txt")).expect("remove");
    let whole = root.join("whole");
    sweep(&mended, &whole, &[]);
    assert_same_folder(&whole, &report);
    // Beside the folders, only the stopped cell's scenario, kept for its replay command.
    assert_eq!(
        names(&root),
        [
            "base.ron",
            "mended.ron",
            "report",
            "report.stopped-cell-002.ron",
            "stops.ron",
            "whole"
        ],
        "the sweeps left something beside their folders"
    );
}

/// A cell that stops ends the runs of the cells after it, not before: the one reported is
/// the grid's first to stop, though here the second stops at once and the first only after
/// a million and a half events.
#[test]
fn the_failure_reported_is_the_grids_first_however_the_runs_are_timed() {
    let root = scratch("first-stop");
    std::fs::copy(fixture("base.ron"), root.join("base.ron")).expect("copy base");
    let file = root.join("s.ron");
    std::fs::write(
        &file,
        r#"Sweep(base: "base.ron", seeds: 1, policies: [Naive],
  parameters: [(name: "stop", variants: [
    (name: "late", set: [("workload.purchases", 200000), ("limits.max_events", 1500000)]),
    (name: "at once", set: [("limits.max_events", 50)]),
  ])])"#,
    )
    .expect("write");
    let out = payfault_in_time(&args(&[
        "sweep",
        &file.display().to_string(),
        "--out",
        &root.join("out").display().to_string(),
        "--jobs",
        "2",
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "error: cell-001 seed 1: the run stopped: the run passed its limit of 1500000 events"
        ),
        "{err}"
    );
}

/// The command a stopped sweep printed to replay the run, pasted into a shell: it must replay
/// that run (of 50 events).
fn assert_replays(err: &str, cwd: &Path) {
    let replay = err
        .split("(replay: payfault ")
        .nth(1)
        .and_then(|r| r.split(")\n").next())
        .unwrap_or_else(|| panic!("no replay command in {err}"));
    let pasted = Command::new("sh")
        .arg("-c")
        .arg(format!("\"$PAYFAULT\" {replay}"))
        .env("PAYFAULT", env!("CARGO_BIN_EXE_payfault"))
        .current_dir(cwd)
        .output()
        .expect("sh starts");
    let again = String::from_utf8_lossy(&pasted.stderr);
    assert!(
        again.contains("passed its limit of 50 events"),
        "`payfault {replay}` did not replay the run: {again}"
    );
}

/// Regression: a sweep that stopped in a folder holding a report printed a replay command
/// naming the scenario in `.<name>.payfault-new`, the new report's working folder, which the
/// next run into the folder replaces: the command then failed with "cannot read".
#[test]
fn the_replay_command_of_a_stopped_run_outlives_the_next_run_into_the_folder() {
    let root = scratch("outlives");
    std::fs::copy(fixture("base.ron"), root.join("base.ron")).expect("copy base");
    let (stops, mended) = (root.join("stops.ron"), root.join("mended.ron"));
    std::fs::write(&stops, STOPS).expect("write");
    std::fs::write(&mended, MENDED).expect("write");
    // Into a folder that holds a report (built beside it), and into a fresh one (in place).
    for (folder, earlier) in [("report", true), ("fresh", false)] {
        let report = root.join(folder);
        if earlier {
            sweep(&fixture("tiny.ron"), &report, &[]);
        }
        let before = earlier.then(|| tree(&report));
        // Named relative to the folder the command runs in, as a user types it.
        let out = Command::new(env!("CARGO_BIN_EXE_payfault"))
            .args(["sweep", "stops.ron", "--out", folder])
            .current_dir(&*root)
            .env("CI", "1")
            .output()
            .expect("the binary starts");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{err}");
        if let Some(before) = before {
            assert!(
                tree(&report) == before,
                "the stopped sweep changed the report"
            );
        }
        assert!(
            err.contains(&format!(
                "the cell's scenario is kept beside the folder (replay: payfault run \
                 {folder}.stopped-cell-002.ron --seed 1)"
            )),
            "{err}"
        );
        assert_replays(&err, &root);
        // The next run into the folder, whatever it replaces, leaves the replay working.
        sweep(&mended, &report, &[]);
        assert_replays(&err, &root);
    }
}

/// Regression: the replay command printed for a run that stopped named its scenario file
/// unquoted, so a report folder with a space in its name pasted back as two words.
#[test]
fn the_replay_command_of_a_stopped_run_pastes_back_into_a_shell() {
    let root = scratch("replay");
    std::fs::copy(fixture("base.ron"), root.join("base.ron")).expect("copy base");
    let stops = root.join("stops.ron");
    std::fs::write(&stops, STOPS).expect("write");
    let out = payfault_in_time(&args(&[
        "sweep",
        &stops.display().to_string(),
        "--out",
        &root.join("my report").display().to_string(),
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_replays(&err, &root);
}

/// The attributes of `<body>` after headless Chromium loaded `html` and ran its scripts.
fn body_in_chromium(chromium: &Path, html: &Path, scratch: &Path) -> String {
    let dom_file = scratch.join("dom.html");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.join("profile").display()
        ))
        .arg(format!(
            "file://{}",
            html.canonicalize().expect("path").display()
        ))
        // To a file: a pipe left unread while waiting would fill and stall the browser.
        .stdout(std::fs::File::create(&dom_file).expect("dom file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let dom = read(&dom_file);
    dom.split("<body")
        .nth(1)
        .and_then(|b| b.split('>').next())
        .unwrap_or_else(|| panic!("no <body> in what chromium printed: {dom:.500}"))
        .to_string()
}

/// Loads the report in headless Chromium and reads what its script found: every chart drawn
/// with text in it, and no resource that failed to load or was refused. A copy with one chart
/// removed and an outside image added must be caught, or the check proves nothing.
#[test]
fn the_html_report_renders_in_headless_chromium() {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "this test needs headless Chromium at /usr/bin/chromium: install Debian's package \
         (apt-get install -y chromium), as .ci/run does"
    );
    let root = scratch("browser");
    let out = root.join("report");
    sweep(&fixture("tiny.ron"), &out, &[]);
    let html = out.join("index.html");
    let text = read(&html);
    let expected = text.matches("<figure class=\"chart\"").count();
    assert!(expected >= 6);
    let body = body_in_chromium(chromium, &html, &root);
    assert!(
        body.contains("data-report-status=\"ok\""),
        "the page reports a problem: <body{body}>"
    );
    assert!(
        body.contains(&format!("data-charts-rendered=\"{expected}\""))
            && body.contains(&format!("data-charts-expected=\"{expected}\""))
            && body.contains("data-load-failures=\"0\""),
        "<body{body}>"
    );

    let broken = out.join("broken.html");
    let sabotaged = text
        .replacen("<svg class=\"plot\"", "<div class=\"plot\"", 1)
        .replacen("</h1>", "</h1><img src=\"charts/nothing.png\" alt=\"\">", 1);
    std::fs::write(&broken, sabotaged).expect("write");
    let body = body_in_chromium(chromium, &broken, &root);
    assert!(
        body.contains("data-report-status=\"failed: chart-")
            && body.contains(&format!("data-charts-rendered=\"{}\"", expected - 1))
            && !body.contains("data-load-failures=\"0\""),
        "a missing chart and a refused image went unnoticed: <body{body}>"
    );
}

/// Regression: with one seed, summary.csv gave the point estimate as the 95% upper bound of a
/// duplicate rate, the report's captions promised intervals there are none of, and its
/// statistics spoke of "n − 1 = 0 degrees of freedom". A rate over one seed's intents still
/// has its exact interval; a mean over one seed has none.
#[test]
fn one_seed_gives_means_without_intervals_and_rates_with_their_exact_interval() {
    let dir = scratch("one-seed");
    let text = read(&fixture("tiny.ron")).replace("seeds: 3,", "seeds: 1,");
    std::fs::copy(fixture("base.ron"), dir.join("base.ron")).unwrap();
    let file = dir.join("one-seed.ron");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("r");
    sweep(&file, &out, &[]);
    let (head, rows) = csv(&out.join("summary.csv"));
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let mut seen = 0;
    for row in &rows {
        let num = |name: &str| -> f64 { row[col(name)].parse().expect("a number") };
        assert_eq!(row[col("messages_per_intent_ci95_hi")], "", "{row:?}");
        let (pooled, hi) = (
            num("duplicates_per_million_permanent_pooled"),
            num("duplicates_per_million_permanent_ci95_hi"),
        );
        assert!(hi > pooled, "{row:?}");
        if num("duplicate_permanent_total") > 0.0 {
            seen += 1;
            assert!(
                num("duplicates_per_million_permanent_ci95_lo") > 0.0,
                "{row:?}"
            );
        }
    }
    assert!(seen > 0, "the naive cells double-debit: {rows:?}");
    let report = read(&out.join("report.md"));
    for wrong in ["with 95% intervals", "degrees of freedom", "= 0 degrees"] {
        assert!(!report.contains(wrong), "{wrong:?} in {report}");
    }
    assert!(report.contains("seed, without intervals"), "{report}");
    assert!(
        report.contains("without intervals: no cell has two seeds"),
        "{report}"
    );
    assert!(
        report.contains(
            "with one seed no spread between seeds can be seen (summary.csv gives φ = 1)"
        ),
        "{report}"
    );
}

/// Regression: the trade-off chart draws its measured points without their intervals, yet its
/// legend showed "95% interval" and its text did not say they were left out.
#[test]
fn the_trade_off_says_its_measured_points_have_no_interval_drawn() {
    let out = scratch("tradeoff");
    sweep(&fixture("tiny.ron"), &out, &[]);
    let svg = read(&out.join("charts/tradeoff.svg"));
    assert!(!svg.contains(">\n95% interval\n</text>"), "{svg}");
    let report = read(&out.join("report.md"));
    let text = report
        .lines()
        .find(|l| l.starts_with("What each policy pays for safety"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        text.contains("A rate that was seen is drawn without its 95% interval")
            && text.contains("the results table gives it"),
        "{text}"
    );
}

/// Regression: `seed_start: 18446744073709551615, seeds: 1` was refused as an overflow, though
/// that range holds one seed, the largest; and the list of a cell's seeds ended past it.
#[test]
fn a_sweep_runs_the_largest_seed() {
    let dir = scratch("largest-seed");
    let text = read(&fixture("tiny.ron"))
        .replace("seeds: 3,", "seeds: 1,")
        .replace("seed_start: 5,", "seed_start: 18446744073709551615,");
    std::fs::copy(fixture("base.ron"), dir.join("base.ron")).expect("copy base");
    let file = dir.join("largest-seed.ron");
    std::fs::write(&file, text).expect("write");
    let out = dir.join("r");
    sweep(&file, &out, &[]);
    let (head, rows) = csv(&out.join("results.csv"));
    let seed = head
        .iter()
        .position(|h| h == "seed")
        .expect("a seed column");
    let seeds: Vec<&str> = rows.iter().map(|r| r[seed].as_str()).collect();
    assert_eq!(seeds, ["18446744073709551615"; 4]);
    let report = read(&out.join("report.md"));
    assert!(
        report.contains("each run on seed 18446744073709551615:"),
        "{report}"
    );
}

/// Regression: with the policy as the only axis, the captions compared the last policy with
/// itself ("from 1398 ms (idempotent) to 1398 ms (idempotent)").
#[test]
fn with_policies_alone_the_captions_compare_the_policies() {
    let dir = scratch("policies-alone");
    std::fs::copy(fixture("base.ron"), dir.join("base.ron")).unwrap();
    let file = dir.join("policies.ron");
    std::fs::write(
        &file,
        r#"Sweep(title: "Policies only", base: "base.ron", seeds: 2, seed_start: 5,
              policies: [None, Naive, Idempotent], baseline: Naive)"#,
    )
    .unwrap();
    let out = dir.join("r");
    sweep(&file, &out, &[]);
    let report = read(&out.join("report.md"));
    let line = report
        .lines()
        .find(|l| l.starts_with("How long a customer waits"))
        .unwrap_or_else(|| panic!("{report}"));
    let (_, range) = line
        .split_once("Per policy, the p99 runs from ")
        .unwrap_or_else(|| panic!("{line}"));
    let names: Vec<&str> = range.split(['(', ')']).skip(1).step_by(2).take(2).collect();
    assert_eq!(names.len(), 2, "{line}");
    assert_ne!(names[0], names[1], "{line}");
}

/// A sweep of two terminals for 300 ms, on which some seeds issue no purchase: its scratch
/// folder (removed when dropped) and its report folder.
fn sparse_sweep(name: &str) -> (Scratch, PathBuf) {
    let dir = scratch(name);
    let base = read(&fixture("base.ron"))
        .replace("terminals: 10,", "terminals: 2,")
        .replace("purchases: 300,", r#"duration: "300ms","#);
    std::fs::write(dir.join("base.ron"), base).unwrap();
    let file = dir.join("sparse.ron");
    std::fs::write(
        &file,
        r#"Sweep(title: "Sparse", base: "base.ron", seeds: 8, seed_start: 1,
              policies: [Naive, Idempotent], baseline: Naive)"#,
    )
    .unwrap();
    let out = dir.join("r");
    sweep(&file, &out, &[]);
    (dir, out)
}

/// Regression: a seed that issued no purchase gave its per-intent metrics and percentiles as
/// 0, and the means over seeds averaged those zeros in.
#[test]
fn seeds_without_purchases_are_left_out_of_per_intent_means() {
    let (_dir, out) = sparse_sweep("no-purchases");
    let (head, rows) = csv(&out.join("results.csv"));
    let col = |h: &[String], name: &str| h.iter().position(|c| c == name).unwrap();
    let (intents, msgs) = (col(&head, "intents"), col(&head, "messages_per_intent"));
    let naive: Vec<&Vec<String>> = rows.iter().filter(|r| r[1] == "naive").collect();
    let empty = naive.iter().filter(|r| r[intents] == "0").count();
    assert!(
        empty > 0 && empty < naive.len(),
        "the fixture needs seeds with and without purchases: {naive:?}"
    );
    let issued: Vec<f64> = naive
        .iter()
        .filter(|r| r[intents] != "0")
        .map(|r| r[msgs].parse().unwrap())
        .collect();
    let expected = issued.iter().sum::<f64>() / issued.len() as f64;
    let (shead, srows) = csv(&out.join("summary.csv"));
    let mean: f64 = srows.iter().find(|r| r[1] == "naive").unwrap()
        [col(&shead, "messages_per_intent_mean")]
    .parse()
    .unwrap();
    assert!((mean - expected).abs() < 1e-9, "{mean} against {expected}");
    for name in ["summary.csv", "pairs.csv", "report.md"] {
        let text = read(&out.join(name));
        assert!(!text.contains("NaN"), "{name}: {text}");
    }
}

/// The `[a, b]` intervals of a text whose ends are equal.
fn zero_width_intervals(text: &str) -> Vec<String> {
    text.split('[')
        .skip(1)
        .filter_map(|rest| {
            let inside = rest.split(']').next()?;
            let (a, b) = inside.split_once(", ")?;
            (a == b && a.parse::<f64>().is_ok()).then(|| format!("[{inside}]"))
        })
        .collect()
}

/// Regression: a quantity equal on every seed (a percentile in one histogram bucket, a
/// difference of zero) was printed as a "95% interval" of no width, "1016 [1016, 1016]",
/// which excluded the exact value; and nothing said that latency leaves out the intents that
/// never got an answer.
#[test]
fn a_value_equal_on_every_seed_is_said_so_not_given_a_zero_width_interval() {
    let dir = scratch("equal");
    std::fs::copy(fixture("base.ron"), dir.join("base.ron")).unwrap();
    let file = dir.join("lossless.ron");
    std::fs::write(
        &file,
        r#"Sweep(title: "Lossless", base: "base.ron", seeds: 3, policies: [Naive, Idempotent],
              parameters: [(name: "drop", path: "links.terminal_acquirer.drop",
                            also: ["links.acquirer_bank.drop"], values: [0.0, 0.05])])"#,
    )
    .unwrap();
    let out = dir.join("r");
    sweep(&file, &out, &[]);
    let report = read(&out.join("report.md"));
    assert_eq!(
        zero_width_intervals(&report),
        Vec::<String>::new(),
        "{report}"
    );
    // Without loss a purchase is four messages on every seed, and the key changes nothing.
    assert!(report.contains("| 4 on every seed |"), "{report}");
    assert!(report.contains("no difference on any seed"), "{report}");
    for phrase in [
        "each is the upper edge of its bucket, up to 6.25% above the exact value",
        "leave that quantisation out",
        "Latency counts the intents that got a final answer",
        "| no final answer (%) |",
    ] {
        assert!(report.contains(phrase), "no {phrase:?} in {report}");
    }
    let html = read(&out.join("index.html"));
    assert_eq!(zero_width_intervals(&html), Vec::<String>::new());
}

/// Regression: a sweep whose seeds issued no purchase showed "0 (≤ - at 95%)" and wrote `inf`
/// to summary.csv; one with a single policy said "Paired differences subtract the baseline".
#[test]
fn a_grid_without_intents_says_so_and_one_policy_has_no_paired_differences() {
    let dir = scratch("no-intents");
    let base = read(&fixture("base.ron"))
        .replace("terminals: 10,", "terminals: 1,")
        .replace("purchases: 300,", r#"duration: "1us","#);
    std::fs::write(dir.join("base.ron"), base).unwrap();
    let file = dir.join("empty.ron");
    std::fs::write(
        &file,
        r#"Sweep(title: "Empty", base: "base.ron", seeds: 2, policies: [Naive])"#,
    )
    .unwrap();
    let out = dir.join("r");
    sweep(&file, &out, &[]);
    let (head, rows) = csv(&out.join("results.csv"));
    let intents = head.iter().position(|h| h == "intents").unwrap();
    assert!(rows.iter().all(|r| r[intents] == "0"), "{rows:?}");
    let report = read(&out.join("report.md"));
    let row = report
        .lines()
        .find(|l| l.starts_with("| naive |"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(row.contains("| no intents |"), "{row}");
    for wrong in ["≤ -", "Paired differences", "(naive) to"] {
        assert!(!report.contains(wrong), "{wrong:?} in {report}");
    }
    for name in ["summary.csv", "pairs.csv", "report.md", "index.html"] {
        let text = read(&out.join(name));
        assert!(
            !text.contains("inf") && !text.contains("NaN"),
            "{name}: {text}"
        );
    }
}

/// Regression: the statistics said "5 degrees of freedom" from the six seeds of the sweep when
/// only some seeds of a cell issued purchases and its means came from those alone.
#[test]
fn the_degrees_of_freedom_are_those_of_the_seeds_used() {
    let (_dir, out) = sparse_sweep("df");
    let (head, rows) = csv(&out.join("results.csv"));
    let intents = head.iter().position(|h| h == "intents").unwrap();
    let used = rows
        .iter()
        .filter(|r| r[1] == "naive" && r[intents] != "0")
        .count();
    assert!(
        used > 1 && used < 8,
        "the fixture needs some seeds without purchases"
    );
    let report = read(&out.join("report.md"));
    let expected = format!("{} degrees of freedom ({used} seeds)", used - 1);
    assert!(report.contains(&expected), "no {expected:?} in {report}");
    assert!(!report.contains("7 degrees of freedom"), "{report}");
}

/// Regression: a report named no command and kept no copy of its sweep file, so that what
/// made it could not be told.
#[test]
fn the_sweep_file_is_copied_and_the_command_recorded() {
    let out = scratch("provenance");
    sweep(&fixture("tiny.ron"), &out, &[]);
    assert_eq!(
        std::fs::read(out.join("input/sweep.ron")).unwrap(),
        std::fs::read(fixture("tiny.ron")).unwrap()
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&out.join("manifest.json"))).unwrap();
    let command = format!("payfault sweep {}", fixture("tiny.ron").display());
    assert_eq!(manifest["command"], command.as_str());
    let report = read(&out.join("report.md"));
    assert!(report.contains(&format!("`{command}`")), "{report}");
    assert!(report.contains("[input/](input/)"), "{report}");
    // The copies make the report again, from the report's own folder.
    let again = scratch("provenance-again");
    sweep(&out.join("input/sweep.ron"), &again, &[]);
    assert_eq!(
        read(&out.join("results.csv")),
        read(&again.join("results.csv"))
    );
}

/// The same cell file with one metric of its first row changed: what a build whose model
/// differs, with the same version, would have written.
fn tamper(cell_file: &Path) {
    let text = read(cell_file);
    let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
    let head: Vec<&str> = lines[0].split(',').collect();
    let at = head.iter().position(|h| *h == "messages").unwrap();
    let mut fields: Vec<String> = lines[1].split(',').map(String::from).collect();
    fields[at] = "999999".into();
    lines[1] = fields.join(",");
    std::fs::write(cell_file, lines.join("\n")).unwrap();
}

/// Regression: `--resume` and `merge` kept cells written by any build of the same version
/// (all builds share "0.1.0"), so a report could mix the results of two models without a word.
#[test]
fn resume_and_merge_refuse_cells_made_by_another_build() {
    let root = scratch("other-build");
    let report = root.join("report");
    sweep(&fixture("tiny.ron"), &report, &[]);
    tamper(&report.join("cells/cell-001.csv"));
    let before = tree(&report);
    let out = payfault(&args(&[
        "sweep",
        &fixture("tiny.ron").display().to_string(),
        "--out",
        &report.display().to_string(),
        "--resume",
    ]));
    refused(
        &out,
        &[
            "cell-001.csv: made by a different build of payfault",
            "run the sweep without --resume",
        ],
    );
    assert!(
        tree(&report) == before,
        "the refused resume changed the folder"
    );
    // Without --resume every cell is computed again.
    sweep(&fixture("tiny.ron"), &report, &[]);
    let whole = root.join("whole");
    sweep(&fixture("tiny.ron"), &whole, &[]);
    assert_same_folder(&whole, &report);

    let shards = two_shards(&root);
    let merge = |to: &str| merge_into(&[&shards[0], &shards[1]], &root.join(to));
    // The second shard's first cell is cell-002.
    tamper(&shards[1].join("cells/cell-002.csv"));
    let out = merge("merged");
    refused(
        &out,
        &[
            "cell-002.csv: made by a different build of payfault",
            &format!("run the shard in {} again", shards[1].display()),
        ],
    );
    assert!(!root.join("merged").exists());
    // Shards of different sweep files are not one sweep.
    sweep(&fixture("tiny.ron"), &shards[1], &["--shard", "2/2"]);
    std::fs::write(shards[1].join("input/sweep.ron"), "// another\n").unwrap();
    let out = merge("merged");
    refused(
        &out,
        &["their copies of the sweep file (input/sweep.ron) differ"],
    );
}

/// Regression: `merge` checked only that the shards' sweep files were the same and copied the
/// rest of `input/` from the first folder named, so shards made from base scenarios that
/// differed (in a comment, say) merged into a report whose inputs depended on the order of
/// the folders on the command line.
#[test]
fn merge_refuses_shards_made_from_different_base_scenarios() {
    let root = scratch("merge-inputs");
    let shards = two_shards(&root);
    let merge = |dirs: &[&PathBuf], to: &str| merge_into(dirs, &root.join(to));
    // The same inputs merge, in either order, into the same folder.
    assert_eq!(
        merge(&[&shards[0], &shards[1]], "ab").status.code(),
        Some(0)
    );
    assert_eq!(
        merge(&[&shards[1], &shards[0]], "ba").status.code(),
        Some(0)
    );
    assert_same_folder(&root.join("ab"), &root.join("ba"));
    let base = shards[1].join("input/base.ron");
    let mut text = std::fs::read_to_string(&base).unwrap();
    text.push_str("// edited\n");
    std::fs::write(&base, text).unwrap();
    for order in [[&shards[0], &shards[1]], [&shards[1], &shards[0]]] {
        let out = merge(&order, "merged");
        refused(
            &out,
            &["were made from different inputs: input/base.ron differs"],
        );
        assert!(!root.join("merged").exists());
    }
    // A file in one folder's inputs only is a difference too.
    std::fs::remove_file(&base).unwrap();
    let out = merge(&[&shards[0], &shards[1]], "merged");
    refused(&out, &["input/base.ron differs"]);
}

/// Regression: a change to the scenario format (a new field, a default no longer written)
/// left the committed reports as an earlier build had made them, and nothing said so. Each
/// folder in reports/ must be what this build makes from its sweep file, byte for byte.
#[test]
fn the_committed_reports_are_what_this_build_makes() {
    let root = scratch("committed");
    let reports = Path::new(WORKSPACE).join("reports");
    let mut names: Vec<String> = std::fs::read_dir(&reports)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    for name in &names {
        let out = root.join(name);
        // From the repository's root, as reports/README.md writes them: the manifest records
        // the sweep file as named.
        let run = Command::new(env!("CARGO_BIN_EXE_payfault"))
            .args(["sweep", &format!("sweeps/{name}.ron"), "--out"])
            .arg(&out)
            .current_dir(WORKSPACE)
            .env("CI", "1")
            .output()
            .expect("the binary starts");
        assert_eq!(
            run.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let (made, kept) = (tree(&out), tree(&reports.join(name)));
        let stale: std::collections::BTreeSet<&String> = made
            .keys()
            .chain(kept.keys())
            .filter(|f| made.get(*f) != kept.get(*f))
            .collect();
        assert!(
            stale.is_empty(),
            "reports/{name} is not what this build makes ({} files differ, first {:?}): \
             write it again as reports/README.md says",
            stale.len(),
            stale.first()
        );
    }
}

/// Regression: with the deadline optional and left out of a scenario written back without
/// one, a sweep could no longer set `policy.deadline` on a base that has none: "'policy' has
/// no field 'deadline'".
#[test]
fn a_sweep_sets_a_deadline_the_base_leaves_out() {
    let root = scratch("deadline");
    assert!(!read(&fixture("base.ron")).contains("deadline"));
    std::fs::copy(fixture("base.ron"), root.join("base.ron")).unwrap();
    let file = root.join("deadline.ron");
    std::fs::write(
        &file,
        r#"Sweep(
    title: "Deadlines",
    base: "base.ron",
    seeds: 2,
    policies: [Naive],
    parameters: [(name: "deadline", path: "policy.deadline", values: ["10ms", "1h"])],
)"#,
    )
    .unwrap();
    let out = root.join("out");
    sweep(&file, &out, &[]);
    let cells: Vec<String> = (1..=2)
        .map(|k| read(&out.join(format!("scenarios/cell-00{k}.ron"))))
        .collect();
    assert!(
        cells[0].contains(r#"deadline: Some("10ms")"#),
        "{}",
        cells[0]
    );
    assert!(cells[1].contains(r#"deadline: Some("1h")"#), "{}", cells[1]);
}

/// Regression: two runs into one `--out` at once mixed their cells and both failed, with a
/// message about headers "written by another version". A run now holds a lock beside the
/// folder: a second is refused, naming it, and leaves the folder as it was; the lock goes
/// with the run that held it.
#[test]
fn one_run_at_a_time_writes_a_folder() {
    let root = scratch("locked");
    let out = root.join("report");
    sweep(&fixture("tiny.ron"), &out, &[]);
    let before = tree(&out);
    let lock_path = root.join(".report.payfault-lock");
    assert!(!lock_path.exists(), "the lock goes with its run");

    let held = std::fs::File::create(&lock_path).expect("lock file");
    held.try_lock().expect("no one else holds it");
    let tiny = fixture("tiny.ron").display().to_string();
    let second = payfault(&["sweep", &tiny, "--out", &out.display().to_string()]);
    refused(
        &second,
        &[
            "is being written by another payfault run",
            ".report.payfault-lock",
        ],
    );
    assert!(before == tree(&out), "the folder is as it was");

    drop(held);
    sweep(&fixture("tiny.ron"), &out, &["--resume"]);
    assert!(!lock_path.exists());
}
