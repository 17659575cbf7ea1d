//! The real `portcullis ingress` binary serving Ingresses written for ingress-nginx, with their
//! `nginx.ingress.kubernetes.io/*` annotations, against real backends on loopback: each
//! annotation group behaves as ingress-nginx's documentation and e2e tests show (the cases
//! name the e2e test they follow), and the `nginx` IngressClass is served with flags alone.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_testkit::ingress_process::Portcullis;
use tokio::net::TcpListener;

/// A backend on 127.0.0.1 answering `<name> <method> <path?query>` and then each request
/// header as `name: value` lines; `/slow` answers after 3 s.
async fn echo(name: &'static str) -> SocketAddr {
    echo_on(name, [127, 0, 0, 1], 0).await
}

async fn echo_answer(name: &str, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(String::new(), |p| p.as_str().to_owned());
    if target.starts_with("/slow") {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let mut text = format!("{name} {} {target}\n", request.method());
    for (header, value) in request.headers() {
        text.push_str(&format!("{header}: {}\n", value.to_str().unwrap_or("?")));
    }
    let length = request
        .into_body()
        .collect()
        .await
        .map_or(0, |b| b.to_bytes().len());
    text.push_str(&format!("body: {length}\n"));
    let mut response = Response::new(Full::new(Bytes::from(text)));
    // `/status/NNN` answers that status.
    if let Some(code) = target
        .split('?')
        .next()
        .and_then(|path| path.strip_prefix("/status/"))
        .and_then(|c| c.parse::<u16>().ok())
        .and_then(|c| hyper::StatusCode::from_u16(c).ok())
    {
        *response.status_mut() = code;
    }
    response
}

/// Services `main` and `canary` (namespace `store`), each on its own echo backend.
fn endpoints(main: SocketAddr, canary: SocketAddr) -> String {
    let mut out = String::new();
    for (service, addr) in [("main", main), ("canary", canary)] {
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {service}, namespace: store}}\n\
             spec: {{ports: [{{name: http, port: 80}}]}}\n\
             ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
             metadata: {{name: {service}-1, namespace: store, labels: {{kubernetes.io/service-name: {service}}}}}\n\
             addressType: IPv4\nports: [{{name: http, port: {}}}]\n\
             endpoints: [{{addresses: [\"{}\"], conditions: {{ready: true}}}}]\n",
            addr.port(),
            addr.ip()
        ));
    }
    out
}

/// An Ingress of class `class` named `name` on `host`, with `annotations` (YAML lines) and
/// `paths` (`(path, pathType, service)`).
fn ingress(
    class: &str,
    name: &str,
    annotations: &[(&str, &str)],
    host: &str,
    paths: &[(&str, &str, &str)],
) -> String {
    let mut out = format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: store\n"
    );
    if !annotations.is_empty() {
        out.push_str("  annotations:\n");
        for (key, value) in annotations {
            out.push_str(&format!("    {key}: {value:?}\n"));
        }
    }
    out.push_str(&format!(
        "spec:\n  ingressClassName: {class}\n  rules:\n  - host: {host}\n    http:\n      paths:\n"
    ));
    for (path, kind, service) in paths {
        out.push_str(&format!(
            "      - {{path: {path:?}, pathType: {kind}, backend: {{service: {{name: {service}, port: {{name: http}}}}}}}}\n"
        ));
    }
    out
}

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// An Ingress of our class named `name` on `host`, serving `/` from `service`.
fn at_root(name: &str, annotations: &[(&str, &str)], host: &str, service: &str) -> String {
    ingress(
        "portcullis",
        name,
        annotations,
        host,
        &[("/", "Prefix", service)],
    )
}

struct Fixture {
    proxy: Portcullis,
    _dir: tempfile::TempDir,
}

/// Portcullis serving `objects` (plus the two Services) with `flags`, behind an IngressClass
/// `portcullis`.
async fn serve(objects: &[String], flags: &[&str]) -> Fixture {
    let (main, canary) = (echo("main").await, echo("canary").await);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::from(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: portcullis}\n\
         spec: {controller: portcullis.dev/ingress-controller}\n",
    );
    text.push_str(&endpoints(main, canary));
    for object in objects {
        text.push_str(object);
    }
    std::fs::write(dir.path().join("objects.yaml"), text).expect("write");
    let proxy = Portcullis::start(dir.path(), flags).await;
    Fixture { proxy, _dir: dir }
}

