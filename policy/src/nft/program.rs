//! A [`Ruleset`] as one nf_tables transaction that replaces the table `inet portcullis` whole
//! (add, delete, add again: the old table goes whether or not it existed, atomically).

use portcullis_nft::{TableFamily, Transaction};

use super::table::{TABLE, table};
use crate::ruleset::Ruleset;

/// The transaction that makes the kernel's `inet portcullis` equal to `ruleset`.
pub fn replace_table(ruleset: &Ruleset) -> Transaction {
    Transaction::replace(&table(ruleset))
}

/// The transaction that removes the table (whether or not it exists).
pub fn delete_table() -> Transaction {
    Transaction::delete(TableFamily::Inet, TABLE)
}
