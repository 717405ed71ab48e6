//! Scenario text (RON) to a validated [`Scenario`]. Text in, value or positioned error out:
//! reading files is the caller's business.

use std::fmt;

use ron::extensions::Extensions;

use crate::config::{Scenario, FIELD_MARK};

/// Why scenario text is not a valid scenario, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct ScenarioError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Parses and validates a scenario written in RON. `Some(...)` may be left out around
/// optional values.
pub fn from_ron(text: &str) -> Result<Scenario, ScenarioError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME)
        .from_str::<Scenario>(text)
        .map_err(|e| match &e.code {
            // What the parts of a whole scenario disagree on is found at its end; point at
            // the field it is about instead, where the file has it.
            ron::Error::Message(m) if m.contains(FIELD_MARK) => {
                let (field, message) = m.split_once(FIELD_MARK).unwrap_or(("", m));
                let (line, col) =
                    field_at(text, field).unwrap_or((e.position.line, e.position.col));
                ScenarioError {
                    line,
                    col,
                    message: message.to_string(),
                }
            }
            _ if runaway_string(text, e.position.line).is_some() => {
                // The string ran on to the next quote, and what follows it misreads: point at
                // where it opened.
                let (line, col) = runaway_string(text, e.position.line).unwrap_or_default();
                ScenarioError {
                    line,
                    col,
                    message: format!(
                        "{} after this string, which runs past the end of its line: is its \
                         closing quote missing?",
                        Explained(&e.code)
                    ),
                }
            }
            _ => ScenarioError {
                line: e.position.line,
                // RON moves past a number too large for 64 bits twice: at most the line's end.
                col: e.position.col.min(
                    text.lines()
                        .nth(e.position.line.saturating_sub(1))
                        .map_or(0, str::len)
                        + 1,
                ),
                message: match (&e.code, at(text, e.position.line, e.position.col)) {
                    // RON reads the whole part of `20.5` as a number and stops at the point.
                    (ron::Error::ExpectedComma, ['.', d]) if d.is_ascii_digit() => {
                        "expected a whole number, found a fraction".to_string()
                    }
                    (ron::Error::ExpectedIdentifier, ['"', _]) => {
                        "expected a name, written without quotes".to_string()
                    }
                    (code, _) => Explained(code).to_string(),
                },
            },
        })
}

/// The line and column (from 1) of the first `field:` of `text` outside comments.
fn field_at(text: &str, field: &str) -> Option<(usize, usize)> {
    if field.is_empty() {
        return None;
    }
    text.lines().enumerate().find_map(|(i, line)| {
        let code = line.split("//").next().unwrap_or("");
        let mut from = 0;
        while let Some(k) = code[from..].find(field).map(|k| k + from) {
            let before = code[..k].chars().next_back();
            let after = code[k + field.len()..].trim_start();
            let word_start = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if word_start && after.starts_with(':') {
                return Some((i + 1, k + 1));
            }
            from = k + field.len();
        }
        None
    })
}

/// Where (line and column, from 1) the last string before line `line` opened, if it ran
/// over a line end, as one whose closing quote is missing does.
fn runaway_string(text: &str, line: usize) -> Option<(usize, usize)> {
    let end: usize = text
        .lines()
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    let bytes = &text.as_bytes()[..end.min(text.len())];
    let (mut i, mut at_line, mut line_start) = (0, 1, 0);
    let mut last: Option<((usize, usize), usize)> = None;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                at_line += 1;
                line_start = i + 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                let opened = (at_line, i - line_start + 1);
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    match bytes[i] {
                        b'\\' => i += 1,
                        b'\n' => {
                            at_line += 1;
                            line_start = i + 1;
                        }
                        _ => {}
                    }
                    i += 1;
                }
                last = Some((opened, at_line));
            }
            _ => {}
        }
        i += 1;
    }
    last.and_then(|(opened, closed)| (closed > opened.0).then_some(opened))
}

/// The byte at `line` and `col` (from 1) of `text`, and the one after it, as characters
/// (what is looked for is ASCII); spaces past the end.
fn at(text: &str, line: usize, col: usize) -> [char; 2] {
    // RON counts columns in bytes.
    let mut bytes = text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .bytes()
        .skip(col.saturating_sub(1))
        .map(char::from);
    [bytes.next().unwrap_or(' '), bytes.next().unwrap_or(' ')]
}

/// "unknown `what` `found` `within`: expected one of ...".
fn unknown(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    found: &str,
    within: Option<String>,
    expected: &[&str],
) -> fmt::Result {
    let names: Vec<String> = expected.iter().map(|e| format!("`{e}`")).collect();
    write!(
        f,
        "unknown {what} `{found}`{}: expected one of {}",
        within.unwrap_or_default(),
        names.join(", ")
    )
}

/// The name a scenario's writer knows a type by, where the type that reads it is another.
fn written_name(name: &str) -> &str {
    match name {
        "RawLatency" => "Latency",
        other => other,
    }
}

/// RON's messages, with what was expected spelled out where RON leaves it implicit.
struct Explained<'a>(&'a ron::Error);

impl fmt::Display for Explained<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ron::Error::Message(m) => write!(f, "{m}"),
            ron::Error::Eof => write!(
                f,
                "the file ended early: a closing bracket or a value is missing"
            ),
            ron::Error::NoSuchStructField {
                expected,
                found,
                outer,
            } => unknown(
                f,
                "field",
                found,
                outer.as_deref().map(|o| format!(" in `{o}`")),
                expected,
            ),
            ron::Error::NoSuchEnumVariant {
                expected,
                found,
                outer,
            } => unknown(
                f,
                "variant",
                found,
                outer
                    .as_deref()
                    .map(|o| format!(" of `{}`", written_name(o))),
                expected,
            ),
            ron::Error::ExpectedInteger => {
                write!(f, "expected a whole number (no quotes, no sign)")
            }
            other => write!(f, "{other}"),
        }
    }
}
