//! Dense tables indexed by increasing ids, holding only the ids still live: memory follows
//! what is in flight, not the length of the run.

use std::collections::VecDeque;

/// Entries a block holds. Blocks come and go whole as the live ids move on, so that a table
/// of line-aligned entries never copies itself to grow (the system allocator cannot grow an
/// over-aligned block in place).
const BLOCK: usize = 1024;

/// A block's slots, with a bit a slot that is set when it is live: whether a slot is live is
/// asked without reading its entry, which is usually cold.
#[derive(Debug)]
struct Block<T> {
    slots: Box<[Option<T>]>,
    live: [u64; BLOCK / 64],
}

#[derive(Debug)]
pub struct Ring<T> {
    /// The id of slot 0.
    base: u64,
    /// Where slot 0 lies in the first block.
    head: usize,
    /// Slots from `base` on, live or not; the first and the last are live.
    span: usize,
    blocks: VecDeque<Block<T>>,
    /// A block let go, kept for the next one needed: the live ids move on steadily.
    spare: Option<Block<T>>,
    len: usize,
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Ring {
            base: 0,
            head: 0,
            span: 0,
            blocks: VecDeque::new(),
            spare: None,
            len: 0,
        }
    }
}

impl<T> Ring<T> {
    fn new_block(&mut self) -> Block<T> {
        self.spare.take().unwrap_or_else(|| Block {
            slots: (0..BLOCK).map(|_| None).collect(),
            live: [0; BLOCK / 64],
        })
    }

    fn release_block(&mut self, b: Block<T>) {
        debug_assert!(b.slots.iter().all(Option::is_none) && b.live == [0; BLOCK / 64]);
        self.spare = Some(b);
    }

    #[inline]
    fn slot(&self, idx: usize) -> Option<&Option<T>> {
        if idx >= self.span {
            return None;
        }
        let p = self.head + idx;
        Some(&self.blocks[p / BLOCK].slots[p % BLOCK])
    }

    #[inline]
    fn slot_mut(&mut self, idx: usize) -> Option<&mut Option<T>> {
        if idx >= self.span {
            return None;
        }
        let p = self.head + idx;
        Some(&mut self.blocks[p / BLOCK].slots[p % BLOCK])
    }

    /// Whether slot `idx` holds an entry, from its bit.
    #[inline]
    fn is_live(&self, idx: usize) -> bool {
        if idx >= self.span {
            return false;
        }
        let p = self.head + idx;
        let b = p % BLOCK;
        self.blocks[p / BLOCK].live[b / 64] & (1 << (b % 64)) != 0
    }

    /// Fills slot `idx`, which exists, or empties it, keeping its bit and the count.
    #[inline]
    fn put(&mut self, idx: usize, value: Option<T>) -> Option<T> {
        let p = self.head + idx;
        let block = &mut self.blocks[p / BLOCK];
        let b = p % BLOCK;
        let was = block.live[b / 64] & (1 << (b % 64)) != 0;
        if value.is_some() {
            block.live[b / 64] |= 1 << (b % 64);
        } else {
            block.live[b / 64] &= !(1 << (b % 64));
        }
        self.len = self.len + usize::from(value.is_some()) - usize::from(was);
        if was || value.is_some() {
            std::mem::replace(&mut block.slots[b], value)
        } else {
            None
        }
    }

    /// Makes slot `idx` exist, adding empty slots at the back.
    fn extend_to(&mut self, idx: usize) {
        while self.span <= idx {
            if self.head + self.span == self.blocks.len() * BLOCK {
                let b = self.new_block();
                self.blocks.push_back(b);
            }
            self.span += 1;
        }
    }

    /// Adds an empty slot before slot 0.
    fn push_front_empty(&mut self) {
        if self.head == 0 {
            let b = self.new_block();
            self.blocks.push_front(b);
            self.head = BLOCK;
        }
        self.head -= 1;
        self.span += 1;
        self.base -= 1;
    }

