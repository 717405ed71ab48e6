//! Ctrl-C and SIGTERM: what a stopped command leaves behind.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("payfault-signal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn spawn(args: &[&str], cwd: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(args)
        .current_dir(cwd)
        .env("CI", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("payfault starts")
}

fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Sends Ctrl-C to `child` once a line of its stderr starts with `at`, and returns its exit
/// status, its whole stdout and the rest of its stderr.
fn interrupt_at(child: &mut Child, at: &str) -> (std::process::ExitStatus, String, String) {
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with(at) {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "ended before {at:?}");
    }
    signal(child, "INT");
    let status = child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    (status, out, rest)
}

/// The reference scenario made long enough that no test sees it end.
fn long_scenario(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("scenarios/reference.ron")).unwrap();
    let f = dir.join("long.ron");
    std::fs::write(
        &f,
        text.replace("purchases: 1000000,", "purchases: 100000000,")
            .replace("name: \"reference\"", "name: \"long\""),
    )
    .unwrap();
    f
}

/// Regression: Ctrl-C during `check` printed nothing, though every scenario before the one
/// running had its verdict: a CI job's timeout lost them all.
#[test]
fn an_interrupted_check_prints_the_scenarios_it_finished() {
    let dir = scratch("check");
    let first = root().join("scenarios/policy-idempotent.ron");
    let long = long_scenario(&dir);
    let mut child = spawn(
        &[
            "check",
            first.to_str().unwrap(),
            long.to_str().unwrap(),
            "--seeds",
            "20",
            "--jobs",
            "1",
            "--junit",
            "junit.xml",
        ],
        &dir,
    );
    let (status, out, rest) = interrupt_at(&mut child, "checked policy-idempotent");
    assert_eq!(status.code(), Some(130), "{out}\n{rest}");
    assert!(out.contains("ok   policy-idempotent"), "{out}");
    assert!(!out.contains("long"), "{out}");
    assert!(
        out.contains("1 scenario checked, 0 failed (interrupted: 1 of 2 scenarios finished)"),
        "{out}"
    );
    // Regression: the signal was a test case of its own, so that the count of tests grew by
    // one. It is now the error of the scenario it left unrun.
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("tests=\"2\" failures=\"0\" errors=\"1\" skipped=\"0\""),
        "{junit}"
    );
    let long_case = junit
        .split("<testcase ")
        .find(|c| c.starts_with("classname=\"payfault.check\" name=\"long\""))
        .expect("a test case for the scenario left unrun");
    assert!(
        long_case.contains("<error message=\"stopped by a signal after 1 finished scenarios\"/>"),
        "{junit}"
    );
    assert!(!junit.contains("name=\"interrupted\""), "{junit}");
}