/// What came back.
struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// One request to the proxy with this Host, path and extra headers.
async fn send(
    proxy: SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{proxy}{path}"))
        .header("host", host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(body))).expect("request");
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("answered in time")
        .expect("answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get(proxy: SocketAddr, host: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    send(proxy, "GET", host, path, headers, Vec::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrite_target_app_root_and_upstream_vhost() {
    let rewrite_target = format!("{NGINX}/rewrite-target");
    let prefix = format!("{NGINX}/x-forwarded-prefix");
    let app_root = format!("{NGINX}/app-root");
    let vhost = format!("{NGINX}/upstream-vhost");
    let f = serve(
        &[
            // docs/examples/rewrite: /something(/|$)(.*) -> /$2
            ingress(
                "portcullis",
                "rewrite",
                &[(&rewrite_target, "/$2"), (&prefix, "/something")],
                "rewrite.bar.com",
                &[("/something(/|$)(.*)", "ImplementationSpecific", "main")],
            ),
            // e2e rewrite.go: another Ingress's plain path on that host becomes a regex too.
            ingress(
                "portcullis",
                "plain",
                &[],
                "rewrite.bar.com",
                &[("/foo", "Prefix", "canary")],
            ),
            at_root(
                "approot",
                &[(&app_root, "/app1"), (&vhost, "internal.example")],
                "approot.bar.com",
                "main",
            ),
        ],
        &[],
    )
    .await;
    let proxy = f.proxy.http;
    for (path, upstream) in [
        ("/something", "GET /"),
        ("/something/", "GET /"),
        ("/something/new", "GET /new"),
        ("/SomeThing/new?x=1", "GET /new?x=1"),
    ] {
        let answer = get(proxy, "rewrite.bar.com", path, &[]).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert!(
            answer.body.starts_with(&format!("main {upstream}\n")),
            "{path}: {}",
            answer.body
        );
        assert!(
            answer.body.contains("x-forwarded-prefix: /something\n"),
            "{}",
            answer.body
        );
    }
    // A regex host matches /foo as ^/foo, case-insensitively: /foobar and /FOO too.
    for path in ["/foo", "/foobar", "/FOO/x"] {
        let answer = get(proxy, "rewrite.bar.com", path, &[]).await;
        assert!(
            answer.body.starts_with(&format!("canary GET {path}\n")),
            "{path}: {}",
            answer.body
        );
        assert!(
            !answer.body.contains("x-forwarded-prefix"),
            "{}",
            answer.body
        );
    }
    assert_eq!(
        get(proxy, "rewrite.bar.com", "/other", &[]).await.status,
        404
    );

    // e2e approot.go: GET / answers 302 to http://<host>/app1, the query dropped.
    let port = proxy.port();
    let host = format!("approot.bar.com:{port}");
    let answer = get(proxy, &host, "/?a=1", &[]).await;
    assert_eq!(answer.status, 302);
    assert_eq!(answer.header("location"), format!("http://{host}/app1"));
    // Other paths are served, with upstream-vhost as the Host upstream (X-Forwarded-Host kept).
    let answer = get(proxy, &host, "/app1", &[]).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.body.contains("\nhost: internal.example\n"),
        "{}",
        answer.body
    );
    assert!(
        answer
            .body
            .contains(&format!("\nx-forwarded-host: {host}\n")),
        "{}",
        answer.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_as_ingress_nginx_answers_them() {
    let permanent = format!("{NGINX}/permanent-redirect");
    let code = format!("{NGINX}/permanent-redirect-code");
    let temporal = format!("{NGINX}/temporal-redirect");
    let force = format!("{NGINX}/force-ssl-redirect");
    let f = serve(
        &[
            ingress(
                "portcullis",
                "moved",
                &[(&permanent, "http://redirect.example.com")],
                "moved.test",
                &[("/something", "Prefix", "main")],
            ),
            at_root(
                "coded",
                &[(&permanent, "https://new.example.com/x"), (&code, "308")],
                "coded.test",
                "main",
            ),
            at_root(
                "temporal",
                &[
                    (&temporal, "https://down.example.com"),
                    (&permanent, "https://no.example.com"),
                ],
                "temporal.test",
                "main",
            ),
            at_root("forced", &[(&force, "true")], "forced.test", "main"),
        ],
        &[],
    )
    .await;
    let proxy = f.proxy.http;
    // e2e redirect.go: 301 with exactly the URL, nothing appended.
    let answer = get(proxy, "moved.test", "/something/else?q=1", &[]).await;
    assert_eq!(answer.status, 301);
    assert_eq!(answer.header("location"), "http://redirect.example.com");
    // Paths the Ingress does not have are not redirected.
    assert_eq!(get(proxy, "moved.test", "/", &[]).await.status, 404);
    let answer = get(proxy, "coded.test", "/a", &[]).await;
    assert_eq!(
        (answer.status, answer.header("location")),
        (308, "https://new.example.com/x")
    );
    let answer = get(proxy, "temporal.test", "/", &[]).await;
    assert_eq!(
        (answer.status, answer.header("location")),
        (302, "https://down.example.com")
    );
    // e2e forcesslredirect.go: 308 to https without spec.tls.
    let answer = get(proxy, "forced.test", "/a?b=1", &[]).await;
    assert_eq!(answer.status, 308);
    assert_eq!(answer.header("location"), "https://forced.test/a?b=1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nginx_class_is_served_with_flags_alone_with_its_body_size_and_timeouts() {
    let body_size = format!("{NGINX}/proxy-body-size");
    let read_timeout = format!("{NGINX}/proxy-read-timeout");
    let class = "---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\n\
                 metadata: {name: nginx}\nspec: {controller: k8s.io/ingress-nginx}\n"
        .to_owned();
    let legacy = ingress(
        "nginx",
        "legacy",
        &[],
        "legacy.test",
        &[("/", "Prefix", "main")],
    )
    .replace(
        "  namespace: store\n",
        "  namespace: store\n  annotations:\n    kubernetes.io/ingress.class: nginx\n",
    )
    .replace("  ingressClassName: nginx\n", "");
    let f = serve(
        &[
            class,
            ingress(
                "nginx",
                "default-limit",
                &[],
                "limits.test",
                &[("/", "Prefix", "main")],
            ),
            ingress(
                "nginx",
                "bigger",
                &[(&body_size, "8m"), (&read_timeout, "1")],
                "bigger.test",
                &[("/", "Prefix", "main")],
            ),
            ingress(
                "nginx",
                "unlimited",
                &[(&body_size, "0")],
                "unlimited.test",
                &[("/", "Prefix", "main")],
            ),
            legacy,
        ],
        &[
            "--ingress-class",
            "nginx",
            "--controller-name",
            "k8s.io/ingress-nginx",
        ],
    )
    .await;
    let proxy = f.proxy.http;
    assert!(
        get(proxy, "legacy.test", "/", &[])
            .await
            .body
            .starts_with("main GET /")
    );
    let two_mib = vec![b'x'; 2 << 20];
    // ingress-nginx's 1m default for the nginx class; 413 before anything reaches the backend.
    let answer = send(proxy, "POST", "limits.test", "/", &[], two_mib.clone()).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    let answer = send(proxy, "POST", "limits.test", "/", &[], vec![b'x'; 1 << 20]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = send(proxy, "POST", "bigger.test", "/", &[], two_mib.clone()).await;
    assert!(answer.body.contains("body: 2097152\n"), "{}", answer.body);
    let answer = send(
        proxy,
        "POST",
        "unlimited.test",
        "/",
        &[],
        vec![b'x'; 9 << 20],
    )
    .await;
    assert!(answer.body.contains("body: 9437184\n"), "{}", answer.body);
    // proxy-read-timeout: 1 s, the backend takes 3.
    let answer = get(proxy, "bigger.test", "/slow", &[]).await;
    assert_eq!(answer.status, 504, "{}", answer.body);
    assert_eq!(get(proxy, "limits.test", "/slow", &[]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaries_by_header_cookie_and_weight() {
    let canary = |extra: &[(&str, &str)]| {
        let mut all = vec![(format!("{NGINX}/canary"), "true".to_owned())];
        all.extend(
            extra
                .iter()
                .map(|(k, v)| (format!("{NGINX}/{k}"), (*v).to_owned())),
        );
        all
    };
    let by_header = canary(&[
        ("canary-by-header", "CanaryByHeader"),
        ("canary-by-cookie", "Canary"),
    ]);
    let by_value = canary(&[
        ("canary-by-header", "X-Canary"),
        ("canary-by-header-value", "DoCanary"),
    ]);
    let by_weight = canary(&[("canary-weight", "30")]);
    let with = |name: &str, pairs: &[(String, String)], host: &str| {
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        ingress(
            "portcullis",
            name,
            &refs,
            host,
            &[("/", "Prefix", "canary")],
        )
    };
    let f = serve(
        &[
            at_root("main-a", &[], "a.test", "main"),
            at_root("main-b", &[], "b.test", "main"),
            at_root("main-c", &[], "c.test", "main"),
            with("canary-a", &by_header, "a.test"),
            with("canary-b", &by_value, "b.test"),
            with("canary-c", &by_weight, "c.test"),
            // No main Ingress on this host: ignored, as ingress-nginx ignores it (404).
            with("orphan", &by_weight, "orphan.test"),
        ],
        &[],
    )
    .await;
    let proxy = f.proxy.http;
    let served_by = |answer: Answer| answer.body.split(' ').next().unwrap_or("").to_owned();
    // e2e canary.go "when canaried by header with no value".
    for (headers, want) in [
        (vec![("CanaryByHeader", "always")], "canary"),
        (vec![("CanaryByHeader", "never")], "main"),
        (vec![("CanaryByHeader", "other")], "main"),
        (vec![], "main"),
        // Header before cookie: "never" wins over the cookie.
        (
            vec![("CanaryByHeader", "never"), ("cookie", "Canary=always")],
            "main",
        ),
        (vec![("cookie", "a=b; Canary=always")], "canary"),
        (vec![("cookie", "Canary=never")], "main"),
    ] {
        let answer = get(proxy, "a.test", "/", &headers).await;
        assert_eq!(served_by(answer), want, "{headers:?}");
    }
    // "with value": only the value routes to the canary; always and never are plain values.
    for (value, want) in [
        ("DoCanary", "canary"),
        ("always", "main"),
        ("never", "main"),
    ] {
        let answer = get(proxy, "b.test", "/", &[("X-Canary", value)]).await;
        assert_eq!(served_by(answer), want, "{value}");
    }
    // Weight 30 of 100: exactly 30 of every 100 requests.
    let mut to_canary = 0;
    for _ in 0..100 {
        if served_by(get(proxy, "c.test", "/", &[]).await) == "canary" {
            to_canary += 1;
        }
    }
    assert_eq!(to_canary, 30);
    assert_eq!(get(proxy, "orphan.test", "/", &[]).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_and_source_ranges() {
    let key = |name: &str| format!("{NGINX}/{name}");
    let (enable, origin, allow, deny) = (
        key("enable-cors"),
        key("cors-allow-origin"),
        key("allowlist-source-range"),
        key("denylist-source-range"),
    );
    let f = serve(
        &[
            at_root("any", &[(&enable, "true")], "any.test", "main"),
            at_root(
                "listed",
                &[
                    (&enable, "true"),
                    (&origin, "https://app.example, http://*.example.com:8080"),
                ],
                "listed.test",
                "main",
            ),
            at_root("office", &[(&allow, "10.0.0.0/8")], "office.test", "main"),
            at_root("local", &[(&allow, "127.0.0.0/8")], "local.test", "main"),
            at_root(
                "denied",
                &[(&allow, "127.0.0.0/8"), (&deny, "127.0.0.1")],
                "denied.test",
                "main",
            ),
            at_root(
                "broken",
                &[(&allow, "10.0.0.0/8, office")],
                "broken.test",
                "main",
            ),
        ],
        &[],
    )
    .await;
    let proxy = f.proxy.http;
    // e2e cors.go: enable-cors alone answers every request with ACAO *, no Origin needed.
    let answer = get(proxy, "any.test", "/", &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), "*");
    assert_eq!(answer.header("access-control-allow-credentials"), "true");
    assert_eq!(answer.header("access-control-max-age"), "1728000");
    // A preflight is answered here (204) and never reaches the backend.
    let preflight = send(
        proxy,
        "OPTIONS",
        "listed.test",
        "/",
        &[("origin", "https://app.example")],
        Vec::new(),
    )
    .await;
    assert_eq!(preflight.status, 204, "{}", preflight.body);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        "https://app.example"
    );
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        "GET, PUT, POST, DELETE, PATCH, OPTIONS"
    );
    assert!(preflight.body.is_empty());
    for (origin, allowed) in [
        ("http://shop.example.com:8080", true),
        ("http://a.b.example.com:8080", false),
        ("http://shop.example.com", false),
        ("https://evil.example", false),
    ] {
        let answer = get(proxy, "listed.test", "/", &[("origin", origin)]).await;
        assert!(
            answer.body.starts_with("main GET /"),
            "{origin}: proxied either way"
        );
        let acao = answer.header("access-control-allow-origin");
        assert_eq!(acao == origin, allowed, "{origin}: {acao:?}");
        assert_eq!(acao.is_empty(), !allowed, "{origin}");
    }
    // An OPTIONS from an origin not allowed is proxied, as ingress-nginx does.
    let answer = send(
        proxy,
        "OPTIONS",
        "listed.test",
        "/",
        &[("origin", "https://evil.example")],
        Vec::new(),
    )
    .await;
    assert!(answer.body.starts_with("main OPTIONS /"), "{}", answer.body);

    // Source ranges on the client address (here 127.0.0.1).
    assert_eq!(get(proxy, "office.test", "/", &[]).await.status, 403);
    assert_eq!(get(proxy, "local.test", "/", &[]).await.status, 200);
    assert_eq!(get(proxy, "denied.test", "/", &[]).await.status, 403);
    // A range that is not one: not served at all rather than served open.
    assert_eq!(get(proxy, "broken.test", "/", &[]).await.status, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_snippets_are_typed_edits_and_anything_else_is_not_served() {
    let snippet = format!("{NGINX}/configuration-snippet");
    let headers = "more_set_headers \"X-Frame-Options: DENY\";\nproxy_set_header X-Tenant blue;\nproxy_set_header User-Agent \"\";\n";
    let f = serve(
        &[
            at_root("headers", &[(&snippet, headers)], "headers.test", "main"),
            at_root(
                "nightmare",
                &[(&snippet, "content_by_lua_block { ngx.say('pwned') }")],
                "nightmare.test",
                "main",
            ),
            at_root("neighbour", &[], "neighbour.test", "main"),
        ],
        &[],
    )
    .await;
    let proxy = f.proxy.http;
    let answer = get(proxy, "headers.test", "/", &[("user-agent", "curl/8")]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-frame-options"), "DENY");
    assert!(
        answer.body.contains("\nx-tenant: blue\n"),
        "{}",
        answer.body
    );
    assert!(!answer.body.contains("user-agent"), "{}", answer.body);
    let answer = get(proxy, "nightmare.test", "/", &[]).await;
    assert_eq!(answer.status, 503);
    assert!(!answer.body.contains("pwned"));
    assert_eq!(get(proxy, "neighbour.test", "/", &[]).await.status, 200);
}

/// Service `pair` in namespace `store` with these endpoints.
fn pair(endpoints: &[SocketAddr]) -> String {
    let list: Vec<String> = endpoints
        .iter()
        .map(|a| {
            format!(
                "{{addresses: [\"{}\"], conditions: {{ready: true}}}}",
                a.ip()
            )
        })
        .collect();
    let port = endpoints.first().map_or(80, SocketAddr::port);
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata: {{name: pair, namespace: store}}\n\
         spec: {{ports: [{{name: http, port: 80}}]}}\n\
         ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
         metadata: {{name: pair-1, namespace: store, labels: {{kubernetes.io/service-name: pair}}}}\n\
         addressType: IPv4\nports: [{{name: http, port: {port}}}]\nendpoints: [{}]\n",
        list.join(", ")
    )
}

/// An echo backend named `name` (see [`echo`]) on `ip` and `port`.
async fn echo_on(name: &'static str, ip: [u8; 4], port: u16) -> SocketAddr {
    serve_on(ip, port, move |request| echo_answer(name, request)).await
}

/// Serves `answer` over HTTP/1.1 on `ip` and `port` (0: any free one).
async fn serve_on<F, Fut>(ip: [u8; 4], port: u16, answer: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind((std::net::Ipv4Addr::from(ip), port))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let answer = answer.clone();
                    async move { Ok::<_, Infallible>(answer(request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_affinity_keeps_a_client_on_its_endpoint_until_it_goes() {
    // One EndpointSlice port for both: two loopback addresses, one port.
    let first = echo_on("one", [127, 0, 0, 1], 0).await;
    let second = echo_on("two", [127, 0, 0, 2], first.port()).await;
    let affinity = [
        (format!("{NGINX}/affinity"), "cookie".to_owned()),
        (format!("{NGINX}/session-cookie-name"), "route".to_owned()),
        (format!("{NGINX}/session-cookie-max-age"), "3600".to_owned()),
    ];
    let refs: Vec<(&str, &str)> = affinity
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let sticky = ingress(
        "portcullis",
        "sticky",
        &refs,
        "sticky.test",
        &[("/app", "Prefix", "pair")],
    );
    let f = serve(&[pair(&[first, second]), sticky.clone()], &[]).await;
    let proxy = f.proxy.http;
    let served_by = |answer: &Answer| answer.body.split(' ').next().unwrap_or("").to_owned();

    // Without a cookie: round robin, and each answer sets one.
    let a = get(proxy, "sticky.test", "/app", &[]).await;
    let b = get(proxy, "sticky.test", "/app", &[]).await;
    assert_ne!(served_by(&a), served_by(&b), "{} | {}", a.body, b.body);
    let cookie = a.header("set-cookie").to_owned();
    assert!(cookie.starts_with("route="), "{cookie}");
    assert!(
        cookie.contains("; Path=/app; Max-Age=3600; HttpOnly"),
        "{cookie}"
    );
    let pair_value = cookie.split(';').next().expect("name=value").to_owned();

    // With it: always the same endpoint, and no new cookie.
    for _ in 0..6 {
        let again = get(proxy, "sticky.test", "/app", &[("cookie", &pair_value)]).await;
        assert_eq!(served_by(&again), served_by(&a));
        assert_eq!(again.header("set-cookie"), "");
    }

    // Its endpoint goes: the client moves to the other one and gets a new cookie.
    let remaining = if served_by(&a) == "one" {
        second
    } else {
        first
    };
    let dir = f._dir.path();
    let mut text = std::fs::read_to_string(dir.join("objects.yaml")).expect("read");
    text = text.replace(&pair(&[first, second]), &pair(&[remaining]));
    portcullis_testkit::ingress_process::write_atomically(&dir.join("objects.yaml"), &text);
    let moved =
        portcullis_testkit::ingress_process::wait_until(Duration::from_secs(10), || async {
            served_by(&get(proxy, "sticky.test", "/app", &[("cookie", &pair_value)]).await)
                != served_by(&a)
        })
        .await;
    assert!(moved, "the client moved off the endpoint that left");
    let after = get(proxy, "sticky.test", "/app", &[("cookie", &pair_value)]).await;
    assert_ne!(served_by(&after), served_by(&a));
    assert!(
        after.header("set-cookie").starts_with("route="),
        "a new cookie"
    );
    assert_ne!(after.header("set-cookie"), cookie);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_alias_and_from_to_www_redirect() {
    let alias = format!("{NGINX}/server-alias");
    let www = format!("{NGINX}/from-to-www-redirect");
    let f = serve(
        &[
            at_root("aliased", &[(&alias, "bar")], "foo.test", "main"),
            at_root("www", &[(&www, "true")], "www.brand.test", "canary"),
        ],
        &[],
    )
    .await;
    let proxy = f.proxy.http;
    // e2e alias.go: the alias is served as the host.
    assert!(
        get(proxy, "bar", "/x", &[])
            .await
            .body
            .starts_with("main GET /x")
    );
    assert_eq!(get(proxy, "baz", "/x", &[]).await.status, 404);
    // e2e fromtowwwredirect.go: the bare name answers 308 to the www host, path and query kept.
    let port = proxy.port();
    let answer = get(proxy, &format!("brand.test:{port}"), "/foo?q=1", &[]).await;
    assert_eq!(answer.status, 308);
    assert_eq!(
        answer.header("location"),
        format!("http://www.brand.test:{port}/foo?q=1")
    );
    assert!(
        get(proxy, "www.brand.test", "/foo", &[])
            .await
            .body
            .starts_with("canary GET /foo")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_http_errors_and_default_backend() {
    let errors = format!("{NGINX}/custom-http-errors");
    let default = format!("{NGINX}/default-backend");
    let empty = "---\napiVersion: v1\nkind: Service\nmetadata: {name: empty, namespace: store}\n\
                 spec: {ports: [{name: http, port: 80}]}\n"
        .to_owned();
    let f = serve(
        &[
            empty,
            at_root(
                "pages",
                &[(&errors, "404,503"), (&default, "canary")],
                "pages.test",
                "main",
            ),
            at_root("down", &[(&default, "canary")], "down.test", "empty"),
            at_root("builtin", &[(&errors, "404")], "builtin.test", "main"),
        ],
        &[],
    )
    .await;
    let proxy = f.proxy.http;
    // e2e customhttperrors.go / docs: the listed status is asked of the error backend, at `/`
    // with the query, told what happened.
    let answer = get(
        proxy,
        "pages.test",
        "/status/404?x=1",
        &[("accept", "text/html")],
    )
    .await;
    assert!(
        answer.body.starts_with("canary GET /?x=1\n"),
        "{}",
        answer.body
    );
    for header in [
        "x-code: 404",
        "x-format: text/html",
        "x-original-uri: /status/404?x=1",
        "x-namespace: store",
        "x-ingress-name: pages",
        "x-service-name: main",
        "x-service-port: http",
    ] {
        assert!(
            answer.body.contains(&format!("\n{header}\n")),
            "{header}: {}",
            answer.body
        );
    }
    // Statuses not listed are the upstream's own.
    let answer = get(proxy, "pages.test", "/status/500", &[]).await;
    assert_eq!(answer.status, 500);
    assert!(
        answer.body.starts_with("main GET /status/500"),
        "{}",
        answer.body
    );
    // e2e default_backend.go: a backend with no endpoints is answered by the default backend,
    // with the original path and X-Code 503.
    let answer = get(
        proxy,
        "down.test",
        "/alma/armud",
        &[("x-request-id", "client-id")],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.starts_with("canary GET /alma/armud\n"),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("\nx-code: 503\n"), "{}", answer.body);
    assert!(
        answer.body.contains("\nx-service-name: empty\n"),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("\nx-request-id: client-id\n"),
        "{}",
        answer.body
    );
    // Without default-backend or --default-backend-service: the built-in 404.
    let answer = get(proxy, "builtin.test", "/status/404", &[]).await;
    assert_eq!(answer.status, 404);
    assert!(!answer.body.starts_with("main"), "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_hash_by_keeps_a_key_on_one_endpoint() {
    let first = echo_on("one", [127, 0, 0, 1], 0).await;
    let second = echo_on("two", [127, 0, 0, 2], first.port()).await;
    let hash = format!("{NGINX}/upstream-hash-by");
    let f = serve(
        &[
            pair(&[first, second]),
            at_root(
                "hashed",
                &[(&hash, "$http_x_user_id")],
                "hashed.test",
                "pair",
            ),
        ],
        &[],
    )
    .await;
    let proxy = f.proxy.http;
    let served_by = |answer: Answer| answer.body.split(' ').next().unwrap_or("").to_owned();
    let mut seen = std::collections::HashSet::new();
    for user in 0..16 {
        let user = format!("user-{user}");
        let first_answer = served_by(get(proxy, "hashed.test", "/", &[("x-user-id", &user)]).await);
        for _ in 0..3 {
            let again = served_by(get(proxy, "hashed.test", "/", &[("x-user-id", &user)]).await);
            assert_eq!(again, first_answer, "{user} stays on one endpoint");
        }
        seen.insert(first_answer);
    }
    assert_eq!(seen.len(), 2, "keys spread over both endpoints: {seen:?}");
}

/// A backend on `ip` and `port` that answers every request 503.
async fn failing_on(ip: [u8; 4], port: u16) -> SocketAddr {
    serve_on(ip, port, |_request| async {
        let mut response = Response::new(Full::new(Bytes::from_static(b"failing\n")));
        *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
        response
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_next_upstream_retries_what_nginx_would() {
    let good = echo_on("one", [127, 0, 0, 1], 0).await;
    let bad = failing_on([127, 0, 0, 2], good.port()).await;
    let next = format!("{NGINX}/proxy-next-upstream");
    let tries = format!("{NGINX}/proxy-next-upstream-tries");
    let f = serve(
        &[
            pair(&[good, bad]),
            at_root(
                "retry",
                &[(&next, "error timeout http_503")],
                "retry.test",
                "pair",
            ),
            at_root(
                "retry-all",
                &[(&next, "error http_503 non_idempotent")],
                "all.test",
                "pair",
            ),
            at_root(
                "once",
                &[(&next, "http_503"), (&tries, "1")],
                "once.test",
                "pair",
            ),
        ],
        &[],
    )
    .await;
    let proxy = f.proxy.http;
    let statuses = |host: &'static str, method: &'static str| async move {
        let mut seen = Vec::new();
        for _ in 0..8 {
            seen.push(send(proxy, method, host, "/", &[], Vec::new()).await.status);
        }
        seen
    };
    // GET is idempotent: a 503 goes to the next endpoint.
    assert!(
        statuses("retry.test", "GET")
            .await
            .iter()
            .all(|s| *s == 200)
    );
    // POST is not, unless non_idempotent is set.
    assert!(statuses("retry.test", "POST").await.contains(&503));
    assert!(statuses("all.test", "POST").await.iter().all(|s| *s == 200));
    // One try: nothing is retried.
    assert!(statuses("once.test", "GET").await.contains(&503));
}

/// A listener on `ip` and `port` whose accept queue is full, so a new connect hangs (its SYN
/// is dropped): the endpoint a connect timeout is for.
async fn hanging_on(
    ip: [u8; 4],
    port: u16,
) -> (tokio::net::TcpListener, Vec<tokio::task::JoinHandle<()>>) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind((std::net::Ipv4Addr::from(ip), port).into())
        .expect("bind");
    let listener = socket.listen(0).expect("listen");
    let addr = listener.local_addr().expect("addr");
    // Fill the queue; connects past it hang, so they are left running in the background.
    let fillers = (0..3)
        .map(|_| {
            tokio::spawn(async move {
                if let Ok(stream) = tokio::net::TcpStream::connect(addr).await {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    drop(stream);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    (listener, fillers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_connect_timeout_moves_on_to_the_next_endpoint_sooner() {
    let good = echo_on("good", [127, 0, 0, 1], 0).await;
    let (_hanging, fillers) = hanging_on([127, 0, 0, 3], good.port()).await;
    let hanging = SocketAddr::from(([127, 0, 0, 3], good.port()));
    let connect = format!("{NGINX}/proxy-connect-timeout");
    let f = serve(
        &[
            pair(&[hanging, good]),
            at_root("quick", &[(&connect, "1")], "quick.test", "pair"),
        ],
        // The proxy's own connect timeout is far longer than the route's.
        &["--upstream-connect-timeout", "20s"],
    )
    .await;
    // Round robin starts on each endpoint in turn: half the requests meet the hanging one
    // first and are answered by the next after the route's 1 s, not the proxy's 20 s.
    for _ in 0..4 {
        let started = std::time::Instant::now();
        let answer = get(f.proxy.http, "quick.test", "/", &[]).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body.starts_with("good"), "{}", answer.body);
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "answered after {:?}: the route's connect timeout was not used",
            started.elapsed()
        );
    }
    for filler in fillers {
        filler.abort();
    }
}

/// A backend that reads a request head and then nothing more, holding the connection.
async fn not_reading_body() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_send_timeout_ends_an_upload_the_backend_does_not_take() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stuck = not_reading_body().await;
    let send_timeout = format!("{NGINX}/proxy-send-timeout");
    let f = serve(
        &[
            pair(&[stuck]),
            at_root("upload", &[(&send_timeout, "1")], "upload.test", "pair"),
        ],
        &[],
    )
    .await;
    let stream = tokio::net::TcpStream::connect(f.proxy.http)
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let length: usize = 256 << 20;
    let uploading = tokio::spawn(async move {
        let head = format!(
            "POST /upload HTTP/1.1\r\nhost: upload.test\r\ncontent-length: {length}\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..length / chunk.len() {
            writer.write_all(&chunk).await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let started = std::time::Instant::now();
    let mut answer = vec![0u8; 12];
    tokio::time::timeout(Duration::from_secs(20), reader.read_exact(&mut answer))
        .await
        .expect("answered before the client's body ended")
        .expect("read");
    assert_eq!(
        &answer,
        b"HTTP/1.1 504",
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "504 after {:?}: the route's send timeout was not used (the proxy's is 60 s)",
        started.elapsed()
    );
    uploading.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_next_upstream_timeout_stops_retrying() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let slow_502 = |hits: std::sync::Arc<std::sync::atomic::AtomicUsize>| {
        move |_request: Request<Incoming>| {
            let hits = std::sync::Arc::clone(&hits);
            async move {
                hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1500)).await;
                let mut response = Response::new(Full::new(Bytes::from_static(b"bad\n")));
                *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
                response
            }
        }
    };
    let one = serve_on([127, 0, 0, 1], 0, slow_502(std::sync::Arc::clone(&hits))).await;
    let two = serve_on(
        [127, 0, 0, 2],
        one.port(),
        slow_502(std::sync::Arc::clone(&hits)),
    )
    .await;
    let next = format!("{NGINX}/proxy-next-upstream");
    let within = format!("{NGINX}/proxy-next-upstream-timeout");
    let f = serve(
        &[
            pair(&[one, two]),
            at_root(
                "bounded",
                &[(&next, "error timeout http_502"), (&within, "1")],
                "bounded.test",
                "pair",
            ),
            at_root(
                "unbounded",
                &[(&next, "error timeout http_502")],
                "unbounded.test",
                "pair",
            ),
        ],
        &[],
    )
    .await;
    assert_eq!(
        get(f.proxy.http, "unbounded.test", "/", &[]).await.status,
        502
    );
    assert_eq!(
        hits.swap(0, std::sync::atomic::Ordering::SeqCst),
        2,
        "without a limit both endpoints are asked"
    );
    assert_eq!(
        get(f.proxy.http, "bounded.test", "/", &[]).await.status,
        502
    );
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the first answer came after the 1 s limit: no second endpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balance_ewma_prefers_the_faster_endpoint() {
    let slow = serve_on([127, 0, 0, 1], 0, |request| async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        echo_answer("slow", request).await
    })
    .await;
    let fast = echo_on("fast", [127, 0, 0, 2], slow.port()).await;
    let balance = format!("{NGINX}/load-balance");
    let f = serve(
        &[
            pair(&[slow, fast]),
            at_root("ewma", &[(&balance, "ewma")], "ewma.test", "pair"),
            at_root("turns", &[(&balance, "round_robin")], "turns.test", "pair"),
        ],
        &[],
    )
    .await;
    let count_fast = |host: &'static str| async move {
        let mut fast = 0;
        for _ in 0..30 {
            let answer = get(f.proxy.http, host, "/", &[]).await;
            assert_eq!(answer.status, 200);
            fast += usize::from(answer.body.starts_with("fast"));
        }
        fast
    };
    let by_load = count_fast("ewma.test").await;
    assert!(
        by_load >= 25,
        "ewma sent only {by_load} of 30 to the fast endpoint"
    );
    let in_turn = count_fast("turns.test").await;
    assert_eq!(in_turn, 15, "round_robin alternates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_upstream_sends_to_the_cluster_ip() {
    let endpoint = echo_on("endpoint", [127, 0, 0, 1], 0).await;
    let cluster = echo_on("cluster-ip", [127, 0, 0, 4], 0).await;
    // The Service port is the cluster IP's port; its endpoints listen elsewhere.
    let service = format!(
        "---\napiVersion: v1\nkind: Service\nmetadata: {{name: clustered, namespace: store}}\n\
         spec: {{clusterIP: 127.0.0.4, ports: [{{name: http, port: {}}}]}}\n\
         ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
         metadata: {{name: clustered-1, namespace: store, labels: {{kubernetes.io/service-name: clustered}}}}\n\
         addressType: IPv4\nports: [{{name: http, port: {}}}]\n\
         endpoints: [{{addresses: [\"127.0.0.1\"], conditions: {{ready: true}}}}]\n",
        cluster.port(),
        endpoint.port()
    );
    let upstream = format!("{NGINX}/service-upstream");
    let f = serve(
        &[
            service,
            at_root("via-ip", &[(&upstream, "true")], "ip.test", "clustered"),
            at_root("via-endpoints", &[], "endpoints.test", "clustered"),
        ],
        &[],
    )
    .await;
    let answer = get(f.proxy.http, "ip.test", "/", &[]).await;
    assert!(answer.body.starts_with("cluster-ip"), "{}", answer.body);
    let answer = get(f.proxy.http, "endpoints.test", "/", &[]).await;
    assert!(answer.body.starts_with("endpoint"), "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_nginx_docs_set_routes_as_its_docs_say() {
    let (http_svc, canary_svc) = (echo("http-svc").await, echo("canary-svc").await);
    let text = include_str!("data/ingress-nginx-docs.yaml")
        .replace("HTTP_SVC_PORT", &http_svc.port().to_string())
        .replace("HTTP_SVC_IP", &http_svc.ip().to_string())
        .replace("CANARY_SVC_PORT", &canary_svc.port().to_string())
        .replace("CANARY_SVC_IP", &canary_svc.ip().to_string());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("docs.yaml"), text).expect("write");
    let proxy = Portcullis::start(
        dir.path(),
        &[
            "--ingress-class",
            "nginx",
            "--controller-name",
            "k8s.io/ingress-nginx",
        ],
    )
    .await;
    let proxy = proxy.http;
    // (host, method, path, headers, body bytes) -> (status, what the body starts with, a
    // header that must hold this value).
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        usize,
        u16,
        &'a str,
        Option<(&'a str, &'a str)>,
    );
    let cases: &[Case<'_>] = &[
        (
            "rewrite.bar.com",
            "GET",
            "/something",
            &[],
            0,
            200,
            "http-svc GET /\n",
            None,
        ),
        (
            "rewrite.bar.com",
            "GET",
            "/something/",
            &[],
            0,
            200,
            "http-svc GET /\n",
            None,
        ),
        (
            "rewrite.bar.com",
            "GET",
            "/something/new",
            &[],
            0,
            200,
            "http-svc GET /new\n",
            None,
        ),
        (
            "approot.bar.com",
            "GET",
            "/",
            &[],
            0,
            302,
            "",
            Some(("location", "http://approot.bar.com/app1")),
        ),
        (
            "approot.bar.com",
            "GET",
            "/app1",
            &[],
            0,
            200,
            "http-svc GET /app1\n",
            None,
        ),
        ("echo.com", "GET", "/", &[], 0, 200, "http-svc", None),
        (
            "echo.com",
            "GET",
            "/",
            &[("CanaryByHeader", "always")],
            0,
            200,
            "canary-svc",
            None,
        ),
        (
            "echo.com",
            "GET",
            "/",
            &[("CanaryByHeader", "never")],
            0,
            200,
            "http-svc",
            None,
        ),
        (
            "valued.echo.com",
            "GET",
            "/",
            &[("CanaryByHeader", "DoCanary")],
            0,
            200,
            "canary-svc",
            None,
        ),
        (
            "valued.echo.com",
            "GET",
            "/",
            &[("CanaryByHeader", "always")],
            0,
            200,
            "http-svc",
            None,
        ),
        (
            "redirect.bar.com",
            "GET",
            "/any/path?q=1",
            &[],
            0,
            301,
            "",
            Some(("location", "https://www.google.com")),
        ),
        ("allow.bar.com", "GET", "/", &[], 0, 403, "", None),
        (
            "cors.bar.com",
            "OPTIONS",
            "/",
            &[
                ("origin", "https://origin-site.com"),
                ("access-control-request-method", "PUT"),
            ],
            0,
            204,
            "",
            Some(("access-control-allow-origin", "https://origin-site.com")),
        ),
        (
            "upload.bar.com",
            "POST",
            "/",
            &[],
            512,
            200,
            "http-svc POST /",
            None,
        ),
        ("upload.bar.com", "POST", "/", &[], 2048, 413, "", None),
        ("snippet.bar.com", "GET", "/", &[], 0, 503, "", None),
    ];
    for (host, method, path, headers, body, status, starts, header) in cases {
        let answer = send(proxy, method, host, path, headers, vec![b'x'; *body]).await;
        let case = format!("{method} {host}{path} {headers:?}");
        assert_eq!(answer.status, *status, "{case}: {}", answer.body);
        assert!(answer.body.starts_with(starts), "{case}: {}", answer.body);
        if let Some((name, value)) = header {
            assert_eq!(answer.header(name), *value, "{case}: {name}");
        }
    }
    let sticky = get(proxy, "stickyingress.example.com", "/", &[]).await;
    let cookie = sticky.header("set-cookie");
    for part in ["route=", "Expires=", "Max-Age=172800", "Path=/", "HttpOnly"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
}
