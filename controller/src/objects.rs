//! The Kubernetes objects the ingress controller reads, as one typed enum.
//!
//! Every source (manifest files today, the API server later) turns what it reads into
//! [`Object`]s; nothing downstream knows where an object came from.

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// One object of a kind the ingress controller reads. Namespaced kinds always carry a
/// namespace here: sources fill in `default` where a manifest leaves it out.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Object {
    /// `networking.k8s.io/v1` IngressClass (cluster-scoped).
    IngressClass(Arc<IngressClass>),
    /// `networking.k8s.io/v1` Ingress.
    Ingress(Arc<Ingress>),
    /// `v1` Service.
    Service(Arc<Service>),
    /// `discovery.k8s.io/v1` EndpointSlice.
    EndpointSlice(Arc<EndpointSlice>),
    /// `v1` Endpoints, the fallback when a Service has no EndpointSlice.
    Endpoints(Arc<Endpoints>),
    /// `v1` Secret (TLS certificates).
    Secret(Arc<Secret>),
}

/// The kinds in [`Object`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
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
    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::IngressClass(o) => &o.metadata,
            Object::Ingress(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::EndpointSlice(o) => &o.metadata,
            Object::Endpoints(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
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
        }
    }

    /// The key the store files this object under.
    pub fn key(&self) -> ObjectKey {
        let meta = self.meta();
        ObjectKey {
            kind: self.kind(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

impl Kind {
    /// The `kind:` field value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IngressClass => "IngressClass",
            Kind::Ingress => "Ingress",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Endpoints => "Endpoints",
            Kind::Secret => "Secret",
        }
    }

    /// True for kinds that live in a namespace.
    pub fn is_namespaced(self) -> bool {
        self != Kind::IngressClass
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
