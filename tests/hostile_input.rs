//! The real `portcullis ingress` binary against the bytes an attacker sends, on loopback:
//! request-target confusion (host, path), oversized heads, HTTP/2 buffering, upgrades,
//! malformed upstream responses, client body framing, connections that never go away, and the
//! request-smuggling set. Each probe is the exact bytes of issue 15 where it lists them; none of
//! it may reach a backend as a request the rules do not expose.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_testkit::ingress_process::{Portcullis, get, slice, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Services `api` (a recording HTTP backend) and `raw` (canned raw responses): on
/// `p.example`, `/api` and `/raw` only; any other host, `/` goes to `api`.
const RULES: &str = r#"
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: portcullis}
spec: {controller: portcullis.dev/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: store}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: raw, namespace: store}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: exposed, namespace: store}
spec:
  ingressClassName: portcullis
  rules:
  - host: p.example
    http:
      paths:
      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {name: http}}}}
      - {path: /raw, pathType: Prefix, backend: {service: {name: raw, port: {name: http}}}}
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: api, port: {name: http}}}}
"#;

/// Size of `/api/big`'s body.
const BIG: usize = 32 << 20;

/// What the recording backend saw.
#[derive(Default)]
struct Seen {
    /// Request lines (method, path and query) in arrival order.
    requests: Mutex<Vec<String>>,
    /// TCP connections accepted.
    connections: AtomicUsize,
}

impl Seen {
    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

/// An HTTP/1 backend answering every request with its head as received (request line, then
/// `name: value` lines in order); `/api/body` answers with the body's length, `/api/big` with
/// [`BIG`] bytes.
async fn recording_backend() -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Seen::default());
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            record.connections.fetch_add(1, Ordering::Relaxed);
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let record = Arc::clone(&record);
                    async move { Ok::<_, Infallible>(answer(request, &record).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

type AnyBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn answer(request: Request<Incoming>, seen: &Seen) -> Response<AnyBody> {
    let target = request
        .uri()
        .path_and_query()
        .map_or("", |p| p.as_str())
        .to_owned();
    seen.requests
        .lock()
        .expect("lock")
        .push(format!("{} {target}", request.method()));
    let mut head = format!("{} {target}\n", request.method());
    for (name, value) in request.headers() {
        head.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    if target == "/api/big" {
        let chunk = Bytes::from(vec![b'x'; 64 << 10]);
        return Response::new(Repeated(chunk, BIG / (64 << 10)).boxed());
    }
    if target == "/api/body" {
        let length = request
            .into_body()
            .collect()
            .await
            .map(|body| body.to_bytes().len());
        let text = match length {
            Ok(length) => format!("body of {length} bytes\n"),
            Err(error) => format!("body failed: {error}\n"),
        };
        return Response::new(Full::new(Bytes::from(text)).boxed());
    }
    Response::new(Full::new(Bytes::from(head)).boxed())
}

/// `count` frames of `chunk`, produced as the reader pulls them.
struct Repeated(Bytes, usize);

impl hyper::body::Body for Repeated {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.1 == 0 {
            return std::task::Poll::Ready(None);
        }
        self.1 -= 1;
        std::task::Poll::Ready(Some(Ok(Frame::data(self.0.clone()))))
    }
}

/// A backend that reads one request head and answers with canned bytes by path:
/// `/raw/cl-te` a length beside chunked framing, `/raw/http10` an HTTP/1.0 response,
/// `/raw/switch` a 101 nobody asked for, `/raw/cut` a response cut short by the backend dying.
async fn raw_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                let reply: &[u8] = match path.as_str() {
                    "/raw/cl-te" => {
                        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                    }
                    "/raw/http10" => b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
                    "/raw/switch" => {
                        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                    }
                    "/raw/cut" => b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly ten b",
                    _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                };
                let _ = stream.write_all(reply).await;
                if path == "/raw/switch" {
                    // Keep the "tunnel" open for a while, as an h2c server would.
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                if path == "/raw/cut" {
                    // Die a moment after the partial body, so the proxy has relayed the head
                    // before the cut (dying at once lets it drop the head too: also safe, but
                    // then the test cannot tell a cut from a refusal).
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            });
        }
    });
    addr
}

