//! The real binary against a real control plane (etcd, kube-apiserver with RBAC,
//! kube-controller-manager: `portcullis_testkit::control_plane`): backends are made the way a
//! cluster makes them (a Service with a selector, Pods whose readiness is set by patching their
//! status, EndpointSlices written by the real EndpointSlice controller). Each test works in a
//! namespace and IngressClass of its own on the test binary's shared control plane, or on one
//! of its own when it stops the API server.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::net::SocketAddr;
use std::time::Duration;

use portcullis_testkit::chart;
use portcullis_testkit::cluster_namespace::TestNamespace;
use portcullis_testkit::control_plane::ControlPlane;
use portcullis_testkit::ingress_process::{Portcullis, free_port, get, wait_until};
use portcullis_testkit::pod_network::PodNetwork;
use portcullis_testkit::test_ca::{ca, served_subject};

/// One test's corner of a control plane: its namespace, and an IngressClass and controller
/// name nobody else's Portcullis serves.
struct Corner<'p> {
    plane: &'p ControlPlane,
    space: TestNamespace<'p>,
    namespace: String,
    class: String,
}

impl<'p> Corner<'p> {
    fn new(plane: &'p ControlPlane, prefix: &str) -> Self {
        let space = TestNamespace::new(plane, prefix);
        let namespace = space.name.clone();
        let class = format!("class-{namespace}");
        plane.apply(&format!(
            "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: {class}}}\n\
             spec: {{controller: portcullis.dev/{namespace}}}\n"
        ));
        Corner {
            plane,
            space,
            namespace,
            class,
        }
    }

    /// The flags that make a Portcullis serve this corner only.
    fn flags(&self) -> Vec<String> {
        vec![
            "--kubeconfig".into(),
            self.plane.kubeconfig().display().to_string(),
            "--watch-namespace".into(),
            self.namespace.clone(),
            "--ingress-class".into(),
            self.class.clone(),
            "--controller-name".into(),
            format!("portcullis.dev/{}", self.namespace),
            // Nobody else's GatewayClass (a chart install may create the default one).
            "--gateway-controller-name".into(),
            format!("portcullis.dev/gw-{}", self.namespace),
        ]
    }

    async fn portcullis(&self, extra: &[&str]) -> Portcullis {
        let mut flags = self.flags();
        flags.extend(extra.iter().map(|f| (*f).to_owned()));
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Portcullis::start_with_env(&flags, &[("POD_NAMESPACE", &self.namespace)]).await
    }

    fn apply(&self, yaml: &str) {
        self.space.apply(&yaml.replace("CLASS", &self.class));
    }

    fn service(&self, name: &str, target_port: u16) {
        self.space.service(name, target_port);
    }

    fn ready_pod(&self, app: &str, pod: &str, ip: std::net::IpAddr) {
        self.space.ready_pod(app, pod, ip);
    }

    fn set_ready(&self, pod: &str, ready: bool) {
        self.space.set_ready(pod, ready);
    }

    fn patch(&self, kind: &str, name: &str, status: bool, patch: &str) {
        self.space.patch(kind, name, status, patch);
    }

    /// Ingress `name` handed to another controller's class.
    fn hand_over(&self, name: &str) {
        self.patch(
            "ingress",
            name,
            false,
            r#"{"spec": {"ingressClassName": "someone-else"}}"#,
        );
    }

    fn kubectl(&self, args: &[&str]) -> String {
        self.space.kubectl(args)
    }

    /// `status.loadBalancer.ingress` of Ingress `name`, as ip-or-hostname texts.
    fn shown(&self, name: &str) -> Vec<String> {
        self.kubectl(&[
            "get",
            "ingress",
            name,
            "-o",
            "jsonpath={range .status.loadBalancer.ingress[*]}{.ip}{.hostname} {end}",
        ])
        .split_whitespace()
        .map(str::to_owned)
        .collect()
    }

    async fn shows(&self, name: &str, want: &[&str]) -> bool {
        wait_until(Duration::from_secs(20), || async {
            self.shown(name) == want
        })
        .await
    }

