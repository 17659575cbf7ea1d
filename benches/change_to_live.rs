//! Change-to-live: time from an Ingress change on the API server to the new route answering
//! through the proxy, at 10 and at 10,000 Ingresses (target: p99 under 50 ms at 10k), and the
//! process's RSS with 10,000 Ingresses loaded (target: under 100 MB, controller and proxy are
//! one process). Two API servers: the fake one from `testkit/` over real HTTP (the controller's
//! own cost alone), and the real control plane (`testkit::control_plane`: etcd, kube-apiserver,
//! controllers), whose own memory and CPU are reported beside it.
//!
//! `cargo bench -p portcullis --bench change_to_live` runs it in full and writes
//! `benches/results/change-to-live.md`; under `cargo test` it runs a small smoke version of
//! each.

#![allow(clippy::unwrap_used, missing_docs)] // Benchmark harness: a panic is the failure report.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Patch, PatchParams, PostParams};
use portcullis_testkit::control_plane::ControlPlane;
use portcullis_testkit::fake_apiserver::FakeApiServer;
use portcullis_testkit::ingress_process::{Portcullis, backend, client, get_with, rss_kib_of};
use portcullis_testkit::pod_network::PodNetwork;

const CHANGES: usize = 200;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    // CHANGE_TO_LIVE_ONLY=gateway: only the HTTPRoute rows, printed (merge them by hand).
    let only_gateway = std::env::var("CHANGE_TO_LIVE_ONLY").as_deref() == Ok("gateway");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sizes: &[usize] = if full { &[10, 10_000] } else { &[10] };
    let changes = if full { CHANGES } else { 10 };
    let mut gateway_report = String::from(
        "\nHTTPRoutes, real control plane (the upstream Gateway API v1.6.1 CRDs; one Gateway, each HTTPRoute one hostname and four rules: a prefix, and prefixes matching a header, a query parameter and a method; each change a server-side apply adding a rule, measured once every route's first status is written):\n\n| HTTPRoutes | changes | change-to-live p50 | p99 | max | Portcullis RSS with status written / after the changes | load time | first status of every route |\n|---|---|---|---|---|---|---|---|\n",
    );
    for &size in sizes {
        let row = runtime.block_on(measure_gateway_real(size, changes));
        println!("{row}");
        gateway_report.push_str(&row);
        gateway_report.push('\n');
    }
    if only_gateway {
        println!("{gateway_report}");
        return;
    }
    let mut report = String::from(
        "Fake API server:\n\n| Ingresses | changes | change-to-live p50 | p99 | max | RSS after sync | RSS after the changes |\n|---|---|---|---|---|---|---|\n",
    );
    for &size in sizes {
        let row = runtime.block_on(measure(size, changes));
        println!("{row}");
        report.push_str(&row);
        report.push('\n');
    }
    report.push_str(
        "\nReal control plane (kube-apiserver v1.37.2, etcd v3.7.3, kube-controller-manager; each change a server-side apply patch through kube-rs, timed from the request; load time: creating the Services, EndpointSlices and Ingresses, 32 at a time): Portcullis's RSS, then the API server's and etcd's RSS after the load, and the CPU time they spent during the changes (per change).\n\n| Ingresses | changes | change-to-live p50 | p99 | max | Portcullis RSS after sync / after the changes | kube-apiserver RSS | etcd RSS | kube-apiserver + etcd CPU per change | load time |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for &size in sizes {
        let row = runtime.block_on(measure_real(size, changes));
        println!("{row}");
        report.push_str(&row);
        report.push('\n');
    }
    if full {
        let mut text = String::from("# Change-to-live (Kubernetes API mode)\n\n");
        let _ = writeln!(
            text,
            "{} cores; portcullis release build, each change adds a path to one Ingress (1 host, \
             1 path, its Service and a 3-endpoint EndpointSlice each) and is timed until that \
             path answers 200 through the proxy (polled every millisecond).\n",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        text.push_str(&report);
        text.push_str(&gateway_report);
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
        samples.push(live_after(&client, proxy.http, &host, &path, started, change).await);
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
    let (p50, p99, max) = spread(samples);
    format!(
        "| {size} | {changes} | {p50} | {p99} | {max} | {:.1} MB | {:.1} MB |",
        rss_kib as f64 / 1024.0,
        settled_kib as f64 / 1024.0
    )
}

/// How long after `started` `host/path` first answered 200 (polled every millisecond; only
/// `/api` and the new path route, so a 404 means "not live yet").
async fn live_after(
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Empty<bytes::Bytes>,
    >,
    proxy: std::net::SocketAddr,
    host: &str,
    path: &str,
    started: Instant,
    change: usize,
) -> Duration {
    loop {
        if let Some((200, _)) = get_with(client, proxy, host, path).await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "change {change} never went live"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Percentiles and the row's common columns.
fn spread(mut samples: Vec<Duration>) -> (String, String, String) {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    (ms(at(0.5)), ms(at(0.99)), ms(*samples.last().unwrap()))
}

/// RSS (KiB) and user+system CPU (clock ticks) of process `pid`.
fn cost(pid: u32) -> (u64, u64) {
    let rss = rss_kib_of(pid);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (rss, ticks(11) + ticks(12))
}

async fn measure_real(size: usize, changes: usize) -> String {
    let plane = tokio::task::spawn_blocking(ControlPlane::start)
        .await
        .unwrap();
    let pods = PodNetwork::shared();
    let first = pods.backend("app").await;
    let port = first.addr.port();
    let others = [
        pods.backend_on_port("app", port).await,
        pods.backend_on_port("app", port).await,
    ];
    let addresses = [first.addr.ip(), others[0].addr.ip(), others[1].addr.ip()];
    let client = admin_client(&plane).await;
    plane.apply("apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: portcullis}\nspec: {controller: portcullis.dev/ingress-controller}\n");
    let loading = Instant::now();
    create_teams(&client, size).await;
    // Many creates at once: the API server, not the loader, is the limit.
    let create = |i: usize| {
        let client = client.clone();
        async move {
            create_service(&client, i, port, &addresses).await;
            let namespace = format!("team-{}", i % 100);
            let ingress: Ingress =
                serde_yaml_ng::from_str(&ingress(i, &["/api".to_string()])).unwrap();
            kube::Api::<Ingress>::namespaced(client, &namespace)
                .create(&PostParams::default(), &ingress)
                .await
                .unwrap();
        }
    };
    futures_util::stream::iter(0..size)
        .map(create)
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    let load_time = loading.elapsed();
    let proxy = Portcullis::start_with_env(
        &["--kubeconfig", plane.kubeconfig().to_str().unwrap()],
        &[("RUST_LOG", "warn")],
    )
    .await;
    let rss_kib = proxy.rss_kib();
    let apiserver = plane.pid("kube-apiserver").unwrap();
    let etcd = plane.pid("etcd").unwrap();
    let (_, api_before) = cost(apiserver);
    let (_, etcd_before) = cost(etcd);

    let http = portcullis_testkit::ingress_process::client();
    let mut samples = Vec::with_capacity(changes);
    for change in 0..changes {
        let i = (change * 7919) % size;
        let path = format!("/v{change}");
        let host = format!("app-{i}.bench.test");
        let namespace = format!("team-{}", i % 100);
        let patch: Ingress =
            serde_yaml_ng::from_str(&ingress(i, &["/api".to_string(), path.clone()])).unwrap();
        let started = Instant::now();
        kube::Api::<Ingress>::namespaced(client.clone(), &namespace)
            .patch(
                &format!("app-{i}"),
                &PatchParams::apply("change-to-live").force(),
                &Patch::Apply(&patch),
            )
            .await
            .unwrap();
        samples.push(live_after(&http, proxy.http, &host, &path, started, change).await);
    }
    let (api_rss, api_after) = cost(apiserver);
    let (etcd_rss, etcd_after) = cost(etcd);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settled_kib = proxy.rss_kib();
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let per_change_ms =
        ((api_after - api_before) + (etcd_after - etcd_before)) as f64 / ticks_per_second * 1e3
            / changes as f64;
    let (p50, p99, max) = spread(samples);
    drop(proxy);
    drop(plane);
    format!(
        "| {size} | {changes} | {p50} | {p99} | {max} | {:.1} / {:.1} MB | {:.0} MB | {:.0} MB | {per_change_ms:.1} ms | {:.0} s |",
        rss_kib as f64 / 1024.0,
        settled_kib as f64 / 1024.0,
        api_rss as f64 / 1024.0,
        etcd_rss as f64 / 1024.0,
        load_time.as_secs_f64(),
    )
}

/// HTTPRoute `i` (namespace `team-{i % 100}`, host `app-{i}.bench.test`): a `/api` prefix, a
/// header, a query and a method rule, and a prefix rule per `extra` path.
fn http_route(i: usize, extra: &[String]) -> String {
    let backend = format!("[{{name: app-{i}, port: 80}}]");
    let mut rules = format!(
        "  - matches: [{{path: {{type: PathPrefix, value: /api}}}}]\n    backendRefs: {backend}\n\
         \x20 - matches: [{{path: {{type: PathPrefix, value: /v2}}, headers: [{{name: x-version, value: v2}}]}}]\n    backendRefs: {backend}\n\
         \x20 - matches: [{{path: {{type: PathPrefix, value: /search}}, queryParams: [{{name: q, value: shoes}}]}}]\n    backendRefs: {backend}\n\
         \x20 - matches: [{{path: {{type: Exact, value: /login}}, method: POST}}]\n    backendRefs: {backend}\n"
    );
    for path in extra {
        rules.push_str(&format!(
            "  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n    backendRefs: {backend}\n"
        ));
    }
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: app-{i}, namespace: team-{}}}\n\
         spec:\n  parentRefs: [{{name: edge, namespace: gateway}}]\n  hostnames: [app-{i}.bench.test]\n  rules:\n{rules}",
        i % 100
    )
}

