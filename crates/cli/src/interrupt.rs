//! Ctrl-C and SIGTERM for the commands that have something to save when stopped.
//!
//! `check` keeps the verdicts of the scenarios it finished: the first signal asks it to stop
//! taking new seeds and to report what is done; a second one ends the process at once. A
//! traced `run` moves its trace to `FILE.partial`, as a run stopped by a limit does, and
//! ends: at its next record, with every record before it written whole; or, at a second
//! signal, at once, with what had left its buffer. `sweep` stops taking cells, and says how
//! many it finished and how to resume. A signal within a second of the first is
//! the same one: `timeout` signals the process and then its group, and a shell's Ctrl-C may
//! reach it twice the same way. Other commands keep the default: they hold nothing a signal
//! would lose that they have not already written whole.

use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU64, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The signal that came first.
static SIGNAL: AtomicI32 = AtomicI32::new(libc::SIGINT);
/// When it came, in nanoseconds of the monotonic clock.
static FIRST_AT: AtomicU64 = AtomicU64::new(0);

/// The monotonic clock, in nanoseconds (`clock_gettime` is async-signal-safe).
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// The temporary trace and the name it takes when the run is stopped, while a traced run
/// streams to a temporary file.
static PARTIAL: AtomicPtr<(CString, CString)> = AtomicPtr::new(std::ptr::null_mut());

/// Only what is safe in a signal handler: atomics, `rename`, `write`, `_exit`.
extern "C" fn on_signal(signal: libc::c_int) {
    let now = now_ns();
    if !INTERRUPTED.load(Ordering::SeqCst) {
        SIGNAL.store(signal, Ordering::SeqCst);
        FIRST_AT.store(now, Ordering::SeqCst);
    } else if now.saturating_sub(FIRST_AT.load(Ordering::SeqCst)) < 1_000_000_000 {
        // The same stop, delivered twice.
        return;
    }
    let partial = PARTIAL.load(Ordering::SeqCst);
    if !partial.is_null() && !INTERRUPTED.swap(true, Ordering::SeqCst) {
        // The trace's writer sees the flag at its next record.
        return;
    }
    if !partial.is_null() {
        // SAFETY: set by `PartialTrace::new` from a leaked box, never freed.
        let (tmp, to) = unsafe { &*partial };
        const MSG: &[u8] = b"\ninterrupted: the trace up to here is in the .partial file\n";
        // SAFETY: both are NUL-terminated strings that outlive the call.
        unsafe {
            libc::rename(tmp.as_ptr(), to.as_ptr());
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(128 + signal);
        }
    }
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // SAFETY: `_exit` is async-signal-safe.
        unsafe { libc::_exit(128 + signal) };
    }
}

/// Whether an error that ends the command is also written to standard output as JSON (see
/// `json_errors` in `main.rs`).
pub static JSON_ERRORS: AtomicBool = AtomicBool::new(false);

/// Running out of memory mid-run: the standard library aborts when an allocation it cannot do
/// without is refused (tables sized up front are refused with an error of their own instead).
/// The abort is taken here, as a refusal of the model: a traced run keeps its trace as
/// `FILE.partial`, the message says what to change, `--format json` gets its error object,
/// and the exit status is 2. An abort with no refused allocation before it is left alone.
extern "C" fn on_abort(_: libc::c_int) {
    let size = crate::alloc::REFUSED.load(Ordering::SeqCst);
    if size == 0 {
        // Returning lets `abort` end the process as it would have.
        return;
    }
    let partial = PARTIAL.load(Ordering::SeqCst);
    let mut buf = Line::default();
    buf.push(b"out of memory: an allocation of ");
    buf.number(size as u64);
    buf.push(
        b" bytes was refused, as the run grew: the model needs more memory than this machine \
          (or `ulimit -v`) gives it. Lower the scenario's terminals, purchases or \
          limits.max_pending, or run fewer --jobs",
    );
    if !partial.is_null() {
        buf.push(b"; the trace up to here is in the .partial file");
    }
    // SAFETY: only `rename`, `write` and `_exit`, each async-signal-safe, on strings that
    // outlive the call (`PARTIAL` is leaked, never freed).
    unsafe {
        if !partial.is_null() {
            let (tmp, to) = &*partial;
            libc::rename(tmp.as_ptr(), to.as_ptr());
        }
        let err = b"error: ";
        libc::write(2, err.as_ptr().cast(), err.len());
        libc::write(2, buf.bytes().as_ptr().cast(), buf.bytes().len());
        libc::write(2, b"\n".as_ptr().cast(), 1);
        if JSON_ERRORS.load(Ordering::SeqCst) && !crate::REPORT_OUT.load(Ordering::SeqCst) {
            let mut json = Line::default();
            json.push(b"{\n  \"error\": \"");
            json.push(buf.bytes());
            json.push(b"\",\n  \"exit_code\": 2,\n  \"problems\": []\n}\n");
            libc::write(1, json.bytes().as_ptr().cast(), json.bytes().len());
        }
        libc::_exit(2);
    }
}

/// A line built without allocating, for [`on_abort`]; what does not fit is cut.
struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Default for Line {
    fn default() -> Line {
        Line {
            buf: [0; 512],
            len: 0,
        }
    }
}

impl Line {
    fn push(&mut self, b: &[u8]) {
        let n = b.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
    }

    fn number(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Takes over SIGABRT for the rest of the process, for [`on_abort`].
pub fn install_out_of_memory() {
    // SAFETY: the handler does only async-signal-safe work.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_abort as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGABRT, &action, std::ptr::null_mut());
    }
}

/// Takes over SIGINT and SIGTERM for the rest of the process.
pub fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler does only async-signal-safe work (see `on_signal`).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART;
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Whether a first signal came.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// The exit status of a command that stopped at a signal: 128 and the signal's number, as a
/// shell gives it (130 for Ctrl-C, 143 for SIGTERM).
pub fn exit_code() -> u8 {
    (128 + SIGNAL.load(Ordering::SeqCst)) as u8
}

/// While it lives, a second signal moves `tmp` to `partial` and ends the process; the first
/// only raises [`interrupted`], for the trace's writer to stop at its next record.
pub struct PartialTrace;

impl PartialTrace {
    pub fn new(tmp: &Path, partial: &Path) -> Option<PartialTrace> {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).ok();
        // Leaked: a handler on another thread may still be reading it after the drop.
        let pair = Box::into_raw(Box::new((c(tmp)?, c(partial)?)));
        PARTIAL.store(pair, Ordering::SeqCst);
        install();
        Some(PartialTrace)
    }
}

impl Drop for PartialTrace {
    fn drop(&mut self) {
        PARTIAL.store(std::ptr::null_mut(), Ordering::SeqCst);
        // SAFETY: restoring the default disposition has no preconditions.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
        }
    }
}
