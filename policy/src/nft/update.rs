//! The transaction that takes the kernel's `inet portcullis` from one [`Ruleset`] to the
//! next in place: both become table models and `portcullis-nft` writes the differences (set
//! and map elements added and deleted, chains and sets made and removed only for allowances
//! that appear or go). Pod churn becomes a handful of element changes instead of a
//! rewritten table, and is as atomic as the full replace.
//!
//! It relies on the table holding exactly `applied` (what the last committed transaction
//! wrote). The agent rewrites the table whole at each resync, so an edit made behind its back
//! is repaired there.

use portcullis_nft::Transaction;

use super::table::table;
use crate::ruleset::Ruleset;

/// The changes from `applied` to `next`, or `None` when they need the table rewritten (the
/// guarded pod CIDRs changed: they change with the node's pod CIDRs only, and a rewrite is
/// the simplest proof the guard rules are right). An empty transaction means nothing changed.
pub fn update_table(applied: &Ruleset, next: &Ruleset) -> Option<Transaction> {
    if applied.guarded != next.guarded {
        return None;
    }
    Transaction::update(&table(applied), &table(next))
}
