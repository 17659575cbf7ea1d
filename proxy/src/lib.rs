//! Portcullis routing table and async L7 proxy.
//!
//! The controller builds a [`spec::TableSpec`] (plain data), compiles it into a
//! [`table::RoutingTable`] and publishes it into a [`live::LiveTable`]; the proxy
//! ([`server::serve_proxy`]) reads the live table on every request without taking a lock.

pub mod admin;
pub mod certificates;
pub mod error_responses;
pub mod forward;
pub mod forwarded_headers;
pub mod host;
pub mod live;
pub mod metrics;
pub mod path_patterns;
pub mod retryable_body;
pub mod server;
pub mod spec;
pub mod table;
pub mod tls_listener;
pub mod upgrade;
