//! The binary's allocator: the system's, asking Linux to back the inside of each large block
//! with transparent huge pages.
//!
//! At a million terminals the run's state is hundreds of MB read at random; on 4 KiB pages
//! nearly every cold read also misses the TLB. Asking for huge pages made such runs about 4%
//! faster. A table on huge pages is resident 2 MiB at a time, so it may hold up to 2 MiB more
//! than it has touched; small runs have few tables that large. The request is advice
//! (`madvise`), applied only to whole huge pages inside the block, so the allocator's
//! behaviour is otherwise the system's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct HugeAlloc;

/// The size of the last allocation the system refused, 0 if none: an abort that follows one is
/// the standard library's answer to running out of memory (see [`crate::interrupt`]).
pub static REFUSED: AtomicUsize = AtomicUsize::new(0);

fn note(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() {
        REFUSED.store(size.max(1), Ordering::SeqCst);
    }
    p
}

/// The huge page size of x86-64 and of most aarch64 kernels; where it is larger, advice on a
/// smaller span is ignored.
const HUGE: usize = 2 << 20;

/// Blocks from this size hold at least one whole huge page, however they are aligned.
const ADVISE_FROM: usize = 2 * HUGE;

unsafe impl GlobalAlloc for HugeAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        advise(p, layout.size());
        note(p, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.alloc_zeroed(layout) };
        advise(p, layout.size());
        note(p, layout.size())
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(p, layout) }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let q = unsafe { System.realloc(p, layout, new_size) };
        advise(q, new_size);
        note(q, new_size)
    }
}

/// Asks for huge pages on the whole huge pages inside the `len` bytes at `p`.
#[cfg(target_os = "linux")]
fn advise(p: *mut u8, len: usize) {
    if len < ADVISE_FROM || p.is_null() {
        return;
    }
    let start = (p as usize).next_multiple_of(HUGE);
    let end = (p as usize + len) & !(HUGE - 1);
    // SAFETY: the span lies inside a block just allocated to us, and MADV_HUGEPAGE changes
    // only how the kernel backs it, never its contents. A refusal (a kernel without
    // transparent huge pages) leaves the block as it was, so the result is not needed.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_: *mut u8, _: usize) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The `THPeligible` line of the mapping of `/proc/self/smaps` that holds `addr`.
    fn thp_eligible(addr: usize) -> Option<bool> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((a, b)) = range.split_once('-') {
                    if let (Ok(a), Ok(b)) =
                        (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                    {
                        inside = (a..b).contains(&addr);
                        continue;
                    }
                }
            }
            if inside {
                if let Some(v) = line.strip_prefix("THPeligible:") {
                    return Some(v.trim() == "1");
                }
            }
        }
        None
    }

    #[test]
    fn large_blocks_are_offered_huge_pages_and_stay_usable() {
        let layout = Layout::from_size_align(16 << 20, 8).unwrap();
        // SAFETY: a nonzero size; the block is written inside its bounds and freed once.
        unsafe {
            let p = HugeAlloc.alloc(layout);
            assert!(!p.is_null());
            std::ptr::write_bytes(p, 7, layout.size());
            let mid = p as usize + layout.size() / 2;
            assert_eq!(*(mid as *const u8), 7);
            let enabled = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
            // Only a kernel with transparent huge pages, in `madvise` or `always` mode, can
            // take the advice.
            if enabled.is_ok_and(|e| !e.contains("[never]")) {
                assert_eq!(
                    thp_eligible(mid),
                    Some(true),
                    "the block's middle was advised"
                );
            }
            let q = HugeAlloc.realloc(p, layout, 32 << 20);
            assert_eq!(*(q.add(layout.size() - 1)), 7, "realloc keeps the contents");
            HugeAlloc.dealloc(q, Layout::from_size_align(32 << 20, 8).unwrap());
        }
    }

    #[test]
    fn small_blocks_are_left_alone() {
        let layout = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: as above.
        unsafe {
            let p = HugeAlloc.alloc_zeroed(layout);
            assert_eq!(*p, 0);
            HugeAlloc.dealloc(p, layout);
        }
    }
}
