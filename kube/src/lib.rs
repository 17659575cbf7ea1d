//! The Kubernetes objects Portcullis reads and where they come from, shared by the ingress
//! controller and the node agent: typed objects ([`objects`]), the source-neutral [`store`]
//! (with [`slim`] dropping what nothing reads), the `--manifests DIR` source ([`manifests`]),
//! the API source's watch builder ([`kube_source`]), the choice between them
//! ([`source_choice`]), and [`lasting`] for logging a lasting problem once.
#![forbid(unsafe_code)]

pub mod duration_flag;
pub mod event_batches;
pub mod kube_source;
pub mod lasting;
pub mod manifests;
pub mod objects;
pub mod slim;
pub mod source_choice;
pub mod store;
