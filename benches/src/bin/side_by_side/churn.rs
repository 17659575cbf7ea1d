//! Route churn under load: while `wrk` keeps Portcullis busy on `/`, an Ingress in its
//! manifests folder changes ten times a second, each time to a new path (`/c1`, `/c2`, ...)
//! served by a second backend. Counts the load's failed requests (target: none) and times
//! each change until the new path answers from the second backend.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::Args;
use crate::configs::service;
use crate::kit::{CHURN_BACKEND_PORT, Kit};
use crate::load;
use crate::peers::Proxy;
use crate::running::Running;
use crate::scenarios::Protocol;
use crate::tools::WRK;

/// What route churn did.
#[derive(Debug, Clone)]
pub struct Churn {
    /// Ingress changes made.
    pub changes: usize,
    /// Seconds of load.
    pub seconds: u32,
    /// Requests the load completed, and how many failed (non-2xx or errors).
    pub load: load::Closed,
    /// Milliseconds from each change (file renamed into place) to its route answering,
    /// sorted; changes that never answered are left out and counted in `never_live`.
    pub live_ms: Vec<f64>,
    /// Changes whose route did not answer within 2 s.
    pub never_live: usize,
}

/// Starts the backend and Portcullis with one route, and runs the churn against it (5 s with
/// `--quick`, else 20 s).
pub fn run(kit: &Kit, args: &Args) -> anyhow::Result<Churn> {
    let _backend = kit.start_backend(args.load_core, 0)?;
    let portcullis = Proxy::Portcullis.peer();
    let _running = portcullis.start(kit, args.proxy_core, 1, false)?;
    let seconds = if args.quick { 5 } else { 20 };
    measure(
        kit.tool(&WRK)?,
        &kit.backend,
        args.load_core,
        &portcullis.url(Protocol::H1, 1, false)?,
        &portcullis.dir(kit, 1, false),
        portcullis.http,
        seconds,
    )
}

/// Runs the churn against Portcullis on `http_port`, whose manifests are in
/// `portcullis_dir/manifests`.
pub fn measure(
    wrk: &Path,
    backend: &Path,
    core: usize,
    url: &str,
    portcullis_dir: &Path,
    http_port: u16,
    seconds: u32,
) -> anyhow::Result<Churn> {
    let mut second = Running::start(
        "churn backend",
        core,
        backend,
        &[
            "--listen".into(),
            format!("127.0.0.1:{CHURN_BACKEND_PORT}"),
            "--name".into(),
            "churn".into(),
        ],
        &[],
        &portcullis_dir.join("churn-backend.log"),
    )?;
    second.wait_ready(&format!("http://127.0.0.1:{CHURN_BACKEND_PORT}/"))?;
    let manifests = portcullis_dir.join("manifests");
    let load = {
        let (wrk, url) = (wrk.to_path_buf(), url.to_string());
        std::thread::spawn(move || load::wrk(&wrk, core, &url, 50, seconds))
    };
    let started = Instant::now();
    let (mut changes, mut live_ms, mut never_live) = (0, Vec::new(), 0);
    while started.elapsed() < Duration::from_secs(u64::from(seconds)) {
        let tick = Instant::now();
        changes += 1;
        let path = format!("/c{changes}");
        let staged = manifests.join(".churn.yaml.tmp");
        fs::write(&staged, churn_objects(&path))?;
        fs::rename(&staged, manifests.join("churn.yaml"))?;
        let written = Instant::now();
        let deadline = written + Duration::from_secs(2);
        loop {
            if served_by_churn(http_port, &format!("{path}/x")) {
                live_ms.push(written.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            if Instant::now() > deadline {
                never_live += 1;
                break;
            }
            sleep(Duration::from_micros(500));
        }
        if let Some(rest) = Duration::from_millis(100).checked_sub(tick.elapsed()) {
            sleep(rest);
        }
    }
    let load = load
        .join()
        .map_err(|_| anyhow::anyhow!("the load thread panicked"))??;
    live_ms.sort_by(f64::total_cmp);
    let _ = fs::remove_file(manifests.join("churn.yaml"));
    Ok(Churn {
        changes,
        seconds,
        load,
        live_ms,
        never_live,
    })
}

/// The second backend's Service and EndpointSlice, and an Ingress routing `path` to it.
pub fn churn_objects(path: &str) -> String {
    let backend = service(
        "churn",
        SocketAddr::from(([127, 0, 0, 1], CHURN_BACKEND_PORT)),
    );
    format!(
        "{backend}apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: churn, namespace: bench}}
spec:
  ingressClassName: portcullis
  rules:
  - http:
      paths:
      - {{path: \"{path}\", pathType: Prefix, backend: {{service: {{name: churn, port: {{name: http}}}}}}}}
"
    )
}

/// Whether `GET path` on the proxy is answered by the churn backend.
fn served_by_churn(port: u16, path: &str) -> bool {
    let attempt = || -> anyhow::Result<bool> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).context("connect")?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        Ok(text.starts_with("http/1.1 200") && text.contains("x-served-by: churn"))
    };
    attempt().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use portcullis_kube::manifests::parse_manifest;

    use super::*;

    #[test]
    fn portcullis_reads_the_churn_objects() {
        let parsed = parse_manifest("churn.yaml", &churn_objects("/c1")).unwrap();
        // Service, EndpointSlice, Ingress.
        assert_eq!(parsed.objects.len(), 3, "{parsed:?}");
        assert!(parsed.skipped.is_empty());
    }
}
