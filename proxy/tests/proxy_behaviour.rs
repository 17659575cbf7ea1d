//! The proxy over real sockets on 127.0.0.1: routing, balancing, retries, error answers,
//! forwarding headers, h2c, upgrades, timeouts, drain and table swaps under load.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_proxy::admin::{Readiness, serve_admin};
use portcullis_proxy::metrics::Metrics;
use portcullis_proxy::server::ProxyConfig;
use portcullis_route::spec::{
    Backend, HostMatch, PathKind, PathRule, RouteSpec, TableSpec, Target, VirtualHost,
};
use portcullis_route::table::RoutingTable;
use support::{backend, backend_to, closed_port, get, send, spec, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_requests_over_ready_endpoints() {
    let (a, b) = (backend("a").await, backend("b").await);
    let proxy = start(
        &spec(vec![("/", backend_to(&[a, b], "svc"))]),
        ProxyConfig::default(),
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..6 {
        let (status, _, body) = get(proxy.addr, "/x").await;
        assert_eq!(status, 200);
        seen.push(body.split(' ').next().unwrap_or_default().to_string());
    }
    assert_eq!(seen.iter().filter(|s| *s == "a").count(), 3, "{seen:?}");
    assert_eq!(seen.iter().filter(|s| *s == "b").count(), 3, "{seen:?}");
    assert_ne!(
        seen[0], seen[1],
        "consecutive requests should alternate: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connect_is_retried_on_the_next_endpoint_body_included() {
    let good = backend("good").await;
    let proxy = start(
        &spec(vec![("/", backend_to(&[closed_port(), good], "svc"))]),
        ProxyConfig::default(),
    )
    .await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    for i in 0..6 {
        let request = Request::post(format!("http://{}/body", proxy.addr))
            .body(Full::new(Bytes::from(format!("payload-{i}"))))
            .expect("request");
        let (status, _, body) = send(&client, request).await;
        assert_eq!(status, 200);
        assert_eq!(body, format!("good got payload-{i}"));
    }
    assert!(proxy.metrics.proxy.upstream_retries.load(Ordering::Relaxed) >= 3);
    assert!(
        proxy
            .metrics
            .proxy
            .upstream_connect_failures
            .load(Ordering::Relaxed)
            >= 3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_are_small_and_say_what_happened() {
    let slow = backend("slow").await;
    let unavailable = Arc::new(Backend {
        tls: None,
        headers: None,
        origin: None,
        target: Target::Unavailable("no such Service".into()),
    });
    let table = spec(vec![
        ("/down", backend_to(&[closed_port(), closed_port()], "down")),
        ("/empty", backend_to(&[], "empty")),
        ("/broken", unavailable),
        ("/sleep", backend_to(&[slow], "slow")),
    ]);
    let mut config = ProxyConfig::default();
    config.upstream_response_timeout = Duration::from_millis(300);
    let proxy = start(&table, config).await;
    let cases = [
        ("/down", 502, "Bad Gateway"),
        ("/empty", 503, "no ready endpoint"),
        ("/broken", 503, "misconfigured"),
        ("/nowhere", 404, "no Ingress rule"),
        ("/sleep/2000", 504, "Gateway Timeout"),
    ];
    for (path, status, text) in cases {
        let started = Instant::now();
        let (got, headers, body) = get(proxy.addr, path).await;
        assert_eq!(got.as_u16(), status, "{path}: {body}");
        assert!(body.contains(text), "{path}: {body}");
        assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        proxy
            .metrics
            .proxy
            .upstream_timeouts
            .load(Ordering::Relaxed),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_are_set_and_hop_by_hop_headers_stripped() {
    let echo = backend("echo").await;
    let proxy = start(
        &spec(vec![("/", backend_to(&[echo], "echo"))]),
        ProxyConfig::default(),
    )
    .await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::get(format!("http://{}/headers", proxy.addr))
        .header("host", "Shop.Example.com:8080")
        .header("x-forwarded-for", "192.0.2.7")
        .header("x-forwarded-proto", "https")
        .header("connection", "x-private")
        .header("x-private", "secret")
        .header("te", "trailers")
        .header("keep-alive", "timeout=5")
        .body(Full::default())
        .expect("request");
    let (status, headers, seen) = send(&client, request).await;
    assert_eq!(status, 200);
    let seen: HashMap<&str, &str> = seen.lines().filter_map(|l| l.split_once(": ")).collect();
    assert_eq!(
        seen["host"], "Shop.Example.com:8080",
        "the client's Host is kept"
    );
    assert_eq!(seen["x-forwarded-for"], "192.0.2.7, 127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(seen["x-forwarded-host"], "Shop.Example.com:8080");
    assert_eq!(seen["x-forwarded-port"], proxy.addr.port().to_string());
    assert_eq!(seen["x-real-ip"], "127.0.0.1");
    assert_eq!(seen["x-request-id"].len(), 32);
    for hop in ["x-private", "te", "keep-alive"] {
        assert!(
            !seen.contains_key(hop),
            "{hop} reached the upstream: {seen:?}"
        );
    }
    assert_eq!(
        headers["x-request-id"], seen["x-request-id"],
        "the id goes back to the client"
    );
    assert!(
        !headers.contains_key("x-hop"),
        "a header named in the upstream's Connection leaked"
    );

    let request = Request::get(format!("http://{}/headers", proxy.addr))
        .header("x-request-id", "client-chosen")
        .body(Full::default())
        .expect("request");
    let (_, headers, seen) = send(&client, request).await;
    assert!(seen.contains("x-request-id: client-chosen"), "{seen}");
    assert_eq!(headers["x-request-id"], "client-chosen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_clients_are_served_and_routed_by_authority() {
    let (a, b) = (backend("a").await, backend("b").await);
    let table = TableSpec {
        hosts: vec![
            Arc::new(VirtualHost {
                host: HostMatch::Exact("a.test".into()),
                paths: vec![PathRule::new(
                    "/",
                    PathKind::Prefix,
                    Arc::new(RouteSpec::forward(backend_to(&[a], "a"))),
                )],
                default_backend: None,
                aliases: Vec::new(),
            }),
            Arc::new(VirtualHost {
                host: HostMatch::Exact("b.test".into()),
                paths: vec![PathRule::new(
                    "/",
                    PathKind::Prefix,
                    Arc::new(RouteSpec::forward(backend_to(&[b], "b"))),
                )],
                default_backend: None,
                aliases: Vec::new(),
            }),
        ],
        default_backend: support::not_found(),
    };
    let proxy = start(&table, ProxyConfig::default()).await;
    let stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2c handshake");
    tokio::spawn(connection);
    for (host, want) in [("a.test", "a /x"), ("b.test", "b /x")] {
        let request = Request::get(format!("http://{host}/x"))
            .body(Full::<Bytes>::default())
            .expect("request");
        let response = sender.send_request(request).await.expect("h2 response");
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(body, want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_requests_are_tunnelled() {
    let echo = backend("echo").await;
    let proxy = start(
        &spec(vec![("/", backend_to(&[echo], "echo"))]),
        ProxyConfig::default(),
    )
    .await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream
        .write_all(b"GET /upgrade HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        .await
        .expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.expect("read head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    for message in [&b"ping"[..], b"second message"] {
        stream.write_all(message).await.expect("write");
        let mut echoed = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed))
            .await
            .expect("echo in time")
            .expect("read");
        assert_eq!(echoed, message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let a = backend("a").await;
    let mut config = ProxyConfig::default();
    config.idle_timeout = Duration::from_millis(300);
    config.header_read_timeout = Duration::from_secs(30);
    let proxy = start(&spec(vec![("/", backend_to(&[a], "a"))]), config).await;
    let mut idle = TcpStream::connect(proxy.addr).await.expect("connect");
    idle.write_all(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    let mut buffer = vec![0u8; 4096];
    let n = idle.read(&mut buffer).await.expect("response");
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(3), idle.read(&mut buffer)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "idle connection not closed: {closed:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "closed before the idle timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_finish_their_headers_are_closed() {
    let a = backend("a").await;
    let mut config = ProxyConfig::default();
    config.idle_timeout = Duration::from_secs(30);
    config.header_read_timeout = Duration::from_millis(500);
    let proxy = start(&spec(vec![("/", backend_to(&[a], "a"))]), config).await;
    let mut slow = TcpStream::connect(proxy.addr).await.expect("connect");
    slow.write_all(b"GET /x HTTP/1.1\r\nHost: t\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let mut buffer = vec![0u8; 4096];
    let closed = tokio::time::timeout(Duration::from_secs(3), slow.read(&mut buffer)).await;
    assert!(
        closed.is_ok(),
        "slow-header connection still open after 3 s"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "closed too early"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_in_flight_requests_and_stops_accepting() {
    let slow = backend("slow").await;
    let mut proxy = start(
        &spec(vec![("/", backend_to(&[slow], "slow"))]),
        ProxyConfig::default(),
    )
    .await;
    let addr = proxy.addr;
    let in_flight = tokio::spawn(async move { get(addr, "/sleep/800").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = proxy.stop.take().map(|stop| stop.send(()));
    let (status, _, body) = in_flight.await.expect("task");
    assert_eq!(status, 200, "{body}");
    tokio::time::timeout(Duration::from_secs(5), &mut proxy.task)
        .await
        .expect("serve_proxy returns after the drain")
        .expect("task")
        .expect("no io error");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_swaps_under_load_fail_no_request() {
    let (a, b) = (backend("a").await, backend("b").await);
    let proxy = start(
        &spec(vec![("/", backend_to(&[a], "svc"))]),
        ProxyConfig::default(),
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (stop, ok, failed, addr) = (stop.clone(), ok.clone(), failed.clone(), proxy.addr);
        clients.push(tokio::spawn(async move {
            let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            while !stop.load(Ordering::Relaxed) {
                let request = Request::get(format!("http://{addr}/x"))
                    .body(Full::default())
                    .expect("request");
                match client.request(request).await {
                    Ok(response) if response.status() == 200 => {
                        let _ = response.into_body().collect().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let metrics = Metrics::default();
    for round in 0..300 {
        let endpoints: &[SocketAddr] = match round % 3 {
            0 => &[a],
            1 => &[b],
            _ => &[a, b],
        };
        let (table, _) =
            RoutingTable::compile(&spec(vec![("/", backend_to(endpoints, "svc"))]), &metrics);
        proxy.live.publish(table);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client");
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(ok > 500, "load barely ran: {ok}");
    assert_eq!(
        failed, 0,
        "{failed} requests failed across 300 table swaps ({ok} ok)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reports_health_readiness_and_metrics() {
    let a = backend("a").await;
    let proxy = start(
        &spec(vec![("/", backend_to(&[a], "svc"))]),
        ProxyConfig::default(),
    )
    .await;
    get(proxy.addr, "/x").await;
    let readiness = Arc::new(Readiness::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let admin = listener.local_addr().expect("addr");
    tokio::spawn(serve_admin(
        listener,
        Arc::clone(&proxy.metrics),
        Arc::clone(&readiness),
        std::future::pending(),
    ));

    assert_eq!(get(admin, "/healthz").await.0, 200);
    assert_eq!(
        get(admin, "/readyz").await.0,
        503,
        "not ready before the first table"
    );
    readiness.set_ready();
    assert_eq!(get(admin, "/readyz").await.0, 200);
    readiness.set_draining();
    assert_eq!(
        get(admin, "/readyz").await.0,
        503,
        "not ready while draining"
    );
    let (status, headers, metrics) = get(admin, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/plain; version=0.0.4");
    assert!(metrics.contains("portcullis_requests_total{namespace=\"test\",ingress=\"ing\",service=\"svc\",port=\"80\",status_class=\"2xx\"} 1"), "{metrics}");
    assert!(
        metrics.contains("portcullis_connections_accepted_total 1"),
        "{metrics}"
    );
}
