//! A small reader of RON text that keeps where every value stands.
//!
//! serde's RON reader forgets positions once a value is read, and its untyped value drops enum
//! variant names. A sweep needs both: the text of each value as written (to splice it into a
//! scenario, where the scenario's own types read it) and its position (to point an error at
//! it). This reader builds a tree of byte spans and nothing more; the meaning is left to the
//! caller.

/// A value and the bytes `start..end` of the text it was read from.
#[derive(Clone, Debug)]
pub struct Node {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

#[derive(Clone, Debug)]
pub enum Kind {
    /// A bare identifier: `true`, `None`, a unit enum variant such as `Naive`.
    Ident(String),
    /// A number as written.
    Number(String),
    /// A string, escapes resolved.
    Str(String),
    Char,
    /// `Name(...)` or `(...)`: a struct, a tuple or an enum variant with content.
    Group {
        name: Option<String>,
        body: Body,
    },
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug)]
pub enum Body {
    Fields(Vec<Field>),
    Items(Vec<Node>),
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    /// Where the field's name starts.
    pub at: usize,
    pub value: Node,
}

/// Text that is not RON, with the byte offset where reading stopped.
#[derive(Debug)]
pub struct ParseError {
    pub at: usize,
    pub message: String,
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 128;

impl Node {
    /// What kind of value this is, for messages.
    pub fn what(&self) -> &'static str {
        match &self.kind {
            Kind::Ident(_) => "a name",
            Kind::Number(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Char => "a character",
            Kind::Group {
                body: Body::Fields(_),
                ..
            } => "a struct",
            Kind::Group { .. } => "a tuple",
            Kind::List(_) => "a list",
            Kind::Map(_) => "a map",
        }
    }

    /// The value's text as written.
    pub fn text<'t>(&self, source: &'t str) -> &'t str {
        &source[self.start..self.end]
    }

    /// The content of `Some(x)`, or the node itself.
    pub fn unwrap_some(&self) -> &Node {
        match &self.kind {
            Kind::Group {
                name: Some(n),
                body: Body::Items(items),
            } if n == "Some" && items.len() == 1 => &items[0],
            _ => self,
        }
    }
}

/// The byte-order mark some editors put at the start of a UTF-8 file: no part of the text,
/// as the scenario reader takes it.
const BOM: char = '\u{feff}';

/// Parses one RON value (after an optional byte-order mark and `#![enable(...)]` attributes)
/// and checks that nothing but comments follows it. Offsets stay those of `text`, the mark
/// included.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: if text.starts_with(BOM) {
            BOM.len_utf8()
        } else {
            0
        },
    };
    p.skip_trivia()?;
    while p.bytes[p.pos..].starts_with(b"#![") {
        match text[p.pos..].find(']') {
            Some(i) => p.pos += i + 1,
            None => return Err(p.error("an attribute `#![...]` is not closed")),
        }
        p.skip_trivia()?;
    }
    let node = p.value(0)?;
    p.skip_trivia()?;
    if p.pos < p.bytes.len() {
        return Err(p.error("expected the end of the file after the value"));
    }
    Ok(node)
}

