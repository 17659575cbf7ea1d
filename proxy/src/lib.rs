//! Portcullis's async L7 proxy: listeners, TLS, forwarding, metrics and the admin server.
//!
//! The controller compiles a `portcullis_route` table and publishes it into a
//! [`live::LiveTable`]; the proxy ([`server::serve_proxy`]) reads the live table on every
//! request without taking a lock.

pub mod admin;
pub mod certificates;
pub mod client_hello;
pub mod error_pages;
pub mod error_responses;
pub mod forward;
pub mod forwarded_headers;
pub mod live;
pub mod metrics;
pub mod mirror;
pub mod passthrough;
pub mod proxy_protocol;
pub mod request_head;
pub mod retryable_body;
pub mod server;
pub mod tls_listener;
pub mod tls_upstream_names;
pub mod upgrade;
pub mod upstream_body;
pub mod upstream_clients;
pub mod verified_upstream_tls;
pub mod write_stall;