    /// Takes slot 0 away; an empty one is not read.
    fn pop_front(&mut self) -> Option<T> {
        if self.span == 0 {
            return None;
        }
        let v = self.put(0, None);
        self.head += 1;
        self.span -= 1;
        self.base += 1;
        if self.head == BLOCK || self.span == 0 {
            if let Some(b) = self.blocks.pop_front() {
                self.release_block(b);
            }
            self.head = 0;
        }
        v
    }

    /// Takes the last slot away; it is empty.
    fn pop_back_empty(&mut self) {
        self.span -= 1;
        let used = (self.head + self.span).div_ceil(BLOCK);
        if self.blocks.len() > used.max(1) || self.span == 0 {
            if let Some(b) = self.blocks.pop_back() {
                self.release_block(b);
            }
        }
        if self.span == 0 {
            self.head = 0;
        }
    }

    /// Inserts the value for `id`, which must be at or after every id inserted before.
    pub fn insert(&mut self, id: u64, value: T) {
        if self.span == 0 {
            self.base = id;
        }
        assert!(id >= self.base, "ids are inserted in increasing order");
        let idx = (id - self.base) as usize;
        self.extend_to(idx);
        assert!(!self.is_live(idx), "id {id} inserted twice");
        self.put(idx, Some(value));
    }

    /// The value for `id`, inserted with `make` if absent. Unlike [`Ring::insert`], `id` may
    /// lie before every live id.
    pub fn get_or_insert_with(&mut self, id: u64, make: impl FnOnce() -> T) -> &mut T {
        if self.span == 0 {
            self.base = id;
        }
        while id < self.base {
            self.push_front_empty();
        }
        let idx = (id - self.base) as usize;
        self.extend_to(idx);
        if !self.is_live(idx) {
            self.put(idx, Some(make()));
        }
        self.slot_mut(idx)
            .and_then(Option::as_mut)
            .expect("just filled")
    }

    #[inline]
    pub fn get(&self, id: u64) -> Option<&T> {
        let idx = id.checked_sub(self.base)? as usize;
        self.slot(idx)?.as_ref()
    }

