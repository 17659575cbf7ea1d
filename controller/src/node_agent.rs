//! The node agent (`portcullis node`): makes this node's routes, forwarding and CNI
//! configuration follow the Node objects. [`desired`] computes the state (pure);
//! [`host`] reads and writes the files of the host it runs on.

pub mod desired;
pub mod host;
pub mod policies;
