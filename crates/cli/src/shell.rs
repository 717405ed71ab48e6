//! What the binary prints for people to paste back into a shell, and the arguments shared by
//! its parallel commands.

use std::path::Path;

/// The most worker threads `--jobs` accepts: far more than any machine's cores, few enough that
/// starting them cannot exhaust the system.
pub const MAX_JOBS: usize = 1024;

/// Parses `--jobs`: a whole number from 1 to [`MAX_JOBS`].
pub fn parse_jobs(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("expected a whole number of worker threads, found {s:?}"))?;
    if (1..=MAX_JOBS).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "expected between 1 and {MAX_JOBS} worker threads, found {n}"
        ))
    }
}

/// `path` as one word of a POSIX shell command: as it is when it holds only characters no
/// shell treats specially, else in single quotes. A relative path that starts with `-` gets
/// `./` in front, so that the command it is pasted into does not take it for an option. A
/// path with a control character (a line break, say) is written in ANSI-C quotes (`$'…'`, of
/// bash, zsh, ksh and POSIX sh since 2024) with the character escaped, so that the command
/// stays on one line and names the same file; so is a name that is not UTF-8, its other bytes
/// escaped the same way.
pub fn quote(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let raw = path.as_os_str().as_bytes();
    let dash: &[u8] = if raw.starts_with(b"-") { b"./" } else { b"" };
    let raw = [dash, raw].concat();
    let s = match std::str::from_utf8(&raw) {
        Ok(s) => s,
        Err(_) => return ansi_c(&raw),
    };
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:=@%".contains(c));
    if plain {
        s.to_string()
    } else if s.chars().any(char::is_control) {
        ansi_c(&raw)
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `raw` in ANSI-C quotes, each control character and each byte that is not part of UTF-8 as
/// three octal digits, which no following character can extend (a hex escape may take more
/// digits in some shells).
fn ansi_c(raw: &[u8]) -> String {
    let mut q = String::from("$'");
    let octal = |q: &mut String, bytes: &[u8]| {
        for b in bytes {
            q.push_str(&format!("\\{b:03o}"));
        }
    };
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => q.push_str(r"\\"),
                '\'' => q.push_str(r"\'"),
                '\n' => q.push_str(r"\n"),
                '\t' => q.push_str(r"\t"),
                c if c.is_control() => octal(&mut q, c.encode_utf8(&mut [0; 4]).as_bytes()),
                c => q.push(c),
            }
        }
        octal(&mut q, chunk.invalid());
    }
    q.push('\'');
    q
}

/// `text` for a terminal: every control character but line breaks and tabs as `?`, so that a
/// scenario's name cannot move the cursor or change colours.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_out_as_one_shell_word() {
        for (path, word) in [
            ("scenarios/reference.ron", "scenarios/reference.ron"),
            ("my dir/x.ron", "'my dir/x.ron'"),
            ("it's.ron", r"'it'\''s.ron'"),
            ("$HOME/a.ron", "'$HOME/a.ron'"),
            ("", "''"),
        ] {
            assert_eq!(quote(Path::new(path)), word);
        }
    }

    /// Regression: a path with a line break came out in single quotes over two lines, and a
    /// replay command was no longer one line.
    #[test]
    fn a_path_with_control_characters_stays_on_one_line() {
        for (path, word) in [
            ("a\nb.ron", r"$'a\nb.ron'"),
            ("it's\t\\x\u{1b}.ron", r"$'it\'s\t\\x\033.ron'"),
            ("\u{1b}a.ron", r"$'\033a.ron'"),
            ("\u{85}é.ron", r"$'\302\205é.ron'"),
        ] {
            let q = quote(Path::new(path));
            assert_eq!(q, word);
            assert_eq!(printable(&q), q, "no control character is left");
        }
    }

    /// Regression: a name that is not UTF-8 came out with `�` in place of its bytes, and the
    /// replay command named a file that does not exist. A shell reads the escapes back into
    /// the same bytes.
    #[test]
    fn a_path_that_is_not_utf8_comes_out_byte_for_byte() {
        use std::os::unix::ffi::OsStrExt;
        for (bytes, word) in [
            (&b"\xff.ron"[..], r"$'\377.ron'"),
            (&b"-\xc3(x's.ron"[..], r"$'./-\303(x\'s.ron'"),
        ] {
            let path = Path::new(std::ffi::OsStr::from_bytes(bytes));
            assert_eq!(quote(path), word);
            if let Ok(out) = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!("printf %s {word}"))
                .output()
            {
                let want = [if bytes[0] == b'-' { &b"./"[..] } else { b"" }, bytes].concat();
                assert_eq!(out.stdout, want, "bash reads {word} back");
            }
        }
    }

    /// Regression: `-dash.ron` came out as it is, which a pasted command took for an option.
    #[test]
    fn a_relative_path_starting_with_a_dash_is_not_taken_for_an_option() {
        for (path, word) in [
            ("-dash.ron", "./-dash.ron"),
            ("--seed", "./--seed"),
            ("-my dir/x.ron", "'./-my dir/x.ron'"),
            ("dir/-x.ron", "dir/-x.ron"),
            ("/abs/-x.ron", "/abs/-x.ron"),
        ] {
            assert_eq!(quote(Path::new(path)), word);
        }
    }

    #[test]
    fn text_for_a_terminal_keeps_lines_and_drops_escapes() {
        assert_eq!(printable("a\u{1b}[31mb\n\tc\r\u{7}"), "a?[31mb\n\tc??");
    }

    #[test]
    fn jobs_are_between_one_and_the_cap() {
        assert_eq!(parse_jobs("1"), Ok(1));
        assert_eq!(parse_jobs("1024"), Ok(1024));
        for bad in ["0", "1025", "18446744073709551615", "-1", "two", ""] {
            assert!(parse_jobs(bad).is_err(), "{bad}");
        }
    }
}
