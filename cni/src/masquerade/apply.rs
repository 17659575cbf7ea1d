//! Replaces one network's masquerade table in the kernel in a single nftables transaction
//! (add the table, delete it, add the new contents): the old table (if any) and the new one
//! swap atomically, and a failure changes nothing.

use portcullis_nft::{Classified, Fault, NftError, TableFamily, Transaction};

use super::plan::MasqueradePlan;
use super::table::masquerade_table;

/// nf_tables names are at most this long (`NFT_NAME_MAXLEN` less the NUL).
const MAX_NAME: usize = 255;

/// Why the table could not be replaced; the kernel's state is as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The network's name cannot name an nftables table (the config's fault).
    #[error("name: {0:?} cannot be used in an nftables table name")]
    Name(String),
    /// The transaction failed; [`NftError::fault`] says whose fault, and
    /// [`NftError::retryable`] whether a retry may help.
    #[error("nftables: cannot replace table inet {table}: {source}")]
    Netlink {
        /// The table.
        table: String,
        /// What failed.
        source: NftError,
    },
}

impl Classified for ApplyError {
    /// Whose fault it is: a bad name is the network configuration's (the operator's).
    fn fault(&self) -> Fault {
        match self {
            ApplyError::Name(_) => Fault::Operator,
            ApplyError::Netlink { source, .. } => source.fault(),
        }
    }

    /// Whether the same call may succeed later without anyone acting.
    fn retryable(&self) -> bool {
        match self {
            ApplyError::Name(_) => false,
            ApplyError::Netlink { source, .. } => source.retryable(),
        }
    }
}

/// Makes the kernel's `inet` table `plan.table` equal to the plan (removed when it is empty).
pub fn apply_masquerade(plan: &MasqueradePlan) -> Result<(), ApplyError> {
    if plan.table.contains('\0') || plan.table.len() > MAX_NAME {
        return Err(ApplyError::Name(plan.table.clone()));
    }
    let transaction = if plan.is_empty() {
        Transaction::delete(TableFamily::Inet, &plan.table)
    } else {
        Transaction::replace(&masquerade_table(plan))
    };
    portcullis_nft::apply(transaction).map_err(|source| ApplyError::Netlink {
        table: plan.table.clone(),
        source,
    })
}
