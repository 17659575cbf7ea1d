//! NetworkPolicy for Portcullis nodes. Pure: [`parse`] turns NetworkPolicy JSON into typed
//! [`policy::Policy`] values (errors name the field), [`selector`] matches labels, [`compile`]
//! turns policies, Pods and Namespaces into a [`ruleset::Ruleset`] value, and [`render`] shows
//! it as nft prints it; [`carry`] keeps allowance ids stable between rulesets. The edge is
//! [`nft`]: a ruleset as one nf_tables transaction over netlink, whole or as the changes from
//! the last one.

pub mod carry;
pub mod compile;
pub mod intervals;
pub mod model;
#[cfg(feature = "nftables")]
pub mod nft;
pub mod parse;
pub mod policy;
#[cfg(feature = "nftables")]
pub mod render;
pub mod ruleset;
pub mod selector;
