//! A [`Ruleset`] as `nft list table inet portcullis` prints it (elements sorted): the golden
//! text tests and reviewers read, and what the kernel is checked against. Rendered from the
//! same table model the transaction is encoded from.

use crate::nft::table::table;
use crate::ruleset::Ruleset;

/// The whole table as text.
pub fn render(ruleset: &Ruleset) -> String {
    portcullis_nft::render(&table(ruleset))
}
