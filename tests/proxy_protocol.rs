//! The real `portcullis ingress` binary behind a (simulated) load balancer sending PROXY
//! protocol: v1 and v2 headers from trusted peers name the client, which X-Forwarded-For,
//! X-Real-IP and source-range allowlists then see; untrusted peers, missing, truncated,
//! oversized and malformed headers close that connection only, and are counted.

use std::net::SocketAddr;
use std::time::Duration;

use portcullis_testkit::echo_backend::{EchoBackend, Echoed};
use portcullis_testkit::ingress_process::{Portcullis, get, slice};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Ingress `open` (host open.example) and `allowlisted` (host allow.example, allowlist
/// 203.0.113.0/24), both to Service `echo`.
fn objects(backend: SocketAddr) -> String {
    let ingress = |name: &str, host: &str, annotations: &str| {
        format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\n\
             metadata: {{name: {name}, namespace: store{annotations}}}\n\
             spec:\n  ingressClassName: portcullis\n  rules:\n  - host: {host}\n    http:\n      paths:\n\
             \x20     - {{path: /, pathType: Prefix, backend: {{service: {{name: echo, port: {{number: 80}}}}}}}}\n"
        )
    };
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: portcullis}}\n\
         spec: {{controller: portcullis.dev/ingress-controller}}\n\
         ---\napiVersion: v1\nkind: Service\nmetadata: {{name: echo, namespace: store}}\n\
         spec: {{ports: [{{name: http, port: 80, targetPort: {}}}]}}\n{}{}{}",
        backend.port(),
        slice("echo", &[backend]),
        ingress("open", "open.example", ""),
        ingress(
            "allowlisted",
            "allow.example",
            ", annotations: {nginx.ingress.kubernetes.io/allowlist-source-range: 203.0.113.0/24}"
        ),
    )
}

/// Sends `prefix` then a GET for `host`, and reads the answer to the end ("" if the
/// connection was closed without one).
async fn through(proxy: SocketAddr, prefix: &[u8], host: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(proxy)
        .await
        .expect("connect");
    let _ = stream.write_all(prefix).await;
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// The echo's view of a 200 answer.
fn echoed(answer: &str) -> Echoed {
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Echoed::parse(body).unwrap_or_else(|| panic!("not an echo: {answer}"))
}

/// A v2 header: PROXY over TCP/IPv4 from `source:port`, with `tlvs` after the addresses.
fn v2(source: [u8; 4], port: u16, tlvs: &[u8]) -> Vec<u8> {
    let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    out.extend_from_slice(&[0x21, 0x11]);
    out.extend_from_slice(&u16::try_from(12 + tlvs.len()).expect("fits").to_be_bytes());
    out.extend_from_slice(&source);
    out.extend_from_slice(&[10, 0, 0, 1]);
    out.extend_from_slice(&port.to_be_bytes());
    out.extend_from_slice(&80u16.to_be_bytes());
    out.extend_from_slice(tlvs);
    out
}

/// The echo backend and a manifests folder holding [`objects`] for it.
async fn served_objects() -> (EchoBackend, tempfile::TempDir) {
    let backend = EchoBackend::start("echo").await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("objects.yaml"), objects(backend.addr)).expect("write");
    (backend, dir)
}

async fn metric(proxy: &Portcullis, name: &str) -> u64 {
    let (_, text) = get(proxy.admin, "", "/metrics").await.expect("metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_load_balancers_name_the_client_and_everything_else_is_closed() {
    let (_backend, dir) = served_objects().await;
    let proxy = Portcullis::start(
        dir.path(),
        &[
            "--proxy-protocol",
            "--proxy-protocol-trusted-cidrs",
            "10.0.0.0/8,127.0.0.0/8",
            "--proxy-protocol-timeout",
            "1s",
        ],
    )
    .await;
    let addr = proxy.http;

    // v1: the client is the header's source, X-Forwarded-For starts there.
    let seen = echoed(
        &through(
            addr,
            b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 80\r\n",
            "open.example",
        )
        .await,
    );
    assert_eq!(
        seen.header("x-forwarded-for").as_deref(),
        Some("203.0.113.7")
    );
    assert_eq!(seen.header("x-real-ip").as_deref(), Some("203.0.113.7"));
    // v2 with TLVs (an AWS-style VPC endpoint id, a NOOP).
    let tlvs = [0xEA, 0, 4, b'v', b'p', b'c', b'e', 0x04, 0, 1, 0];
    let seen = echoed(&through(addr, &v2([198, 51, 100, 9], 40000, &tlvs), "open.example").await);
    assert_eq!(
        seen.header("x-forwarded-for").as_deref(),
        Some("198.51.100.9")
    );
    // A LOCAL header (the balancer's own health check): the peer is the client.
    let mut local = v2([0, 0, 0, 0], 0, &[]);
    local[12] = 0x20;
    let seen = echoed(&through(addr, &local, "open.example").await);
    assert_eq!(seen.header("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    // The allowlist reads the same client address.
    let allowed = through(
        addr,
        b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 80\r\n",
        "allow.example",
    )
    .await;
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    let refused = through(
        addr,
        b"PROXY TCP4 192.0.2.1 10.0.0.1 51000 80\r\n",
        "allow.example",
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");

    // No header, a malformed one, a truncated one, one announcing 60 KiB: closed, unanswered.
    let mut huge = v2([198, 51, 100, 9], 40000, &[]);
    huge[14..16].copy_from_slice(&60_000u16.to_be_bytes());
    let bad: [&[u8]; 4] = [
        b"",
        b"PROXY TCP4 999.0.0.1 10.0.0.1 1 2\r\n",
        b"PROXY TCP4 203.0",
        &huge,
    ];
    for prefix in bad {
        assert_eq!(
            through(addr, prefix, "open.example").await,
            "",
            "{prefix:?}"
        );
    }
    assert_eq!(
        metric(&proxy, "portcullis_proxy_protocol_failures_total").await,
        4
    );
    // Every other connection is still served.
    let seen = echoed(
        &through(
            addr,
            b"PROXY TCP4 203.0.113.8 10.0.0.1 51000 80\r\n",
            "open.example",
        )
        .await,
    );
    assert_eq!(
        seen.header("x-forwarded-for").as_deref(),
        Some("203.0.113.8")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn peers_outside_the_trusted_cidrs_are_refused_and_counted() {
    let (_backend, dir) = served_objects().await;
    let proxy = Portcullis::start(
        dir.path(),
        &[
            "--proxy-protocol",
            "--proxy-protocol-trusted-cidrs",
            "10.0.0.0/8",
        ],
    )
    .await;
    let header = b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 80\r\n";
    assert_eq!(through(proxy.http, header, "open.example").await, "");
    assert_eq!(
        metric(&proxy, "portcullis_proxy_protocol_refused_total").await,
        1
    );
    // Without --proxy-protocol a header is not read: the request is malformed (400).
    let plain = Portcullis::start(dir.path(), &[]).await;
    let answer = through(plain.http, header, "open.example").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}