    #[inline]
    pub fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let idx = id.checked_sub(self.base)? as usize;
        self.slot_mut(idx)?.as_mut()
    }

    pub fn remove(&mut self, id: u64) -> Option<T> {
        let idx = id.checked_sub(self.base)? as usize;
        if !self.is_live(idx) {
            return None;
        }
        let v = self.put(idx, None);
        // Empty ends are released, found by their bits: no entry is read.
        while self.span > 0 && !self.is_live(0) {
            self.pop_front();
        }
        while self.span > 0 && !self.is_live(self.span - 1) {
            self.pop_back_empty();
        }
        v
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The smallest live id, if any.
    #[inline]
    pub fn first_id(&self) -> Option<u64> {
        (self.span > 0).then_some(self.base)
    }

    /// Drops every entry with an id below `id`.
    #[inline]
    pub fn drop_before(&mut self, id: u64) {
        if self.base >= id {
            return;
        }
        while self.span > 0 && (self.base < id || !self.is_live(0)) {
            self.pop_front();
        }
    }

    pub fn clear(&mut self) {
        while self.span > 0 {
            self.pop_front();
        }
    }

    /// Starts loading the entry of the id whose low 32 bits are `low` into cache; a hint with
    /// no effect on the contents. The ids in the table span less than 2^32, so the low bits
    /// name one of them.
    #[inline]
    pub fn prefetch_low(&self, low: u32) {
        let idx = low.wrapping_sub(self.base as u32) as usize;
        if let Some(slot) = self.slot(idx) {
            payfault_engine::prefetch_all(slot);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        let base = self.base;
        (0..self.span).filter_map(move |i| {
            self.slot(i)
                .and_then(Option::as_ref)
                .map(|v| (base + i as u64, v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_entries_before_an_id() {
        let mut r = Ring::default();
        for i in 5..10u64 {
            r.insert(i, i);
        }
        r.remove(7);
        assert_eq!(r.first_id(), Some(5));
        r.drop_before(8);
        assert_eq!((r.first_id(), r.len()), (Some(8), 2));
        assert_eq!(r.get(6), None);
        assert_eq!(r.get(8), Some(&8));
        // The front is live again after a drop that ends on a hole.
        r.insert(10, 10);
        r.insert(12, 12);
        r.remove(9);
        r.drop_before(9);
        assert_eq!(r.first_id(), Some(10));
        r.remove(10);
        r.remove(12);
        r.drop_before(100);
        assert_eq!((r.first_id(), r.len()), (None, 0));
        r.insert(200, 1);
        assert_eq!(r.first_id(), Some(200));
        r.clear();
        assert_eq!((r.first_id(), r.len()), (None, 0));
    }

    /// Random operations across many blocks, checked against an ordered map.
    #[test]
    fn agrees_with_a_map_across_blocks() {
        use std::collections::BTreeMap;
        let mut r = Ring::default();
        let mut m = BTreeMap::new();
        let mut live: Vec<u64> = Vec::new();
        let (mut x, mut next, mut widest) = (1u64, 1_000u64, 0);
        for step in 0..100_000u64 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let pick = (x >> 33) % 1000;
            if pick < 500 {
                r.insert(next, step);
                m.insert(next, step);
                live.push(next);
                next += 1 + (x >> 62);
            } else if pick < 850 && !live.is_empty() {
                let id = live.swap_remove((x >> 20) as usize % live.len());
                assert_eq!(r.remove(id), m.remove(&id));
            } else if pick < 997 {
                // Also before every live id.
                let lo = m.keys().next().copied().unwrap_or(next);
                let id = lo.saturating_sub(3).max(1) + (x >> 40) % (next - lo + 4);
                *r.get_or_insert_with(id, || step) += 0;
                if m.insert(id, *m.get(&id).unwrap_or(&step)).is_none() {
                    live.push(id);
                }
                next = next.max(id + 1);
            } else if pick == 997 {
                // A live id or the one after it, which may be a hole.
                if let Some(id) = m.keys().nth(m.len() / 3).map(|k| k + (x >> 63)) {
                    r.drop_before(id);
                    m.retain(|&k, _| k >= id);
                    live.retain(|&k| k >= id);
                }
            } else if step % 20 == 0 {
                r.clear();
                m.clear();
                live.clear();
            }
            let probe = next.saturating_sub((x >> 45) % 3000);
            assert_eq!(r.get(probe), m.get(&probe));
            assert_eq!(r.len(), m.len());
            assert_eq!(r.first_id(), m.keys().next().copied());
            if pick % 50 == 0 {
                assert!(r
                    .iter()
                    .map(|(k, v)| (k, *v))
                    .eq(m.iter().map(|(k, v)| (*k, *v))));
            }
            // Memory follows the span of live ids.
            assert!(r.blocks.len() <= r.span.div_ceil(BLOCK) + 1);
            widest = widest.max(r.span);
        }
        assert!(widest > 4 * BLOCK, "spans at most {widest}");
    }

    #[test]
    fn keeps_only_live_ids() {
        let mut r = Ring::default();
        for i in 10..20u64 {
            r.insert(i, i * 2);
        }
        assert_eq!(r.get(12), Some(&24));
        assert_eq!(r.remove(10), Some(20));
        assert_eq!(r.remove(12), Some(24));
        assert_eq!(r.get(10), None);
        assert_eq!(r.len(), 8);
        assert_eq!(r.span, 9, "the front is released, the hole at 12 stays");
        assert_eq!(
            r.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            vec![11, 13, 14, 15, 16, 17, 18, 19]
        );
    }
}
