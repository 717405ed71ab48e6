//! Scenario text (RON) to a validated [`Scenario`]. Text in, value or positioned error out:
//! reading files is the caller's business.

use std::fmt;

use ron::extensions::Extensions;
use serde::de::DeserializeOwned;

use crate::config::{
    Direction, LinkName, MsgKind, NodeName, PolicyKind, Property, Scenario, AS_WRITTEN, FIELD_MARK,
    LAST_FIELD_MARK,
};

/// Why scenario text is not a valid scenario, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct ScenarioError {
    /// From 1.
    pub line: usize,
    /// From 1, in characters (Unicode scalar values), as an editor counts them.
    pub col: usize,
    pub message: String,
}

/// How deep RON reads nested values: its default, named here so that a message can say it.
const NESTING_LIMIT: usize = 128;

/// Parses and validates a scenario written in RON. `Some(...)` may be left out around
/// optional values.
pub fn from_ron(text: &str) -> Result<Scenario, ScenarioError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME)
        .with_recursion_limit(NESTING_LIMIT)
        .from_str::<Scenario>(text)
        .map_err(|e| {
            let e = explain(text, &e);
            ScenarioError {
                col: char_col(text, e.line, e.col),
                ..e
            }
        })
}

impl Scenario {
    /// The scenario as a file would give it: written out as RON and read back, so that one
    /// built or changed in code meets every rule a file does (each field's range, the parts'
    /// agreement) and is normalised as a file is (`workload.only` sorted, say). The error's
    /// message starts with the path of the field it is about (`acquirer.servers: expected at
    /// least 1, found 0`); its line and column are those of [`to_ron`]'s text.
    pub fn validated(&self) -> Result<Scenario, ScenarioError> {
        let text = to_ron(self).map_err(|e| ScenarioError {
            line: 1,
            col: 1,
            message: e,
        })?;
        from_ron(&text).map_err(|mut e| {
            if let Some(path) = field_path(&text, e.line, e.col) {
                e.message = format!("{path}: {}", e.message);
            }
            e
        })
    }
}

/// The scenario written as RON, as a scenario file holds it (struct names included), which
/// [`from_ron`] reads back; an error only for a value RON cannot write (a non-finite number).
pub fn to_ron(sc: &Scenario) -> Result<String, String> {
    ron::ser::to_string_pretty(sc, ron::ser::PrettyConfig::default().struct_names(true))
        .map_err(|e| format!("cannot be written out as RON: {e}"))
}

/// The dotted path of the field whose value holds line `line`, column `col` (from 1, in
/// characters) of `text`: `links.acquirer_bank.drop`. The entries of a list are not numbered.
fn field_path(text: &str, line: usize, col: usize) -> Option<String> {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.checked_sub(1)?)
        .map(str::len)
        .sum();
    let rest = text.get(start..)?;
    let within = rest
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(rest.len(), |(i, _)| i);
    // A place at a field's name (`links: ...`) is about that field: read past its `:`.
    let at = &rest[within..];
    let name = at
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(at.len());
    let past = match at[name..].trim_start().strip_prefix(':') {
        Some(after) if name > 0 => at.len() - after.len(),
        _ => 0,
    };
    let names: Vec<&str> = Context::at(text, start + within + past)
        .frames
        .iter()
        .filter_map(|f| f.1)
        .collect();
    (!names.is_empty()).then(|| names.join("."))
}

/// The column (from 1) that an editor shows for byte column `col` of `line`: RON counts
/// bytes, and a name with an `é` or an emoji before the error would put it further right
/// than it is. Past the line's end, each column past it counts as one.
fn char_col(text: &str, line: usize, col: usize) -> usize {
    let Some(l) = line.checked_sub(1).and_then(|i| text.split('\n').nth(i)) else {
        return col;
    };
    let byte = col.saturating_sub(1);
    let chars = l.char_indices().take_while(|&(i, _)| i < byte).count();
    chars + byte.saturating_sub(l.len()) + 1
}

/// RON's error in the terms of a scenario's writer, at the place it is about.
/// What a file opening with `#` is told.
const HASH_COMMENT: &str =
    "expected a scenario, `Scenario(name: ..., ...)`, found `#`: a comment is written `// ...` \
     or `/* ... */`";

