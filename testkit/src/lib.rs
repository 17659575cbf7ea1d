//! Test support shared by the workspace's tests and benches (never shipped): network
//! namespaces, CNI plugin calls, the real `portcullis` binary run as an ingress or a node agent,
//! real HTTP backends and clients, a test CA, and a small fake Kubernetes API server.
//!
//! Every helper panics on failure: in a test, the panic is the report.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test support: a panic is the failure report.

pub mod binaries;
pub mod chart;
pub mod cluster_namespace;
pub mod cni_calls;
pub mod control_plane;
pub mod echo_backend;
pub mod fake_apiserver;
pub mod ingress_process;
pub mod netns;
pub mod nft_listing;
pub mod node_agent_process;
pub mod pod_network;
pub mod test_ca;
