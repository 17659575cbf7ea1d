//! What the store needs of every stored type: how a decoded object becomes it, its name, and
//! what slimming drops from it.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use portcullis_policy::model;

use super::gateway_api::{
    BackendTlsPolicy, Gateway, GatewayApiObject, GatewayClass, GrpcRoute, HttpRoute,
    ReferenceGrant, TlsRoute,
};
use super::{
    CompactEndpoints, CompactNode, CompactService, CompactSlice, RawPolicy, compact_namespace,
    compact_pod,
};
use crate::slim::{keep_ca_certificate, keep_tls_keys, slim_meta};

/// One stored object's identity and its slimming; implemented once per type in the
/// [`super::kinds`] table.
pub trait Stored {
    /// The namespace (empty for cluster-scoped kinds) and name.
    fn namespace_and_name(&self) -> (&str, &str);

    /// Drops the fields nothing reads before the object is kept (nothing, by default: compact
    /// types hold only what is read).
    fn slim(&mut self) {}
}

/// How an object as `k8s-openapi` decodes it (from the API or a manifest) becomes the stored
/// type: kept as it is, or made compact. One impl per row, used by both sources.
pub trait FromDecoded<K>: Sized {
    /// The stored form of `decoded`.
    fn from_decoded(decoded: Arc<K>) -> Arc<Self>;
}

/// Kinds stored as decoded.
impl<K> FromDecoded<K> for K {
    fn from_decoded(decoded: Arc<K>) -> Arc<K> {
        decoded
    }
}

/// Kinds kept in compact form: only the fields something reads.
macro_rules! compacted {
    ($($stored:ty => $decoded:ty, $compact:expr;)*) => {$(
        impl FromDecoded<$decoded> for $stored {
            fn from_decoded(decoded: Arc<$decoded>) -> Arc<$stored> {
                Arc::new($compact(&*decoded))
            }
        }
    )*};
}
compacted! {
    CompactService => Service, CompactService::from;
    CompactSlice => EndpointSlice, CompactSlice::from;
    CompactEndpoints => Endpoints, CompactEndpoints::from;
    CompactNode => Node, CompactNode::from;
    model::Pod => Pod, compact_pod;
    model::Namespace => Namespace, compact_namespace;
}

/// Namespace and name from a `k8s-openapi` object's metadata.
fn of_meta(meta: &ObjectMeta) -> (&str, &str) {
    (
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or(""),
    )
}

impl Stored for IngressClass {
    fn namespace_and_name(&self) -> (&str, &str) {
        of_meta(&self.metadata)
    }

    fn slim(&mut self) {
        slim_meta(&mut self.metadata);
    }
}

impl Stored for Ingress {
    fn namespace_and_name(&self) -> (&str, &str) {
        of_meta(&self.metadata)
    }

    fn slim(&mut self) {
        slim_meta(&mut self.metadata);
    }
}

impl Stored for ConfigMap {
    fn namespace_and_name(&self) -> (&str, &str) {
        of_meta(&self.metadata)
    }

    fn slim(&mut self) {
        slim_meta(&mut self.metadata);
        keep_ca_certificate(self);
    }
}

impl Stored for Secret {
    fn namespace_and_name(&self) -> (&str, &str) {
        of_meta(&self.metadata)
    }

    fn slim(&mut self) {
        slim_meta(&mut self.metadata);
        keep_tls_keys(self);
    }
}

/// Compact types that hold their own namespace and name.
macro_rules! namespaced_compact {
    ($($stored:ty),*) => {$(
        impl Stored for $stored {
            fn namespace_and_name(&self) -> (&str, &str) {
                (&self.namespace, &self.name)
            }
        }
    )*};
}
namespaced_compact!(
    CompactService,
    CompactSlice,
    CompactEndpoints,
    RawPolicy,
    model::Pod
);

/// Compact cluster-scoped types that hold their own name.
macro_rules! cluster_compact {
    ($($stored:ty),*) => {$(
        impl Stored for $stored {
            fn namespace_and_name(&self) -> (&str, &str) {
                ("", &self.name)
            }
        }
    )*};
}
cluster_compact!(CompactNode, model::Namespace);

/// Gateway API kinds: their decoded types hold only what is read.
macro_rules! gateway_api_stored {
    ($($stored:ty),*) => {$(
        impl Stored for $stored {
            fn namespace_and_name(&self) -> (&str, &str) {
                let meta = self.meta();
                (&meta.namespace, &meta.name)
            }
        }
    )*};
}
gateway_api_stored!(
    GatewayClass,
    Gateway,
    HttpRoute,
    GrpcRoute,
    TlsRoute,
    BackendTlsPolicy,
    ReferenceGrant
);