fn explain(text: &str, e: &ron::error::SpannedError) -> ScenarioError {
    // A file that opens with `#` (a shell's comment, a `#!` line) other than RON's own
    // `#![enable(...)]`: RON's words are about attributes, and where it stops varies.
    let start = text.trim_start_matches('\u{feff}').trim_start();
    if start.starts_with('#') && !start.starts_with("#![") {
        let at = text.len() - start.len();
        let line = text[..at].matches('\n').count() + 1;
        let col = text[..at].rsplit('\n').next().unwrap_or("").chars().count() + 1;
        return ScenarioError {
            line,
            col,
            message: HASH_COMMENT.to_string(),
        };
    }
    let (line, col) = (e.position.line, e.position.col);
    // RON may stand past the line's end (it passes some numbers twice): at most one past it.
    let on_line =
        |col: usize| col.min(text.lines().nth(line.saturating_sub(1)).map_or(0, str::len) + 1);
    match &e.code {
        // What the parts of a whole scenario disagree on is found at its end; point at the
        // field it is about instead, where the file has it.
        ron::Error::Message(m) if m.contains(FIELD_MARK) => {
            let (field, message) = m.split_once(FIELD_MARK).unwrap_or(("", m));
            let (line, col) = field_at(text, field).unwrap_or((line, col));
            ScenarioError {
                line,
                col,
                message: with_written(message, None),
            }
        }
        // What the fields of a value just read disagree on is found where the value ends;
        // point at its field, the last so named before there.
        ron::Error::Message(m) if m.contains(LAST_FIELD_MARK) => {
            let (field, message) = m.split_once(LAST_FIELD_MARK).unwrap_or(("", m));
            let (line, col) = offset(text, line, col.min(line_len(text, line) + 1))
                .and_then(|end| last_field_before(text, field, end))
                .unwrap_or((line, on_line(col)));
            ScenarioError {
                line,
                col,
                message: with_written(message, None),
            }
        }
        // A value of another kind (`terminals: three`, `servers: true`): RON stands past it
        // and describes it ("a unit value"); show it as written, where it starts.
        ron::Error::InvalidValueForType { expected, found } => {
            let value = value_before(text, line, col);
            let expected = expected.strip_prefix("Expected ").unwrap_or(expected);
            ScenarioError {
                line,
                col: on_line(value.map_or(col, |(c, _)| c)),
                message: match value {
                    Some((_, written)) => format!("expected {expected}, found `{written}`"),
                    None => format!("expected {expected}, found {found}"),
                },
            }
        }
        // A name where a group of fields belongs (`terminal: None`): RON stands past the
        // name, and names the Rust type it wanted.
        ron::Error::ExpectedDifferentStructName { expected, found } => {
            let l = text.split('\n').nth(line.saturating_sub(1)).unwrap_or("");
            let before = up_to(l, col);
            let start = before.rfind(found.as_str()).map_or(col, |s| s + 1);
            let field = offset(text, line, start).and_then(|at| Context::at(text, at).field());
            ScenarioError {
                line,
                col: on_line(start),
                message: match field {
                    Some(field) => format!(
                        "expected the fields of `{field}` in parentheses, such as \
                         `{field}: (...)`, found `{found}`"
                    ),
                    None if *expected == "Scenario" => {
                        format!("expected a scenario, `Scenario(name: ..., ...)`, found `{found}`")
                    }
                    None => format!("expected fields in parentheses, `(...)`, found `{found}`"),
                },
            }
        }
        // RON stands past the name given again: point at the name.
        ron::Error::DuplicateStructField { field, .. } => {
            let l = text.split('\n').nth(line.saturating_sub(1)).unwrap_or("");
            let before = up_to(l, col);
            let start = before.rfind(field).map_or(col, |s| s + 1);
            ScenarioError {
                line,
                col: on_line(start),
                message: Explained(&e.code).to_string(),
            }
        }
        // RON stands past the escape, or inside it: point at the backslash, show the escape
        // as written, and say which escapes a string may hold.
        ron::Error::InvalidEscape(reason) => {
            let l = text.split('\n').nth(line.saturating_sub(1)).unwrap_or("");
            let before = up_to(l, col);
            let start = before.rfind('\\');
            let message = match (start, *reason) {
                (Some(s), "Unknown escape character") => format!(
                    "unknown escape `{}` in a string: expected one of `\\\\`, `\\\"`, `\\'`, \
                     `\\n`, `\\r`, `\\t`, `\\0`, `\\xHH`, `\\u{{...}}`",
                    l[s..].chars().take(2).collect::<String>()
                ),
                (Some(s), reason) => format!(
                    "malformed escape `{}` in a string ({}): expected `\\x` and two hex \
                     digits, or `\\u{{...}}` with 1 to 6 hex digits of a Unicode character",
                    escape_written(&l[s..]),
                    reason.to_lowercase()
                ),
                (None, reason) => {
                    format!("malformed escape in a string: {}", reason.to_lowercase())
                }
            };
            ScenarioError {
                line,
                col: on_line(start.map_or(col, |s| s + 1)),
                message,
            }
        }
        // RON finds the comment unclosed at the end of the file: point at where it opened.
        ron::Error::UnclosedBlockComment => {
            let (line, col) = unclosed_comment(text).unwrap_or((line, on_line(col)));
            ScenarioError {
                line,
                col,
                message: "this comment `/*` is not closed: expected `*/` before the end of the \
                          file"
                    .to_string(),
            }
        }
        // RON ends a line at `\n` only: a file whose lines end in `\r` alone is one line, and
        // its first `//` comment runs to the end of the file. Without one, it reads as it
        // should, and its errors are its own.
        _ if text.contains('\r') && !text.contains('\n') && text.contains("//") => ScenarioError {
            line,
            col: on_line(col),
            message: "the file's lines end in a carriage return alone (classic Mac OS line \
                      ends), which RON does not read as line ends, so it is all one line: save \
                      it with LF (or CRLF) line ends"
                .to_string(),
        },
        _ if blank(text) => ScenarioError {
            line,
            col: on_line(col),
            message: if text.trim().is_empty() {
                "the file is empty: expected a scenario, `Scenario(name: ..., ...)`"
            } else {
                "the file holds only comments: expected a scenario, `Scenario(name: ..., ...)`"
            }
            .to_string(),
        },
        // The file ends inside a string: point at its opening quote.
        ron::Error::ExpectedStringEnd => {
            let (line, col) = open_string(text).unwrap_or((line, on_line(col)));
            ScenarioError {
                line,
                col,
                message: "this string is not closed: expected its closing `\"` before the end \
                          of the file"
                    .to_string(),
            }
        }
        _ if runaway_string(text, line).is_some() => {
            // The string ran on to the next quote, and what follows it misreads: point at
            // where it opened.
            let (line, col) = runaway_string(text, line).unwrap_or_default();
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
        // A value refused once read: RON stands past it, the writer looks for its start.
        code @ (ron::Error::Message(_) | ron::Error::IntegerOutOfBounds) => {
            let value = value_before(text, line, col);
            let written = value.map(|(_, v)| v);
            ScenarioError {
                line,
                col: on_line(value.map_or(col, |(c, _)| c)),
                message: match code {
                    ron::Error::Message(m) => with_written(m, written),
                    _ => format!(
                        "expected a smaller whole number, found {}",
                        written.unwrap_or("a larger one")
                    ),
                },
            }
        }
        // RON reads `#` as the start of an attribute (`#![enable(...)]`) and stands past it:
        // point at the `#`, which was meant as a comment.
        ron::Error::ExpectedAttribute => {
            let l = text.split('\n').nth(line.saturating_sub(1)).unwrap_or("");
            let start = up_to(l, col).rfind('#').map_or(col, |s| s + 1);
            ScenarioError {
                line,
                col: on_line(start),
                message: HASH_COMMENT.to_string(),
            }
        }
        code => ScenarioError {
            line,
            col: on_line(col),
            message: match (code, at(text, line, col)) {
                // RON reads the whole part of `20.5` as a number and stops at the point.
                (ron::Error::ExpectedComma, ['.', d]) if d.is_ascii_digit() => {
                    "expected a whole number, found a fraction".to_string()
                }
                _ => offset(text, line, col)
                    .and_then(|at| {
                        let hint = if text[at..].starts_with('#') {
                            ": a comment is written `// ...` or `/* ... */`"
                        } else {
                            ""
                        };
                        expected_here(text, at, code).map(|m| m + hint)
                    })
                    .unwrap_or_else(|| Explained(code).to_string()),
            },
        },
    }
}

/// What was expected where RON found something of another kind at byte `at`, and what it
/// found; `None` where RON's own message says it.
fn expected_here(text: &str, at: usize, code: &ron::Error) -> Option<String> {
    let found = found_at(text, at);
    Some(match code {
        ron::Error::ExpectedBoolean => format!("expected true or false, found {found}"),
        ron::Error::ExpectedInteger => {
            format!("expected a whole number (no quotes, no sign), found {found}")
        }
        ron::Error::ExpectedFloat => format!("expected a number, found {found}"),
        ron::Error::ExpectedString => match Context::at(text, at).field() {
            Some("name" | "description") => format!("expected text in quotes, found {found}"),
            // Every other string of a scenario is a duration.
            _ => format!(
                "expected a duration in quotes, with a unit, such as \"1s\" or \"250ms\", \
                 found {found}"
            ),
        },
        // RON suggests a raw identifier (`r#0.5`) for anything made of identifier-like
        // characters, numbers included: what was meant is a name.
        ron::Error::ExpectedIdentifier | ron::Error::SuggestRawIdentifier(_) => {
            let context = Context::at(text, at);
            if context.after == b'(' || (context.after == b',' && context.bracket() != Some(b'[')) {
                return Some(format!("expected a field name, found {found}"));
            }
            let quoted = text[at..].starts_with('"');
            match (name_expected(&context, &text[at..]), quoted) {
                (Some(what), false) => format!("expected {what}, found {found}"),
                (Some(what), true) => {
                    format!("expected a name, written without quotes ({what}), found {found}")
                }
                (None, false) => format!("expected a name, found {found}"),
                (None, true) => format!("expected a name, written without quotes, found {found}"),
            }
        }
        ron::Error::UnexpectedByte(_) => format!("expected a value, found {found}"),
        // RON names the type it wanted (`TerminalConfig`), which the writer never sees.
        ron::Error::ExpectedNamedStructLike(_) | ron::Error::ExpectedStructLike => {
            match Context::at(text, at).field() {
                Some(field) => format!(
                    "expected the fields of `{field}` in parentheses, such as `{field}: (...)`, \
                 found {found}"
                ),
                None => format!("expected fields in parentheses, `(...)`, found {found}"),
            }
        }
        ron::Error::ExpectedMapColon => {
            format!("expected `:` between a field's name and its value, found {found}")
        }
        ron::Error::ExpectedComma => {
            format!(
                "expected `,` before the next field or value, or a closing bracket, found {found}"
            )
        }
        ron::Error::ExpectedStructLikeEnd | ron::Error::ExpectedOptionEnd => {
            format!("expected `,` or the closing `)`, found {found}")
        }
        ron::Error::ExpectedArrayEnd => format!("expected `,` or the closing `]`, found {found}"),
        ron::Error::ExpectedArray => match Context::at(text, at).nearest() {
            Some("expect") => format!(
                "expected a list of properties in brackets, such as `Violated([Agreement])`, \
                 found {found}"
            ),
            _ => format!("expected a list in brackets, `[...]`, found {found}"),
        },
        ron::Error::TrailingCharacters => {
            format!("expected the end of the file after the scenario's closing `)`, found {found}")
        }
        ron::Error::ExceededRecursionLimit => format!(
            "nested too deeply: values nest at most {NESTING_LIMIT} levels deep, a Spike \
             inside another taking three"
        ),
        _ => return None,
    })
}

/// Which names may stand where `context` is, for the fields whose values are names.
fn name_expected(context: &Context<'_>, rest: &str) -> Option<String> {
    let field = if context.after == b':' {
        context.field()?
    } else {
        // An element of a list: `Violated([...])` is the one list of names.
        return (context.nearest() == Some("expect"))
            .then(|| format!("a property, one of {}", names::<Property>()));
    };
    Some(match field {
        "latency" | "processing" | "inter_arrival" | "delay" | "reply_delay" | "down_for"
        | "base" | "extra" => {
            // The writer's own duration, where a name was left out before it or it was
            // quoted, makes the example.
            let arg = rest
                .strip_prefix('(')
                .unwrap_or(rest)
                .strip_prefix('"')
                .and_then(|r| r.split_once('"'))
                .filter(|(d, _)| !d.contains(['\\', '\n']))
                .map_or("\"1ms\"".to_string(), |(d, _)| format!("\"{d}\""));
            format!("a distribution such as Constant({arg}) or Exponential(mean: {arg})")
        }
        "kind" if context.within("schedule") => {
            format!("a message kind, one of {}", names::<MsgKind>())
        }
        "kind" => format!("a policy kind, one of {}", names::<PolicyKind>()),
        "backoff" => {
            "a backoff such as Fixed(\"1s\") or FullJitter(base: \"100ms\", cap: \"2s\")".into()
        }
        "node" => format!("a node, one of {}", names::<NodeName>()),
        "link" => format!("a link, one of {}", names::<LinkName>()),
        "direction" => format!("a direction, one of {}", names::<Direction>()),
        "expect" => "`Hold` or `Violated([...])`".into(),
        _ => return None,
    })
}

/// The names of enum `T`'s variants, as RON lists them when refusing a name: taken from the
/// type, so that no list here can fall behind it.
fn names<T: DeserializeOwned>() -> String {
    match ron::from_str::<T>("_") {
        Err(ron::error::SpannedError {
            code: ron::Error::NoSuchEnumVariant { expected, .. },
            ..
        }) => quoted_list(expected),
        _ => "the names the README lists".into(),
    }
}

fn quoted_list(names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    names.join(", ")
}

/// Where in the scenario byte `at` is: the field each open bracket is the value of, and what
/// comes just before.
struct Context<'a> {
    /// For each open bracket (the outermost first, after a bracketless top level): the
    /// bracket, and the last field named inside it.
    frames: Vec<(u8, Option<&'a str>)>,
    /// The last character before `at` outside comments and strings (`"` for a string).
    after: u8,
}

impl<'a> Context<'a> {
    fn at(text: &'a str, at: usize) -> Context<'a> {
        let b = &text.as_bytes()[..at.min(text.len())];
        let mut frames: Vec<(u8, Option<&str>)> = vec![(0, None)];
        let (mut after, mut name, mut i) = (0, None, 0);
        while i < b.len() {
            let c = b[i];
            let next = b.get(i + 1).copied();
            i += 1;
            match c {
                b'/' if next == Some(b'/') => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'/' if next == Some(b'*') => {
                    i = block_comment_end(b, i - 1).unwrap_or(b.len());
                    continue;
                }
                c if c.is_ascii_whitespace() => continue,
                b'"' => {
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                    name = None;
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    let start = i - 1;
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                    name = text.get(start..i);
                    after = b'a';
                    continue;
                }
                b':' => {
                    if let (Some(n), Some(top)) = (name.take(), frames.last_mut()) {
                        top.1 = Some(n);
                    }
                }
                b'(' | b'[' | b'{' => {
                    frames.push((c, None));
                    name = None;
                }
                b')' | b']' | b'}' => {
                    if frames.len() > 1 {
                        frames.pop();
                    }
                    name = None;
                }
                _ => name = None,
            }
            after = c;
        }
        Context { frames, after }
    }

    /// The field whose value starts here, right after its `:`.
    fn field(&self) -> Option<&'a str> {
        if self.after != b':' {
            return None;
        }
        self.frames.last().and_then(|f| f.1)
    }

    /// The innermost field this place is inside the value of.
    fn nearest(&self) -> Option<&'a str> {
        self.frames.iter().rev().find_map(|f| f.1)
    }

    fn within(&self, field: &str) -> bool {
        self.frames.iter().any(|f| f.1 == Some(field))
    }

    /// The innermost open bracket.
    fn bracket(&self) -> Option<u8> {
        self.frames.last().map(|f| f.0)
    }
}

