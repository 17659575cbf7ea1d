//! Writes Ingress status to the API: the thin edge behind `translate::status_updates`.
//!
//! The reconciler sends the updates each rebuild computes; this task merge-patches
//! `ingresses/status` while this replica holds the leader Lease. A failed patch is retried every
//! few seconds with the latest desired addresses, since no watch event will come to trigger a
//! new rebuild for it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::translate::StatusUpdate;
use portcullis_kube::objects::ObjectKey;

/// How long a failed patch waits before it is tried again.
const RETRY: Duration = Duration::from_secs(5);

/// Applies status updates until the sender is gone, but only while `leading` says this replica
/// leads; meanwhile it keeps the latest desired status per Ingress and writes it on taking over.
pub async fn run_status_writer(
    client: Client,
    mut updates: UnboundedReceiver<Vec<StatusUpdate>>,
    mut leading: watch::Receiver<bool>,
) {
    let mut pending: BTreeMap<ObjectKey, StatusUpdate> = BTreeMap::new();
    let mut retrying = false;
    loop {
        let batch = tokio::select! {
            batch = updates.recv() => match batch {
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
        // Newer desired addresses replace a pending write for the same Ingress.
        for update in batch {
            pending.insert(update.ingress.clone(), update);
        }
        if !*leading.borrow() {
            retrying = false;
            continue;
        }
        for (key, update) in std::mem::take(&mut pending) {
            match write(&client, &update).await {
                Ok(()) => debug!(
                    "{key}: status written ({} addresses)",
                    update.addresses.len()
                ),
                // Gone meanwhile: nothing left to write.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => {
                    warn!(
                        "{key}: cannot write status: {error}; retrying in {}s",
                        RETRY.as_secs()
                    );
                    pending.insert(key, update);
                }
            }
        }
        retrying = !pending.is_empty();
    }
}

async fn write(client: &Client, update: &StatusUpdate) -> Result<(), kube::Error> {
    let api: Api<Ingress> = Api::namespaced(client.clone(), &update.ingress.namespace);
    let addresses = if update.addresses.is_empty() {
        serde_json::Value::Null
    } else {
        json!(update.addresses)
    };
    let patch = json!({"status": {"loadBalancer": {"ingress": addresses}}});
    api.patch_status(
        &update.ingress.name,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
}
