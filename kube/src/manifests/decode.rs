//! How one manifest document becomes each stored type: the second half of a row of the
//! [`crate::objects::kinds`] table.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use portcullis_policy::model;

pub(crate) use super::parse::Document;
use super::parse::ParseError;
use crate::objects::gateway_api::{
    BackendTlsPolicy, Gateway, GatewayClass, GrpcRoute, HttpRoute, ReferenceGrant, TlsRoute,
};
use crate::objects::stored::FromDecoded;
use crate::objects::{CompactEndpoints, CompactNode, CompactService, CompactSlice, RawPolicy};

/// Decodes one document (already known to be of this type's kind) into the stored type.
pub(crate) trait FromManifest: Sized {
    /// With `text`, the object is read from the text so errors point at a line.
    fn from_manifest(
        document: &Document<'_>,
        api_version: &str,
        value: &serde_yaml_ng::Value,
        text: Option<&str>,
    ) -> Result<Arc<Self>, ParseError>;
}

/// Kinds decoded as a `k8s-openapi` type, then kept as [`FromDecoded`] says.
macro_rules! decoded_as {
    ($($stored:ty => $decoded:ty;)*) => {$(
        impl FromManifest for $stored {
            fn from_manifest(
                document: &Document<'_>,
                api_version: &str,
                value: &serde_yaml_ng::Value,
                text: Option<&str>,
            ) -> Result<Arc<Self>, ParseError> {
                let decoded = document.decode::<$decoded>(api_version, value, text)?;
                Ok(<$stored>::from_decoded(decoded))
            }
        }
    )*};
}
decoded_as! {
    IngressClass => IngressClass;
    Ingress => Ingress;
    Secret => Secret;
    ConfigMap => ConfigMap;
    CompactService => Service;
    CompactSlice => EndpointSlice;
    CompactEndpoints => Endpoints;
    CompactNode => Node;
    model::Pod => Pod;
    model::Namespace => Namespace;
}

/// Kept as JSON: the policy parser reads it and names its own errors.
impl FromManifest for RawPolicy {
    fn from_manifest(
        document: &Document<'_>,
        api_version: &str,
        value: &serde_yaml_ng::Value,
        _text: Option<&str>,
    ) -> Result<Arc<Self>, ParseError> {
        document.raw_policy(api_version, value).map(Arc::new)
    }
}

/// Gateway API kinds: our own serde types, any served version.
macro_rules! gateway_api_decoded {
    ($($stored:ty),*) => {$(
        impl FromManifest for $stored {
            fn from_manifest(
                document: &Document<'_>,
                api_version: &str,
                value: &serde_yaml_ng::Value,
                text: Option<&str>,
            ) -> Result<Arc<Self>, ParseError> {
                document.decode_gateway_api::<$stored>(api_version, value, text)
            }
        }
    )*};
}
gateway_api_decoded!(
    GatewayClass,
    Gateway,
    HttpRoute,
    GrpcRoute,
    TlsRoute,
    BackendTlsPolicy,
    ReferenceGrant
);
