//! The rebuild's Gateway API step: translate Gateways and routes, compile one table (and for
//! HTTPS one certificate store) per listener port, publish them, and hand the port set to the
//! listener supervisor when it changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use portcullis_gateway::{
    GatewayConfig, GatewayTranslation, GatewayTranslator, Protocol, StatusContext, StatusPatch,
    status_patches,
};
use portcullis_kube::objects::ObjectKey;
use portcullis_kube::store::Snapshot;
use portcullis_proxy::certificates::{
    CertificateCache, CertificateExpiry, CertificateStore, LiveCertificates,
};
use portcullis_proxy::live::LiveTable;
use portcullis_proxy::metrics::Metrics;
use portcullis_route::spec::TableSpec;
use portcullis_route::table::{CompileWarning, RoutingTable};
use rustls::sign::CertifiedKey;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;

use crate::translate::{Diagnostic, StatusSource, published_addresses};

/// Where Gateway API tables go: the translation's settings, the supervisor's inbox, and the
/// certificate answering HTTPS listeners without a usable one.
pub struct GatewayTarget {
    /// Whose GatewayClasses are ours, and the ports the Ingress listeners hold.
    pub config: GatewayConfig,
    /// The ports to serve, for the listener supervisor.
    pub ports: watch::Sender<Vec<GatewayPort>>,
    /// Served by HTTPS ports for names no listener certificate covers.
    pub fallback: Arc<CertifiedKey>,
    /// Where Gateway API status goes (API mode, leader only).
    pub status: Option<GatewayStatusTarget>,
}

/// The status side: where Gateway addresses come from, and the writer's inbox.
#[derive(Debug)]
pub struct GatewayStatusTarget {
    /// `--publish-service` or `--publish-status-address`; `None` writes no addresses.
    pub source: Option<StatusSource>,
    /// The Gateway API status writer's inbox.
    pub patches: UnboundedSender<Vec<StatusPatch>>,
}

impl std::fmt::Debug for GatewayTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayTarget")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One served listener port: its live table, and for HTTPS its live certificates.
#[derive(Debug, Clone)]
pub struct GatewayPort {
    /// The port number.
    pub port: u16,
    /// HTTP or HTTPS.
    pub protocol: Protocol,
    /// The table the port's listener serves.
    pub table: Arc<LiveTable>,
    /// HTTPS: the certificates the port's listener answers with.
    pub certificates: Option<Arc<LiveCertificates>>,
}

