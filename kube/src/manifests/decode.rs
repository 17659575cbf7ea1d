//! How one manifest document becomes each stored type: the second half of a row of the
//! [`crate::objects::kinds`] table.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use portcullis_policy::model;

pub(crate) use super::parse::Document;
use super::parse::ParseError;
use crate::objects::{
    CompactEndpoints, CompactNode, CompactService, CompactSlice, RawPolicy, compact_namespace,
    compact_pod,
};

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

/// Kinds decoded as a `k8s-openapi` type, then kept as decoded or in compact form.
macro_rules! decoded_as {
    ($($stored:ty => $decoded:ty, $keep:expr;)*) => {$(
        impl FromManifest for $stored {
            fn from_manifest(
                document: &Document<'_>,
                api_version: &str,
                value: &serde_yaml_ng::Value,
                text: Option<&str>,
            ) -> Result<Arc<Self>, ParseError> {
                let decoded = document.decode::<$decoded>(api_version, value, text)?;
                Ok($keep(decoded))
            }
        }
    )*};
}
decoded_as! {
    IngressClass => IngressClass, std::convert::identity;
    Ingress => Ingress, std::convert::identity;
    Secret => Secret, std::convert::identity;
    CompactService => Service, |s: Arc<Service>| Arc::new(CompactService::from(&*s));
    CompactSlice => EndpointSlice, |s: Arc<EndpointSlice>| Arc::new(CompactSlice::from(&*s));
    CompactEndpoints => Endpoints, |e: Arc<Endpoints>| Arc::new(CompactEndpoints::from(&*e));
    CompactNode => Node, |n: Arc<Node>| Arc::new(CompactNode::from(&*n));
    model::Pod => Pod, |p: Arc<Pod>| Arc::new(compact_pod(&p));
    model::Namespace => Namespace, |n: Arc<Namespace>| Arc::new(compact_namespace(&n));
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
