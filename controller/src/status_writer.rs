//! Writes Ingress status to the API: the thin edge behind `translate::status_updates`.
//!
//! The reconciler sends the updates each rebuild computes; this task merge-patches
//! `ingresses/status`. A failed patch is retried every few seconds with the latest desired
//! addresses, since no watch event will come to trigger a new rebuild for it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{debug, warn};

use crate::objects::ObjectKey;
use crate::translate::StatusUpdate;

/// How long a failed patch waits before it is tried again.
const RETRY: Duration = Duration::from_secs(5);

/// Applies status updates until the sender is gone.
pub async fn run_status_writer(client: Client, mut updates: UnboundedReceiver<Vec<StatusUpdate>>) {
    let mut failed: BTreeMap<ObjectKey, StatusUpdate> = BTreeMap::new();
    loop {
        let batch = if failed.is_empty() {
            match updates.recv().await {
                Some(batch) => batch,
                None => return,
            }
        } else {
            tokio::select! {
                batch = updates.recv() => match batch {
                    Some(batch) => batch,
                    None => return,
                },
                () = tokio::time::sleep(RETRY) => Vec::new(),
            }
        };
        // Newer desired addresses replace a pending retry for the same Ingress.
        for update in batch {
            failed.insert(update.ingress.clone(), update);
        }
        let pending = std::mem::take(&mut failed);
        for (key, update) in pending {
            if let Err(error) = write(&client, &update).await {
                warn!(
                    "{key}: cannot write status: {error}; retrying in {}s",
                    RETRY.as_secs()
                );
                failed.insert(key, update);
            } else {
                debug!(
                    "{key}: status written ({} addresses)",
                    update.addresses.len()
                );
            }
        }
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
