//! The payfault command line.

mod alloc;
mod baseline;
mod bench;
mod chart;
mod check;
mod floor;
mod interrupt;
mod memory_bench;
mod progress;
mod queue_bench;
mod scenario_file;
mod shell;
mod sweep;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use payfault_domain::run::Summary;
use payfault_domain::trace::TraceEvent;
use payfault_domain::{Builtin, PolicyKind, Scenario};

/// payfault: a deterministic simulator of a card-payment network that checks whether a retry
/// policy can ever charge a customer twice.
///
/// Exit codes: 0 every property held (`run`) or every scenario met its expectation (`check`);
/// 1 a property was violated (`run`) or a scenario did not meet its expectation (`check`);
/// 2 bad input or usage, an output that cannot be written, or a run stopped at its
/// scenario's limits; 130 or 143 stopped by Ctrl-C or SIGTERM. `sweep`, `merge` and `bench`
/// exit 0 when they finish, whatever the properties did.
#[derive(Parser)]
#[command(name = "payfault", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one seed of a scenario and print its metrics and any violated property.
    Run(RunArgs),
    /// Run many seeds of every scenario and check each scenario's expectation: by default that
    /// every property holds; for a known-bad scenario, that the checker still catches it.
    Check(CheckArgs),
    /// Measure the simulator: events per second, nanoseconds per event, wall time and peak
    /// memory for one or more seeds of a scenario (oracle and metrics on, tracing off).
    Bench(BenchArgs),
    /// Run a grid of retry policies x scenario parameters x seeds in parallel and write a
    /// report folder: CSV results, summaries with 95% confidence intervals, charts, HTML.
    Sweep(sweep::SweepArgs),
    /// Join the folders of a sharded sweep (`sweep --shard K/N`) into the report one run of
    /// the whole sweep would have written.
    Merge(sweep::MergeArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Scenario files, or folders whose .ron files are all checked.
    #[arg(required = true, value_parser = path)]
    paths: Vec<PathBuf>,
    /// Seeds per scenario, 1 to 1,000,000.
    #[arg(long, default_value_t = 1000)]
    seeds: u64,
    /// The first seed [default: the scenario's `seed`, as a shrunk scenario records the seed
    /// it fails on, or 1].
    #[arg(long)]
    seed_start: Option<u64>,
    /// Worker threads, 1 to 1024 (default: every core). The outcome does not depend on it.
    #[arg(long, value_parser = shell::parse_jobs)]
    jobs: Option<usize>,
    /// Check every scenario even after one failed.
    #[arg(long)]
    keep_going: bool,
    /// Also write the verdict as JUnit XML, one test case per scenario (`-`: standard output).
    #[arg(long, value_parser = output_file)]
    junit: Option<PathBuf>,
    /// How to print the verdict.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Where shrunk failing scenarios are written.
    #[arg(long, default_value = "payfault-shrunk", value_parser = path)]
    shrink_dir: PathBuf,
    /// Runs a shrink may spend, 1 to 1,000,000; then it keeps the smallest failing run found
    /// so far. Three are always spent: the failing run, again with its faults written out, and
    /// the run that confirms the file. The same on every machine, unlike a time limit.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    shrink_runs: u64,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// The scenario to measure.
    #[arg(default_value = "scenarios/reference.ron", value_parser = path)]
    scenario: PathBuf,
    /// Runs to time, one after the other, seeds 1..=N [default: 3]. With --scales, runs of
    /// each scale (seed 1), of which the fastest is shown [default: 1].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    runs: Option<u64>,
    /// Override the number of purchases of the scenario.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    purchases: Option<u64>,
    /// Override the number of terminals of the scenario (at most 100,000,000).
    #[arg(long, value_parser = clap::value_parser!(u32)
        .range(1..=i64::from(payfault_domain::config::MAX_TERMINALS)))]
    terminals: Option<u32>,
    /// Keep the load that this many terminals make: stretch each terminal's inter-arrival
    /// times by terminals / N (a whole number), so that purchases arrive as fast in all, and
    /// as many are in flight, as at N terminals.
    #[arg(long, value_name = "N", conflicts_with_all = ["baseline", "floor", "scales"],
        value_parser = clap::value_parser!(u32).range(1..))]
    load_of: Option<u32>,
    /// Measure each scale in its own process: 10^3 to 10^6 terminals at 10^6 purchases, 10^6
    /// terminals at 10^7, and 10^5 up to --max-purchases purchases at 1000 terminals, then the
    /// terminal counts again at the load of 1000 terminals.
    #[arg(long)]
    scales: bool,
    /// The largest purchase count measured by --scales.
    #[arg(long, default_value_t = 100_000_000,
        value_parser = clap::value_parser!(u64).range(100_000..))]
    max_purchases: u64,
    /// Measure the minimal hand-written loop of the reference model instead of the
    /// simulator (a binary heap, one ChaCha8 stream, hash maps; no oracle, metrics or trace),
    /// at the scenario's terminals and purchases: the yardstick the simulator is held to. It
    /// stops at the scenario's limits.max_time and limits.max_events, as the simulator does.
    /// With --scales, both, across the terminal counts.
    #[arg(long)]
    baseline: bool,
    /// Measure the floor instead of the simulator: the reference model with the least state,
    /// on the simulator's own event and arrival queues (one 8-byte word a payment, the bank's
    /// keys a bit each, one counter a terminal; no oracle, messages, metrics or trace). How
    /// its cost grows with the terminals is the part of the simulator's growth that the queues
    /// and the machine make. With --scales, across the terminal counts, beside --baseline's
    /// table if both are given.
    #[arg(long)]
    floor: bool,
    /// Measure the event queue alone instead of a scenario: the hold model (take out the
    /// earliest of N pending events, schedule one more) at 10^3 up to --max-pending pending,
    /// the simulator's scheduler against the standard library's binary heap.
    #[arg(long, conflicts_with_all = ["scales", "baseline", "floor", "load_of", "terminals", "purchases", "runs"])]
    queue: bool,
    /// The largest number of pending events measured by --queue (at most 10^8: 3.2 GB a
    /// queue).
    #[arg(long, default_value_t = 10_000_000,
        value_parser = clap::value_parser!(u64).range(1_000..=100_000_000))]
    max_pending: u64,
    /// Measure this machine's memory instead of a scenario: what a random read of one
    /// cache line costs, waiting for each other (chased) and in flight together
    /// (independent), within tables of 1 MiB up to --max-mib: the yardstick for how the cost
    /// per event grows with the state in flight.
    #[arg(long, conflicts_with_all = ["scales", "baseline", "floor", "load_of", "terminals", "purchases", "runs", "queue"])]
    memory: bool,
    /// The largest table measured by --memory, in MiB.
    #[arg(long, default_value_t = 256,
        value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_mib: u64,
    /// Print one machine-readable line per run (used by --scales).
    #[arg(long, hide = true)]
    raw: bool,
    /// One size of --queue, PENDING:KIND, in a process of its own (used by --queue).
    #[arg(long, hide = true)]
    queue_run: Option<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The scenario file (RON).
    #[arg(value_parser = path)]
    scenario: PathBuf,
    /// The seed from which every random draw of the run is derived [default: the scenario's
    /// `seed`, else 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Replace the scenario's retry policy by another built-in, keeping its timeout, attempts,
    /// deadline and backoff.
    #[arg(long, value_parser = parse_policy)]
    policy: Option<PolicyKind>,
    /// Write every event of the run to this file as JSON Lines (`-`: standard output).
    #[arg(long, value_parser = output_file)]
    trace: Option<PathBuf>,
    /// How to print the summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The purchase intent to draw with --chart [default: the first one that broke a property].
    #[arg(long, requires = "chart")]
    intent: Option<u64>,
    /// Draw the intent's message sequence chart to this SVG file (`-`: standard output).
    #[arg(long, value_parser = output_file)]
    chart: Option<PathBuf>,
}

