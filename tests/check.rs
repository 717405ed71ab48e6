//! `payfault check` from the outside: verdicts, jobs-independence, JUnit, shrinking.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn payfault(args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("payfault runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "payfault panicked: {stderr}");
    out
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("payfault-check-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Drops the fields that measure time, which alone may differ between runs.
fn without_timings(json: &str) -> String {
    json.lines()
        .filter(|l| !l.contains("\"elapsed_s\"") && !l.contains("\"jobs\""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_verdict_is_the_same_with_one_job_and_with_two() {
    let r = root();
    let small = [
        "scenarios/policy-naive.ron",
        "scenarios/policy-idempotent.ron",
        "scenarios/policy-reversal.ron",
        "scenarios/policy-inquiry.ron",
        "scenarios/policy-none.ron",
    ];
    let run = |jobs: &str| {
        let mut args = vec![
            "check", "--seeds", "200", "--format", "json", "--jobs", jobs,
        ];
        args.extend(small);
        payfault(&args, &r)
    };
    let (a, b) = (run("1"), run("2"));
    assert_eq!(a.status.code(), Some(0), "{}", stdout(&a));
    assert_eq!(b.status.code(), Some(0));
    assert_eq!(without_timings(&stdout(&a)), without_timings(&stdout(&b)));
}

#[test]
fn a_known_good_scenario_passes_a_thousand_seeds_and_a_known_bad_one_is_caught() {
    let r = root();
    let good = payfault(
        &[
            "check",
            "scenarios/policy-idempotent.ron",
            "--seeds",
            "1000",
        ],
        &r,
    );
    assert_eq!(good.status.code(), Some(0), "{}", stdout(&good));
    assert!(stdout(&good).contains("ok   policy-idempotent"));
    // policy-naive expects its duplicate: check passes only because it is still caught.
    let bad = payfault(
        &["check", "scenarios/policy-naive.ron", "--seeds", "100"],
        &r,
    );
    assert_eq!(bad.status.code(), Some(0), "{}", stdout(&bad));
    assert!(stdout(&bad).contains("violated: no-duplicate-debit on 100"));
}

#[test]
fn a_wrong_expectation_fails_with_a_replay_command_a_shrunk_scenario_and_junit() {
    let dir = scratch("wrong");
    let scenario = root().join("tests/check/naive-expected-to-hold.ron");
    let junit = dir.join("junit.xml");
    let out = payfault(
        &[
            "check",
            scenario.to_str().unwrap(),
            "--seeds",
            "50",
            "--junit",
            junit.to_str().unwrap(),
            "--shrink-dir",
            dir.join("shrunk").to_str().unwrap(),
        ],
        &dir,
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL naive-expected-to-hold"), "{text}");
    assert!(
        text.contains(&format!(
            "replay: payfault run {} --seed 1",
            scenario.display()
        )),
        "{text}"
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert!(xml.contains("<testcase classname=\"payfault.check\" name=\"naive-expected-to-hold\""));
    assert!(xml.contains("<failure message=\"no-duplicate-debit violated on 50 of 50 seeds"));

    // The shrunk scenario: far fewer purchases, only the fault that causes the duplicate, and
    // it fails on its own, without a --seed.
    let shrunk = dir.join("shrunk/naive-expected-to-hold.seed-1.shrunk.ron");
    let body = std::fs::read_to_string(&shrunk).unwrap();
    assert!(
        text.contains("400 -> 1 purchases, 23 -> 1 faults"),
        "{text}"
    );
    assert!(
        body.contains("only: Some([\n            8,"),
        "only the failing purchase is issued: {body}"
    );
    assert_eq!(body.matches("MsgId(").count(), 1, "{body}");
    // The picture of the failure: every message of the intent, the drop and both debits.
    let svg =
        std::fs::read_to_string(dir.join("shrunk/naive-expected-to-hold.seed-1.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(
        svg.matches("0200 stan").count(),
        4,
        "two purchase attempts, each over two hops"
    );
    assert_eq!(svg.matches("debit: amount").count(), 2);
    assert!(svg.contains("dropped"));
    let alone = payfault(&["run", shrunk.to_str().unwrap()], &dir);
    assert_eq!(alone.status.code(), Some(1));
    assert!(
        stdout(&alone).contains("duplicate-debit (no-duplicate-debit) intent 8"),
        "{}",
        stdout(&alone)
    );
}

#[test]
fn a_scenario_expecting_a_violation_that_never_comes_fails() {
    let dir = scratch("never");
    let text = std::fs::read_to_string(root().join("scenarios/policy-idempotent.ron")).unwrap();
    let wrong = text.replace(
        "Scenario(",
        "Scenario(\n    expect: Violated([NoDuplicateDebit]),",
    );
    let f = dir.join("idempotent-expected-to-double.ron");
    std::fs::write(&f, wrong).unwrap();
    let out = payfault(&["check", f.to_str().unwrap(), "--seeds", "20"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains(
        "expected no-duplicate-debit to be violated on some seed, but it held on all 20"
    ));
}

#[test]
fn bad_input_to_check_exits_2() {
    let dir = scratch("bad");
    let out = payfault(
        &[
            "check",
            root().join("tests/malformed").to_str().unwrap(),
            "--seeds",
            "1",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(".ron:"),
        "names the file"
    );
    let empty = payfault(&["check", dir.to_str().unwrap()], &dir);
    assert_eq!(empty.status.code(), Some(2));
}

#[test]
fn every_shipped_scenario_meets_its_expectation() {
    let out = payfault(
        &["check", "scenarios", "--seeds", "50", "--keep-going"],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn the_chart_holds_every_message_of_the_intent() {
    let dir = scratch("chart");
    let svg = dir.join("intent.svg");
    let trace = dir.join("trace.jsonl");
    let out = payfault(
        &[
            "run",
            "scenarios/policy-naive.ron",
            "--seed",
            "3",
            "--intent",
            "14",
            "--chart",
            svg.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(1));
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // Every hop of every message of intent 14 that arrived or was lost, by its label.
    let trace = std::fs::read_to_string(&trace).unwrap();
    let hops = trace
        .lines()
        .filter(|l| {
            l.contains("\"intent\":14,")
                && (l.contains("\"what\":\"deliver\"") || l.contains("\"what\":\"lost\""))
        })
        .count();
    let drawn = svg.matches(" stan ").count();
    assert!(hops >= 8, "{hops}");
    assert_eq!(drawn, hops, "one label per message hop");
}
