//! Store events in, routing tables out: the loop between the sources and the proxy.
//!
//! Runs on its own OS thread, so a large rebuild never stalls a proxy worker. Events that
//! arrive while a rebuild runs are applied together before the next one. No table is
//! published before the sources report their initial state complete.

mod event_notices;
mod gateway;
mod rebuild;
mod reported;

use std::sync::Arc;

use portcullis_proxy::certificates::{CertificateCache, LiveCertificates};
use portcullis_proxy::live::LiveTable;
use portcullis_proxy::metrics::Metrics;
use rustls::sign::CertifiedKey;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tracing::info;

use crate::event_writer::EventNotice;
use crate::translate::{StatusSource, StatusUpdate, TranslateConfig, Translator};
use portcullis_kube::event_batches::next_batch_blocking;
use portcullis_kube::store::{Store, StoreEvent};
use reported::Reported;

use gateway::GatewayServing;
pub use gateway::{GatewayPort, GatewayStatusTarget, GatewayTarget};

/// Where a published table goes and what is told about it.
pub struct Publisher {
    /// The table the proxy serves.
    pub live: Arc<LiveTable>,
    /// Counters for rebuilds and routes.
    pub metrics: Arc<Metrics>,
    /// How objects become routes.
    pub config: TranslateConfig,
    /// Called after every publish (e.g. to mark the process ready).
    pub on_publish: Box<dyn Fn() + Send>,
    /// Where certificates go when an HTTPS listener runs.
    pub certificates: Option<CertificateTarget>,
    /// Where Ingress status updates go (API mode with a publish flag).
    pub status: Option<StatusTarget>,
    /// Where Event notices go (API mode).
    pub events: Option<UnboundedSender<Vec<EventNotice>>>,
    /// Where Gateway API tables go.
    pub gateway: Option<GatewayTarget>,
}

/// The status side of publishing: which addresses, and the writer that applies them.
#[derive(Debug)]
pub struct StatusTarget {
    /// `--publish-status-address` or `--publish-service`.
    pub source: StatusSource,
    /// The status writer's inbox.
    pub updates: UnboundedSender<Vec<StatusUpdate>>,
}

/// The HTTPS side of publishing: the live store and the certificate used when none fits.
#[derive(Debug, Clone)]
pub struct CertificateTarget {
    /// The store the TLS listener reads.
    pub live: Arc<LiveCertificates>,
    /// Served for names no usable Secret covers (self-signed unless configured).
    pub fallback: Arc<CertifiedKey>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Applies events until every sender is gone, rebuilding after each batch once synced.
/// Blocking: call it on a dedicated thread.
pub fn run_reconciler(mut events: UnboundedReceiver<StoreEvent>, publisher: Publisher) {
    let mut store = Store::default();
    let mut reconciler = Reconciler::new(&publisher.config);
    while let Some(batch) = next_batch_blocking(&mut events, &mut store) {
        // Before the first rebuild the changes do not matter: the first translation reads
        // everything.
        if batch.synced {
            reconciler.rebuild(&store, &batch.changes, &publisher, batch.started);
        }
    }
    info!("all sources closed; reconciler stops");
}

/// What the reconciler keeps from one rebuild to the next.
struct Reconciler {
    /// The incremental translation.
    translator: Translator,
    /// What was already logged.
    reported: Reported,
    /// Certificates already parsed, by content.
    certificate_cache: CertificateCache,
    /// The Gateway API ports served, and the last Gateway API translation.
    gateway: GatewayServing,
}

impl Reconciler {
    /// Nothing translated, logged or parsed yet.
    fn new(config: &TranslateConfig) -> Self {
        Reconciler {
            translator: Translator::new(config.clone()),
            reported: Reported::default(),
            certificate_cache: CertificateCache::default(),
            gateway: GatewayServing::default(),
        }
    }
}
