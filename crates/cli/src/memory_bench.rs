//! `payfault bench --memory`: what a random read of memory costs on this machine, by how much
//! memory the reads spread over. The simulator at a million terminals reads its payments'
//! state at random over tens of megabytes; this table says what such a read costs against
//! the same read within the caches, and so how much of the growth of the cost per event
//! with the terminals is the machine's rather than the simulator's.
//!
//! Two ways to read, each over one cache line in every 64 bytes of a table of N MiB:
//! - *chased*: each read gives the next one's address (a random cycle through every line),
//!   so reads wait for each other: the latency of one read;
//! - *independent*: addresses known in advance (a random sequence), so the processor keeps
//!   several reads in flight, as the simulator's prefetching does: the throughput.

use std::time::Instant;

use crate::{say, CliError};

/// Reads timed a row, of each kind.
const READS: usize = 4_000_000;

/// A line's worth of `u64`s: each line of the table holds one link of the chase.
const LINE_WORDS: usize = 8;

/// The table sizes measured, in MiB: powers of two from 1 MiB, with 12 and 24 MiB between,
/// where second- and last-level caches commonly end, up to `max_mib`.
fn sizes(max_mib: u64) -> Vec<u64> {
    let mut v: Vec<u64> = [1, 2, 4, 8, 12, 16, 24, 32, 64, 128, 256, 512, 1024]
        .into_iter()
        .filter(|&m| m <= max_mib)
        .collect();
    if v.last() != Some(&max_mib) {
        v.push(max_mib);
    }
    v
}

/// A fixed xorshift sequence: the same table and addresses on every run, with no draw from
/// the simulator's streams.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One row: nanoseconds a chased read and an independent read, at `mib` MiB.
fn measure(mib: u64, rng: &mut XorShift) -> (f64, f64) {
    let lines = (mib as usize) << 20 >> 6;
    let mut order: Vec<usize> = (0..lines).collect();
    for i in (1..lines).rev() {
        order.swap(i, rng.below(i + 1));
    }
    // Line `order[i]` holds the index of line `order[i + 1]`'s first word: one cycle through
    // every line, in random order.
    let mut table = vec![0usize; lines * LINE_WORDS];
    for (i, &line) in order.iter().enumerate() {
        table[line * LINE_WORDS] = order[(i + 1) % lines] * LINE_WORDS;
    }
    drop(order);

    // Once round (or as far as the timed reads go) untimed, so that the pages are mapped and
    // what fits in the caches is in them.
    let mut at = 0;
    for _ in 0..lines.min(READS) {
        at = table[at];
    }
    let start = Instant::now();
    for _ in 0..READS {
        at = table[at];
    }
    let chased = start.elapsed().as_secs_f64() * 1e9 / READS as f64;

    let addresses: Vec<usize> = (0..READS).map(|_| rng.below(lines) * LINE_WORDS).collect();
    let mut sum = at;
    let start = Instant::now();
    for &a in &addresses {
        sum = sum.wrapping_add(table[a]);
    }
    let independent = start.elapsed().as_secs_f64() * 1e9 / READS as f64;
    // The sums are used, so that no read is optimised away.
    std::hint::black_box(sum);
    (chased, independent)
}

pub fn run(max_mib: u64) -> Result<u8, CliError> {
    say!(
        "bench --memory: a random read of one 64-byte line in N MiB; chased: each read gives \
         the next one's address (latency); independent: addresses known in advance \
         (throughput, as a prefetching run reads); {READS} reads of each a row"
    );
    say!(
        "{:>8} {:>14} {:>18}",
        "MiB",
        "chased ns/read",
        "independent ns/read"
    );
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for mib in sizes(max_mib) {
        let (chased, independent) = measure(mib, &mut rng);
        say!("{mib:>8} {chased:>14.1} {independent:>18.1}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_end_at_the_largest_asked_for() {
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(10), [1, 2, 4, 8, 10]);
        assert_eq!(sizes(256).last(), Some(&256));
    }
}