/// An output file's path, `-` meaning standard output as Unix tools take it (`./-` names a
/// file); a folder such as `--shrink-dir -` is named as written.
fn output_file(s: &str) -> Result<PathBuf, String> {
    // Descriptor 1 by its number, which `landing` knows by name, with no need of a
    // `/dev/stdout` on disk.
    path(if s == "-" { "/dev/fd/1" } else { s })
}

/// Where `path` is or would be made: the nearest folder above it that is there, resolved
/// (links followed), with the rest of the path below it, whose `.` and `..` are taken as
/// written, there being nothing yet to follow. None if no part of it can be resolved.
pub(crate) fn resolved(path: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let abs = std::path::absolute(path).ok()?;
    let parts: Vec<Component> = abs.components().collect();
    let (base, rest) = (0..=parts.len()).rev().find_map(|k| {
        let prefix: PathBuf = parts[..k].iter().collect();
        prefix.canonicalize().ok().map(|c| (c, &parts[k..]))
    })?;
    Some(rest.iter().fold(base, |mut p, part| {
        match part {
            Component::ParentDir => {
                p.pop();
            }
            Component::CurDir => {}
            other => p.push(other),
        }
        p
    }))
}

/// A path as given; an empty one (`--trace ''`, an unset shell variable) is refused here,
/// where the message can name the option, rather than failing later as ": No such file".
pub(crate) fn path(s: &str) -> Result<PathBuf, String> {
    if s.is_empty() {
        return Err("an empty path: name a file or folder".into());
    }
    Ok(PathBuf::from(s))
}

