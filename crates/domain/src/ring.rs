//! Dense tables indexed by increasing ids, holding only the ids still live: memory follows
//! what is in flight, not the length of the run.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct Ring<T> {
    base: u64,
    slots: VecDeque<Option<T>>,
    len: usize,
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Ring {
            base: 0,
            slots: VecDeque::new(),
            len: 0,
        }
    }
}

impl<T> Ring<T> {
    /// Inserts the value for `id`, which must be at or after every id inserted before.
    pub fn insert(&mut self, id: u64, value: T) {
        if self.slots.is_empty() {
            self.base = id;
        }
        assert!(id >= self.base, "ids are inserted in increasing order");
        let idx = (id - self.base) as usize;
        while self.slots.len() <= idx {
            self.slots.push_back(None);
        }
        assert!(self.slots[idx].is_none(), "id {id} inserted twice");
        self.slots[idx] = Some(value);
        self.len += 1;
    }

    /// The value for `id`, inserted with `make` if absent. Unlike [`Ring::insert`], `id` may
    /// lie before every live id.
    pub fn get_or_insert_with(&mut self, id: u64, make: impl FnOnce() -> T) -> &mut T {
        if self.slots.is_empty() {
            self.base = id;
        }
        while id < self.base {
            self.slots.push_front(None);
            self.base -= 1;
        }
        let idx = (id - self.base) as usize;
        while self.slots.len() <= idx {
            self.slots.push_back(None);
        }
        let slot = &mut self.slots[idx];
        if slot.is_none() {
            *slot = Some(make());
            self.len += 1;
        }
        slot.as_mut().expect("just filled")
    }

    #[inline]
    pub fn get(&self, id: u64) -> Option<&T> {
        let idx = id.checked_sub(self.base)? as usize;
        self.slots.get(idx)?.as_ref()
    }

    #[inline]
    pub fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let idx = id.checked_sub(self.base)? as usize;
        self.slots.get_mut(idx)?.as_mut()
    }

    pub fn remove(&mut self, id: u64) -> Option<T> {
        let idx = id.checked_sub(self.base)? as usize;
        let v = self.slots.get_mut(idx)?.take();
        if v.is_some() {
            self.len -= 1;
        }
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        while matches!(self.slots.back(), Some(None)) {
            self.slots.pop_back();
        }
        v
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The smallest live id, if any.
    #[inline]
    pub fn first_id(&self) -> Option<u64> {
        (!self.slots.is_empty()).then_some(self.base)
    }

    /// Drops every entry with an id below `id`.
    #[inline]
    pub fn drop_before(&mut self, id: u64) {
        while self.base < id {
            let Some(v) = self.slots.pop_front() else {
                break;
            };
            self.len -= usize::from(v.is_some());
            self.base += 1;
        }
    }

    pub fn clear(&mut self) {
        self.slots.clear();
        self.len = 0;
    }

    /// Starts loading the entry of the id whose low 32 bits are `low` into cache; a hint with
    /// no effect on the contents. The ids in the table span less than 2^32, so the low bits
    /// name one of them.
    #[inline]
    pub fn prefetch_low(&self, low: u32) {
        let idx = low.wrapping_sub(self.base as u32) as usize;
        if let Some(slot) = self.slots.get(idx) {
            payfault_engine::prefetch(slot);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        let base = self.base;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(i, v)| v.as_ref().map(|v| (base + i as u64, v)))
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
        r.drop_before(100);
        assert_eq!((r.first_id(), r.len()), (None, 0));
        r.insert(200, 1);
        assert_eq!(r.first_id(), Some(200));
        r.clear();
        assert_eq!((r.first_id(), r.len()), (None, 0));
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
        assert_eq!(
            r.slots.len(),
            9,
            "the front is released, the hole at 12 stays"
        );
        assert_eq!(
            r.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            vec![11, 13, 14, 15, 16, 17, 18, 19]
        );
    }
}
