//! TLS passthrough: each connection's ClientHello names a host (SNI); the live table's route
//! for that host chooses a backend, and the stream is spliced to it untouched (the backend
//! terminates TLS). No route, an invalid backend or no endpoint that answers closes the
//! connection; nothing is ever answered in plain text on a TLS port.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use portcullis_route::table::{RouteAction, RouteTarget};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::client_hello::read_client_hello;
use crate::live::LiveTable;

/// How long a passthrough connection may take, and how long draining waits.
#[derive(Debug, Clone, Copy)]
pub struct PassthroughConfig {
    /// For the whole ClientHello to arrive.
    pub hello_timeout: Duration,
    /// For one TCP connect to a backend endpoint (the next is tried after it).
    pub connect_timeout: Duration,
    /// After shutdown, how long open streams may go on before they are cut.
    pub drain_timeout: Duration,
}

/// Serves TLS passthrough on `listener` from `table` until `shutdown` completes, then lets
/// open streams run for the drain timeout.
pub async fn serve_passthrough(
    listener: TcpListener,
    table: Arc<LiveTable>,
    config: PassthroughConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let port = listener.local_addr()?.port();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: the next accept may work.
                        warn!(port, "accepting a passthrough connection: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let table = Arc::clone(&table);
                connections.spawn(async move {
                    if let Err(why) = pass_through(stream, &table, config).await {
                        debug!(port, %peer, "passthrough connection closed: {why}");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if !connections.is_empty() {
        info!(
            port,
            open = connections.len(),
            "draining passthrough streams"
        );
        let drained = tokio::time::timeout(config.drain_timeout, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            connections.abort_all();
        }
    }
    Ok(())
}

/// One connection: its ClientHello, the backend its name routes to, then the splice.
async fn pass_through(
    mut client: TcpStream,
    table: &LiveTable,
    config: PassthroughConfig,
) -> Result<(), String> {
    let hello = tokio::time::timeout(config.hello_timeout, read_client_hello(&mut client))
        .await
        .map_err(|_| format!("no ClientHello within {:?}", config.hello_timeout))?
        .map_err(|e| e.to_string())?;
    // Without SNI there is no name to route by (a route for every host would take it
    // otherwise): closed, as the documentation says.
    let Some(name) = hello.server_name.as_deref() else {
        return Err("the ClientHello names no server (no SNI)".into());
    };
    let endpoints: Vec<std::net::SocketAddr> = {
        let table = table.load();
        let route = table.find(name, "/");
        let RouteAction::Forward { split, .. } = &route.action else {
            return Err(format!("SNI {name:?}: the route redirects"));
        };
        let upstream = split
            .choose()
            .ok_or_else(|| format!("SNI {name:?}: every backend has weight 0"))?;
        match &upstream.target {
            RouteTarget::Endpoints(set) => set.round_robin().map(|e| e.address).collect(),
            RouteTarget::Unavailable(why) | RouteTarget::Invalid(why) => {
                return Err(format!("SNI {name:?}: {why}"));
            }
            RouteTarget::NotFound => return Err(format!("SNI {name:?}: no route")),
            _ => return Err(format!("SNI {name:?}: not a passthrough backend")),
        }
    };
    let mut last = format!("SNI {name:?}: the backend has no ready endpoint");
    for address in endpoints {
        match tokio::time::timeout(config.connect_timeout, TcpStream::connect(address)).await {
            Ok(Ok(mut backend)) => {
                let _ = backend.set_nodelay(true);
                let _ = client.set_nodelay(true);
                backend
                    .write_all(&hello.bytes)
                    .await
                    .map_err(|e| format!("{address}: {e}"))?;
                tokio::io::copy_bidirectional(&mut client, &mut backend)
                    .await
                    .map_err(|e| format!("{address}: {e}"))?;
                return Ok(());
            }
            Ok(Err(e)) => last = format!("SNI {name:?}: connecting to {address}: {e}"),
            Err(_) => last = format!("SNI {name:?}: connecting to {address} timed out"),
        }
    }
    Err(last)
}
