//! The transaction that takes a table from one model to the next in place: new sets and
//! chains made, changed chains' rules rewritten, elements added and deleted, what went
//! removed; in an order the kernel accepts (sets and chains exist before anything refers to
//! them, and stop being referred to before they go). Element churn becomes a handful of
//! messages instead of a rewritten table, as atomic as the full replace.
//!
//! It relies on the kernel holding exactly `before`: an element is deleted only if it is
//! there, which kernels before 6.3 require (a missing one fails the whole batch).

use std::collections::BTreeSet;

use crate::elements::{self, KernelElement};
use crate::set::{Element, Set};
use crate::table::Table;
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
        for set in &after.sets {
            if let Some(old) = before.set(&set.name)
                && !old.same_declaration(set)
            {
                return None;
            }
        }
        let old_chain = |name: &str| before.chains.iter().find(|c| c.name == name);
        for chain in &after.chains {
            if let Some(old) = old_chain(&chain.name)
                && old.base != chain.base
            {
                return None;
            }
        }
        let mut tx = Transaction::new(after.family, &after.name);
        // New sets and chains first: rules look the sets up, map elements jump to chains.
        for set in &after.sets {
            if before.set(&set.name).is_none() {
                tx.add_set(set);
            }
        }
        for chain in &after.chains {
            if old_chain(&chain.name).is_none() {
                tx.add_chain(chain);
            }
        }
        for chain in &after.chains {
            match old_chain(&chain.name) {
                Some(old) if old.rules == chain.rules => continue,
                Some(_) => tx.flush_chain(&chain.name),
                None => {}
            }
            for rule in &chain.rules {
                tx.add_rule(&chain.name, rule);
            }
        }
        for set in &after.sets {
            if let Some(old) = before.set(&set.name) {
                tx.change_elements(old, set);
            }
        }
        // Then what went: chains (with the rules that looked sets up), then sets.
        for chain in &before.chains {
            if !after.chains.iter().any(|c| c.name == chain.name) {
                tx.delete_chain(&chain.name);
            }
        }
        for set in &before.sets {
            if after.set(&set.name).is_none() {
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

/// The kernel elements to delete and to add to take a set from `before` to `after`. A map
/// element whose verdict changed is deleted and added again. In a single-field interval set
/// a changed range is deleted whole (start and end) and its successor added whole: the
/// kernel refuses an element that would cut into a range it holds.
fn element_changes(before: &Set, after: &Set) -> (Vec<KernelElement>, Vec<KernelElement>) {
    let old: BTreeSet<&Element> = before.elements.iter().collect();
    let new: BTreeSet<&Element> = after.elements.iter().collect();
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
    let mut gone = kernel(old.difference(&new).copied().collect());
    let mut added = kernel(new.difference(&old).copied().collect());
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