/// Line and column (both from 1, the column in characters, as an editor shows them: a
/// byte-order mark takes none) of a byte offset.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let first_line = if text.starts_with(BOM) {
        BOM.len_utf8().min(at)
    } else {
        0
    };
    let line_start = before.rfind('\n').map_or(first_line, |i| i + 1);
    (line, text[line_start..at].chars().count() + 1)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> ParseError {
        let message = if self.pos >= self.bytes.len() && !message.contains("ended early") {
            format!("the file ended early: {message}")
        } else {
            message.to_string()
        };
        ParseError {
            at: self.pos,
            message,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Skips white space and comments (`//` to the end of the line, nested `/* */`).
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                Some(b) if b.is_ascii_whitespace() => self.pos += 1,
                Some(b'/') if self.bytes.get(self.pos + 1) == Some(&b'/') => {
                    while self.peek().is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.bytes.get(self.pos + 1) == Some(&b'*') => {
                    let open = self.pos;
                    let mut depth = 0usize;
                    loop {
                        if self.bytes[self.pos..].starts_with(b"/*") {
                            depth += 1;
                            self.pos += 2;
                        } else if self.bytes[self.pos..].starts_with(b"*/") {
                            depth -= 1;
                            self.pos += 2;
                            if depth == 0 {
                                break;
                            }
                        } else if self.pos >= self.bytes.len() {
                            return Err(ParseError {
                                at: open,
                                message: "a comment `/*` is not closed".into(),
                            });
                        } else {
                            self.pos += 1;
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), ParseError> {
        self.skip_trivia()?;
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {what}")))
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        if !self
            .peek()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        {
            return None;
        }
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.pos += 1;
        }
        Some(self.text[start..self.pos].to_string())
    }

    fn value(&mut self, depth: usize) -> Result<Node, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("values nested too deeply"));
        }
        self.skip_trivia()?;
        let start = self.pos;
        let Some(b) = self.peek() else {
            return Err(self.error("the file ended early: a value is missing"));
        };
        let kind = match b {
            b'"' => Kind::Str(self.string()?),
            b'r' if matches!(self.bytes.get(self.pos + 1), Some(b'"' | b'#')) => {
                Kind::Str(self.raw_string()?)
            }
            b'\'' => {
                self.pos += 1;
                while let Some(c) = self.peek() {
                    self.pos += 1;
                    match c {
                        b'\\' => self.pos += 1,
                        b'\'' => break,
                        _ => {}
                    }
                }
                Kind::Char
            }
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                self.pos += 1;
                while let Some(c) = self.peek() {
                    let exponent_sign = matches!(c, b'+' | b'-')
                        && matches!(self.bytes[self.pos - 1], b'e' | b'E')
                        && !self.text[start..self.pos].starts_with("0x");
                    if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exponent_sign {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                Kind::Number(self.text[start..self.pos].to_string())
            }
            b'(' => self.group(None, depth)?,
            b'[' => {
                self.pos += 1;
                let items = self.items(b']', depth)?;
                Kind::List(items)
            }
            b'{' => {
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    self.skip_trivia()?;
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        break;
                    }
                    let k = self.value(depth + 1)?;
                    self.expect(b':', "`:` after a map key")?;
                    let v = self.value(depth + 1)?;
                    entries.push((k, v));
                    self.skip_trivia()?;
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {}
                        _ => return Err(self.error("expected `,` or `}` in a map")),
                    }
                }
                Kind::Map(entries)
            }
            _ => match self.ident() {
                Some(name) => {
                    let after = self.pos;
                    self.skip_trivia()?;
                    if self.peek() == Some(b'(') {
                        self.group(Some(name), depth)?
                    } else {
                        self.pos = after;
                        Kind::Ident(name)
                    }
                }
                None => {
                    let found = self.text[self.pos..].chars().next().unwrap_or(' ');
                    return Err(self.error(&format!(
                        "expected a value, found `{found}`{}",
                        if found == '#' {
                            ": a comment is written `// ...` or `/* ... */`"
                        } else {
                            ""
                        }
                    )));
                }
            },
        };
        Ok(Node {
            start,
            end: self.pos,
            kind,
        })
    }

    /// After a name (or none), at `(`: named fields or positional items.
    fn group(&mut self, name: Option<String>, depth: usize) -> Result<Kind, ParseError> {
        self.expect(b'(', "`(`")?;
        self.skip_trivia()?;
        let save = self.pos;
        let is_fields = match self.ident() {
            Some(_) => {
                self.skip_trivia()?;
                self.peek() == Some(b':')
            }
            None => false,
        };
        self.pos = save;
        if !is_fields {
            let items = self.items(b')', depth)?;
            return Ok(Kind::Group {
                name,
                body: Body::Items(items),
            });
        }
        let mut fields = Vec::new();
        loop {
            self.skip_trivia()?;
            if self.peek() == Some(b')') {
                self.pos += 1;
                break;
            }
            let at = self.pos;
            let Some(fname) = self.ident() else {
                return Err(self.error("expected a field name"));
            };
            self.expect(b':', "`:` after a field name")?;
            let value = self.value(depth + 1)?;
            fields.push(Field {
                name: fname,
                at,
                value,
            });
            self.skip_trivia()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {}
                _ => return Err(self.error("expected `,` or `)` after a field")),
            }
        }
        Ok(Kind::Group {
            name,
            body: Body::Fields(fields),
        })
    }

    /// Comma-separated values up to `close`, which is consumed.
    fn items(&mut self, close: u8, depth: usize) -> Result<Vec<Node>, ParseError> {
        let mut items = Vec::new();
        loop {
            self.skip_trivia()?;
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            self.skip_trivia()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {}
                _ => {
                    return Err(self.error(&format!(
                        "expected `,` or `{}` after a value",
                        close as char
                    )))
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.text[self.pos..].chars().next() else {
                return Err(ParseError {
                    at: open,
                    message: "a string is not closed".into(),
                });
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(e) = self.text[self.pos..].chars().next() else {
                        continue;
                    };
                    self.pos += e.len_utf8();
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'u' => {
                            let rest = &self.text[self.pos..];
                            let close = rest.find('}').unwrap_or(0);
                            let code = rest
                                .get(1..close)
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32);
                            match code {
                                Some(ch) => {
                                    out.push(ch);
                                    self.pos += close + 1;
                                }
                                None => return Err(self.error("a malformed `\\u{...}` escape")),
                            }
                        }
                        other => out.push(other),
                    }
                }
                other => out.push(other),
            }
        }
    }

    fn raw_string(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut hashes = 0;
        while self.peek() == Some(b'#') {
            hashes += 1;
            self.pos += 1;
        }
        if self.peek() != Some(b'"') {
            return Err(self.error("expected `\"` to open a raw string"));
        }
        self.pos += 1;
        let close = format!("\"{}", "#".repeat(hashes));
        match self.text[self.pos..].find(&close) {
            Some(i) => {
                let s = self.text[self.pos..self.pos + i].to_string();
                self.pos += i + close.len();
                Ok(s)
            }
            None => Err(ParseError {
                at: open,
                message: "a raw string is not closed".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_values_as_written() {
        let text = r#"#![enable(implicit_some)]
// a comment
Sweep( a: 1.5e-3, /* b */ b: Some(X(c: "2s")), l: [A, B(1)], m: {"k": r"v"}, )"#;
        let n = parse(text).expect("valid");
        let Kind::Group {
            name,
            body: Body::Fields(fields),
        } = &n.kind
        else {
            panic!("a struct")
        };
        assert_eq!(name.as_deref(), Some("Sweep"));
        let texts: Vec<(&str, &str)> = fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.text(text)))
            .collect();
        assert_eq!(
            texts,
            [
                ("a", "1.5e-3"),
                ("b", r#"Some(X(c: "2s"))"#),
                ("l", "[A, B(1)]"),
                ("m", r#"{"k": r"v"}"#)
            ]
        );
        assert_eq!(line_col(text, fields[0].at), (3, 8));
    }

    /// Regression: a byte-order mark at the start was "expected a value".
    #[test]
    fn a_byte_order_mark_is_skipped_and_takes_no_column() {
        let text = "\u{feff}(a: 1, b: x)\n(";
        let e = parse(text).expect_err("a second value");
        assert_eq!(line_col(text, e.at), (2, 1));
        let text = "\u{feff}(a: 1, b: x)";
        let n = parse(text).expect("valid");
        let Kind::Group {
            body: Body::Fields(fields),
            ..
        } = &n.kind
        else {
            panic!("a struct")
        };
        assert_eq!(line_col(text, n.start), (1, 1));
        assert_eq!(line_col(text, fields[1].value.start), (1, 11));
        assert_eq!(line_col(text, 0), (1, 1));
    }

    #[test]
    fn errors_point_where_reading_stopped() {
        for (text, at, phrase) in [
            ("(a: 1", 5, "expected `,` or `)`"),
            ("[1, 2", 5, "after a value"),
            ("(a: \"x)", 4, "not closed"),
            ("(a: 1) x", 7, "end of the file"),
            // Regression: a file cut short after a comma was "expected a field name".
            ("(a: 1,\n", 7, "the file ended early: expected a field name"),
        ] {
            let e = parse(text).expect_err(text);
            assert_eq!(e.at, at, "{text}");
            assert!(e.message.contains(phrase), "{text}: {}", e.message);
        }
    }
}