/// What starts at byte `at`, for a message: a name or number, a string, or a short bracketed
/// value as written.
fn found_at(text: &str, at: usize) -> String {
    let rest = text.get(at..).unwrap_or("");
    let line = rest.split('\n').next().unwrap_or("").trim_end_matches('\r');
    let token = line.bytes().take_while(|&c| is_token(c)).count();
    match line.as_bytes().first() {
        None if rest.trim().is_empty() => "the end of the file".into(),
        None => "the end of the line".into(),
        Some(b'"') => match closing_quote(&line[1..]) {
            Some(end) => format!("the string {}", &line[..end + 2]),
            None => "a string that does not end on its line".into(),
        },
        _ if token > 0 && !line[token..].starts_with('(') => format!("`{}`", &line[..token]),
        // A name with its bracket, or a bracket alone.
        _ if token > 0 || line.starts_with(['(', '[']) => match bracketed(line, token) {
            Some(v) if v.len() <= 40 => format!("`{v}`"),
            _ if token > 0 => format!("`{}(...)`", &line[..token]),
            _ => format!("`{}`", &line[..1]),
        },
        Some(_) => format!("`{}`", line.chars().next().unwrap_or(' ')),
    }
}

/// Bytes that RON's names and numbers are made of.
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-')
}

/// The part of line `l` before byte column `col` (from 1), cut at the start of the character
/// the column falls in: RON counts bytes, and may stand inside a character of several.
fn up_to(l: &str, col: usize) -> &str {
    let mut end = col.saturating_sub(1).min(l.len());
    while !l.is_char_boundary(end) {
        end -= 1;
    }
    &l[..end]
}

