//! The Kubernetes objects Portcullis reads (the ingress controller and the node agent), as one
//! typed enum generated from the table in [`kinds`].
//!
//! Every source (manifest files, the API server) turns what it reads into [`Object`]s;
//! nothing downstream knows where an object came from. The kinds there are many of and whose
//! few read fields are simple (Services, EndpointSlices, Endpoints) are kept in compact form.

mod endpoint_slice;
mod endpoints;
pub mod gateway_api;
pub mod kinds;
mod network_policy;
mod node;
mod pod;
mod secret_data;
mod service;
pub mod stored;

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

pub use endpoint_slice::{
    CompactSlice, EndpointEntry, EndpointPortEntry, SERVICE_NAME_LABEL, tcp_port,
};
pub use endpoints::{CompactEndpoints, EndpointSubsetEntry};
pub use kinds::{Kind, Object, Snapshot};
pub use network_policy::RawPolicy;
pub use node::CompactNode;
pub use pod::{compact_namespace, compact_pod};
pub use secret_data::secret_value;
pub use service::{CompactService, LoadBalancerAddress, ServicePortEntry};
use stored::FromDecoded;

/// Identifies one object across sources: kind, namespace (empty if cluster-scoped), name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The kind.
    pub kind: Kind,
    /// The namespace; empty for cluster-scoped kinds.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl Object {
    /// A Service, in compact form.
    pub fn service(service: Arc<Service>) -> Object {
        Object::Service(CompactService::from_decoded(service))
    }

    /// An EndpointSlice, in compact form.
    pub fn endpoint_slice(slice: Arc<EndpointSlice>) -> Object {
        Object::EndpointSlice(CompactSlice::from_decoded(slice))
    }

    /// An Endpoints object, in compact form.
    pub fn endpoints(endpoints: Arc<Endpoints>) -> Object {
        Object::Endpoints(CompactEndpoints::from_decoded(endpoints))
    }

    /// A Node, in compact form.
    pub fn node(node: Arc<Node>) -> Object {
        Object::Node(CompactNode::from_decoded(node))
    }

    /// A Pod, as the policy compiler reads it.
    pub fn pod(pod: Arc<Pod>) -> Object {
        Object::Pod(portcullis_policy::model::Pod::from_decoded(pod))
    }

    /// A Namespace, as the policy compiler reads it.
    pub fn namespace(namespace: Arc<Namespace>) -> Object {
        Object::Namespace(portcullis_policy::model::Namespace::from_decoded(namespace))
    }

    /// The key the store files this object under.
    pub fn key(&self) -> ObjectKey {
        let (namespace, name) = self.namespace_and_name();
        ObjectKey {
            kind: self.kind(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}
