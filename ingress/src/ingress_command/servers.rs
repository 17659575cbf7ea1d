//! The proxy (HTTP, and HTTPS when bound) and the admin server: started on the bound
//! listeners, and drained together at shutdown.

use portcullis_proxy::proxy_protocol::ProxyProtocol;
use std::net::IpAddr;
use std::sync::Arc;

use anyhow::Context;
use portcullis_proxy::admin::{Readiness, serve_admin};
use portcullis_proxy::server::{ProxyConfig, serve_proxy, serve_tls_proxy};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use super::Serving;
use super::gateway_ports::run_gateway_ports;
use super::listeners::Listeners;
use crate::args::IngressArgs;
use crate::reconcile::CertificateTarget;
use crate::reconcile::GatewayPort;

/// The proxy's timeouts and limits, from the flags.
pub(super) fn proxy_config(args: &IngressArgs) -> ProxyConfig {
    let mut config = ProxyConfig::default();
    config.header_read_timeout = args.header_read_timeout;
    config.upstream_connect_timeout = args.upstream_connect_timeout;
    config.upstream_response_timeout = args.upstream_response_timeout;
    config.upstream_send_timeout = args.upstream_send_timeout;
    config.idle_timeout = args.idle_timeout;
    config.drain_timeout = args.drain_timeout;
    config.client_body_timeout = args.client_body_timeout;
    config.send_timeout = args.send_timeout;
    config.max_request_header_bytes = args.max_request_header_bytes as usize;
    config.http2_max_concurrent_streams = args.http2_max_concurrent_streams;
    config.http2_upstream_requests = args.http2_upstream_requests as usize;
    if args.proxy_protocol {
        if args.proxy_protocol_trusted_cidrs.is_empty() {
            tracing::warn!(
                "--proxy-protocol takes headers from any peer: a client reaching the proxy directly could name any address; set --proxy-protocol-trusted-cidrs to the load balancers' addresses"
            );
        }
        config.proxy_protocol = Some(ProxyProtocol {
            trusted: args.proxy_protocol_trusted_cidrs.clone(),
            timeout: args.proxy_protocol_timeout,
        });
    }
    config
}

/// The running servers, and the switch that stops them.
pub(super) struct Servers {
    stop: watch::Sender<bool>,
    proxy: JoinHandle<std::io::Result<()>>,
    tls_proxy: Option<JoinHandle<std::io::Result<()>>>,
    gateway_ports: JoinHandle<()>,
    admin: JoinHandle<std::io::Result<()>>,
}

impl Servers {
    /// Starts serving `serving` on `listeners`: HTTPS too when both its listener and
    /// `certificates` exist.
    pub(super) fn start(
        listeners: Listeners,
        serving: &Serving,
        certificates: Option<&CertificateTarget>,
        config: ProxyConfig,
        (gateway_address, gateway_ports): (IpAddr, watch::Receiver<Vec<GatewayPort>>),
    ) -> Servers {
        let (stop, stopped) = watch::channel(false);
        let wait_stop = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let tls_proxy = match (listeners.https, certificates) {
            (Some(https), Some(target)) => Some(tokio::spawn(serve_tls_proxy(
                https,
                Arc::clone(&serving.table),
                Arc::clone(&target.live),
                Arc::clone(&serving.metrics),
                config.clone(),
                wait_stop(stopped.clone()),
            ))),
            _ => None,
        };
        // PROXY protocol is the Ingress listeners' (`--proxy-protocol`), not the Gateways'.
        let mut gateway_config = config.clone();
        gateway_config.proxy_protocol = None;
        let gateway_ports = tokio::spawn(run_gateway_ports(
            gateway_address,
            gateway_ports,
            Arc::clone(&serving.metrics),
            gateway_config,
            stopped.clone(),
        ));
        let proxy = tokio::spawn(serve_proxy(
            listeners.http,
            Arc::clone(&serving.table),
            Arc::clone(&serving.metrics),
            config.clone(),
            wait_stop(stopped.clone()),
        ));
        let admin = tokio::spawn(serve_admin(
            listeners.admin,
            Arc::clone(&serving.metrics),
            Arc::clone(&serving.readiness),
            wait_stop(stopped),
        ));
        Servers {
            stop,
            proxy,
            tls_proxy,
            gateway_ports,
            admin,
        }
    }

    /// Reports draining (so the readiness probe fails), stops accepting, and waits for the
    /// in-flight requests to finish (or the drain timeout).
    pub(super) async fn drain(self, readiness: &Readiness) -> anyhow::Result<()> {
        info!("shutdown requested: draining in-flight requests");
        readiness.set_draining();
        let _ = self.stop.send(true);
        self.proxy.await.context("proxy task failed")??;
        if let Some(tls_proxy) = self.tls_proxy {
            tls_proxy.await.context("TLS proxy task failed")??;
        }
        self.gateway_ports
            .await
            .context("Gateway listener task failed")?;
        self.admin.await.context("admin task failed")??;
        info!("drained; exiting");
        Ok(())
    }
}
