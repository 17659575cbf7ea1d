//! The nftables edge: [`wire`] encodes nf_tables netlink messages (pure), [`socket`] sends a
//! transaction and reads the kernel's answer, [`program`] turns a [`crate::ruleset::Ruleset`]
//! into one transaction that replaces the `inet portcullis` table, [`update`] into one that
//! changes it in place.
//!
//! Hand-encoded rather than through libnftnl: the `nftnl` crate cannot express interval sets,
//! concatenated keys or verdict maps, which the ruleset needs.

pub mod program;
pub mod socket;
pub mod update;
pub mod wire;
