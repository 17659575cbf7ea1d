//! `portcullis ingress`: wires a source, the reconciler, the proxy and the admin server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use portcullis_allocator::FreeMemoryReleaser;
use portcullis_proxy::admin::{Readiness, serve_admin};
use portcullis_proxy::certificates::{CertificateStore, LiveCertificates, self_signed_default};
use portcullis_proxy::live::LiveTable;
use portcullis_proxy::metrics::Metrics;
use portcullis_proxy::server::{ProxyConfig, serve_proxy, serve_tls_proxy};
use portcullis_route::spec::TableSpec;
use portcullis_route::table::RoutingTable;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracing::{error, info};

use crate::api_watches::run_kube_source;
use crate::args::IngressArgs;
use crate::event_writer::run_event_writer;
use crate::leader::{Election, run_election};
use crate::reconcile::{CertificateTarget, Publisher, StatusTarget, run_reconciler};
use crate::status_writer::run_status_writer;
use crate::translate::{ClassIdentity, StatusSource, TlsConfig, TranslateConfig};
use portcullis_kube::manifests::run_manifests_source;
use portcullis_kube::source_choice::{Source, shutdown_signal};

/// Runs until SIGTERM or SIGINT, then drains in-flight requests and returns. Objects come from
/// `--manifests DIR`, or else from the Kubernetes API.
pub async fn run_ingress(args: IngressArgs) -> anyhow::Result<()> {
    let source = Source::from_flags(args.manifests.as_deref(), args.kubeconfig.as_deref()).await?;

    let metrics = Arc::new(Metrics::default());
    let (empty, _) = RoutingTable::compile(&TableSpec::empty(), &metrics);
    let live = Arc::new(LiveTable::new(empty));
    let readiness = Arc::new(Readiness::default());
    let certificates = match args.https_addr {
        Some(_) => {
            let fallback = self_signed_default().map_err(anyhow::Error::msg)?;
            if args.default_ssl_certificate.is_none() {
                info!(
                    "no --default-ssl-certificate: names without a certificate get a self-signed one"
                );
            }
            let live = Arc::new(LiveCertificates::new(CertificateStore::only(Arc::clone(
                &fallback,
            ))));
            Some(CertificateTarget { live, fallback })
        }
        None => None,
    };
    let https = match args.https_addr {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("--https-addr {addr}: cannot listen"))?,
        ),
        None => None,
    };
    let http = TcpListener::bind(args.http_addr)
        .await
        .with_context(|| format!("--http-addr {}: cannot listen", args.http_addr))?;
    let admin = TcpListener::bind(args.admin_addr)
        .await
        .with_context(|| format!("--admin-addr {}: cannot listen", args.admin_addr))?;

    let (events, receiver) = mpsc::unbounded_channel();
    let status_source = match (
        &args.publish_service,
        args.publish_status_address.is_empty(),
    ) {
        (Some(service), _) => Some(StatusSource::Service {
            namespace: service.namespace.clone(),
            name: service.name.clone(),
        }),
        (None, false) => Some(StatusSource::Addresses(args.publish_status_address.clone())),
        (None, true) => None,
    };
    // API mode: replicas elect a leader, which alone writes status and Events.
    let mut status = None;
    let mut event_notices = None;
    if let Source::Kubernetes(client) = &source {
        let (leading, leadership) = watch::channel(false);
        let election = Election {
            namespace: own_namespace(),
            lease: args.election_id.clone(),
            identity: own_identity(),
            ttl: args.election_ttl,
        };
        tokio::spawn(run_election(client.clone(), election, leading));
        if let Some(source) = status_source {
            let (updates, inbox) = mpsc::unbounded_channel();
            tokio::spawn(run_status_writer(client.clone(), inbox, leadership.clone()));
            status = Some(StatusTarget { source, updates });
        }
        let (notices, inbox) = mpsc::unbounded_channel();
        tokio::spawn(run_event_writer(
            client.clone(),
            args.controller_name.clone(),
            own_identity(),
            inbox,
            leadership,
        ));
        event_notices = Some(notices);
    }
    let publisher = Publisher {
        live: Arc::clone(&live),
        metrics: Arc::clone(&metrics),
        config: TranslateConfig {
            class: ClassIdentity {
                ingress_class: args.ingress_class.clone(),
                controller_name: args.controller_name.clone(),
            },
            default_backend_service: args.default_backend_service.clone(),
            tls: args.https_addr.map(|_| TlsConfig {
                default_certificate: args.default_ssl_certificate.clone(),
            }),
        },
        on_publish: {
            let readiness = Arc::clone(&readiness);
            // A publish ends a burst of allocation (a first table, a re-list): hand the
            // garbage's pages back to the OS instead of keeping them until threads wake up.
            let releaser = Mutex::new(FreeMemoryReleaser::new(Duration::from_secs(1)));
            Box::new(move || {
                readiness.set_ready();
                if let Ok(mut releaser) = releaser.lock() {
                    releaser.after_burst();
                }
            })
        },
        status,
        events: event_notices,
        certificates: certificates.as_ref().map(|target| CertificateTarget {
            live: Arc::clone(&target.live),
            fallback: Arc::clone(&target.fallback),
        }),
    };
    std::thread::Builder::new()
        .name("reconciler".into())
        .spawn(move || run_reconciler(receiver, publisher))
        .context("cannot start the reconciler thread")?;
    let source_name = match &source {
        Source::Manifests(dir) => format!("manifests {}", dir.display()),
        Source::Kubernetes(_) => match &args.watch_namespace {
            Some(namespace) => format!("Kubernetes API, namespace {namespace}"),
            None => "Kubernetes API, all namespaces".to_string(),
        },
    };
    match source {
        Source::Manifests(dir) => {
            tokio::spawn(async move {
                if let Err(problem) = run_manifests_source(dir, events).await {
                    error!("manifests source stopped: {problem}; serving the last good table");
                }
            });
        }
        Source::Kubernetes(client) => {
            tokio::spawn(run_kube_source(
                client,
                args.watch_namespace.clone(),
                events,
            ));
        }
    }

    let (stop, stopped) = watch::channel(false);
    let wait_stop = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let mut config = ProxyConfig::default();
    config.header_read_timeout = args.header_read_timeout;
    config.upstream_connect_timeout = args.upstream_connect_timeout;
    config.upstream_response_timeout = args.upstream_response_timeout;
    config.idle_timeout = args.idle_timeout;
    config.drain_timeout = args.drain_timeout;
    info!(
        http = %args.http_addr,
        https = ?args.https_addr,
        admin = %args.admin_addr,
        source = %source_name,
        "portcullis ingress started"
    );
    let tls_proxy = match (https, &certificates) {
        (Some(https), Some(target)) => Some(tokio::spawn(serve_tls_proxy(
            https,
            Arc::clone(&live),
            Arc::clone(&target.live),
            Arc::clone(&metrics),
            config.clone(),
            wait_stop(stopped.clone()),
        ))),
        _ => None,
    };
    let proxy = tokio::spawn(serve_proxy(
        http,
        Arc::clone(&live),
        Arc::clone(&metrics),
        config,
        wait_stop(stopped.clone()),
    ));
    let admin = tokio::spawn(serve_admin(
        admin,
        Arc::clone(&metrics),
        Arc::clone(&readiness),
        wait_stop(stopped),
    ));

    shutdown_signal().await?;
    info!("shutdown requested: draining in-flight requests");
    readiness.set_draining();
    let _ = stop.send(true);
    proxy.await.context("proxy task failed")??;
    if let Some(tls_proxy) = tls_proxy {
        tls_proxy.await.context("TLS proxy task failed")??;
    }
    admin.await.context("admin task failed")??;
    info!("drained; exiting");
    Ok(())
}

/// This replica's name for leader election: `POD_NAME` (the chart sets it), else the host name.
fn own_identity() -> String {
    std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| format!("portcullis-{}", std::process::id()))
}

/// The namespace of the leader Lease: `POD_NAMESPACE`, else the service account's, else `default`.
fn own_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace").ok()
        })
        .map(|namespace| namespace.trim().to_string())
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| "default".to_string())
}