fn parse_policy(s: &str) -> Result<PolicyKind, String> {
    PolicyKind::from_cli_name(s).ok_or_else(|| {
        let names: Vec<&str> = PolicyKind::ALL.iter().map(|k| k.cli_name()).collect();
        format!("unknown policy {s:?}: expected one of {}", names.join(", "))
    })
}

/// Failures of the command, each with its exit code.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Load(#[from] scenario_file::LoadError),
    /// Several files that cannot be read, each on a line of its own.
    #[error(
        "{}\nerror: {}",
        .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\nerror: "),
        loads_summary(.errors.len())
    )]
    Loads {
        errors: Vec<scenario_file::LoadError>,
    },
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An output named by an option, which the message names too.
    #[error("{option} {}: {source}", path.display())]
    Output {
        option: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the run stopped: {0}")]
    Sim(#[from] payfault_domain::SimError),
    /// Stopped by Ctrl-C or SIGTERM, with what was kept and how to go on.
    #[error("{0}")]
    Interrupted(String),
    #[error("the run stopped: {source}; the trace up to there is in {}", partial.display())]
    SimTraced {
        source: payfault_domain::SimError,
        partial: PathBuf,
    },
}

/// The last line of [`CliError::Loads`], and its whole message in `--format json`, where
/// the problems are listed apart.
fn loads_summary(n: usize) -> String {
    format!("{n} of the scenarios named cannot be read; nothing was checked")
}

impl CliError {
    /// The error as `--format json` gives it: `error` (the message), `exit_code`, and
    /// `problems`, one for each scenario file that cannot be read: its `file`, and `line`
    /// and `column` where its text is at fault.
    fn to_json(&self) -> serde_json::Value {
        let problem = |e: &scenario_file::LoadError| match e {
            scenario_file::LoadError::Io { path, source } => serde_json::json!({
                "file": path.display().to_string(),
                "message": format!("cannot read: {source}"),
            }),
            scenario_file::LoadError::Invalid {
                path,
                line,
                col,
                message,
            } => serde_json::json!({
                "file": path.display().to_string(),
                "line": line,
                "column": col,
                "message": message,
            }),
            scenario_file::LoadError::NoScenario { path } => serde_json::json!({
                "file": path.display().to_string(),
                "message": "no .ron scenario in this folder or its subfolders",
            }),
        };
        let problems: Vec<serde_json::Value> = match self {
            CliError::Load(e) => vec![problem(e)],
            CliError::Loads { errors } => errors.iter().map(problem).collect(),
            _ => Vec::new(),
        };
        let error = match self {
            // Each problem is in `problems`: the message is the count alone, not every line of
            // the text form joined with its prefixes.
            CliError::Loads { errors } => loads_summary(errors.len()),
            e => e.to_string(),
        };
        serde_json::json!({
            "error": error,
            "exit_code": self.exit_code(),
            "problems": problems,
        })
    }

    fn exit_code(&self) -> u8 {
        match self {
            CliError::Load(_) | CliError::Loads { .. } | CliError::Usage(_) | CliError::Sim(_) => 2,
            CliError::SimTraced { .. } => 2,
            CliError::Write { .. } | CliError::Output { .. } => 2,
            CliError::Interrupted(_) => interrupt::exit_code(),
        }
    }
}

/// Large tables on huge pages where the kernel offers them: see [`alloc`].
#[global_allocator]
static GLOBAL: alloc::HugeAlloc = alloc::HugeAlloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            if !e.use_stderr() {
                // Help or version, asked for.
                return ExitCode::from(0);
            }
            if json_asked(std::env::args_os().skip(1)) {
                // The message, up to the usage and tips that follow it after a blank line.
                let message = e.render().to_string();
                let said: Vec<&str> = message
                    .lines()
                    .take_while(|l| !l.trim().is_empty())
                    .map(str::trim)
                    .collect();
                let said = said.join(" ");
                let json = serde_json::json!({
                    "error": said.strip_prefix("error: ").unwrap_or(&said),
                    "exit_code": 2,
                    "problems": [],
                });
                // The exit code says it too; a reader that is gone loses nothing.
                let _ = writeln!(std::io::stdout(), "{json:#}");
            }
            return ExitCode::from(2);
        }
    };
    let json_errors = json_errors(&cli.command);
    interrupt::JSON_ERRORS.store(json_errors, std::sync::atomic::Ordering::SeqCst);
    interrupt::install_out_of_memory();
    let result = match cli.command {
        Command::Run(args) => cmd_run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Sweep(args) => sweep::run(&args),
        Command::Merge(args) => sweep::merge(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // A stop asked for is news, not an error.
            let prefix = if matches!(e, CliError::Interrupted(_)) {
                ""
            } else {
                "error: "
            };
            crate::note!("{prefix}{}", shell::printable(&e.to_string()));
            if json_errors && !REPORT_OUT.load(std::sync::atomic::Ordering::SeqCst) {
                let mut out = std::io::stdout().lock();
                // Standard error has said it already; a reader that is gone loses nothing.
                let _ = serde_json::to_writer_pretty(&mut out, &e.to_json())
                    .map_err(std::io::Error::from)
                    .and_then(|()| writeln!(out));
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Whether a command line the parser refused asked `run` or `check` for `--format json`, so
/// that the refusal is also given as JSON (see [`json_errors`]).
fn json_asked(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    let args: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    // Options end at `--`: what follows is paths.
    let args = &args[..args.iter().position(|a| a == "--").unwrap_or(args.len())];
    let command_wants = matches!(
        args.iter()
            .find(|a| !a.starts_with('-'))
            .map(String::as_str),
        Some("run" | "check")
    );
    // The values of option `name`, written `--name value` or `--name=value`.
    let values = |name: &str| -> Vec<&str> {
        let eq = format!("{name}=");
        args.iter()
            .enumerate()
            .filter_map(|(i, a)| match a.strip_prefix(&eq) {
                Some(v) => Some(v),
                None if a == name => args.get(i + 1).map(String::as_str),
                None => None,
            })
            .collect()
    };
    let json = values("--format").contains(&"json");
    let stdout_taken = ["--trace", "--chart", "--junit"].iter().any(|o| {
        values(o)
            .iter()
            .any(|v| *v == "-" || matches!(landing(Path::new(v)), Landing::Fd(1)))
    });
    command_wants && json && !stdout_taken
}

/// Set once a command's report went to standard output: an error after it is not written
/// there as JSON as well, which would make two documents of one.
static REPORT_OUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether an error that ends `command` is also written to standard output as JSON: with
/// `--format json`, where a script reads the report, unless a trace, chart or JUnit report
/// has standard output to itself.
fn json_errors(command: &Command) -> bool {
    let on_stdout = |p: &Option<PathBuf>| {
        p.as_deref()
            .is_some_and(|p| matches!(landing(p), Landing::Fd(1)))
    };
    match command {
        Command::Run(a) => a.format == Format::Json && !on_stdout(&a.trace) && !on_stdout(&a.chart),
        Command::Check(a) => a.format == Format::Json && !on_stdout(&a.junit),
        Command::Bench(_) | Command::Sweep(_) | Command::Merge(_) => false,
    }
}

/// Prints a line to standard output. A reader that closed the pipe (`payfault ... | head`)
/// wanted no more: the line is dropped and the command goes on to its end, its files and its
/// verdict, rather than failing.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::say_line(format_args!($($arg)*))?
    };
}
pub(crate) use say;

/// A line of diagnostics to standard error. A standard error that is gone (a closed pipe, as
/// in `2>&1 | head`, or a full disk) must not end the command: its verdict, exit code and
/// files stand without the notes, so a failed write is let go, where `eprintln!` panics.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::note_line(format_args!($($arg)*))
    };
}
pub(crate) use note;

