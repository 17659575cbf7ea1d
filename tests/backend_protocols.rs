//! The real `portcullis ingress` binary speaking to backends the way ingress-nginx's
//! `backend-protocol` asks: HTTPS (TLS to a backend with a self-signed certificate, not
//! verified, as ingress-nginx's default, with the Service's host as SNI), H2C, GRPC (HTTP/2 with trailers end to end, to an
//! HTTP/2 client) and GRPCS (HTTP/2 over TLS).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_testkit::ingress_process::Portcullis;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

type AnyBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// Answers `<version> <method> <path> te=<TE header>` (and ` sni=<name>` over TLS) and, like a
/// gRPC server, ends with a `grpc-status: 0` trailer.
async fn answer(
    sni: Option<String>,
    request: Request<Incoming>,
) -> Result<Response<AnyBody>, Infallible> {
    let te = request
        .headers()
        .get("te")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let sni = sni.map_or(String::new(), |name| format!(" sni={name}"));
    let line = format!(
        "{:?} {} {} te={te}{sni}\n",
        request.version(),
        request.method(),
        request.uri().path()
    );
    let _ = request.into_body().collect().await;
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().expect("valid"));
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
        Ok(Frame::data(Bytes::from(line))),
        Ok(Frame::trailers(trailers)),
    ];
    let body = StreamBody::new(futures_util::stream::iter(frames)).boxed();
    Ok(Response::builder()
        .header("content-type", "application/grpc")
        .body(body)
        .expect("valid response"))
}

/// A backend on loopback: HTTP/1 or HTTP/2 (`h2`), plain or TLS (`tls`).
async fn backend(h2: bool, tls: Option<TlsAcceptor>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(stream).await else {
                            return;
                        };
                        let sni = stream.get_ref().1.server_name().map(str::to_owned);
                        let service =
                            hyper::service::service_fn(move |request| answer(sni.clone(), request));
                        serve(h2, TokioIo::new(stream), service).await;
                    }
                    None => {
                        let service = hyper::service::service_fn(|request| answer(None, request));
                        serve(h2, TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    addr
}

async fn serve<I, S>(h2: bool, io: I, service: S)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<AnyBody>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    if h2 {
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service)
            .await;
    } else {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .await;
    }
}

/// A TLS acceptor with a fresh self-signed certificate, offering `alpn`.
fn self_signed(alpn: &[u8]) -> TlsAcceptor {
    let key = rcgen::KeyPair::generate().expect("key");
    let params =
        rcgen::CertificateParams::new(vec!["backend.internal".to_owned()]).expect("params");
    let cert = params.self_signed(&key).expect("self-signed");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("certificate");
    config.alpn_protocols = vec![alpn.to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

fn objects(backends: &[(&str, &str, SocketAddr)]) -> String {
    let mut out = String::from(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: portcullis}\n\
         spec: {controller: portcullis.dev/ingress-controller}\n",
    );
    for (name, protocol, addr) in backends {
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: store}}\n\
             spec: {{ports: [{{name: http, port: 80}}]}}\n\
             ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
             metadata: {{name: {name}-1, namespace: store, labels: {{kubernetes.io/service-name: {name}}}}}\n\
             addressType: IPv4\nports: [{{name: http, port: {port}}}]\n\
             endpoints: [{{addresses: [\"{ip}\"]}}]\n\
             ---\napiVersion: networking.k8s.io/v1\nkind: Ingress\n\
             metadata:\n  name: {name}\n  namespace: store\n  annotations:\n    nginx.ingress.kubernetes.io/backend-protocol: {protocol}\n\
             spec:\n  ingressClassName: portcullis\n  rules:\n  - host: {name}.test\n    http:\n      paths:\n\
             \x20     - {{path: /, pathType: Prefix, backend: {{service: {{name: {name}, port: {{name: http}}}}}}}}\n",
            port = addr.port(),
            ip = addr.ip(),
        ));
    }
    out
}

/// One request over an HTTP/2 (prior knowledge) connection to the proxy: status, body,
/// trailers.
async fn h2_request(proxy: SocketAddr, host: &str, te: bool) -> (u16, String, Option<HeaderMap>) {
    let stream = tokio::net::TcpStream::connect(proxy)
        .await
        .expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2c handshake");
    tokio::spawn(connection);
    let mut request = Request::post(format!("http://{host}/pkg.Service/Method"))
        .header("content-type", "application/grpc");
    if te {
        request = request.header("te", "trailers");
    }
    let request = request
        .body(Full::new(Bytes::from_static(b"\0\0\0\0\0")))
        .expect("request");
    let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
        .await
        .expect("in time")
        .expect("answered");
    let status = response.status().as_u16();
    let collected = response.into_body().collect().await.expect("body");
    let trailers = collected.trailers().cloned();
    (
        status,
        String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        trailers,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_backend_protocol_reaches_its_backend() {
    let https = backend(false, Some(self_signed(b"http/1.1"))).await;
    let h2c = backend(true, None).await;
    let grpc = backend(true, None).await;
    let grpcs = backend(true, Some(self_signed(b"h2"))).await;
    let plain = backend(false, None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let text = objects(&[
        ("https", "HTTPS", https),
        ("h2c", "H2C", h2c),
        ("grpc", "GRPC", grpc),
        ("grpcs", "grpcs", grpcs),
        ("plain", "HTTP", plain),
    ]);
    std::fs::write(dir.path().join("objects.yaml"), text).expect("write");
    let proxy = Portcullis::start(dir.path(), &[]).await;

    let (status, body) = portcullis_testkit::ingress_process::get(proxy.http, "https.test", "/x")
        .await
        .expect("answered");
    // SNI names the Service, not the endpoint's address.
    assert_eq!(
        (status, body.as_str()),
        (200, "HTTP/1.1 GET /x te=- sni=https.store.svc\n")
    );
    let (status, body) = portcullis_testkit::ingress_process::get(proxy.http, "h2c.test", "/x")
        .await
        .expect("answered");
    assert_eq!((status, body.as_str()), (200, "HTTP/2.0 GET /x te=-\n"));

    // gRPC: HTTP/2 to the backend, TE: trailers kept, the grpc-status trailer back to the
    // client.
    for (host, sni) in [("grpc.test", ""), ("grpcs.test", " sni=grpcs.store.svc")] {
        let (status, body, trailers) = h2_request(proxy.http, host, true).await;
        assert_eq!(status, 200, "{host}");
        assert_eq!(
            body,
            format!("HTTP/2.0 POST /pkg.Service/Method te=trailers{sni}\n"),
            "{host}"
        );
        let trailers = trailers.expect("trailers");
        assert_eq!(trailers["grpc-status"], "0", "{host}");
    }
    // Plain HTTP backends never get TE (hop-by-hop).
    let (_, body, _) = h2_request(proxy.http, "plain.test", true).await;
    assert_eq!(body, "HTTP/1.1 POST /pkg.Service/Method te=-\n");
}
