//! Store events in, routing tables out: the loop between the sources and the proxy.
//!
//! Runs on its own OS thread, so a large rebuild never stalls a proxy worker. Events that
//! arrive while a rebuild runs are applied together before the next one. No table is
//! published before the sources report their initial state complete.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::ObjectReference;
use portcullis_proxy::certificates::{CertificateCache, CertificateStore, LiveCertificates};
use portcullis_proxy::live::LiveTable;
use portcullis_proxy::metrics::Metrics;
use portcullis_route::table::RoutingTable;
use rustls::sign::CertifiedKey;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tracing::{error, info, warn};

use crate::event_writer::EventNotice;
use crate::translate::{
    Diagnostic, Severity, StatusSource, StatusUpdate, TranslateConfig, Translator,
    published_addresses, status_updates,
};
use portcullis_kube::lasting::Lasting;
use portcullis_kube::objects::{Kind, ObjectKey};
use portcullis_kube::store::{Snapshot, Store, StoreEvent};

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
#[derive(Debug)]
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
    let mut translator = Translator::new(publisher.config.clone());
    let mut reported = Reported::default();
    let mut certificate_cache = CertificateCache::default();

    while let Some(event) = events.blocking_recv() {
        let started = Instant::now();
        store.apply(event);
        while let Ok(more) = events.try_recv() {
            store.apply(more);
        }
        if store.is_synced() {
            rebuild(
                &mut store,
                &mut translator,
                &publisher,
                &mut reported,
                &mut certificate_cache,
                started,
            );
        } else {
            // The first translation reads everything; changes before it do not matter.
            store.take_changes();
        }
    }
    info!("all sources closed; reconciler stops");
}

/// One rebuild: snapshot, translate what changed, compile what changed, publish, report.
fn rebuild(
    store: &mut Store,
    translator: &mut Translator,
    publisher: &Publisher,
    reported: &mut Reported,
    certificate_cache: &mut CertificateCache,
    started: Instant,
) {
    let changes = store.take_changes();
    let (snapshot, duplicates) = store.snapshot();
    let translation = translator.update(snapshot, &changes);
    let translated = started.elapsed();
    let previous = publisher.live.load();
    let (table, warnings) =
        RoutingTable::compile_reusing(&translation.spec, &publisher.metrics, Some(&previous));
    drop(previous);
    let compiled = started.elapsed();
    let (hosts, paths) = (table.host_count(), table.path_count());
    let mut certificate_problems = Vec::new();
    if let Some(target) = &publisher.certificates {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let (certificates, problems) =
            CertificateStore::compile(&translation.tls, &target.fallback, now, certificate_cache);
        publisher
            .metrics
            .tls
            .set_expiries(certificates.expiries().to_vec());
        // Certificates first: a host that starts redirecting to HTTPS has its certificate ready.
        target.live.publish(certificates);
        certificate_problems = problems.iter().map(ToString::to_string).collect();
    }
    publisher.live.publish(table);
    (publisher.on_publish)();
    // Routes the new table dropped start their grace; those past it lose their series.
    publisher.metrics.sweep_routes(Instant::now());
    if let Some(status) = &publisher.status {
        let addresses = published_addresses(snapshot, &status.source);
        let updates = status_updates(&snapshot.ingresses, &translation.ingresses, &addresses);
        if !updates.is_empty() {
            let _ = status.updates.send(updates);
        }
    }

    let metrics = &publisher.metrics.table;
    metrics.rebuilds.fetch_add(1, Ordering::Relaxed);
    metrics.rebuild_duration.observe(started.elapsed());
    metrics.hosts.store(hosts as u64, Ordering::Relaxed);
    metrics.paths.store(paths as u64, Ordering::Relaxed);
    let invalid: BTreeSet<_> = translation
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| &d.object)
        .collect();
    metrics
        .invalid_objects
        .store(invalid.len() as u64, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    metrics
        .last_rebuild_unix_seconds
        .store(now, Ordering::Relaxed);

    let mut lines: Vec<String> = Vec::new();
    lines.extend(duplicates.iter().map(|d| {
        format!(
            "{} is defined in both {} and {}; the copy in {} is ignored",
            d.key, d.kept.0, d.ignored.0, d.ignored.0
        )
    }));
    lines.extend(warnings.iter().map(ToString::to_string));
    reported.report(&translation.diagnostics, lines, certificate_problems);
    if let Some(events) = &publisher.events {
        let notices: Vec<EventNotice> = translation
            .diagnostics
            .iter()
            .filter_map(|diagnostic| {
                Some(EventNotice {
                    object: reference(snapshot, &diagnostic.object)?,
                    reason: diagnostic.reason.as_str(),
                    note: if diagnostic.field.is_empty() {
                        diagnostic.message.clone()
                    } else {
                        format!("{}: {}", diagnostic.field, diagnostic.message)
                    },
                })
            })
            .collect();
        let _ = events.send(notices);
    }
    info!(
        hosts,
        paths,
        ingresses = translation.ingresses.len(),
        translate_ms = translated.as_secs_f64() * 1e3,
        compile_ms = (compiled - translated).as_secs_f64() * 1e3,
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "routing table published"
    );
}

/// The API reference of an Ingress or Secret in the snapshot, for an Event about it.
fn reference(snapshot: &Snapshot, key: &ObjectKey) -> Option<ObjectReference> {
    let id = (key.namespace.clone(), key.name.clone());
    let (api_version, meta) = match key.kind {
        Kind::Ingress => (
            "networking.k8s.io/v1",
            &snapshot.ingresses.get(&id)?.metadata,
        ),
        Kind::Secret => ("v1", &snapshot.secrets.get(&id)?.metadata),
        _ => return None,
    };
    Some(ObjectReference {
        api_version: Some(api_version.to_string()),
        kind: Some(key.kind.as_str().to_string()),
        namespace: Some(key.namespace.clone()),
        name: Some(key.name.clone()),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..Default::default()
    })
}

/// What was already logged, so a problem is logged once when it appears and once when it is
/// fixed, not on every rebuild.
#[derive(Debug, Default)]
struct Reported {
    diagnostics: Lasting<Diagnostic>,
    other: Lasting<String>,
    certificates: Lasting<String>,
}

impl Reported {
    /// Logs what changed since the last rebuild.
    fn report(
        &mut self,
        diagnostics: &[Diagnostic],
        other: Vec<String>,
        certificates: Vec<String>,
    ) {
        let (new, gone) = self.certificates.update(certificates);
        new.iter().for_each(|new| error!("{new}"));
        gone.iter().for_each(|gone| info!("resolved: {gone}"));
        let (new, gone) = self.diagnostics.update(diagnostics.iter().cloned());
        for new in new {
            match new.severity {
                Severity::Error => error!("{new}"),
                _ => warn!("{new}"),
            }
        }
        gone.iter().for_each(|gone| info!("resolved: {gone}"));
        let (new, _) = self.other.update(other);
        new.iter().for_each(|new| warn!("{new}"));
    }
}