pub(crate) fn note_line(line: std::fmt::Arguments) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(line).and_then(|()| err.write_all(b"\n"));
}

pub(crate) fn say_line(line: std::fmt::Arguments) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    printed(out.write_fmt(line).and_then(|()| out.write_all(b"\n")), 0).map(|_| ())
}

/// The verdict `code` of a command once its report went to standard output: a reader that
/// closed the pipe (`payfault ... | head`) wanted no more, but the verdict still stands, so
/// that a pipeline under `set -o pipefail` still sees a violation.
fn printed(written: std::io::Result<()>, code: u8) -> Result<u8, CliError> {
    match written {
        Ok(()) => Ok(code),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code),
        Err(source) => Err(CliError::Write {
            path: "stdout".into(),
            source,
        }),
    }
}

/// Refuses to write `output` over one of the `inputs`: a scenario is not to be lost to a
/// mistyped flag.
fn refuse_overwriting(output: &Path, inputs: &[&Path]) -> Result<(), CliError> {
    let Ok(out) = output.canonicalize() else {
        // Not there yet, so it is no input.
        return Ok(());
    };
    for input in inputs {
        if input.canonicalize().is_ok_and(|i| i == out) {
            return Err(CliError::Usage(format!(
                "{} is an input: refusing to write over it",
                output.display()
            )));
        }
    }
    Ok(())
}

