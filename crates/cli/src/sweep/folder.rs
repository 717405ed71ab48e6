//! The report folder a sweep or merge writes, and how a new report takes an earlier one's
//! place without the earlier one being lost to a run that is refused or fails.
//!
//! A folder that is absent, holds nothing, or holds only an interrupted run's cells is written
//! in place: a run that stops there leaves its finished cells where `--resume` finds them. A
//! folder that holds a report (or a finished shard's results) is left as it is while the new
//! one is built in a hidden sibling, `.<name>.payfault-new`, which replaces it only once the
//! run succeeded. A run that fails there leaves its finished cells in the sibling, and
//! `--resume` looks in both.
//!
//! One run at a time writes a folder: each holds a lock on `.<name>.payfault-lock` beside it
//! (an advisory lock, which the system lets go when the process ends however it ends).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::{io_err, Manifest, INPUT, MANIFEST};
use crate::CliError;

/// The subfolders of a report.
const SUBFOLDERS: [&str; 4] = ["cells", "scenarios", "charts", INPUT];

/// Every name a report puts at the top of its folder; anything else there is someone else's.
const OURS: [&str; 10] = [
    MANIFEST,
    INPUT,
    "cells",
    "scenarios",
    "charts",
    "results.csv",
    "summary.csv",
    "pairs.csv",
    "report.md",
    "index.html",
];

pub(super) struct Out {
    /// The folder as named on the command line, for messages.
    named: PathBuf,
    /// The folder itself, symbolic links resolved, so that a new report replaces its content
    /// rather than the link.
    target: PathBuf,
    /// Where the new report is built before it replaces `target`'s.
    staging: PathBuf,
    /// Whether this run writes in `target` itself (it held no report) or in `staging`.
    in_place: bool,
    /// Earlier folders of this grid's or another's, with their manifests: `target`, then
    /// `staging` (left by a run that failed).
    earlier: Vec<(PathBuf, Manifest)>,
    /// Held while this run may write the folder; none where the lock file cannot be made
    /// (a parent folder this user may not write), as before there was one.
    _lock: Option<Lock>,
}

/// The lock a run holds on a report folder; its file goes when the run is done.
struct Lock {
    file: std::fs::File,
    path: PathBuf,
}

impl Lock {
    /// The lock on `path`, `None` if its file cannot be made, or an error if another run
    /// holds it.
    fn take(named: &Path, path: PathBuf) -> Result<Option<Lock>, CliError> {
        use std::os::unix::fs::MetadataExt;
        if let Some(parent) = path.parent() {
            if std::fs::create_dir_all(parent).is_err() {
                return Ok(None);
            }
        }
        // A run that ends removes the file while it holds it: one that opened the file just
        // before then locks a file no longer there, and must open the new one. Each turn
        // means another run came and went; a few are plenty.
        for _ in 0..8 {
            // A lock needs no more than reading: another user's lock file is locked too.
            let opened = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .or_else(|_| std::fs::File::open(&path));
            let Ok(file) = opened else {
                return Ok(None);
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(CliError::Usage(format!(
                        "{} is being written by another payfault run (it holds {}): wait for \
                         it to end, or choose another --out",
                        named.display(),
                        path.display()
                    )))
                }
                Err(std::fs::TryLockError::Error(_)) => return Ok(None),
            }
            let (held, named_now) = (file.metadata(), std::fs::metadata(&path));
            if let (Ok(a), Ok(b)) = (&held, &named_now) {
                if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
                    return Ok(Some(Lock { file, path }));
                }
            }
        }
        Err(CliError::Usage(format!(
            "{} is being written by other payfault runs, one after another: wait for them \
             to end, or choose another --out",
            named.display()
        )))
    }
}

/// The file goes while it is still locked, so that no other run can hold it meanwhile.
impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