/// The escape at the start of `s` as written: `\x` and what follows it up to two characters,
/// `\u{...}` up to its closing brace (at most eight characters in), or the backslash and one.
fn escape_written(s: &str) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(2).collect();
    let rest = chars.as_str();
    match head.as_str() {
        "\\x" => head + &rest.chars().take(2).collect::<String>(),
        "\\u" => {
            let body: String = rest.chars().take(10).collect();
            match body.find('}') {
                Some(end) if body.starts_with('{') => head + &body[..=end],
                _ => {
                    let open = if body.starts_with('{') { "{" } else { "" };
                    let digits: String = body[open.len()..]
                        .chars()
                        .take_while(char::is_ascii_hexdigit)
                        .take(6)
                        .collect();
                    head + open + &digits
                }
            }
        }
        _ => head,
    }
}

/// The index in `s` of the first quote no backslash escapes.
fn closing_quote(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// `line` up to the bracket that closes the one at `open`, if it closes on this line.
fn bracketed(line: &str, open: usize) -> Option<&str> {
    let b = line.as_bytes();
    let (mut depth, mut i) = (0usize, open);
    while i < b.len() {
        match b[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return line.get(..=i);
                }
            }
            b'"' => i += 1 + closing_quote(line.get(i + 1..)?)?,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The value that ends where RON stopped, at `line` and `col`, as the file writes it, and the
/// column it starts at.
fn value_before(text: &str, line: usize, col: usize) -> Option<(usize, &str)> {
    let l = text.split('\n').nth(line.checked_sub(1)?)?;
    let b = l.as_bytes();
    let end = col.checked_sub(1)?;
    // A number that RON first tries to read as an integer and fails to (one too large for 64
    // bits, or `1e19`, whose `e` is a hexadecimal digit) is passed twice: as an integer, then
    // as a float.
    for s in (0..b.len()).filter(|&s| s == 0 || !is_token(b[s - 1])) {
        let sign = usize::from(matches!(b[s], b'+' | b'-'));
        if !b.get(s + sign).is_some_and(u8::is_ascii_digit) {
            continue;
        }
        let after_sign = &b[s + sign..];
        let int = after_sign
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() || **c == b'_')
            .count();
        let float = after_sign
            .iter()
            .take_while(|c| c.is_ascii_digit() || b"_.eE+-".contains(c))
            .count();
        let integer = &l[s..s + sign + int];
        let read_twice = float <= int
            && (too_large(integer) || !integer[sign..].bytes().all(|c| c.is_ascii_digit()));
        if read_twice && s + 2 * sign + int + float == end {
            let written = b[s + sign..].iter().take_while(|&&c| is_token(c)).count();
            return Some((s + 1, &l[s..s + sign + written]));
        }
    }
    if end == 0 || end > b.len() {
        return None;
    }
    let start = match b[end - 1] {
        b'"' => (0..end - 1).rev().find(|&s| {
            b[s] == b'"' && b[..s].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 0
        })?,
        c if is_token(c) => end - b[..end].iter().rev().take_while(|&&c| is_token(c)).count(),
        _ => return None,
    };
    Some((start + 1, &l[start..end]))
}

/// Whether a whole number as written is beyond both 64-bit integer types.
fn too_large(number: &str) -> bool {
    let digits: String = number.chars().filter(|&c| c != '_').collect();
    if !digits
        .trim_start_matches(['+', '-'])
        .bytes()
        .all(|c| c.is_ascii_digit())
    {
        return false;
    }
    let digits = digits.trim_start_matches('+');
    digits.parse::<u64>().is_err() && digits.parse::<i64>().is_err()
}

/// `message` with the value it brackets by [`AS_WRITTEN`] replaced by the value as written,
/// where known.
fn with_written(message: &str, written: Option<&str>) -> String {
    let mut parts = message.splitn(3, AS_WRITTEN);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(before), Some(shown), Some(after)) => {
            format!("{before}{}{after}", written.unwrap_or(shown))
        }
        _ => message.to_string(),
    }
}

