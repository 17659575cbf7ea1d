//! The loop both status writers run: keep the latest desired write per object, apply them only
//! while this replica holds the leader Lease (a few at a time), and retry failures every few
//! seconds, since no watch event will come to ask again.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use kube::Client;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;
use tracing::{debug, warn};

/// How long a failed write waits before it is tried again.
const RETRY: Duration = Duration::from_secs(5);

/// Writes in flight at once: 10,000 routes' first status takes seconds, not minutes.
const CONCURRENT_WRITES: usize = 8;

/// One desired write to one object's status.
pub(crate) trait StatusWrite: Send + Sync + 'static {
    /// The object written.
    type Key: Ord + Clone + Display + Send + Sync;

    /// Which object this write is for: a newer write for it replaces a pending one.
    fn key(&self) -> Self::Key;

    /// Writes it.
    fn write(&self, client: &Client) -> impl Future<Output = Result<(), kube::Error>> + Send;
}

/// Applies writes until the sender is gone, only while `leading` says this replica leads.
/// API answers with a status in `settled` (the object is gone, or changed since) drop the write:
/// the watch brings what to do next.
pub(crate) async fn run_leader_writes<W: StatusWrite>(
    client: Client,
    mut writes: UnboundedReceiver<Vec<W>>,
    mut leading: watch::Receiver<bool>,
    settled: &'static [u16],
) {
    let mut pending: BTreeMap<W::Key, W> = BTreeMap::new();
    let mut retrying = false;
    loop {
        let batch = tokio::select! {
            batch = writes.recv() => match batch {
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
        for write in batch {
            pending.insert(write.key(), write);
        }
        if !*leading.borrow() {
            retrying = false;
            continue;
        }
        let attempts = std::mem::take(&mut pending)
            .into_iter()
            .map(|(key, write)| {
                let client = client.clone();
                async move {
                    let written = write.write(&client).await;
                    (key, write, written)
                }
            });
        let results: Vec<_> = futures_util::stream::iter(attempts)
            .buffer_unordered(CONCURRENT_WRITES)
            .collect()
            .await;
        for (key, write, written) in results {
            match written {
                Ok(()) => debug!("{key}: status written"),
                Err(kube::Error::Api(status)) if settled.contains(&status.code) => {}
                Err(error) => {
                    warn!(
                        "{key}: cannot write status: {error}; retrying in {}s",
                        RETRY.as_secs()
                    );
                    // A newer write that arrived meanwhile is kept instead.
                    pending.entry(key).or_insert(write);
                }
            }
        }
        retrying = !pending.is_empty();
    }
}
