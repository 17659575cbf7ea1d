//! The real binary against an API server (a small fake one over real HTTP, in
//! `support/fake_apiserver.rs`): initial sync, live changes, endpoint scaling, TLS Secret
//! rotation, and an API server outage during which routing goes on.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use portcullis_testkit::fake_apiserver::FakeApiServer;
use portcullis_testkit::ingress_process::{
    Portcullis, backend, client, free_port, get, get_with, wait_until,
};
use portcullis_testkit::test_ca::{ca, served_subject};

const CLASS: &str = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: portcullis}\nspec: {controller: portcullis.dev/ingress-controller}\n";
const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: wear, namespace: store}\nspec: {ports: [{name: http, port: 80}]}\n";

fn ingress(paths: &[&str]) -> String {
    let paths: String = paths
        .iter()
        .map(|p| format!("      - {{path: {p}, pathType: Prefix, backend: {{service: {{name: wear, port: {{name: http}}}}}}}}\n"))
        .collect();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: store, namespace: store}}\nspec:\n  ingressClassName: portcullis\n  rules:\n  - http:\n      paths:\n{paths}"
    )
}

fn slice(endpoints: &[SocketAddr]) -> String {
    let port = endpoints[0].port();
    assert!(
        endpoints.iter().all(|e| e.port() == port),
        "one port per slice"
    );
    let addresses: String = endpoints
        .iter()
        .map(|e| {
            format!(
                "- {{addresses: [\"{}\"], conditions: {{ready: true}}}}\n",
                e.ip()
            )
        })
        .collect();
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: wear-1, namespace: store, labels: {{kubernetes.io/service-name: wear}}}}\naddressType: IPv4\nports: [{{name: http, port: {port}}}]\nendpoints:\n{addresses}"
    )
}

/// Another controller's IngressClass.
fn other_class() -> String {
    CLASS
        .replace("name: portcullis", "name: nginx")
        .replace("portcullis.dev/ingress-controller", "k8s.io/ingress-nginx")
}

/// A fake API server holding `objects`, and a kubeconfig file for it.
async fn cluster(objects: &[&str]) -> (FakeApiServer, tempfile::TempDir, String) {
    let api = FakeApiServer::start().await;
    for object in objects {
        api.apply(object);
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig()).unwrap();
    let path = kubeconfig.display().to_string();
    (api, dir, path)
}

async fn status(proxy: &Portcullis, path: &str) -> Option<u16> {
    get(proxy.http, "", path).await.map(|r| r.0)
}

