//! Reading scenario files: RON in, a validated [`Scenario`] out, or an error that names the
//! file, line and column and what was expected.

use std::path::{Path, PathBuf};

use payfault_domain::Scenario;

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
    payfault_domain::from_ron(text).map_err(|e| LoadError::Invalid {
        path: path.to_path_buf(),
        line: e.line,
        col: e.col,
        message: e.message,
    })
}

pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}
