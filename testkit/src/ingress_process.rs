//! The real `portcullis ingress` binary run by a test, real backends on loopback, a small
//! client, and the demo objects.

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::binaries::cargo_bin;

/// A backend on 127.0.0.1 that answers `<name> <path>`; `?sleep_ms=N` delays the answer.
pub struct TestBackend {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Resident memory of process `pid`, in KiB (`VmRSS` in /proc); 0 if it is gone.
pub fn rss_kib_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Starts a backend named `name` on an ephemeral port.
pub async fn backend(name: &'static str) -> TestBackend {
    TestBackend::on(std::net::IpAddr::from([127, 0, 0, 1]), name).await
}

impl TestBackend {
    /// Starts a backend named `name` on `ip` and an ephemeral port.
    pub async fn on(ip: std::net::IpAddr, name: &'static str) -> TestBackend {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind backend");
        serve_backend(listener, name)
    }
}

/// Serves backend `name` (see [`TestBackend`]) on a listener made elsewhere.
pub fn serve_backend(listener: TcpListener, name: &'static str) -> TestBackend {
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<Incoming>| async move {
                        if let Some(ms) = req
                            .uri()
                            .query()
                            .and_then(|q| q.strip_prefix("sleep_ms="))
                            .and_then(|v| v.parse::<u64>().ok())
                        {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                        }
                        let body = format!("{name} {}\n", req.uri().path());
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("x-served-by", name)
                                .body(Full::new(Bytes::from(body)))
                                .expect("valid response"),
                        )
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    TestBackend { addr, task }
}

/// A running `portcullis ingress` process; killed on drop.
pub struct Portcullis {
    /// The proxy's plain HTTP address.
    pub http: SocketAddr,
    /// The admin address (/healthz, /readyz, /metrics).
    pub admin: SocketAddr,
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Portcullis {
    /// Starts the binary on `dir` with extra flags and waits until /readyz answers 200.
    pub async fn start(dir: &Path, extra: &[&str]) -> Portcullis {
        let dir = dir.to_str().expect("utf-8 path");
        let mut flags = vec!["--manifests", dir];
        flags.extend_from_slice(extra);
        Portcullis::start_with(&flags).await
    }

    /// Starts `portcullis ingress` with these flags (plus listen addresses) and waits until
    /// /readyz answers 200.
    pub async fn start_with(flags: &[&str]) -> Portcullis {
        Portcullis::start_with_env(flags, &[]).await
    }

    /// Like [`Portcullis::start_with`], with extra environment variables.
    pub async fn start_with_env(flags: &[&str], env: &[(&str, &str)]) -> Portcullis {
        let process = Portcullis::spawn_with_env(flags, env);
        let admin = process.admin;
        let ready = wait_until(Duration::from_secs(15), || async {
            get(admin, "", "/readyz").await.map(|r| r.0) == Some(200)
        })
        .await;
        assert!(
            ready,
            "portcullis never became ready; log:\n{}",
            process.log()
        );
        process
    }

    /// Starts `portcullis ingress` with these flags and environment, without waiting for it to
    /// become ready (for tests of why it does not).
    pub fn spawn_with_env(flags: &[&str], env: &[(&str, &str)]) -> Portcullis {
        let (http, admin) = (free_port(), free_port());
        let mut child = Command::new(cargo_bin("portcullis"))
            .envs(env.iter().copied())
            .arg("ingress")
            .args([
                "--http-addr",
                &http.to_string(),
                "--admin-addr",
                &admin.to_string(),
            ])
            .args(flags)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn portcullis");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr piped");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().expect("log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        Portcullis {
            http,
            admin,
            child,
            log,
        }
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits until the log contains `needle`.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || async { self.log().contains(needle) }).await
    }

    /// The first log line containing `needle`, waiting up to `timeout` for it.
    pub async fn log_line(&self, needle: &str, timeout: Duration) -> Option<String> {
        if !self.wait_for_log(needle, timeout).await {
            return None;
        }
        self.log()
            .lines()
            .find(|l| l.contains(needle))
            .map(str::to_string)
    }

    /// Resident memory of the process, in KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        rss_kib_of(self.child.id())
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for Portcullis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> SocketAddr {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// A pooled keep-alive HTTP/1.1 client.
pub fn client() -> Client<HttpConnector, Empty<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// One GET with a fresh client: status and body, or `None` if the request failed.
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> Option<(u16, String)> {
    get_with(&client(), addr, host, path).await
}

/// One GET through `client`.
pub async fn get_with(
    client: &Client<HttpConnector, Empty<Bytes>>,
    addr: SocketAddr,
    host: &str,
    path: &str,
) -> Option<(u16, String)> {
    let (status, _, body) = request_with(client, addr, "GET", host, path, &[]).await?;
    Some((status, body))
}

/// One request with a fresh client (redirects are not followed): status, response headers and
/// body, or `None` if it failed.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, hyper::HeaderMap, String)> {
    request_with(&client(), addr, method, host, path, headers).await
}

/// One request through `client`: `method`, `Host` (unless empty), `path` and `headers`.
pub async fn request_with(
    client: &Client<HttpConnector, Empty<Bytes>>,
    addr: SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, hyper::HeaderMap, String)> {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if !host.is_empty() {
        request = request.header("host", host);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Empty::new()).ok()?;
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .ok()?
        .ok()?;
    let status = response.status().as_u16();
    let response_headers = response.headers().clone();
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((
        status,
        response_headers,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

/// Polls `check` every 20 ms until it holds or `timeout` passes.
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes a file the way editors and `kubectl` tooling do: to a temp name, then renamed over.
pub fn write_atomically(path: &Path, contents: &str) {
    let temp = path.with_extension("tmp~");
    std::fs::write(&temp, contents).expect("write temp");
    std::fs::rename(&temp, path).expect("rename over");
}

/// The demo's IngressClass, Services and Ingress for `/wear` and `/watch` (namespace `store`).
pub const STORE: &str = r#"
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: portcullis}
spec: {controller: portcullis.dev/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: wear, namespace: store}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: watch, namespace: store}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: store, namespace: store}
spec:
  ingressClassName: portcullis
  rules:
  - http:
      paths:
      - {path: /wear, pathType: Prefix, backend: {service: {name: wear, port: {name: http}}}}
      - {path: /watch, pathType: Prefix, backend: {service: {name: watch, port: {name: http}}}}
"#;

/// An EndpointSlice for Service `service` in namespace `store` with these ready endpoints.
pub fn slice(service: &str, endpoints: &[SocketAddr]) -> String {
    let mut out = String::new();
    for (i, addr) in endpoints.iter().enumerate() {
        out.push_str(&format!(
            "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
             metadata: {{name: {service}-{i}, namespace: store, labels: {{kubernetes.io/service-name: {service}}}}}\n\
             addressType: IPv4\nports: [{{name: http, port: {}}}]\n\
             endpoints: [{{addresses: [\"{}\"], conditions: {{ready: true}}}}]\n",
            addr.port(),
            addr.ip()
        ));
    }
    out
}
