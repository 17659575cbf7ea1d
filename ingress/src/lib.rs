//! The ingress controller: Ingresses (and the Services, EndpointSlices and Secrets they name)
//! translated into a routing table by a pure function ([`translate`]), and Gateway API objects
//! into one table per listener port (`portcullis_gateway`), published to the proxy
//! ([`reconcile`]), with Ingress status ([`status_writer`]), Gateway API status
//! ([`gateway_status_writer`]), Events ([`event_writer`]) and the leader Lease ([`leader`]) in
//! API mode. [`ingress_command`] wires `portcullis ingress`.
#![forbid(unsafe_code)]

pub mod api_watches;
pub mod args;
pub mod event_writer;
pub mod gateway_status_writer;
pub mod ingress_command;
pub mod leader;
mod leader_writes;
pub mod migrate_command;
pub mod migration;
pub mod reconcile;
pub mod status_writer;
pub mod translate;
