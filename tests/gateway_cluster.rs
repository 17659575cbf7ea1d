//! Gateway API in API mode, against a real control plane with the upstream v1.6.1 Standard
//! CRDs: the binary starts before the CRDs exist (a log line, still ready), picks them up once
//! installed, serves HTTPRoutes made through the API, and writes the status the spec asks
//! for (GatewayClass, Gateway with listeners and addresses, route parents with reasons and
//! observed generations) as the chart's ServiceAccount.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::time::Duration;

use portcullis_testkit::chart;
use portcullis_testkit::cluster_namespace::TestNamespace;
use portcullis_testkit::control_plane::{ControlPlane, gateway_api_crds};
use portcullis_testkit::ingress_process::{Portcullis, free_port, get, wait_until};
use portcullis_testkit::pod_network::PodNetwork;
use serde_json::Value;

/// The condition `kind` of a status object's `conditions`.
fn condition<'v>(object: &'v Value, kind: &str) -> Option<&'v Value> {
    object
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// `(status, reason, observedGeneration)` of condition `kind`.
fn state(object: &Value, kind: &str) -> Option<(String, String, i64)> {
    let c = condition(object, kind)?;
    Some((
        c["status"].as_str()?.to_owned(),
        c["reason"].as_str()?.to_owned(),
        c["observedGeneration"].as_i64()?,
    ))
}

/// The `status.parents[]` entry `controller` wrote on `route` (`null` when there is none).
fn our_parent(route: &Value, controller: &str) -> Value {
    route["status"]["parents"]
        .as_array()
        .and_then(|parents| {
            parents
                .iter()
                .find(|p| p["controllerName"] == controller)
                .cloned()
        })
        .unwrap_or(Value::Null)
}

fn yes(reason: &str, generation: i64) -> Option<(String, String, i64)> {
    Some(("True".into(), reason.into(), generation))
}

