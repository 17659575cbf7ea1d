//! The CNI 1.1 bridge plugin of Portcullis: network configuration, IP address management
//! compatible with the reference `host-local` plugin, masquerading, and the plugin binary's
//! logic ([`plugin`]). Node routes and the node's conflist belong to the node agent
//! (`portcullis-node`).
//!
//! Pure cores first: [`config`] turns the runtime's JSON into validated types, naming the field
//! at fault; [`ipam`] picks addresses from ranges against a [`ipam::Store`] (in memory for tests,
//! on disk with a lock across processes for real use).

pub mod attach;
pub mod config;
pub mod env;
pub mod error;
pub mod gc;
pub mod ipam;
pub mod masquerade;
pub mod netlink;
pub mod plugin;
pub mod result;
pub mod status;
pub mod version;
