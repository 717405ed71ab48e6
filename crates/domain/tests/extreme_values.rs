//! Every number and duration of every shipped scenario set, one at a time, to values at and
//! past the edges of its range: the scenario is refused with an error, or it runs (to its end
//! or to a limit) without a panic. Bad input never panics.

mod common;

use payfault_domain::{from_ron, run};

const NUMBERS: [&str; 9] = [
    "0",
    "1",
    "2",
    "0.5",
    "0.999999",
    "1.0",
    "4294967295",
    "4294967296",
    "18446744073709551615",
];
const DURATIONS: [&str; 5] = ["0ns", "1ns", "1us", "1h", "100000d"];

/// The places in `text` where a `field: value` stands with a value that is a number or a
/// quoted duration: the byte range of the value and whether it is quoted.
fn values(text: &str) -> Vec<(usize, usize, bool)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for (i, _) in text.match_indices(": ") {
        // Only after a field name, and not inside a comment.
        let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
        if text[line_start..i].contains("//") || i == 0 || !b[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let at = i + 2;
        let quoted = b.get(at) == Some(&b'"');
        let start = at + usize::from(quoted);
        if !b.get(start).is_some_and(u8::is_ascii_digit) {
            continue;
        }
        let len = b[start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'.' || **c == b'_')
            .count();
        if quoted && b.get(start + len) != Some(&b'"') {
            continue;
        }
        out.push((start, start + len, quoted));
    }
    out
}

#[test]
fn extreme_values_are_refused_or_run_never_panic() {
    let files = common::ron_files("scenarios");
    let (mut tried, mut ran) = (0, 0);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("limits:"), "{file:?} sets its own limits");
        // Bounded, so that values that make a run endless stop it soon.
        let text = text.replacen(
            "Scenario(",
            "Scenario(\n    limits: (max_events: 300000, max_pending: 100000),",
            1,
        );
        for (start, end, quoted) in values(&text) {
            let subs: &[&str] = if quoted { &DURATIONS } else { &NUMBERS };
            for sub in subs {
                let v = format!("{}{sub}{}", &text[..start], &text[end..]);
                tried += 1;
                let outcome = std::panic::catch_unwind(|| {
                    from_ron(&v).map(|sc| run(&sc, 1).is_ok()).unwrap_or(false)
                });
                let line = text[..start].matches('\n').count() + 1;
                match outcome {
                    Ok(true) => ran += 1,
                    Ok(false) => {}
                    Err(_) => panic!(
                        "{file:?} line {line}: {sub} in place of {}",
                        &text[start..end]
                    ),
                }
            }
        }
    }
    // The scan found the scenarios' values, and many of the variants are legitimate runs.
    assert!(tried > 5_000, "{tried} variants");
    assert!(ran > 2_000, "{ran} of {tried} ran");
}