/// Regression: Ctrl-C during `run --trace FILE` left the trace so far in a hidden temporary
/// file beside FILE, where a run stopped by a limit leaves `FILE.partial`; then it left it
/// there with its last records cut off in the writer's buffer, as it still did when the
/// signal came twice (`timeout` signals the process, then its group).
#[test]
fn an_interrupted_traced_run_leaves_its_partial_trace() {
    let dir = scratch("trace");
    let long = long_scenario(&dir);
    let trace = dir.join("t.jsonl");
    std::fs::write(&trace, "earlier\n").unwrap();
    let mut child = spawn(&["run", long.to_str().unwrap(), "--trace", "t.jsonl"], &dir);
    // Until the trace has some records on disk.
    let grown = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| {
                e.file_name().to_string_lossy().starts_with(".t.jsonl.tmp")
                    && e.metadata().is_ok_and(|m| m.len() > 1 << 20)
            })
    };
    while !grown(&dir) {
        assert!(child.try_wait().unwrap().is_none(), "ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Twice at once, as `timeout` does (the process, then its group): one stop.
    signal(&child, "TERM");
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    assert_eq!(std::fs::read_to_string(&trace).unwrap(), "earlier\n");
    let partial = std::fs::read_to_string(dir.join("t.jsonl.partial")).unwrap();
    assert!(partial.starts_with("{\"n\":"), "{}", &partial[..100]);
    // Every record whole, the last one too: none was cut off in the writer's buffer.
    assert!(
        partial.ends_with("}\n"),
        "{}",
        &partial[partial.len() - 100..]
    );
    let last = partial.lines().last().unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(last).is_ok(),
        "{last}"
    );
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A signal while a failure is being shrunk (which runs the scenario many times) reports the
/// failure found, with its replay command, and leaves no shrunk file half written.
#[test]
fn an_interrupted_shrink_reports_the_failure_and_writes_nothing_half() {
    let dir = scratch("shrink");
    // The reference model breaks agreement on seed 1; said to hold, it fails and is shrunk.
    let text = std::fs::read_to_string(root().join("scenarios/reference.ron")).unwrap();
    let f = dir.join("breaks.ron");
    std::fs::write(
        &f,
        text.replace("expect: Violated([Agreement]),", "expect: Hold,"),
    )
    .unwrap();
    let mut child = spawn(
        &[
            "check",
            f.to_str().unwrap(),
            "--seeds",
            "1",
            "--jobs",
            "1",
            "--shrink-dir",
            "shrunk",
            "--junit",
            "junit.xml",
        ],
        &dir,
    );
    let (status, out, rest) = interrupt_at(&mut child, "shrinking reference seed 1 (agreement)");
    // A failure found is the verdict, interrupted or not: 1, not 130.
    assert_eq!(status.code(), Some(1), "{out}\n{rest}");
    assert!(out.contains("FAIL reference"), "{out}");
    assert!(out.contains("breaks.ron --seed 1"), "{out}");
    assert!(
        out.contains("(interrupted: 1 of 1 scenario finished)"),
        "{out}"
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
    // Shrinking was cut short: nothing of it is on disk, whole or in part.
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .chain(std::fs::read_dir(dir.join("shrunk")).into_iter().flatten())
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.contains("shrunk."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Regression: Ctrl-C during `sweep` ended it without a word. It now stops taking cells, says
/// how many it finished and how to go on, and `--resume` then makes the report a whole run
/// makes.
#[test]
fn an_interrupted_sweep_says_what_it_kept_and_resume_finishes_it() {
    let dir = scratch("sweep");
    twenty_cells(&dir);
    let mut child = spawn(&["sweep", "sweep.ron", "--out", "cut", "--jobs", "1"], &dir);
    let (status, _, err) = interrupt_at(&mut child, "[   1/20]");
    assert_eq!(status.code(), Some(130), "{err}");
    let finished = finished_of(
        &err,
        "20 cells finished; `payfault sweep sweep.ron --out cut --resume` runs the rest",
    );
    let cells = std::fs::read_dir(dir.join("cut/cells")).unwrap().count();
    assert_eq!(
        cells, finished,
        "the cells said finished are the cells kept"
    );
    resume_equals_a_whole_run(&dir, "cut", "");

    // A shard is told to resume as the shard it is.
    let mut child = spawn(
        &[
            "sweep",
            "sweep.ron",
            "--out",
            "half",
            "--jobs",
            "1",
            "--shard",
            "1/2",
        ],
        &dir,
    );
    let (status, _, err) = interrupt_at(&mut child, "[   1/10]");
    assert_eq!(status.code(), Some(130), "{err}");
    finished_of(
        &err,
        "10 cells finished; `payfault sweep sweep.ron --out half --shard 1/2 --resume` runs the rest",
    );
}

/// Regression (the first Ctrl-C in a sweep waited for the runs under way, minutes or hours for
/// long ones): a run under way now stops within milliseconds of the signal, and the sweep
/// says what it kept.
#[test]
fn an_interrupted_sweep_stops_the_runs_under_way() {
    let dir = scratch("sweep-long");
    long_scenario(&dir);
    std::fs::write(
        dir.join("sweep.ron"),
        r#"Sweep(
    title: "long",
    base: "long.ron",
    seeds: 1,
    policies: [Idempotent],
    parameters: [(name: "timeout", path: "policy.timeout", values: ["250ms", "300ms"])],
)"#,
    )
    .unwrap();
    let mut child = spawn(&["sweep", "sweep.ron", "--out", "cut", "--jobs", "2"], &dir);
    // Both runs are under way; each would take a minute or more to end.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    signal(&child, "INT");
    // A guard against the wait this pins, not a measure of speed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the sweep went on for 30 s after Ctrl-C");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: 0 of 2 cells finished; `payfault sweep sweep.ron --out cut --resume` runs the rest"),
        "{err}"
    );
}

/// Regression: a sweep run again into a report an earlier build made, and interrupted, kept
/// its finished cells beside the report; the `--resume` it then suggested was refused, the
/// earlier build's cells found first.
#[test]
fn a_resume_beside_another_builds_report_keeps_this_builds_cells() {
    let dir = scratch("sweep-builds");
    twenty_cells(&dir);
    let first = spawn(&["sweep", "sweep.ron", "--out", "rep"], &dir)
        .wait_with_output()
        .unwrap();
    assert!(first.status.success());
    // Another build's report: a row this build would not compute.
    let cell = dir.join("rep/cells/cell-001.csv");
    let text = std::fs::read_to_string(&cell).unwrap();
    let (head, rows) = text.split_once('\n').unwrap();
    let (row, rest) = rows.split_once('\n').unwrap();
    let at = head.split(',').position(|h| h == "messages").unwrap();
    let mut row: Vec<&str> = row.split(',').collect();
    row[at] = "999999";
    std::fs::write(&cell, format!("{head}\n{}\n{rest}", row.join(","))).unwrap();

    let mut child = spawn(&["sweep", "sweep.ron", "--out", "rep", "--jobs", "1"], &dir);
    let (status, _, err) = interrupt_at(&mut child, "[   1/20]");
    assert_eq!(status.code(), Some(130), "{err}");
    finished_of(
        &err,
        "20 cells finished; `payfault sweep sweep.ron --out rep --resume` runs the rest",
    );
    resume_equals_a_whole_run(&dir, "rep", "made by a different build");
}

/// A sweep file of 20 cells, each of three runs of a few hundredths of a second.
fn twenty_cells(dir: &Path) {
    let base = std::fs::read_to_string(root().join("scenarios/reference.ron")).unwrap();
    std::fs::write(
        dir.join("base.ron"),
        base.replace("purchases: 1000000,", "purchases: 40000,"),
    )
    .unwrap();
    std::fs::write(
        dir.join("sweep.ron"),
        r#"Sweep(
    title: "drops",
    base: "base.ron",
    seeds: 3,
    policies: [Naive, Idempotent],
    parameters: [(name: "drop", path: "links.terminal_acquirer.drop",
        values: [0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09])],
)"#,
    )
    .unwrap();
}

/// How many cells the line saying the sweep was interrupted counts as finished; the line
/// ends with `of {tail}`.
fn finished_of(err: &str, tail: &str) -> usize {
    let said = err
        .lines()
        .find(|l| l.starts_with("interrupted: "))
        .unwrap_or_else(|| panic!("no word of the interruption: {err}"));
    let finished: usize = said["interrupted: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(finished >= 1, "{said}");
    assert!(said.ends_with(&format!("of {tail}")), "{said}");
    finished
}

/// Resumes the sweep into `out`, its standard error holding `note`, and compares its tables
/// with a whole run's.
fn resume_equals_a_whole_run(dir: &Path, out: &str, note: &str) {
    let resumed = spawn(&["sweep", "sweep.ron", "--out", out, "--resume"], dir)
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{err}");
    assert!(err.contains(note), "{err}");
    let whole = spawn(&["sweep", "sweep.ron", "--out", "whole"], dir)
        .wait_with_output()
        .unwrap();
    assert!(whole.status.success());
    for f in ["results.csv", "summary.csv"] {
        assert_eq!(
            std::fs::read(dir.join(out).join(f)).unwrap(),
            std::fs::read(dir.join("whole").join(f)).unwrap(),
            "{f}"
        );
    }
}
