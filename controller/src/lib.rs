//! Portcullis ingress controller: reads Kubernetes objects from a source, translates them
//! into a routing table with a pure function, and publishes the table to the proxy.

pub mod cli;
pub mod event_writer;
pub mod ingress_command;
pub mod kube_source;
pub mod leader;
pub mod manifests;
pub mod objects;
pub mod reconcile;
pub mod slim;
pub mod status_writer;
pub mod store;
pub mod translate;