impl Out {
    /// Looks at the folder and its staging sibling without changing either: refuses a folder
    /// that payfault did not write, and reads the manifests of those it did.
    pub(super) fn open(named: &Path) -> Result<Out, CliError> {
        if !named.exists() {
            // What is in the way of making it, said now and in the terms of `--out`.
            crate::check_output_dir(named, "--out")?;
        }
        let (target, staging) = locate(named)?;
        // Taken before the folders are read: another run may be changing them.
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        let lock = Lock::take(
            named,
            staging.with_file_name(format!(".{name}.payfault-lock")),
        )?;
        let mut earlier = Vec::new();
        let held = ours(&target).map_err(|why| {
            CliError::Usage(format!(
                "{} {why}, and its files are left alone: choose another --out",
                named.display()
            ))
        })?;
        let in_place = held.is_none() || !holds_report(&target);
        if let Some(m) = held {
            earlier.push((named.to_path_buf(), m));
        }
        match ours(&staging) {
            Ok(Some(m)) => earlier.push((staging.clone(), m)),
            Ok(None) => {}
            // Not needed when the folder is written in place, so not touched either.
            Err(_) if in_place => {}
            Err(why) => {
                return Err(CliError::Usage(format!(
                    "{} {why}; a new report for {} is built there before it takes the old \
                     one's place: move it away",
                    staging.display(),
                    named.display()
                )))
            }
        }
        if !in_place && !same_filesystem(&target, staging.parent().unwrap_or(&staging)) {
            return Err(CliError::Usage(format!(
                "{} holds a report, which is replaced only once the new one is whole, built \
                 beside it in {}; that is on another filesystem (is {} a mount point?), so \
                 they cannot be swapped: give --out a folder inside it, or move its report away",
                named.display(),
                staging.display(),
                named.display()
            )));
        }
        Ok(Out {
            named: named.to_path_buf(),
            target,
            staging,
            in_place,
            earlier,
            _lock: lock,
        })
    }

    /// The folder as the user named it.
    pub(super) fn named(&self) -> &Path {
        &self.named
    }

    /// The folder this run writes to.
    pub(super) fn work(&self) -> &Path {
        if self.in_place {
            &self.named
        } else {
            &self.staging
        }
    }

    /// `<folder>.stopped-<id>.ron` beside the folder as named: a place for a stopped cell's
    /// scenario that no later run into the folder changes.
    pub(super) fn beside(&self, id: &str) -> PathBuf {
        // `.` and `..` have no name of their own: the folder's resolved path has one.
        let beside = if self.named.file_name().is_some() {
            &self.named
        } else {
            &self.target
        };
        let name = beside
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        beside.with_file_name(format!("{name}.stopped-{id}.ron"))
    }

    /// Earlier folders of ours and their manifests, the one named first.
    pub(super) fn earlier(&self) -> &[(PathBuf, Manifest)] {
        &self.earlier
    }

    /// Makes the working folder hold `m` and the kept cells, each `(id, folder it is in)`, and
    /// nothing else of an earlier run.
    pub(super) fn prepare(&self, m: &Manifest, kept: &[(&str, &Path)]) -> Result<(), CliError> {
        let work = self.work();
        std::fs::create_dir_all(work).map_err(|e| {
            CliError::Usage(if self.in_place {
                format!("{}: --out cannot be made: {e}", self.named.display())
            } else {
                format!(
                    "{}: the new report for --out {} cannot be made beside it: {e}",
                    work.display(),
                    self.named.display()
                )
            })
        })?;
        remove_leftovers(work)?;
        if self.earlier.iter().any(|(d, _)| d == work) {
            let here: Vec<&str> = kept
                .iter()
                .filter(|(_, from)| *from == work)
                .map(|(id, _)| *id)
                .collect();
            // Before the new manifest vouches for the folder, no cell file may remain that it
            // does not describe: one of another grid would pass for this one's on a resume.
            super::remove_cells_except(work, &here)?;
            super::remove_report(work)?;
            remove_stale_scenarios(work, m)?;
        }
        // The manifest before the subfolders, so that a run killed early leaves a folder that
        // holds nothing or one that holds a manifest.
        m.write(work)?;
        for sub in SUBFOLDERS {
            let d = work.join(sub);
            std::fs::create_dir_all(&d).map_err(io_err(&d))?;
        }
        for &(id, from) in kept {
            if from != work {
                let src = super::cell_path(from, id);
                let bytes = std::fs::read(&src)
                    .map_err(|e| CliError::Usage(format!("{}: cannot read: {e}", src.display())))?;
                crate::write_atomic(&super::cell_path(work, id), &bytes)?;
            }
        }
        Ok(())
    }