fn no(reason: &str, generation: i64) -> Option<(String, String, i64)> {
    Some(("False".into(), reason.into(), generation))
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool, log: impl Fn() -> String) {
    let held = wait_until(Duration::from_secs(30), || {
        let holds = check();
        async move { holds }
    })
    .await;
    assert!(held, "{what} never held; log:\n{}", log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_api_objects_made_through_the_api_are_served_and_get_the_specs_status() {
    let plane = tokio::task::spawn_blocking(ControlPlane::shared)
        .await
        .unwrap();
    let space = TestNamespace::new(plane, "gateway");
    let other = TestNamespace::new(plane, "elsewhere");
    let controller = format!("portcullis.dev/gw-{}", space.name);
    let class = format!("class-{}", space.name);

    // The chart's ServiceAccount and roles, as rendered.
    let release = format!("r-{}", space.name);
    let rendered = chart::render(&release, &space.name, &[]);
    plane.apply(&chart::of_kinds(&rendered, &chart::RBAC_KINDS));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("account.kubeconfig");
    portcullis_testkit::control_plane::service_account_kubeconfig(
        plane,
        &space.name,
        &format!("{release}-portcullis"),
        &kubeconfig,
    );

    // Started before the Gateway API CRDs exist: ready, and saying so.
    let kubeconfig = kubeconfig.display().to_string();
    let flags = [
        "--kubeconfig",
        kubeconfig.as_str(),
        "--ingress-class",
        &class,
        "--controller-name",
        &format!("portcullis.dev/ingress-{}", space.name),
        "--gateway-controller-name",
        &controller,
        "--gateway-address",
        "127.0.0.1",
        "--publish-status-address",
        "192.0.2.7",
    ];
    let env = [
        ("POD_NAMESPACE", space.name.as_str()),
        ("POD_NAME", "replica"),
    ];
    let proxy = Portcullis::start_with_env(&flags, &env).await;
    let installed_before = plane
        .kubectl(&["get", "crd", "httproutes.gateway.networking.k8s.io"])
        .status
        .success();
    if !installed_before {
        assert!(
            proxy
                .wait_for_log("custom resource not installed", Duration::from_secs(5))
                .await,
            "{}",
            proxy.log()
        );
    }
    plane.kubectl_ok(&[
        "apply",
        "--server-side",
        "-f",
        &gateway_api_crds().display().to_string(),
    ]);

    let backend = PodNetwork::shared().backend("gateway-backend").await;
    space.service("shop", backend.addr.port());
    space.ready_pod("shop", "shop-1", backend.addr.ip());
    let port = free_port().port();
    plane.apply(&format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {{name: {class}}}\n\
         spec: {{controllerName: {controller}}}\n"
    ));
    space.apply(&format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
         metadata: {{name: edge, namespace: NAMESPACE}}\n\
         spec:\n  gatewayClassName: {class}\n  listeners:\n\
         \x20 - {{name: http, port: {port}, protocol: HTTP, allowedRoutes: {{namespaces: {{from: Same}}}}}}\n\
         ---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: shop, namespace: NAMESPACE}}\n\
         spec:\n  parentRefs: [{{name: edge}}]\n  hostnames: [shop.test]\n\
         \x20 rules: [{{backendRefs: [{{name: shop, port: 80}}]}}]\n"
    ));
    let gateway_addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let served = wait_until(Duration::from_secs(30), || async {
        get(gateway_addr, "shop.test", "/").await.map(|r| r.0) == Some(200)
    })
    .await;
    assert!(served, "the HTTPRoute is not served; log:\n{}", proxy.log());
    let body = get(gateway_addr, "shop.test", "/").await.unwrap().1;
    assert!(body.starts_with("gateway-backend"), "{body}");

    // GatewayClass: Accepted, with the features claimed.
    let log = || proxy.log();
    eventually(
        "GatewayClass Accepted",
        || {
            let object: Value = serde_json::from_str(&plane.kubectl_ok(&[
                "get",
                "gatewayclass",
                &class,
                "-o",
                "json",
            ]))
            .unwrap();
            let generation = object["metadata"]["generation"].as_i64().unwrap_or(-1);
            state(&object["status"], "Accepted") == yes("Accepted", generation)
                && object["status"]["supportedFeatures"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f["name"] == "HTTPRoute"))
        },
        log,
    )
    .await;
    // Gateway: Accepted and Programmed, the published address, one route on the listener.
    eventually(
        "Gateway status",
        || {
            let gateway = space.get_json("gateway", "edge");
            let status = &gateway["status"];
            let listener = &status["listeners"][0];
            state(status, "Accepted") == yes("Accepted", 1)
                && state(status, "Programmed") == yes("Programmed", 1)
                && status["addresses"][0]
                    == serde_json::json!({"type": "IPAddress", "value": "192.0.2.7"})
                && listener["name"] == "http"
                && listener["attachedRoutes"] == 1
                && listener["supportedKinds"][0]["kind"] == "HTTPRoute"
                && state(listener, "Programmed") == yes("Programmed", 1)
                && state(listener, "ResolvedRefs") == yes("ResolvedRefs", 1)
        },
        log,
    )
    .await;
    // The route: one parent entry of ours, spelled out as conformance checks it.
    let route_parent = |name: &str| our_parent(&space.get_json("httproute", name), &controller);
    eventually(
        "HTTPRoute accepted",
        || {
            let parent = route_parent("shop");
            parent["parentRef"]
                == serde_json::json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": space.name, "name": "edge"})
                && state(&parent, "Accepted") == yes("Accepted", 1)
                && state(&parent, "ResolvedRefs") == yes("ResolvedRefs", 1)
        },
        log,
    )
    .await;

    // A new generation naming a missing Service: 500, ResolvedRefs False with the spec's
    // reason, observed at generation 2.
    space.apply(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {name: shop, namespace: NAMESPACE}\n\
         spec:\n  parentRefs: [{name: edge}]\n  hostnames: [shop.test]\n\
         \x20 rules: [{backendRefs: [{name: missing, port: 80}]}]\n",
    );
    assert!(
        wait_until(Duration::from_secs(30), || async {
            get(gateway_addr, "shop.test", "/").await.map(|r| r.0) == Some(500)
        })
        .await,
        "a missing backend is not a 500; log:\n{}",
        proxy.log()
    );
    eventually(
        "ResolvedRefs False",
        || {
            let parent = route_parent("shop");
            state(&parent, "Accepted") == yes("Accepted", 2)
                && state(&parent, "ResolvedRefs") == no("BackendNotFound", 2)
        },
        log,
    )
    .await;

    // A route of another namespace on a listener taking routes of its own only.
    other.apply(&format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: outsider, namespace: NAMESPACE}}\n\
         spec:\n  parentRefs: [{{name: edge, namespace: {}}}]\n\
         \x20 rules: [{{backendRefs: [{{name: shop, port: 80}}]}}]\n",
        space.name
    ));
    // It is in a namespace this replica watches too (no --watch-namespace here).
    eventually(
        "NotAllowedByListeners",
        || {
            let parent = our_parent(&other.get_json("httproute", "outsider"), &controller);
            state(&parent, "Accepted") == no("NotAllowedByListeners", 1)
        },
        log,
    )
    .await;
    // A GRPCRoute on the same listener: watched, and its status written like an HTTPRoute's.
    space.apply(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\n\
         metadata: {name: rpc, namespace: NAMESPACE}\n\
         spec:\n  parentRefs: [{name: edge}]\n  hostnames: [rpc.test]\n\
         \x20 rules: [{matches: [{method: {service: shop.v1.Orders}}], backendRefs: [{name: shop, port: 80}]}]\n",
    );
    eventually(
        "GRPCRoute accepted",
        || {
            let parent = our_parent(&space.get_json("grpcroute", "rpc"), &controller);
            state(&parent, "Accepted") == yes("Accepted", 1)
                && state(&parent, "ResolvedRefs") == yes("ResolvedRefs", 1)
        },
        log,
    )
    .await;
    // A TLSRoute on a TLS listener in Passthrough mode of a second Gateway: watched too.
    let tls_port = free_port().port();
    space.apply(&format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
         metadata: {{name: tls-edge, namespace: NAMESPACE}}\n\
         spec:\n  gatewayClassName: {class}\n  listeners:\n\
         \x20 - {{name: tls, port: {tls_port}, protocol: TLS, tls: {{mode: Passthrough}}}}\n\
         ---\napiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\n\
         metadata: {{name: secure, namespace: NAMESPACE}}\n\
         spec:\n  parentRefs: [{{name: tls-edge}}]\n  hostnames: [secure.test]\n\
         \x20 rules: [{{backendRefs: [{{name: shop, port: 80}}]}}]\n"
    ));
    eventually(
        "TLSRoute accepted",
        || {
            let parent = our_parent(&space.get_json("tlsroute", "secure"), &controller);
            state(&parent, "Accepted") == yes("Accepted", 1)
                && state(&parent, "ResolvedRefs") == yes("ResolvedRefs", 1)
                && space.get_json("gateway", "tls-edge")["status"]["listeners"][0]["supportedKinds"]
                    [0]["kind"]
                    == "TLSRoute"
        },
        log,
    )
    .await;
    // The listener counts the accepted routes only (the HTTPRoute and the GRPCRoute, not the
    // outsider).
    eventually(
        "two routes attached",
        || space.get_json("gateway", "edge")["status"]["listeners"][0]["attachedRoutes"] == 2,
        log,
    )
    .await;
    // Status converges: once written, nothing is written again (a write that came back as a
    // watch event asks for nothing more).
    let versions = || {
        [
            space.get_json("gateway", "edge")["metadata"]["resourceVersion"].clone(),
            space.get_json("httproute", "shop")["metadata"]["resourceVersion"].clone(),
            other.get_json("httproute", "outsider")["metadata"]["resourceVersion"].clone(),
            space.get_json("grpcroute", "rpc")["metadata"]["resourceVersion"].clone(),
            space.get_json("tlsroute", "secure")["metadata"]["resourceVersion"].clone(),
        ]
    };
    let before = versions();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        versions(),
        before,
        "status keeps being rewritten; log:\n{}",
        proxy.log()
    );
    // The user's errors reached Events on the route.
    eventually(
        "an Event on the route",
        || {
            space
                .kubectl(&["get", "events", "-o", "json"])
                .contains("BackendNotFound")
        },
        log,
    )
    .await;
    // A BackendTLSPolicy on the Service the GRPCRoute uses, its CA in a ConfigMap: watched
    // (ConfigMaps too, as the chart's ServiceAccount), and its ancestors written.
    let ca = portcullis_testkit::test_ca::ca();
    space.apply(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: shop-ca, namespace: NAMESPACE}}\n\
         data: {{ca.crt: {:?}}}\n\
         ---\napiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\n\
         metadata: {{name: shop-tls, namespace: NAMESPACE}}\n\
         spec:\n  targetRefs: [{{group: '', kind: Service, name: shop}}]\n\
         \x20 validation:\n    caCertificateRefs: [{{group: '', kind: ConfigMap, name: shop-ca}}]\n\
         \x20   hostname: shop.test\n",
        ca.pem
    ));
    eventually(
        "BackendTLSPolicy ancestors",
        || {
            let policy = space.get_json("backendtlspolicy", "shop-tls");
            let ancestor = &policy["status"]["ancestors"][0];
            ancestor["ancestorRef"]["name"] == "edge"
                && ancestor["controllerName"] == controller.as_str()
                && state(ancestor, "Accepted") == yes("Accepted", 1)
                && state(ancestor, "ResolvedRefs") == yes("ResolvedRefs", 1)
        },
        log,
    )
    .await;
}
