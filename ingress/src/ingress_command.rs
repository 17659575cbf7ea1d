//! `portcullis ingress`: wires a source, the reconciler, the proxy and the admin server.
//! [`run_ingress`] is the sequence; each step is a function here or in a file of its own.

mod api_writers;
mod gateway_ports;
mod listeners;
mod publisher;
mod servers;

use std::sync::Arc;

use anyhow::Context;
use portcullis_proxy::admin::Readiness;
use portcullis_proxy::certificates::{CertificateStore, LiveCertificates, self_signed_default};
use portcullis_proxy::live::LiveTable;
use portcullis_proxy::metrics::Metrics;
use portcullis_route::spec::TableSpec;
use portcullis_route::table::RoutingTable;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;
use tracing::info;

use crate::api_watches::run_kube_source;
use crate::args::IngressArgs;
use crate::reconcile::{CertificateTarget, Publisher, run_reconciler};
use api_writers::start_api_writers;
use listeners::Listeners;
use portcullis_kube::source_choice::{Source, shutdown_signal};
use portcullis_kube::store::StoreEvent;
use publisher::{build_publisher, gateway_target};
use servers::{Servers, proxy_config};

/// Runs until SIGTERM or SIGINT, then drains in-flight requests and returns. Objects come from
/// `--manifests DIR`, or else from the Kubernetes API.
pub async fn run_ingress(args: IngressArgs) -> anyhow::Result<()> {
    let source = Source::from_flags(args.manifests.as_deref(), args.kubeconfig.as_deref()).await?;
    let serving = Serving::empty();
    let certificates = certificate_target(&args)?;
    let listeners = Listeners::bind(&args).await?;
    let (events, receiver) = mpsc::unbounded_channel();
    let mut writers = start_api_writers(&source, &args);
    let (gateway_ports, desired_ports) = watch::channel(Vec::new());
    let gateway = gateway_target(
        &args,
        gateway_ports,
        gateway_fallback(certificates.as_ref())?,
        writers.gateway_status.take(),
    );
    let publisher = build_publisher(
        &args,
        &serving,
        writers,
        certificates.clone(),
        Some(gateway),
    );
    start_reconciler(receiver, publisher)?;
    let source_name = start_source(source, &args, events);
    info!(
        http = %args.http_addr,
        https = ?args.https_addr,
        admin = %args.admin_addr,
        source = %source_name,
        "portcullis ingress started"
    );
    let servers = Servers::start(
        listeners,
        &serving,
        certificates.as_ref(),
        proxy_config(&args),
        (args.gateway_address, desired_ports),
    );
    shutdown_signal().await?;
    servers.drain(&serving.readiness).await
}

/// What the reconciler updates and the servers read.
struct Serving {
    /// The table the proxy serves.
    table: Arc<LiveTable>,
    /// Counters of the proxy and the reconciler, served by the admin server.
    metrics: Arc<Metrics>,
    /// Ready after the first publish, draining at shutdown.
    readiness: Arc<Readiness>,
}

impl Serving {
    /// An empty table (every request gets a 404) until the first publish; not ready.
    fn empty() -> Self {
        let metrics = Arc::new(Metrics::default());
        let (empty, _) = RoutingTable::compile(&TableSpec::empty(), &metrics);
        Serving {
            table: Arc::new(LiveTable::new(empty)),
            metrics,
            readiness: Arc::new(Readiness::default()),
        }
    }
}

/// With `--https-addr`, the live certificate store (the fallback alone until the first
/// publish) and the fallback: self-signed, replaced by `--default-ssl-certificate` once the
/// translation finds it.
fn certificate_target(args: &IngressArgs) -> anyhow::Result<Option<CertificateTarget>> {
    if args.https_addr.is_none() {
        return Ok(None);
    }
    let fallback = self_signed_default().map_err(anyhow::Error::msg)?;
    if args.default_ssl_certificate.is_none() {
        info!("no --default-ssl-certificate: names without a certificate get a self-signed one");
    }
    let live = Arc::new(LiveCertificates::new(CertificateStore::only(Arc::clone(
        &fallback,
    ))));
    Ok(Some(CertificateTarget { live, fallback }))
}

/// The certificate Gateway HTTPS ports answer names no listener certificate covers: the
/// Ingress listener's fallback when it runs, else a self-signed one of its own.
fn gateway_fallback(
    certificates: Option<&CertificateTarget>,
) -> anyhow::Result<Arc<rustls::sign::CertifiedKey>> {
    match certificates {
        Some(target) => Ok(Arc::clone(&target.fallback)),
        None => self_signed_default().map_err(anyhow::Error::msg),
    }
}

/// Starts the reconciler on its own OS thread, so a large rebuild never stalls a proxy worker.
fn start_reconciler(
    receiver: UnboundedReceiver<StoreEvent>,
    publisher: Publisher,
) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("reconciler".into())
        .spawn(move || run_reconciler(receiver, publisher))
        .context("cannot start the reconciler thread")?;
    Ok(())
}

/// Starts the chosen source sending into `events`; returns its name for the start line.
fn start_source(source: Source, args: &IngressArgs, events: UnboundedSender<StoreEvent>) -> String {
    let namespace = args.watch_namespace.clone();
    let scope = match &namespace {
        Some(namespace) => format!("namespace {namespace}"),
        None => "all namespaces".to_string(),
    };
    source.spawn(
        events,
        move |client, events| run_kube_source(client, namespace, events),
        Some(&scope),
        "serving the last good table",
    )
}
