//! The Kubernetes objects Portcullis reads (the ingress controller and the node agent), as one
//! typed enum.
//!
//! Every source (manifest files, the API server) turns what it reads into [`Object`]s;
//! nothing downstream knows where an object came from. The kinds there are many of and whose
//! few read fields are simple (Services, EndpointSlices, Endpoints) are kept in compact form.

mod endpoint_slice;
mod endpoints;
mod network_policy;
mod node;
mod pod;
mod service;

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub use endpoint_slice::{
    CompactSlice, EndpointEntry, EndpointPortEntry, SERVICE_NAME_LABEL, tcp_port,
};
pub use endpoints::{CompactEndpoints, EndpointSubsetEntry};
pub use network_policy::RawPolicy;
pub use node::CompactNode;
pub use pod::{compact_namespace, compact_pod};
pub use service::{CompactService, LoadBalancerAddress, ServicePortEntry};

/// One object of a kind the ingress controller reads. Namespaced kinds always carry a
/// namespace here: sources fill in `default` where a manifest leaves it out.
#[derive(Debug, Clone)]
pub enum Object {
    /// `networking.k8s.io/v1` IngressClass (cluster-scoped).
    IngressClass(Arc<IngressClass>),
    /// `networking.k8s.io/v1` Ingress.
    Ingress(Arc<Ingress>),
    /// `v1` Service.
    Service(Arc<CompactService>),
    /// `discovery.k8s.io/v1` EndpointSlice.
    EndpointSlice(Arc<CompactSlice>),
    /// `v1` Endpoints, the fallback when a Service has no EndpointSlice.
    Endpoints(Arc<CompactEndpoints>),
    /// `v1` Secret (TLS certificates).
    Secret(Arc<Secret>),
    /// `v1` Node (pod CIDRs and addresses, for the node agent; cluster-scoped).
    Node(Arc<CompactNode>),
    /// `v1` Pod, as the policy compiler reads it (node agent).
    Pod(Arc<portcullis_policy::model::Pod>),
    /// `v1` Namespace, as the policy compiler reads it (node agent; cluster-scoped).
    Namespace(Arc<portcullis_policy::model::Namespace>),
    /// `networking.k8s.io/v1` NetworkPolicy, unparsed (node agent).
    NetworkPolicy(Arc<RawPolicy>),
}

/// The kinds in [`Object`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// IngressClass.
    IngressClass,
    /// Ingress.
    Ingress,
    /// Service.
    Service,
    /// EndpointSlice.
    EndpointSlice,
    /// Endpoints.
    Endpoints,
    /// Secret.
    Secret,
    /// Node.
    Node,
    /// Pod.
    Pod,
    /// Namespace.
    Namespace,
    /// NetworkPolicy.
    NetworkPolicy,
}

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
        Object::Service(Arc::new(CompactService::from(&*service)))
    }

    /// An EndpointSlice, in compact form.
    pub fn endpoint_slice(slice: Arc<EndpointSlice>) -> Object {
        Object::EndpointSlice(Arc::new(CompactSlice::from(&*slice)))
    }

    /// An Endpoints object, in compact form.
    pub fn endpoints(endpoints: Arc<Endpoints>) -> Object {
        Object::Endpoints(Arc::new(CompactEndpoints::from(&*endpoints)))
    }

    /// A Node, in compact form.
    pub fn node(node: Arc<Node>) -> Object {
        Object::Node(Arc::new(CompactNode::from(&*node)))
    }

    /// A Pod, as the policy compiler reads it.
    pub fn pod(pod: Arc<Pod>) -> Object {
        Object::Pod(Arc::new(compact_pod(&pod)))
    }

    /// A Namespace, as the policy compiler reads it.
    pub fn namespace(namespace: Arc<Namespace>) -> Object {
        Object::Namespace(Arc::new(compact_namespace(&namespace)))
    }

    /// The object's namespace (empty for cluster-scoped kinds) and name.
    pub fn namespace_and_name(&self) -> (&str, &str) {
        match self {
            Object::IngressClass(o) => of_meta(&o.metadata),
            Object::Ingress(o) => of_meta(&o.metadata),
            Object::Service(o) => (&o.namespace, &o.name),
            Object::EndpointSlice(o) => (&o.namespace, &o.name),
            Object::Endpoints(o) => (&o.namespace, &o.name),
            Object::Secret(o) => of_meta(&o.metadata),
            Object::Node(o) => ("", &o.name),
            Object::Pod(o) => (&o.namespace, &o.name),
            Object::Namespace(o) => ("", &o.name),
            Object::NetworkPolicy(o) => (&o.namespace, &o.name),
        }
    }

    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::IngressClass(_) => Kind::IngressClass,
            Object::Ingress(_) => Kind::Ingress,
            Object::Service(_) => Kind::Service,
            Object::EndpointSlice(_) => Kind::EndpointSlice,
            Object::Endpoints(_) => Kind::Endpoints,
            Object::Secret(_) => Kind::Secret,
            Object::Node(_) => Kind::Node,
            Object::Pod(_) => Kind::Pod,
            Object::Namespace(_) => Kind::Namespace,
            Object::NetworkPolicy(_) => Kind::NetworkPolicy,
        }
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

/// Namespace and name from a `k8s-openapi` object's metadata.
fn of_meta(meta: &ObjectMeta) -> (&str, &str) {
    (
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or(""),
    )
}

impl Kind {
    /// Every kind, for lookups by name.
    pub const ALL: [Kind; 10] = [
        Kind::IngressClass,
        Kind::Ingress,
        Kind::Service,
        Kind::EndpointSlice,
        Kind::Endpoints,
        Kind::Secret,
        Kind::Node,
        Kind::Pod,
        Kind::Namespace,
        Kind::NetworkPolicy,
    ];

    /// The `kind:` field value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IngressClass => "IngressClass",
            Kind::Ingress => "Ingress",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Endpoints => "Endpoints",
            Kind::Secret => "Secret",
            Kind::Node => "Node",
            Kind::Pod => "Pod",
            Kind::Namespace => "Namespace",
            Kind::NetworkPolicy => "NetworkPolicy",
        }
    }

    /// True for kinds that live in a namespace.
    pub fn is_namespaced(self) -> bool {
        !matches!(self, Kind::IngressClass | Kind::Node | Kind::Namespace)
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
