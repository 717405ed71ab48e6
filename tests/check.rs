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
    // Regression: the time spent shrinking was counted as the seeds' own.
    let err = stderr(&out);
    assert!(err.contains("\n50 seeds in "), "{err}");
    assert!(err.contains("; shrinking took "), "{err}");
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
    // Regression: the JUnit failure did not say where the shrunk scenario was.
    let shrunk_file = dir.join("shrunk/naive-expected-to-hold.seed-1.shrunk.ron");
    for line in [
        format!(
            "shrunk seed 1 (no-duplicate-debit) to {}",
            shrunk_file.display()
        ),
        format!("replay: payfault run {}", shrunk_file.display()),
        format!(
            "chart: {}",
            dir.join("shrunk/naive-expected-to-hold.seed-1.svg")
                .display()
        ),
    ] {
        assert!(xml.contains(&line), "{line} in {xml}");
    }

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
    // Regression: beside an expected break that never came, the seeds shown were those of
    // the expected ones, each with its replay, as if they were the failure.
    let text = std::fs::read_to_string(root().join("scenarios/policy-naive.ron")).unwrap();
    let both = text.replace(
        "expect: Violated([NoDuplicateDebit])",
        "expect: Violated([NoDuplicateDebit, Liveness])",
    );
    assert_ne!(both, text);
    let f = dir.join("naive-expected-to-be-slow.ron");
    std::fs::write(&f, both).unwrap();
    let junit = dir.join("junit.xml");
    let args = [
        "check",
        f.to_str().unwrap(),
        "--seeds",
        "20",
        "--junit",
        junit.to_str().unwrap(),
    ];
    let out = payfault(&args, &dir);
    assert_eq!(out.status.code(), Some(1));
    let verdict = stdout(&out);
    assert!(
        verdict.contains("expected liveness to be violated on some seed, but it held on all 20"),
        "{verdict}"
    );
    let shown: Vec<&str> = verdict
        .lines()
        .filter(|l| l.trim_start().starts_with("seed "))
        .collect();
    assert_eq!(shown.len(), 3, "{verdict}");
    assert!(
        shown
            .iter()
            .all(|l| l.contains("duplicate-debit") && l.ends_with(" (as expected)")),
        "{verdict}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("customer told Approved (as expected)"),
        "{xml}"
    );
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
    // Every malformed file is named, each on an error line of its own, then how many.
    let err = String::from_utf8_lossy(&out.stderr);
    let files = std::fs::read_dir(root().join("tests/malformed"))
        .unwrap()
        .count();
    for entry in std::fs::read_dir(root().join("tests/malformed")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            err.lines()
                .any(|l| l.starts_with("error: ") && l.contains(&name)),
            "{name} is not named: {err}"
        );
    }
    assert!(
        err.contains(&format!(
            "error: {files} of the scenarios named cannot be read; nothing was checked"
        )),
        "{err}"
    );
    assert_eq!(stdout(&out), "", "no verdict");
    let empty = payfault(&["check", dir.to_str().unwrap()], &dir);
    assert_eq!(empty.status.code(), Some(2));
    // Regression: a folder with no scenario stopped the check before any file was read, so
    // the files that could not be read went unnamed, in the text and in JSON.
    let malformed = root().join("tests/malformed/amount-min-above-max.ron");
    let args = [
        "check",
        malformed.to_str().unwrap(),
        dir.to_str().unwrap(),
        "--format",
        "json",
    ];
    let both = payfault(&args, &dir);
    assert_eq!(both.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&both.stdout).expect("the error as JSON");
    assert_eq!(
        json["error"],
        "2 of the scenarios named cannot be read; nothing was checked"
    );
    let files: Vec<&str> = json["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["file"].as_str().expect("a file"))
        .collect();
    assert_eq!(files, [malformed.to_str().unwrap(), dir.to_str().unwrap()]);
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

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Regression: `check` said ok and exited 0 having run no seed when `--seeds` was 0 or when
/// `--seed-start` + `--seeds` wrapped past the largest seed.
#[test]
fn check_refuses_a_seed_range_it_cannot_run_whole() {
    let r = root();
    for (scenario, seeds, start, message) in [
        (
            "scenarios/policy-idempotent.ron",
            "0",
            "1",
            "--seeds: expected between 1 and 1000000 seeds, found 0",
        ),
        (
            "scenarios/policy-idempotent.ron",
            "1000001",
            "1",
            "--seeds: expected between 1 and 1000000 seeds, found 1000001",
        ),
        (
            "scenarios/policy-idempotent.ron",
            "18446744073709551615",
            "2",
            "--seeds: expected between 1 and 1000000 seeds, found 18446744073709551615",
        ),
        (
            "tests/check/naive-expected-to-hold.ron",
            "5",
            "18446744073709551613",
            "--seed-start 18446744073709551613 with --seeds 5 passes the largest seed, 18446744073709551615",
        ),
        (
            "scenarios/policy-idempotent.ron",
            "2",
            "18446744073709551615",
            "--seed-start 18446744073709551615 with --seeds 2 passes the largest seed",
        ),
    ] {
        let out = payfault(
            &["check", scenario, "--seeds", seeds, "--seed-start", start],
            &r,
        );
        assert_eq!(out.status.code(), Some(2), "--seeds {seeds} --seed-start {start}");
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
        assert_eq!(stdout(&out), "", "no verdict for seeds not run");
    }
    // The largest seed itself is checked.
    let last = payfault(
        &[
            "check",
            "scenarios/policy-idempotent.ron",
            "--seeds",
            "3",
            "--seed-start",
            "18446744073709551613",
        ],
        &r,
    );
    assert_eq!(last.status.code(), Some(0), "{}", stderr(&last));
    assert!(stdout(&last).contains("3 seeds"), "{}", stdout(&last));

    // Regression: the range was judged by --seeds alone, so a scenario whose `check_seeds`
    // asks for fewer, which fit, was refused.
    let dir = scratch("capped");
    let text = std::fs::read_to_string(r.join("scenarios/policy-idempotent.ron")).unwrap();
    let capped = text.replacen("Scenario(", "Scenario(\n    check_seeds: 2,", 1);
    std::fs::write(dir.join("capped.ron"), capped).unwrap();
    let near_the_end = |start: &str| {
        payfault(
            &[
                "check",
                "capped.ron",
                "--seeds",
                "1000",
                "--seed-start",
                start,
            ],
            &dir,
        )
    };
    let fits = near_the_end("18446744073709551614");
    assert_eq!(fits.status.code(), Some(0), "{}", stderr(&fits));
    assert!(stdout(&fits).contains("2 seeds"), "{}", stdout(&fits));
    let passes = near_the_end("18446744073709551615");
    assert_eq!(passes.status.code(), Some(2));
    assert!(
        stderr(&passes).contains(
            "--seed-start 18446744073709551615 with capped.ron's check_seeds 2 passes the largest seed"
        ),
        "{}",
        stderr(&passes)
    );
}

/// The seed of `payfault run <path> --seed N` in `line`, after `after`.
fn replay_seed(line: &str, after: &str) -> u64 {
    let rest = &line[line
        .find(after)
        .unwrap_or_else(|| panic!("{after} in {line}"))
        + after.len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

/// Regression: when the first property not expected to break first broke after the first five
/// failing seeds, `check` reported it without a replay command and shrank nothing.
#[test]
fn every_unexpected_property_gets_a_replay_and_the_first_is_shrunk() {
    let dir = scratch("late");
    let scenario = "tests/check/late-duplicate.ron";
    let run = |jobs: &str| {
        payfault(
            &[
                "check",
                scenario,
                "--seeds",
                "60",
                "--jobs",
                jobs,
                "--shrink-dir",
                dir.join("shrunk").to_str().unwrap(),
            ],
            &root(),
        )
    };
    let (one, three) = (run("1"), run("3"));
    let text = stdout(&one);
    assert_eq!(one.status.code(), Some(1), "{text}");
    assert_eq!(text, stdout(&three), "the same whatever --jobs");

    let duplicate = text
        .lines()
        .find(|l| l.contains("no-duplicate-debit violated on 1 of 60 seeds"))
        .unwrap_or_else(|| panic!("{text}"));
    let seed = replay_seed(
        duplicate,
        &format!("; replay: payfault run {scenario} --seed "),
    );
    assert!(
        seed > 5,
        "the fixture must break the property after five failing seeds: {seed}"
    );
    assert!(
        text.contains(&format!(
            "agreement violated on 60 of 60 seeds; replay: payfault run {scenario} --seed 1\n"
        )),
        "{text}"
    );
    let replayed = payfault(&["run", scenario, "--seed", &seed.to_string()], &root());
    assert!(
        stdout(&replayed).contains("no-duplicate-debit     VIOLATED"),
        "{}",
        stdout(&replayed)
    );

    let shrunk = dir.join(format!("shrunk/late-duplicate.seed-{seed}.shrunk.ron"));
    assert!(
        text.contains(&format!("shrunk seed {seed} to {}", shrunk.display())),
        "{text}"
    );
    let alone = payfault(&["run", shrunk.to_str().unwrap()], &dir);
    assert_eq!(alone.status.code(), Some(1));
    assert!(
        stdout(&alone).contains("(no-duplicate-debit)"),
        "{}",
        stdout(&alone)
    );
}

/// Regression: a run that passed its limit inside `check` was reported without the scenario
/// file, the seed or a replay command.
#[test]
fn a_run_that_stops_is_reported_with_its_file_first_seed_and_replay() {
    let dir = scratch("limit");
    let text = std::fs::read_to_string(root().join("scenarios/policy-idempotent.ron")).unwrap();
    let end = text.rfind(')').unwrap();
    let limited = format!("{}    limits: (max_events: 3300),\n)\n", &text[..end]);
    let f = dir.join("limited.ron");
    std::fs::write(&f, limited).unwrap();
    let path = f.to_str().unwrap();
    // Seeds 2 to 10, some of which pass the limit: the first of them is the one reported.
    let first = (2..=10)
        .find(|s| {
            payfault(&["run", path, "--seed", &s.to_string()], &dir)
                .status
                .code()
                == Some(2)
        })
        .expect("some seed passes the limit");
    assert!(
        first > 2,
        "a seed that passes the limit after one that does not"
    );
    for jobs in ["1", "4"] {
        let out = payfault(
            &[
                "check",
                path,
                "--seeds",
                "9",
                "--seed-start",
                "2",
                "--jobs",
                jobs,
            ],
            &dir,
        );
        assert_eq!(out.status.code(), Some(2));
        let text = stdout(&out);
        assert!(
            text.contains(&format!(
                "the run of seed {first} stopped: the run passed its limit of 3300 events"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "the seeds after it were not run; replay: payfault run {path} --seed {first}\n"
            )),
            "{text}"
        );
        // Regression (seeds said checked that never ran): the verdict's line said "nothing
        // violated" of all nine seeds.
        assert!(
            text.contains(&format!(
                "seed {first} stopped at a limit, nothing violated before it\n"
            )),
            "{text}"
        );
    }
}

/// Regression: `--junit` naming the scenario being checked replaced the scenario with XML; a
/// shrunk scenario could likewise replace one being checked.
#[test]
fn check_never_writes_over_a_scenario_it_checks() {
    let dir = scratch("clobber");
    let good = std::fs::read_to_string(root().join("scenarios/policy-idempotent.ron")).unwrap();
    let bad =
        std::fs::read_to_string(root().join("tests/check/naive-expected-to-hold.ron")).unwrap();
    std::fs::write(dir.join("s.ron"), &good).unwrap();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let absolute = dir.join("s.ron");
    for junit in ["s.ron", "./sub/../s.ron", absolute.to_str().unwrap()] {
        let out = payfault(&["check", "s.ron", "--seeds", "2", "--junit", junit], &dir);
        assert_eq!(out.status.code(), Some(2), "--junit {junit}");
        assert!(
            stderr(&out).contains("--junit would overwrite this scenario"),
            "{}",
            stderr(&out)
        );
        assert_eq!(std::fs::read_to_string(dir.join("s.ron")).unwrap(), good);
    }

    // a.ron fails on seed 1, whose shrunk scenario would be named as the second input is.
    std::fs::write(dir.join("a.ron"), &bad).unwrap();
    std::fs::create_dir_all(dir.join("shrunk")).unwrap();
    let second = dir.join("shrunk/a.seed-1.shrunk.ron");
    std::fs::write(&second, &good).unwrap();
    let out = payfault(
        &[
            "check",
            "a.ron",
            "shrunk/a.seed-1.shrunk.ron",
            "--seeds",
            "2",
            "--shrink-dir",
            "shrunk",
        ],
        &dir,
    );
    // The failure is still reported, without its shrunk scenario.
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("not shrunk: --shrink-dir: ")
            && stdout(&out).contains("the shrunk scenario would overwrite this scenario"),
        "{}",
        stdout(&out)
    );
    assert_eq!(std::fs::read_to_string(&second).unwrap(), good);
}

/// Whether XML 1.0 allows `c` anywhere in a document.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Regression: a scenario name or path holding a control character made JUnit XML that does
/// not parse.
#[test]
fn junit_and_charts_hold_only_characters_xml_allows() {
    let dir = scratch("xml");
    let text =
        std::fs::read_to_string(root().join("tests/check/naive-expected-to-hold.ron")).unwrap();
    let named = text.replace(
        "name: \"naive-expected-to-hold\"",
        r#"name: "bad\u{1b}name <&\"'>	\u{7}""#,
    );
    std::fs::write(dir.join("bad\u{1b}file.ron"), named).unwrap();
    let out = payfault(
        &[
            "check",
            "bad\u{1b}file.ron",
            "--seeds",
            "2",
            "--junit",
            "junit.xml",
            "--shrink-dir",
            "shrunk",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stdout(&out).contains('\u{1b}'), "{}", stdout(&out));
    // Regression: the progress lines on stderr carried the name's escape and bell as written.
    assert!(
        stderr(&out).contains("checked bad?name"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains(['\u{1b}', '\u{7}']),
        "{:?}",
        stderr(&out)
    );
    let xml = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(xml.chars().all(xml_char), "{xml:?}");
    assert!(
        xml.contains(
            r#"name="bad\u{1b}name &lt;&amp;&quot;&apos;&gt;&#9;\u{7}" file="bad\u{1b}file.ron""#
        ),
        "{xml}"
    );
    assert!(
        xml.contains(r"replay: payfault run $'bad\033file.ron' --seed 1"),
        "{xml}"
    );
    let svg = std::fs::read_to_string(dir.join("shrunk/bad\u{1b}file.seed-1.svg")).unwrap();
    assert!(svg.chars().all(xml_char), "{svg:?}");
}

/// Regression: replay commands printed by `check` split a path with a space into two words
/// when pasted back into a shell.
#[test]
fn replay_commands_paste_back_into_a_shell() {
    let dir = scratch("quote");
    std::fs::create_dir_all(dir.join("my dir")).unwrap();
    std::fs::copy(
        root().join("tests/check/naive-expected-to-hold.ron"),
        dir.join("my dir/a.ron"),
    )
    .unwrap();
    let out = payfault(
        &[
            "check",
            "my dir/a.ron",
            "--seeds",
            "2",
            "--shrink-dir",
            "my dir/shrunk",
        ],
        &dir,
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let shrunk = std::fs::read_to_string(dir.join("my dir/shrunk/a.seed-1.shrunk.ron")).unwrap();
    let header = shrunk.lines().nth(1).unwrap();
    let commands: Vec<&str> = text
        .lines()
        .chain([header])
        .filter_map(|l| {
            l.split_once("replay: ")
                .or_else(|| l.split_once("Replay: "))
        })
        .map(|(_, command)| command)
        .collect();
    for expected in [
        "payfault run 'my dir/a.ron' --seed 1",
        "payfault run 'my dir/a.ron' --seed 2",
        "payfault run 'my dir/shrunk/a.seed-1.shrunk.ron'",
    ] {
        assert!(commands.contains(&expected), "{expected} in {commands:?}");
    }
    for command in commands {
        let pasted = command.replacen("payfault", env!("CARGO_BIN_EXE_payfault"), 1);
        let replayed = Command::new("sh")
            .args(["-c", &pasted])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(
            replayed.status.code(),
            Some(1),
            "{command}: {}",
            stderr(&replayed)
        );
    }
}

/// Regression: without `--keep-going`, the scenarios after the first that failed still ran
/// to the end, said so on stderr ("checked ..."), and only their report was cut short.
#[test]
fn the_scenarios_after_the_first_failure_are_abandoned_unreported() {
    let dir = scratch("stop-first");
    let text = std::fs::read_to_string(root().join("scenarios/policy-naive.ron")).unwrap();
    let first = dir.join("a-naive-expected-to-hold.ron");
    std::fs::write(
        &first,
        text.replace("expect: Violated([NoDuplicateDebit]),", "expect: Hold,"),
    )
    .unwrap();
    let later = root().join("scenarios/policy-idempotent.ron");
    let out = payfault(
        &[
            "check",
            first.to_str().unwrap(),
            later.to_str().unwrap(),
            "--seeds",
            "20",
            "--junit",
            "junit.xml",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("checked policy-naive"), "{err}");
    assert!(!err.contains("checked policy-idempotent"), "{err}");
    assert!(err.contains("\n20 seeds in"), "{err}");
    let text = stdout(&out);
    assert!(text.contains("1 scenario checked, 1 failed"), "{text}");
    // JUnit still lists the scenario not run, as skipped, so that the count of tests holds.
    let xml = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        xml.contains("tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains("name=\"policy-idempotent\"")
            && xml.contains("<skipped message=\"not run: the check stopped at the first failure"),
        "{xml}"
    );
}

/// One seed is "1 seed", in the progress line, the verdict and the summary.
#[test]
fn one_seed_is_said_in_the_singular() {
    let dir = scratch("singular");
    let scenario = root().join("tests/check/naive-expected-to-hold.ron");
    let out = payfault(&["check", scenario.to_str().unwrap(), "--seeds", "1"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(
        text.contains(" 1 seed, expects all properties hold"),
        "{text}"
    );
    assert!(text.contains("violated on 1 of 1 seed;"), "{text}");
    assert!(err.contains("\n1 seed in "), "{err}");
}

/// Regression: a scenario or sweep path naming an endless file (`/dev/zero`, or a `.ron` link
/// to it in a checked folder) was read whole, filling memory (10 GB in 20 s) before any
/// error.
#[cfg(unix)]
#[test]
fn an_endless_input_is_refused_not_read_whole() {
    let dir = scratch("endless");
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.ron")).unwrap();
    for args in [
        &["check", ".", "--seeds", "2"][..],
        &["run", "zero.ron"][..],
        &["run", "/dev/zero"][..],
        &["sweep", "zero.ron", "--out", "report"][..],
    ] {
        let out = payfault(args, &dir);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("larger than 64 MiB, which no scenario or sweep file is"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// A scenario of policy-idempotent's whose runs stop at a limit on some seeds.
fn limited_scenario(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("scenarios/policy-idempotent.ron")).unwrap();
    let end = text.rfind(')').unwrap();
    let f = dir.join("limited.ron");
    std::fs::write(
        &f,
        format!(
            "{}    limits: (max_events: 3300),\n)\n",
            text[..end].replace("\"policy-idempotent\"", "\"limited\"")
        ),
    )
    .unwrap();
    f
}

/// Regression: a run stopped by a limit in one scenario ended the check with exit 2 and
/// nothing else, even with `--keep-going`: no verdict, no JSON, no JUnit, no shrunk file, so
/// another scenario's real duplicate debit went unreported.
#[test]
fn a_stopped_run_hides_no_other_verdict() {
    let dir = scratch("limit-others");
    let limited = limited_scenario(&dir);
    let bad = root().join("tests/check/naive-expected-to-hold.ron");
    let junit = dir.join("junit.xml");
    let args = |format: &'static str| {
        vec![
            "check".to_string(),
            limited.to_str().unwrap().into(),
            bad.to_str().unwrap().into(),
            "--seeds".into(),
            "10".into(),
            "--keep-going".into(),
            "--format".into(),
            format.into(),
            "--junit".into(),
            junit.to_str().unwrap().into(),
            "--shrink-dir".into(),
            dir.join("shrunk").to_str().unwrap().into(),
        ]
    };
    let run = |format| {
        let a = args(format);
        payfault(&a.iter().map(String::as_str).collect::<Vec<_>>(), &dir)
    };
    let out = run("text");
    // The violation outranks the stop.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("FAIL limited"), "{text}");
    assert!(text.contains("stopped: the run passed its limit"), "{text}");
    assert!(text.contains("FAIL naive-expected-to-hold"), "{text}");
    assert!(text.contains("shrunk seed 1 to"), "{text}");
    assert!(text.contains("2 scenarios checked, 2 failed"), "{text}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"2\" failures=\"1\" errors=\"1\""),
        "{xml}"
    );
    assert!(xml.contains("<error message=\"the run of seed"), "{xml}");
    assert!(
        xml.contains("<failure message=\"no-duplicate-debit violated"),
        "{xml}"
    );

    let out = run("json");
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["scenarios_checked"], 2);
    assert!(json["scenarios"][0]["stopped"]["seed"].is_u64(), "{json}");
    assert!(json["scenarios"][1]["shrunk"]["file"].is_string(), "{json}");

    // Alone, a stop is bad input: exit 2, with its verdict printed all the same.
    let alone = payfault(&["check", limited.to_str().unwrap(), "--seeds", "10"], &dir);
    assert_eq!(alone.status.code(), Some(2));
    assert!(
        stdout(&alone).contains("FAIL limited"),
        "{}",
        stdout(&alone)
    );
}

/// Regression: an output that failed after the runs (JUnit on a full disk) swallowed the
/// verdict and turned exit 1 into exit 2; a shrink folder that could not be made, or JUnit
/// named as the shrink folder, was found out only after every run.
#[test]
fn outputs_that_cannot_be_written_lose_no_verdict() {
    let dir = scratch("late-outputs");
    let bad = root().join("tests/check/naive-expected-to-hold.ron");
    let bad = bad.to_str().unwrap();
    let out = payfault(
        &[
            "check",
            bad,
            "--seeds",
            "5",
            "--junit",
            "/dev/full",
            "--shrink-dir",
            "sd",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("FAIL naive-expected-to-hold"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("replay: payfault run"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("error: --junit: /dev/full: No space left on device"),
        "{}",
        stderr(&out)
    );

    for (shrink_dir, why) in [
        ("/proc/payfault-x", "--shrink-dir cannot be made"),
        ("/proc", "--shrink-dir cannot be written"),
    ] {
        let out = payfault(
            &["check", bad, "--seeds", "5", "--shrink-dir", shrink_dir],
            &dir,
        );
        assert_eq!(out.status.code(), Some(2), "{shrink_dir}");
        assert!(stderr(&out).contains(why), "{shrink_dir}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("checked "),
            "ran before refusing: {}",
            stderr(&out)
        );
    }
    let out = payfault(
        &[
            "check",
            bad,
            "--seeds",
            "5",
            "--junit",
            "same",
            "--shrink-dir",
            "same",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--junit and --shrink-dir name the same path"),
        "{}",
        stderr(&out)
    );
    // Probing a shrink folder that is not there leaves none behind.
    let out = payfault(
        &["check", "--seeds", "3", "--shrink-dir", "a/b/c"]
            .into_iter()
            .chain([root()
                .join("scenarios/policy-idempotent.ron")
                .to_str()
                .unwrap()])
            .collect::<Vec<_>>(),
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!dir.join("a").exists());
}

/// Regression: `check DIR` passed over scenarios in subfolders (and `.RON` files), a false
/// green for a team that sorts its scenarios into folders.
#[test]
fn a_folder_is_checked_with_its_subfolders() {
    let dir = scratch("nested");
    let good = std::fs::read_to_string(root().join("scenarios/policy-idempotent.ron")).unwrap();
    let bad =
        std::fs::read_to_string(root().join("tests/check/naive-expected-to-hold.ron")).unwrap();
    for (path, text) in [
        ("suite/top.ron", &good),
        ("suite/team-a/deep/naive.ron", &bad),
        ("suite/team-b/UPPER.RON", &good),
        ("suite/.hidden/ignored.ron", &bad),
        ("suite/shrunk/old.seed-1.shrunk.ron", &bad),
    ] {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let out = payfault(
        &[
            "check",
            "suite",
            "--seeds",
            "5",
            "--keep-going",
            "--shrink-dir",
            "suite/shrunk",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("3 scenarios checked, 1 failed"), "{text}");
    assert!(text.contains("FAIL naive-expected-to-hold"), "{text}");
    // Regression: two scenarios of one name gave two lines alike; each names its file.
    assert!(
        text.contains("ok   policy-idempotent (suite/top.ron) 5 seeds")
            && text.contains("ok   policy-idempotent (suite/team-b/UPPER.RON) 5 seeds"),
        "{text}"
    );
}

/// Regression: two scenarios with one file name (`a/x.ron`, `b/x.ron`) shrank to the same
/// file, the second replacing the first, so the first's replay command ran the second's.
#[test]
fn scenarios_with_one_file_name_shrink_to_different_files() {
    let dir = scratch("same-stem");
    let bad =
        std::fs::read_to_string(root().join("tests/check/naive-expected-to-hold.ron")).unwrap();
    for (sub, name) in [("a", "first"), ("b", "second")] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        std::fs::write(
            dir.join(sub).join("x.ron"),
            bad.replace("\"naive-expected-to-hold\"", &format!("\"{name}\"")),
        )
        .unwrap();
    }
    let out = payfault(
        &[
            "check",
            "a",
            "b",
            "--seeds",
            "3",
            "--keep-going",
            "--shrink-dir",
            "s",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for (stem, name) in [("a-x", "first"), ("b-x", "second")] {
        let file = dir.join(format!("s/{stem}.seed-1.shrunk.ron"));
        assert!(
            text.contains(&format!("to s/{stem}.seed-1.shrunk.ron")),
            "{text}"
        );
        let shrunk = std::fs::read_to_string(&file).unwrap();
        assert!(
            shrunk.contains(&format!("name: \"{name}-seed-1-shrunk\"")),
            "{shrunk}"
        );
    }
}

/// Regression: when a seed stopped at a limit, seeds after it that another worker had already
/// run still counted, so the violations shown, the shrunk seed and the exit code (1 rather
/// than 2) depended on `--jobs`.
#[test]
fn the_seeds_after_a_stop_count_for_nothing_whatever_the_jobs() {
    let dir = scratch("stop-jobs");
    let text =
        std::fs::read_to_string(root().join("tests/check/naive-expected-to-hold.ron")).unwrap();
    let end = text.rfind(')').unwrap();
    // Seed 1 passes the limit; most later seeds do not, and all of them violate the property.
    let stopping = format!(
        "{}    limits: (max_events: 32800),\n)\n",
        text[..end].replace("purchases: 400,", "purchases: 4000,")
    );
    std::fs::write(dir.join("stopping.ron"), stopping).unwrap();
    let run = |jobs: &str| {
        payfault(
            &["check", "stopping.ron", "--seeds", "40", "--jobs", jobs],
            &dir,
        )
    };
    let one = run("1");
    assert_eq!(one.status.code(), Some(2), "{}", stdout(&one));
    assert!(
        stdout(&one).contains("nothing violated"),
        "{}",
        stdout(&one)
    );
    for _ in 0..3 {
        let two = run("2");
        assert_eq!(two.status.code(), Some(2));
        assert_eq!(stdout(&one), stdout(&two));
    }
}

/// A shrink stops at `--shrink-runs`, says so, and writes a scenario that still fails; the
/// limit is the same on every machine, so the file is the same whatever `--jobs`.
/// Regression: `--shrink-runs N` spent N + 1 runs, the one confirming the file beyond it.
#[test]
fn a_shrink_stops_at_its_limit_of_runs_and_says_so() {
    let dir = scratch("shrink-runs");
    let scenario = "tests/check/late-duplicate.ron";
    let run = |jobs: &str, runs: &str, to: &str| {
        payfault(
            &[
                "check",
                scenario,
                "--seeds",
                "60",
                "--jobs",
                jobs,
                "--shrink-runs",
                runs,
                "--format",
                "json",
                "--shrink-dir",
                dir.join(to).to_str().unwrap(),
            ],
            &root(),
        )
    };
    let json = |o: &Output| -> serde_json::Value { serde_json::from_slice(&o.stdout).unwrap() };
    let (cut, cut3, whole) = (
        run("1", "4", "a"),
        run("3", "4", "b"),
        run("1", "1000", "c"),
    );
    let shrunk = |o: &Output| json(o)["scenarios"][0]["shrunk"].clone();
    let (s, w) = (shrunk(&cut), shrunk(&whole));
    assert_eq!(s["complete"], false, "{s}");
    assert_eq!(
        s["runs"], 4,
        "the limit, the run that confirms what is kept included"
    );
    assert_eq!(w["complete"], true, "{w}");
    assert!(
        w["after"]["faults"].as_u64() < s["after"]["faults"].as_u64(),
        "{s} {w}"
    );
    let file = s["file"].as_str().unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains("in 4 runs, where --shrink-runs stopped it"),
        "{text}"
    );
    let other = shrunk(&cut3)["file"].as_str().unwrap().to_string();
    assert_eq!(
        text,
        std::fs::read_to_string(&other)
            .unwrap()
            .replace("/b/", "/a/")
    );
    let replayed = payfault(&["run", file], &root());
    assert_eq!(replayed.status.code(), Some(1), "{}", stdout(&replayed));

    let text_out = payfault(
        &[
            "check",
            scenario,
            "--seeds",
            "60",
            "--shrink-runs",
            "4",
            "--shrink-dir",
            dir.join("d").to_str().unwrap(),
        ],
        &root(),
    );
    assert!(
        stdout(&text_out).contains("; --shrink-runs stopped it after 4 runs)"),
        "{}",
        stdout(&text_out)
    );
    for bad in ["0", "1000001", "x"] {
        let o = payfault(&["check", scenario, "--shrink-runs", bad], &root());
        assert_eq!(o.status.code(), Some(2), "--shrink-runs {bad}");
    }
}

/// Regression: `--junit /dev/stdout` wrote the XML after the verdict on standard output, so
/// that neither a JSON nor an XML reader could read it. The XML now has standard output to
/// itself and the verdict goes to standard error, as `run` does with a trace there. A JSON
/// verdict there went among the progress lines, where no reader could take it for JSON: that
/// pair is refused.
#[test]
fn junit_on_standard_output_keeps_it_to_itself() {
    let dir = scratch("junit-stdout");
    std::fs::copy(
        root().join("tests/check/late-duplicate.ron"),
        dir.join("a.ron"),
    )
    .unwrap();
    for (format, code) in [("text", 1), ("json", 2)] {
        let out = payfault(
            &[
                "check",
                "a.ron",
                "--seeds",
                "2",
                "--junit",
                "/dev/stdout",
                "--format",
                format,
            ],
            &dir,
        );
        assert_eq!(out.status.code(), Some(code), "{format}");
        let xml = stdout(&out);
        assert!(xml.starts_with("<?xml"), "{format}: {xml}");
        assert!(xml.trim_end().ends_with("</testsuites>"), "{format}: {xml}");
        if code == 1 {
            assert!(stderr(&out).contains("late-duplicate"), "{format}");
        } else {
            assert!(
                stderr(&out).contains("--format json's verdict would then go to standard error"),
                "{}",
                stderr(&out)
            );
            assert!(xml.contains("errors=\"1\""), "{xml}");
        }
    }
    // Regression: a refused check wrote no report there (standard output is a link on Linux,
    // and links are not written through for a refusal), and no JSON either: nothing at all.
    for junit in ["-", "/dev/stdout"] {
        for format in ["text", "json"] {
            let out = payfault(
                &["check", "none.ron", "--junit", junit, "--format", format],
                &dir,
            );
            assert_eq!(out.status.code(), Some(2), "{junit} {format}");
            let xml = stdout(&out);
            assert!(
                xml.starts_with("<?xml")
                    && xml.contains("errors=\"1\"")
                    && xml.contains("none.ron"),
                "{junit} {format}: {xml}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regression: a pipe named like a scenario in a checked folder was read, and `check` waited
/// on it for ever. A folder's pipes are passed over.
#[test]
fn a_pipe_in_a_checked_folder_is_passed_over() {
    let dir = scratch("fifo");
    std::fs::copy(
        root().join("tests/check/naive-expected-to-hold.ron"),
        dir.join("a.ron"),
    )
    .unwrap();
    let fifo = dir.join("z.ron");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    // Were the pipe read, nothing would ever write it: the check is given a minute.
    let mut child = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(["check", ".", "--seeds", "2"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("payfault runs");
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("check waited on the pipe");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    // The one scenario, which is known to fail.
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("1 scenario checked"),
        "{}",
        stdout(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regression: `check` of a shrunk scenario ran seeds from 1, not the seed the file records,
/// so a shrunk failure kept as a regression test could pass: shrunk from seed 56 of
/// `late-duplicate`, its duplicate debit is on seed 56 alone. Without `--seed-start`, `check`
/// now starts at a scenario's `seed`; with it, where it says.
#[test]
fn a_shrunk_scenario_is_checked_from_the_seed_it_records() {
    let dir = scratch("shrunk-seed");
    let shrunk_dir = dir.join("shrunk");
    let first = payfault(
        &[
            "check",
            "tests/check/late-duplicate.ron",
            "--seeds",
            "60",
            "--shrink-dir",
            shrunk_dir.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(first.status.code(), Some(1));
    let file = shrunk_dir.join("late-duplicate.seed-56.shrunk.ron");
    let text = std::fs::read_to_string(&file).expect("the shrunk scenario");
    assert!(text.contains("seed: Some(56)"), "{text}");
    // Run elsewhere, so that its own shrunk file goes to the scratch folder.
    let file = file.to_str().unwrap();
    let again = payfault(&["check", file, "--seeds", "3", "--format", "json"], &dir);
    assert_eq!(again.status.code(), Some(1), "{}", stdout(&again));
    let json: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(json["scenarios"][0]["seed_start"], 56);
    let text_out = payfault(&["check", file, "--seeds", "3"], &dir);
    assert!(
        stdout(&text_out).contains("3 seeds from 56,"),
        "{}",
        stdout(&text_out)
    );
    // Seeds of the caller's choosing, where it may hold.
    let elsewhere = payfault(&["check", file, "--seeds", "3", "--seed-start", "57"], &dir);
    let json: serde_json::Value = serde_json::from_slice(
        &payfault(
            &[
                "check",
                file,
                "--seeds",
                "3",
                "--seed-start",
                "57",
                "--format",
                "json",
            ],
            &dir,
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(json["scenarios"][0]["seed_start"], 57);
    assert!(
        stdout(&elsewhere).contains("3 seeds from 57,"),
        "{}",
        stdout(&elsewhere)
    );
}

/// Regression: a known-bad scenario that also broke a property it does not expect listed, as
/// its example seeds, the first three seeds of the break it expects, and not the one that
/// made it fail (JSON and JUnit had it). The unexpected break now comes first.
#[test]
fn the_example_seeds_lead_with_the_unexpected_break() {
    let dir = scratch("unexpected-first");
    let text = std::fs::read_to_string(root().join("tests/check/late-duplicate.ron")).unwrap();
    let end = text.rfind(')').unwrap();
    let file = dir.join("late-duplicate-expects-agreement.ron");
    std::fs::write(
        &file,
        format!("{}    expect: Violated([Agreement]),\n)\n", &text[..end]),
    )
    .unwrap();
    let out = payfault(
        &[
            "check",
            file.to_str().unwrap(),
            "--seeds",
            "60",
            "--shrink-dir",
            dir.join("shrunk").to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let examples: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("seed "))
        .collect();
    assert_eq!(examples.len(), 3, "{text}");
    assert!(
        examples[0].contains("seed 56 duplicate-debit intent 17"),
        "{text}"
    );
    assert!(
        examples[1].contains("seed 1 charged-but-told-failed"),
        "{text}"
    );
}

/// Regression: when the chart beside a shrunk scenario could not be written, `check` said
/// "not shrunk" (and `shrunk: null` in JSON), though the scenario had been written whole.
/// It now reports the shrunk scenario, and the chart's failure beside it.
#[test]
fn a_chart_that_cannot_be_written_leaves_the_shrunk_scenario_reported() {
    let dir = scratch("chart-fails");
    let shrunk = dir.join("shrunk");
    // A folder where the chart goes.
    std::fs::create_dir_all(shrunk.join("naive-expected-to-hold.seed-1.svg")).unwrap();
    let args = |format: &str| {
        payfault(
            &[
                "check",
                "tests/check/naive-expected-to-hold.ron",
                "--seeds",
                "5",
                "--format",
                format,
                "--shrink-dir",
                shrunk.to_str().unwrap(),
            ],
            &root(),
        )
    };
    let text = args("text");
    assert_eq!(text.status.code(), Some(1), "the expectation failed");
    let out = stdout(&text);
    assert!(out.contains("     shrunk seed 1 to "), "{out}");
    assert!(
        out.contains("     chart not written: --shrink-dir: "),
        "{out}"
    );
    assert!(!out.contains("not shrunk"), "{out}");
    let json: serde_json::Value = serde_json::from_slice(&args("json").stdout).unwrap();
    let s = &json["scenarios"][0];
    assert!(s["shrunk"]["file"].is_string(), "{s}");
    assert!(s["shrunk"]["chart"].is_null(), "{s}");
    assert!(s["chart_error"].is_string(), "{s}");
    let file = shrunk.join("naive-expected-to-hold.seed-1.shrunk.ron");
    let replay = payfault(&["run", file.to_str().unwrap()], &root());
    assert_eq!(replay.status.code(), Some(1));
    // JUnit says it too, and names each example's intent and time as the text does.
    let junit = dir.join("report.xml");
    let with_junit = payfault(
        &[
            "check",
            "tests/check/naive-expected-to-hold.ron",
            "--seeds",
            "5",
            "--junit",
            junit.to_str().unwrap(),
            "--shrink-dir",
            shrunk.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(with_junit.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("\nchart not written: --shrink-dir: "), "{xml}");
    let example = stdout(&with_junit)
        .lines()
        .find(|l| l.trim_start().starts_with("seed 1 "))
        .map(|l| l.trim().to_string())
        .expect("an example seed");
    let (head, _) = example.split_once(": ").unwrap();
    assert!(
        head.contains(" intent ") && head.ends_with(" s"),
        "{example}"
    );
    assert!(xml.contains(head), "{head}\n{xml}");
}

/// Regression: a check refused before it ran (a malformed scenario among good ones, a path
/// that does not exist) left an earlier `--junit` report in place, so that a CI dashboard
/// showed its pass. The report now holds one error saying why; a `--junit` path that is
/// itself wrong (one of the scenarios) is left alone.
#[test]
fn a_refused_check_replaces_an_earlier_junit_report_with_its_error() {
    let dir = scratch("junit-refused");
    let folder = dir.join("scenarios");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(
        root().join("scenarios/policy-idempotent.ron"),
        folder.join("policy-idempotent.ron"),
    )
    .unwrap();
    let report = dir.join("report.xml");
    let check = |path: &Path, junit: &Path| {
        payfault(
            &[
                "check",
                path.to_str().unwrap(),
                "--seeds",
                "3",
                "--junit",
                junit.to_str().unwrap(),
                "--shrink-dir",
                dir.join("shrunk").to_str().unwrap(),
            ],
            &root(),
        )
    };
    assert_eq!(check(&folder, &report).status.code(), Some(0));
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("errors=\"0\""));

    let bad = folder.join("bad.ron");
    std::fs::write(&bad, "Scenario(name: \"bad\", terminals: x)\n").unwrap();
    assert_eq!(check(&folder, &report).status.code(), Some(2));
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(
        xml.contains("tests=\"1\" failures=\"0\" errors=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains("<error message=\"") && xml.contains("bad.ron:1:34: expected a whole number"),
        "{xml}"
    );

    assert_eq!(
        check(&dir.join("no-such-folder"), &report).status.code(),
        Some(2)
    );
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("no-such-folder: cannot read"));

    // A report path that is one of the scenarios is refused, and the scenario kept; so is
    // one named as a scenario that does not exist, which is not made.
    let before = std::fs::read_to_string(&bad).unwrap();
    assert_eq!(check(&bad, &bad).status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), before);
    let missing = dir.join("missing.ron");
    assert_eq!(check(&missing, &missing).status.code(), Some(2));
    assert!(!missing.exists());
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    assert_eq!(
        check(&missing, &dir.join("sub/../missing.ron"))
            .status
            .code(),
        Some(2)
    );
    assert!(!missing.exists());
}

/// A scenario whose `seed` is near the largest is checked on the seeds up to it, not refused
/// (with `--seed-start`, the range asked for must fit).
#[test]
fn a_scenario_seed_near_the_largest_checks_the_seeds_up_to_it() {
    let dir = scratch("largest-seed");
    let text = std::fs::read_to_string(root().join("scenarios/policy-idempotent.ron")).unwrap();
    let end = text.rfind(')').unwrap();
    let file = dir.join("last-seed.ron");
    std::fs::write(
        &file,
        format!("{}    seed: 18446744073709551614,\n)\n", &text[..end]),
    )
    .unwrap();
    let out = payfault(&["check", file.to_str().unwrap()], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("2 seeds from 18446744073709551614,"),
        "{}",
        stdout(&out)
    );
    let asked = payfault(
        &[
            "check",
            file.to_str().unwrap(),
            "--seed-start",
            "18446744073709551614",
        ],
        &dir,
    );
    assert_eq!(asked.status.code(), Some(2));
}

/// Two scenarios of one `name:` (a copy beside its original) are two test cases a dashboard
/// can tell apart: their JUnit names carry their files; a name used once stays as it is.
#[test]
fn junit_names_scenarios_of_one_name_with_their_files() {
    let dir = scratch("same-name");
    let good = std::fs::read_to_string(root().join("scenarios/policy-idempotent.ron")).unwrap();
    for f in ["one.ron", "two.ron"] {
        std::fs::write(dir.join(f), &good).unwrap();
    }
    std::fs::copy(
        root().join("tests/check/naive-expected-to-hold.ron"),
        dir.join("three.ron"),
    )
    .unwrap();
    let out = payfault(
        &[
            "check",
            "one.ron",
            "two.ron",
            "three.ron",
            "--seeds",
            "2",
            "--junit",
            "report.xml",
            "--shrink-dir",
            "s",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let xml = std::fs::read_to_string(dir.join("report.xml")).unwrap();
    let names: Vec<&str> = xml
        .lines()
        .filter(|l| l.contains("<testcase"))
        .map(|l| {
            l.split(" name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        names,
        [
            "policy-idempotent (one.ron)",
            "policy-idempotent (two.ron)",
            "naive-expected-to-hold",
        ],
        "{xml}"
    );

    // A file named twice is one scenario, checked once.
    let out = payfault(
        &[
            "check",
            "one.ron",
            "./one.ron",
            ".",
            "--seeds",
            "2",
            "--keep-going",
            "--junit",
            "again.xml",
            "--shrink-dir",
            "s",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let xml = std::fs::read_to_string(dir.join("again.xml")).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 3, "{xml}");
    assert!(
        stdout(&out).contains("3 scenarios checked"),
        "{}",
        stdout(&out)
    );
}
