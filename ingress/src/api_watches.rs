//! The kinds the ingress controller watches in API mode.

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::Client;
use kube::api::Api;
use kube::runtime::watcher;
use portcullis_kube::kube_source::{Watches, scoped};
use portcullis_kube::objects::Object;
use portcullis_kube::store::StoreEvent;
use tokio::sync::mpsc::UnboundedSender;

/// Watches IngressClasses, Ingresses, Services, EndpointSlices and TLS Secrets (all
/// namespaces, or only `namespace`) until the receiver is gone.
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
    watches.run().await;
}