async fn becomes(proxy: &Portcullis, path: &str, want: u16) -> bool {
    wait_until(Duration::from_secs(5), || async {
        status(proxy, path).await == Some(want)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_the_api_and_keeps_routing_through_an_outage() {
    let wear = backend("wear").await;
    let (mut api, _dir, kubeconfig) =
        cluster(&[CLASS, SERVICE, &ingress(&["/wear"]), &slice(&[wear.addr])]).await;
    let proxy = Portcullis::start_with(&["--kubeconfig", &kubeconfig]).await;

    // Initial sync, then the route is live.
    assert_eq!(
        status(&proxy, "/wear").await,
        Some(200),
        "log:\n{}",
        proxy.log()
    );
    assert!(proxy.log().contains("initial lists complete"));

    // Ingress changed: a new path; then deleted: 404.
    api.apply(&ingress(&["/wear", "/shoes"]));
    assert!(
        becomes(&proxy, "/shoes", 200).await,
        "changed Ingress not applied"
    );

    // Endpoints scale out: both get traffic.
    let second =
        portcullis_testkit::ingress_process::TestBackend::on(wear.addr.ip(), "wear-2").await;
    let (first_ip_port, second_ip_port) = (wear.addr, second.addr);
    // One slice per port: put the second backend in its own slice.
    api.apply(&slice(&[first_ip_port]));
    api.apply(&slice(&[second_ip_port]).replace("name: wear-1", "name: wear-2"));
    let client = client();
    let seen_both = wait_until(Duration::from_secs(5), || {
        let client = client.clone();
        async move {
            let mut seen = HashSet::new();
            for _ in 0..10 {
                if let Some((200, body)) = get_with(&client, proxy.http, "", "/wear").await {
                    seen.insert(body.split_whitespace().next().unwrap_or("").to_string());
                }
            }
            seen.len() == 2
        }
    })
    .await;
    assert!(seen_both, "scaled-out endpoint never got traffic");

    // Outage: routing goes on from the last good table; a change made meanwhile applies after.
    api.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status(&proxy, "/wear").await,
        Some(200),
        "routing stopped with the API server"
    );
    api.delete("Ingress", "store", "store");
    api.restart().await;
    assert!(
        becomes(&proxy, "/wear", 404).await,
        "change made during the outage never applied; log:\n{}",
        proxy.log()
    );
    assert!(
        proxy.log().contains("watch failed"),
        "the outage was not logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_secret_rotated_in_the_api_is_served_without_a_restart() {
    let wear = backend("wear").await;
    let ca = ca();
    let tls_ingress = ingress(&["/wear"]).replace(
        "  rules:\n  - http:",
        "  tls:\n  - {hosts: [shop.test], secretName: shop-tls}\n  rules:\n  - host: shop.test\n    http:",
    );
    let (api, _dir, kubeconfig) = cluster(&[
        CLASS,
        SERVICE,
        &tls_ingress,
        &slice(&[wear.addr]),
        &ca.api_secret("shop-tls", "shop.test", "version one"),
    ])
    .await;
    let https = free_port();
    let proxy = Portcullis::start_with(&[
        "--kubeconfig",
        &kubeconfig,
        "--https-addr",
        &https.to_string(),
    ])
    .await;
    let serves = |cn: &'static str| async move {
        let port = https.port();
        let subject = tokio::task::spawn_blocking(move || served_subject(port, "shop.test"))
            .await
            .unwrap();
        subject.contains(cn)
    };
    assert!(
        wait_until(Duration::from_secs(5), || serves("version one")).await,
        "the listed Secret is not served; log:\n{}",
        proxy.log()
    );
    api.apply(&ca.api_secret("shop-tls", "shop.test", "version two"));
    assert!(
        wait_until(Duration::from_secs(5), || serves("version two")).await,
        "the rotated Secret is not served; log:\n{}",
        proxy.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cluster_configuration_is_a_clear_startup_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["ingress", "--kubeconfig", "/nonexistent/kubeconfig"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--kubeconfig /nonexistent/kubeconfig"),
        "{stderr}"
    );
}

/// The `status.loadBalancer.ingress` of Ingress store/NAME on the API server, as "ip/host" texts.
fn shown(api: &FakeApiServer, name: &str) -> Vec<String> {
    let object = api.object("Ingress", "store", name).unwrap_or_default();
    object["status"]["loadBalancer"]["ingress"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|i| {
                    i["ip"]
                        .as_str()
                        .or(i["hostname"].as_str())
                        .unwrap_or("?")
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn shows(api: &FakeApiServer, name: &str, want: &[&str]) -> bool {
    wait_until(Duration::from_secs(5), || async {
        shown(api, name) == want
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_fixed_addresses_into_ingress_status_and_clears_them_when_the_class_changes() {
    let wear = backend("wear").await;
    let other_class = other_class();
    let (api, _dir, kubeconfig) = cluster(&[
        CLASS,
        &other_class,
        SERVICE,
        &ingress(&["/wear"]),
        &slice(&[wear.addr]),
    ])
    .await;
    let proxy = Portcullis::start_with(&[
        "--kubeconfig",
        &kubeconfig,
        "--publish-status-address",
        "lb.example.com,10.0.0.7",
    ])
    .await;
    assert!(
        shows(&api, "store", &["10.0.0.7", "lb.example.com"]).await,
        "status never written; log:\n{}",
        proxy.log()
    );

    // The Ingress moves to another controller's class: our addresses are taken back.
    api.apply(
        &ingress(&["/wear"]).replace("ingressClassName: portcullis", "ingressClassName: nginx"),
    );
    assert!(
        shows(&api, "store", &[]).await,
        "status not cleared after the class changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_the_publish_service_load_balancer_address_into_ingress_status() {
    let wear = backend("wear").await;
    let edge = "apiVersion: v1\nkind: Service\nmetadata: {name: edge, namespace: ingress}\nspec: {type: LoadBalancer, ports: [{port: 80}]}\n";
    let (api, _dir, kubeconfig) = cluster(&[
        CLASS,
        SERVICE,
        edge,
        &ingress(&["/wear"]),
        &slice(&[wear.addr]),
    ])
    .await;
    let _proxy = Portcullis::start_with(&[
        "--kubeconfig",
        &kubeconfig,
        "--publish-service",
        "ingress/edge",
    ])
    .await;
    // The cloud assigns the load balancer later; the Ingress follows.
    api.apply(&format!(
        "{edge}status: {{loadBalancer: {{ingress: [{{hostname: abc.elb.example}}]}}}}\n"
    ));
    assert!(
        shows(&api, "store", &["abc.elb.example"]).await,
        "publish-service address not copied"
    );
}

/// The holder of Lease ingress/portcullis-leader on the API server.
fn lease_holder(api: &FakeApiServer) -> Option<String> {
    let lease = api.object("Lease", "ingress", "portcullis-leader")?;
    lease["spec"]["holderIdentity"].as_str().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_writes_status_and_another_replica_takes_over() {
    let wear = backend("wear").await;
    let other_class = other_class();
    let (api, _dir, kubeconfig) = cluster(&[
        CLASS,
        &other_class,
        SERVICE,
        &ingress(&["/wear"]),
        &slice(&[wear.addr]),
    ])
    .await;
    let flags = [
        "--kubeconfig",
        &kubeconfig,
        "--publish-status-address",
        "10.0.0.7",
        "--election-ttl",
        "2s",
    ];
    let a = Portcullis::start_with_env(
        &flags,
        &[("POD_NAME", "replica-a"), ("POD_NAMESPACE", "ingress")],
    )
    .await;
    let b = Portcullis::start_with_env(
        &flags,
        &[("POD_NAME", "replica-b"), ("POD_NAMESPACE", "ingress")],
    )
    .await;

    assert!(
        shows(&api, "store", &["10.0.0.7"]).await,
        "status never written"
    );
    let holder = lease_holder(&api).expect("a lease holder");
    let leaders = [&a, &b]
        .iter()
        .filter(|p| p.log().contains("became leader"))
        .count();
    assert_eq!(leaders, 1, "exactly one replica leads; holder {holder}");

    // The leader goes away; the other takes the Lease after it expires and writes the next change.
    let (leader, follower) = if holder == "replica-a" {
        (a, b)
    } else {
        (b, a)
    };
    drop(leader);
    let next = if holder == "replica-a" {
        "replica-b"
    } else {
        "replica-a"
    };
    let took_over = wait_until(Duration::from_secs(8), || async {
        lease_holder(&api).as_deref() == Some(next)
    })
    .await;
    assert!(
        took_over,
        "the follower never took over; log:\n{}",
        follower.log()
    );
    api.apply(
        &ingress(&["/wear"]).replace("ingressClassName: portcullis", "ingressClassName: nginx"),
    );
    assert!(
        shows(&api, "store", &[]).await,
        "the new leader did not write status"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_errors_become_one_event_on_the_ingress() {
    // The Ingress names a Service that does not exist.
    let (api, _dir, kubeconfig) = cluster(&[CLASS, &ingress(&["/wear"])]).await;
    let proxy = Portcullis::start_with_env(
        &["--kubeconfig", &kubeconfig, "--election-ttl", "2s"],
        &[("POD_NAME", "replica-a"), ("POD_NAMESPACE", "ingress")],
    )
    .await;
    assert_eq!(status(&proxy, "/wear").await, Some(503));
    // Events go out once this replica leads; the problem is reported when it first appears, so
    // nudge a rebuild after leadership by touching an unrelated object.
    assert!(
        wait_until(Duration::from_secs(5), || async {
            proxy.log().contains("became leader")
        })
        .await
    );
    api.apply(
        &ingress(&["/wear"])
            .replace("name: store,", "name: other,")
            .replace("/wear", "/other"),
    );
    let event = wait_until(Duration::from_secs(5), || async {
        !api.objects_of("Event").is_empty()
    })
    .await;
    assert!(event, "no Event; log:\n{}", proxy.log());
    let events = api.objects_of("Event");
    let about_store: Vec<_> = events
        .iter()
        .filter(|e| e["regarding"]["name"] == "store")
        .collect();
    assert_eq!(about_store.len(), 1, "{events:#?}");
    let event = about_store[0];
    assert_eq!(event["reason"], "BackendUnavailable");
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["regarding"]["kind"], "Ingress");
    assert_eq!(event["regarding"]["uid"], "uid-Ingress-store-store");
    let note = event["note"].as_str().unwrap_or("");
    assert!(
        note.contains("spec.rules[0].http.paths[0].backend.service.name")
            && note.contains("Service store/wear not found"),
        "{note}"
    );

    // The same problem across more rebuilds stays one Event.
    api.apply(SERVICE.replace("name: wear,", "name: unrelated,").as_str());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let about_store = api
        .objects_of("Event")
        .into_iter()
        .filter(|e| e["regarding"]["name"] == "store")
        .count();
    assert_eq!(about_store, 1, "a persisting problem was reported again");
}
