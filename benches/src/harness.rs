//! The side-by-side harness's pieces that more than one benchmark binary runs: the table of
//! proxies ([`peers`]) and their configurations ([`configs`]), what a run needs before it
//! measures ([`kit`]), the processes under measurement ([`running`]), the tools found on this
//! machine ([`tools`]) and the versions a report names ([`versions`]).
//!
//! `side-by-side` (throughput, latency) and `memory-ceilings` (resident memory under hostile
//! loads) both start Portcullis, nginx, HAProxy and Envoy through [`peers::Peer::start`].

pub mod configs;
pub mod kit;
pub mod peers;
pub mod protocol;
pub mod running;
pub mod tools;
pub mod versions;
