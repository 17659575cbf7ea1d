//! The kinds the ingress controller watches in API mode.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use portcullis_kube::kube_source::{CustomResource, Watches, scoped};
use portcullis_kube::objects::Object;
use portcullis_kube::objects::gateway_api::{
    BackendTlsPolicy, GATEWAY_API_GROUP, Gateway, GatewayClass, GrpcRoute, HttpRoute,
    ReferenceGrant, TlsRoute, from_api,
};
use portcullis_kube::store::StoreEvent;
use tokio::sync::mpsc::UnboundedSender;

/// Watches IngressClasses, Ingresses, Services, EndpointSlices and TLS Secrets (all
/// namespaces, or only `namespace`), and the Gateway API kinds whose CRDs are installed (and
/// Namespaces, whose labels `allowedRoutes` selectors read) until the receiver is gone.
pub async fn run_kube_source(
    client: Client,
    namespace: Option<String>,
    events: UnboundedSender<StoreEvent>,
) {
    let plain = watcher::Config::default;
    let mut watches = Watches::new(events);
    watches.add::<IngressClass>(Api::all(client.clone()), plain(), Object::IngressClass);
    watches.add::<Ingress>(
        scoped(&client, namespace.as_deref()),
        plain(),
        Object::Ingress,
    );
    watches.add::<Service>(
        scoped(&client, namespace.as_deref()),
        plain(),
        Object::service,
    );
    watches.add::<EndpointSlice>(
        scoped(&client, namespace.as_deref()),
        plain(),
        Object::endpoint_slice,
    );
    let tls_only = plain().fields("type=kubernetes.io/tls");
    watches.add::<Secret>(
        scoped(&client, namespace.as_deref()),
        tls_only,
        Object::Secret,
    );
    watches.add::<Namespace>(Api::all(client.clone()), plain(), Object::namespace);
    // BackendTLSPolicy CA certificates (only `ca.crt` is kept).
    watches.add::<ConfigMap>(
        scoped(&client, namespace.as_deref()),
        plain(),
        Object::ConfigMap,
    );
    for (resource, wrap) in GATEWAY_API_KINDS {
        watches.add_custom(client.clone(), *resource, namespace.clone(), *wrap);
    }
    watches.run().await;
}

/// How an API object of a custom resource becomes ours.
type FromApi = fn(Arc<DynamicObject>) -> Object;

/// The Gateway API kinds read, and how the API's objects become ours.
const GATEWAY_API_KINDS: &[(CustomResource, FromApi)] = &[
    (
        gateway_api_kind("GatewayClass", "gatewayclasses", false),
        from_api::<GatewayClass>,
    ),
    (
        gateway_api_kind("Gateway", "gateways", true),
        from_api::<Gateway>,
    ),
    (
        gateway_api_kind("HTTPRoute", "httproutes", true),
        from_api::<HttpRoute>,
    ),
    (
        gateway_api_kind("GRPCRoute", "grpcroutes", true),
        from_api::<GrpcRoute>,
    ),
    (
        gateway_api_kind("TLSRoute", "tlsroutes", true),
        from_api::<TlsRoute>,
    ),
    (
        gateway_api_kind("BackendTLSPolicy", "backendtlspolicies", true),
        from_api::<BackendTlsPolicy>,
    ),
    (
        gateway_api_kind("ReferenceGrant", "referencegrants", true),
        from_api::<ReferenceGrant>,
    ),
];

/// A `gateway.networking.k8s.io` kind, read as `v1` (else `v1beta1`, as older releases
/// serve ReferenceGrant, else `v1alpha3` or `v1alpha2`, as they serve TLSRoute).
const fn gateway_api_kind(
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> CustomResource {
    CustomResource {
        group: GATEWAY_API_GROUP,
        versions: &["v1", "v1beta1", "v1alpha3", "v1alpha2"],
        kind,
        plural,
        namespaced,
    }
}
