//! Events arrive one at a time but are acted on in batches: the first event and every event
//! already waiting behind it go into the store together, so a burst (a re-list, a folder of
//! manifests) costs one rebuild or reconcile, not one per object. Shared by the ingress
//! controller's reconciler (a blocking thread) and the node agent's loop (async).

use std::time::Instant;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::objects::ObjectKey;
use crate::store::{Store, StoreEvent};

/// One batch, applied to the store: what a caller needs to decide whether and what to redo.
#[derive(Debug)]
pub struct Batch {
    /// When the batch's first event was received, to time the work it causes.
    pub started: Instant,
    /// The keys whose merged copy moved, taken from the store (see [`Store::take_changes`]).
    pub changes: Vec<ObjectKey>,
    /// Whether every source has reported its initial state complete.
    pub synced: bool,
}

/// Waits for the next event and applies it with every event already queued behind it; `None`
/// once every sender is gone. Cancel-safe: the only await is the receive.
pub async fn next_batch(
    events: &mut UnboundedReceiver<StoreEvent>,
    store: &mut Store,
) -> Option<Batch> {
    let first = events.recv().await?;
    Some(apply_batch(first, events, store))
}

/// [`next_batch`] for a thread outside the async runtime: blocks until the next event.
pub fn next_batch_blocking(
    events: &mut UnboundedReceiver<StoreEvent>,
    store: &mut Store,
) -> Option<Batch> {
    let first = events.blocking_recv()?;
    Some(apply_batch(first, events, store))
}

/// Applies `first` and whatever is already waiting in `events`, then takes the changes.
fn apply_batch(
    first: StoreEvent,
    events: &mut UnboundedReceiver<StoreEvent>,
    store: &mut Store,
) -> Batch {
    let started = Instant::now();
    store.apply(first);
    while let Ok(more) = events.try_recv() {
        store.apply(more);
    }
    Batch {
        started,
        changes: store.take_changes(),
        synced: store.is_synced(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::objects::{CompactNode, Kind, Object};
    use crate::store::SourceId;
    use tokio::sync::mpsc::unbounded_channel;

    fn node(name: &str) -> StoreEvent {
        StoreEvent::Apply {
            source: SourceId("test".into()),
            object: Object::Node(Arc::new(CompactNode {
                name: name.to_string(),
                pod_cidrs: Vec::new(),
                internal_ips: Vec::new(),
            })),
        }
    }

    #[test]
    fn applies_every_waiting_event_in_one_batch() {
        let (sender, mut events) = unbounded_channel();
        let mut store = Store::default();
        for event in [node("a"), node("b"), StoreEvent::Synced] {
            let _ = sender.send(event);
        }
        let batch = next_batch_blocking(&mut events, &mut store).unwrap();
        assert!(batch.synced);
        let names: Vec<_> = batch
            .changes
            .iter()
            .map(|key| (key.kind, &*key.name))
            .collect();
        assert_eq!(names, [(Kind::Node, "a"), (Kind::Node, "b")]);
        assert!(
            store.take_changes().is_empty(),
            "the batch took the changes"
        );

        let _ = sender.send(node("c"));
        drop(sender);
        let batch = next_batch_blocking(&mut events, &mut store).unwrap();
        assert_eq!(batch.changes.len(), 1);
        assert!(next_batch_blocking(&mut events, &mut store).is_none());
    }

    #[tokio::test]
    async fn an_unsynced_batch_says_so() {
        let (sender, mut events) = unbounded_channel();
        let mut store = Store::default();
        let _ = sender.send(node("a"));
        let batch = next_batch(&mut events, &mut store).await.unwrap();
        assert!(!batch.synced);
        assert_eq!(batch.changes.len(), 1);
    }
}
