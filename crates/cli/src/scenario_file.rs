//! Reading scenario files: RON in, a validated [`Scenario`] out, or an error that names the
//! file, line and column and what was expected.

use std::fmt;
use std::path::{Path, PathBuf};

use payfault_domain::Scenario;
use ron::extensions::Extensions;

/// A scenario file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{col}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
}

/// Parses scenario text; `path` is used only in messages.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, LoadError> {
    let opts = ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME);
    opts.from_str::<Scenario>(text)
        .map_err(|e| LoadError::Invalid {
            path: path.to_path_buf(),
            line: e.position.line,
            col: e.position.col,
            message: Explained(&e.code).to_string(),
        })
}

pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
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
            other => write!(f, "{other}"),
        }
    }
}