impl PartialEq for GatewayPort {
    /// The same socket serving the same live stores.
    fn eq(&self, other: &Self) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && Arc::ptr_eq(&self.table, &other.table)
            && match (&self.certificates, &other.certificates) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

/// What the Gateway API step keeps between rebuilds.
#[derive(Debug, Default)]
pub(super) struct GatewayServing {
    /// The ports served now, with their certificate caches.
    ports: BTreeMap<u16, (GatewayPort, CertificateCache)>,
    /// The incremental translation, once started.
    translator: Option<GatewayTranslator>,
    /// The last translation's diagnostics, reused while nothing it reads changed.
    last: Option<Vec<Diagnostic>>,
}

/// What one Gateway API step reports to the rest of the rebuild.
#[derive(Debug, Default)]
pub(super) struct GatewayOutcome {
    /// The translation's diagnostics.
    pub(super) diagnostics: Vec<Diagnostic>,
    /// Certificate problems, one line each.
    pub(super) certificate_problems: Vec<String>,
    /// Certificates in use, for the expiry metric.
    pub(super) expiries: Vec<CertificateExpiry>,
    /// What compiling the tables warned about.
    pub(super) warnings: Vec<CompileWarning>,
    /// Ports served, and their host and path counts.
    pub(super) ports: usize,
}

impl GatewayServing {
    /// Translates and publishes when something it reads changed (always the first time).
    pub(super) fn rebuild(
        &mut self,
        snapshot: &Snapshot,
        changes: &[ObjectKey],
        target: &GatewayTarget,
        metrics: &Arc<Metrics>,
        now_unix: i64,
    ) -> GatewayOutcome {
        if let Some(diagnostics) = &self.last
            && !changes
                .iter()
                .any(|key| self.translator.as_ref().is_none_or(|t| t.reads(key)))
        {
            return GatewayOutcome {
                diagnostics: diagnostics.clone(),
                ports: self.ports.len(),
                ..GatewayOutcome::default()
            };
        }
        let translation = self
            .translator
            .get_or_insert_with(|| GatewayTranslator::new(target.config.clone()))
            .update(snapshot, changes);
        let mut outcome = GatewayOutcome::default();
        let mut next = BTreeMap::new();
        for spec in &translation.ports {
            let (port, mut cache) = match self.ports.remove(&spec.port) {
                Some((port, cache)) if port.protocol == spec.protocol => (port, cache),
                _ => (
                    new_port(spec.port, spec.protocol, metrics, target),
                    CertificateCache::default(),
                ),
            };
            // Certificates before the table, as for Ingresses.
            if let (Some(live), Some(tls)) = (&port.certificates, &spec.tls) {
                let (store, problems) =
                    CertificateStore::compile(tls, &target.fallback, now_unix, &mut cache);
                outcome.expiries.extend(store.expiries().iter().cloned());
                outcome
                    .certificate_problems
                    .extend(problems.iter().map(|p| format!("port {}: {p}", spec.port)));
                live.publish(store);
            }
            let previous = port.table.load();
            let (table, warnings) =
                RoutingTable::compile_reusing(&spec.table, &**metrics, Some(&previous));
            drop(previous);
            port.table.publish(table);
            outcome.warnings.extend(warnings);
            next.insert(spec.port, (port, cache));
        }
        self.ports = next;
        // Only a different set wakes the supervisor: a table change is published in place.
        let set: Vec<GatewayPort> = self.ports.values().map(|(p, _)| p.clone()).collect();
        target.ports.send_if_modified(|current| {
            let modified = *current != set;
            if modified {
                *current = set;
            }
            modified
        });
        if let Some(status) = &target.status {
            send_status(snapshot, &translation, &target.config, status);
        }
        outcome.ports = self.ports.len();
        outcome.diagnostics = translation.diagnostics.clone();
        self.last = Some(translation.diagnostics);
        outcome
    }
}

/// A port not served before: an empty table (404) and, for HTTPS, the fallback certificate.
fn new_port(
    port: u16,
    protocol: Protocol,
    metrics: &Arc<Metrics>,
    target: &GatewayTarget,
) -> GatewayPort {
    let (empty, _) = RoutingTable::compile(&TableSpec::empty(), &**metrics);
    GatewayPort {
        port,
        protocol,
        table: Arc::new(LiveTable::new(empty)),
        certificates: (protocol == Protocol::Https).then(|| {
            Arc::new(LiveCertificates::new(CertificateStore::only(Arc::clone(
                &target.fallback,
            ))))
        }),
    }
}

/// Computes what Gateway API status must change and hands it to the writer.
fn send_status(
    snapshot: &Snapshot,
    translation: &GatewayTranslation,
    config: &GatewayConfig,
    target: &GatewayStatusTarget,
) {
    let addresses: Vec<String> = target
        .source
        .as_ref()
        .map(|source| published_addresses(snapshot, source))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|address| address.ip.or(address.hostname))
        .collect();
    let now = k8s_openapi::jiff::Timestamp::now();
    let now = k8s_openapi::jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string();
    let context = StatusContext {
        controller_name: &config.controller_name,
        addresses: &addresses,
        now: &now,
    };
    let patches = status_patches(
        snapshot,
        &translation.status,
        &context,
        translation.changed_routes.as_ref(),
    );
    if !patches.is_empty() {
        let _ = target.patches.send(patches);
    }
}
