//! The real `portcullis ingress` binary serving Gateway API objects from `--manifests`, against
//! echo backends on loopback: the conformance suite's HTTPRoute cases (the case names say
//! which), listener ports opened and closed live, HTTPS listeners, and Ingresses beside.

use std::net::SocketAddr;
use std::time::Duration;

use hyper::header::HeaderMap;
use portcullis_testkit::echo_backend::{ECHO_SET_HEADER, EchoBackend, Echoed};
use portcullis_testkit::ingress_process::{
    self, Portcullis, free_port, wait_until, write_atomically,
};

/// One answer: status, headers, and what the echo backend saw (if one answered).
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    echoed: Option<Echoed>,
}

impl Reply {
    /// The backend that answered, or `status N` when none did.
    fn answered_by(&self) -> String {
        match &self.echoed {
            Some(echoed) if self.status == 200 => echoed.backend.clone(),
            _ => format!("status {}", self.status),
        }
    }

    fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    }
}

/// Sends one request to `127.0.0.1:port` (redirects are not followed).
async fn send(
    port: u16,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<Reply> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let (status, headers, body) = ingress_process::send(addr, method, host, path, headers).await?;
    Some(Reply {
        status,
        headers,
        echoed: Echoed::parse(&body),
    })
}

async fn get(port: u16, host: &str, path: &str) -> Reply {
    send(port, "GET", host, path, &[])
        .await
        .unwrap_or_else(|| panic!("GET {host}{path} on port {port} failed"))
}

/// A Service `name` in `namespace` on port 8080, with one EndpointSlice to `backend`.
fn service(namespace: &str, name: &str, backend: SocketAddr) -> String {
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
         spec: {{ports: [{{port: 8080}}]}}\n\
         ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
         metadata: {{name: {name}-1, namespace: {namespace}, labels: {{kubernetes.io/service-name: {name}}}}}\n\
         addressType: IPv4\nports: [{{port: {}}}]\n\
         endpoints: [{{addresses: [\"{}\"], conditions: {{ready: true}}}}]\n",
        backend.port(),
        backend.ip()
    )
}

/// The shared objects: our GatewayClass, namespaces `store` (label `gateway-conformance:
/// infra`) and `web` (`backend`), Services v1, v2, v3 in `store` and `web-backend` in `web`,
/// and Gateway `same-namespace` in `store` with listener `http` on `port` (routes from
/// `store` only) and Gateway `all-namespaces` with listener `http` on `open_port` (all).
fn base(backends: &Backends, port: u16, open_port: u16) -> String {
    let mut out = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {{name: portcullis}}\n\
         spec: {{controllerName: portcullis.dev/gateway-controller}}\n\
         ---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: store, labels: {{gateway-conformance: infra}}}}\n\
         ---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: web, labels: {{gateway-conformance: backend}}}}\n\
         ---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
         metadata: {{name: same-namespace, namespace: store}}\n\
         spec:\n  gatewayClassName: portcullis\n  listeners:\n  \
         - {{name: http, port: {port}, protocol: HTTP, allowedRoutes: {{namespaces: {{from: Same}}}}}}\n\
         ---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
         metadata: {{name: all-namespaces, namespace: store}}\n\
         spec:\n  gatewayClassName: portcullis\n  listeners:\n  \
         - {{name: http, port: {open_port}, protocol: HTTP, allowedRoutes: {{namespaces: {{from: All}}}}}}\n"
    );
    for (name, backend) in [
        ("infra-backend-v1", &backends.v1),
        ("infra-backend-v2", &backends.v2),
        ("infra-backend-v3", &backends.v3),
    ] {
        out.push_str(&service("store", name, backend.addr));
    }
    out.push_str(&service("web", "web-backend", backends.web.addr));
    out
}

struct Backends {
    v1: EchoBackend,
    v2: EchoBackend,
    v3: EchoBackend,
    web: EchoBackend,
}

/// A running proxy with the base objects and `routes`, both Gateways' ports open.
struct Fixture {
    proxy: Portcullis,
    dir: tempfile::TempDir,
    /// `same-namespace`'s port.
    port: u16,
    /// `all-namespaces`'s port.
    open_port: u16,
    _backends: Backends,
}

impl Fixture {
    async fn start(routes: &str) -> Fixture {
        let backends = Backends {
            v1: EchoBackend::start("infra-backend-v1").await,
            v2: EchoBackend::start("infra-backend-v2").await,
            v3: EchoBackend::start("infra-backend-v3").await,
            web: EchoBackend::start("web-backend").await,
        };
        let (port, open_port) = (free_port().port(), free_port().port());
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("base.yaml"),
            base(&backends, port, open_port),
        )
        .expect("write base");
        std::fs::write(dir.path().join("routes.yaml"), routes).expect("write routes");
        let proxy = Portcullis::start(dir.path(), &["--gateway-address", "127.0.0.1"]).await;
        for p in [port, open_port] {
            let open = wait_until(Duration::from_secs(10), || async {
                send(p, "GET", "probe", "/", &[]).await.is_some()
            })
            .await;
            assert!(open, "Gateway port {p} never opened; log:\n{}", proxy.log());
        }
        Fixture {
            proxy,
            dir,
            port,
            open_port,
            _backends: backends,
        }
    }

    /// Replaces the routes file and waits until `check` holds.
    async fn change_routes<F, Fut>(&self, routes: &str, check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        write_atomically(&self.dir.path().join("routes.yaml"), routes);
        let took = wait_until(Duration::from_secs(10), check).await;
        assert!(took, "the change never took; log:\n{}", self.proxy.log());
    }
}

/// An HTTPRoute in `namespace` attached to `parent` with `hostnames` and rule YAML `rules`
/// (indented as list items under `rules:`).
fn route(namespace: &str, name: &str, parent: &str, hostnames: &[&str], rules: &str) -> String {
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: {name}, namespace: {namespace}}}\n\
         spec:\n  parentRefs: [{{name: {parent}, namespace: store}}]\n  hostnames: {hostnames:?}\n  rules:\n{rules}"
    )
}

/// `(method, host, path, headers, expected backend or "status N")`.
type Case<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

