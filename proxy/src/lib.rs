//! Portcullis routing table and async L7 proxy.
//!
//! The controller builds a [`spec::TableSpec`] (plain data), compiles it into a
//! [`table::RoutingTable`] and publishes it into a [`live::LiveTable`]; the proxy reads the
//! live table on every request without taking a lock.

pub mod host;
pub mod live;
pub mod metrics;
pub mod path_patterns;
pub mod spec;
pub mod table;
