//! The listener: accepts connections, serves HTTP/1.1 and h2c on each, closes idle ones, and
//! drains gracefully on shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use tokio_rustls::TlsAcceptor;

use crate::certificates::LiveCertificates;
use crate::forward::{Downstream, ForwardTimeouts, Forwarder, UpstreamShare};
use crate::live::LiveTable;
use crate::metrics::{HandshakeFailure, Metrics};
use crate::mirror::Mirrors;
use crate::proxy_protocol::{ProxyHeaderError, ProxyProtocol, read_header};
use crate::tls_listener::{handshake_failure, tls_acceptor};
use crate::upstream_clients::UpstreamClients;
use crate::write_stall::{WatchedIo, WriteStall};

/// Timeouts of the proxy. Defaults follow what ingress-nginx users know.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// A client must send its request headers within this. hyper starts this clock when an
    /// HTTP/1 connection waits for its next request, so it also bounds keep-alive idleness.
    pub header_read_timeout: Duration,
    /// Per endpoint; a refused or timed-out connect moves on to the next endpoint.
    pub upstream_connect_timeout: Duration,
    /// An upstream must send response headers within this, else 504.
    pub upstream_response_timeout: Duration,
    /// An upstream that takes no request body bytes for this long gets no more: 504 (nginx's
    /// `proxy_send_timeout`).
    pub upstream_send_timeout: Duration,
    /// A client connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// On shutdown, in-flight requests get this long to finish.
    pub drain_timeout: Duration,
    /// How long an unused upstream keep-alive connection stays in the pool.
    pub upstream_idle_timeout: Duration,
    /// A TLS client must finish its handshake within this.
    pub tls_handshake_timeout: Duration,
    /// A client sending a request body must send some of it at least this often, else 408
    /// (nginx's `client_body_timeout`).
    pub client_body_timeout: Duration,
    /// A client whose connection takes no response bytes for this long is disconnected
    /// (nginx's `send_timeout`): what it would have received stops being buffered.
    pub send_timeout: Duration,
    /// The largest request head: an HTTP/1 request line and headers, an HTTP/2 header list
    /// (ingress-nginx's `large-client-header-buffers`, 4 × 8k). Above it: 431.
    pub max_request_header_bytes: usize,
    /// Streams one HTTP/2 client connection may have open at once (nginx's
    /// `http2_max_concurrent_streams`).
    pub http2_max_concurrent_streams: u32,
    /// Each connection opens with a PROXY protocol header naming the client, from these
    /// peers only.
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Upstream exchanges one HTTP/2 client connection may have at once; further streams wait
    /// for one to finish. Bounds the upstream connections and the buffered response bytes one
    /// client can tie up.
    pub http2_upstream_requests: usize,
    /// Response bytes buffered per HTTP/2 stream before the upstream is read no further.
    pub http2_stream_send_buffer: usize,
}

/// The smallest request head limit: hyper cannot read HTTP/1 with less.
pub const MIN_REQUEST_HEADER_BYTES: usize = 8192;

/// How long a connection told to close because it is idle may take to do so; a client that
/// ignores the GOAWAY or `Connection: close` is then dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            header_read_timeout: Duration::from_secs(30),
            upstream_connect_timeout: Duration::from_secs(5),
            upstream_response_timeout: Duration::from_secs(60),
            upstream_send_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
            upstream_idle_timeout: Duration::from_secs(90),
            tls_handshake_timeout: Duration::from_secs(10),
            client_body_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            max_request_header_bytes: 32 * 1024,
            proxy_protocol: None,
            http2_max_concurrent_streams: 128,
            http2_upstream_requests: 32,
            http2_stream_send_buffer: 64 * 1024,
        }
    }
}

