//! Tests of the `payfault` binary as a user runs it: exit codes, messages, output formats and
//! trace files.

use std::path::{Path, PathBuf};
use std::process::Command;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn workspace(rel: &str) -> PathBuf {
    Path::new(WORKSPACE).join(rel)
}

fn scenario(name: &str) -> String {
    workspace("scenarios").join(name).display().to_string()
}

/// A temporary path unique to this test process and `tag`.
fn temp_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("payfault-cli-{}-{tag}", std::process::id()))
}

/// An empty folder at [`temp_path`].
fn fresh_dir(tag: &str) -> PathBuf {
    let dir = temp_path(tag);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn payfault<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(args)
        .output()
        .expect("the binary starts");
    let o = Outcome {
        // A missing code means a signal killed the process: never acceptable.
        code: out.status.code().expect("payfault exited by itself"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    };
    // Exit code 101 and "panicked" are how a Rust panic shows; bad input must never cause one.
    assert_ne!(
        o.code,
        101,
        "payfault panicked on {:?}: {}",
        args_text(args),
        o.stderr
    );
    assert!(
        !o.stderr.contains("panicked"),
        "payfault panicked on {:?}: {}",
        args_text(args),
        o.stderr
    );
    o
}

fn args_text<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<String> {
    args.iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect()
}

/// A scenario file that must be refused, and how.
struct Malformed {
    file: &'static str,
    /// The line (from 1) of the bad value, as the message must report it.
    line: usize,
    /// The column (from 1), in characters as an editor counts them.
    col: usize,
    /// Part of the message saying what was wrong or expected.
    phrase: &'static str,
    /// A replacement (bad text, good text) that makes the file valid, proving that the file
    /// fails for this defect and no other. `None` where no small edit can repair it.
    fix: Option<(&'static str, &'static str)>,
}

const MALFORMED: &[Malformed] = &[
    // Regression: RON's own words ("Expected an `#![enable(...)]` attribute") and a column
    // past the `#`.
    Malformed {
        file: "hash-comment.ron",
        line: 1,
        col: 1,
        phrase: "expected a scenario, `Scenario(name: ..., ...)`, found `#`: a comment is written `// ...`",
        fix: Some(("# A comment", "// A comment")),
    },
    // Regression: accepted, every wait then the cap, where a uniform `hi` below `lo` is
    // refused.
    Malformed {
        file: "backoff-cap-below-base.ron",
        line: 12,
        col: 64,
        phrase: "expected the backoff's cap at least its base (\"2s\"), found \"100ms\"",
        fix: Some(("cap: \"100ms\"", "cap: \"8s\"")),
    },
    // Regression: RON's own words about what follows `#!`, at the fifth column.
    Malformed {
        file: "shebang.ron",
        line: 1,
        col: 1,
        phrase: "found `#`: a comment is written `// ...`",
        fix: Some(("#!/usr/bin/env payfault", "// /usr/bin/env payfault")),
    },
    // Regression: RON's own words, "Expected opening `[`".
    Malformed {
        file: "expect-not-a-list.ron",
        line: 13,
        col: 22,
        phrase: "expected a list of properties in brackets, such as `Violated([Agreement])`, found `NoDuplicateDebit`",
        fix: Some(("Violated(NoDuplicateDebit)", "Violated([NoDuplicateDebit])")),
    },
    // Regression: a byte that is not UTF-8 was reported without a line or column.
    Malformed {
        file: "not-utf8.ron",
        line: 1,
        col: 28,
        phrase: "expected UTF-8 text",
        fix: None,
    },
    // Regression: a count this large aborted the process when the run allocated its tables.
    Malformed {
        file: "too-many-terminals.ron",
        line: 4,
        col: 16,
        phrase: "expected at most 100000000, found 4294967295",
        fix: Some(("4294967295", "2")),
    },
    Malformed {
        file: "too-many-accounts.ron",
        line: 11,
        col: 74,
        phrase: "expected at most 1000000000, found 4294967295",
        fix: Some(("4294967295", "1000")),
    },
    // Regression: this bound was checked with the whole scenario, and reported at its end.
    Malformed {
        file: "too-many-attempts.ron",
        line: 12,
        col: 61,
        phrase: "expected at most 65535, found 70000",
        fix: Some(("70000", "65535")),
    },
    // Regression: RON's own words, "Expected colon", "Expected comma", "Unexpected duplicate
    // field", "Unexpected missing field" and "Non-whitespace trailing characters", named
    // neither what belongs there nor what was found.
    Malformed {
        file: "missing-colon.ron",
        line: 4,
        col: 15,
        phrase: "expected `:` between a field's name and its value, found `2`",
        fix: Some(("terminals 2", "terminals: 2")),
    },
    Malformed {
        file: "missing-comma.ron",
        line: 5,
        col: 5,
        phrase: "expected `,` before the next field or value, or a closing bracket, found `workload`",
        fix: Some(("terminals: 2\n", "terminals: 2,\n")),
    },
    Malformed {
        file: "duplicate-field.ron",
        line: 5,
        col: 101,
        phrase: "the field `purchases` in `Workload` is given twice: expected it once",
        fix: Some((", purchases: 20", "")),
    },
    Malformed {
        file: "missing-field.ron",
        line: 12,
        col: 1,
        phrase: "expected the field `policy` in `Scenario`, which has no default: it is missing",
        fix: Some((
            "queue: 10),\n)",
            "queue: 10),\n    policy: (kind: Idempotent, timeout: \"1s\"),\n)",
        )),
    },
    Malformed {
        file: "trailing-text.ron",
        line: 14,
        col: 1,
        phrase: "expected the end of the file after the scenario's closing `)`, found `policy`",
        fix: Some(("policy: (kind: Naive)\n", "")),
    },
    // Regression: `check_seeds: 0` made `check` pass having run no seed.
    Malformed {
        file: "zero-check-seeds.ron",
        line: 13,
        col: 18,
        phrase: "expected at least 1 seed, found 0",
        fix: Some(("check_seeds: 0", "check_seeds: 1")),
    },
    // Regression: an empty name was accepted, and reports were headed by nothing.
    Malformed {
        file: "empty-name.ron",
        line: 3,
        col: 11,
        phrase: "expected a name, found an empty one",
        fix: Some(("name: \" \"", "name: \"named\"")),
    },
    // Regression: `expect: Violated([])` passed `check` having expected nothing.
    Malformed {
        file: "violated-nothing.ron",
        line: 13,
        col: 5,
        phrase: "expected at least one property in `Violated([...])`",
        fix: Some(("Violated([])", "Hold")),
    },
    // Regression: a fraction where a count belongs read as "Expected comma".
    Malformed {
        file: "fractional-count.ron",
        line: 10,
        col: 54,
        phrase: "expected a whole number, found 1.5",
        fix: Some(("servers: 1.5", "servers: 1")),
    },
    // Regression: a quoted enum variant read as "Expected identifier"; and where a wider
    // character came first on the line, the explanation was lost.
    Malformed {
        file: "quoted-variant.ron",
        line: 13,
        col: 28,
        phrase: "expected a name, written without quotes",
        fix: Some(("\"Idempotent\"", "Idempotent")),
    },
    // Regression: a count too large for 64 bits was "found 1e20", and then named no bound.
    Malformed {
        file: "huge-count.ron",
        line: 4,
        col: 16,
        phrase: "expected at most 100000000, found 99999999999999999999",
        fix: Some(("99999999999999999999", "2")),
    },
    // Regression: a misspelt distribution named the internal type `RawLatency`, and the
    // message ran its words together ("`Constnt`in enum").
    Malformed {
        file: "misspelt-variant.ron",
        line: 8,
        col: 41,
        phrase: "unknown variant `Constnt` of `Latency`: expected one of `Constant`, `Uniform`",
        fix: Some(("Constnt", "Constant")),
    },
    // Regression: what only the whole scenario shows was reported at its closing parenthesis.
    Malformed {
        file: "partition-of-a-missing-link.ron",
        line: 15,
        col: 9,
        phrase: "a partition names the link AcquirerSwitch, which this scenario does not have",
        fix: Some(("AcquirerSwitch", "AcquirerBank")),
    },
    Malformed {
        file: "crash-of-a-missing-terminal.ron",
        line: 14,
        col: 14,
        phrase: "Terminal(7) does not exist: terminals are numbered 0 to 1",
        fix: Some(("Terminal(7)", "Terminal(1)")),
    },
    // Regression: a missing closing quote read only as "Expected comma", at a later line.
    Malformed {
        file: "string-open-at-the-end.ron",
        line: 14,
        col: 18,
        phrase: "this string is not closed: expected its closing `\"` before the end of the file",
        fix: Some(("\"unfinished\n", "\"unfinished\",\n)\n")),
    },
    Malformed {
        file: "unterminated-string.ron",
        line: 4,
        col: 11,
        phrase: "after this string, which runs past the end of its line: is its closing quote missing?",
        fix: Some(("\"malformed,", "\"malformed\",")),
    },
    // Regression: an unclosed block comment was reported past the last line of the file.
    Malformed {
        file: "unclosed-comment.ron",
        line: 5,
        col: 5,
        phrase: "this comment `/*` is not closed: expected `*/` before the end of the file",
        fix: Some(("and then never closed", "closed */")),
    },
    Malformed {
        file: "unknown-field.ron",
        line: 7,
        col: 65,
        phrase: "unknown field `drop_rate` in `LinkConfig`: expected one of `latency`, `drop`, `duplicate`",
        fix: Some(("drop_rate:", "drop:")),
    },
    Malformed {
        file: "wrong-type.ron",
        line: 4,
        col: 16,
        phrase: "expected a whole number",
        fix: Some(("\"many\"", "2")),
    },
    Malformed {
        file: "probability-above-one.ron",
        line: 7,
        col: 62,
        phrase: "expected a probability between 0 and 1, found 1.5",
        fix: Some(("drop: 1.5", "drop: 0.5")),
    },
    Malformed {
        file: "zero-timeout.ron",
        line: 12,
        col: 41,
        phrase: "expected a duration longer than zero, found 0",
        fix: Some(("\"0ms\"", "\"1s\"")),
    },
    // Regression: RON's "Unknown escape character" stood one past the escape and named
    // neither it nor the escapes a string may hold.
    Malformed {
        file: "unknown-escape.ron",
        line: 3,
        col: 22,
        phrase: r#"unknown escape `\q` in a string: expected one of"#,
        fix: Some((r#""malformed \q""#, r#""malformed q""#)),
    },
    Malformed {
        file: "malformed-escape.ron",
        line: 3,
        col: 22,
        phrase: r#"malformed escape `\u{110000}` in a string (not a valid char)"#,
        fix: Some((r#""malformed \u{110000}""#, r#""malformed q""#)),
    },
    // Regression: RON's byte column fell inside the `é`, and the escape named was the last
    // one on the line, `\n`, a valid one.
    Malformed {
        file: "non-ascii-in-an-escape.ron",
        line: 4,
        col: 21,
        phrase: r#"malformed escape `\xé5` in a string (non-hex digit found)"#,
        fix: Some((r"\xé5", "e5")),
    },
    // Regression: the message said the duration was too long, not how long one may be.
    Malformed {
        file: "duration-too-long.ron",
        line: 12,
        col: 41,
        phrase: r#"duration "213504d" is too long: the longest is just under 213504d"#,
        fix: Some(("213504d", "5s")),
    },
    Malformed {
        file: "negative-timeout.ron",
        line: 12,
        col: 41,
        phrase: r#"expected a duration such as "250ms", "1.5s" or "24h", found "-5s""#,
        fix: Some(("\"-5s\"", "\"5s\"")),
    },
    Malformed {
        file: "no-terminals.ron",
        line: 4,
        col: 16,
        phrase: "expected at least 1, found 0",
        fix: Some(("terminals: 0", "terminals: 1")),
    },
    Malformed {
        file: "partition-ends-before-start.ron",
        line: 13,
        col: 78,
        phrase: "a partition must end after it starts, found from 20s until 10s",
        fix: Some(("until: \"10s\"", "until: \"30s\"")),
    },
    Malformed {
        file: "unknown-unit.ron",
        line: 5,
        col: 49,
        phrase: r#"unknown unit "parsecs" in "5 parsecs": expected one of ns, us, ms, s, m, h, d"#,
        fix: Some(("5 parsecs", "5s")),
    },
    Malformed {
        file: "not-ron.ron",
        line: 2,
        col: 1,
        phrase: "expected a scenario, `Scenario(name: ..., ...)`, found `this`",
        fix: None,
    },
    Malformed {
        file: "truncated.ron",
        line: 8,
        col: 52,
        phrase: "the file ended early: a closing bracket or a value is missing",
        fix: None,
    },
    // Regression: a number where a name belongs drew the advice to write `r#0.5`.
    Malformed {
        file: "number-for-a-distribution.ron",
        line: 10,
        col: 28,
        phrase: r#"expected a distribution such as Constant("1ms") or Exponential(mean: "1ms"), found `0.5`"#,
        fix: Some(("processing: 0.5", r#"processing: Constant("2ms")"#)),
    },
    // Regression: a number beyond its type read "Integer is out of bounds", naming no bound.
    Malformed {
        file: "queue-beyond-32-bits.ron",
        line: 10,
        col: 64,
        phrase: "expected at most 4294967295, found 4294967296",
        fix: Some(("4294967296", "10")),
    },
    Malformed {
        file: "seed-beyond-64-bits.ron",
        line: 13,
        col: 11,
        phrase: "expected at most 18446744073709551615, found 18446744073709551616",
        fix: Some(("18446744073709551616", "7")),
    },
    // Regression: nesting too deep drew advice for developers ("serde_stacker").
    Malformed {
        file: "nested-too-deep.ron",
        line: 8,
        col: 514,
        phrase: "nested too deeply: values nest at most 128 levels deep",
        fix: None,
    },
    // Regression: these read "Expected identifier", "Expected string", "Expected boolean".
    Malformed {
        file: "distribution-without-a-name.ron",
        line: 7,
        col: 38,
        phrase: r#"expected a distribution such as Constant("100ms") or Exponential(mean: "100ms"), found `("100ms")`"#,
        fix: Some((r#"("100ms")"#, r#"Constant("100ms")"#)),
    },
    Malformed {
        file: "distribution-for-a-duration.ron",
        line: 12,
        col: 41,
        phrase: r#"expected a duration in quotes, with a unit, such as "1s" or "250ms", found `Constant("1s")`"#,
        fix: Some((r#"Constant("1s")"#, r#""1s""#)),
    },
    Malformed {
        file: "string-for-a-boolean.ron",
        line: 12,
        col: 25,
        phrase: r#"expected true or false, found the string "NaN s""#,
        fix: Some((r#""NaN s""#, "true")),
    },
    // Regression: the value was shown as read into a float, -9223372036854776000.
    Malformed {
        file: "probability-of-a-large-integer.ron",
        line: 12,
        col: 74,
        phrase: "expected a probability between 0 and 1, found -9223372036854775808",
        fix: Some(("-9223372036854775808", "0.5")),
    },
    // Regression: a spike's bad `p` was reported where the spike ends.
    Malformed {
        file: "spike-probability-above-one.ron",
        line: 10,
        col: 16,
        phrase: "expected a spike probability between 0 and 1, found 2",
        fix: Some(("p: 2", "p: 0.5")),
    },
    // Regression: a lognormal's bad `sigma` was reported where the distribution ends, as
    // "sigma must be finite and positive" (0 is allowed).
    Malformed {
        file: "negative-lognormal-sigma.ron",
        line: 10,
        col: 20,
        phrase: "expected a lognormal sigma, finite and at least 0, found -0.5",
        fix: Some(("sigma: -0.5", "sigma: 0.5")),
    },
    // Regression: a bad `sigma` inside a spike was reported where the whole spike ends.
    Malformed {
        file: "infinite-lognormal-sigma.ron",
        line: 11,
        col: 51,
        phrase: "expected a lognormal sigma, finite and at least 0, found inf",
        fix: Some(("sigma: inf", "sigma: 1")),
    },
    // Regression: a Pareto's bad `shape` was reported where the distribution ends.
    Malformed {
        file: "zero-pareto-shape.ron",
        line: 10,
        col: 20,
        phrase: "expected a Pareto shape, finite and above 0, found 0",
        fix: Some(("shape: 0", "shape: 1.5")),
    },
    // Regression: a uniform's `lo` above its `hi` was reported where the whole spike ends,
    // as "uniform bounds are reversed".
    Malformed {
        file: "uniform-lo-above-hi.ron",
        line: 11,
        col: 17,
        phrase: r#"hi must be at least lo: expected at least "5s", found "1s""#,
        fix: Some((r#"hi: "1s","#, r#"hi: "6s","#)),
    },
    // Regression: an amount's `min` above its `max` was reported where the amount ends, as
    // "expected 0 < min <= max".
    Malformed {
        file: "amount-min-above-max.ron",
        line: 9,
        col: 13,
        phrase: "max must be at least min: expected at least 500, found 100",
        fix: Some(("max: 100", "max: 1000")),
    },
    // Regression: "expected a whole number, found 1e19" did not say what was wrong with it.
    Malformed {
        file: "count-with-an-exponent.ron",
        line: 10,
        col: 54,
        phrase: "expected a whole number written without an exponent or a point, found 1e19",
        fix: Some(("1e19", "1")),
    },
    // Regression: `min` did not say what it found, as `max` does.
    Malformed {
        file: "quoted-amount.ron",
        line: 5,
        col: 70,
        phrase: r#"expected a whole number (no quotes, no sign), found the string "213504d""#,
        fix: Some((r#""213504d""#, "100")),
    },
    // Regression: `max_events: 0` was accepted, and every run failed at its first event.
    Malformed {
        file: "zero-max-events.ron",
        line: 12,
        col: 26,
        phrase: "expected at least 1 event, found 0",
        fix: Some(("max_events: 0", "max_events: 1000000")),
    },
    Malformed {
        file: "zero-max-pending.ron",
        line: 12,
        col: 27,
        phrase: "expected at least 1 pending event, found 0",
        fix: Some(("max_pending: 0", "max_pending: 1000")),
    },
    // Regression: a wider character before the error put the column one further right for
    // each byte past its first.
    Malformed {
        file: "non-ascii-before-the-error.ron",
        line: 4,
        col: 52,
        phrase: "unknown field `drop` in `Scenario`",
        fix: Some((" drop: 0.5,", "")),
    },
    // Regression: a fault schedule naming a message the run never sends was accepted, and
    // the fault never struck, unlike the same mistake in `partitions` or `crashes`.
    Malformed {
        file: "scheduled-drop-on-a-missing-link.ron",
        line: 16,
        col: 13,
        phrase: "a scheduled drop of intent 1 (attempt 1, PurchaseResp) names the link SwitchBank, which this scenario does not have",
        fix: Some(("SwitchBank", "TerminalAcquirer")),
    },
    Malformed {
        file: "scheduled-attempt-zero.ron",
        line: 15,
        col: 90,
        phrase: "expected an attempt number of at least 1 (attempts count from 1), found 0",
        fix: Some(("attempt: 0", "attempt: 1")),
    },
    Malformed {
        file: "scheduled-round-of-a-purchase.ron",
        line: 16,
        col: 13,
        phrase: "names a message this scenario never sends: only a reversal's sends have rounds (each of 65,536 sends), expected `round: 0` for PurchaseResp, found 1",
        fix: Some((", round: 1)", ")")),
    },
    Malformed {
        file: "scheduled-intent-beyond-purchases.ron",
        line: 15,
        col: 13,
        phrase: "a scheduled duplicate names intent 9999, which is never issued: with `purchases: 10`, purchases are numbered 0 to 9",
        fix: Some(("9999", "9")),
    },
    Malformed {
        file: "scheduled-intent-left-out-by-only.ron",
        line: 15,
        col: 13,
        phrase: "a scheduled erroneous reply names intent 4, which is never issued: `only` does not list it",
        fix: Some(("only: [3]", "only: [3, 4]")),
    },
    // Regression: `only: []` issued nothing, and every property held vacuously.
    Malformed {
        file: "only-nothing.ron",
        line: 5,
        col: 101,
        phrase: "expected at least one purchase in `only`, found none; without `only`, every purchase is issued",
        fix: Some(("only: []", "only: [2]")),
    },
    // Regression: a property named twice in `Violated([...])` was accepted.
    Malformed {
        file: "violated-twice.ron",
        line: 13,
        col: 5,
        phrase: "expected each property once in `Violated([...])`, found NoDuplicateDebit twice",
        fix: Some(("NoDuplicateDebit, NoDuplicateDebit", "NoDuplicateDebit")),
    },
    // Regression: an empty file read "Expected opening `(` for struct `Scenario`".
    Malformed {
        file: "empty.ron",
        line: 1,
        col: 1,
        phrase: "the file is empty",
        fix: None,
    },
    // Regression: `only` naming no purchase that is ever issued ran none and reported all held.
    Malformed {
        file: "only-beyond-purchases.ron",
        line: 5,
        col: 101,
        phrase: "`only` names purchase 999999, which is never issued: with `purchases: 50`, purchases are numbered 0 to 49",
        fix: Some(("999999", "49")),
    },
    // Regression: a hedge due at or after the timeout, or with no attempt to spare, was
    // accepted and silently never sent.
    Malformed {
        file: "hedge-not-below-the-timeout.ron",
        line: 13,
        col: 47,
        phrase: "expected hedge_after below the timeout (1s), found 1s",
        fix: Some(("hedge_after: \"1s\"", "hedge_after: \"500ms\"")),
    },
    Malformed {
        file: "hedge-with-one-attempt.ron",
        line: 12,
        col: 64,
        phrase: "expected max_attempts of at least 2 with hedge_after",
        fix: Some(("max_attempts: 1,", "max_attempts: 2,")),
    },
    Malformed {
        file: "more-purchases-than-keys-can-number.ron",
        line: 10,
        col: 6,
        phrase: "expected at most 549755813888 purchases (a key holds a purchase's number in 39 bits), found 549755813889",
        // The most allowed would run for days.
        fix: None,
    },
    Malformed {
        file: "hedge-past-the-deadline.ron",
        line: 12,
        col: 83,
        phrase: "expected hedge_after below the deadline (500ms), found 1s",
        fix: Some(("deadline: \"500ms\"", "deadline: \"5s\"")),
    },
];

fn malformed_dir() -> PathBuf {
    workspace("tests/malformed")
}

#[test]
fn every_malformed_file_has_an_expectation() {
    let mut on_disk: Vec<String> = std::fs::read_dir(malformed_dir())
        .expect("tests/malformed exists")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = MALFORMED.iter().map(|m| m.file.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "tests/malformed and the MALFORMED table disagree"
    );
}

#[test]
fn malformed_scenarios_exit_2_naming_file_line_column_and_what_was_expected() {
    for m in MALFORMED {
        let path = malformed_dir().join(m.file);
        let path_text = path.display().to_string();
        let o = payfault(&["run", &path_text]);
        assert_eq!(o.code, 2, "{}: exit code; stderr: {}", m.file, o.stderr);

        // The message is `FILE:LINE:COL: what`, after clap-style "error: ".
        let at = o
            .stderr
            .find(&path_text)
            .unwrap_or_else(|| panic!("{}: file not named in {:?}", m.file, o.stderr));
        let rest = &o.stderr[at + path_text.len()..];
        let mut parts = rest.splitn(4, ':');
        assert_eq!(
            parts.next(),
            Some(""),
            "{}: no ':' after the file name in {:?}",
            m.file,
            o.stderr
        );
        let line: usize = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{}: no line in {:?}", m.file, o.stderr));
        let col: usize = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{}: no column in {:?}", m.file, o.stderr));
        let message = parts.next().unwrap_or("");
        assert_eq!(
            (line, col),
            (m.line, m.col),
            "{}: reported line and column; stderr: {}",
            m.file,
            o.stderr
        );

        // The column must fall on that line (one past its end marks the end of the file).
        let text = String::from_utf8_lossy(&std::fs::read(&path).expect("malformed file readable"))
            .into_owned();
        let line_len = text.lines().nth(line - 1).map_or(0, |l| l.chars().count());
        assert!(
            (1..=line_len + 1).contains(&col),
            "{}: column {col} is off line {line} ({line_len} chars)",
            m.file
        );
        assert!(
            message.contains(m.phrase),
            "{}: message {message:?} lacks {:?}",
            m.file,
            m.phrase
        );

        if let Some((bad, good)) = m.fix {
            assert_eq!(
                text.matches(bad).count(),
                1,
                "{}: the fix must name one place",
                m.file
            );
            let fixed = temp_path(&format!("fixed-{}", m.file));
            std::fs::write(&fixed, text.replace(bad, good)).expect("temp file writable");
            let o = payfault(&["run".as_ref(), fixed.as_os_str()]);
            let _ = std::fs::remove_file(&fixed);
            // 0 or 1 both mean the scenario was accepted and run.
            assert!(
                o.code == 0 || o.code == 1,
                "{} still refused once fixed: {}",
                m.file,
                o.stderr
            );
        }
    }
}

/// Bad command lines: each exits 2 with a message containing every listed phrase.
#[test]
fn usage_errors_exit_2_and_say_what_is_wrong() {
    let idempotent = scenario("policy-idempotent.ron");
    let checked = workspace("tests/check").display().to_string();
    // Spelled through a folder that is not there: where it would be made is the folder checked.
    let not_yet_then_checked = workspace("tests/check/no-such-folder/..")
        .display()
        .to_string();
    let missing = workspace("scenarios/no-such-scenario.ron")
        .display()
        .to_string();
    let cases: &[(&[&str], &[&str])] = &[
        (&["run", &missing], &[&missing, "cannot read"]),
        (
            &["run", &idempotent, "--policy", "bogus"],
            &["bogus", "none, naive, idempotent, reversal, inquiry"],
        ),
        (
            &["run", &idempotent, "--format", "xml"],
            &["xml", "--format"],
        ),
        (&["run", &idempotent, "--seed", "many"], &["many", "--seed"]),
        (&["run"], &["<SCENARIO>"]),
        (&["walk", &idempotent], &["walk"]),
        // Regression: an empty path (an unset shell variable) said ": No such file or
        // directory", naming neither the option nor the problem.
        (
            &["run", &idempotent, "--trace", ""],
            &["--trace", "an empty path"],
        ),
        (&["check", ""], &["<PATHS>", "an empty path"]),
        // Regression: a shrink folder that was also a folder checked had its shrunk
        // scenarios, which fail by design, checked and shrunk again on the next run.
        (
            &["check", &checked, "--shrink-dir", &checked],
            &["is a folder checked", "name another folder"],
        ),
        (
            &["check", &checked, "--shrink-dir", &not_yet_then_checked],
            &["is a folder checked", "name another folder"],
        ),
        (
            &["sweep", "sweeps/drop-rate.ron", "--out", ""],
            &["--out", "an empty path"],
        ),
        // Regression: bench took zeros as ones, and a terminal count too large to allocate
        // aborted the process.
        (
            &["bench", &idempotent, "--terminals", "0"],
            &["--terminals", "0"],
        ),
        (
            &["bench", &idempotent, "--terminals", "400000000"],
            &["--terminals", "400000000", "100000000"],
        ),
        (
            &["bench", &idempotent, "--purchases", "0"],
            &["--purchases"],
        ),
        (&["bench", &idempotent, "--runs", "0"], &["--runs"]),
        (&["bench", &idempotent, "--load-of", "0"], &["--load-of"]),
        (
            &["bench", "--scales", "--max-purchases", "10"],
            &["--max-purchases", "100000"],
        ),
        (
            &["bench", "--queue", "--max-pending", "10"],
            &["--max-pending", "1000"],
        ),
        (&["bench", "--queue", "--scales"], &["--queue", "--scales"]),
        (
            &["bench", "--queue", "--terminals", "10"],
            &["--queue", "--terminals"],
        ),
        // Regression: a huge worker count hung while starting threads.
        (
            &["check", &idempotent, "--jobs", "100000"],
            &["--jobs", "1024"],
        ),
        (&["check", &idempotent, "--jobs", "0"], &["--jobs"]),
        (&[], &["Usage"]),
    ];
    for (args, phrases) in cases {
        let o = payfault(args);
        assert_eq!(o.code, 2, "{args:?}: exit code; stderr: {}", o.stderr);
        for p in *phrases {
            assert!(
                o.stderr.contains(p),
                "{args:?}: stderr lacks {p:?}: {}",
                o.stderr
            );
        }
    }
}

#[test]
fn an_unwritable_trace_file_exits_2_naming_it() {
    let trace = temp_path("no-such-dir").join("trace.jsonl");
    let trace_text = trace.display().to_string();
    let o = payfault(&[
        "run",
        &scenario("policy-idempotent.ron"),
        "--trace",
        &trace_text,
    ]);
    assert_eq!(o.code, 2, "stderr: {}", o.stderr);
    assert!(
        o.stderr.contains(&trace_text),
        "stderr lacks the trace path: {}",
        o.stderr
    );
    // Regression: a device that cannot take the trace was named alone, not as the trace's.
    let o = payfault(&[
        "run",
        &scenario("policy-idempotent.ron"),
        "--trace",
        "/dev/full",
    ]);
    assert_eq!(o.code, 2, "stderr: {}", o.stderr);
    assert!(
        o.stderr
            .contains("error: --trace /dev/full: No space left on device"),
        "{}",
        o.stderr
    );
}

#[test]
fn help_exits_0_and_documents_commands_and_options() {
    let cases: &[(&[&str], &[&str])] = &[
        // The top level lists the commands and the exit codes; options belong to `run`.
        (&["--help"], &["run", "Exit codes", "--help", "--version"]),
        (
            &["run", "--help"],
            &[
                "<SCENARIO>",
                "--seed",
                "--policy",
                "--trace",
                "--format",
                "text, json",
            ],
        ),
        (
            &["help", "run"],
            &["--seed", "--policy", "--trace", "--format"],
        ),
    ];
    for (args, phrases) in cases {
        let o = payfault(args);
        assert_eq!(o.code, 0, "{args:?}: exit code; stderr: {}", o.stderr);
        for p in *phrases {
            assert!(
                o.stdout.contains(p),
                "{args:?}: help lacks {p:?}: {}",
                o.stdout
            );
        }
    }
}

#[test]
fn a_run_where_every_property_holds_exits_0_without_a_replay_line() {
    let o = payfault(&["run", &scenario("policy-idempotent.ron"), "--seed", "5"]);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    assert!(o.stdout.contains("seed 5"), "{}", o.stdout);
    assert!(!o.stdout.contains("VIOLATED"), "{}", o.stdout);
    assert!(!o.stdout.contains("replay:"), "{}", o.stdout);
}

/// The line of `run`'s summary that gives the replay command.
fn replay_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.starts_with("replay: payfault run"))
        .expect("a replay line")
}

#[test]
fn a_violated_property_exits_1_and_prints_a_replay_command_that_reproduces_the_run() {
    let path = scenario("policy-naive.ron");
    let o = payfault(&["run", &path, "--seed", "3"]);
    assert_eq!(o.code, 1, "stderr: {}", o.stderr);
    assert!(
        o.stdout.contains("no-duplicate-debit     VIOLATED"),
        "{}",
        o.stdout
    );
    let replay = replay_line(&o.stdout);
    assert_eq!(replay, format!("replay: payfault run {path} --seed 3"));

    // The path may hold spaces, so split on the known separator rather than on whitespace.
    let (file, seed) = replay["replay: payfault run ".len()..]
        .rsplit_once(" --seed ")
        .expect("replay has a seed");
    let again = payfault(&["run", file, "--seed", seed]);
    assert_eq!(again.code, 1);
    assert_eq!(
        again.stdout, o.stdout,
        "the replay command must reproduce the run exactly"
    );
}

/// Regression: the replay command of a run under `--policy` left the option out, so pasted
/// back it ran the scenario's own policy: another run, which broke another property.
#[test]
fn the_replay_command_of_a_run_under_another_policy_names_that_policy() {
    let path = scenario("policy-naive.ron");
    let o = payfault(&["run", &path, "--seed", "3", "--policy", "none"]);
    assert_eq!(o.code, 1, "stderr: {}", o.stderr);
    assert!(
        o.stdout.contains("agreement              VIOLATED"),
        "{}",
        o.stdout
    );
    let replay = replay_line(&o.stdout);
    assert_eq!(
        replay,
        format!("replay: payfault run {path} --seed 3 --policy none")
    );
    let again = payfault(&["run", &path, "--seed", "3", "--policy", "none"]);
    assert_eq!(again.stdout, o.stdout);
}

/// Regression: the replay command of `payfault run -- -dash.ron` named the file as it was
/// given, so pasted back into a shell it read as an option.
#[test]
fn the_replay_command_of_a_file_named_with_a_leading_dash_pastes_back_into_a_shell() {
    let dir = fresh_dir("dash");
    std::fs::copy(scenario("policy-naive.ron"), dir.join("-dash.ron")).expect("copy");
    let o = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(["run", "--seed", "3", "--", "-dash.ron"])
        .current_dir(&dir)
        .output()
        .expect("the binary starts");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    let replay = stdout
        .lines()
        .find_map(|l| l.strip_prefix("replay: "))
        .expect("a replay line");
    assert_eq!(replay, "payfault run ./-dash.ron --seed 3");
    let pasted = Command::new("sh")
        .arg("-c")
        .arg(format!("\"$PAYFAULT\"{}", &replay["payfault".len()..]))
        .env("PAYFAULT", env!("CARGO_BIN_EXE_payfault"))
        .current_dir(&dir)
        .output()
        .expect("sh starts");
    assert_eq!(
        String::from_utf8_lossy(&pasted.stdout),
        stdout,
        "`{replay}` did not replay the run: {}",
        String::from_utf8_lossy(&pasted.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_format_prints_one_object_with_the_summary_sections() {
    for (file, seed, code) in [
        ("policy-idempotent.ron", "5", 0),
        ("policy-naive.ron", "3", 1),
    ] {
        let o = payfault(&["run", &scenario(file), "--seed", seed, "--format", "json"]);
        assert_eq!(o.code, code, "{file}: stderr: {}", o.stderr);
        let text = o.stdout.trim();
        assert!(
            text.starts_with('{') && text.ends_with('}'),
            "{file}: not a JSON object: {text}"
        );
        for key in [
            "\"properties\"",
            "\"metrics\"",
            "\"violations\"",
            "\"seed\": ",
        ] {
            assert!(text.contains(key), "{file}: JSON lacks {key}");
        }
        assert!(
            !text.contains("replay:"),
            "{file}: text output leaked into JSON"
        );
    }
}

/// With `--format json` a refused command still gives a script one JSON object to read: the
/// error, its exit code, and each unreadable scenario's file, line and column.
#[test]
fn a_refusal_under_json_format_is_one_json_object_naming_file_line_and_column() {
    let m = &MALFORMED[0];
    let bad = malformed_dir().join(m.file).display().to_string();
    let missing = workspace("scenarios/no-such-scenario.ron")
        .display()
        .to_string();
    for args in [
        vec!["run", &bad, "--format", "json"],
        vec!["check", &bad, "--format", "json"],
        vec!["check", &bad, &missing, "--format", "json"],
    ] {
        let o = payfault(&args);
        assert_eq!(o.code, 2, "{args:?}: stderr: {}", o.stderr);
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: stdout is not one JSON object ({e}): {:?}",
                o.stdout
            )
        });
        assert_eq!(v["exit_code"], 2, "{args:?}");
        let error = v["error"].as_str().expect("error is a string");
        assert!(
            o.stderr.contains(error.lines().next().unwrap()),
            "{args:?}: {error:?} not on stderr"
        );
        let problems = v["problems"].as_array().expect("problems is a list");
        assert_eq!(
            problems.len(),
            args.len() - 3,
            "{args:?}: one problem a file: {v}"
        );
        assert_eq!(problems[0]["file"], bad.as_str(), "{args:?}");
        assert_eq!(problems[0]["line"], m.line, "{args:?}");
        assert_eq!(problems[0]["column"], m.col, "{args:?}");
        assert!(
            problems[0]["message"].as_str().unwrap().contains(m.phrase),
            "{args:?}"
        );
        if let Some(p) = problems.get(1) {
            assert_eq!(p["file"], missing.as_str());
            assert!(
                p.get("line").is_none(),
                "an unreadable file has no line: {p}"
            );
        }
    }

    // A usage error has no problems to list; text format keeps standard output empty.
    let o = payfault(&[
        "check",
        &scenario("policy-idempotent.ron"),
        "--seeds",
        "0",
        "--format",
        "json",
    ]);
    assert_eq!(o.code, 2);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("one JSON object");
    assert!(v["error"].as_str().unwrap().contains("--seeds"), "{v}");
    assert_eq!(v["problems"], serde_json::json!([]));
    let o = payfault(&["check", &bad]);
    assert_eq!((o.code, o.stdout.as_str()), (2, ""));

    // So does an option the command line parser refuses, written either way.
    let idempotent = scenario("policy-idempotent.ron");
    for (args, says) in [
        (
            vec!["check", &idempotent, "--jobs", "0", "--format", "json"],
            "--jobs",
        ),
        (
            vec!["run", &idempotent, "--seed", "abc", "--format=json"],
            "--seed",
        ),
        (
            vec!["run", &idempotent, "--bogus", "--format", "json"],
            "--bogus",
        ),
        // The argument missing is named, from the message's second line.
        (
            vec!["run", "--format", "json"],
            "were not provided: <SCENARIO>",
        ),
    ] {
        let o = payfault(&args);
        assert_eq!(o.code, 2, "{args:?}");
        let v: serde_json::Value = serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {:?}", o.stdout));
        assert!(v["error"].as_str().unwrap().contains(says), "{args:?}: {v}");
        assert_eq!(v["exit_code"], 2);
    }
    let o = payfault(&["run", &idempotent, "--bogus"]);
    assert_eq!((o.code, o.stdout.as_str()), (2, ""));
    // Not where a trace has standard output (written `--trace=-` too), nor where `--format
    // json` follows `--`, which makes them paths.
    for args in [
        vec![
            "run",
            &idempotent,
            "--trace=-",
            "--format",
            "json",
            "--seed",
            "x",
        ],
        vec!["check", "--seeds", "x", "--", "--format", "json"],
    ] {
        let o = payfault(&args);
        assert_eq!((o.code, o.stdout.as_str()), (2, ""), "{args:?}");
    }

    // Where a trace has standard output to itself, it gets no JSON error mixed in.
    let o = payfault(&["run", &bad, "--format", "json", "--trace", "/dev/stdout"]);
    assert_eq!((o.code, o.stdout.as_str()), (2, ""), "stderr: {}", o.stderr);

    // An error after the summary was printed (a chart that needs an intent) makes no second
    // document.
    let chart = temp_path("json-refusal-chart.svg");
    let o = payfault(&[
        "run".as_ref(),
        scenario("policy-idempotent.ron").as_ref(),
        "--seed".as_ref(),
        "5".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--chart".as_ref(),
        chart.as_os_str(),
    ]);
    assert_eq!(o.code, 2, "stderr: {}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("the summary alone");
    assert!(
        v.get("metrics").is_some() && v.get("error").is_none(),
        "{v}"
    );
}

/// The text summary's counts of the bank's answers without a debit are the JSON's.
#[test]
fn the_text_summary_counts_what_the_bank_deduplicated_and_refused_as_in_progress() {
    for (file, line, field) in [
        (
            "trap-repeat-unchecked-fixed.ron",
            "deduplicated (key table, STAN, order)",
            "dedup_hits",
        ),
        (
            "trap-key-in-progress.ron",
            "answered 09, key in progress",
            "conflicts",
        ),
    ] {
        let text = payfault(&["run", &scenario(file), "--seed", "1"]).stdout;
        let json = payfault(&["run", &scenario(file), "--seed", "1", "--format", "json"]).stdout;
        let shown: u64 = text
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(line))
            .unwrap_or_else(|| panic!("{file}: no line {line:?} in {text}"))
            .trim()
            .parse()
            .expect("a count");
        let key = format!("\"{field}\": ");
        let at = json
            .find(&key)
            .unwrap_or_else(|| panic!("{file}: no {key} in {json}"));
        let counted: u64 = json[at + key.len()..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|d| d.parse().ok())
            .expect("a count");
        assert!(shown > 0, "{file}: {line} is 0");
        assert_eq!(shown, counted, "{file}: {line}");
    }
}

#[test]
fn trace_is_json_lines_and_depends_only_on_the_seed() {
    let path = scenario("policy-idempotent.ron");
    let trace = |tag: &str, seed: &str| -> Vec<u8> {
        let file = temp_path(&format!("trace-{tag}.jsonl"));
        let o = payfault(&[
            "run".as_ref(),
            path.as_ref(),
            "--seed".as_ref(),
            seed.as_ref(),
            "--trace".as_ref(),
            file.as_os_str(),
        ]);
        assert_eq!(o.code, 0, "stderr: {}", o.stderr);
        let bytes = std::fs::read(&file).expect("trace written");
        let _ = std::fs::remove_file(&file);
        bytes
    };
    let first = trace("a", "5");
    let text = std::str::from_utf8(&first).expect("trace is UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 100, "only {} trace lines", lines.len());
    for (i, l) in lines.iter().enumerate() {
        assert!(
            l.starts_with('{') && l.ends_with('}'),
            "trace line {} is not an object: {l}",
            i + 1
        );
    }
    assert!(
        first == trace("b", "5"),
        "the same seed gave different traces"
    );
    assert!(first != trace("c", "6"), "another seed gave the same trace");
}

/// The numbers of a row of a table `bench` prints, every word of which is one.
fn numbers(line: &str) -> Vec<f64> {
    line.split_whitespace()
        .map(|w| w.parse().expect("a number"))
        .collect()
}

#[test]
fn bench_prints_each_run_the_total_and_the_fastest() {
    let o = payfault(&[
        "bench",
        &scenario("reference.ron"),
        "--runs",
        "2",
        "--purchases",
        "2000",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows: Vec<Vec<&str>> = o
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(o
        .stdout
        .starts_with("bench reference: 1000 terminals, 2000 purchases"));
    let num = |r: &[&str], i: usize| -> f64 { r[i].parse().expect("a number") };
    let runs: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == "1" || r[0] == "2").collect();
    assert_eq!(runs.len(), 2, "{}", o.stdout);
    for r in &runs {
        // events, events/s, ns/event, wall s, peak MiB: all positive, and consistent.
        assert_eq!(r.len(), 6);
        assert!((1..6).all(|i| num(r, i) > 0.0), "{r:?}");
        let ns = 1e9 / num(r, 2);
        assert!((ns - num(r, 3)).abs() / ns < 0.01, "{r:?}");
    }
    let total = rows.iter().find(|r| r[0] == "total").expect("a total row");
    assert_eq!(num(total, 1), num(runs[0], 1) + num(runs[1], 1));
    let best = rows.iter().find(|r| r[0] == "best").expect("a best row");
    let fastest = runs.iter().map(|r| num(r, 3)).fold(f64::INFINITY, f64::min);
    assert_eq!(num(best, 3), fastest);
}

#[test]
fn bench_load_of_stretches_the_terminals_arrivals() {
    // The reference with an acquirer that one purchase at a time keeps busy: how many it
    // turns away, and so the events, follow the load. (With room for all, a run's events do
    // not depend on when purchases come: each message's fate is its own.)
    let dir = fresh_dir("load-of");
    let text = std::fs::read_to_string(scenario("reference.ron")).expect("the reference");
    let busy = text.replace(
        r#"acquirer: (processing: Constant("0ms"), servers: 100000, queue: 0)"#,
        r#"acquirer: (processing: Constant("1ms"), servers: 1, queue: 0)"#,
    );
    assert_ne!(busy, text);
    let file = dir.join("busy.ron");
    std::fs::write(&file, busy).expect("write");
    let file = file.to_str().expect("a UTF-8 path").to_string();
    let bench = |extra: &[&str]| {
        let mut args = vec![
            "bench",
            file.as_str(),
            "--runs",
            "1",
            "--purchases",
            "3000",
            "--terminals",
            "4000",
        ];
        args.extend_from_slice(extra);
        let o = payfault(&args);
        let events: Option<f64> = o
            .stdout
            .lines()
            .find(|l| l.starts_with("     1 "))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok());
        (o, events)
    };
    let (plain, plain_events) = bench(&[]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let (same, same_events) = bench(&["--load-of", "4000"]);
    assert!(same
        .stdout
        .starts_with("bench reference: 4000 terminals at the load of 4000, 3000 purchases"));
    assert_eq!(same_events, plain_events, "stretched by 1: the same run");
    let (slow, slow_events) = bench(&["--load-of", "1000"]);
    assert_eq!(slow.code, 0, "{}", slow.stderr);
    assert!(slow_events.is_some() && slow_events != plain_events);
    let (bad, _) = bench(&["--load-of", "3000"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--load-of 3000"), "{}", bad.stderr);
}

/// The numbers of each line of a table that starts with one (its rows, not its headings).
fn table_rows(text: &str) -> Vec<Vec<f64>> {
    text.lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .map(numbers)
        .collect()
}

#[test]
fn bench_queue_measures_both_queues_at_each_size() {
    let o = payfault(&["bench", "--queue", "--max-pending", "10000"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.starts_with("bench --queue: the hold model"),
        "{}",
        o.stdout
    );
    let rows = table_rows(&o.stdout);
    assert_eq!(rows.len(), 2, "{}", o.stdout);
    for (r, pending) in rows.iter().zip([1_000.0, 10_000.0]) {
        // pending; then holds/s, ns/hold, wall s and peak MiB of each queue; then the ratio.
        assert_eq!(r.len(), 10, "{r:?}");
        assert_eq!(r[0], pending);
        assert!(r.iter().all(|&x| x > 0.0), "{r:?}");
        for q in [1, 5] {
            let ns = 1e9 / r[q];
            assert!((ns - r[q + 1]).abs() / ns < 0.01, "{r:?}");
        }
        assert!((r[9] - r[6] / r[2]).abs() < 0.01 + 0.01 * r[9], "{r:?}");
    }
}

#[test]
fn bench_memory_measures_both_reads_at_each_size() {
    let o = payfault(&["bench", "--memory", "--max-mib", "3"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.starts_with("bench --memory: "), "{}", o.stdout);
    let rows = table_rows(&o.stdout);
    // MiB; ns a chased read; ns an independent read.
    let sizes: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(sizes, [1.0, 2.0, 3.0], "{}", o.stdout);
    for r in &rows {
        assert_eq!(r.len(), 3, "{r:?}");
        assert!(r[1] > 0.0 && r[2] > 0.0, "{r:?}");
    }
    let o = payfault(&["bench", "--memory", "--queue"]);
    assert_eq!(o.code, 2, "--memory measures one thing: {}", o.stderr);
}

#[test]
fn bench_baseline_measures_the_hand_written_loop() {
    let o = payfault(&[
        "bench",
        &scenario("reference.ron"),
        "--baseline",
        "--runs",
        "2",
        "--purchases",
        "2000",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.starts_with(
            "bench: the minimal hand-written loop of the reference model, 1000 terminals, 2000 \
             purchases"
        ),
        "{}",
        o.stdout
    );
    let runs: Vec<Vec<f64>> = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("     1 ") || l.starts_with("     2 "))
        .map(numbers)
        .collect();
    assert_eq!(runs.len(), 2, "{}", o.stdout);
    for r in &runs {
        // An arrival, four hops and a timeout a purchase, and the retries'.
        assert!((12_000.0..13_200.0).contains(&r[1]), "{r:?}");
        assert!(r.iter().all(|&x| x > 0.0), "{r:?}");
    }
    // Without a purchase count there is nothing to stop the loop.
    let text = std::fs::read_to_string(workspace("scenarios/reference.ron")).expect("readable");
    let endless = temp_path("endless.ron");
    std::fs::write(
        &endless,
        text.replace("purchases: 1000000,", "duration: \"10s\","),
    )
    .expect("writable");
    let o = payfault(&["bench".as_ref(), endless.as_os_str(), "--baseline".as_ref()]);
    let _ = std::fs::remove_file(&endless);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("--purchases"), "{}", o.stderr);
}

#[test]
fn bench_floor_measures_the_least_loop_of_the_model() {
    let o = payfault(&[
        "bench",
        &scenario("reference.ron"),
        "--floor",
        "--runs",
        "1",
        "--purchases",
        "2000",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.starts_with(
            "bench: the floor (the least state, on the simulator's queues) of the reference \
             model, 1000 terminals, 2000 purchases"
        ),
        "{}",
        o.stdout
    );
    let run: Vec<f64> = o
        .stdout
        .lines()
        .find(|l| l.starts_with("     1 "))
        .map(numbers)
        .expect("a run's row");
    // The same model as the hand-written loop's: as many events.
    assert!((12_000.0..13_200.0).contains(&run[1]), "{run:?}");
    assert!(run.iter().all(|&x| x > 0.0), "{run:?}");
    let o = payfault(&[
        "bench",
        &scenario("reference.ron"),
        "--floor",
        "--baseline",
        "--purchases",
        "2000",
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("give one, or both with --scales"),
        "{}",
        o.stderr
    );
    let o = payfault(&["bench", "--floor", "--queue"]);
    assert_eq!(o.code, 2, "--queue measures the queue alone: {}", o.stderr);
}

/// Regression: the hand-written loop of `bench --baseline` ignored the scenario's limits, so
/// with `--purchases 100000000000` it grew by some 80 MB a second until memory ran out.
#[test]
fn bench_baseline_stops_at_the_scenarios_limits() {
    let text = std::fs::read_to_string(workspace("scenarios/reference.ron")).expect("readable");
    let limited = |tag: &str, limits: &str| {
        let path = temp_path(tag);
        std::fs::write(
            &path,
            text.replace(
                "    check_seeds: 2,",
                &format!("    check_seeds: 2,\n    {limits}"),
            ),
        )
        .expect("writable");
        path
    };
    let events = limited("baseline-events.ron", "limits: (max_events: 100000),");
    let time = limited("baseline-time.ron", "limits: (max_time: \"100s\"),");
    let reference = scenario("reference.ron");
    let (events, time) = (events.display().to_string(), time.display().to_string());
    for (scenario, purchases, phrase) in [
        (
            &reference,
            "100000000000",
            "--baseline: 100000000000 purchases at 1000 terminals (one a terminal a second) \
             take about 100000000 s of simulated time to issue, past the scenario's \
             limits.max_time of 30d",
        ),
        (
            &events,
            "1000000",
            "the run stopped: the run passed its limit of 100000 events with",
        ),
        // Issued within the limit on average, the last purchases' retries end past it.
        (
            &time,
            "99990",
            "the run stopped: the run passed its simulated-time limit of 100s with",
        ),
    ] {
        let args = [
            "bench",
            scenario,
            "--baseline",
            "--runs",
            "1",
            "--purchases",
            purchases,
        ];
        let mut child = Command::new(env!("CARGO_BIN_EXE_payfault"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let start = std::time::Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if start.elapsed() > std::time::Duration::from_secs(60) {
                let _ = child.kill();
                panic!("bench --baseline {args:?} did not stop within 60 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(phrase), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_file(&events);
    let _ = std::fs::remove_file(&time);
}

#[test]
fn bench_scales_prints_a_row_a_scale() {
    // The terminal scales run at 10^6 purchases each, the simulator's then the loop's: about
    // ten seconds in all.
    let o = payfault(&[
        "bench",
        &scenario("reference.ron"),
        "--scales",
        "--baseline",
        "--floor",
        "--max-purchases",
        "100000",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("one run a scale"), "{}", o.stdout);
    let (sim, rest) = o
        .stdout
        .split_once("\nthe minimal hand-written loop")
        .expect("a table of the loop");
    let (looped, floor) = rest
        .split_once("\nthe floor: the model with the least state")
        .expect("a table of the floor");
    let table = |text: &str, skip: usize| -> Vec<Vec<f64>> {
        text.lines().skip(skip).map(numbers).collect()
    };
    for (what, rows) in [("loop", table(looped, 2)), ("floor", table(floor, 2))] {
        assert_eq!(
            rows.iter().map(|r| r[0]).collect::<Vec<_>>(),
            [1e3, 1e4, 1e5, 1e6],
            "{what}"
        );
        for r in &rows {
            // The loop's columns, its cost per event over its first row's, then the
            // simulator's cost per event over the loop's.
            assert_eq!(r.len(), 9, "{what} {r:?}");
            assert!(r.iter().all(|&x| x > 0.0), "{what} {r:?}");
            assert!(
                (r[4] / rows[0][4] - r[7]).abs() < 0.01 + r[7] * 0.01,
                "{what} {r:?}"
            );
        }
    }
    let (sim, same_load) = sim
        .split_once("\nthe same terminals at the load of 1000")
        .expect("a table at the load of 1000 terminals");
    let rows = table(sim, 2);
    let scales: Vec<(f64, f64)> = rows.iter().map(|r| (r[0], r[1])).collect();
    assert_eq!(
        scales,
        [(1e3, 1e6), (1e4, 1e6), (1e5, 1e6), (1e6, 1e6), (1e3, 1e5)]
    );
    let same_load = table(same_load, 2);
    assert_eq!(
        same_load.iter().map(|r| (r[0], r[1])).collect::<Vec<_>>(),
        scales[..4]
    );
    // A million terminals each a thousand times slower keep a thousand terminals' payments
    // in flight, not a million's: a fraction of the memory.
    assert!(same_load[3][6] * 2.0 < rows[3][6], "{same_load:?} {rows:?}");
    for table in [&rows, &same_load] {
        assert_eq!(table[0][7], 1.0, "{table:?}");
        for r in table {
            // events, events/s, ns/event, wall s, peak MiB: positive and consistent; then the
            // cost per event over the table's first row's.
            assert_eq!(r.len(), 8);
            assert!(r.iter().all(|&x| x > 0.0), "{r:?}");
            assert!((r[2] / r[5] - r[3]).abs() / r[3] < 0.01, "{r:?}");
            assert!((1e9 / r[3] - r[4]).abs() / r[4] < 0.01, "{r:?}");
            assert!(
                (r[4] / table[0][4] - r[7]).abs() < 0.01 + r[7] * 0.01,
                "{r:?}"
            );
        }
    }
}

/// Regression: `--trace` or `--chart` naming the scenario itself wrote over it.
#[test]
fn an_output_naming_the_scenario_is_refused_and_the_scenario_kept() {
    let dir = temp_path("overwrite");
    std::fs::create_dir_all(&dir).unwrap();
    let sc = dir.join("s.ron");
    std::fs::copy(workspace("scenarios/policy-naive.ron"), &sc).unwrap();
    let before = std::fs::read(&sc).unwrap();
    let sc_text = sc.display().to_string();
    // The same file by another name is still the same file.
    let other_name = dir.join(".").join("s.ron").display().to_string();
    for flag in ["--trace", "--chart"] {
        for out in [&sc_text, &other_name] {
            let o = payfault(&["run", &sc_text, flag, out]);
            assert_eq!(o.code, 2, "{flag} {out}: stderr: {}", o.stderr);
            assert!(o.stderr.contains("is an input"), "{}", o.stderr);
            assert_eq!(std::fs::read(&sc).unwrap(), before, "{flag} {out}");
        }
    }
    let trace = dir.join("t.jsonl").display().to_string();
    let o = payfault(&["run", &sc_text, "--trace", &trace, "--chart", &trace]);
    assert_eq!(o.code, 2, "stderr: {}", o.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Regression: a run that stopped at a limit had already truncated the trace file it was
/// given, losing the trace an earlier run wrote there.
#[test]
fn a_run_that_stops_keeps_the_earlier_trace_and_writes_its_own_beside_it() {
    let dir = temp_path("partial");
    std::fs::create_dir_all(&dir).unwrap();
    let naive = scenario("policy-naive.ron");
    let trace = dir.join("t.jsonl");
    let trace_text = trace.display().to_string();
    let o = payfault(&["run", &naive, "--trace", &trace_text]);
    assert_eq!(o.code, 1, "stderr: {}", o.stderr);
    let earlier = std::fs::read(&trace).unwrap();
    let text = std::fs::read_to_string(&naive).unwrap();
    let limited = dir.join("limited.ron");
    let cut = text.rfind(')').unwrap();
    std::fs::write(
        &limited,
        format!("{}    limits: (max_events: 50),\n)\n", &text[..cut]),
    )
    .unwrap();
    let o = payfault(&[
        "run",
        &limited.display().to_string(),
        "--trace",
        &trace_text,
    ]);
    assert_eq!(o.code, 2, "stderr: {}", o.stderr);
    assert!(o.stderr.contains("limit of 50 events"), "{}", o.stderr);
    // Regression: the message named neither the file nor the seed, as `check`'s does.
    assert!(
        o.stderr
            .contains(&format!("{} seed 1: the run stopped", limited.display())),
        "{}",
        o.stderr
    );
    let partial = dir.join("t.jsonl.partial");
    assert!(
        o.stderr.contains(&partial.display().to_string()),
        "{}",
        o.stderr
    );
    assert_eq!(std::fs::read(&trace).unwrap(), earlier, "the earlier trace");
    let lines = std::fs::read_to_string(&partial).unwrap().lines().count();
    let whole = String::from_utf8(earlier).unwrap().lines().count();
    assert!(
        lines > 0 && lines * 10 < whole,
        "{lines} lines in the partial trace, {whole} in the whole"
    );
    // Nothing else is left behind: no temporary file.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["limited.ron", "t.jsonl", "t.jsonl.partial"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One of a process's output streams.
#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Runs payfault with `args` and the reader of `closed` gone before anything is written
/// (the run takes longer than that), reading the other stream to its end: the exit status and
/// what the other stream held. A run still going after 300 s fails the test: a guard against
/// a hang, not a measure of speed, since each run takes seconds.
fn with_closed(closed: Stream, args: &[&str]) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut other: Box<dyn Read + Send> = match closed {
        Stream::Stdout => {
            drop(child.stdout.take());
            Box::new(child.stderr.take().unwrap())
        }
        Stream::Stderr => {
            drop(child.stderr.take());
            Box::new(child.stdout.take().unwrap())
        }
    };
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = other.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?} still running 300 s after one of its outputs closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, reader.join().unwrap())
}

/// Regression: when the reader of standard output closed the pipe, a run that violated a
/// property exited 0, hiding the violation from `set -o pipefail`, and `bench` panicked.
#[test]
fn a_closed_pipe_keeps_the_verdict() {
    let naive = scenario("policy-naive.ron");
    let idempotent = scenario("policy-idempotent.ron");
    let shrunk = temp_path("pipe-shrunk").display().to_string();
    let sweep_out = temp_path("pipe-sweep").display().to_string();
    let tiny_sweep = workspace("tests/sweep/tiny.ron").display().to_string();
    // Expected to hold, and violated: `check` fails.
    let wrongly_held = workspace("tests/check/naive-expected-to-hold.ron")
        .display()
        .to_string();
    let cases: &[(&[&str], i32)] = &[
        (&["run", &naive, "--format", "json"], 1),
        (&["run", &idempotent], 0),
        (&["bench", &naive, "--runs", "2", "--purchases", "2000"], 0),
        (
            &[
                "check",
                &wrongly_held,
                "--seeds",
                "3",
                "--shrink-dir",
                &shrunk,
            ],
            1,
        ),
        (&["sweep", &tiny_sweep, "--out", &sweep_out], 0),
    ];
    for (args, verdict) in cases {
        let (status, stderr) = with_closed(Stream::Stdout, args);
        assert_eq!(status.code(), Some(*verdict), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&shrunk);
    // The report is written whole though nobody reads what is printed.
    assert!(Path::new(&sweep_out).join("index.html").is_file());
    let _ = std::fs::remove_dir_all(&sweep_out);
}

/// Regression (`check … 2>&1 | head` hung): a note or progress line written to a standard
/// error whose reader had gone panicked; in `check` the panic left the thread that watches
/// for signals waiting forever, and `run` and `sweep` exited 101. Diagnostics are let go;
/// the verdict and the files stand.
#[test]
fn a_closed_standard_error_keeps_the_verdict() {
    let naive = scenario("policy-naive.ron");
    let shrunk = temp_path("stderr-shrunk").display().to_string();
    let sweep_out = temp_path("stderr-sweep").display().to_string();
    let tiny_sweep = workspace("tests/sweep/tiny.ron").display().to_string();
    let wrongly_held = workspace("tests/check/naive-expected-to-hold.ron")
        .display()
        .to_string();
    let scenarios = workspace("scenarios").display().to_string();
    let cases: &[(&[&str], i32)] = &[
        (&["run", &naive, "--format", "json"], 1),
        (&["run", &naive, "--trace", "-"], 1),
        (
            &[
                "check",
                &wrongly_held,
                "--seeds",
                "3",
                "--shrink-dir",
                &shrunk,
            ],
            1,
        ),
        (
            &["check", &scenarios, "--seeds", "2", "--shrink-dir", &shrunk],
            0,
        ),
        (&["sweep", &tiny_sweep, "--out", &sweep_out], 0),
    ];
    for (args, verdict) in cases {
        let (status, _) = with_closed(Stream::Stderr, args);
        assert_eq!(status.code(), Some(*verdict), "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&shrunk);
    assert!(Path::new(&sweep_out).join("index.html").is_file());
    let _ = std::fs::remove_dir_all(&sweep_out);
}

/// Regression: a scenario name with a control character went into the chart's title as it
/// was, and XML 1.0 forbids it, so the SVG did not parse.
#[test]
fn a_chart_holds_only_characters_xml_allows() {
    let dir = temp_path("chart-xml");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(workspace("scenarios/policy-naive.ron")).unwrap();
    let name_at = text.find("name: \"").unwrap() + "name: \"".len();
    let named = format!("{}bad\\u{{1b}}{}", &text[..name_at], &text[name_at..]);
    let sc = dir.join("s.ron");
    std::fs::write(&sc, named).unwrap();
    let svg = dir.join("c.svg");
    let o = payfault(&[
        "run",
        &sc.display().to_string(),
        "--chart",
        &svg.display().to_string(),
    ]);
    assert_eq!(o.code, 1, "stderr: {}", o.stderr);
    // Nor does the text for the terminal carry it, where it could move the cursor.
    assert!(!o.stdout.contains('\u{1b}'), "{}", o.stdout);
    assert!(o.stdout.contains("scenario bad?"), "{}", o.stdout);
    let svg = std::fs::read_to_string(&svg).unwrap();
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r') || !c.is_control();
    assert!(svg.chars().all(allowed), "{svg:?}");
    assert!(svg.contains("bad?"), "the title marks the character");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Regression: `--trace` wrote a file beside its path and renamed it over the path, so a
/// symbolic link, a pipe or a device (`/dev/null`) was replaced by a plain file.
#[test]
fn a_trace_to_a_link_or_a_pipe_goes_through_it_and_leaves_it_as_it_was() {
    use std::os::unix::fs::FileTypeExt;
    let dir = fresh_dir("trace-through");
    let sc = scenario("policy-naive.ron");
    let trace_to = |path: &Path| {
        let path = path.display().to_string();
        payfault(&["run", &sc, "--seed", "3", "--trace", &path])
    };

    let (link, real) = (dir.join("link.jsonl"), dir.join("real.jsonl"));
    std::os::unix::fs::symlink("real.jsonl", &link).unwrap();
    let o = trace_to(&link);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let lines = std::fs::read_to_string(&real).unwrap().lines().count();
    assert!(lines > 1000, "{lines} trace lines through the link");

    let fifo = dir.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap().lines().count())
    };
    let o = trace_to(&fifo);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(
        reader.join().unwrap(),
        lines,
        "the pipe got the whole trace"
    );
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Regression: an output in a missing folder was found out only when the work was done, and
/// the run's or check's verdict was lost with it.
#[test]
fn an_output_that_cannot_be_written_is_refused_before_the_work() {
    let dir = fresh_dir("unwritable");
    let missing = dir.join("missing").join("out");
    let missing = missing.display().to_string();
    let a_file = dir.join("a-file");
    std::fs::write(&a_file, "").unwrap();
    let under_a_file = a_file.join("shrunk").display().to_string();
    let naive = scenario("policy-naive.ron");
    let slashed = format!("{}/", dir.join("new").display());
    let cases: [(Vec<&str>, &str); 6] = [
        (
            vec!["run", &naive, "--trace", &missing],
            "--trace cannot be written",
        ),
        (
            vec!["run", &naive, "--chart", &slashed],
            "--chart names a folder",
        ),
        (
            vec!["run", &naive, "--chart", &missing],
            "--chart cannot be written",
        ),
        (
            vec!["run", &naive, "--trace", WORKSPACE],
            "--trace names a folder",
        ),
        (
            vec!["check", &naive, "--seeds", "2", "--junit", &missing],
            "--junit cannot be written",
        ),
        (
            vec![
                "check",
                &naive,
                "--seeds",
                "2",
                "--shrink-dir",
                &under_a_file,
            ],
            "--shrink-dir cannot be made",
        ),
    ];
    for (args, phrase) in cases {
        let o = payfault(&args);
        assert_eq!(o.code, 2, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(phrase), "{args:?}: {}", o.stderr);
        // Refused before the work: no verdict was printed, nor a shrunk scenario made.
        assert_eq!(o.stdout, "", "{args:?}");
    }
    assert!(a_file.is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Regression: `--trace ./a --chart a` was taken as two files, and the chart replaced the
/// trace; `--intent` without `--chart` was silently ignored.
#[test]
fn the_same_output_by_two_spellings_and_an_intent_without_a_chart_are_refused() {
    let dir = fresh_dir("same-output");
    let naive = scenario("policy-naive.ron");
    let a = dir.join("a").display().to_string();
    let dot_a = dir.join(".").join("a").display().to_string();
    let o = payfault(&["run", &naive, "--trace", &dot_a, "--chart", &a]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("name the same file"), "{}", o.stderr);
    let o = payfault(&["run", &naive, "--seed", "3", "--intent", "14"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("--chart"), "{}", o.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Regression: `--trace /dev/stdout` followed the link to `/proc/self/fd/1` and on, so a
/// pipe was refused as a missing file and a file the shell opened for appending was replaced,
/// losing what it held. Regression: the summary was printed into that stream after the
/// trace, so that a reader of JSON Lines (`jq`) met text; it goes to standard error.
#[test]
fn a_trace_to_standard_output_goes_where_the_shell_sent_it() {
    let sc = scenario("policy-naive.ron");
    for format in ["text", "json"] {
        let o = payfault(&[
            "run",
            &sc,
            "--seed",
            "3",
            "--trace",
            "/dev/stdout",
            "--format",
            format,
        ]);
        assert_eq!(o.code, 1, "{}", o.stderr);
        let traced = o.stdout.lines().count();
        assert!(traced > 1000, "{traced} trace lines on a piped stdout");
        for line in o.stdout.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{format}: not a trace record: {line}: {e}"));
            assert!(v.get("n").is_some(), "{line}");
        }
        let summary = if format == "json" {
            "\"scenario\": \"policy-naive\""
        } else {
            "simulated time"
        };
        assert!(o.stderr.contains(summary), "{format}: {}", o.stderr);
    }

    let dir = fresh_dir("trace-stdout");
    let log = dir.join("log");
    std::fs::write(&log, "kept\n").unwrap();
    let appending = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(["run", &sc, "--seed", "3", "--trace", "/dev/stdout"])
        .stdout(appending)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("kept\n{\"n\":"), "{:?}", &text[..40]);
    assert!(text.lines().skip(1).all(|l| l.starts_with("{\"n\":")));
    assert!(String::from_utf8_lossy(&out.stderr).contains("simulated time"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every RON block of the README is a scenario or a sweep that runs as it stands: the docs
/// cannot drift from what the parser accepts.
#[test]
fn every_ron_block_of_the_readme_runs() {
    let readme = std::fs::read_to_string(workspace("README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```ron\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(blocks.len() >= 3, "{} RON blocks", blocks.len());
    let dir = fresh_dir("readme-blocks");
    copy_dir(&workspace("sweeps/bases"), &dir.join("bases"));
    let (mut scenarios, mut sweeps) = (0, 0);
    for (i, block) in blocks.iter().enumerate() {
        let file = dir.join(format!("block-{i}.ron"));
        std::fs::write(&file, block).unwrap();
        let file = file.to_str().unwrap();
        let o = if block.trim_start().starts_with("Sweep(") {
            sweeps += 1;
            let out = dir.join(format!("report-{i}"));
            payfault(&["sweep", file, "--out", out.to_str().unwrap()])
        } else {
            scenarios += 1;
            payfault(&["run", file, "--seed", "1"])
        };
        assert!(
            o.code == 0 || o.code == 1,
            "README block {i} does not run: {}\n{block}",
            o.stderr
        );
    }
    assert!(
        scenarios >= 2 && sweeps >= 1,
        "{scenarios} scenarios, {sweeps} sweeps"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Regression: `--chart` without `--intent` on a run where every property held stopped with
/// an error and printed nothing of the run; the summary comes first, then the error.
#[test]
fn a_chart_with_nothing_to_draw_still_prints_the_summary() {
    let dir = fresh_dir("chart-held");
    let chart = dir.join("c.svg");
    let o = payfault(&[
        "run",
        &scenario("policy-reversal.ron"),
        "--seed",
        "3",
        "--chart",
        chart.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stdout.contains("no-duplicate-debit     held"),
        "{}",
        o.stdout
    );
    assert!(
        o.stderr.contains("--chart needs --intent K"),
        "{}",
        o.stderr
    );
    assert!(!chart.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Regression: a workload whose `duration` ended before the first purchase passed `run` and
/// `check` ("ok ... nothing violated") with nothing tested.
#[test]
fn a_scenario_that_issues_no_purchase_is_an_input_error_not_a_pass() {
    let dir = fresh_dir("nothing-issued");
    let text = std::fs::read_to_string(scenario("policy-idempotent.ron"))
        .unwrap()
        .replace("purchases: 400,", "duration: \"1ns\",");
    let file = dir.join("vacuous.ron");
    std::fs::write(&file, text).unwrap();
    let ran = payfault(&[
        "run".as_ref(),
        file.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("nothing was tested"), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("\"intents\": 0"),
        "the summary is printed"
    );
    let junit = dir.join("junit.xml");
    let checked = payfault(&[
        "check".as_ref(),
        file.as_os_str(),
        "--seeds".as_ref(),
        "5".as_ref(),
        "--junit".as_ref(),
        junit.as_os_str(),
    ]);
    assert_eq!(checked.code, 2, "{}", checked.stdout);
    assert!(
        checked
            .stdout
            .contains("no purchase was issued on any of its 5 seeds"),
        "{}",
        checked.stdout
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("errors=\"1\"") && xml.contains("failures=\"0\""),
        "{xml}"
    );
}

/// Regression: a model larger than memory allows (a billion accounts, the largest count a
/// scenario may give) aborted the process on a failed allocation, with exit 134 and a
/// backtrace, instead of an error naming the field.
#[test]
fn a_model_too_large_for_memory_exits_2_naming_the_field() {
    let dir = fresh_dir("too-large");
    let text = std::fs::read_to_string(scenario("policy-idempotent.ron"))
        .unwrap()
        .replace(
            "idempotency: (retention",
            "accounts: 1000000000,\n        idempotency: (retention",
        );
    let file = dir.join("huge.ron");
    std::fs::write(&file, text).unwrap();
    // 8 GB of balances against 1 GB of address space.
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1000000 && exec \"$0\" run \"$1\"")
        .arg(env!("CARGO_BIN_EXE_payfault"))
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("its `bank.accounts` need 8000000000 bytes"),
        "{stderr}"
    );
    // Regression: `check`'s verdict said such a seed "stopped at a limit", as if the
    // scenario's limits had stopped it; the machine did.
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1000000 && exec \"$0\" check \"$1\" --seeds 2")
        .arg(env!("CARGO_BIN_EXE_payfault"))
        .arg(&file)
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("seed 1 could not run, nothing violated before it")
            && stdout.contains("its `bank.accounts` need 8000000000 bytes"),
        "{stdout}"
    );
}

/// Regression (running out of memory mid-run aborted): a run whose messages outgrow the memory
/// given ended with exit 134 and a backtrace, no JSON error object, and its trace left as a
/// hidden temporary file. It now exits 2 saying what to lower, as JSON under `--format json`,
/// with the trace kept as `FILE.partial`.
#[test]
fn a_run_that_outgrows_memory_exits_2_keeping_its_partial_trace() {
    let dir = fresh_dir("outgrows");
    let file = workspace("tests/limits/a-run-that-outgrows-memory.ron");
    let trace = dir.join("t.jsonl");
    for args in [
        vec!["run", "--format", "json"],
        vec!["run", "--trace", trace.to_str().unwrap()],
        vec!["check", "--seeds", "2", "--format", "json"],
    ] {
        // 300 MB of address space: enough to start, not for the run's messages.
        let out = Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 300000 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_payfault"))
            .args(&args)
            .arg(&file)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error: out of memory: an allocation of ")
                && stderr
                    .contains("Lower the scenario's terminals, purchases or limits.max_pending"),
            "{args:?}: {stderr}"
        );
        if args.contains(&"json") {
            let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
            assert_eq!(v["exit_code"], 2, "{stdout}");
            assert!(
                v["error"].as_str().unwrap().starts_with("out of memory"),
                "{stdout}"
            );
        }
    }
    let partial = dir.join("t.jsonl.partial");
    let kept = std::fs::read_to_string(&partial).expect("the trace is kept as .partial");
    assert!(kept.starts_with("{\"n\":1,"), "{:.200}", kept);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        names,
        [std::ffi::OsString::from("t.jsonl.partial")],
        "no temporary is left"
    );
}

/// Regression (whether a model fit depended on --jobs): under a memory limit that holds one
/// run's tables and not two, `check --jobs 2` refused the model as too large for the machine,
/// where `--jobs 1` checked it. A run refused its tables runs again alone.
#[test]
fn whether_a_model_fits_in_memory_does_not_depend_on_the_jobs() {
    let file = workspace("tests/limits/four-million-terminals.ron");
    let verdict = |jobs: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 600000 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_payfault"))
            .args(["check", "--seeds", "2", "--format", "json", "--jobs", jobs])
            .arg(&file)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "--jobs {jobs}: {stderr}");
        let mut v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        for timing in ["elapsed_s", "jobs"] {
            v.as_object_mut().unwrap().remove(timing);
        }
        v["scenarios"][0]
            .as_object_mut()
            .unwrap()
            .remove("elapsed_s");
        v
    };
    assert_eq!(verdict("1"), verdict("2"));
}

/// Regression (a name split a one-line report): a scenario named with a newline printed its
/// verdict line, its progress line and `run`'s header over two lines. Control characters in
/// a name show as `?` there; JSON and JUnit escape them.
#[test]
fn a_name_with_a_newline_keeps_each_report_line_whole() {
    let dir = fresh_dir("newline-name");
    let text = std::fs::read_to_string(scenario("policy-idempotent.ron"))
        .unwrap()
        .replace("name: \"policy-idempotent\"", "name: \"two\\nlines\"");
    assert!(text.contains("two\\nlines"));
    let file = dir.join("n.ron");
    std::fs::write(&file, text).unwrap();
    let file = file.display().to_string();
    let check = payfault(&["check", &file, "--seeds", "2"]);
    let run = payfault(&["run", &file]);
    for out in [&check.stdout, &check.stderr, &run.stdout, &run.stderr] {
        assert!(!out.lines().any(|l| l.starts_with("lines")), "{out}");
    }
    assert!(check.stdout.contains("ok   two?lines"), "{}", check.stdout);
    assert!(
        run.stdout.starts_with("scenario two?lines  seed"),
        "{}",
        run.stdout
    );
}

/// Regression (a chart held every record of its payment): a payment whose reversal is
/// repeated through an outage has millions of records, and its chart took gigabytes of memory
/// and of SVG. The chart draws the first 2,000 and says how many it left out.
#[test]
fn a_chart_of_a_payment_with_millions_of_records_draws_its_first() {
    let dir = fresh_dir("chart-cap");
    // The chart of `intent` in a run of `file` (under tests/limits): the exit code and the SVG.
    let chart = |file: &str, intent: &str| {
        let svg = dir.join(format!("{file}.{intent}.svg"));
        let path = workspace("tests/limits").join(file);
        let o = payfault(&[
            "run",
            path.to_str().unwrap(),
            "--chart",
            svg.to_str().unwrap(),
            "--intent",
            intent,
        ]);
        assert_ne!(o.code, 2, "{file}: {}", o.stderr);
        (o.code, std::fs::read_to_string(&svg).unwrap())
    };
    let (code, text) = chart("a-payment-with-millions-of-records.ron", "0");
    assert_eq!(code, 0);
    assert!(text.len() < 4 << 20, "{} bytes of SVG", text.len());
    assert!(
        text.contains("(its first 2000 records; ") && text.contains(" later ones left out)"),
        "{:.600}",
        text
    );

    // Regression (the cap spent on other nodes' crashes): thousands of crashes of another
    // terminal before purchase 90 filled the chart's records, and its chart was refused as of
    // an intent that did not occur.
    let (_, text) = chart("another-terminal-crashing-all-along.ron", "90");
    assert!(text.contains("intent 90, "), "{:.600}", text);
    assert!(!text.contains("left out"), "{:.600}", text);

    // Nor after it started: a payment of a few hundred records, through a bank outage that
    // began before it, was cut short by the other terminal's crashes.
    let (_, text) = chart("another-terminal-crashing-through-a-long-payment.ron", "0");
    assert!(
        text.contains("intent 0, 5.000 s to 405.000 s\n"),
        "{:.600}",
        text
    );
}

/// `-` is standard output, as Unix tools take it: a trace, chart or JUnit report given `-`
/// goes there, the summary or verdict to standard error, and no file named `-` appears.
#[test]
fn a_dash_is_standard_output() {
    let dir = fresh_dir("dash");
    let naive = scenario("policy-naive.ron");
    let idempotent = scenario("policy-idempotent.ron");
    let cases: [(&[&str], &str); 3] = [
        (&["run", &naive, "--seed", "3", "--trace", "-"], "{\"n\":1,"),
        (&["run", &naive, "--seed", "3", "--chart", "-"], "<svg "),
        (
            &["check", &idempotent, "--seeds", "2", "--junit", "-"],
            "<?xml ",
        ),
    ];
    for (args, starts) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_payfault"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stdout.starts_with(starts), "{args:?}: {stdout:.200}");
        assert!(
            stderr.contains("no-duplicate-debit") || stderr.contains("1 scenario checked"),
            "{args:?}: the summary goes to standard error: {stderr}"
        );
        assert!(!dir.join("-").exists(), "{args:?} wrote a file named -");
    }
    let o = payfault(&["run", &naive, "--trace", "-", "--chart", "-"]);
    assert_eq!(o.code, 2, "{}", o.stderr);

    // A folder is named as written: `--shrink-dir -` is a folder `-`, beside `--junit -`.
    let failing = workspace("tests/check/naive-expected-to-hold.ron");
    let failing = failing.to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args([
            "check",
            failing,
            "--seeds",
            "2",
            "--shrink-dir",
            "-",
            "--junit",
            "-",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("<?xml "));
    assert!(dir.join("-").is_dir(), "the shrunk scenario's folder");
}

/// Every column of a sweep's `results.csv` past its coordinates (the metrics of a run, nested
/// names joined by `_`, and the counts of violations) is defined in docs/metrics.md: a column
/// added without a word there fails here.
#[test]
fn every_column_of_results_is_defined_in_the_metrics_reference() {
    let out = temp_path("metrics-reference");
    let _ = std::fs::remove_dir_all(&out);
    let tiny = workspace("tests/sweep/tiny.ron");
    let o = payfault(&[
        "sweep".as_ref(),
        tiny.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let _ = std::fs::remove_dir_all(&out);
    let head: Vec<&str> = results.lines().next().unwrap().split(',').collect();
    let first = head.iter().position(|c| *c == "seed").unwrap() + 1;
    // The names in the first cell of each row of the table of one run's columns.
    let doc = std::fs::read_to_string(workspace("docs/metrics.md")).unwrap();
    let table = doc
        .split("## One run")
        .nth(1)
        .and_then(|t| t.split("\n## ").next())
        .expect("the section of one run's columns");
    let defined: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .flat_map(|cell| cell.split(", "))
        .filter_map(|n| n.strip_prefix('`')?.strip_suffix('`'))
        .collect();
    let columns = &head[first..];
    assert!(columns.len() > 50, "{columns:?}");
    let missing: Vec<&&str> = columns.iter().filter(|c| !defined.contains(c)).collect();
    assert!(missing.is_empty(), "no row in docs/metrics.md: {missing:?}");
    let extra: Vec<&&str> = defined.iter().filter(|d| !columns.contains(d)).collect();
    assert!(extra.is_empty(), "rows of no column: {extra:?}");
}

/// Regression: a scenario read from standard input printed `replay: payfault run /dev/stdin
/// --seed 3`, which runs nothing: the pipe is gone once read. The replay now asks for it to be
/// saved first.
#[test]
fn a_scenario_from_a_pipe_is_replayed_from_a_file() {
    use std::io::Write as _;
    let text = std::fs::read(scenario("policy-naive.ron")).expect("readable");
    let mut child = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(["run", "/dev/stdin", "--seed", "3"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("a pipe")
        .write_all(&text)
        .expect("written");
    let out = child.wait_with_output().expect("ends");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.ends_with(
            "\nreplay: (save the scenario read from the pipe as FILE) payfault run FILE --seed 3\n"
        ),
        "{stdout}"
    );
}
