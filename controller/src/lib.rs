//! Portcullis ingress controller: reads Kubernetes objects from a source, translates them
//! into a routing table with a pure function, and publishes the table to the proxy.

pub mod objects;
pub mod store;