    fn ingress(&self, name: &str, host: &str, paths: &[(&str, &str)]) {
        let paths: String = paths
            .iter()
            .map(|(path, service)| {
                format!(
                    "      - {{path: {path}, pathType: Prefix, backend: {{service: {{name: {service}, port: {{name: http}}}}}}}}\n"
                )
            })
            .collect();
        self.apply(&format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: NAMESPACE}}\n\
             spec:\n  ingressClassName: CLASS\n  rules:\n  - host: {host}\n    http:\n      paths:\n{paths}"
        ));
    }
}

async fn answers(proxy: SocketAddr, host: &str, path: &str, want: u16) -> bool {
    wait_until(Duration::from_secs(20), || async {
        get(proxy, host, path).await.map(|r| r.0) == Some(want)
    })
    .await
}

/// The shared control plane, started off the async threads.
async fn shared() -> &'static ControlPlane {
    tokio::task::spawn_blocking(ControlPlane::shared)
        .await
        .unwrap()
}

/// Which backends answer `host/path` across a few requests.
async fn served_by(
    proxy: SocketAddr,
    host: &str,
    path: &str,
) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..8 {
        if let Some((200, body)) = get(proxy, host, path).await {
            seen.insert(body.split_whitespace().next().unwrap_or("").to_owned());
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_follow_ingresses_services_and_pods_made_through_the_api() {
    let plane = shared().await;
    let corner = Corner::new(plane, "sync");
    let pods = PodNetwork::shared();
    let one = pods.backend("one").await;
    corner.service("wear", one.addr.port());
    corner.ready_pod("wear", "wear-1", one.addr.ip());
    corner.ingress("store", "store.test", &[("/wear", "wear")]);
    let proxy = corner.portcullis(&[]).await;
    assert!(
        answers(proxy.http, "store.test", "/wear", 200).await,
        "log:\n{}\nslices: {}",
        proxy.log(),
        corner.kubectl(&["get", "endpointslices", "-o", "yaml"])
    );
    assert!(proxy.log().contains("initial lists complete"));

    // A changed Ingress: a new path.
    corner.ingress(
        "store",
        "store.test",
        &[("/wear", "wear"), ("/shoes", "wear")],
    );
    assert!(
        answers(proxy.http, "store.test", "/shoes", 200).await,
        "changed Ingress not applied"
    );

    // Scale out: a second ready Pod (its backend listens on the same port, as a
    // Deployment's pods do) gets traffic once the controller lists it.
    let two = pods.backend_on_port("two", one.addr.port()).await;
    corner.ready_pod("wear", "wear-2", two.addr.ip());
    let both = wait_until(Duration::from_secs(20), || async {
        served_by(proxy.http, "store.test", "/wear").await.len() == 2
    })
    .await;
    assert!(both, "the second Pod never got traffic");

    // Readiness lost: the controller drops the Pod, and so does the table.
    corner.set_ready("wear-1", false);
    let only_two = wait_until(Duration::from_secs(20), || async {
        served_by(proxy.http, "store.test", "/wear").await
            == std::collections::BTreeSet::from(["two".to_owned()])
    })
    .await;
    assert!(only_two, "an unready Pod still gets traffic");

    // Deleted: 404.
    corner.kubectl(&["delete", "ingress", "store"]);
    assert!(
        answers(proxy.http, "store.test", "/wear", 404).await,
        "deleted Ingress still served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_secret_rotated_in_the_api_is_served_without_a_restart() {
    let plane = shared().await;
    let corner = Corner::new(plane, "tls");
    let wear = PodNetwork::shared().backend("wear").await;
    corner.service("wear", wear.addr.port());
    corner.ready_pod("wear", "wear-1", wear.addr.ip());
    let ca = ca();
    let secret = |cn: &str| {
        ca.secret("shop-tls", "shop.test", cn)
            .replace("namespace: store", "namespace: NAMESPACE")
    };
    corner.apply(&secret("version one"));
    corner.apply(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: shop, namespace: NAMESPACE}\n\
         spec:\n  ingressClassName: CLASS\n  tls:\n  - {hosts: [shop.test], secretName: shop-tls}\n\
         \x20 rules:\n  - host: shop.test\n    http:\n      paths:\n\
         \x20     - {path: /, pathType: Prefix, backend: {service: {name: wear, port: {name: http}}}}\n",
    );
    let https = free_port();
    let proxy = corner
        .portcullis(&["--https-addr", &https.to_string()])
        .await;
    let serves = |cn: &'static str| async move {
        let port = https.port();
        let subject = tokio::task::spawn_blocking(move || served_subject(port, "shop.test"))
            .await
            .unwrap();
        subject.contains(cn)
    };
    assert!(
        wait_until(Duration::from_secs(20), || serves("version one")).await,
        "the Secret is not served; log:\n{}",
        proxy.log()
    );
    corner.apply(&secret("version two"));
    assert!(
        wait_until(Duration::from_secs(20), || serves("version two")).await,
        "the rotated Secret is not served; log:\n{}",
        proxy.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_fixed_addresses_into_ingress_status_and_clears_them_when_the_class_changes() {
    let plane = shared().await;
    let corner = Corner::new(plane, "status");
    corner.service("wear", 8080);
    corner.ingress("store", "store.test", &[("/wear", "wear")]);
    let proxy = corner
        .portcullis(&["--publish-status-address", "lb.example.com,10.0.0.7"])
        .await;
    assert!(
        corner.shows("store", &["10.0.0.7", "lb.example.com"]).await,
        "status never written; log:\n{}",
        proxy.log()
    );
    // The Ingress moves to another controller's class: our addresses are taken back.
    corner.hand_over("store");
    assert!(
        corner.shows("store", &[]).await,
        "status not cleared after the class changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_the_publish_service_load_balancer_address_into_ingress_status() {
    let plane = shared().await;
    let corner = Corner::new(plane, "publish");
    corner.service("wear", 8080);
    corner.apply(
        "apiVersion: v1\nkind: Service\nmetadata: {name: edge, namespace: NAMESPACE}\n\
         spec: {type: LoadBalancer, ports: [{port: 80}]}\n",
    );
    corner.ingress("store", "store.test", &[("/wear", "wear")]);
    let edge = format!("{}/edge", corner.namespace);
    let _proxy = corner.portcullis(&["--publish-service", &edge]).await;
    // The cloud assigns the load balancer later; the Ingress follows.
    corner.patch(
        "service",
        "edge",
        true,
        r#"{"status": {"loadBalancer": {"ingress": [{"hostname": "abc.elb.example"}]}}}"#,
    );
    assert!(
        corner.shows("store", &["abc.elb.example"]).await,
        "publish-service address not copied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_writes_status_and_another_replica_takes_over() {
    let plane = shared().await;
    let corner = Corner::new(plane, "leader");
    corner.service("wear", 8080);
    corner.ingress("store", "store.test", &[("/wear", "wear")]);
    let mut flags = corner.flags();
    flags.extend(
        [
            "--publish-status-address",
            "10.0.0.7",
            "--election-ttl",
            "2s",
        ]
        .map(String::from),
    );
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let ns = corner.namespace.as_str();
    let a = Portcullis::start_with_env(&flags, &[("POD_NAME", "replica-a"), ("POD_NAMESPACE", ns)])
        .await;
    let b = Portcullis::start_with_env(&flags, &[("POD_NAME", "replica-b"), ("POD_NAMESPACE", ns)])
        .await;
    assert!(
        corner.shows("store", &["10.0.0.7"]).await,
        "status never written"
    );
    let holder = || {
        corner.kubectl(&[
            "get",
            "lease",
            "portcullis-leader",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
    };
    let first = holder();
    let leaders = [&a, &b]
        .iter()
        .filter(|p| p.log().contains("became leader"))
        .count();
    assert_eq!(leaders, 1, "exactly one replica leads; holder {first}");
    let (leader, follower, next) = if first == "replica-a" {
        (a, b, "replica-b")
    } else {
        (b, a, "replica-a")
    };
    drop(leader);
    let took_over = wait_until(Duration::from_secs(20), || async { holder() == next }).await;
    assert!(
        took_over,
        "the follower never took over; log:\n{}",
        follower.log()
    );
    corner.hand_over("store");
    assert!(
        corner.shows("store", &[]).await,
        "the new leader did not write status"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_errors_become_one_event_that_kubectl_describe_shows() {
    let plane = shared().await;
    let corner = Corner::new(plane, "events");
    // The Ingress names a Service that does not exist.
    corner.ingress("store", "store.test", &[("/wear", "wear")]);
    let proxy = corner.portcullis(&["--election-ttl", "2s"]).await;
    assert!(answers(proxy.http, "store.test", "/wear", 503).await);
    let described = wait_until(Duration::from_secs(20), || async {
        corner
            .kubectl(&["describe", "ingress", "store"])
            .contains("BackendUnavailable")
    })
    .await;
    let text = corner.kubectl(&["describe", "ingress", "store"]);
    assert!(
        described,
        "no Event in kubectl describe:\n{text}\nlog:\n{}",
        proxy.log()
    );
    assert!(text.contains("Warning"), "{text}");
    assert!(text.contains("not found"), "{text}");
    // The same problem across more rebuilds stays one Event.
    corner.service("unrelated", 8080);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = corner.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=store,reason=BackendUnavailable",
        "-o",
        "name",
    ]);
    assert_eq!(
        events.lines().count(),
        1,
        "a persisting problem was reported again: {events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_outlives_an_api_server_outage_and_a_410_relist_loses_no_delete() {
    // A control plane of its own: this test stops its API server.
    let plane = tokio::task::spawn_blocking(ControlPlane::start)
        .await
        .unwrap();
    let corner = Corner::new(&plane, "outage");
    let wear = PodNetwork::shared().backend("wear").await;
    corner.service("wear", wear.addr.port());
    corner.ready_pod("wear", "wear-1", wear.addr.ip());
    corner.ingress("store", "store.test", &[("/wear", "wear")]);
    corner.ingress("gone", "gone.test", &[("/", "wear")]);
    let proxy = corner.portcullis(&[]).await;
    assert!(
        answers(proxy.http, "store.test", "/wear", 200).await,
        "log:\n{}",
        proxy.log()
    );
    assert!(answers(proxy.http, "gone.test", "/", 200).await);

    // The API server goes away: routing goes on from the last good table.
    tokio::task::block_in_place(|| plane.stop_apiserver());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        get(proxy.http, "store.test", "/wear").await.map(|r| r.0),
        Some(200),
        "routing stopped with the API server"
    );

    // Meanwhile, through another API server on the same etcd: an Ingress is deleted and one
    // changed, and etcd's history is compacted, so resuming the watch from where it stopped
    // cannot work (410 Gone): only a fresh list shows the delete.
    let second = tokio::task::block_in_place(|| plane.start_second_apiserver());
    let via_second = |args: &[&str], stdin: &str| {
        let mut all = vec!["-n", corner.namespace.as_str()];
        all.extend_from_slice(args);
        let output = plane.kubectl_at(&second, &all, stdin);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    via_second(&["delete", "ingress", "gone"], "");
    via_second(
        &[
            "patch",
            "ingress",
            "store",
            "--type=json",
            "-p",
            r#"[{"op": "add", "path": "/spec/rules/0/http/paths/-", "value": {"path": "/shoes", "pathType": "Prefix", "backend": {"service": {"name": "wear", "port": {"name": "http"}}}}}]"#,
        ],
        "",
    );
    plane.compact_etcd();
    tokio::task::block_in_place(|| {
        plane.stop_second_apiserver();
        plane.restart_apiserver();
    });

    assert!(
        answers(proxy.http, "gone.test", "/", 404).await,
        "the delete made while disconnected was lost; log:\n{}",
        proxy.log()
    );
    assert!(
        answers(proxy.http, "store.test", "/shoes", 200).await,
        "the change made while disconnected never applied"
    );
    let log = proxy.log();
    assert!(
        log.contains("watch failed"),
        "the outage was not logged:\n{log}"
    );
    assert!(
        log.contains("too old resource version"),
        "the watch resumed without a 410, so the relist was not tested:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_rbac_is_enough_and_a_missing_permission_is_named() {
    let plane = shared().await;
    let corner = Corner::new(plane, "rbac");
    let wear = PodNetwork::shared().backend("wear").await;
    corner.service("wear", wear.addr.port());
    corner.ready_pod("wear", "wear-1", wear.addr.ip());
    corner.ingress("store", "store.test", &[("/wear", "wear")]);
    // The chart's ServiceAccount and roles, exactly as it renders them.
    let release = format!("r-{}", corner.namespace);
    let rendered = chart::render(&release, &corner.namespace, &[]);
    let rbac = chart::of_kinds(&rendered, &chart::RBAC_KINDS);
    assert_eq!(rbac.matches("\nkind: ").count(), 5, "{rbac}");
    plane.apply(&rbac);
    let account = format!("{release}-portcullis");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("account.kubeconfig");
    portcullis_testkit::control_plane::service_account_kubeconfig(
        plane,
        &corner.namespace,
        &account,
        &kubeconfig,
    );
    let as_account = |extra: &[&str]| {
        let mut flags = corner.flags();
        flags[1] = kubeconfig.display().to_string();
        flags.extend(extra.iter().map(|f| (*f).to_owned()));
        flags
    };
    let flags = as_account(&["--publish-status-address", "10.0.0.9"]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let env = [
        ("POD_NAMESPACE", corner.namespace.as_str()),
        ("POD_NAME", "replica"),
    ];
    let proxy = Portcullis::start_with_env(&flags, &env).await;
    assert!(
        answers(proxy.http, "store.test", "/wear", 200).await,
        "log:\n{}",
        proxy.log()
    );
    assert!(
        corner.shows("store", &["10.0.0.9"]).await,
        "status not written as the chart's account; log:\n{}",
        proxy.log()
    );
    drop(proxy);

    // Without list on EndpointSlices: a clear error naming the verb and the resource, and not
    // ready (no hang, no table built from half the kinds).
    let role = format!("{release}-portcullis");
    plane.kubectl_ok(&[
        "patch",
        "clusterrole",
        &role,
        "--type=json",
        "-p",
        r#"[{"op": "test", "path": "/rules/3/resources", "value": ["endpointslices"]}, {"op": "replace", "path": "/rules/3/verbs", "value": ["get", "watch"]}]"#,
    ]);
    let flags = as_account(&[]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let denied = Portcullis::spawn_with_env(&flags, &env);
    let line = denied
        .log_line("endpointslices", Duration::from_secs(20))
        .await;
    let line =
        line.unwrap_or_else(|| panic!("no error naming endpointslices; log:\n{}", denied.log()));
    assert!(
        line.contains("forbidden") && line.contains("list"),
        "{line}"
    );
    assert_ne!(
        get(denied.admin, "", "/readyz").await.map(|r| r.0),
        Some(200),
        "ready without EndpointSlices"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_passes_server_side_validation_and_rbac_escalation_checks() {
    let plane = shared().await;
    let namespace = plane.namespace("helm");
    // `helm install` as a user runs it, with the node agent and autoscaling on too: the API
    // server validates every object, and creating the roles passes its escalation check only
    // if the installer holds what they grant. No kubelet runs, so no pod starts: not waited for.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let helm = chart::helm();
    let kubeconfig = plane.kubeconfig().display().to_string();
    let release = format!("h-{namespace}");
    let output = std::process::Command::new(&helm)
        .args([
            "install",
            &release,
            "charts/portcullis",
            "--namespace",
            &namespace,
            "--kubeconfig",
            &kubeconfig,
            "--set",
            "node.enabled=true",
            "--set",
            "autoscaling.enabled=true",
            "--set",
            "ingressClass.name=helm-class",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "helm install: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let deployed = plane.kubectl_ok(&[
        "get",
        "deployment,daemonset,clusterrole,ingressclass",
        "-n",
        &namespace,
        "-o",
        "name",
    ]);
    for object in [
        format!("deployment.apps/{release}-portcullis"),
        "daemonset.apps/".to_owned(),
        format!("clusterrole.rbac.authorization.k8s.io/{release}-portcullis"),
        "ingressclass.networking.k8s.io/helm-class".to_owned(),
    ] {
        assert!(deployed.contains(&object), "{object} not in:\n{deployed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_gateway_api_crds_and_the_examples_are_accepted() {
    let plane = shared().await;
    let crds = portcullis_testkit::control_plane::gateway_api_crds();
    let applied = plane.kubectl_ok(&["apply", "--server-side", "-f", &crds.display().to_string()]);
    assert!(
        applied.contains("httproutes.gateway.networking.k8s.io"),
        "{applied}"
    );
    // The demo's manifests, as a user applies them.
    plane.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: store}\n");
    let manifests = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/wear-watch/manifests/store.yaml");
    let output = plane.kubectl(&["apply", "-f", &manifests.display().to_string()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
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
