//! Messages that last across rebuilds (problems, diagnostics): each is logged once when it
//! appears and once when it goes, not at every rebuild or resync.

use std::collections::BTreeSet;

/// The messages logged so far.
#[derive(Debug)]
pub struct Lasting<T> {
    current: BTreeSet<T>,
}

impl<T> Default for Lasting<T> {
    fn default() -> Self {
        Lasting {
            current: BTreeSet::new(),
        }
    }
}

impl<T: Ord + Clone> Lasting<T> {
    /// Makes `now` the current messages; returns those that appeared and those that went,
    /// each sorted.
    pub fn update(&mut self, now: impl IntoIterator<Item = T>) -> (Vec<T>, Vec<T>) {
        let now: BTreeSet<T> = now.into_iter().collect();
        let appeared = now.difference(&self.current).cloned().collect();
        let gone = self.current.difference(&now).cloned().collect();
        self.current = now;
        (appeared, gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_each_message_when_it_appears_and_when_it_goes() {
        let mut lasting = Lasting::default();
        assert_eq!(lasting.update(["b", "a"]), (vec!["a", "b"], vec![]));
        assert_eq!(lasting.update(["b", "a"]), (vec![], vec![]));
        assert_eq!(lasting.update(["c", "a"]), (vec!["c"], vec!["b"]));
        assert_eq!(lasting.update([]), (vec![], vec!["a", "c"]));
    }
}
