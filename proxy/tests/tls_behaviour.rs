//! The HTTPS listener with real TLS handshakes (rustls client, certificates from a test CA):
//! SNI selection, default certificate, ALPN h2 and http/1.1, resumption, redirects, rotation
//! under load, and handshake-failure metrics.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_proxy::certificates::{
    CertificateCache, CertificateStore, LiveCertificates, self_signed_default,
};
use portcullis_proxy::live::LiveTable;
use portcullis_proxy::metrics::{HandshakeFailure, Metrics};
use portcullis_proxy::server::{ProxyConfig, serve_proxy, serve_tls_proxy};
use portcullis_route::spec::{
    Backend, CertificateSpec, HostMatch, Origin, RouteSpec, TableSpec, Target, TlsSpec,
};
use portcullis_route::table::RoutingTable;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::RootCertStore;
use rustls::client::ClientConfig;
use rustls_pki_types::{CertificateDer, ServerName};
use support::backend;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A CA that issues the test certificates.
struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

fn ca() -> TestCa {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Portcullis Test CA");
    let der = params.self_signed(&key).unwrap().der().clone();
    TestCa {
        issuer: Issuer::new(params, key),
        der,
    }
}

impl TestCa {
    /// A leaf certificate for `names` as a Secret would hold it, plus its DER to compare.
    fn issue(&self, secret: &str, names: &[&str]) -> (CertificateSpec, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let spec = CertificateSpec {
            secret: secret.into(),
            chain_pem: cert.pem().into_bytes(),
            key_pem: key.serialize_pem().into_bytes(),
        };
        (spec, cert.der().to_vec())
    }

    fn client(&self, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        self.client_with_versions(alpn, rustls::DEFAULT_VERSIONS)
    }

