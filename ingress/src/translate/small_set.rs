//! A set kept as a sorted `Vec`: for the many sets of the translator that hold one or two
//! items (the Ingresses naming one Service, the claimants of one host), where a B-tree's
//! smallest node would cost hundreds of bytes each, 10,000 times over.

/// A sorted, duplicate-free `Vec` with set operations in O(log n) lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SmallSet<T>(Vec<T>);

impl<T> Default for SmallSet<T> {
    fn default() -> Self {
        SmallSet(Vec::new())
    }
}

impl<T: Ord> SmallSet<T> {
    /// Adds `item`; false if it was already there.
    pub(super) fn insert(&mut self, item: T) -> bool {
        match self.0.binary_search(&item) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, item);
                true
            }
        }
    }

    /// Removes `item`; false if it was not there.
    pub(super) fn remove(&mut self, item: &T) -> bool {
        match self.0.binary_search(item) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// True when empty.
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The items in order.
    pub(super) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::SmallSet;

    #[test]
    fn keeps_items_sorted_and_unique() {
        let mut set = SmallSet::default();
        assert!(set.insert(3));
        assert!(set.insert(1));
        assert!(!set.insert(3));
        assert!(set.insert(2));
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), [1, 2, 3]);
        assert!(set.remove(&2));
        assert!(!set.remove(&2));
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), [1, 3]);
        assert!(set.remove(&1) && set.remove(&3) && set.is_empty());
    }
}
