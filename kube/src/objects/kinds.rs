//! Every kind Portcullis reads, in one table: the [`kinds!`] invocation at the bottom.
//!
//! From that table come [`Object`] (one object of any kind), [`Kind`] (its name, scope and
//! the list of all kinds), [`Snapshot`] (all objects by kind, as the translations read them),
//! slimming before storing, and decoding from manifest files. Adding a kind is one line here
//! plus, for its stored type, a [`Stored`] impl (name, what slimming drops) and a
//! [`FromManifest`] impl (how a manifest document becomes it): the compiler points at both.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use portcullis_policy::model;

use super::gateway_api::{
    BackendTlsPolicy, Gateway, GatewayClass, GrpcRoute, HttpRoute, ReferenceGrant, TlsRoute,
};
use super::stored::Stored;
use super::{CompactEndpoints, CompactNode, CompactService, CompactSlice, ObjectKey, RawPolicy};
use crate::manifests::ParseError;
use crate::manifests::decode::{Document, FromManifest};

/// The key type of a scope's objects in a [`Snapshot`].
macro_rules! scope_key {
    (cluster) => {
        String
    };
    (namespaced) => {
        (String, String)
    };
}

/// A snapshot key from `(namespace, name)`, by scope.
macro_rules! scope_id {
    (cluster, $id:expr) => {
        $id.1
    };
    (namespaced, $id:expr) => {
        $id
    };
}

/// Generates the per-kind plumbing from the table; see the module documentation.
macro_rules! kinds {
    ($(
        $(#[$doc:meta])*
        $kind:ident($stored:ty) $scope:ident $field:ident;
    )*) => {
        /// One object of a kind Portcullis reads. Namespaced kinds always carry a namespace
        /// here: sources fill in `default` where a manifest leaves it out.
        #[derive(Debug, Clone)]
        pub enum Object {
            $( $(#[$doc])* $kind(Arc<$stored>), )*
        }

        /// The kinds in [`Object`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $( $(#[$doc])* $kind, )*
        }

        impl Kind {
            /// Every kind, for lookups by name.
            pub const ALL: &'static [Kind] = &[$( Kind::$kind, )*];

            /// The `kind:` field value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Kind::$kind => stringify!($kind), )*
                }
            }

            /// True for kinds that live in a namespace.
            pub fn is_namespaced(self) -> bool {
                match self {
                    $( Kind::$kind => stringify!($scope) == "namespaced", )*
                }
            }

            /// The kind whose `kind:` field value this is, if Portcullis reads it.
            pub fn from_name(name: &str) -> Option<Kind> {
                Kind::ALL.iter().copied().find(|kind| kind.as_str() == name)
            }
        }

        impl Object {
            /// The object's kind.
            pub fn kind(&self) -> Kind {
                match self {
                    $( Object::$kind(_) => Kind::$kind, )*
                }
            }

            /// The object's namespace (empty for cluster-scoped kinds, whatever a manifest
            /// wrote, as the API server does) and name.
            pub fn namespace_and_name(&self) -> (&str, &str) {
                let (namespace, name) = match self {
                    $( Object::$kind(o) => o.namespace_and_name(), )*
                };
                if self.kind().is_namespaced() {
                    (namespace, name)
                } else {
                    ("", name)
                }
            }

            /// The object without the fields nothing reads, as a fresh copy made on this
            /// thread (see [`crate::slim`]).
            pub fn slimmed(self) -> Object {
                match self {
                    $( Object::$kind(o) => Object::$kind(crate::slim::edit(o, Stored::slim)), )*
                }
            }

            /// Decodes one manifest document of `kind`.
            pub(crate) fn from_manifest(
                kind: Kind,
                document: &Document<'_>,
                api_version: &str,
                value: &serde_yaml_ng::Value,
                text: Option<&str>,
            ) -> Result<Object, ParseError> {
                match kind {
                    $( Kind::$kind => <$stored as FromManifest>::from_manifest(
                        document, api_version, value, text,
                    ).map(Object::$kind), )*
                }
            }
        }

        /// All objects at one moment, by kind, keyed by `(namespace, name)` (cluster-scoped
        /// kinds: name only).
        #[derive(Debug, Clone, Default)]
        pub struct Snapshot {
            $( $(#[$doc])* pub $field: BTreeMap<scope_key!($scope), Arc<$stored>>, )*
        }

        impl Snapshot {
            /// Adds or replaces one object.
            pub fn insert(&mut self, object: Object) {
                let key = object.key();
                let id = (key.namespace, key.name);
                match object {
                    $( Object::$kind(o) => {
                        self.$field.insert(scope_id!($scope, id), o);
                    } )*
                }
            }

            /// Removes one object, if present.
            pub fn remove(&mut self, key: &ObjectKey) {
                let id = (key.namespace.clone(), key.name.clone());
                match key.kind {
                    $( Kind::$kind => {
                        self.$field.remove(&scope_id!($scope, id));
                    } )*
                }
            }
        }
    };
}

kinds! {
    /// `networking.k8s.io/v1` IngressClass.
    IngressClass(IngressClass) cluster ingress_classes;
    /// `networking.k8s.io/v1` Ingress.
    Ingress(Ingress) namespaced ingresses;
    /// `v1` Service, compact.
    Service(CompactService) namespaced services;
    /// `discovery.k8s.io/v1` EndpointSlice, compact.
    EndpointSlice(CompactSlice) namespaced endpoint_slices;
    /// `v1` Endpoints, compact: the fallback when a Service has no EndpointSlice.
    Endpoints(CompactEndpoints) namespaced endpoints;
    /// `v1` Secret (TLS certificates).
    Secret(Secret) namespaced secrets;
    /// `v1` Node, compact: pod CIDRs and addresses, for the node agent.
    Node(CompactNode) cluster nodes;
    /// `v1` Pod, as the policy compiler reads it (node agent).
    Pod(model::Pod) namespaced pods;
    /// `v1` Namespace, as the policy compiler reads it (node agent).
    Namespace(model::Namespace) cluster namespaces;
    /// `networking.k8s.io/v1` NetworkPolicy, unparsed (node agent).
    NetworkPolicy(RawPolicy) namespaced network_policies;
    /// `gateway.networking.k8s.io` GatewayClass.
    GatewayClass(GatewayClass) cluster gateway_classes;
    /// `gateway.networking.k8s.io` Gateway.
    Gateway(Gateway) namespaced gateways;
    /// `gateway.networking.k8s.io` HTTPRoute.
    HTTPRoute(HttpRoute) namespaced http_routes;
    /// `gateway.networking.k8s.io` GRPCRoute.
    GRPCRoute(GrpcRoute) namespaced grpc_routes;
    /// `gateway.networking.k8s.io` TLSRoute.
    TLSRoute(TlsRoute) namespaced tls_routes;
    /// `gateway.networking.k8s.io` BackendTLSPolicy.
    BackendTLSPolicy(BackendTlsPolicy) namespaced backend_tls_policies;
    /// `v1` ConfigMap, only its `ca.crt` (BackendTLSPolicy CA certificates).
    ConfigMap(ConfigMap) namespaced config_maps;
    /// `gateway.networking.k8s.io` ReferenceGrant (served as v1beta1 and v1).
    ReferenceGrant(ReferenceGrant) namespaced reference_grants;
}

#[cfg(test)]
mod tests;
