//! A cache hint. With a million terminals the state an event touches is usually not in cache;
//! asking for the next event's data while the current one is handled overlaps the two.

/// Asks the processor to start loading the cache line holding `r`. Only a hint: it reads
/// nothing the program sees and changes no result; on targets without one it does nothing.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch never faults and has no visible effect; `r` is a live reference.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(r).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// Like [`prefetch`], for every cache line `r` spans, each once.
#[inline(always)]
pub fn prefetch_all<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let size = std::mem::size_of::<T>();
        if size == 0 {
            return;
        }
        let start = std::ptr::from_ref(r).cast::<i8>();
        let addr = start as usize;
        let lines = ((addr + size - 1) / 64) - (addr / 64) + 1;
        // The start of the first line `*r` overlaps.
        let first = start.wrapping_sub(addr % 64);
        for k in 0..lines {
            // SAFETY: as for `prefetch`; the address lies in a line that `*r` overlaps.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(first.wrapping_add(64 * k)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_prefetch_changes_nothing() {
        let v = vec![1u64, 2, 3];
        super::prefetch(&v[2]);
        super::prefetch(&v);
        super::prefetch_all(&[0u8; 200]);
        assert_eq!(v, [1, 2, 3]);
    }
}
