//! NetworkPolicy compiler to nftables; its issue fills this crate.