/// The byte offset of `line` and `col` (from 1, columns in bytes as RON counts them).
fn offset(text: &str, line: usize, col: usize) -> Option<usize> {
    let start: usize = text
        .split('\n')
        .take(line.checked_sub(1)?)
        .map(|l| l.len() + 1)
        .sum();
    let at = start + col.checked_sub(1)?;
    (at <= text.len() && text.is_char_boundary(at)).then_some(at)
}

/// Whether `text` holds nothing but white space and comments.
fn blank(text: &str) -> bool {
    let mut rest = text.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(r) = rest.strip_prefix("/*") {
            match r.find("*/") {
                Some(end) => rest = &r[end + 2..],
                None => return false,
            }
        } else {
            return rest.is_empty();
        }
        rest = rest.trim_start();
    }
}

/// The line and column (from 1) of the first `field:` of `text` outside comments.
fn field_at(text: &str, field: &str) -> Option<(usize, usize)> {
    if field.is_empty() {
        return None;
    }
    blanked(text)
        .0
        .lines()
        .enumerate()
        .find_map(|(i, line)| fields_on(line, field).next().map(|k| (i + 1, k + 1)))
}

/// The line and column (from 1) of the last `field:` of `text` outside comments that starts
/// before byte `end`.
fn last_field_before(text: &str, field: &str, end: usize) -> Option<(usize, usize)> {
    if field.is_empty() {
        return None;
    }
    let mut start = 0;
    let mut last = None;
    for (i, line) in blanked(text).0.split('\n').enumerate() {
        if start >= end {
            break;
        }
        if let Some(k) = fields_on(line, field).filter(|k| start + k < end).last() {
            last = Some((i + 1, k + 1));
        }
        start += line.len() + 1;
    }
    last
}

/// The byte offsets in `line`, a line of [`blanked`] text, of each `field:`.
fn fields_on<'a>(line: &'a str, field: &'a str) -> impl Iterator<Item = usize> + 'a {
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(k) = line[from..].find(field).map(|k| k + from) {
            from = k + field.len();
            let before = line[..k].chars().next_back();
            let after = line[k + field.len()..].trim_start();
            let word_start = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if word_start && after.starts_with(':') {
                return Some(k);
            }
        }
        None
    })
}

/// `text` with the inside of every comment and string (raw strings included) blanked, byte
/// for byte and line breaks kept, so that offsets hold and what is left is RON's to read: a
/// description that mentions `hedge_after: 1s` names no field. Also where a string that the
/// text leaves open begins (its opening quote's byte offset). Comments nest, as RON's do.
fn blanked(text: &str) -> (String, Option<usize>) {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut [u8], from: usize, to: usize| {
        for x in &mut out[from.min(b.len())..to.min(b.len())] {
            if *x != b'\n' {
                *x = b' ';
            }
        }
    };
    let at = |i: usize| b.get(i).copied();
    let mut open = None;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if at(i + 1) == Some(b'/') => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |n| i + n);
                blank(&mut out, i, end);
                i = end;
            }
            b'/' if at(i + 1) == Some(b'*') => {
                let end = block_comment_end(b, i).unwrap_or(b.len());
                blank(&mut out, i, end);
                i = end;
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                blank(&mut out, start + 1, i);
                if i >= b.len() {
                    open = Some(start);
                }
                i += 1;
            }
            b'r' if matches!(at(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                i += 1 + hashes;
                if at(i) == Some(b'"') {
                    let start = i;
                    let mut close = vec![b'"'];
                    close.extend(std::iter::repeat_n(b'#', hashes));
                    i += 1;
                    while i < b.len() && !b[i..].starts_with(&close) {
                        i += 1;
                    }
                    blank(&mut out, start + 1, i);
                    if i >= b.len() {
                        open = Some(start);
                    }
                    i += close.len();
                }
            }
            _ => i += 1,
        }
    }
    // Whole characters were blanked, each between ASCII marks: the text stays UTF-8.
    let code = String::from_utf8(out).unwrap_or_else(|_| text.to_string());
    (code, open)
}

