//! Gateway API listener ports, opened and closed live: the reconciler says which ports serve
//! which tables; this task binds each new port on `--gateway-address` and drains each port
//! that went away. A port that cannot be bound is retried every few seconds.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use portcullis_gateway::Protocol;
use portcullis_proxy::metrics::Metrics;
use portcullis_proxy::passthrough::{PassthroughConfig, serve_passthrough};
use portcullis_proxy::server::{ProxyConfig, serve_proxy, serve_tls_proxy};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use super::listeners::listen;
use crate::reconcile::GatewayPort;

/// How long before a port that could not be bound is tried again.
const BIND_RETRY: Duration = Duration::from_secs(3);

/// One open port and the switch that drains it.
struct Open {
    serving: GatewayPort,
    stop: watch::Sender<bool>,
}

/// Serves the ports `desired` names until `shutdown` is true, then drains them all.
pub(super) async fn run_gateway_ports(
    address: IpAddr,
    mut desired: watch::Receiver<Vec<GatewayPort>>,
    metrics: Arc<Metrics>,
    config: ProxyConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut open: BTreeMap<u16, Open> = BTreeMap::new();
    let mut servers: JoinSet<(u16, std::io::Result<()>)> = JoinSet::new();
    loop {
        let want: Vec<GatewayPort> = desired.borrow_and_update().clone();
        // Close what is no longer wanted as it is (gone, or another protocol or store).
        let keep: Vec<u16> = open
            .iter()
            .filter(|(_, o)| want.contains(&o.serving))
            .map(|(port, _)| *port)
            .collect();
        open.retain(|port, o| {
            let kept = keep.contains(port);
            if !kept {
                info!(
                    port,
                    "Gateway listener port closed: draining its connections"
                );
                let _ = o.stop.send(true);
            }
            kept
        });
        let mut unbound = false;
        let missing: Vec<&GatewayPort> = want
            .iter()
            .filter(|s| !open.contains_key(&s.port))
            .collect();
        for serving in missing {
            let at = SocketAddr::new(address, serving.port);
            match listen(at) {
                Ok(listener) => {
                    let (stop, stopped) = watch::channel(false);
                    let shutdown = async move {
                        let mut stopped = stopped;
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    let port = serving.port;
                    let table = Arc::clone(&serving.table);
                    let metrics = Arc::clone(&metrics);
                    let config = config.clone();
                    match (serving.protocol, &serving.certificates) {
                        (Protocol::Https, Some(certificates)) => {
                            let certificates = Arc::clone(certificates);
                            servers.spawn(async move {
                                let served = serve_tls_proxy(
                                    listener,
                                    table,
                                    certificates,
                                    metrics,
                                    config,
                                    shutdown,
                                )
                                .await;
                                (port, served)
                            });
                        }
                        (Protocol::TlsPassthrough, _) => {
                            let passthrough = PassthroughConfig {
                                hello_timeout: config.tls_handshake_timeout,
                                connect_timeout: config.upstream_connect_timeout,
                                drain_timeout: config.drain_timeout,
                            };
                            servers.spawn(async move {
                                let served =
                                    serve_passthrough(listener, table, passthrough, shutdown).await;
                                (port, served)
                            });
                        }
                        _ => {
                            servers.spawn(async move {
                                let served =
                                    serve_proxy(listener, table, metrics, config, shutdown).await;
                                (port, served)
                            });
                        }
                    }
                    info!(%at, protocol = ?serving.protocol, "Gateway listener port open");
                    open.insert(
                        serving.port,
                        Open {
                            serving: serving.clone(),
                            stop,
                        },
                    );
                }
                Err(e) => {
                    unbound = true;
                    error!(
                        %at,
                        "cannot listen for a Gateway listener ({e}); the operator must free the port or change --gateway-address; retrying"
                    );
                }
            }
        }
        tokio::select! {
            changed = desired.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            _ = tokio::time::sleep(BIND_RETRY), if unbound => {}
            Some(done) = servers.join_next(), if !servers.is_empty() => {
                if let Ok((port, served)) = done {
                    if let Err(e) = served {
                        warn!(port, "Gateway listener stopped: {e}");
                    }
                    // A server that ended without being told to is bound again.
                    open.retain(|p, o| *p != port || *o.stop.borrow());
                }
            }
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    for (_, o) in open {
        let _ = o.stop.send(true);
    }
    while let Some(done) = servers.join_next().await {
        if let Ok((port, Err(e))) = done {
            warn!(port, "Gateway listener stopped: {e}");
        }
    }
}