/// A temporary name beside `path`, in the same folder so that renaming it into place is
/// atomic.
fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp{}", std::process::id()))
}

/// How a write reaches an output path.
enum Landing {
    /// A file, replaced whole: written beside it, then renamed over it. A symbolic link is
    /// followed to the file it names, so that the link stays a link.
    Replace(PathBuf),
    /// A device or a pipe (`/dev/null`, a FIFO), which a rename would replace: written in
    /// place.
    InPlace(PathBuf),
    /// A file this process has open, by its number (`/dev/stdout`, `/dev/fd/2`): written
    /// through that very descriptor, so that what the shell made of it (a pipe, a file
    /// opened for appending) stays as it is.
    Fd(u32),
}

/// Where writing `path` lands.
fn landing(path: &Path) -> Landing {
    let mut target = path.to_path_buf();
    // As many links as Linux follows (MAXSYMLINKS); a link to a file not yet there counts.
    for _ in 0..40 {
        if let Some(fd) = own_fd(&target) {
            return Landing::Fd(fd);
        }
        let is_link = std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink());
        let Some(next) = is_link.then(|| std::fs::read_link(&target).ok()).flatten() else {
            break;
        };
        target = match target.parent() {
            Some(dir) if next.is_relative() => dir.join(next),
            _ => next,
        };
    }
    if std::fs::metadata(&target).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        Landing::InPlace(target)
    } else {
        Landing::Replace(target)
    }
}

/// The number of the open file `path` names through `/dev/fd` or `/proc/self/fd`, if it does.
fn own_fd(path: &Path) -> Option<u32> {
    let own = format!("/proc/{}/fd", std::process::id());
    ["/dev/fd", "/proc/self/fd", own.as_str()]
        .iter()
        .find_map(|dir| path.strip_prefix(dir).ok())
        .and_then(|n| n.to_str()?.parse().ok())
}

/// A writer in place, for what is not to be replaced.
fn open_in_place(landing: &Landing) -> std::io::Result<Box<dyn Write>> {
    Ok(match landing {
        Landing::Fd(1) => Box::new(std::io::stdout()),
        Landing::Fd(2) => Box::new(std::io::stderr()),
        Landing::Fd(n) => Box::new(
            std::fs::OpenOptions::new()
                .append(true)
                .open(format!("/proc/self/fd/{n}"))?,
        ),
        Landing::InPlace(p) | Landing::Replace(p) => {
            Box::new(std::fs::OpenOptions::new().write(true).open(p)?)
        }
    })
}