/// Where the string that the file leaves open begins (line and byte column, from 1).
fn open_string(text: &str) -> Option<(usize, usize)> {
    let at = blanked(text).1?;
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
    Some((line, col))
}

/// The length in bytes of line `line` (from 1) of `text`.
fn line_len(text: &str, line: usize) -> usize {
    text.split('\n')
        .nth(line.saturating_sub(1))
        .map_or(0, str::len)
}

/// Where the outermost block comment that the file leaves open begins (line and byte column,
/// from 1), reading comments and strings as RON does: comments nest, and a `/*` inside a
/// string or a line comment opens nothing.
fn unclosed_comment(text: &str) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if at(i + 1) == Some(b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if at(i + 1) == Some(b'*') => match block_comment_end(b, i) {
                Some(end) => i = end,
                None => {
                    let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
                    return Some((text[..i].matches('\n').count() + 1, i - line_start + 1));
                }
            },
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'r' if matches!(at(i + 1), Some(b'"' | b'#')) => {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                i += 1 + hashes;
                if at(i) == Some(b'"') {
                    let mut close = vec![b'"'];
                    close.extend(std::iter::repeat_n(b'#', hashes));
                    i += 1;
                    while i < b.len() && !b[i..].starts_with(&close) {
                        i += 1;
                    }
                    i += close.len();
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// One past the end of the block comment that opens at byte `i` (comments nest), or `None`
/// when the text ends inside it.
fn block_comment_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if b[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
    None
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
            ron::Error::MissingStructField { field, outer } => write!(
                f,
                "expected the field `{field}`{}, which has no default: it is missing",
                outer
                    .as_deref()
                    .map_or(String::new(), |o| format!(" in `{}`", written_name(o)))
            ),
            ron::Error::DuplicateStructField { field, outer } => write!(
                f,
                "the field `{field}`{} is given twice: expected it once",
                outer
                    .as_deref()
                    .map_or(String::new(), |o| format!(" in `{}`", written_name(o)))
            ),
            other => write!(f, "{other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (a field named inside a string or comment was taken for the field): a
    /// description mentioning `crashes:`, a block comment with a quote in it, a raw string
    /// ending in a backslash, or a string over two lines moved an error's place to them or,
    /// losing track of the strings, to the end of the file.
    #[test]
    fn a_field_is_found_outside_strings_and_comments() {
        for (text, at) in [
            ("(description: \"crashes: 1\", crashes: [])", (1, 29)),
            ("(/* a \"quote */ crashes: [])", (1, 17)),
            ("(description: r\"C:\\\", crashes: [])", (1, 23)),
            (
                "(description: r#\"a \"crashes: b\" c\"#, crashes: [])",
                (1, 38),
            ),
            ("(description: \"first\ncrashes: x\", crashes: [])", (2, 14)),
            ("(// crashes: none\n crashes: [])", (2, 2)),
            (
                "(description: \"é // crashes: \\\" é\", crashes: [])",
                (1, 39),
            ),
        ] {
            assert_eq!(field_at(text, "crashes"), Some(at), "{text}");
        }
    }

    /// Regression (an open string was placed at an escaped quote inside it, or, after a raw
    /// string, at the wrong character): the place is its opening quote.
    #[test]
    fn an_open_string_is_found_at_its_opening_quote() {
        for (text, at) in [
            ("(name: \"x\",\n description: \"a \\\" b", Some((2, 15))),
            ("(d: r\"C:\\\", e: \"open", Some((1, 16))),
            ("(/* \" */ d: \"open", Some((1, 13))),
            ("(d: \"a\\\\\", e: \"x\")", None),
            ("(d: r#\"say \"hi\"\"#, e: \"open", Some((1, 23))),
        ] {
            assert_eq!(open_string(text), at, "{text}");
        }
    }

    const BASE: &str = r#"Scenario(
    name: "malformed",
    terminals: 2,
    workload: (inter_arrival: Exponential(mean: "2s"), amount: (min: 100, max: 200), purchases: 10),
    links: (
        terminal_acquirer: (latency: Constant("20ms"), drop: 0.02),
        acquirer_bank: (latency: Constant("20ms")),
    ),
    acquirer: (processing: Constant("2ms"), servers: 1, queue: 10),
    bank: (processing: Constant("5ms"), servers: 1, queue: 10),
    policy: (kind: Idempotent, timeout: "1s"),
)
"#;

    /// The error for `BASE` with its first `bad` replaced by `by`.
    fn error(bad: &str, by: &str) -> ScenarioError {
        assert!(BASE.contains(bad), "{bad:?} is not in the base scenario");
        from_ron(&BASE.replacen(bad, by, 1)).expect_err(by)
    }

    #[test]
    fn the_base_scenario_is_valid() {
        from_ron(BASE).expect("valid");
    }

    /// Regression: each of these pointed past the value (by as much again as its length, for
    /// a number RON reads twice), or showed it as a float prints it.
    #[test]
    fn a_value_refused_once_read_is_pointed_at_and_shown_as_written() {
        let policy = "    policy:";
        for (bad, by, line, col, phrase) in [
            (
                "queue: 10",
                "queue: 4294967296",
                9,
                64,
                "expected at most 4294967295, found 4294967296",
            ),
            (
                "terminals: 2",
                "terminals: 99999999999999999999",
                3,
                16,
                "expected at most 100000000, found 99999999999999999999",
            ),
            (
                "servers: 1,",
                "servers: 1e19,",
                9,
                54,
                "without an exponent or a point, found 1e19",
            ),
            (
                policy,
                "    seed: 18446744073709551616,\n    policy:",
                11,
                11,
                "expected at most 18446744073709551615, found 18446744073709551616",
            ),
            (
                policy,
                "    limits: (max_events: 18446744073709551616),\n    policy:",
                11,
                26,
                "found 18446744073709551616",
            ),
            (
                "purchases: 10",
                "purchases: 10, only: [1, 18446744073709551616]",
                4,
                111,
                "found 18446744073709551616",
            ),
            (
                "timeout: \"1s\"",
                "timeout: \"1s\", budget: (tokens: 1, ratio: -9223372036854775808)",
                11,
                74,
                "found -9223372036854775808",
            ),
            (
                "Constant(\"20ms\"), drop",
                "Spike(base: Constant(\"1ms\"), p: 2, extra: Constant(\"1ms\")), drop",
                6,
                70,
                "expected a spike probability between 0 and 1, found 2",
            ),
            // Regression: these were reported where their distribution or amount ends, or
            // (in a spike) where the whole spike ends; two fields that disagree, at the later.
            (
                "Constant(\"20ms\"), drop",
                "LogNormal(median: \"1ms\", sigma: -1), drop",
                6,
                70,
                "expected a lognormal sigma, finite and at least 0, found -1",
            ),
            (
                "Constant(\"20ms\"), drop",
                "LogNormal(median: \"1ms\", sigma: NaN), drop",
                6,
                70,
                "expected a lognormal sigma, finite and at least 0, found NaN",
            ),
            (
                "Constant(\"20ms\"), drop",
                "Pareto(scale: \"1ms\", shape: -2), drop",
                6,
                66,
                "expected a Pareto shape, finite and above 0, found -2",
            ),
            (
                "Constant(\"20ms\"), drop",
                "Uniform(hi: \"1s\", lo: \"5s\"), drop",
                6,
                46,
                r#"hi must be at least lo: expected at least "5s", found "1s""#,
            ),
            (
                "Constant(\"20ms\"), drop",
                "Spike(base: Uniform(lo: \"5s\", hi: \"1s\"), p: 0.5, extra: Uniform(lo: \"1s\", hi: \"2s\")), drop",
                6,
                68,
                "hi must be at least lo",
            ),
            (
                "min: 100, max: 200",
                "min: 500, max: 100",
                4,
                75,
                "max must be at least min: expected at least 500, found 100",
            ),
            (
                "min: 100, max: 200",
                "min: 0, max: 100",
                4,
                65,
                "expected an amount min of at least 1 minor unit, found 0",
            ),
            // `only` is checked against `purchases` once the workload is read: at the field.
            (
                "purchases: 10",
                "purchases: 50, only: [3, 50]",
                4,
                101,
                "`only` names purchase 50, which is never issued",
            ),
        ] {
            let e = error(bad, by);
            assert_eq!((e.line, e.col), (line, col), "{by}: {e}");
            assert!(e.message.contains(phrase), "{by}: {e}");
        }
    }

    /// Where `needle` first stands in `text`: its line and column, from 1.
    fn position(text: &str, needle: &str) -> (usize, usize) {
        let at = text.find(needle).expect("in the text");
        let line = text[..at].matches('\n').count() + 1;
        let col = at - text[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
        (line, col)
    }

    /// Regression: a fault schedule naming a message no run of the scenario sends (wrong
    /// direction for its kind, a transaction the customers never start, a copy no scheduled
    /// duplicate makes, a reversal numbered as a purchase, an erroneous reply named other than
    /// by its purchase at the bank) was accepted, and the run passed with nothing tested. So
    /// were a zero `duration`, random crashes down for no time, and a zero mean
    /// `inter_arrival`, the latter reported where the workload ends, without saying what was
    /// expected.
    #[test]
    fn faults_and_workloads_that_can_never_strike_are_refused_at_their_field() {
        let sched = |list: &str, m: &str| {
            format!(
                "    faults: (schedule: ({list}: [(link: TerminalAcquirer, {m})])),\n    policy:"
            )
        };
        let purchase = "to_bank: true, intent: 1, txn: 0, attempt: 1, kind: Purchase";
        for (bad, by, field, phrase) in [
            (
                "    policy:",
                sched(
                    "drops",
                    "to_bank: false, intent: 1, txn: 0, attempt: 1, kind: Purchase",
                ),
                "drops:",
                "Purchase travels towards the bank, expected `to_bank: true`",
            ),
            (
                "    policy:",
                sched(
                    "duplicates",
                    "to_bank: true, intent: 1, txn: 0, attempt: 1, kind: InquiryResp",
                ),
                "duplicates:",
                "InquiryResp travels away from the bank, expected `to_bank: false`",
            ),
            (
                "    policy:",
                sched(
                    "drops",
                    "to_bank: true, intent: 1, txn: 5, attempt: 1, kind: Purchase",
                ),
                "drops:",
                "a purchase has transactions 0 to 0 here",
            ),
            (
                "    policy:",
                sched("drops", &format!("{purchase}, copy: 3")),
                "drops:",
                "copy 3 would be made by a scheduled duplicate of copy 0 on link AcquirerSwitch",
            ),
            (
                "    policy:",
                sched(
                    "drops",
                    "to_bank: true, intent: 1, txn: 0, attempt: 2, kind: Reversal",
                ),
                "drops:",
                "a reversal's attempt is the attempt it reverses times 65,536",
            ),
            // Sends count from 1: 65,536 names no send of the reversal of attempt 1.
            (
                "    policy:",
                sched("drops", "to_bank: true, intent: 1, txn: 0, attempt: 65536, kind: Reversal"),
                "drops:",
                "a reversal's attempt is the attempt it reverses times 65,536",
            ),
            (
                "    policy:",
                sched("erroneous", purchase),
                "erroneous:",
                "expected `link: AcquirerBank, to_bank: true, kind: Purchase`",
            ),
            (
                "Exponential(mean: \"2s\")",
                "Exponential(mean: \"0ms\")".to_string(),
                "inter_arrival:",
                "expected an inter_arrival with a mean of at least 1ns, found a mean of 0 ns",
            ),
            (
                "purchases: 10",
                "duration: \"0s\"".to_string(),
                "duration:",
                "expected a duration above zero",
            ),
            (
                "    policy:",
                "    faults: (random_crashes: [(node: Bank, mean_interval: \"1s\", down_for: Constant(\"0s\"))]),\n    policy:".to_string(),
                "random_crashes:",
                "expected a `down_for` of random crashes with a mean of at least 1ns",
            ),
        ] {
            let text = BASE.replacen(bad, &by, 1);
            let e = from_ron(&text).expect_err(&by);
            assert_eq!((e.line, e.col), position(&text, field), "{by}: {e}");
            assert!(e.message.contains(phrase), "{by}: {e}");
        }
        // What the schedule can make is accepted: the copy a scheduled duplicate makes on the
        // acquirer-bank link (0 * 4 + 1 + 1), and a second transaction when the cashier may
        // enter a purchase twice.
        let copy = BASE.replacen(
            "    policy:",
            "    faults: (schedule: (duplicates: [(link: AcquirerBank, to_bank: true, intent: 1, txn: 0, attempt: 1, kind: Purchase)], drops: [(link: AcquirerBank, to_bank: false, intent: 1, txn: 0, attempt: 1, kind: PurchaseResp, copy: 2)])),\n    policy:",
            1,
        );
        from_ron(&copy).expect("a scheduled duplicate's copy");
        let twice = BASE
            .replacen("purchases: 10", "purchases: 10, double_submit: 0.5", 1)
            .replacen(
                "    policy:",
                &sched(
                    "drops",
                    "to_bank: true, intent: 1, txn: 1, attempt: 1, kind: Purchase",
                ),
                1,
            );
        from_ron(&twice).expect("a double submit's transaction");
    }

    /// Regression: `terminal: None` drew "Expected struct `TerminalConfig` but found `None`",
    /// a type the writer never sees, pointed past the name; a stray `)` drew "Unexpected byte";
    /// a name where a number belongs, "found a unit value instead".
    #[test]
    fn a_name_or_a_stray_byte_where_a_value_belongs_says_what_was_expected() {
        for (bad, by, at, phrase) in [
            (
                "    policy:",
                "    terminal: None,\n    policy:",
                "None",
                "expected the fields of `terminal` in parentheses, such as `terminal: (...)`, found `None`",
            ),
            (
                "    policy:",
                "    faults: Faults2(crashes: []),\n    policy:",
                "Faults2",
                "expected the fields of `faults` in parentheses",
            ),
            ("terminals: 2", "terminals: )", ")", "expected a value, found `)`"),
            // "... but found a unit value instead", pointed past the name.
            (
                "terminals: 2",
                "terminals: three",
                "three",
                "expected a whole number (no quotes, no sign), found `three`",
            ),
        ] {
            let text = BASE.replacen(bad, by, 1);
            let e = from_ron(&text).expect_err(by);
            assert_eq!((e.line, e.col), position(&text, at), "{by}: {e}");
            assert!(e.message.contains(phrase), "{by}: {e}");
        }
    }

    /// Regression: a value of the wrong kind where a name belongs drew the advice to write a
    /// raw identifier (`r#-1e30`), or only "Expected identifier".
    #[test]
    fn a_name_expected_says_which_names() {
        for (bad, by, phrase) in [
            ("kind: Idempotent", "kind: -1e30", "expected a policy kind, one of `None`, `Naive`, `Idempotent`, `ReversalThenRetry`, `InquireThenRetry`, found `-1e30`"),
            ("    policy:", "    faults: (schedule: (drops: [(link: TerminalAcquirer, to_bank: true, intent: 1, txn: 0, attempt: 1, kind: 5)])),\n    policy:", "expected a message kind, one of `Purchase`, `PurchaseResp`"),
            ("    policy:", "    expect: Violated([0.5]),\n    policy:", "expected a property, one of `NoDuplicateDebit`, `Agreement`, `Conservation`, `Liveness`, found `0.5`"),
            ("kind: Idempotent", "0.5: 1, kind: Idempotent", "expected a field name, found `0.5`"),
            ("latency: Constant(\"20ms\"), drop", "latency: \"20ms\", drop", "expected a name, written without quotes (a distribution such as Constant(\"20ms\")"),
        ] {
            let e = error(bad, by);
            assert!(e.message.contains(phrase), "{by}: {e}");
        }
    }

    /// Regression: columns counted bytes, so that each character of two to four bytes before
    /// the error put it further right than an editor shows. A comment of as many characters,
    /// wide or not, must leave every kind of error at the same column.
    #[test]
    fn columns_count_characters_on_every_path() {
        for (bad, by) in [
            // A value refused once read.
            ("terminals: 2", "terminals: 0"),
            ("queue: 10", "queue: 4294967296"),
            // Fields of one value that disagree, at the later one.
            ("min: 100, max: 200", "min: 500, max: 100"),
            // A workload's fields that disagree, at `only`.
            ("purchases: 10", "purchases: 10, only: [10]"),
            // Where RON stops.
            ("drop: 0.02", "drop_rate: 0.02"),
            ("kind: Idempotent", "kind: \"Idempotent\""),
            // A string whose closing quote is missing.
            ("\"malformed\"", "\"malformed"),
        ] {
            let wide = error(bad, &format!("/* é💳à */ {by}"));
            let narrow = error(bad, &format!("/* eXa */ {by}"));
            assert_eq!(
                (wide.line, wide.col),
                (narrow.line, narrow.col),
                "{by}: {wide}"
            );
            assert_eq!(wide.message, narrow.message, "{by}");
        }
    }

    /// Regression (a file saved with classic Mac OS line ends was "only comments"): its
    /// lines end in a carriage return alone, which RON takes for no line end at all.
    #[test]
    fn lines_that_end_in_a_carriage_return_alone_are_named() {
        let text = "// a scenario\rScenario(\r    name: \"x\",\r)\r";
        let e = from_ron(text).expect_err("one line, all comment");
        assert!(
            e.message.contains("carriage return alone") && e.message.contains("LF"),
            "{e}"
        );
        // Without a comment such a file reads as it should: its errors are its own.
        let e = from_ron("Scenario(\r    nam: \"x\",\r)\r").expect_err("a misspelt field");
        assert!(e.message.contains("unknown field `nam`"), "{e}");
    }

    #[test]
    fn a_file_of_nothing_but_comments_says_so() {
        let e = from_ron("// a scenario\n/* to come */\n").expect_err("no scenario");
        assert!(e.message.starts_with("the file holds only comments"), "{e}");
    }
}
