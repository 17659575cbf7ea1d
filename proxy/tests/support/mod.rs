//! Shared helpers of the proxy tests: backends on 127.0.0.1, tables, a running proxy, a client.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_proxy::live::LiveTable;
use portcullis_proxy::metrics::Metrics;
use portcullis_proxy::server::{ProxyConfig, serve_proxy};
use portcullis_route::spec::{
    Backend, HostMatch, Origin, PathKind, PathRule, RouteSpec, TableSpec, Target, VirtualHost,
};
use portcullis_route::table::RoutingTable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A backend named `name`: `/sleep/MS` waits, `/headers` lists the request headers, `/body`
/// echoes the request body, `/upgrade` switches to the asked protocol (any: it is the proxy's job to refuse) and echoes
/// bytes; else `name path`.
pub async fn backend(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |mut request: Request<Incoming>| async move {
                        let path = request.uri().path().to_string();
                        let body = if let Some(ms) = path.strip_prefix("/sleep/") {
                            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0)))
                                .await;
                            format!("{name} slept")
                        } else if path == "/headers" {
                            let mut lines: Vec<String> = request
                                .headers()
                                .iter()
                                .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
                                .collect();
                            lines.sort();
                            lines.join("\n")
                        } else if path == "/body" {
                            let bytes = request
                                .body_mut()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            format!("{name} got {}", String::from_utf8_lossy(&bytes))
                        } else if path == "/upgrade" {
                            let upgrade = hyper::upgrade::on(&mut request);
                            tokio::spawn(async move {
                                if let Ok(upgraded) = upgrade.await {
                                    let mut io = TokioIo::new(upgraded);
                                    let mut buffer = [0u8; 64];
                                    while let Ok(n) = io.read(&mut buffer).await {
                                        if n == 0 || io.write_all(&buffer[..n]).await.is_err() {
                                            break;
                                        }
                                    }
                                }
                            });
                            let protocol = request
                                .headers()
                                .get("upgrade")
                                .cloned()
                                .unwrap_or(http::HeaderValue::from_static("none"));
                            let response = Response::builder()
                                .status(StatusCode::SWITCHING_PROTOCOLS)
                                .header("connection", "upgrade")
                                .header("upgrade", protocol)
                                .body(Full::new(Bytes::new()))
                                .expect("response");
                            return Ok::<_, Infallible>(response);
                        } else {
                            format!("{name} {path}")
                        };
                        let response = Response::builder()
                            .header("connection", "keep-alive, x-hop")
                            .header("x-hop", "must not reach the client")
                            .body(Full::new(Bytes::from(body)))
                            .expect("response");
                        Ok::<_, Infallible>(response)
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

/// An address nothing listens on.
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

pub fn backend_to(addresses: &[SocketAddr], service: &str) -> Arc<Backend> {
    Arc::new(Backend {
        tls: None,
        headers: None,
        origin: Some(Origin {
            namespace: "test".into(),
            ingress: "ing".into(),
            service: service.into(),
            port: "80".into(),
        }),
        target: Target::Endpoints(addresses.to_vec()),
    })
}

/// A table of Prefix paths on any host, each forwarding to one backend.
pub fn spec(routes: Vec<(&str, Arc<Backend>)>) -> TableSpec {
    spec_of_routes(
        routes
            .into_iter()
            .map(|(path, backend)| (path, Arc::new(RouteSpec::forward(backend))))
            .collect(),
    )
}

/// A table of Prefix paths on any host, each with its route.
pub fn spec_of_routes(routes: Vec<(&str, Arc<RouteSpec>)>) -> TableSpec {
    TableSpec {
        hosts: vec![Arc::new(VirtualHost {
            host: HostMatch::Any,
            paths: routes
                .into_iter()
                .map(|(path, route)| PathRule::new(path, PathKind::Prefix, route))
                .collect(),
            default_backend: None,
            aliases: Vec::new(),
        })],
        default_backend: not_found(),
    }
}

/// The built-in 404 as a route.
pub fn not_found() -> Arc<RouteSpec> {
    Arc::new(RouteSpec::forward(Arc::new(Backend::not_found())))
}

pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its live table, to publish new ones.
    pub live: Arc<LiveTable>,
    /// Its counters.
    pub metrics: Arc<Metrics>,
    /// Send to start the drain.
    pub stop: Option<oneshot::Sender<()>>,
    /// The serving task.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub async fn start(spec: &TableSpec, config: ProxyConfig) -> Proxy {
    let metrics = Arc::new(Metrics::default());
    let (table, warnings) = RoutingTable::compile(spec, &metrics);
    assert!(warnings.is_empty());
    let live = Arc::new(LiveTable::new(table));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(serve_proxy(
        listener,
        Arc::clone(&live),
        Arc::clone(&metrics),
        config,
        async move {
            let _ = stopped.await;
        },
    ));
    Proxy {
        addr,
        live,
        metrics,
        stop: Some(stop),
        task,
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> (StatusCode, HashMap<String, String>, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    send(
        &client,
        Request::get(format!("http://{addr}{path}"))
            .body(Full::default())
            .expect("request"),
    )
    .await
}

pub async fn send(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> (StatusCode, HashMap<String, String>, String) {
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("answer in time")
        .expect("request succeeds");
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}