/// Serves plain HTTP on `listener` from `table` until `shutdown` completes, then stops
/// accepting, lets in-flight requests finish (up to `drain_timeout`) and returns.
pub async fn serve_proxy(
    listener: TcpListener,
    table: Arc<LiveTable>,
    metrics: Arc<Metrics>,
    config: ProxyConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    serve_listener(listener, Transport::Plain, table, metrics, config, shutdown).await
}

/// Serves HTTPS (TLS 1.2/1.3, ALPN h2 and http/1.1) on `listener`, picking each handshake's
/// certificate from `certificates` by SNI; otherwise like [`serve_proxy`].
pub async fn serve_tls_proxy(
    listener: TcpListener,
    table: Arc<LiveTable>,
    certificates: Arc<LiveCertificates>,
    metrics: Arc<Metrics>,
    config: ProxyConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let acceptor = tls_acceptor(certificates).map_err(io::Error::other)?;
    let transport = Transport::Tls {
        acceptor,
        handshake_timeout: config.tls_handshake_timeout,
    };
    serve_listener(listener, transport, table, metrics, config, shutdown).await
}

/// How accepted connections are read.
#[derive(Clone)]
enum Transport {
    Plain,
    Tls {
        acceptor: TlsAcceptor,
        handshake_timeout: Duration,
    },
}

async fn serve_listener(
    listener: TcpListener,
    transport: Transport,
    table: Arc<LiveTable>,
    metrics: Arc<Metrics>,
    config: ProxyConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let local_port = listener.local_addr()?.port();
    let scheme = match transport {
        Transport::Plain => "http",
        Transport::Tls { .. } => "https",
    };
    let client = UpstreamClients::new(&config);
    let forwarder = Arc::new(Forwarder::new(
        table,
        Arc::clone(&metrics),
        client,
        Mirrors::new(
            config.upstream_connect_timeout,
            config.upstream_idle_timeout,
            config.upstream_response_timeout,
        ),
        ForwardTimeouts {
            response: config.upstream_response_timeout,
            send: config.upstream_send_timeout,
            client_body: config.client_body_timeout,
        },
    ));
    let header_bytes = config
        .max_request_header_bytes
        .max(MIN_REQUEST_HEADER_BYTES);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        // The read buffer bounds the request head: a head that does not fit is answered 431.
        .max_buf_size(header_bytes)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(config.http2_max_concurrent_streams)
        .max_send_buf_size(config.http2_stream_send_buffer)
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let builder = Arc::new(builder);
    let proxy_protocol = config.proxy_protocol.clone().map(Arc::new);
    let (drain, draining) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    metrics.proxy.connections_accepted.fetch_add(1, Ordering::Relaxed);
                    let connection = Connection {
                        downstream: Downstream {
                            peer,
                            client: peer,
                            local_port,
                            scheme,
                            upstream_share: UpstreamShare::new(config.http2_upstream_requests),
                        },
                        builder: Arc::clone(&builder),
                        forwarder: Arc::clone(&forwarder),
                        metrics: Arc::clone(&metrics),
                        idle_timeout: config.idle_timeout,
                        send_timeout: config.send_timeout,
                        draining: draining.clone(),
                    };
                    connections.spawn(accept(
                        stream,
                        proxy_protocol.clone(),
                        transport.clone(),
                        connection,
                    ));
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let open = connections.len();
    info!(open, scheme, "draining client connections");
    let _ = drain.send(true);
    let drained = tokio::time::timeout(config.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            left = connections.len(),
            "drain timeout reached; closing the remaining connections"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Reads the PROXY protocol header, if the listener takes one, completes the TLS handshake,
/// if any, then serves the connection.
async fn accept(
    mut stream: TcpStream,
    proxy_protocol: Option<Arc<ProxyProtocol>>,
    transport: Transport,
    mut connection: Connection,
) {
    if let Some(config) = proxy_protocol {
        let peer = connection.downstream.peer;
        match read_header(&mut stream, peer, &config).await {
            Ok(Some(client)) => connection.downstream.client = client,
            Ok(None) => {}
            Err(error) => {
                let counter = match error {
                    ProxyHeaderError::Untrusted(_) => {
                        &connection.metrics.proxy.proxy_protocol_refused
                    }
                    _ => &connection.metrics.proxy.proxy_protocol_failures,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                debug!(%peer, "connection closed: {error}");
                return;
            }
        }
    }
    match transport {
        Transport::Plain => connection.serve(TokioIo::new(stream)).await,
        Transport::Tls {
            acceptor,
            handshake_timeout,
        } => {
            let metrics = Arc::clone(&connection.metrics);
            match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    metrics.tls.handshakes.fetch_add(1, Ordering::Relaxed);
                    connection.serve(TokioIo::new(tls)).await;
                }
                Ok(Err(error)) => {
                    let reason = handshake_failure(&error);
                    debug!(peer = %connection.downstream.peer, reason = reason.label(), "TLS handshake failed: {error}");
                    metrics.tls.fail(reason);
                }
                Err(_) => metrics.tls.fail(HandshakeFailure::Timeout),
            }
        }
    }
}

/// Requests in flight on one connection and when the last one ended.
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    last_done_ms: AtomicU64,
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.0.started.elapsed().as_millis();
        self.0
            .last_done_ms
            .store(u64::try_from(now).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Activity {
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// Resolves once no request has been in flight for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let since_last = self.started.elapsed().saturating_sub(Duration::from_millis(
                self.last_done_ms.load(Ordering::Relaxed),
            ));
            if self.in_flight.load(Ordering::Relaxed) == 0 && since_last >= idle {
                return;
            }
            let wait = idle
                .saturating_sub(since_last)
                .max(Duration::from_millis(100));
            tokio::time::sleep(wait).await;
        }
    }
}

