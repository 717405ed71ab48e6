//! A list that nearly always holds none or one item.

/// None or one item inline, more in a box. Unlike a small vector it leaves spare values of
/// its tag to an enclosing `Option`, so that a per-intent record holding a few of these fits
/// one cache line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Few<T> {
    #[default]
    None,
    One(T),
    // Boxed so that the rare case costs one pointer, not a vector's three words.
    #[allow(clippy::box_collection)]
    More(Box<Vec<T>>),
}

impl<T> Few<T> {
    #[inline]
    pub fn push(&mut self, item: T) {
        match self {
            Few::None => *self = Few::One(item),
            Few::More(v) => v.push(item),
            Few::One(_) => {
                let Few::One(first) = std::mem::take(self) else {
                    unreachable!("matched One")
                };
                *self = Few::More(Box::new(vec![first, item]));
            }
        }
    }

    pub fn clear(&mut self) {
        *self = Few::None;
    }

    /// Keeps the items for which `keep` holds, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match self {
            Few::None => {}
            Few::One(item) => {
                if !keep(item) {
                    *self = Few::None;
                }
            }
            Few::More(v) => v.retain(keep),
        }
    }

    pub fn as_slice(&self) -> &[T] {
        match self {
            Few::None => &[],
            Few::One(item) => std::slice::from_ref(item),
            Few::More(v) => v,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Few::None => &mut [],
            Few::One(item) => std::slice::from_mut(item),
            Few::More(v) => v,
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.as_slice().iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.as_mut_slice().iter_mut()
    }

    pub fn contains(&self, item: &T) -> bool
    where
        T: PartialEq,
    {
        self.as_slice().contains(item)
    }
}

#[cfg(test)]
mod tests {
    use super::Few;

    #[test]
    fn keeps_every_item_in_order() {
        let mut f = Few::default();
        assert!(f.as_slice().is_empty());
        for i in 1..=5u64 {
            f.push(i * 10);
            assert_eq!(f.as_slice(), (1..=i).map(|j| j * 10).collect::<Vec<_>>());
        }
        assert!(f.contains(&30) && !f.contains(&35));
        for x in f.iter_mut() {
            *x += 1;
        }
        assert_eq!(f.iter().copied().collect::<Vec<_>>(), [11, 21, 31, 41, 51]);
        f.retain(|x| x % 20 != 1);
        assert_eq!(f.as_slice(), [11, 31, 51]);
        f.clear();
        assert!(f.as_slice().is_empty());
        f.push(4);
        f.retain(|&x| x != 4);
        assert_eq!(f, Few::None);
    }

    #[test]
    fn one_item_stays_inline_and_leaves_a_spare_value_to_an_option() {
        let mut f = Few::default();
        f.push(7u64);
        assert_eq!(f, Few::One(7));
        assert_eq!(std::mem::size_of::<Few<u64>>(), 16);
        assert_eq!(std::mem::size_of::<Option<Few<u64>>>(), 16);
    }
}
