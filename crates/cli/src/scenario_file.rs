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
    /// A folder named to be checked that holds no scenario at all.
    #[error("{path}: no .ron scenario in this folder or its subfolders")]
    NoScenario { path: PathBuf },
}

impl LoadError {
    /// The file or folder at fault.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Io { path, .. }
            | LoadError::Invalid { path, .. }
            | LoadError::NoScenario { path } => path,
        }
    }
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

/// The largest file read as a scenario or sweep. Shrunk fault schedules and long sweeps are
/// far smaller; a larger input (`/dev/zero`, a log named by mistake) is refused before it
/// fills memory.
pub const MAX_BYTES: u64 = 64 << 20;

/// The bytes of `path`, at most [`MAX_BYTES`] of them.
pub fn read_capped(path: &Path) -> Result<Vec<u8>, LoadError> {
    use std::io::Read;
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {} MiB, which no scenario or sweep file is",
                MAX_BYTES >> 20
            ),
        )));
    }
    Ok(bytes)
}

pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    parse(path, &read_text(path)?)
}

/// The text of `path`: at most [`MAX_BYTES`], UTF-8, or an error at the first byte that
/// is not.
pub fn read_text(path: &Path) -> Result<String, LoadError> {
    let bytes = read_capped(path)?;
    String::from_utf8(bytes).map_err(|e| {
        let (line, col) = position(e.as_bytes(), e.utf8_error().valid_up_to());
        LoadError::Invalid {
            path: path.to_path_buf(),
            line,
            col,
            message: "expected UTF-8 text, found a byte that is not".into(),
        }
    })
}

/// The line and column, from 1, of byte `at` of `bytes`, which are valid UTF-8 before it;
/// columns count characters.
fn position(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = String::from_utf8_lossy(&bytes[..at]);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
