//! NetworkPolicy for Portcullis nodes. Pure: [`parse`] turns NetworkPolicy JSON into typed
//! [`policy::Policy`] values (errors name the field), [`selector`] matches labels, and the
//! compiler (to come in this crate) turns policies, Pods and Namespaces into an nftables
//! ruleset value.

pub mod compile;
pub mod intervals;
pub mod model;
pub mod nft;
pub mod parse;
pub mod policy;
pub mod render;
pub mod ruleset;
pub mod selector;
