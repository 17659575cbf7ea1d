//! Writes Ingress status to the API: the thin edge behind `translate::status_updates`.
//!
//! The reconciler sends the updates each rebuild computes; this task merge-patches
//! `ingresses/status` while this replica holds the leader Lease. A failed patch is retried every
//! few seconds with the latest desired addresses, since no watch event will come to trigger a
//! new rebuild for it.

use std::future::Future;

use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;

use crate::leader_writes::{StatusWrite, run_leader_writes};
use crate::translate::StatusUpdate;
use portcullis_kube::objects::ObjectKey;

/// Applies status updates until the sender is gone, but only while `leading` says this replica
/// leads; meanwhile it keeps the latest desired status per Ingress and writes it on taking over.
pub async fn run_status_writer(
    client: Client,
    updates: UnboundedReceiver<Vec<StatusUpdate>>,
    leading: watch::Receiver<bool>,
) {
    // Gone meanwhile: nothing left to write.
    run_leader_writes(client, updates, leading, &[404]).await;
}

impl StatusWrite for StatusUpdate {
    type Key = ObjectKey;

    fn key(&self) -> ObjectKey {
        self.ingress.clone()
    }

    fn write(&self, client: &Client) -> impl Future<Output = Result<(), kube::Error>> + Send {
        write(client.clone(), self.clone())
    }
}

async fn write(client: Client, update: StatusUpdate) -> Result<(), kube::Error> {
    let api: Api<Ingress> = Api::namespaced(client, &update.ingress.namespace);
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
