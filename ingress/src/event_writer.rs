//! Kubernetes Events on the objects users must fix, so `kubectl describe ingress` shows them.
//!
//! The reconciler sends the current problems after every rebuild; this task publishes each one
//! once while it lasts, and kube-runtime's `Recorder` folds repeats into an event series. Only the
//! leader publishes, so several replicas do not report the same problem several times.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;
use tracing::warn;

/// One Event to publish.
#[derive(Debug, Clone)]
pub struct EventNotice {
    /// The object at fault (an Ingress or a Secret), with its uid.
    pub object: ObjectReference,
    /// Short CamelCase reason, e.g. `BackendUnavailable`.
    pub reason: &'static str,
    /// The diagnostic: field and what is wrong.
    pub note: String,
}

/// Publishes notices while this replica leads, until the sender is gone. Each batch is the full
/// set of current problems: a problem is published once while it lasts (also when this replica
/// takes over leadership later), and again only if it goes away and comes back.
pub async fn run_event_writer(
    client: Client,
    controller: String,
    identity: String,
    mut notices: UnboundedReceiver<Vec<EventNotice>>,
    mut leading: watch::Receiver<bool>,
) {
    let recorder = Recorder::new(
        client,
        Reporter {
            controller,
            instance: Some(identity),
        },
    );
    let mut current: Vec<EventNotice> = Vec::new();
    let mut published: HashSet<(String, String, &'static str, String)> = HashSet::new();
    loop {
        tokio::select! {
            batch = notices.recv() => match batch {
                Some(batch) => current = batch,
                None => return,
            },
            changed = leading.changed() => if changed.is_err() { return },
        }
        let keys: HashSet<_> = current.iter().map(key).collect();
        published.retain(|k| keys.contains(k));
        if !*leading.borrow() {
            continue;
        }
        for notice in &current {
            if published.contains(&key(notice)) {
                continue;
            }
            let event = Event {
                type_: EventType::Warning,
                reason: notice.reason.to_string(),
                note: Some(notice.note.clone()),
                action: "Reconcile".to_string(),
                secondary: None,
            };
            match recorder.publish(&event, &notice.object).await {
                Ok(()) => {
                    published.insert(key(notice));
                }
                Err(error) => warn!("cannot publish an Event ({}): {error}", notice.reason),
            }
        }
    }
}

/// Identifies one problem on one object.
fn key(notice: &EventNotice) -> (String, String, &'static str, String) {
    (
        notice.object.namespace.clone().unwrap_or_default(),
        notice.object.name.clone().unwrap_or_default(),
        notice.reason,
        notice.note.clone(),
    )
}
