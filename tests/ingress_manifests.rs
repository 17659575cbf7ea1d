//! The real `portcullis ingress --manifests DIR` binary against real backends on loopback:
//! routing, live file changes under load, broken files, missing Services, drain, admin.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portcullis_testkit::ingress_process::{
    Portcullis, STORE, backend, client, free_port, get, get_with, slice, wait_until,
    write_atomically,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_wear_and_watch_and_answers_404_elsewhere() {
    let (wear, watch) = (backend("wear").await, backend("watch").await);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("store.yaml"), STORE).expect("write");
    let endpoints = slice("wear", &[wear.addr]) + &slice("watch", &[watch.addr]);
    std::fs::write(dir.path().join("endpoints.yaml"), endpoints).expect("write");
    let proxy = Portcullis::start(dir.path(), &[]).await;

    let cases = [
        ("/wear", 200, "wear /wear"),
        ("/wear/shirts?size=m", 200, "wear /wear/shirts"),
        ("/watch", 200, "watch /watch"),
        ("/watch/", 200, "watch /watch/"),
        ("/watches", 404, "Not Found"),
        ("/", 404, "Not Found"),
    ];
    for (path, status, text) in cases {
        let (got, body) = get(proxy.http, "shop.example.com", path)
            .await
            .expect("answer");
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.contains(text), "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_changes_apply_live_and_no_request_fails_under_load() {
    let (wear_a, wear_b, shoes) = (
        backend("wear-a").await,
        backend("wear-b").await,
        backend("shoes").await,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("store.yaml"), STORE).expect("write");
    let endpoints = dir.path().join("endpoints.yaml");
    std::fs::write(&endpoints, slice("wear", &[wear_a.addr])).expect("write");
    let proxy = Portcullis::start(dir.path(), &[]).await;

    // Load: four keep-alive clients hammer /wear for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let seen = Arc::new(std::sync::Mutex::new(HashSet::new()));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (stop, ok, failed, seen, addr) = (
            stop.clone(),
            ok.clone(),
            failed.clone(),
            seen.clone(),
            proxy.http,
        );
        load.push(tokio::spawn(async move {
            let client = client();
            while !stop.load(Ordering::Relaxed) {
                match get_with(&client, addr, "", "/wear").await {
                    Some((200, body)) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        let who = body.split_whitespace().next().unwrap_or("").to_string();
                        seen.lock().expect("lock").insert(who);
                    }
                    other => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("failed request: {other:?}");
                    }
                }
            }
        }));
    }
    let wait_seen = |name: &'static str| {
        let seen = seen.clone();
        async move {
            wait_until(Duration::from_secs(5), || {
                let seen = seen.clone();
                async move { seen.lock().expect("lock").contains(name) }
            })
            .await
        }
    };
    assert!(wait_seen("wear-a").await);

    // 1. Scale out: a second endpoint, written in place (truncate + write).
    let changed = Instant::now();
    std::fs::write(&endpoints, slice("wear", &[wear_a.addr, wear_b.addr])).expect("write");
    assert!(
        wait_seen("wear-b").await,
        "second endpoint never got traffic"
    );
    eprintln!("scale-out live after {:?}", changed.elapsed());

    // 2. A new Ingress in a new file.
    let shoes_file = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: shoes, namespace: store}}\nspec: {{ports: [{{name: http, port: 80}}]}}\n\
         ---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: shoes, namespace: store}}\n\
         spec:\n  ingressClassName: portcullis\n  rules:\n  - http:\n      paths:\n      - {{path: /shoes, pathType: Exact, backend: {{service: {{name: shoes, port: {{number: 80}}}}}}}}\n{}",
        slice("shoes", &[shoes.addr])
    );
    let changed = Instant::now();
    write_atomically(&dir.path().join("shoes.yaml"), &shoes_file);
    let live = wait_until(Duration::from_secs(5), || async {
        get(proxy.http, "", "/shoes").await.map(|r| r.0) == Some(200)
    })
    .await;
    assert!(live, "new Ingress never went live; log:\n{}", proxy.log());
    eprintln!("new Ingress live after {:?}", changed.elapsed());

    // 3. Scale in: the first endpoint leaves (rename-over write); it must stop getting traffic.
    write_atomically(&endpoints, &slice("wear", &[wear_b.addr]));
    tokio::time::sleep(Duration::from_millis(500)).await;
    seen.lock().expect("lock").clear();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after: HashSet<String> = seen.lock().expect("lock").clone();
    assert_eq!(
        after,
        HashSet::from(["wear-b".to_string()]),
        "scale-in not applied"
    );

    // 4. Remove the new file: its route goes away, /wear keeps working.
    std::fs::remove_file(dir.path().join("shoes.yaml")).expect("remove");
    let gone = wait_until(Duration::from_secs(5), || async {
        get(proxy.http, "", "/shoes").await.map(|r| r.0) == Some(404)
    })
    .await;
    assert!(gone, "removed file's route is still served");

    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("load task");
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("requests under churn: {ok} ok, {failed} failed");
    assert!(ok > 100, "load generator barely ran: {ok}");
    assert_eq!(failed, 0, "requests failed while files changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_file_keeps_its_last_good_objects_and_changes_nothing_else() {
    let (wear, watch) = (backend("wear").await, backend("watch").await);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store.yaml");
    std::fs::write(&store, STORE).expect("write");
    let endpoints = dir.path().join("endpoints.yaml");
    std::fs::write(&endpoints, slice("wear", &[wear.addr])).expect("write");
    let proxy = Portcullis::start(dir.path(), &[]).await;
    assert_eq!(get(proxy.http, "", "/wear").await.map(|r| r.0), Some(200));

    // Break the Ingress file: a wrong type deep inside the last document.
    let broken = STORE.replace("{number: 80}", "{number: eighty}").replace(
        "port: {name: http}}}}\n      - {path: /watch",
        "port: {number: eighty}}}}\n      - {path: /watch",
    );
    assert_ne!(broken, STORE);
    write_atomically(&store, &broken);
    let Some(line) = proxy.log_line("store.yaml:", Duration::from_secs(5)).await else {
        panic!("no log line naming the broken file; log:\n{}", proxy.log());
    };
    assert!(
        line.contains("Ingress") && line.contains("store"),
        "unhelpful error: {line}"
    );

    // The last good Ingress still routes, and another file's change still applies.
    assert_eq!(get(proxy.http, "", "/wear").await.map(|r| r.0), Some(200));
    std::fs::write(
        &endpoints,
        slice("wear", &[wear.addr]) + &slice("watch", &[watch.addr]),
    )
    .expect("write");
    let watch_live = wait_until(Duration::from_secs(5), || async {
        get(proxy.http, "", "/watch").await.map(|r| r.0) == Some(200)
    })
    .await;
    assert!(
        watch_live,
        "a good file's change did not apply while another file was broken"
    );

    // Fixing the file applies it.
    write_atomically(&store, &STORE.replace("/watch", "/clock"));
    let fixed = wait_until(Duration::from_secs(5), || async {
        get(proxy.http, "", "/clock").await.map(|r| r.0) == Some(200)
    })
    .await;
    assert!(
        fixed,
        "the fixed file was not applied; log:\n{}",
        proxy.log()
    );
    assert_eq!(get(proxy.http, "", "/watch").await.map(|r| r.0), Some(404));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_service_gets_503_and_a_log_line_while_the_rest_routes() {
    let wear = backend("wear").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let without_watch_service = STORE.replace(
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: watch, namespace: store}\nspec: {ports: [{name: http, port: 80}]}\n",
        "",
    );
    assert_ne!(without_watch_service, STORE);
    std::fs::write(dir.path().join("store.yaml"), without_watch_service).expect("write");
    std::fs::write(
        dir.path().join("endpoints.yaml"),
        slice("wear", &[wear.addr]),
    )
    .expect("write");
    let proxy = Portcullis::start(dir.path(), &[]).await;

    assert_eq!(get(proxy.http, "", "/wear").await.map(|r| r.0), Some(200));
    assert_eq!(get(proxy.http, "", "/watch").await.map(|r| r.0), Some(503));
    let Some(line) = proxy
        .log_line("Service store/watch not found", Duration::from_secs(2))
        .await
    else {
        panic!("no log line for the missing Service; log:\n{}", proxy.log());
    };
    assert!(
        line.contains("Ingress store/store") && line.contains("spec.rules[0].http.paths[1]"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_then_exits_cleanly() {
    let wear = backend("wear").await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("store.yaml"), STORE).expect("write");
    std::fs::write(
        dir.path().join("endpoints.yaml"),
        slice("wear", &[wear.addr]),
    )
    .expect("write");
    let mut proxy = Portcullis::start(dir.path(), &["--drain-timeout", "10s"]).await;

    let addr = proxy.http;
    let slow = tokio::spawn(async move { get(addr, "", "/wear/slow?sleep_ms=1000").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.terminate();
    let answer = slow.await.expect("task");
    assert_eq!(
        answer.map(|r| r.0),
        Some(200),
        "in-flight request cut off by SIGTERM"
    );
    let code = proxy.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_serves_health_readiness_and_metrics() {
    let wear = backend("wear").await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("store.yaml"), STORE).expect("write");
    std::fs::write(
        dir.path().join("endpoints.yaml"),
        slice("wear", &[wear.addr]),
    )
    .expect("write");
    let proxy = Portcullis::start(dir.path(), &[]).await;

    assert_eq!(
        get(proxy.admin, "", "/healthz").await.map(|r| r.0),
        Some(200)
    );
    for _ in 0..3 {
        get(proxy.http, "", "/wear").await.expect("answer");
    }
    get(proxy.http, "", "/nowhere").await.expect("answer");
    let (status, metrics) = get(proxy.admin, "", "/metrics").await.expect("metrics");
    assert_eq!(status, 200);
    for needle in [
        "portcullis_requests_total{namespace=\"store\",ingress=\"store\",service=\"wear\",port=\"http\",status_class=\"2xx\"} 3",
        "portcullis_requests_total{namespace=\"\",ingress=\"\",service=\"\",port=\"\",status_class=\"4xx\"} 1",
        "portcullis_request_duration_seconds_count{namespace=\"store\",ingress=\"store\",service=\"wear\",port=\"http\"} 3",
        "portcullis_table_rebuilds_total",
        "portcullis_table_paths 2",
    ] {
        assert!(
            metrics.contains(needle),
            "missing {needle:?} in:\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_startup_input_fails_fast_with_a_clear_message() {
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["ingress", "--manifests", "/nonexistent/portcullis-test"])
        .args([
            "--http-addr",
            &free_port().to_string(),
            "--admin-addr",
            &free_port().to_string(),
        ])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("--manifests /nonexistent/portcullis-test"),
        "{stderr}"
    );

    let bad_flag = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "ingress",
            "--manifests",
            ".",
            "--default-backend-service",
            "no-slash",
        ])
        .output()
        .expect("run");
    assert_eq!(bad_flag.status.code(), Some(2), "usage errors exit 2");
    let stderr = String::from_utf8_lossy(&bad_flag.stderr);
    assert!(stderr.contains("NAMESPACE/NAME"), "{stderr}");
}
