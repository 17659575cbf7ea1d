//! The transaction that takes a table from one model to the next in place: new sets and
//! chains made, changed chains' rules rewritten, elements added and deleted, what went
//! removed; in an order the kernel accepts (sets and chains exist before anything refers to
//! them, and stop being referred to before they go). Element churn becomes a handful of
//! messages instead of a rewritten table, as atomic as the full replace.
//!
//! It relies on the kernel holding exactly `before`: an element is deleted only if it is
//! there, which kernels before 6.3 require (a missing one fails the whole batch).

use std::collections::{HashMap, HashSet};

use crate::elements::{self, KernelElement};
use crate::set::{Element, Set};
use crate::table::{Chain, Table};
use crate::transaction::Transaction;
use crate::wire::msg;

impl Transaction {
    /// The changes from `before` to `after`, or `None` when they cannot be made in place (a
    /// different table, a set whose key or kind changed, a chain whose hook changed). An
    /// empty transaction means nothing changed.
    pub fn update(before: &Table, after: &Table) -> Option<Transaction> {
        if before.family != after.family || before.name != after.name {
            return None;
        }
        // By name, once: a node's table holds thousands of sets and chains, and a lookup per
        // set by scanning them made a one-pod change cost milliseconds.
        let old_sets: HashMap<&str, &Set> = before.sets.iter().map(|s| (&*s.name, s)).collect();
        let new_sets: HashSet<&str> = after.sets.iter().map(|s| &*s.name).collect();
        let old_chains: HashMap<&str, &Chain> =
            before.chains.iter().map(|c| (&*c.name, c)).collect();
        let new_chains: HashSet<&str> = after.chains.iter().map(|c| &*c.name).collect();
        for set in &after.sets {
            if let Some(old) = old_sets.get(&*set.name)
                && !old.same_declaration(set)
            {
                return None;
            }
        }
        for chain in &after.chains {
            if let Some(old) = old_chains.get(&*chain.name)
                && old.base != chain.base
            {
                return None;
            }
        }
        let mut tx = Transaction::new(after.family, &after.name);
        // New sets and chains first: rules look the sets up, map elements jump to chains.
        for set in &after.sets {
            if !old_sets.contains_key(&*set.name) {
                tx.add_set(set);
            }
        }
        for chain in &after.chains {
            if !old_chains.contains_key(&*chain.name) {
                tx.add_chain(chain);
            }
        }
        for chain in &after.chains {
            match old_chains.get(&*chain.name) {
                Some(old) if old.rules == chain.rules => continue,
                Some(_) => tx.flush_chain(&chain.name),
                None => {}
            }
            for rule in &chain.rules {
                tx.add_rule(&chain.name, rule);
            }
        }
        for set in &after.sets {
            if let Some(old) = old_sets.get(&*set.name) {
                tx.change_elements(old, set);
            }
        }
        // Then what went: chains (with the rules that looked sets up), then sets.
        for chain in &before.chains {
            if !new_chains.contains(&*chain.name) {
                tx.delete_chain(&chain.name);
            }
        }
        for set in &before.sets {
            if !new_sets.contains(&*set.name) {
                tx.delete_set(&set.name);
            }
        }
        Some(tx)
    }

    /// Deletes the elements of `before` missing from `after`, then adds those new.
    fn change_elements(&mut self, before: &Set, after: &Set) {
        let (gone, added) = element_changes(before, after);
        self.elements(msg::DELSETELEM, &after.name, gone);
        self.elements(msg::NEWSETELEM, &after.name, added);
    }
}

/// The elements only in `before` and those only in `after`, each once, in their sets' order
/// (so the messages do not depend on hashing). Sets come from the same generator in the same
/// order, so a one-pod change leaves a long common prefix and suffix: only the rest is looked
/// at closely, and only a large rest is hashed.
fn differences<'a>(
    before: &'a [Element],
    after: &'a [Element],
) -> (Vec<&'a Element>, Vec<&'a Element>) {
    let prefix = before.iter().zip(after).take_while(|(b, a)| b == a).count();
    let (before_rest, after_rest) = (&before[prefix..], &after[prefix..]);
    let suffix = before_rest
        .iter()
        .rev()
        .zip(after_rest.iter().rev())
        .take_while(|(b, a)| b == a)
        .count();
    let before_middle = &before_rest[..before_rest.len() - suffix];
    let after_middle = &after_rest[..after_rest.len() - suffix];
    if before_middle.len() + after_middle.len() <= SMALL_CHANGE {
        // An element of one middle missing from the other middle is checked against the other
        // whole set: it may stand in its prefix or suffix if a set repeats an element.
        let only = |middle: &'a [Element], other_middle: &[Element], other: &[Element]| {
            let mut found: Vec<&'a Element> = Vec::new();
            for element in middle {
                if !other_middle.contains(element)
                    && !found.contains(&element)
                    && !other.contains(element)
                {
                    found.push(element);
                }
            }
            found
        };
        return (
            only(before_middle, after_middle, after),
            only(after_middle, before_middle, before),
        );
    }
    let old: FastSet<&Element> = before.iter().collect();
    let new: FastSet<&Element> = after.iter().collect();
    let only = |elements: &'a [Element], other: &FastSet<&Element>| -> Vec<&'a Element> {
        let mut seen = FastSet::default();
        elements
            .iter()
            .filter(|e| !other.contains(e) && seen.insert(*e))
            .collect()
    };
    (only(before, &new), only(after, &old))
}

/// Up to how many differing elements (after the common prefix and suffix) are compared one by
/// one instead of hashed.
const SMALL_CHANGE: usize = 32;

/// A hash set with foldhash: SipHash made a one-pod change's diff cost milliseconds.
type FastSet<T> = HashSet<T, foldhash::fast::RandomState>;

/// The kernel elements to delete and to add to take a set from `before` to `after`. A map
/// element whose verdict changed is deleted and added again. In a single-field interval set
/// a changed range is deleted whole (start and end) and its successor added whole: the
/// kernel refuses an element that would cut into a range it holds.
fn element_changes<'a>(
    before: &'a Set,
    after: &'a Set,
) -> (Vec<KernelElement>, Vec<KernelElement>) {
    if before.elements == after.elements {
        // Most sets are untouched by a change: no need to sort their elements to see that.
        return (Vec::new(), Vec::new());
    }
    let interval = after.interval && !after.is_concat();
    let kernel = |elements: Vec<&Element>| -> Vec<KernelElement> {
        if interval {
            elements
                .into_iter()
                .flat_map(|e| elements::interval(after, e))
                .collect()
        } else {
            elements
                .into_iter()
                .map(|e| elements::single(after, e))
                .collect()
        }
    };
    let (gone, added) = differences(&before.elements, &after.elements);
    let mut gone = kernel(gone);
    let mut added = kernel(added);
    let markers = (
        elements::zero_marker(before, &before.elements),
        elements::zero_marker(after, &after.elements),
    );
    match markers {
        (Some(marker), None) => gone.push(marker),
        (None, Some(marker)) => added.push(marker),
        _ => {}
    }
    (gone, added)
}

#[cfg(test)]
mod tests;