/// One accepted client connection and what serving it needs.
struct Connection {
    downstream: Downstream,
    builder: Arc<auto::Builder<TokioExecutor>>,
    forwarder: Arc<Forwarder>,
    metrics: Arc<Metrics>,
    idle_timeout: Duration,
    send_timeout: Duration,
    draining: watch::Receiver<bool>,
}

impl Connection {
    async fn serve<I>(self, io: I)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let Connection {
            downstream,
            builder,
            forwarder,
            metrics,
            idle_timeout,
            send_timeout,
            mut draining,
        } = self;
        let downstream = Arc::new(downstream);
        let stall = WriteStall::new();
        let io = WatchedIo::new(io, Arc::clone(&stall));
        metrics
            .proxy
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_done_ms: AtomicU64::new(0),
        });
        let service = {
            let activity = Arc::clone(&activity);
            let downstream = Arc::clone(&downstream);
            service_fn(move |request: hyper::Request<Incoming>| {
                let forwarder = Arc::clone(&forwarder);
                let downstream = Arc::clone(&downstream);
                let in_flight = activity.begin();
                async move {
                    let response = forwarder.handle(request, &downstream).await;
                    drop(in_flight);
                    Ok::<_, Infallible>(response)
                }
            })
        };
        let connection = builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(connection);
        let mut closing = false;
        let mut closing_idle = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        debug!(peer = %downstream.peer, "connection ended: {error}");
                    }
                    break;
                }
                () = activity.idle_for(idle_timeout), if !closing => {
                    debug!(peer = %downstream.peer, "closing idle connection");
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                    closing_idle = true;
                }
                // Told to go away while idle and still here: nothing is in flight to lose.
                () = activity.idle_for(CLOSE_GRACE), if closing_idle => {
                    debug!(peer = %downstream.peer, "dropping a connection that ignored the close");
                    break;
                }
                () = stall.exceeded(send_timeout) => {
                    debug!(peer = %downstream.peer, "dropping a client that stopped reading");
                    metrics.proxy.send_timeouts.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                // A dropped sender means the server is gone: drain as well.
                _ = draining.wait_for(|drain| *drain), if !closing => {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
        metrics
            .proxy
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}
