//! One rebuild, step by step: translate what changed, compile the table reusing the previous
//! one, publish certificates then the table, hand out status updates, record the table's
//! metrics, log new and resolved problems, send Event notices.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use portcullis_proxy::certificates::{CertificateCache, CertificateExpiry, CertificateStore};
use portcullis_proxy::metrics::TableMetrics;
use portcullis_route::spec::{TableSpec, TlsSpec};
use portcullis_route::table::{CompileWarning, RoutingTable};
use tracing::info;

use super::event_notices::event_notices;
use super::gateway::GatewayOutcome;
use super::{Publisher, Reconciler};
use crate::translate::{Diagnostic, Severity, Translation, published_addresses, status_updates};
use portcullis_kube::objects::ObjectKey;
use portcullis_kube::store::{DuplicateObject, Snapshot, Store};

impl Reconciler {
    /// One rebuild after a batch whose first event arrived at `started`: snapshot, translate
    /// what changed, compile what changed, publish, report. Certificates are published
    /// strictly before the table, status updates strictly after it.
    pub(super) fn rebuild(
        &mut self,
        store: &Store,
        changes: &[ObjectKey],
        publisher: &Publisher,
        started: Instant,
    ) {
        let (snapshot, duplicates) = store.snapshot();
        let translation = self.translator.update(snapshot, changes);
        let translated = started.elapsed();
        let (table, warnings) = compile_table(&translation.spec, publisher);
        let compiled = started.elapsed();
        let (hosts, paths) = (table.host_count(), table.path_count());
        let now = now_unix();
        // Certificates first: a host that starts redirecting to HTTPS has its certificate ready.
        let (mut certificate_problems, mut expiries) = publish_certificates(
            &translation.tls,
            publisher,
            &mut self.certificate_cache,
            now,
        );
        // Gateway API ports publish their own certificates and tables before the Ingress
        // table: the readiness that follows covers both.
        let gateway = match &publisher.gateway {
            Some(target) => {
                self.gateway
                    .rebuild(snapshot, changes, target, &publisher.metrics, now)
            }
            None => GatewayOutcome::default(),
        };
        certificate_problems.extend(gateway.certificate_problems);
        expiries.extend(gateway.expiries);
        if publisher.certificates.is_some() || publisher.gateway.is_some() {
            publisher.metrics.tls.set_expiries(expiries);
        }
        publish_table(table, publisher);
        send_status_updates(snapshot, &translation, publisher);
        let mut diagnostics = translation.diagnostics.clone();
        diagnostics.extend(gateway.diagnostics);
        record_table_metrics(
            &publisher.metrics.table,
            started,
            (hosts, paths),
            &diagnostics,
        );
        let mut warnings = warnings;
        warnings.extend(gateway.warnings);
        self.reported.report(
            &diagnostics,
            other_problems(&duplicates, &warnings),
            certificate_problems,
        );
        if let Some(events) = &publisher.events {
            let _ = events.send(event_notices(snapshot, &diagnostics));
        }
        info!(
            hosts,
            paths,
            ingresses = translation.ingresses.len(),
            gateway_ports = gateway.ports,
            translate_ms = translated.as_secs_f64() * 1e3,
            compile_ms = (compiled - translated).as_secs_f64() * 1e3,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "routing table published"
        );
    }
}

/// Compiles `spec`, taking over every compiled host of the live table whose spec is unchanged.
fn compile_table(spec: &TableSpec, publisher: &Publisher) -> (RoutingTable, Vec<CompileWarning>) {
    let previous = publisher.live.load();
    RoutingTable::compile_reusing(spec, &publisher.metrics, Some(&previous))
}

/// Seconds since the epoch, for certificate validity.
fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// With an HTTPS listener, compiles the certificates and publishes them; returns their
/// problems, one line each, and their expiries (none without a listener).
fn publish_certificates(
    tls: &TlsSpec,
    publisher: &Publisher,
    cache: &mut CertificateCache,
    now: i64,
) -> (Vec<String>, Vec<CertificateExpiry>) {
    let Some(target) = &publisher.certificates else {
        return (Vec::new(), Vec::new());
    };
    let (certificates, problems) = CertificateStore::compile(tls, &target.fallback, now, cache);
    let expiries = certificates.expiries().to_vec();
    target.live.publish(certificates);
    (problems.iter().map(ToString::to_string).collect(), expiries)
}

/// Publishes the table, tells `on_publish`, and starts the grace of the routes it dropped.
fn publish_table(table: RoutingTable, publisher: &Publisher) {
    publisher.live.publish(table);
    (publisher.on_publish)();
    // Routes the new table dropped start their grace; those past it lose their series.
    publisher.metrics.sweep_routes(Instant::now());
}

/// In API mode with a publish flag, hands the status writer the Ingresses whose status must
/// change (nothing is sent when none must).
fn send_status_updates(snapshot: &Snapshot, translation: &Translation, publisher: &Publisher) {
    let Some(status) = &publisher.status else {
        return;
    };
    let addresses = published_addresses(snapshot, &status.source);
    let updates = status_updates(&snapshot.ingresses, &translation.ingresses, &addresses);
    if !updates.is_empty() {
        let _ = status.updates.send(updates);
    }
}

/// Counts the rebuild and records its duration, the table's size, the invalid objects and
/// the time of the publish.
fn record_table_metrics(
    metrics: &TableMetrics,
    started: Instant,
    (hosts, paths): (usize, usize),
    diagnostics: &[Diagnostic],
) {
    metrics.rebuilds.fetch_add(1, Ordering::Relaxed);
    metrics.rebuild_duration.observe(started.elapsed());
    metrics.hosts.store(hosts as u64, Ordering::Relaxed);
    metrics.paths.store(paths as u64, Ordering::Relaxed);
    let invalid: BTreeSet<_> = diagnostics
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
}

/// The problems that are neither diagnostics nor certificates, one line each: objects two
/// sources deliver, and what compiling the table warned about.
fn other_problems(duplicates: &[DuplicateObject], warnings: &[CompileWarning]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    lines.extend(duplicates.iter().map(|d| {
        format!(
            "{} is defined in both {} and {}; the copy in {} is ignored",
            d.key, d.kept.0, d.ignored.0, d.ignored.0
        )
    }));
    lines.extend(warnings.iter().map(ToString::to_string));
    lines
}
