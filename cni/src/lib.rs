//! CNI bridge plugin and IPAM; its issue fills this crate.
