//! Portcullis ingress controller: reads Kubernetes objects from a source, translates them
//! into a routing table with a pure function, and publishes the table to the proxy. Also the
//! node agent, which makes a node's routes and CNI configuration follow the Node objects.

pub mod cli;
pub mod event_writer;
pub mod ingress_command;
pub mod kube_source;
pub mod lasting;
pub mod leader;
pub mod manifests;
pub mod node_agent;
pub mod node_command;
pub mod objects;
pub mod reconcile;
pub mod slim;
pub mod source_choice;
pub mod status_writer;
pub mod store;
pub mod translate;