/// Refuses, before any work, an output the end of the work could not write: a folder, or a
/// name in a folder that is missing or not writable. A device or pipe is taken as it is.
fn check_output(path: &Path, flag: &str) -> Result<(), CliError> {
    let Landing::Replace(target) = landing(path) else {
        return Ok(());
    };
    // `out/` names a folder whether or not it is there.
    if target.is_dir() || path.as_os_str().to_string_lossy().ends_with('/') {
        return Err(CliError::Usage(format!(
            "{}: {flag} names a folder, not a file",
            path.display()
        )));
    }
    let probe = temp_beside(&target);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| CliError::Usage(format!("{}: {flag} cannot be written: {e}", path.display())))
}

/// Refuses, before any work, a folder for outputs that could not be made or written: a file in
/// its way, a symbolic link to nothing, a folder that cannot be made there, or one that takes
/// no file. A folder made to find out is taken away again, since a check may write nothing
/// there. Each refusal says which part of the path is at fault and why, not only the
/// system's word for it.
fn check_output_dir(dir: &Path, flag: &str) -> Result<(), CliError> {
    let refuse = |why: String| CliError::Usage(format!("{}: {flag} {why}", dir.display()));
    // The deepest part of the path that is there, a link that leads nowhere included.
    let mut existing = dir;
    while !existing.as_os_str().is_empty() && existing.symlink_metadata().is_err() {
        existing = existing.parent().unwrap_or(Path::new(""));
    }
    let existing = if existing.as_os_str().is_empty() {
        Path::new(".")
    } else {
        existing
    };
    if let Err(e) = existing.metadata() {
        let what = if existing == dir {
            "is".to_string()
        } else {
            format!("cannot be made: {} is", existing.display())
        };
        let why = match std::fs::read_link(existing) {
            Ok(to) if e.kind() == std::io::ErrorKind::NotFound => format!(
                "{what} a symbolic link to {}, which does not exist",
                to.display()
            ),
            Ok(to) => format!(
                "{what} a symbolic link to {}, which cannot be followed ({e})",
                to.display()
            ),
            Err(_) => format!("{what} not readable ({e})"),
        };
        return Err(refuse(why));
    }
    if !existing.is_dir() {
        return Err(refuse(format!(
            "cannot be made: {} is not a folder",
            existing.display()
        )));
    }
    let made = !dir.exists();
    std::fs::create_dir_all(dir).map_err(|e| {
        refuse(if e.kind() == std::io::ErrorKind::NotFound {
            // Its parent is there, yet the folder is "not found": a filesystem such as /proc
            // that takes no new folders.
            format!(
                "cannot be made: {} takes no new folders ({e})",
                existing.display()
            )
        } else {
            format!("cannot be made in {}: {e}", existing.display())
        })
    })?;
    let probe = dir.join(format!(".payfault-probe{}", std::process::id()));
    let writable = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|_| std::fs::remove_file(&probe));
    if made {
        // The folders made, from the deepest up to the one that was there.
        let mut d = dir;
        while d != existing && !d.as_os_str().is_empty() {
            let _ = std::fs::remove_dir(d);
            d = d.parent().unwrap_or(Path::new(""));
        }
    }
    writable.map_err(|e| refuse(format!("cannot be written: {e}")))
}

/// Whether two output paths name the same file, whether or not it exists yet.
fn same_output(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| -> PathBuf {
        let target = match landing(p) {
            Landing::Fd(n) => return PathBuf::from(format!("/proc/self/fd/{n}")),
            Landing::InPlace(t) | Landing::Replace(t) => t,
        };
        if let Ok(c) = target.canonicalize() {
            return c;
        }
        let parent = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        match (parent.canonicalize(), target.file_name()) {
            (Ok(d), Some(name)) => d.join(name),
            _ => target,
        }
    };
    resolve(a) == resolve(b)
}

/// Writes a file whole or not at all: to a temporary name beside it, then renamed. A symbolic
/// link is followed; a device, a pipe or `/dev/stdout` is written in place (see [`Landing`]).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let err = |source| CliError::Write {
        path: path.to_path_buf(),
        source,
    };
    let target = match landing(path) {
        Landing::Replace(target) => target,
        other => {
            return open_in_place(&other)
                .and_then(|mut w| w.write_all(bytes).and_then(|()| w.flush()))
                .map_err(err)
        }
    };
    let tmp = temp_beside(&target);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &target));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(err)
}

