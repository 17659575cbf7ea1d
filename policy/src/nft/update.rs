//! The transaction that takes the kernel's `inet portcullis` from one [`Ruleset`] to the
//! next in place: both become table models and `portcullis-nft` writes the differences (set
//! and map elements added and deleted, chains and sets made and removed only for allowances
//! that appear or go). Pod churn becomes a handful of element changes instead of a
//! rewritten table, and is as atomic as the full replace.
//!
//! It relies on the table holding exactly `applied` (what the last committed transaction
//! wrote). The agent rewrites the table whole at each resync, so an edit made behind its back
//! is repaired there.

use portcullis_nft::{Table, Transaction};

use super::table::table;
use crate::ruleset::Ruleset;

/// What the kernel's table holds: the last committed ruleset and its table model. Kept by the
/// caller so the next change builds only the new model (a node's model has tens of thousands
/// of elements: building it is most of a one-pod change's cost).
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedTable {
    /// The ruleset last committed.
    pub ruleset: Ruleset,
    /// Its table model.
    pub model: Table,
}

impl AppliedTable {
    /// The ruleset with its model.
    pub fn new(ruleset: Ruleset) -> AppliedTable {
        let model = table(&ruleset);
        AppliedTable { ruleset, model }
    }

    /// The changes to `next`, or `None` when they need the table rewritten (the guarded pod
    /// CIDRs changed: they change with the node's pod CIDRs only, and a rewrite is the simplest
    /// proof the guard rules are right); and `next` with its model, to keep once committed. An
    /// empty transaction means nothing changed.
    pub fn update(&self, next: Ruleset) -> (Option<Transaction>, AppliedTable) {
        let next = AppliedTable::new(next);
        let transaction = if self.ruleset.guarded == next.ruleset.guarded {
            Transaction::update(&self.model, &next.model)
        } else {
            None
        };
        (transaction, next)
    }

    /// The transaction replacing the whole table with this one.
    pub fn replace(&self) -> Transaction {
        Transaction::replace(&self.model)
    }
}
