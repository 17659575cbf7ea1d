//! Writes Gateway API status (GatewayClasses, Gateways, HTTPRoutes): the thin edge behind
//! `portcullis_gateway::status_patches`.
//!
//! The reconciler sends the patches each Gateway API translation computes; this task writes
//! each object's `status` subresource while this replica holds the leader Lease, keeping the
//! latest patch per object meanwhile. A route's write carries the `resourceVersion` it was
//! computed from: when another controller wrote its parents in between, the write is refused
//! (409) and dropped, and the watch event of that write brings a fresh computation.

use std::future::Future;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use portcullis_gateway::StatusPatch;
use portcullis_kube::objects::gateway_api::GATEWAY_API_GROUP;
use portcullis_kube::objects::{Kind, ObjectKey};
use serde_json::json;

use crate::leader_writes::{StatusWrite, run_leader_writes};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;

/// Applies status patches until the sender is gone, only while `leading` says this replica
/// leads.
pub async fn run_gateway_status_writer(
    client: Client,
    patches: UnboundedReceiver<Vec<StatusPatch>>,
    leading: watch::Receiver<bool>,
) {
    // Gone, or changed by someone else since: the watch brings what to do next.
    run_leader_writes(client, patches, leading, &[404, 409]).await;
}

impl StatusWrite for StatusPatch {
    type Key = ObjectKey;

    fn key(&self) -> ObjectKey {
        self.object.clone()
    }

    fn write(&self, client: &Client) -> impl Future<Output = Result<(), kube::Error>> + Send {
        write(client.clone(), self.clone())
    }
}

/// The API of a Gateway API kind, `v1`.
fn api_of(client: &Client, key: &ObjectKey) -> Option<Api<DynamicObject>> {
    let (kind, plural) = match key.kind {
        Kind::GatewayClass => ("GatewayClass", "gatewayclasses"),
        Kind::Gateway => ("Gateway", "gateways"),
        Kind::HTTPRoute => ("HTTPRoute", "httproutes"),
        Kind::GRPCRoute => ("GRPCRoute", "grpcroutes"),
        Kind::TLSRoute => ("TLSRoute", "tlsroutes"),
        Kind::BackendTLSPolicy => ("BackendTLSPolicy", "backendtlspolicies"),
        _ => return None,
    };
    let resource = ApiResource {
        group: GATEWAY_API_GROUP.to_string(),
        version: "v1".to_string(),
        api_version: format!("{GATEWAY_API_GROUP}/v1"),
        kind: kind.to_string(),
        plural: plural.to_string(),
    };
    Some(if key.namespace.is_empty() {
        Api::all_with(client.clone(), &resource)
    } else {
        Api::namespaced_with(client.clone(), &key.namespace, &resource)
    })
}

async fn write(client: Client, patch: StatusPatch) -> Result<(), kube::Error> {
    let Some(api) = api_of(&client, &patch.object) else {
        return Ok(());
    };
    let mut body = json!({ "status": patch.status });
    if let Some(version) = &patch.resource_version {
        body["metadata"] = json!({ "resourceVersion": version });
    }
    api.patch_status(
        &patch.object.name,
        &PatchParams::default(),
        &Patch::Merge(&body),
    )
    .await
    .map(|_| ())
}
