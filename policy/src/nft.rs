//! The nftables edge of NetworkPolicy: [`table`] turns a [`crate::ruleset::Ruleset`] into the
//! `inet portcullis` table model of `portcullis-nft`; [`program`] makes the transaction that
//! replaces the kernel's table with it, [`update`] the one that changes it in place. The same
//! model gives the golden text (`crate::render`), so what is sent and what is shown agree.
//! [`socket`] is `portcullis_nft::socket`, here so callers of this crate find it.

pub mod program;
pub mod table;
pub mod update;

pub use portcullis_nft::socket;