    fn client_with_versions(
        &self,
        alpn: &[&[u8]],
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

struct Listeners {
    http: SocketAddr,
    https: SocketAddr,
    certificates: Arc<LiveCertificates>,
    metrics: Arc<Metrics>,
}

/// Plain and TLS listeners over one table and one certificate store.
async fn start(table: &TableSpec, tls: &TlsSpec) -> Listeners {
    let metrics = Arc::new(Metrics::default());
    let (compiled, _) = RoutingTable::compile(table, &metrics);
    let live = Arc::new(LiveTable::new(compiled));
    let (store, problems) = CertificateStore::compile(
        tls,
        &self_signed_default().unwrap(),
        now(),
        &mut CertificateCache::default(),
    );
    assert!(problems.is_empty(), "{problems:?}");
    let certificates = Arc::new(LiveCertificates::new(store));
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let secure = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (http, https) = (plain.local_addr().unwrap(), secure.local_addr().unwrap());
    tokio::spawn(serve_proxy(
        plain,
        Arc::clone(&live),
        Arc::clone(&metrics),
        ProxyConfig::default(),
        std::future::pending(),
    ));
    tokio::spawn(serve_tls_proxy(
        secure,
        live,
        Arc::clone(&certificates),
        Arc::clone(&metrics),
        ProxyConfig::default(),
        std::future::pending(),
    ));
    Listeners {
        http,
        https,
        certificates,
        metrics,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn handshake(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let stream = TcpStream::connect(addr).await?;
    let server_name = ServerName::try_from(name.to_string()).map_err(std::io::Error::other)?;
    TlsConnector::from(config)
        .connect(server_name, stream)
        .await
}

fn peer_leaf(tls: &TlsStream<TcpStream>) -> Vec<u8> {
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// One request over an established TLS connection, by the negotiated protocol.
async fn request(tls: TlsStream<TcpStream>, host: &str, path: &str) -> (u16, String) {
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let request = Request::get(format!("https://{host}{path}"))
        .header("host", host)
        .body(Full::<Bytes>::default())
        .unwrap();
    let response = if h2 {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(connection);
        let (mut parts, body) = request.into_parts();
        parts.headers.remove("host");
        sender
            .send_request(Request::from_parts(parts, body))
            .await
            .unwrap()
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(connection);
        let (mut parts, body) = request.into_parts();
        parts.uri = path.parse().unwrap();
        sender
            .send_request(Request::from_parts(parts, body))
            .await
            .unwrap()
    };
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn tls_spec(
    entries: Vec<(HostMatch, CertificateSpec)>,
    default: Option<CertificateSpec>,
) -> TlsSpec {
    let mut tls = TlsSpec::default();
    for (host, certificate) in entries {
        tls.hosts.push((host, tls.certificates.len()));
        tls.certificates.push(certificate);
    }
    if let Some(default) = default {
        tls.default_certificate = Some(tls.certificates.len());
        tls.certificates.push(default);
    }
    tls
}

fn routed(addr: SocketAddr, redirect: bool) -> TableSpec {
    let backend = Arc::new(Backend {
        tls: None,
        headers: None,
        origin: Some(Origin {
            namespace: "t".into(),
            ingress: "i".into(),
            service: "s".into(),
            port: "80".into(),
        }),
        target: Target::Endpoints(vec![addr]),
    });
    let route = RouteSpec {
        https_redirect: redirect.then_some(308),
        ..RouteSpec::forward(backend)
    };
    support::spec_of_routes(vec![("/", Arc::new(route))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_picks_the_host_certificate_then_the_wildcard_then_the_default() {
    let ca = ca();
    let (shop, shop_der) = ca.issue("t/shop", &["shop.test"]);
    let (wild, wild_der) = ca.issue("t/wild", &["*.wild.test"]);
    let (default, default_der) = ca.issue("t/default", &["unknown.test", "127.0.0.1"]);
    let tls = tls_spec(
        vec![
            (HostMatch::Exact("shop.test".into()), shop),
            (HostMatch::Wildcard("wild.test".into()), wild),
        ],
        Some(default),
    );
    let proxy = start(&routed(backend("b").await, false), &tls).await;
    let client = ca.client(&[b"http/1.1"]);
    let cases = [
        ("shop.test", &shop_der),
        ("a.wild.test", &wild_der),
        ("unknown.test", &default_der),
        ("127.0.0.1", &default_der),
    ];
    for (name, want) in cases {
        let tls = handshake(proxy.https, Arc::clone(&client), name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(peer_leaf(&tls), *want, "{name} got the wrong certificate");
    }
    // The server finishes its side of a handshake just after the client does.
    let handshakes = || proxy.metrics.tls.handshakes.load(Ordering::Relaxed);
    for _ in 0..100 {
        if handshakes() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(handshakes(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_negotiates_h2_or_http1_and_upstreams_see_https() {
    let ca = ca();
    let (shop, _) = ca.issue("t/shop", &["shop.test"]);
    let proxy = start(
        &routed(backend("b").await, false),
        &tls_spec(vec![(HostMatch::Exact("shop.test".into()), shop)], None),
    )
    .await;
    for (alpn, want) in [
        (&[&b"h2"[..], b"http/1.1"][..], &b"h2"[..]),
        (&[&b"http/1.1"[..]][..], &b"http/1.1"[..]),
    ] {
        let tls = handshake(proxy.https, ca.client(alpn), "shop.test")
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(want));
        let (status, headers) = request(tls, "shop.test", "/headers").await;
        assert_eq!(status, 200);
        assert!(headers.contains("x-forwarded-proto: https"), "{headers}");
        assert!(headers.contains("host: shop.test"), "{headers}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_resumes_the_session() {
    let ca = ca();
    let (shop, _) = ca.issue("t/shop", &["shop.test"]);
    let proxy = start(
        &routed(backend("b").await, false),
        &tls_spec(vec![(HostMatch::Exact("shop.test".into()), shop)], None),
    )
    .await;
    let client = ca.client(&[b"http/1.1"]);
    let first = handshake(proxy.https, Arc::clone(&client), "shop.test")
        .await
        .unwrap();
    assert_eq!(
        first.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Full)
    );
    // TLS 1.3 tickets arrive after the handshake: read the first response to receive them.
    let _ = request(first, "shop.test", "/").await;
    let second = handshake(proxy.https, client, "shop.test").await.unwrap();
    assert_eq!(
        second.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_hosts_redirect_plain_http_but_serve_https() {
    let ca = ca();
    let (shop, _) = ca.issue("t/shop", &["shop.test"]);
    let proxy = start(
        &routed(backend("b").await, true),
        &tls_spec(vec![(HostMatch::Exact("shop.test".into()), shop)], None),
    )
    .await;
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    stream
        .write_all(b"GET /cart/1?step=2 HTTP/1.1\r\nHost: shop.test:8080\r\n\r\n")
        .await
        .unwrap();
    let mut response = vec![0u8; 1024];
    let n = tokio::io::AsyncReadExt::read(&mut stream, &mut response)
        .await
        .unwrap();
    let response = String::from_utf8_lossy(&response[..n]).to_lowercase();
    assert!(response.starts_with("http/1.1 308"), "{response}");
    assert!(
        response.contains("location: https://shop.test/cart/1?step=2"),
        "{response}"
    );

    let tls = handshake(proxy.https, ca.client(&[b"http/1.1"]), "shop.test")
        .await
        .unwrap();
    let (status, _) = request(tls, "shop.test", "/cart/1").await;
    assert_eq!(status, 200, "HTTPS requests are served, not redirected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_rotate_under_load_without_a_failed_request() {
    let ca = ca();
    let (v1, v1_der) = ca.issue("t/rot", &["rot.test"]);
    let (v2, v2_der) = ca.issue("t/rot", &["rot.test"]);
    let host = HostMatch::Exact("rot.test".into());
    let proxy = start(
        &routed(backend("b").await, false),
        &tls_spec(vec![(host.clone(), v1.clone())], None),
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (stop, ok, failed, client, addr) = (
            stop.clone(),
            ok.clone(),
            failed.clone(),
            ca.client(&[b"h2", b"http/1.1"]),
            proxy.https,
        );
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let served = match handshake(addr, Arc::clone(&client), "rot.test").await {
                    Ok(tls) => request(tls, "rot.test", "/").await.0 == 200,
                    Err(_) => false,
                };
                if served {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let fallback = self_signed_default().unwrap();
    let mut cache = CertificateCache::default();
    for round in 0..60 {
        let current = if round % 2 == 0 {
            v2.clone()
        } else {
            v1.clone()
        };
        let (store, _) = CertificateStore::compile(
            &tls_spec(vec![(host.clone(), current)], None),
            &fallback,
            now(),
            &mut cache,
        );
        proxy.certificates.publish(store);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(ok > 50, "load barely ran: {ok}");
    assert_eq!(
        failed, 0,
        "{failed} handshakes or requests failed during rotation ({ok} ok)"
    );
    // The last publish was v1 (round 59); new handshakes get it, then v2 after another swap.
    let tls = handshake(proxy.https, ca.client(&[b"http/1.1"]), "rot.test")
        .await
        .unwrap();
    assert_eq!(peer_leaf(&tls), v1_der);
    let (store, _) = CertificateStore::compile(
        &tls_spec(vec![(host, v2)], None),
        &fallback,
        now(),
        &mut cache,
    );
    proxy.certificates.publish(store);
    let tls = handshake(proxy.https, ca.client(&[b"http/1.1"]), "rot.test")
        .await
        .unwrap();
    assert_eq!(peer_leaf(&tls), v2_der);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handshakes_are_counted_by_reason() {
    let ca = ca();
    let (shop, _) = ca.issue("t/shop", &["shop.test"]);
    let proxy = start(
        &routed(backend("b").await, false),
        &tls_spec(vec![(HostMatch::Exact("shop.test".into()), shop)], None),
    )
    .await;
    // Plain HTTP to the HTTPS port.
    let mut plain = TcpStream::connect(proxy.https).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n")
        .await
        .unwrap();
    // A client that does not trust our certificate aborts with an alert.
    let stranger = ca_stranger_client();
    assert!(handshake(proxy.https, stranger, "shop.test").await.is_err());
    let metrics = Arc::clone(&proxy.metrics);
    let counted = |reason| metrics.tls.failures(reason);
    for _ in 0..100 {
        if counted(HandshakeFailure::InvalidMessage) == 1
            && counted(HandshakeFailure::AlertReceived) == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counted(HandshakeFailure::InvalidMessage), 1);
    assert_eq!(counted(HandshakeFailure::AlertReceived), 1);
    assert!(
        proxy
            .metrics
            .render()
            .contains("portcullis_tls_handshake_failures_total{reason=\"alert_received\"} 1")
    );
}

/// A client whose only trusted CA is some other CA.
fn ca_stranger_client() -> Arc<ClientConfig> {
    ca().client(&[b"http/1.1"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_and_1_3_clients_are_both_served() {
    let ca = ca();
    let (shop, _) = ca.issue("t/shop", &["shop.test"]);
    let proxy = start(
        &routed(backend("b").await, false),
        &tls_spec(vec![(HostMatch::Exact("shop.test".into()), shop)], None),
    )
    .await;
    for (version, want) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let config = ca.client_with_versions(&[b"http/1.1"], &[version]);
        let tls = handshake(proxy.https, config, "shop.test").await.unwrap();
        assert_eq!(tls.get_ref().1.protocol_version(), Some(want));
        assert_eq!(request(tls, "shop.test", "/").await.0, 200);
    }
}
