//! Writes Gateway API status (GatewayClasses, Gateways, HTTPRoutes): the thin edge behind
//! `portcullis_gateway::status_patches`.
//!
//! The reconciler sends the patches each Gateway API translation computes; this task writes
//! each object's `status` subresource while this replica holds the leader Lease, keeping the
//! latest patch per object meanwhile. A route's write carries the `resourceVersion` it was
//! computed from: when another controller wrote its parents in between, the write is refused
//! (409) and dropped, and the watch event of that write brings a fresh computation.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use portcullis_gateway::StatusPatch;
use portcullis_kube::objects::gateway_api::GATEWAY_API_GROUP;
use portcullis_kube::objects::{Kind, ObjectKey};
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;
use tracing::{debug, warn};

/// How long a failed write waits before it is tried again.
const RETRY: Duration = Duration::from_secs(5);

/// Status writes in flight at once: 10,000 routes' first status takes seconds, not minutes.
const CONCURRENT_WRITES: usize = 8;

/// Applies status patches until the sender is gone, only while `leading` says this replica
/// leads.
pub async fn run_gateway_status_writer(
    client: Client,
    mut patches: UnboundedReceiver<Vec<StatusPatch>>,
    mut leading: watch::Receiver<bool>,
) {
    let mut pending: BTreeMap<ObjectKey, StatusPatch> = BTreeMap::new();
    let mut retrying = false;
    loop {
        let batch = tokio::select! {
            batch = patches.recv() => match batch {
                Some(batch) => batch,
                None => return,
            },
            changed = leading.changed() => {
                if changed.is_err() {
                    return;
                }
                Vec::new()
            }
            () = tokio::time::sleep(RETRY), if retrying => Vec::new(),
        };
        for patch in batch {
            pending.insert(patch.object.clone(), patch);
        }
        if !*leading.borrow() {
            retrying = false;
            continue;
        }
        let writes = std::mem::take(&mut pending)
            .into_iter()
            .map(|(key, patch)| {
                let client = client.clone();
                async move {
                    let written = write(&client, &patch).await;
                    (key, patch, written)
                }
            });
        let results: Vec<_> = futures_util::stream::iter(writes)
            .buffer_unordered(CONCURRENT_WRITES)
            .collect()
            .await;
        for (key, patch, written) in results {
            match written {
                Ok(()) => debug!("{key}: Gateway API status written"),
                // Gone, or changed by someone else since: the watch brings what to do next.
                Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
                Err(error) => {
                    warn!(
                        "{key}: cannot write status: {error}; retrying in {}s",
                        RETRY.as_secs()
                    );
                    // A newer patch that arrived meanwhile is kept instead.
                    pending.entry(key).or_insert(patch);
                }
            }
        }
        retrying = !pending.is_empty();
    }
}

/// The API of a Gateway API kind, `v1`.
fn api_of(client: &Client, key: &ObjectKey) -> Option<Api<DynamicObject>> {
    let (kind, plural) = match key.kind {
        Kind::GatewayClass => ("GatewayClass", "gatewayclasses"),
        Kind::Gateway => ("Gateway", "gateways"),
        Kind::HTTPRoute => ("HTTPRoute", "httproutes"),
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

async fn write(client: &Client, patch: &StatusPatch) -> Result<(), kube::Error> {
    let Some(api) = api_of(client, &patch.object) else {
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
