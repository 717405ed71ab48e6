//! Progress for long commands: a bar with rate and ETA on a terminal; plain lines when stderr
//! is not a terminal or `CI` is set, so that logs stay readable.

use std::io::IsTerminal;

pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// `unit` names what is counted: "seeds", "runs".
    pub fn new(total: u64, unit: &str) -> Progress {
        let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let bar = interactive.then(|| {
            let b = indicatif::ProgressBar::new(total);
            let template =
                format!("{{bar:40}} {{pos}}/{{len}} {unit}  {{per_sec}}  eta {{eta}}  {{msg}}");
            b.set_style(
                indicatif::ProgressStyle::with_template(&template).expect("a valid template"),
            );
            b
        });
        Progress { bar }
    }

    /// Whether a bar is shown (else the caller prints plain lines).
    pub fn interactive(&self) -> bool {
        self.bar.is_some()
    }

    pub fn tick(&self) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    /// A message beside the bar; nothing without one.
    pub fn message(&self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(crate::shell::printable(&msg));
        }
    }

    /// A line above the bar, or on its own without one.
    pub fn line(&self, line: &str) {
        let line = crate::shell::printable(line);
        match &self.bar {
            Some(b) => b.println(line),
            None => crate::note!("{line}"),
        }
    }

    /// Runs `f`, which writes to standard output, with the bar out of its way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    pub fn done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// A command that stops with an error never reaches [`Progress::done`]: its message must not
/// be printed under a bar left half drawn.
impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            if !b.is_finished() {
                b.finish_and_clear();
            }
        }
    }
}

/// Escapes text for XML and HTML.
pub fn escape_markup(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