/// Each `(method, host, path, headers)` answered by the expected backend (or `status N`).
async fn expect_routes(port: u16, cases: &[Case<'_>]) {
    let mut wrong = Vec::new();
    for (method, host, path, headers, expected) in cases {
        let reply = send(port, method, host, path, headers)
            .await
            .unwrap_or_else(|| panic!("{method} {host}{path} failed"));
        let got = reply.answered_by();
        if got != *expected {
            wrong.push(format!(
                "{method} {host}{path} {headers:?}: {got}, expected {expected}"
            ));
        }
        if reply.status == 200
            && let Some(echoed) = &reply.echoed
        {
            assert_eq!(
                echoed.path, *path,
                "the backend sees path and query as sent"
            );
            assert_eq!(echoed.method, *method);
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

const V1: &str = "[{name: infra-backend-v1, port: 8080}]";
const V2: &str = "[{name: infra-backend-v2, port: 8080}]";
const V3: &str = "[{name: infra-backend-v3, port: 8080}]";

#[tokio::test(flavor = "multi_thread")]
async fn matches_follow_the_conformance_suites_precedence() {
    let rules = |parts: &[(&str, &str)]| -> String {
        parts
            .iter()
            .map(|(matches, backends)| {
                format!("  - matches: {matches}\n    backendRefs: {backends}\n")
            })
            .collect()
    };
    let mut routes = String::new();
    // HTTPRouteMatching
    routes.push_str(&route(
        "store",
        "matching",
        "same-namespace",
        &["matching.example"],
        &rules(&[
            ("[{path: {type: PathPrefix, value: /}}, {headers: [{name: version, value: one}]}]", V1),
            ("[{path: {type: PathPrefix, value: /v2}}, {headers: [{name: version, value: two}]}]", V2),
        ]),
    ));
    // HTTPRouteHeaderMatching
    routes.push_str(&route(
        "store",
        "header-matching",
        "same-namespace",
        &["headers.example"],
        &rules(&[
            ("[{headers: [{name: version, value: one}]}]", V1),
            ("[{headers: [{name: version, value: two}]}]", V2),
            ("[{headers: [{name: version, value: two}, {name: color, value: orange}]}]", V1),
            ("[{headers: [{name: color, value: blue}]}, {headers: [{name: color, value: green}]}]", V1),
            ("[{headers: [{name: color, value: red}]}, {headers: [{name: color, value: yellow}]}]", V2),
        ]),
    ));
    // HTTPRouteMethodMatching and HTTPRouteQueryParamMatching (abridged)
    routes.push_str(&route(
        "store",
        "method-matching",
        "same-namespace",
        &["methods.example"],
        &rules(&[
            ("[{method: POST}]", V1),
            ("[{method: GET}]", V2),
            ("[{path: {type: PathPrefix, value: /path1}, method: GET}]", V1),
            ("[{path: {type: PathPrefix, value: /path5}}]", V1),
            ("[{method: PATCH}]", V2),
            ("[{headers: [{name: version, value: four}]}]", V3),
            ("[{queryParams: [{name: animal, value: whale}]}]", V1),
            ("[{queryParams: [{name: animal, value: dolphin}]}]", V2),
            ("[{queryParams: [{name: animal, value: dolphin}, {name: color, value: blue}]}, {queryParams: [{name: ANIMAL, value: Whale}]}]", V3),
        ]),
    ));
    // HTTPRoutePathMatchOrder and HTTPRouteExactPathMatching
    routes.push_str(&route(
        "store",
        "path-matching-order",
        "same-namespace",
        &["paths.example"],
        &rules(&[
            ("[{path: {type: Exact, value: /match}}]", V1),
            ("[{path: {type: Exact, value: /match/exact}}]", V2),
            ("[{path: {type: Exact, value: /match/exact/one}}]", V3),
            ("[{path: {type: PathPrefix, value: /match/}}]", V3),
            ("[{path: {type: PathPrefix, value: /match/prefix/}}]", V1),
            ("[{path: {type: PathPrefix, value: /match/prefix/one}}]", V2),
            ("[{path: {type: Exact, value: /one}}]", V1),
            (
                "[{path: {type: RegularExpression, value: \"/re/[0-9]+\"}}]",
                V2,
            ),
        ]),
    ));
    let fixture = Fixture::start(&routes).await;
    let none: &[(&str, &str)] = &[];
    expect_routes(
        fixture.port,
        &[
            ("GET", "matching.example", "/", none, "infra-backend-v1"),
            (
                "GET",
                "matching.example",
                "/example",
                none,
                "infra-backend-v1",
            ),
            (
                "GET",
                "matching.example",
                "/",
                &[("version", "one")],
                "infra-backend-v1",
            ),
            ("GET", "matching.example", "/v2", none, "infra-backend-v2"),
            (
                "GET",
                "matching.example",
                "/v2/example",
                none,
                "infra-backend-v2",
            ),
            (
                "GET",
                "matching.example",
                "/",
                &[("version", "two")],
                "infra-backend-v2",
            ),
            ("GET", "matching.example", "/v2/", none, "infra-backend-v2"),
            (
                "GET",
                "matching.example",
                "/v2example",
                none,
                "infra-backend-v1",
            ),
            (
                "GET",
                "matching.example",
                "/foo/v2/example",
                none,
                "infra-backend-v1",
            ),
            (
                "GET",
                "headers.example",
                "/",
                &[("Version", "one")],
                "infra-backend-v1",
            ),
            (
                "GET",
                "headers.example",
                "/",
                &[("Version", "two")],
                "infra-backend-v2",
            ),
            (
                "GET",
                "headers.example",
                "/",
                &[("Version", "two"), ("Color", "orange")],
                "infra-backend-v1",
            ),
            (
                "GET",
                "headers.example",
                "/",
                &[("Version", "two"), ("Color", "blue")],
                "infra-backend-v2",
            ),
            (
                "GET",
                "headers.example",
                "/",
                &[("Color", "orange")],
                "status 404",
            ),
            (
                "GET",
                "headers.example",
                "/",
                &[("Some-Other-Header", "one")],
                "status 404",
            ),
            (
                "GET",
                "headers.example",
                "/",
                &[("Color", "green")],
                "infra-backend-v1",
            ),
            (
                "GET",
                "headers.example",
                "/",
                &[("Color", "yellow")],
                "infra-backend-v2",
            ),
            (
                "GET",
                "headers.example",
                "/",
                &[("Color", "purple")],
                "status 404",
            ),
            ("POST", "methods.example", "/", none, "infra-backend-v1"),
            ("GET", "methods.example", "/", none, "infra-backend-v2"),
            ("HEAD", "methods.example", "/", none, "status 404"),
            ("GET", "methods.example", "/path1", none, "infra-backend-v1"),
            (
                "PATCH",
                "methods.example",
                "/path5",
                none,
                "infra-backend-v1",
            ),
            (
                "PATCH",
                "methods.example",
                "/",
                &[("version", "four")],
                "infra-backend-v2",
            ),
            (
                "PUT",
                "methods.example",
                "/",
                &[("version", "four")],
                "infra-backend-v3",
            ),
            (
                "PUT",
                "methods.example",
                "/?animal=whale",
                none,
                "infra-backend-v1",
            ),
            (
                "PUT",
                "methods.example",
                "/?animal=dolphin",
                none,
                "infra-backend-v2",
            ),
            (
                "PUT",
                "methods.example",
                "/?animal=dolphin&color=blue",
                none,
                "infra-backend-v3",
            ),
            (
                "PUT",
                "methods.example",
                "/?ANIMAL=Whale",
                none,
                "infra-backend-v3",
            ),
            (
                "PUT",
                "methods.example",
                "/?animal=whale&otherparam=irrelevant",
                none,
                "infra-backend-v1",
            ),
            (
                "PUT",
                "methods.example",
                "/?animal=whaledolphin",
                none,
                "status 404",
            ),
            (
                "GET",
                "paths.example",
                "/match/exact/one",
                none,
                "infra-backend-v3",
            ),
            (
                "GET",
                "paths.example",
                "/match/exact",
                none,
                "infra-backend-v2",
            ),
            ("GET", "paths.example", "/match", none, "infra-backend-v1"),
            (
                "GET",
                "paths.example",
                "/match/prefix/one/any",
                none,
                "infra-backend-v2",
            ),
            (
                "GET",
                "paths.example",
                "/match/prefix/any",
                none,
                "infra-backend-v1",
            ),
            (
                "GET",
                "paths.example",
                "/match/any",
                none,
                "infra-backend-v3",
            ),
            ("GET", "paths.example", "/one", none, "infra-backend-v1"),
            ("GET", "paths.example", "/one/example", none, "status 404"),
            ("GET", "paths.example", "/One", none, "status 404"),
            ("GET", "paths.example", "/re/42", none, "infra-backend-v2"),
            ("GET", "paths.example", "/re/42x", none, "status 404"),
            ("GET", "unknown.example", "/", none, "status 404"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hostnames_intersect_and_the_most_specific_listener_owns_a_name() {
    let (a, b) = (free_port().port(), free_port().port());
    // HTTPRouteHostnameIntersection and HTTPRouteListenerHostnameMatching.
    let gateways = format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
         metadata: {{name: intersection, namespace: store}}\n\
         spec:\n  gatewayClassName: portcullis\n  listeners:\n\
         \x20 - {{name: listener-1, port: {a}, protocol: HTTP, hostname: very.specific.com}}\n\
         \x20 - {{name: listener-2, port: {a}, protocol: HTTP, hostname: \"*.wildcard.io\"}}\n\
         ---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
         metadata: {{name: listener-hostnames, namespace: store}}\n\
         spec:\n  gatewayClassName: portcullis\n  listeners:\n\
         \x20 - {{name: listener-1, port: {b}, protocol: HTTP, hostname: bar.com}}\n\
         \x20 - {{name: listener-2, port: {b}, protocol: HTTP, hostname: foo.bar.com}}\n\
         \x20 - {{name: listener-3, port: {b}, protocol: HTTP, hostname: \"*.bar.com\"}}\n\
         \x20 - {{name: listener-4, port: {b}, protocol: HTTP, hostname: \"*.foo.com\"}}\n"
    );
    let prefix = |path: &str, backends: &str| {
        format!(
            "  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n    backendRefs: {backends}\n"
        )
    };
    let mut routes = gateways;
    routes.push_str(&route(
        "store",
        "s1",
        "intersection",
        &[
            "non.matching.com",
            "*.nonmatchingwildcard.io",
            "very.specific.com",
        ],
        &prefix("/s1", V1),
    ));
    routes.push_str(&route(
        "store",
        "s2",
        "intersection",
        &[
            "non.matching.com",
            "wildcard.io",
            "foo.wildcard.io",
            "bar.wildcard.io",
            "foo.bar.wildcard.io",
        ],
        &prefix("/s2", V2),
    ));
    routes.push_str(&route(
        "store",
        "s3",
        "intersection",
        &["non.matching.com", "*.specific.com"],
        &prefix("/s3", V3),
    ));
    for (name, section, backends) in [
        ("backend-v1", "listener-1", V1),
        ("backend-v2", "listener-2", V2),
        ("backend-v3", "listener-3", V3),
        ("backend-v3-foo", "listener-4", V3),
    ] {
        routes.push_str(&format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
             metadata: {{name: {name}, namespace: store}}\n\
             spec:\n  parentRefs: [{{name: listener-hostnames, sectionName: {section}}}]\n\
             \x20 rules: [{{backendRefs: {backends}}}]\n"
        ));
    }
    // Isolation: foo.bar.com belongs to listener-2, so this route (sorting before backend-v2)
    // attaches to listener-3 but never serves foo.bar.com.
    routes.push_str(&format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: aaa-foo-via-wildcard, namespace: store}}\n\
         spec:\n  parentRefs: [{{name: listener-hostnames, sectionName: listener-3}}]\n\
         \x20 hostnames: [foo.bar.com]\n  rules: [{{backendRefs: {V1}}}]\n"
    ));
    let fixture = Fixture::start(&routes).await;
    for port in [a, b] {
        let open = wait_until(Duration::from_secs(10), || async {
            send(port, "GET", "probe", "/", &[]).await.is_some()
        })
        .await;
        assert!(
            open,
            "port {port} never opened; log:\n{}",
            fixture.proxy.log()
        );
    }
    let none: &[(&str, &str)] = &[];
    expect_routes(
        a,
        &[
            ("GET", "very.specific.com", "/s1", none, "infra-backend-v1"),
            (
                "GET",
                "very.specific.com:1234",
                "/s1",
                none,
                "infra-backend-v1",
            ),
            ("GET", "non.matching.com", "/s1", none, "status 404"),
            (
                "GET",
                "foo.nonmatchingwildcard.io",
                "/s1",
                none,
                "status 404",
            ),
            ("GET", "foo.wildcard.io", "/s1", none, "status 404"),
            ("GET", "foo.wildcard.io", "/s2", none, "infra-backend-v2"),
            (
                "GET",
                "foo.bar.wildcard.io",
                "/s2",
                none,
                "infra-backend-v2",
            ),
            ("GET", "wildcard.io", "/s2", none, "status 404"),
            ("GET", "very.specific.com", "/s3", none, "infra-backend-v3"),
            ("GET", "foo.specific.com", "/s3", none, "status 404"),
        ],
    )
    .await;
    let reply = get(a, "very.specific.com:1234", "/s1").await;
    assert_eq!(
        reply.echoed.map(|e| e.host).as_deref(),
        Some("very.specific.com:1234"),
        "the backend sees the Host as sent"
    );
    expect_routes(
        b,
        &[
            ("GET", "bar.com", "/", none, "infra-backend-v1"),
            ("GET", "foo.bar.com", "/", none, "infra-backend-v2"),
            ("GET", "baz.bar.com", "/", none, "infra-backend-v3"),
            (
                "GET",
                "multiple.prefixes.bar.com",
                "/",
                none,
                "infra-backend-v3",
            ),
            (
                "GET",
                "multiple.prefixes.foo.com",
                "/",
                none,
                "infra-backend-v3",
            ),
            ("GET", "foo.com", "/", none, "status 404"),
            ("GET", "no.matching.host", "/", none, "status 404"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn references_across_namespaces_need_a_grant_and_invalid_backends_answer_500() {
    let grant = "---\napiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\n\
                 metadata: {name: reference-grant, namespace: web}\n\
                 spec:\n  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: store}]\n\
                 \x20 to: [{group: \"\", kind: Service, name: web-backend}]\n";
    let mut routes = String::new();
    // HTTPRouteCrossNamespace: a route in `web` on the Gateway taking all namespaces.
    routes.push_str(&route(
        "web",
        "cross-namespace",
        "all-namespaces",
        &["cross.example"],
        "  - backendRefs: [{name: web-backend, port: 8080}]\n",
    ));
    // HTTPRouteInvalidCrossNamespaceParentRef: `same-namespace` takes routes of `store` only.
    routes.push_str(&route(
        "web",
        "invalid-cross-namespace-parent-ref",
        "same-namespace",
        &["parent.example"],
        "  - backendRefs: [{name: web-backend, port: 8080}]\n",
    ));
    // HTTPRouteReferenceGrant, HTTPRouteInvalidBackendRefUnknownKind,
    // HTTPRouteInvalidNonExistentBackendRef, HTTPRoutePartiallyInvalidViaInvalidReferenceGrant.
    routes.push_str(&route(
        "store",
        "references",
        "same-namespace",
        &["refs.example"],
        "  - matches: [{path: {type: PathPrefix, value: /granted}}]\n\
         \x20   backendRefs: [{name: web-backend, namespace: web, port: 8080}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /unknown-kind}}]\n\
         \x20   backendRefs: [{group: unknownkind.example.com, kind: NonExistent, name: infra-backend-v1, port: 8080}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /nonexistent}}]\n\
         \x20   backendRefs: [{name: nonexistent, port: 8080}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /no-backends}}]\n\
         \x20 - backendRefs: [{name: infra-backend-v1, port: 8080}]\n",
    ));
    let with_grant = format!("{routes}{grant}");
    let fixture = Fixture::start(&with_grant).await;
    let none: &[(&str, &str)] = &[];
    expect_routes(
        fixture.open_port,
        &[("GET", "cross.example", "/", none, "web-backend")],
    )
    .await;
    expect_routes(
        fixture.port,
        &[
            ("GET", "parent.example", "/", none, "status 404"),
            ("GET", "refs.example", "/granted", none, "web-backend"),
            ("GET", "refs.example", "/unknown-kind", none, "status 500"),
            ("GET", "refs.example", "/nonexistent", none, "status 500"),
            ("GET", "refs.example", "/no-backends", none, "status 500"),
            ("GET", "refs.example", "/", none, "infra-backend-v1"),
        ],
    )
    .await;
    let log = fixture.proxy.log();
    for expected in [
        "HTTPRoute web/invalid-cross-namespace-parent-ref: spec.parentRefs[0]: the listeners' allowedRoutes do not take this route's namespace",
        "HTTPRoute store/references: spec.rules[1].backendRefs[0]: backend kind unknownkind.example.com/NonExistent is not supported",
        "HTTPRoute store/references: spec.rules[2].backendRefs[0]: Service store/nonexistent not found",
    ] {
        assert!(log.contains(expected), "log lacks {expected:?}:\n{log}");
    }
    // Deleting the grant turns the cross-namespace rule into a 500; the rest keeps working.
    let port = fixture.port;
    fixture
        .change_routes(&routes, || async {
            get(port, "refs.example", "/granted").await.status == 500
        })
        .await;
    assert_eq!(
        get(port, "refs.example", "/").await.answered_by(),
        "infra-backend-v1"
    );
    assert!(
        fixture
            .proxy
            .wait_for_log("no ReferenceGrant in namespace web lets HTTPRoutes of store use Service web-backend", Duration::from_secs(5))
            .await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_edit_headers_redirect_rewrite_and_split_by_weight() {
    let rules = "  - matches: [{path: {type: PathPrefix, value: /set}}]\n\
         \x20   filters:\n\
         \x20   - type: RequestHeaderModifier\n\
         \x20     requestHeaderModifier:\n\
         \x20       set: [{name: X-Header-Set, value: set-overwrites-values}]\n\
         \x20       add: [{name: X-Header-Add, value: add-appends-values}]\n\
         \x20       remove: [X-Header-Remove]\n\
         \x20   - type: ResponseHeaderModifier\n\
         \x20     responseHeaderModifier:\n\
         \x20       set: [{name: X-Header-Set, value: set-overwrites-values}]\n\
         \x20       add: [{name: X-Header-Add, value: add-appends-values}]\n\
         \x20       remove: [X-Header-Remove]\n\
         \x20   backendRefs: [{name: infra-backend-v1, port: 8080}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /hostname-redirect}}]\n\
         \x20   filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org}}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /host-and-status}}]\n\
         \x20   filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, statusCode: 301}}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /original-prefix}}]\n\
         \x20   filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /full}}]\n\
         \x20   filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /full-path-replacement}}}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /scheme}}]\n\
         \x20   filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /port}}]\n\
         \x20   filters: [{type: RequestRedirect, requestRedirect: {port: 8083, hostname: example.org}}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /strip-prefix}}]\n\
         \x20   filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]\n\
         \x20   backendRefs: [{name: infra-backend-v1, port: 8080}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /prefix/one}}]\n\
         \x20   filters: [{type: URLRewrite, urlRewrite: {hostname: one.example.org, path: {type: ReplacePrefixMatch, replacePrefixMatch: /one}}}]\n\
         \x20   backendRefs: [{name: infra-backend-v1, port: 8080}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /full-rewrite}}]\n\
         \x20   filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /one}}}]\n\
         \x20   backendRefs: [{name: infra-backend-v1, port: 8080}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /timeout}}]\n\
         \x20   timeouts: {backendRequest: 300ms}\n\
         \x20   backendRefs: [{name: infra-backend-v1, port: 8080}]\n\
         \x20 - matches: [{path: {type: PathPrefix, value: /weighted}}]\n\
         \x20   backendRefs:\n\
         \x20   - {name: infra-backend-v1, port: 8080, weight: 70}\n\
         \x20   - {name: infra-backend-v2, port: 8080, weight: 30}\n\
         \x20   - {name: infra-backend-v3, port: 8080, weight: 0}\n";
    let routes = route(
        "store",
        "filters",
        "same-namespace",
        &["filters.example"],
        rules,
    );
    let fixture = Fixture::start(&routes).await;
    let port = fixture.port;
    let host = "filters.example";

    // HTTPRouteRequestHeaderModifier and HTTPRouteResponseHeaderModifier.
    let echo = "X-Header-Set:some-other-value,X-Header-Add:some-other-value,X-Header-Remove:val";
    let reply = send(
        port,
        "GET",
        host,
        "/set",
        &[
            ("X-Header-Set", "some-other-value"),
            ("X-Header-Add", "some-other-value"),
            ("X-Header-Remove", "val"),
            (ECHO_SET_HEADER, echo),
        ],
    )
    .await
    .expect("reply");
    let echoed = reply.echoed.clone().expect("echoed");
    assert_eq!(
        echoed.header("x-header-set").as_deref(),
        Some("set-overwrites-values")
    );
    assert_eq!(
        echoed.header("x-header-add").as_deref(),
        Some("some-other-value,add-appends-values")
    );
    assert_eq!(echoed.header("x-header-remove"), None);
    assert_eq!(
        reply.header("x-header-set").as_deref(),
        Some("set-overwrites-values")
    );
    assert_eq!(
        reply.header("x-header-add").as_deref(),
        Some("some-other-value,add-appends-values")
    );
    assert_eq!(reply.header("x-header-remove"), None);

    // HTTPRouteRedirectHostAndStatus, -Path, -Scheme, -Port: the listener's port is kept
    // unless the scheme changes or the filter names one.
    let redirects: &[(&str, u16, &str)] = &[
        (
            "/hostname-redirect",
            302,
            &format!("http://example.org:{port}/hostname-redirect"),
        ),
        (
            "/host-and-status",
            301,
            &format!("http://example.org:{port}/host-and-status"),
        ),
        (
            "/original-prefix/lemon?x=1",
            302,
            &format!("http://{host}:{port}/replacement-prefix/lemon?x=1"),
        ),
        (
            "/full/path/original",
            302,
            &format!("http://{host}:{port}/full-path-replacement"),
        ),
        ("/scheme", 302, &format!("https://{host}/scheme")),
        ("/port", 302, "http://example.org:8083/port"),
    ];
    for (path, status, location) in redirects {
        let reply = get(port, &format!("{host}:{port}"), path).await;
        assert_eq!(
            (reply.status, reply.header("location").as_deref()),
            (*status, Some(*location)),
            "{path}"
        );
    }
    let reply = get(port, host, "/full-path-and-host").await;
    assert_eq!(reply.status, 404, "/full-path-and-host is not below /full");

    // HTTPRouteRewritePath and HTTPRouteRewriteHost.
    for (path, seen, seen_host) in [
        ("/strip-prefix/three", "/three", host),
        ("/strip-prefix", "/", host),
        ("/prefix/one/two", "/one/two", "one.example.org"),
        ("/full-rewrite/one/two?q=1", "/one?q=1", host),
    ] {
        let reply = get(port, host, path).await;
        let echoed = reply.echoed.expect("echoed");
        assert_eq!(
            (echoed.path.as_str(), echoed.host.as_str()),
            (seen, seen_host),
            "{path}"
        );
    }

    // HTTPRouteTimeoutBackendRequest: 504 once the backend takes longer than 300ms.
    assert_eq!(get(port, host, "/timeout?delay_ms=1000").await.status, 504);
    assert_eq!(get(port, host, "/timeout?delay_ms=10").await.status, 200);

    // HTTPRouteWeight: 70/30/0 within 5% over 500 requests; weight 0 gets nothing.
    let mut counts = std::collections::BTreeMap::<String, u32>::new();
    for _ in 0..500 {
        *counts
            .entry(get(port, host, "/weighted").await.answered_by())
            .or_default() += 1;
    }
    let share = |name: &str| f64::from(*counts.get(name).unwrap_or(&0)) / 500.0;
    assert!((share("infra-backend-v1") - 0.7).abs() < 0.05, "{counts:?}");
    assert!((share("infra-backend-v2") - 0.3).abs() < 0.05, "{counts:?}");
    assert_eq!(counts.get("infra-backend-v3"), None, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn listener_ports_open_and_close_live_and_https_listeners_terminate_by_hostname() {
    let fixture = Fixture::start("").await;
    let ca = portcullis_testkit::test_ca::ca();
    let (http, https) = (free_port().port(), free_port().port());
    let added = format!(
        "{}---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
         metadata: {{name: added, namespace: store}}\n\
         spec:\n  gatewayClassName: portcullis\n  listeners:\n\
         \x20 - {{name: http, port: {http}, protocol: HTTP}}\n\
         \x20 - name: https\n    port: {https}\n    protocol: HTTPS\n    hostname: shop.example\n\
         \x20   tls: {{certificateRefs: [{{name: shop-cert}}]}}\n\
         ---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: added, namespace: store}}\n\
         spec:\n  parentRefs: [{{name: added}}]\n  rules: [{{backendRefs: {V2}}}]\n",
        ca.secret("shop-cert", "shop.example", "shop-from-gateway"),
    );
    fixture
        .change_routes(&added, || async {
            send(http, "GET", "any.example", "/", &[])
                .await
                .is_some_and(|r| r.answered_by() == "infra-backend-v2")
        })
        .await;
    let subject_open = wait_until(Duration::from_secs(10), || async {
        portcullis_testkit::test_ca::served_subject(https, "shop.example")
            .contains("shop-from-gateway")
    })
    .await;
    assert!(
        subject_open,
        "the HTTPS listener never served its certificate; log:\n{}",
        fixture.proxy.log()
    );
    let body = curl_https(&fixture, &ca, "shop.example", https, "/over-tls");
    assert!(
        body.starts_with("backend infra-backend-v2\n"),
        "curl: {body}"
    );
    // Removing the Gateway closes both of its ports; the others stay.
    fixture
        .change_routes("", || async {
            send(http, "GET", "any.example", "/", &[]).await.is_none()
        })
        .await;
    // Each port is drained on its own: the HTTPS one closes moments after.
    let https_closed = wait_until(Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", https))
            .await
            .is_err()
    })
    .await;
    assert!(
        https_closed,
        "the HTTPS port stayed open; log:\n{}",
        fixture.proxy.log()
    );
    assert!(
        send(fixture.port, "GET", "any.example", "/", &[])
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ingresses_and_gateways_share_the_proxy_and_an_ingress_port_is_refused() {
    let backend = EchoBackend::start("ingress-backend").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway_port = free_port().port();
    let manifests = format!(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: portcullis}}\n\
         spec: {{controller: portcullis.dev/ingress-controller}}\n\
         ---\napiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {{name: portcullis}}\n\
         spec: {{controllerName: portcullis.dev/gateway-controller}}\n\
         {}---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: shop, namespace: store}}\n\
         spec:\n  ingressClassName: portcullis\n  rules:\n  - host: shop.example\n    http:\n      paths:\n\
         \x20     - {{path: /, pathType: Prefix, backend: {{service: {{name: shop, port: {{number: 8080}}}}}}}}\n",
        service("store", "shop", backend.addr)
    );
    std::fs::write(dir.path().join("objects.yaml"), manifests).expect("write");
    let proxy = Portcullis::start(dir.path(), &["--gateway-address", "127.0.0.1"]).await;
    let ingress_port = proxy.http.port();
    let gateways = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
         metadata: {{name: edge, namespace: store}}\n\
         spec:\n  gatewayClassName: portcullis\n  listeners:\n\
         \x20 - {{name: on-the-ingress-port, port: {ingress_port}, protocol: HTTP}}\n\
         \x20 - {{name: own, port: {gateway_port}, protocol: HTTP}}\n\
         ---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: shop, namespace: store}}\n\
         spec:\n  parentRefs: [{{name: edge}}]\n  hostnames: [shop.example]\n\
         \x20 rules: [{{backendRefs: [{{name: shop, port: 8080}}]}}]\n"
    );
    std::fs::write(dir.path().join("gateways.yaml"), gateways).expect("write");
    let served = wait_until(Duration::from_secs(10), || async {
        send(gateway_port, "GET", "shop.example", "/", &[])
            .await
            .is_some_and(|r| r.answered_by() == "ingress-backend")
    })
    .await;
    assert!(
        served,
        "the Gateway port never served; log:\n{}",
        proxy.log()
    );
    assert_eq!(
        get(ingress_port, "shop.example", "/").await.answered_by(),
        "ingress-backend",
        "the Ingress keeps its port"
    );
    assert!(
        proxy
            .wait_for_log(
                &format!("Gateway store/edge: spec.listeners[0]: port {ingress_port} is an Ingress listener's"),
                Duration::from_secs(5)
            )
            .await,
        "{}",
        proxy.log()
    );
}

/// One gRPC call (`POST /<service>/<method>` over HTTP/2 with prior knowledge) to the proxy:
/// the backend that answered (or `status N`), the HTTP version it was spoken to with, and
/// what it saw.
async fn grpc_call(
    port: u16,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (String, Option<String>, Option<Echoed>) {
    use http_body_util::BodyExt;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2c handshake");
    tokio::spawn(connection);
    let mut request = hyper::Request::post(format!("http://{host}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"\0\0\0\0\0",
        )))
        .expect("request");
    let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
        .await
        .expect("in time")
        .expect("answered");
    let status = response.status().as_u16();
    let version = response
        .headers()
        .get("x-echo-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let echoed = Echoed::parse(&String::from_utf8_lossy(&body));
    let answered = match &echoed {
        Some(echoed) if status == 200 => echoed.backend.clone(),
        _ => format!("status {status}"),
    };
    (answered, version, echoed)
}

/// GRPCExactMethodMatching, GRPCRouteHeaderMatching and GRPCRouteListenerHostnameMatching's
/// shape: service and method matches, header matches, gRPC (HTTP/2) to the backends, and an
/// HTTPRoute that shares a GRPCRoute's hostname on one listener losing it to the older.
#[tokio::test(flavor = "multi_thread")]
async fn grpc_routes_match_services_methods_and_headers_and_speak_http2_to_backends() {
    let grpc = format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\n\
         metadata: {{name: a-grpc, namespace: store}}\n\
         spec:\n  parentRefs: [{{name: same-namespace}}]\n  hostnames: [grpc.example]\n  rules:\n\
         \x20 - matches: [{{method: {{service: grpc.conformance.Echo, method: Echo}}}}]\n    backendRefs: {V1}\n\
         \x20 - matches: [{{method: {{service: grpc.conformance.Echo}}}}]\n    backendRefs: {V2}\n\
         \x20 - matches: [{{method: {{method: EchoTwo}}}}]\n    backendRefs: {V3}\n\
         \x20 - matches: [{{method: {{type: RegularExpression, service: 'other\\..*', method: 'Get[0-9]+'}}}}]\n    backendRefs: {V3}\n\
         \x20 - matches: [{{headers: [{{name: version, value: two}}]}}]\n    backendRefs: {V1}\n\
         \x20   filters: [{{type: RequestHeaderModifier, requestHeaderModifier: {{set: [{{name: x-via, value: grpc}}]}}}}]\n"
    );
    // Same namespace, later by name: sharing grpc.example, it loses the listener (the spec
    // accepts exactly one of the two routes there), so other.example is not served either.
    let http = route(
        "store",
        "z-http",
        "same-namespace",
        &["grpc.example", "other.example"],
        &format!("  - backendRefs: {V3}\n"),
    );
    let fixture = Fixture::start(&format!("{grpc}{http}")).await;
    let port = fixture.port;
    // (path, headers, expected backend or "status N").
    type GrpcCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[GrpcCase<'_>] = &[
        ("/grpc.conformance.Echo/Echo", &[], "infra-backend-v1"),
        ("/grpc.conformance.Echo/EchoTwo", &[], "infra-backend-v2"),
        ("/grpc.conformance.Echo/Other", &[], "infra-backend-v2"),
        ("/another.Service/EchoTwo", &[], "infra-backend-v3"),
        ("/other.pkg.Svc/Get42", &[], "infra-backend-v3"),
        ("/other.pkg.Svc/Getx", &[], "status 404"),
        (
            "/another.Service/Echo",
            &[("version", "two")],
            "infra-backend-v1",
        ),
        ("/another.Service/Echo", &[], "status 404"),
    ];
    let mut wrong = Vec::new();
    for (path, headers, expected) in cases {
        let (answered, version, echoed) = grpc_call(port, "grpc.example", path, headers).await;
        if answered != *expected {
            wrong.push(format!(
                "{path} {headers:?}: {answered}, expected {expected}"
            ));
            continue;
        }
        if let Some(echoed) = echoed {
            assert_eq!(
                version.as_deref(),
                Some("HTTP/2.0"),
                "{path}: gRPC upstream"
            );
            assert_eq!(echoed.path, *path);
            assert_eq!(echoed.header("te").as_deref(), Some("trailers"), "{path}");
            assert_eq!(
                echoed.header("content-type").as_deref(),
                Some("application/grpc")
            );
            let via = echoed.header("x-via");
            assert_eq!(
                via.is_some(),
                !headers.is_empty(),
                "{path}: the rule's filter only"
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\nlog:\n{}",
        wrong.join("\n"),
        fixture.proxy.log()
    );
    // An HTTP/1.1 request to grpc.example reaches the GRPCRoute (no rule matches a plain
    // GET); the HTTPRoute serves neither of its hostnames.
    assert_eq!(
        get(port, "grpc.example", "/").await.answered_by(),
        "status 404"
    );
    assert_eq!(
        get(port, "other.example", "/").await.answered_by(),
        "status 404"
    );
    assert!(
        fixture
            .proxy
            .log()
            .contains("HTTPRoute store/z-http: spec.hostnames: an older GRPCRoute"),
        "the lost hostname is reported; log:\n{}",
        fixture.proxy.log()
    );
    // Without the GRPCRoute, the HTTPRoute serves grpc.example again.
    fixture
        .change_routes(&http, || async {
            get(port, "grpc.example", "/").await.answered_by() == "infra-backend-v3"
        })
        .await;
    assert_eq!(
        get(port, "other.example", "/").await.answered_by(),
        "infra-backend-v3"
    );
}

/// What curl gets from `https://host:port/path` on 127.0.0.1, trusting only `ca`.
fn curl_https(
    fixture: &Fixture,
    ca: &portcullis_testkit::test_ca::TestCa,
    host: &str,
    port: u16,
    path: &str,
) -> String {
    let ca_file = fixture.dir.path().join("ca.pem.txt");
    std::fs::write(&ca_file, &ca.pem).expect("write ca");
    let output = std::process::Command::new("curl")
        .args([
            "-s",
            "--cacert",
            ca_file.to_str().expect("utf-8"),
            "--resolve",
            &format!("{host}:{port}:127.0.0.1"),
            &format!("https://{host}:{port}{path}"),
        ])
        .output()
        .expect("curl installed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A TLS server of its own (the proxy never sees its key) for `host`, answering every request
/// with `tls-backend <name>`.
async fn tls_backend(
    ca: &portcullis_testkit::test_ca::TestCa,
    host: &str,
    name: &'static str,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (cert, key) = ca.certificate(host, name);
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert")],
        PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
    )
    .expect("config");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut head = [0u8; 4096];
                let _ = tls.read(&mut head).await;
                let body = format!("tls-backend {name}\n");
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, task)
}

/// TLSRoute on a TLS listener in Passthrough mode (TLSRouteSimpleSameNamespace's shape): the
/// ClientHello's SNI picks the backend, which terminates TLS with a certificate the proxy does
/// not have; wildcards span labels; no route, an invalid backend or bytes that are not TLS
/// close the connection and leave the port serving.
#[tokio::test(flavor = "multi_thread")]
async fn tls_routes_pass_streams_through_by_sni() {
    let ca = portcullis_testkit::test_ca::ca();
    let (secure, _secure_task) = tls_backend(&ca, "secure.example", "secure-backend").await;
    let (wild, _wild_task) = tls_backend(&ca, "a.b.wild.example", "wild-backend").await;
    let tls_port = free_port().port();
    let objects = format!(
        "{}{}---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
         metadata: {{name: tls, namespace: store}}\n\
         spec:\n  gatewayClassName: portcullis\n  listeners:\n\
         \x20 - {{name: tls, port: {tls_port}, protocol: TLS, tls: {{mode: Passthrough}}}}\n\
         ---\napiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\n\
         metadata: {{name: secure, namespace: store}}\n\
         spec:\n  parentRefs: [{{name: tls}}]\n  hostnames: [secure.example]\n\
         \x20 rules: [{{backendRefs: [{{name: secure, port: 8080}}]}}]\n\
         ---\napiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\n\
         metadata: {{name: wild, namespace: store}}\n\
         spec:\n  parentRefs: [{{name: tls}}]\n  hostnames: ['*.wild.example']\n\
         \x20 rules: [{{backendRefs: [{{name: wild, port: 8080}}]}}]\n\
         ---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TLSRoute\n\
         metadata: {{name: broken, namespace: store}}\n\
         spec:\n  parentRefs: [{{name: tls}}]\n  hostnames: [broken.example]\n\
         \x20 rules: [{{backendRefs: [{{name: missing, port: 8080}}]}}]\n",
        service("store", "secure", secure),
        service("store", "wild", wild),
    );
    let fixture = Fixture::start(&objects).await;
    let subject = |sni: &'static str| {
        tokio::task::spawn_blocking(move || {
            portcullis_testkit::test_ca::served_subject(tls_port, sni)
        })
    };
    let open = wait_until(Duration::from_secs(10), || async {
        subject("secure.example")
            .await
            .expect("openssl")
            .contains("secure-backend")
    })
    .await;
    assert!(
        open,
        "passthrough never served; log:\n{}",
        fixture.proxy.log()
    );
    assert!(
        subject("a.b.wild.example")
            .await
            .expect("openssl")
            .contains("wild-backend")
    );
    for closed in ["unknown.example", "wild.example", "broken.example"] {
        assert_eq!(subject(closed).await.expect("openssl"), "", "{closed}");
    }
    // Not TLS at all: the connection is closed, the port keeps serving.
    assert!(
        send(tls_port, "GET", "secure.example", "/", &[])
            .await
            .is_none()
    );
    // The whole session is the backend's: curl verifies its certificate against the CA.
    let body = curl_https(&fixture, &ca, "secure.example", tls_port, "/");
    assert_eq!(
        body,
        "tls-backend secure-backend\n",
        "log:\n{}",
        fixture.proxy.log()
    );
    assert!(
        fixture
            .proxy
            .log()
            .contains("TLSRoute store/broken: spec.rules[0].backendRefs[0]: Service store/missing not found; its share of connections is closed"),
        "the invalid backend is reported; log:\n{}",
        fixture.proxy.log()
    );
}

/// BackendTLSPolicy (BackendTLSPolicy conformance's shape): the proxy speaks TLS to a
/// Service's endpoints, sends the policy's hostname as SNI and verifies the certificate against
/// the policy's CA (from a ConfigMap) and hostname or subjectAltNames; a certificate that fails
/// is a 502, a policy whose CA cannot be read a 500: never an unverified connection.
#[tokio::test(flavor = "multi_thread")]
async fn backend_tls_policies_verify_the_backend_and_fail_closed() {
    let ca = portcullis_testkit::test_ca::ca();
    let other_ca = portcullis_testkit::test_ca::ca();
    let (secure, _task) = tls_backend(&ca, "secure.example", "secure-backend").await;
    let config_map = |name: &str, pem: &str| {
        format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: store}}\n\
             data: {{ca.crt: {pem:?}}}\n"
        )
    };
    let policy = |service: &str, config: &str, hostname: &str, sans: &str| {
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\n\
             metadata: {{name: {service}, namespace: store}}\n\
             spec:\n  targetRefs: [{{group: '', kind: Service, name: {service}}}]\n\
             \x20 validation:\n    caCertificateRefs: [{{group: '', kind: ConfigMap, name: {config}}}]\n\
             \x20   hostname: {hostname}\n{sans}"
        )
    };
    let mut objects = config_map("backend-ca", &ca.pem) + &config_map("other-ca", &other_ca.pem);
    let cases = [
        ("good", "backend-ca", "secure.example", ""),
        ("wrong-name", "backend-ca", "other.example", ""),
        ("wrong-ca", "other-ca", "secure.example", ""),
        ("missing-ca", "not-there", "secure.example", ""),
        (
            "by-san",
            "backend-ca",
            "sni.example",
            "    subjectAltNames: [{type: Hostname, hostname: secure.example}]\n",
        ),
    ];
    let mut rules = String::new();
    for (name, config, hostname, sans) in cases {
        objects.push_str(&service("store", name, secure));
        objects.push_str(&policy(name, config, hostname, sans));
        rules.push_str(&format!(
            "  - matches: [{{path: {{type: PathPrefix, value: /{name}}}}}]\n    backendRefs: [{{name: {name}, port: 8080}}]\n"
        ));
    }
    // Without a policy the same backend is spoken to in plain HTTP, which it refuses.
    objects.push_str(&service("store", "plain", secure));
    rules.push_str("  - matches: [{path: {type: PathPrefix, value: /plain}}]\n    backendRefs: [{name: plain, port: 8080}]\n");
    objects.push_str(&route(
        "store",
        "verified",
        "same-namespace",
        &["tls.example"],
        &rules,
    ));
    let fixture = Fixture::start(&objects).await;
    let port = fixture.port;
    let answers = [
        ("/good", "200 tls-backend secure-backend"),
        ("/by-san", "200 tls-backend secure-backend"),
        ("/wrong-name", "502"),
        ("/wrong-ca", "502"),
        ("/missing-ca", "500"),
        ("/plain", "502"),
    ];
    let mut wrong = Vec::new();
    for (path, expected) in answers {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let (status, _, body) = ingress_process::send(addr, "GET", "tls.example", path, &[])
            .await
            .expect("answered");
        let got = if status == 200 {
            format!("200 {}", body.trim_end())
        } else {
            status.to_string()
        };
        if got != expected {
            wrong.push(format!("{path}: {got}, expected {expected}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\nlog:\n{}",
        wrong.join("\n"),
        fixture.proxy.log()
    );
    assert!(
        fixture.proxy.log().contains(
            "BackendTLSPolicy store/missing-ca: spec.validation.caCertificateRefs[0]: ConfigMap store/not-there with key ca.crt not found"
        ),
        "log:\n{}",
        fixture.proxy.log()
    );
}

/// HTTPRouteRequestMirror, HTTPRouteRequestMultipleMirrors and
/// HTTPRouteRequestPercentageMirror's shape: copies (body included) go to the mirrors, their
/// answers are dropped, a share is exact, and a slow or dead mirror never holds up the request.
#[tokio::test(flavor = "multi_thread")]
async fn request_mirrors_copy_requests_without_slowing_them() {
    let mirror = EchoBackend::start("mirror").await;
    let half = EchoBackend::start("half").await;
    // A mirror that takes connections and never answers.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hole_addr = hole.local_addr().expect("addr");
    let _hole = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = hole.accept().await {
            held.push(stream);
        }
    });
    let mut objects = service("store", "mirror", mirror.addr);
    objects.push_str(&service("store", "half", half.addr));
    objects.push_str(&service("store", "hole", hole_addr));
    let mirror_to = |service: &str, share: &str| {
        format!(
            "    - type: RequestMirror\n      requestMirror: {{backendRef: {{name: {service}, port: 8080}}{share}}}\n"
        )
    };
    let rules = format!(
        "  - matches: [{{path: {{type: PathPrefix, value: /copied}}}}]\n    filters:\n{}{}    backendRefs: {V1}\n\
         \x20 - matches: [{{path: {{type: PathPrefix, value: /half}}}}]\n    filters:\n{}    backendRefs: {V1}\n",
        mirror_to("mirror", ""),
        mirror_to("hole", ""),
        mirror_to("half", ", percent: 50"),
    );
    objects.push_str(&route(
        "store",
        "mirrored",
        "same-namespace",
        &["mirror.example"],
        &rules,
    ));
    let fixture = Fixture::start(&objects).await;
    let port = fixture.port;
    assert_eq!(
        get(port, "mirror.example", "/copied/get?q=1")
            .await
            .answered_by(),
        "infra-backend-v1"
    );
    // A body of many frames, written in parts.
    let body = "x".repeat(200_000);
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let head = format!(
            "POST /copied/post HTTP/1.1\r\nHost: mirror.example\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        for part in body.as_bytes().chunks(16 * 1024) {
            stream.write_all(part).await.expect("body");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    // Every /copied request also goes to the mirror that never answers: none waits for it.
    let started = std::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(
            get(port, "mirror.example", "/copied/again")
                .await
                .answered_by(),
            "infra-backend-v1"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let copies = wait_until(Duration::from_secs(10), || async {
        mirror.received().len() >= 7
    })
    .await;
    assert!(
        copies,
        "mirror got {:?}; log:\n{}",
        mirror.received(),
        fixture.proxy.log()
    );
    let received = mirror.received();
    assert!(
        received
            .iter()
            .any(|(m, p, b)| m == "GET" && p == "/copied/get?q=1" && b.is_empty())
    );
    assert!(
        received
            .iter()
            .any(|(m, p, b)| m == "POST" && p == "/copied/post" && *b == body.as_bytes()),
        "the mirrored body is the real one"
    );
    // Exactly half of 20 requests are copied, spread evenly.
    for _ in 0..20 {
        assert_eq!(
            get(port, "mirror.example", "/half").await.answered_by(),
            "infra-backend-v1"
        );
    }
    let halves = wait_until(Duration::from_secs(10), || async {
        half.received().len() >= 10
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        halves && half.received().len() == 10,
        "{}",
        half.received().len()
    );
}

/// HTTPRouteRequestTimeout beside HTTPRouteBackendTimeout: `timeouts.request` bounds the whole
/// exchange (a slow upload included), `timeouts.backendRequest` only the wait for the backend
/// once the request is sent.
#[tokio::test(flavor = "multi_thread")]
async fn the_request_timeout_bounds_the_whole_exchange_the_backend_timeout_one_try() {
    let rules = format!(
        "  - matches: [{{path: {{type: PathPrefix, value: /request}}}}]\n    timeouts: {{request: 600ms}}\n    backendRefs: {V1}\n\
         \x20 - matches: [{{path: {{type: PathPrefix, value: /backend}}}}]\n    timeouts: {{backendRequest: 600ms}}\n    backendRefs: {V1}\n"
    );
    let fixture = Fixture::start(&route(
        "store",
        "timeouts",
        "same-namespace",
        &["t.example"],
        &rules,
    ))
    .await;
    let port = fixture.port;
    assert_eq!(
        get(port, "t.example", "/request?delay_ms=1500")
            .await
            .status,
        504
    );
    assert_eq!(
        get(port, "t.example", "/request?delay_ms=10").await.status,
        200
    );
    assert_eq!(
        get(port, "t.example", "/backend?delay_ms=1500")
            .await
            .status,
        504
    );
    // An upload taking about 1.2 s, then a prompt backend.
    let slow_upload = |path: &'static str| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: t.example\r\nContent-Length: 4\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        for byte in [b"a", b"b", b"c", b"d"] {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if stream.write_all(byte).await.is_err() {
                break;
            }
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer).await;
        answer.lines().next().unwrap_or("").to_string()
    };
    assert_eq!(
        slow_upload("/request").await,
        "HTTP/1.1 504 Gateway Timeout"
    );
    assert_eq!(slow_upload("/backend").await, "HTTP/1.1 200 OK");
}

/// HTTPRouteBackendRequestHeaderModification: header modifiers on a backendRef reach that
/// backend's requests (and answers) only.
#[tokio::test(flavor = "multi_thread")]
async fn header_filters_on_a_backend_ref_apply_to_that_backend_only() {
    let rules = "  - backendRefs:\n\
         \x20   - name: infra-backend-v1\n      port: 8080\n      filters:\n\
         \x20     - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-backend, value: v1}], remove: [x-drop]}}\n\
         \x20     - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-answered-by, value: v1}]}}\n\
         \x20   - name: infra-backend-v2\n      port: 8080\n      filters:\n\
         \x20     - {type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-backend, value: v2}]}}\n";
    let fixture = Fixture::start(&route(
        "store",
        "per-backend",
        "same-namespace",
        &["b.example"],
        rules,
    ))
    .await;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let reply = send(fixture.port, "GET", "b.example", "/", &[("x-drop", "1")])
            .await
            .expect("answered");
        let echoed = reply.echoed.as_ref().expect("an echo");
        let backend = echoed.backend.clone();
        match backend.as_str() {
            "infra-backend-v1" => {
                assert_eq!(echoed.header("x-backend").as_deref(), Some("v1"));
                assert_eq!(echoed.header("x-drop"), None);
                assert_eq!(reply.header("x-answered-by").as_deref(), Some("v1"));
            }
            "infra-backend-v2" => {
                assert_eq!(echoed.header("x-backend").as_deref(), Some("v2"));
                assert_eq!(echoed.header("x-drop").as_deref(), Some("1"));
                assert_eq!(reply.header("x-answered-by"), None);
            }
            other => panic!("answered by {other}"),
        }
        seen.insert(backend);
    }
    assert_eq!(seen.len(), 2, "both backends answered");
}