struct Fixture {
    proxy: Portcullis,
    seen: Arc<Seen>,
    _dir: tempfile::TempDir,
}

async fn fixture(flags: &[&str]) -> Fixture {
    let (api, seen) = recording_backend().await;
    let raw = raw_backend().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("write");
    let endpoints = slice("api", &[api]) + &slice("raw", &[raw]);
    std::fs::write(dir.path().join("endpoints.yaml"), endpoints).expect("write");
    let proxy = Portcullis::start(dir.path(), flags).await;
    Fixture {
        proxy,
        seen,
        _dir: dir,
    }
}

/// Sends `bytes` and reads until the proxy closes the connection (or 10 s pass).
async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    read_to_close(&mut stream, Duration::from_secs(10)).await
}

async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(response: &str) -> &str {
    response.split_whitespace().nth(1).unwrap_or("none")
}

/// The body of the first response (after its head).
fn body_of(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// An HTTP/2 client (prior knowledge) on a fresh connection.
async fn h2c(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2c handshake");
    tokio::spawn(connection);
    sender
}

async fn metric(proxy: &Portcullis, name: &str) -> u64 {
    let (_, text) = get(proxy.admin, "", "/metrics").await.expect("metrics");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in metrics"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_has_one_host_routed_and_forwarded() {
    let f = fixture(&[]).await;
    let response = raw(
        f.proxy.http,
        b"GET http://p.example/api/x HTTP/1.1\r\nHost: admin.internal\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&response), "200", "{response}");
    let seen = body_of(&response);
    assert!(seen.starts_with("GET /api/x\n"), "{seen}");
    assert!(seen.contains("\nhost: p.example\n"), "{seen}");
    assert!(seen.contains("\nx-forwarded-host: p.example\n"), "{seen}");
    assert!(!seen.contains("admin.internal"), "{seen}");

    // HTTP/2: :authority is the host; a Host naming another host is refused.
    let mut h2 = h2c(f.proxy.http).await;
    let plain = Request::get("http://p.example/api/h2")
        .body(Full::<Bytes>::default())
        .expect("request");
    let response = h2.send_request(plain).await.expect("h2 response");
    assert_eq!(response.status(), 200);
    let seen = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let seen = String::from_utf8_lossy(&seen);
    assert!(seen.contains("\nhost: p.example\n"), "{seen}");
    let confused = Request::get("http://p.example/api/h2")
        .header("host", "admin.internal")
        .body(Full::<Bytes>::default())
        .expect("request");
    let response = h2.send_request(confused).await.expect("h2 response");
    assert_eq!(response.status(), 400);
    assert!(!f.seen.requests().iter().any(|r| r.contains("admin")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_missing_and_malformed_hosts_are_refused() {
    let f = fixture(&[]).await;
    let refused: [&[u8]; 6] = [
        b"GET /api/x HTTP/1.1\r\nHost: p.example\r\nHost: admin.internal\r\nConnection: close\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: t.example/x?y\r\nConnection: close\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: a@t.example\r\nConnection: close\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n",
        b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: a..b\r\nConnection: close\r\n\r\n",
    ];
    for request in refused {
        let response = raw(f.proxy.http, request).await;
        assert_eq!(
            status_of(&response),
            "400",
            "{}: {response}",
            String::from_utf8_lossy(request)
        );
    }
    assert_eq!(
        f.seen.requests(),
        Vec::<String>::new(),
        "no refused request went upstream"
    );
    assert_eq!(metric(&f.proxy, "portcullis_bad_requests_total").await, 6);

    // HTTP/1.0 may omit Host: only the catch-all rule matches, and no Host is made up.
    let response = raw(f.proxy.http, b"GET /x HTTP/1.0\r\n\r\n").await;
    assert_eq!(status_of(&response), "200", "{response}");
    let seen = body_of(&response);
    assert!(seen.starts_with("GET /x\n"), "{seen}");
    assert!(!seen.contains("\nhost:"), "{seen}");
    assert!(!seen.contains("x-forwarded-host"), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_cannot_reach_paths_no_rule_exposes() {
    let f = fixture(&[]).await;
    let cases: [(&str, &str, Option<&str>); 9] = [
        ("/api/../admin", "404", None),
        ("/api/%2e%2e/admin", "404", None),
        ("/api/%2E%2E/admin", "404", None),
        ("/api/..%2fadmin", "400", None),
        ("/api/..%5cadmin", "400", None),
        ("/api/..;/admin", "400", None),
        ("/api/./x/../y?q=../z", "200", Some("GET /api/y?q=../z\n")),
        ("/api/%7Euser/%2e", "200", Some("GET /api/~user/\n")),
        ("/api/a%2fb", "200", Some("GET /api/a%2Fb\n")),
    ];
    for (path, status, upstream) in cases {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: p.example\r\nConnection: close\r\n\r\n");
        let response = raw(f.proxy.http, request.as_bytes()).await;
        assert_eq!(status_of(&response), status, "{path}: {response}");
        if let Some(upstream) = upstream {
            assert!(
                body_of(&response).starts_with(upstream),
                "{path}: {response}"
            );
        }
    }
    let requests = f.seen.requests();
    assert!(
        !requests.iter().any(|r| r.contains("admin")),
        "{requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_heads_are_bounded_and_answered_431() {
    let f = fixture(&[]).await;
    let head = |size: usize| {
        format!(
            "GET /api/x HTTP/1.1\r\nHost: p.example\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
            "a".repeat(size)
        )
    };
    let fits = raw(f.proxy.http, head(20_000).as_bytes()).await;
    assert_eq!(status_of(&fits), "200");
    let too_big = raw(f.proxy.http, head(40_000).as_bytes()).await;
    assert_eq!(status_of(&too_big), "431", "{too_big}");

    // A 390 KB head that never ends: answered and closed long before it is all sent.
    let mut stream = TcpStream::connect(f.proxy.http).await.expect("connect");
    let (mut read, mut write) = stream.split();
    let big = format!(
        "GET /api/x HTTP/1.1\r\nHost: p.example\r\nX-Big: {}",
        "a".repeat(390_000)
    );
    let written = tokio::time::timeout(Duration::from_secs(10), async {
        let mut sent = 0;
        for chunk in big.as_bytes().chunks(8192) {
            if write.write_all(chunk).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let mut answer = Vec::new();
    let (sent, _) = tokio::join!(written, async {
        let _ = tokio::time::timeout(Duration::from_secs(10), read.read_to_end(&mut answer)).await;
    });
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), "431", "{answer}");
    // (The socket buffers can take all 390 KB; what matters is the answer and the close.)
    drop(sent);

    // HTTP/2 has the same budget: 20 KB of headers pass (hyper's default allowed 16 KB).
    let mut h2 = h2c(f.proxy.http).await;
    let request = Request::get("http://p.example/api/h2")
        .header("x-big", "a".repeat(20_000))
        .body(Full::<Bytes>::default())
        .expect("request");
    let response = h2.send_request(request).await.expect("h2 response");
    assert_eq!(response.status(), 200);
    let request = Request::get("http://p.example/api/h2")
        .header("x-big", "a".repeat(40_000))
        .body(Full::<Bytes>::default())
        .expect("request");
    let refused = h2.send_request(request).await;
    assert!(
        refused.as_ref().map_or(true, |r| r.status() == 431),
        "{:?}",
        refused.map(|r| r.status())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_websocket_upgrades_are_tunnelled() {
    let f = fixture(&[]).await;
    let response = raw(
        f.proxy.http,
        b"GET /api/x HTTP/1.1\r\nHost: p.example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\nGET /admin HTTP/1.1\r\nHost: p.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&response), "200", "{response}");
    let seen = body_of(&response).to_lowercase();
    assert!(!seen.contains("upgrade"), "{seen}");
    assert!(!seen.contains("http2-settings"), "{seen}");
    // The bytes after the request are the next request, routed (404), not a tunnel.
    assert!(response.contains("HTTP/1.1 404"), "{response}");
    assert!(!f.seen.requests().iter().any(|r| r.contains("admin")));

    // A backend switching protocols unasked is refused.
    let response = raw(
        f.proxy.http,
        b"GET /raw/switch HTTP/1.1\r\nHost: p.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&response), "502", "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_upstream_responses_are_not_relayed() {
    let f = fixture(&[]).await;
    let response = raw(
        f.proxy.http,
        b"GET /raw/cl-te HTTP/1.1\r\nHost: p.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&response), "502", "{response}");
    assert_eq!(
        metric(&f.proxy, "portcullis_upstream_invalid_responses_total").await,
        1
    );

    let response = raw(
        f.proxy.http,
        b"GET /raw/http10 HTTP/1.1\r\nHost: p.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok"), "{response}");

    // A backend that dies mid-body: the client gets a cut connection, never a short body
    // passed off as whole on a kept-alive connection.
    let mut stream = TcpStream::connect(f.proxy.http).await.expect("connect");
    stream
        .write_all(b"GET /raw/cut HTTP/1.1\r\nHost: p.example\r\n\r\n")
        .await
        .expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("the proxy closes the client connection when the upstream body is cut")
        .expect("read");
    let response = String::from_utf8_lossy(&out);
    assert!(response.starts_with("HTTP/1.1 200"), "{response:?}");
    assert!(response.contains("content-length: 1000"), "{response:?}");
    assert!(body_of(&response).len() < 1000, "{response:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_body_faults_are_the_clients() {
    let f = fixture(&[
        "--client-body-timeout",
        "1s",
        "--upstream-response-timeout",
        "1s",
    ])
    .await;
    let response = raw(
        f.proxy.http,
        b"POST /api/body HTTP/1.1\r\nHost: p.example\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&response), "400", "{response}");

    // A chunk size that fits 64 bits is accepted by the parser; the body timeout answers.
    let started = Instant::now();
    let response = raw(
        f.proxy.http,
        b"POST /api/body HTTP/1.1\r\nHost: p.example\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nabc",
    )
    .await;
    assert_eq!(status_of(&response), "408", "{response}");
    assert!(started.elapsed() < Duration::from_secs(8));

    // A slow upload is not an upstream timeout: the response clock starts when it ends.
    let mut stream = TcpStream::connect(f.proxy.http).await.expect("connect");
    stream
        .write_all(b"POST /api/body HTTP/1.1\r\nHost: p.example\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello")
        .await
        .expect("write");
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        stream.write_all(b"!").await.expect("write");
    }
    stream.write_all(b"!!").await.expect("write");
    let response = read_to_close(&mut stream, Duration::from_secs(10)).await;
    assert_eq!(status_of(&response), "200", "{response}");
    assert_eq!(body_of(&response), "body of 10 bytes\n");
    assert_eq!(
        metric(&f.proxy, "portcullis_upstream_timeouts_total").await,
        0
    );
    assert_eq!(
        metric(&f.proxy, "portcullis_client_body_failures_total").await,
        2
    );
}

/// The HTTP/2 connection preface and an empty SETTINGS frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// A frame header: 24-bit length, type, flags, stream id.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len())
        .expect("small frame")
        .to_be_bytes();
    let mut out = vec![length[1], length[2], length[3], kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// HPACK for `GET http://{authority}{path}`: indexed `:method GET` and `:scheme http`,
/// literal `:authority` and `:path` with indexed names, no Huffman.
fn get_headers(authority: &str, path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86];
    for (index, value) in [(1u8, authority), (4u8, path)] {
        block.push(index);
        block.push(u8::try_from(value.len()).expect("short value"));
        block.extend_from_slice(value.as_bytes());
    }
    block
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_h2_client_that_ignores_goaway_is_dropped() {
    let f = fixture(&["--idle-timeout", "1s"]).await;
    let mut stream = TcpStream::connect(f.proxy.http).await.expect("connect");
    stream.write_all(H2_PREFACE).await.expect("preface");
    let started = Instant::now();
    // Read (so the server can write its GOAWAY and pings) but never answer or close.
    let _ = read_to_close(&mut stream, Duration::from_secs(30)).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the connection lingered {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_h2_reader_ties_up_a_bounded_share_and_is_dropped() {
    let f = fixture(&["--send-timeout", "3s", "--http2-upstream-requests", "8"]).await;
    let before = f.proxy.rss_kib();
    let mut stream = TcpStream::connect(f.proxy.http).await.expect("connect");
    let mut out = H2_PREFACE[..H2_PREFACE.len() - 9].to_vec();
    // SETTINGS: INITIAL_WINDOW_SIZE = 2^31-1; then the connection window to 2^31-1.
    let mut settings = vec![0x00, 0x04];
    settings.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
    out.extend(frame(0x4, 0, 0, &settings));
    out.extend(frame(0x8, 0, 0, &(0x7fff_ffffu32 - 65_535).to_be_bytes()));
    for stream_id in (1..400).step_by(2) {
        // HEADERS with END_STREAM | END_HEADERS.
        out.extend(frame(
            0x1,
            0x5,
            stream_id,
            &get_headers("p.example", "/api/big"),
        ));
    }
    stream.write_all(&out).await.expect("requests");
    // Then never read: the proxy's writes fill the socket and stop.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let connections = f.seen.connections.load(Ordering::Relaxed);
    assert!(
        (1..=8).contains(&connections),
        "200 streams opened {connections} upstream connections"
    );
    let grown_mib = f.proxy.rss_kib().saturating_sub(before) / 1024;
    assert!(
        grown_mib < 64,
        "the proxy grew by {grown_mib} MiB for one stalled client"
    );
    let dropped = wait_until(Duration::from_secs(20), || async {
        metric(&f.proxy, "portcullis_send_timeouts_total").await == 1
    })
    .await;
    assert!(dropped, "the stalled client was never dropped");
    drop(stream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggling_probes_reach_no_backend() {
    let f = fixture(&[]).await;
    let probes: [(&str, &[u8]); 9] = [
        (
            "CL+TE",
            b"POST /api/body HTTP/1.1\r\nHost: p.example\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: p.example\r\n\r\n",
        ),
        (
            "duplicate CL",
            b"POST /api/body HTTP/1.1\r\nHost: p.example\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhelloGET /smuggled HTTP/1.1\r\nHost: p.example\r\n\r\n",
        ),
        (
            "obfuscated TE",
            b"POST /api/body HTTP/1.1\r\nHost: p.example\r\nTransfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
        ),
        (
            "TE with space before colon",
            b"POST /api/body HTTP/1.1\r\nHost: p.example\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
        ),
        (
            "TE chunked not last",
            b"POST /api/body HTTP/1.1\r\nHost: p.example\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
        ),
        (
            "obs-fold",
            b"GET /api/x HTTP/1.1\r\nHost: p.example\r\nX-A: a\r\n  GET /smuggled\r\nConnection: close\r\n\r\n",
        ),
        (
            "NUL in a value",
            b"GET /api/x HTTP/1.1\r\nHost: p.example\r\nX-A: a\x00b\r\nConnection: close\r\n\r\n",
        ),
        (
            "CR in a value",
            b"GET /api/x HTTP/1.1\r\nHost: p.example\r\nX-A: a\rGET /smuggled\r\nConnection: close\r\n\r\n",
        ),
        (
            "pipelined",
            b"GET /api/a HTTP/1.1\r\nHost: p.example\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: p.example\r\nConnection: close\r\n\r\n",
        ),
    ];
    for (name, bytes) in probes {
        let response = raw(f.proxy.http, bytes).await;
        let status = status_of(&response);
        assert!(
            ["200", "400", "404", "501"].contains(&status),
            "{name}: {response}"
        );
    }
    // Bare LF line ends are read as line ends and re-framed with CRLF upstream.
    let response = raw(
        f.proxy.http,
        b"GET /api/lf HTTP/1.1\nHost: p.example\nConnection: close\n\n",
    )
    .await;
    assert!(["200", "400"].contains(&status_of(&response)), "{response}");
    let requests = f.seen.requests();
    assert!(
        !requests.iter().any(|r| r.contains("smuggled")),
        "a smuggled request reached the backend: {requests:?}"
    );
}
