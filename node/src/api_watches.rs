//! The kinds the node agent watches in API mode.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::watcher;
use portcullis_kube::kube_source::Watches;
use portcullis_kube::objects::{Object, RawPolicy};
use portcullis_kube::store::StoreEvent;
use tokio::sync::mpsc::UnboundedSender;

/// Watches the node agent's kinds until the receiver is gone: Nodes, and with `network_policy`
/// Pods, Namespaces and NetworkPolicies (all namespaces: peers can be anywhere). Policies are
/// watched untyped, so fields newer than this binary reach the parser and fail closed.
pub async fn run_node_kube_source(
    client: Client,
    network_policy: bool,
    events: UnboundedSender<StoreEvent>,
) {
    let plain = watcher::Config::default;
    let mut watches = Watches::new(events);
    watches.add::<Node>(Api::all(client.clone()), plain(), Object::node);
    if !network_policy {
        watches.run().await;
        return;
    }
    watches.add::<Pod>(Api::all(client.clone()), plain(), Object::pod);
    watches.add::<Namespace>(Api::all(client.clone()), plain(), Object::namespace);
    let policies = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
    ));
    watches.add_named(
        "NetworkPolicy".to_string(),
        Api::<DynamicObject>::all_with(client, &policies),
        plain(),
        |object| {
            let json = serde_json::to_value(&*object).unwrap_or(serde_json::Value::Null);
            Object::NetworkPolicy(Arc::new(RawPolicy::new(json)))
        },
    );
    watches.run().await;
}