    /// What to tell the user when the run stopped before its report was written; a sweep's
    /// finished cells stay where `--resume` finds them.
    fn after_failure(&self, resumable: bool) -> Option<String> {
        (!self.in_place).then(|| {
            let cells = if resumable {
                format!(
                    "; the cells finished so far are in {}, where --resume finds them",
                    self.staging.display()
                )
            } else {
                String::new()
            };
            format!("{} is as it was{cells}", self.named.display())
        })
    }

    /// Ends the run whose writing gave `built`: in the named folder's place when it was
    /// written whole, which is returned; else the error, after telling where its work is.
    pub(super) fn conclude(
        self,
        built: Result<(), CliError>,
        resumable: bool,
    ) -> Result<PathBuf, CliError> {
        if let Err(e) = built {
            if let Some(note) = self.after_failure(resumable) {
                crate::note!("note: {note}");
            }
            return Err(e);
        }
        let named = self.named().to_path_buf();
        self.finish()?;
        Ok(named)
    }

    /// Puts the new report in the named folder's place, keeping whatever else the folder
    /// held, and removes what the run no longer needs.
    fn finish(self) -> Result<(), CliError> {
        if self.in_place {
            // A sibling left by an earlier failed run: its cells were kept or are superseded.
            if self.earlier.iter().any(|(d, _)| *d == self.staging) {
                if let Err(e) = std::fs::remove_dir_all(&self.staging) {
                    crate::note!(
                        "note: could not remove {}, left by an earlier run: {e}",
                        self.staging.display()
                    );
                }
            }
            return Ok(());
        }
        // Asked before the swap: after it, a working folder inside the old report has moved.
        let inside = std::env::current_dir().is_ok_and(|d| d.starts_with(&self.target));
        let old = swap(&self.staging, &self.target).map_err(|e| {
            CliError::Usage(format!(
                "cannot put the new report in {}'s place ({e}): {} is as it was, and the new \
                 report is whole in {}",
                self.named.display(),
                self.named.display(),
                self.staging.display()
            ))
        })?;
        if inside {
            crate::note!(
                "note: {} is a new folder now: a shell working inside the old one sees it after \
                 `cd \"$PWD\"`",
                self.named.display()
            );
        }
        // The new report is in place: what follows only tidies up, and says what it left.
        match carry_foreign(&old, &self.target) {
            Ok(()) => {
                if let Err(e) = std::fs::remove_dir_all(&old) {
                    crate::note!(
                        "note: could not remove the earlier report, now in {}: {e}",
                        old.display()
                    );
                }
            }
            Err(e) => crate::note!(
                "note: the earlier report is kept in {}, with files of yours that could not be \
                 moved into {}: {e}",
                old.display(),
                self.named.display()
            ),
        }
        Ok(())
    }
}

/// Moves what someone else put beside a report in `old` into `new`: it belongs to the folder,
/// not to the report being replaced.
fn carry_foreign(old: &Path, new: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(old)? {
        let e = e?;
        let name = e.file_name();
        if OURS.iter().any(|o| OsStr::new(o) == name) || is_leftover(&name) {
            continue;
        }
        let to = new.join(&name);
        // A rename would replace a file of the same name: both are kept instead.
        if to.symlink_metadata().is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists in both", name.to_string_lossy()),
            ));
        }
        std::fs::rename(e.path(), to)?;
    }
    Ok(())
}

/// The folder itself (links resolved where it exists) and its staging sibling.
fn locate(named: &Path) -> Result<(PathBuf, PathBuf), CliError> {
    let target = if named.exists() {
        named.canonicalize().map_err(io_err(named))?
    } else {
        match (named.parent(), named.file_name()) {
            (Some(p), Some(n)) => {
                let p = if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                };
                p.canonicalize().unwrap_or_else(|_| p.to_path_buf()).join(n)
            }
            _ => named.to_path_buf(),
        }
    };
    let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
        return Err(CliError::Usage(format!(
            "{} cannot hold a report: name a folder inside another with --out",
            named.display()
        )));
    };
    let staging = parent.join(format!(".{}.payfault-new", name.to_string_lossy()));
    Ok((target, staging))
}

