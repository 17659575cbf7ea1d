//! `ipMasq`: traffic from a network's pods to anywhere outside the network's subnets leaves
//! with the node's address, as the reference bridge plugin does, in an nftables table of the
//! network's own (`inet portcullis-cni-NAME`) that nothing else touches. The node agent uses
//! the same machinery for traffic from its node's pod CIDRs to outside the cluster. [`plan`]
//! decides the table from the IPAM records (pure); [`table`] makes it an nftables table model
//! (`portcullis-nft`), which renders the plan's readable `nft` text; [`apply`] replaces the
//! table in one netlink transaction, so there is never a moment with half of it.

pub mod apply;
pub mod plan;
pub mod table;

pub use apply::{ApplyError, apply_masquerade};
pub use plan::{FamilyRules, MasqueradePlan, NODE_TABLE, plan_masquerade, plan_node_masquerade};
pub use table::masquerade_table;