/// Change-to-live of HTTPRoute edits against the real control plane.
async fn measure_gateway_real(size: usize, changes: usize) -> String {
    let plane = tokio::task::spawn_blocking(ControlPlane::start)
        .await
        .unwrap();
    plane.kubectl_ok(&[
        "apply",
        "--server-side",
        "-f",
        &portcullis_testkit::control_plane::gateway_api_crds()
            .display()
            .to_string(),
    ]);
    let pods = PodNetwork::shared();
    let first = pods.backend("app").await;
    let port = first.addr.port();
    let client = admin_client(&plane).await;
    let listener = portcullis_testkit::ingress_process::free_port().port();
    plane.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: gateway}}\n---\n\
         apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {{name: portcullis}}\n\
         spec: {{controllerName: portcullis.dev/gateway-controller}}\n---\n\
         apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: edge, namespace: gateway}}\n\
         spec:\n  gatewayClassName: portcullis\n  listeners:\n\
         \x20 - {{name: http, port: {listener}, protocol: HTTP, allowedRoutes: {{namespaces: {{from: All}}}}}}\n"
    ));
    let routes = kube::api::ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: "v1".into(),
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: "HTTPRoute".into(),
        plural: "httproutes".into(),
    };
    let loading = Instant::now();
    create_teams(&client, size).await;
    let address = first.addr.ip();
    let create = |i: usize| {
        let client = client.clone();
        let routes = routes.clone();
        async move {
            create_service(&client, i, port, &[address]).await;
            let namespace = format!("team-{}", i % 100);
            let route: kube::api::DynamicObject =
                serde_yaml_ng::from_str(&http_route(i, &[])).unwrap();
            kube::Api::<kube::api::DynamicObject>::namespaced_with(client, &namespace, &routes)
                .create(&PostParams::default(), &route)
                .await
                .unwrap();
        }
    };
    futures_util::stream::iter(0..size)
        .map(create)
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    let load_time = loading.elapsed();
    let proxy = Portcullis::start_with_env(
        &[
            "--kubeconfig",
            plane.kubeconfig().to_str().unwrap(),
            "--gateway-address",
            "127.0.0.1",
        ],
        &[("RUST_LOG", "warn")],
    )
    .await;
    let gateway = std::net::SocketAddr::from(([127, 0, 0, 1], listener));
    let http = portcullis_testkit::ingress_process::client();
    let _ = live_after(
        &http,
        gateway,
        "app-0.bench.test",
        "/api",
        Instant::now(),
        0,
    )
    .await;
    // Measured once every route's first status is written (each write comes back as a watch
    // event and a rebuild): the steady state, as for the Ingress rows.
    let api = kube::Api::<kube::api::DynamicObject>::all_with(client.clone(), &routes);
    let status_started = Instant::now();
    loop {
        let listed = api.list(&Default::default()).await.unwrap();
        let written = listed
            .items
            .iter()
            .filter(|r| {
                r.data["status"]["parents"]
                    .as_array()
                    .is_some_and(|p| !p.is_empty())
            })
            .count();
        if written == size {
            break;
        }
        assert!(
            status_started.elapsed() < Duration::from_secs(600),
            "only {written} of {size} routes got status"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let status_time = status_started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_kib = proxy.rss_kib();
    let mut samples = Vec::with_capacity(changes);
    for change in 0..changes {
        let i = (change * 7919) % size;
        let path = format!("/v{change}x");
        let host = format!("app-{i}.bench.test");
        let namespace = format!("team-{}", i % 100);
        let patch: kube::api::DynamicObject =
            serde_yaml_ng::from_str(&http_route(i, std::slice::from_ref(&path))).unwrap();
        let started = Instant::now();
        kube::Api::<kube::api::DynamicObject>::namespaced_with(client.clone(), &namespace, &routes)
            .patch(
                &format!("app-{i}"),
                &PatchParams::apply("change-to-live").force(),
                &Patch::Apply(&patch),
            )
            .await
            .unwrap();
        samples.push(live_after(&http, gateway, &host, &path, started, change).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settled_kib = proxy.rss_kib();
    let (p50, p99, max) = spread(samples);
    drop(proxy);
    drop(plane);
    format!(
        "| {size} | {changes} | {p50} | {p99} | {max} | {:.1} / {:.1} MB | {:.0} s | {:.1} s |",
        rss_kib as f64 / 1024.0,
        settled_kib as f64 / 1024.0,
        load_time.as_secs_f64(),
        status_time.as_secs_f64(),
    )
}

/// Namespaces `team-0` .. `team-99` (fewer for fewer objects), where object `i` lives in
/// `team-{i % 100}`.
async fn create_teams(client: &kube::Client, size: usize) {
    for team in 0..size.min(100) {
        let namespace: Namespace = serde_json::from_value(
            serde_json::json!({"metadata": {"name": format!("team-{team}")}}),
        )
        .unwrap();
        kube::Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
    }
}

/// Service `app-{i}` (port 80) and its EndpointSlice: `addresses` on `port`.
async fn create_service(
    client: &kube::Client,
    i: usize,
    port: u16,
    addresses: &[std::net::IpAddr],
) {
    let namespace = format!("team-{}", i % 100);
    let service: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("app-{i}"), "namespace": namespace},
        "spec": {"ports": [{"port": 80}]}
    }))
    .unwrap();
    kube::Api::<Service>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    let slice: EndpointSlice = serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("app-{i}-x"), "namespace": namespace, "labels": {"kubernetes.io/service-name": format!("app-{i}")}},
        "addressType": "IPv4",
        "ports": [{"port": port}],
        "endpoints": addresses.iter().map(|a| serde_json::json!({"addresses": [a.to_string()]})).collect::<Vec<_>>()
    }))
    .unwrap();
    kube::Api::<EndpointSlice>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &slice)
        .await
        .unwrap();
}

/// A kube-rs client with the control plane's admin credentials.
async fn admin_client(plane: &ControlPlane) -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(plane.kubeconfig()).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}
