//! The node agent (`portcullis node`): makes this node's routes, forwarding, masquerading, CNI
//! configuration and NetworkPolicy rules follow the cluster's objects. Pure: [`desired`]
//! (Nodes → routes + conflist + masquerade plan), [`routes::plan`], [`conflist`],
//! [`policies`] (each policy's last good version). Edges: [`routes::sync`] (rtnetlink),
//! [`host`] (sysctls, files). [`node_command`] wires it.
#![forbid(unsafe_code)]

pub mod api_watches;
pub mod args;
pub mod conflist;
pub mod desired;
pub mod host;
pub mod node_command;
pub mod policies;
pub mod problem;
pub mod routes;
