//! An echo backend, as Gateway API's conformance suite uses one: it answers with what it was
//! sent, so a test can check which backend answered and what reached it (method, path and
//! query, host, headers), and it sets the response headers a request asks for.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// The request header whose `name:value,name:value` pairs the echo sets on its response.
pub const ECHO_SET_HEADER: &str = "x-echo-set-header";

/// A running echo backend; stops on drop.
pub struct EchoBackend {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    received: Received,
}

/// Every request a backend answered: method, path with query, and the whole body.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String, Vec<u8>)>>>;

impl Drop for EchoBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EchoBackend {
    /// Starts echo backend `name` on 127.0.0.1 and an ephemeral port (HTTP/1.1 and h2c).
    pub async fn start(name: &str) -> EchoBackend {
        EchoBackend::on(IpAddr::from([127, 0, 0, 1]), name).await
    }

    /// Starts echo backend `name` on `ip` and an ephemeral port.
    pub async fn on(ip: IpAddr, name: &str) -> EchoBackend {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind echo backend");
        let addr = listener.local_addr().expect("addr");
        let name: std::sync::Arc<str> = name.into();
        let received = Received::default();
        let log = std::sync::Arc::clone(&received);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let name = std::sync::Arc::clone(&name);
                let log = std::sync::Arc::clone(&log);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let name = std::sync::Arc::clone(&name);
                        let log = std::sync::Arc::clone(&log);
                        async move { Ok::<_, Infallible>(answer(&name, &log, request).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        EchoBackend {
            addr,
            task,
            received,
        }
    }

    /// Every request answered so far: (method, path with query, body).
    pub fn received(&self) -> Vec<(String, String, Vec<u8>)> {
        self.received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The echo's answer: `backend <name>`, `method`, `path` (with query), `host`, then each
/// request header as `name: value` (lower case, in arrival order). `?delay_ms=N` waits first.
async fn answer(name: &str, log: &Received, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(String::new(), |p| p.as_str().to_owned());
    if let Some(ms) = request
        .uri()
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("delay_ms="))
        .and_then(|v| v.parse::<u64>().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let host = request
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let mut text = format!(
        "backend {name}\nmethod {}\npath {target}\nhost {host}\n",
        request.method()
    );
    for (header, value) in request.headers() {
        text.push_str(&format!("{header}: {}\n", value.to_str().unwrap_or("?")));
    }
    let mut response = Response::builder()
        .header("x-echo-backend", name)
        .header("x-echo-version", format!("{:?}", request.version()));
    for pair in request
        .headers()
        .get_all(ECHO_SET_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        if let Some((header, value)) = pair.split_once(':') {
            response = response.header(header.trim(), value.trim());
        }
    }
    let method = request.method().to_string();
    let body = http_body_util::BodyExt::collect(request.into_body())
        .await
        .map(|c| c.to_bytes().to_vec())
        .unwrap_or_default();
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((method, target, body));
    response
        .body(Full::new(Bytes::from(text)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::from_static(b"bad echo header\n"))))
}

/// What an echo answer says reached the backend.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Echoed {
    /// The backend's name.
    pub backend: String,
    /// The method it saw.
    pub method: String,
    /// The path and query it saw.
    pub path: String,
    /// The `Host` it saw.
    pub host: String,
    /// The headers it saw, `(lower-case name, value)` in order.
    pub headers: Vec<(String, String)>,
}

impl Echoed {
    /// Reads an echo answer's body; `None` if it is not one.
    pub fn parse(body: &str) -> Option<Echoed> {
        let mut lines = body.lines();
        let field = |line: Option<&str>, key: &str| {
            line.and_then(|l| l.strip_prefix(key))
                .and_then(|l| l.strip_prefix(' '))
                .map(str::to_owned)
        };
        let mut echoed = Echoed {
            backend: field(lines.next(), "backend")?,
            method: field(lines.next(), "method")?,
            path: field(lines.next(), "path")?,
            host: field(lines.next(), "host")?,
            headers: Vec::new(),
        };
        for line in lines {
            if let Some((name, value)) = line.split_once(": ") {
                echoed.headers.push((name.to_owned(), value.to_owned()));
            }
        }
        Some(echoed)
    }

    /// Every value of header `name` (lower case), joined with `,` as the conformance suite
    /// compares them.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    }
}
