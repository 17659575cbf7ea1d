//! Portcullis's routing table, as data and as the compiled lookup, with no IO.
//!
//! The controller's translation builds a [`spec::TableSpec`] (plain data, rendered as text for
//! golden tests); [`table::RoutingTable::compile`] turns it into host → path → route lookups;
//! the proxy calls [`table::RoutingTable::find`] on every request. Nothing here knows about
//! sockets, Kubernetes or tokio, so both sides can be tested (and benchmarked) alone.
#![forbid(unsafe_code)]

pub mod access;
pub mod cookies;
pub mod counters;
pub mod hash_key;
pub mod host;
pub mod path_patterns;
pub mod pattern;
pub mod request_target;
pub mod rewrite;
pub mod spec;
pub mod sticky;
pub mod table;
