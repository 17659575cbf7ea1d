//! Change-to-live: time from an Ingress change on the API server to the new route answering
//! through the proxy, at 10 and at 10,000 Ingresses (target: p99 under 50 ms at 10k), and the
//! process's RSS with 10,000 Ingresses loaded (target: under 100 MB, controller and proxy are
//! one process). The API server is the fake one from `testkit/`, over real HTTP.
//!
//! `cargo bench -p portcullis --bench change_to_live` runs it in full and writes
//! `benches/results/change-to-live.md`; under `cargo test` it runs a small smoke version.

#![allow(clippy::unwrap_used, missing_docs)] // Benchmark harness: a panic is the failure report.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use portcullis_testkit::fake_apiserver::FakeApiServer;
use portcullis_testkit::ingress_process::{Portcullis, backend, client, get_with};

const CHANGES: usize = 200;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sizes: &[usize] = if full { &[10, 10_000] } else { &[10] };
    let changes = if full { CHANGES } else { 10 };
    let mut report = String::from(
        "| Ingresses | changes | change-to-live p50 | p99 | max | RSS after sync | RSS after the changes |\n|---|---|---|---|---|---|---|\n",
    );
    for &size in sizes {
        let row = runtime.block_on(measure(size, changes));
        println!("{row}");
        report.push_str(&row);
        report.push('\n');
    }
    if full {
        let mut text = String::from("# Change-to-live (Kubernetes API mode)\n\n");
        let _ = writeln!(
            text,
            "{} cores; portcullis release build, fake API server over HTTP on loopback, \
             each change adds a path to one Ingress (1 host, 1 path, its Service and a 3-endpoint \
             EndpointSlice each) and is timed until that path answers 200 through the proxy \
             (polled every millisecond).\n",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        text.push_str(&report);
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../benches/results"))
            .unwrap();
        std::fs::write(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../benches/results/change-to-live.md"
            ),
            text,
        )
        .unwrap();
    }
}

fn ingress(i: usize, paths: &[String]) -> String {
    let paths: String = paths
        .iter()
        .map(|p| format!("      - {{path: {p}, pathType: Prefix, backend: {{service: {{name: app-{i}, port: {{number: 80}}}}}}}}\n"))
        .collect();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: app-{i}, namespace: team-{}}}\n\
         spec:\n  ingressClassName: portcullis\n  rules:\n  - host: app-{i}.bench.test\n    http:\n      paths:\n{paths}",
        i % 100
    )
}

async fn measure(size: usize, changes: usize) -> String {
    let upstream = backend("app").await;
    let api = FakeApiServer::start().await;
    api.apply("apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: portcullis}\nspec: {controller: portcullis.dev/ingress-controller}\n");
    for i in 0..size {
        let namespace = format!("team-{}", i % 100);
        api.apply(&format!("apiVersion: v1\nkind: Service\nmetadata: {{name: app-{i}, namespace: {namespace}}}\nspec: {{ports: [{{port: 80}}]}}\n"));
        api.apply(&format!(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: app-{i}-x, namespace: {namespace}, labels: {{kubernetes.io/service-name: app-{i}}}}}\n\
             addressType: IPv4\nports: [{{port: {}}}]\nendpoints: [{{addresses: [\"127.0.0.1\"]}}, {{addresses: [\"127.0.0.2\"]}}, {{addresses: [\"127.0.0.3\"]}}]\n",
            upstream.addr.port()
        ));
        // Not "/": the new path must answer 404 until the change is live.
        api.apply(&ingress(i, &["/api".to_string()]));
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig()).unwrap();
    let proxy = Portcullis::start_with_env(
        &["--kubeconfig", kubeconfig.to_str().unwrap()],
        // CHANGE_TO_LIVE_LOG=1 keeps the per-rebuild timings (translate, compile) for a report.
        &[(
            "RUST_LOG",
            if std::env::var_os("CHANGE_TO_LIVE_LOG").is_some() {
                "info"
            } else {
                "warn"
            },
        )],
    )
    .await;
    let rss_kib = proxy.rss_kib();

    let client = client();
    let mut samples = Vec::with_capacity(changes);
    for change in 0..changes {
        let i = (change * 7919) % size;
        let path = format!("/v{change}");
        let host = format!("app-{i}.bench.test");
        api.apply(&ingress(i, &["/api".to_string(), path.clone()]));
        let started = Instant::now();
        loop {
            // Only /api and the new path route, so a 404 means "not live yet".
            if let Some((200, _)) = get_with(&client, proxy.http, &host, &path).await {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "change {change} never went live"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        samples.push(started.elapsed());
    }
    // The steady state: the allocator returns freed pages about a second after a burst
    // (mimalloc's purge delay), so the reading right after sync still holds the list's garbage.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = get_with(&client, proxy.http, "app-0.bench.test", "/api").await;
    let settled_kib = proxy.rss_kib();
    if std::env::var_os("CHANGE_TO_LIVE_LOG").is_some() {
        for line in proxy
            .log()
            .lines()
            .filter(|l| l.contains("published"))
            .rev()
            .take(5)
        {
            println!("{line}");
        }
    }
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    format!(
        "| {size} | {changes} | {} | {} | {} | {:.1} MB | {:.1} MB |",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(*samples.last().unwrap()),
        rss_kib as f64 / 1024.0,
        settled_kib as f64 / 1024.0
    )
}