fn load_with_policy(path: &Path, policy: Option<PolicyKind>) -> Result<Scenario, CliError> {
    let sc = scenario_file::load(path)?;
    Ok(match policy {
        Some(k) => sc.with_policy(k),
        None => sc,
    })
}

fn cmd_run(args: &RunArgs) -> Result<u8, CliError> {
    let sc = load_with_policy(&args.scenario, args.policy)?;
    for (out, flag) in [(&args.trace, "--trace"), (&args.chart, "--chart")] {
        if let Some(out) = out {
            refuse_overwriting(out, &[&args.scenario])?;
            check_output(out, flag)?;
        }
    }
    if let (Some(trace), Some(chart)) = (&args.trace, &args.chart) {
        if same_output(trace, chart) {
            return Err(CliError::Usage(
                "--trace and --chart name the same file".into(),
            ));
        }
    }
    let policy = Builtin::new(sc.policy.clone());
    let seed = args.seed.or(sc.seed).unwrap_or(1);
    // A run that stops says which file and seed, as `check` does.
    let at = |e: CliError| -> CliError {
        let file = shell::printable(&args.scenario.display().to_string());
        match e {
            CliError::Sim(source) => {
                CliError::Usage(format!("{file} seed {seed}: the run stopped: {source}"))
            }
            CliError::SimTraced { source, partial } => CliError::Usage(format!(
                "{file} seed {seed}: the run stopped: {source}; the trace up to there is in {}",
                partial.display()
            )),
            other => other,
        }
    };
    let summary = match &args.trace {
        None => payfault_domain::run(&sc, seed).map_err(CliError::from),
        Some(path) => run_traced(&sc, seed, &policy, path),
    }
    .map_err(at)?;
    // A chart that cannot be drawn is reported after the summary, which the run has earned.
    let charted = args.chart.as_ref().map_or(Ok(()), |chart| {
        let intent = args
            .intent
            .or_else(|| summary.violations.iter().find_map(|v| v.intent))
            .ok_or_else(|| {
                CliError::Usage(
                    "--chart needs --intent K when no property was violated: no chart drawn".into(),
                )
            })?;
        let mut rec = chart::IntentRecorder::new(intent);
        payfault_domain::run_with(&sc, seed, &policy, &mut rec)
            .map_err(|e| at(CliError::from(e)))?;
        chart::draw(
            &rec,
            chart,
            &format!("{} seed {seed} policy {}", sc.name, sc.policy.kind),
        )
    });
    // A trace or chart written to standard output keeps it to itself (JSON Lines that a
    // reader can parse line by line); the summary then goes to standard error.
    let out_taken = [&args.trace, &args.chart]
        .into_iter()
        .flatten()
        .any(|p| matches!(landing(p), Landing::Fd(1)));
    let mut out: Box<dyn Write> = if out_taken {
        Box::new(std::io::stderr().lock())
    } else {
        Box::new(std::io::stdout().lock())
    };
    let written = match args.format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &summary)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out)),
        Format::Text => write!(
            out,
            "{}",
            shell::printable(&render_text(&summary, &args.scenario, args.policy))
        ),
    }
    .and_then(|()| out.flush());
    let code = printed(written, if summary.all_held() { 0 } else { 1 })?;
    REPORT_OUT.store(true, std::sync::atomic::Ordering::SeqCst);
    charted?;
    if summary.metrics.intents == 0 {
        // Every property held, vacuously: the scenario needs fixing (its summary is out).
        return Err(CliError::Usage(format!(
            "{} seed {seed}: no purchase was issued: the workload stops (workload.duration) \
             before the first arrives, so nothing was tested",
            shell::printable(&args.scenario.display().to_string())
        )));
    }
    Ok(code)
}