/// Whether a folder of ours holds more than an interrupted run's cells: a report, or a
/// finished shard's results.
fn holds_report(dir: &Path) -> bool {
    super::REPORT_FILES.iter().any(|f| {
        let p = dir.join(f);
        if *f == "charts" {
            std::fs::read_dir(&p).is_ok_and(|mut d| d.next().is_some())
        } else {
            p.exists()
        }
    })
}

#[cfg(unix)]
fn same_filesystem(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        // What cannot be looked at now fails, with its own message, when it is written.
        _ => true,
    }
}

#[cfg(not(unix))]
fn same_filesystem(_: &Path, _: &Path) -> bool {
    true
}

/// Removes the scenario files of cells that are not in `m`'s grid.
fn remove_stale_scenarios(dir: &Path, m: &Manifest) -> Result<(), CliError> {
    let d = dir.join("scenarios");
    let Ok(entries) = std::fs::read_dir(&d) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".ron") else {
            continue;
        };
        let a_cell = id
            .strip_prefix("cell-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if a_cell && !m.cells.iter().any(|c| c.id == id) {
            std::fs::remove_file(e.path()).map_err(io_err(&e.path()))?;
        }
    }
    Ok(())
}

/// The manifest of a folder payfault wrote, none for a folder that is absent or holds
/// nothing, and why not for anything else.
fn ours(dir: &Path) -> Result<Option<Manifest>, String> {
    if !dir.exists() {
        return Ok(None);
    }
    if !dir.is_dir() {
        return Err("exists and is not a folder".into());
    }
    if holds_nothing(dir).map_err(|e| format!("cannot be read ({e})"))? {
        return Ok(None);
    }
    let path = dir.join(MANIFEST);
    if !path.is_file() {
        return Err(format!(
            "exists and is not a sweep's report folder (it holds files but no {MANIFEST})"
        ));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("holds a {MANIFEST} that cannot be read ({e})"))?;
    Manifest::parse(&text).map(Some).map_err(|why| {
        format!("is not a report folder this payfault wrote: its {MANIFEST} is {why}")
    })
}

/// Whether `dir` holds nothing but empty report subfolders and temporary files of a killed
/// run: what a run killed before its manifest was written leaves.
fn holds_nothing(dir: &Path) -> std::io::Result<bool> {
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name();
        let empty_sub = SUBFOLDERS.iter().any(|s| OsStr::new(s) == name)
            && e.path().is_dir()
            && std::fs::read_dir(e.path())?.next().is_none();
        if !empty_sub && !is_leftover(&name) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A temporary file of `crate::write_atomic` (`.<name>.tmp<pid>`), left by a killed run.
fn is_leftover(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.')
        && name
            .rsplit_once(".tmp")
            .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes the temporary files a killed run left in `dir` and its report subfolders.
fn remove_leftovers(dir: &Path) -> Result<(), CliError> {
    for sub in ["", "cells", "scenarios", "charts"] {
        let d = dir.join(sub);
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if is_leftover(&e.file_name()) && e.path().is_file() {
                std::fs::remove_file(e.path()).map_err(io_err(&e.path()))?;
            }
        }
    }
    Ok(())
}

/// Puts `new` at `target`'s path and returns where `target`'s old content now is: in one
/// step where the system can exchange two folders, else in two renames.
fn swap(new: &Path, target: &Path) -> std::io::Result<PathBuf> {
    if exchange(new, target).is_ok() {
        return Ok(new.to_path_buf());
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let old = target.with_file_name(format!(".{name}.payfault-old"));
    std::fs::rename(target, &old)?;
    if let Err(e) = std::fs::rename(new, target) {
        // Put the earlier report back rather than leave no folder at the name.
        let _ = std::fs::rename(&old, target);
        return Err(e);
    }
    Ok(old)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_write_atomic_temporary_names_are_leftovers() {
        for (name, leftover) in [
            (".results.csv.tmp4242", true),
            (".cell-001.csv.tmp7", true),
            (".notes.tmp", false),
            (".notes.tmpfile", false),
            ("results.csv.tmp42", false),
            ("draft.tmp", false),
        ] {
            assert_eq!(is_leftover(OsStr::new(name)), leftover, "{name}");
        }
    }
}