/// Runs with every event streamed to a temporary file beside `path`, which takes its place
/// once the run has ended (whatever the verdict): a run that stops early leaves an earlier
/// trace at `path` as it was, and its own partial trace beside it. A device or pipe is
/// streamed to directly, as the run goes.
fn run_traced(
    sc: &Scenario,
    seed: u64,
    policy: &Builtin,
    path: &Path,
) -> Result<Summary, CliError> {
    let write_err = |source| CliError::Output {
        option: "--trace",
        path: path.to_path_buf(),
        source,
    };
    let target = match landing(path) {
        Landing::Replace(target) => target,
        other => {
            let out = open_in_place(&other).map_err(write_err)?;
            let mut w = JsonLines {
                out: BufWriter::with_capacity(1 << 16, out),
                error: None,
                on_signal: None,
            };
            let ran = payfault_domain::run_with(sc, seed, policy, &mut w);
            let finished = w.finish();
            let summary = ran?;
            match finished {
                // A reader that closed the pipe wanted no more of the trace; the verdict stands.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other.map_err(write_err)?,
            }
            return Ok(summary);
        }
    };
    let path = target.as_path();
    let tmp = temp_beside(path);
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    let partial = PathBuf::from(name);
    let file = File::create(&tmp).map_err(write_err)?;
    let mut w = JsonLines {
        out: BufWriter::with_capacity(1 << 16, file),
        error: None,
        on_signal: Some((tmp.clone(), partial.clone())),
    };
    // Ctrl-C leaves the trace written so far where a run stopped by a limit leaves it.
    let on_signal = interrupt::PartialTrace::new(&tmp, &partial);
    let ran = payfault_domain::run_with(sc, seed, policy, &mut w);
    let finished = w.finish();
    drop(on_signal);
    let summary = match ran {
        Ok(s) => s,
        Err(source) => {
            return Err(match std::fs::rename(&tmp, &partial) {
                Ok(()) => CliError::SimTraced { source, partial },
                Err(_) => {
                    let _ = std::fs::remove_file(&tmp);
                    CliError::Sim(source)
                }
            });
        }
    };
    let placed = finished.and_then(|()| std::fs::rename(&tmp, path));
    if placed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    placed.map_err(write_err)?;
    Ok(summary)
}

/// Streams trace records to disk as they happen; the run is never held in memory.
struct JsonLines<W: Write> {
    out: W,
    error: Option<std::io::Error>,
    /// The temporary file and its name when the run is stopped by a signal.
    on_signal: Option<(PathBuf, PathBuf)>,
}

impl<W: Write> JsonLines<W> {
    /// Ends the process after a signal, with the records so far written whole to the partial
    /// trace.
    fn stop(&mut self, tmp: &Path, partial: &Path) -> ! {
        let _ = self.out.flush();
        let moved = std::fs::rename(tmp, partial).is_ok();
        if moved {
            crate::note!(
                "interrupted: the trace up to here is in {}",
                partial.display()
            );
        }
        std::process::exit(interrupt::exit_code().into());
    }
}

impl<W: Write> payfault_domain::trace::Tracer for JsonLines<W> {
    fn record(&mut self, event: TraceEvent) {
        if let Some((tmp, partial)) = &self.on_signal {
            if interrupt::interrupted() {
                let (tmp, partial) = (tmp.clone(), partial.clone());
                self.stop(&tmp, &partial);
            }
        }
        if self.error.is_some() {
            return;
        }
        let r = serde_json::to_writer(&mut self.out, &event)
            .map_err(std::io::Error::from)
            .and_then(|_| self.out.write_all(b"\n"));
        if let Err(e) = r {
            self.error = Some(e);
        }
    }
}

impl<W: Write> JsonLines<W> {
    fn finish(mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }
}

/// The summary as text ([`Summary`]'s `Display`), and for a violation the command that
/// replays the run: with the policy that `--policy` put in place of the scenario's, which the
/// file does not name. A scenario read from a pipe (`/dev/stdin`, `<(...)`) is gone once read:
/// the command then runs it from a file it is to be saved to.
fn render_text(s: &Summary, path: &Path, policy: Option<PolicyKind>) -> String {
    let mut o = s.to_string();
    if s.violation_count > 0 {
        let file = std::fs::metadata(path).is_ok_and(|m| m.is_file());
        o.push_str(&format!(
            "\nreplay: {}payfault run {} --seed {}{}\n",
            if file {
                ""
            } else {
                "(save the scenario read from the pipe as FILE) "
            },
            if file {
                shell::quote(path)
            } else {
                "FILE".into()
            },
            s.seed,
            policy.map_or(String::new(), |k| format!(" --policy {}", k.cli_name()))
        ));
    }
    o
}
