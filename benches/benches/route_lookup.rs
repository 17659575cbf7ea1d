//! Route lookup in a table of 10,000 hosts × 10 paths (target: median under 100 ns), and what
//! richer matches cost: a canary's header and cookie rules, a host of regex paths, and Gateway
//! API header, query and method matches among 10,000 HTTPRoutes.

use std::hint::black_box;

/// The allocator the `portcullis` binary uses, so the numbers are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_benches::gateway_fixture::{gateway_config, gateway_snapshot};
use portcullis_benches::{PATHS, config, host, snapshot};
use portcullis_gateway::translate_gateways;
use portcullis_ingress::translate::translate;
use portcullis_kube::manifests::parse_manifest;
use portcullis_kube::store::Snapshot;
use portcullis_route::counters::Unshared;
use portcullis_route::table::{RequestFacts, RoutingTable};

/// A main Ingress with a canary by header, cookie and weight, and a host whose ten paths are
/// regexes (`use-regex`), both as ingress-nginx users write them.
const RICH: &str = r#"
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: portcullis}
spec: {controller: portcullis.dev/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: main, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: main-1, namespace: shop, labels: {kubernetes.io/service-name: main}}
addressType: IPv4
ports: [{port: 8080}]
endpoints: [{addresses: ["10.10.0.1"]}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: main, namespace: shop, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  ingressClassName: portcullis
  rules:
  - host: canary.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: main, port: {number: 80}}}}
      - {path: /api, pathType: Prefix, backend: {service: {name: main, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: canary
  namespace: shop
  creationTimestamp: "2026-01-02T00:00:00Z"
  annotations:
    nginx.ingress.kubernetes.io/canary: "true"
    nginx.ingress.kubernetes.io/canary-by-header: X-Canary
    nginx.ingress.kubernetes.io/canary-by-cookie: canary
    nginx.ingress.kubernetes.io/canary-weight: "10"
spec:
  ingressClassName: portcullis
  rules:
  - host: canary.example
    http:
      paths:
      - {path: /api, pathType: Prefix, backend: {service: {name: main, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: regex
  namespace: shop
  annotations:
    nginx.ingress.kubernetes.io/use-regex: "true"
spec:
  ingressClassName: portcullis
  rules:
  - host: regex.example
    http:
      paths:
      - {path: "/api/v[0-9]+/users/[0-9]+", pathType: ImplementationSpecific, backend: {service: {name: main, port: {number: 80}}}}
      - {path: "/api/v[0-9]+/orders", pathType: ImplementationSpecific, backend: {service: {name: main, port: {number: 80}}}}
      - {path: "/api/v[0-9]+/cart", pathType: ImplementationSpecific, backend: {service: {name: main, port: {number: 80}}}}
      - {path: "/static/.*\\.(css|js)", pathType: ImplementationSpecific, backend: {service: {name: main, port: {number: 80}}}}
      - {path: "/img/[a-f0-9]{32}", pathType: ImplementationSpecific, backend: {service: {name: main, port: {number: 80}}}}
      - {path: "/search", pathType: ImplementationSpecific, backend: {service: {name: main, port: {number: 80}}}}
      - {path: "/login", pathType: ImplementationSpecific, backend: {service: {name: main, port: {number: 80}}}}
      - {path: "/wear", pathType: ImplementationSpecific, backend: {service: {name: main, port: {number: 80}}}}
      - {path: "/watch", pathType: ImplementationSpecific, backend: {service: {name: main, port: {number: 80}}}}
      - {path: "/", pathType: ImplementationSpecific, backend: {service: {name: main, port: {number: 80}}}}
"#;

fn rich_lookup(c: &mut Criterion) {
    let parsed = parse_manifest("rich.yaml", RICH).expect("valid manifests");
    let translation = translate(&Snapshot::from_objects(parsed.objects), &config());
    let (table, warnings) = RoutingTable::compile(&translation.spec, &Unshared);
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut headers = http::HeaderMap::new();
    headers.insert("user-agent", http::HeaderValue::from_static("bench/1.0"));
    headers.insert(
        "cookie",
        http::HeaderValue::from_static("session=abc; theme=dark"),
    );
    let method = http::Method::GET;
    let facts = RequestFacts {
        method: Some(&method),
        headers: Some(&headers),
        query: Some("page=2"),
    };
    let mut group = c.benchmark_group("route_lookup_rich");
    // No canary header or cookie: both conditions checked and failed, then the split rule.
    group.bench_function("canary_rules_fall_through", |b| {
        b.iter(|| {
            black_box(table.find_request(
                black_box("canary.example"),
                black_box("/api/v1/users"),
                &facts,
            ))
        })
    });
    // A regex host, matched rule by rule: the first, a middle and the last (catch-all) rule.
    for (name, path) in [
        ("regex_host_first_rule", "/api/v2/users/42"),
        (
            "regex_host_middle_rule",
            "/img/0123456789abcdef0123456789abcdef",
        ),
        ("regex_host_last_rule", "/nothing/else"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(table.find_request(black_box("regex.example"), black_box(path), &facts))
            })
        });
    }
    group.finish();
}

fn route_lookup(c: &mut Criterion) {
    let hosts = 10_000;
    let translation = translate(&snapshot(hosts), &config());
    let (table, _) = RoutingTable::compile(&translation.spec, &Unshared);
    // A fixed pseudo-random mix of hosts and request paths, some deep, some with a port.
    let requests: Vec<(String, String)> = (0..4096)
        .map(|n: usize| {
            let i = n.wrapping_mul(2_654_435_761) % hosts;
            let host = if n.is_multiple_of(4) {
                format!("{}:8080", host(i))
            } else {
                host(i)
            };
            let path = match n % 5 {
                0 => format!("{}/item/{n}", PATHS[n % PATHS.len()]),
                1 => "/api/v1/users/42/orders".to_string(),
                2 => "/nothing/here".to_string(),
                _ => PATHS[n % PATHS.len()].to_string(),
            };
            (host, path)
        })
        .collect();
    let mut group = c.benchmark_group("route_lookup");
    group.bench_function("10k_hosts_x_10_paths", |b| {
        let mut n = 0usize;
        b.iter(|| {
            let (host, path) = &requests[n & 4095];
            n = n.wrapping_add(1);
            black_box(table.find(black_box(host), black_box(path)));
        })
    });
    // What the proxy does with the answer: take a reference to the route (reads it).
    group.bench_function("10k_hosts_x_10_paths_then_clone", |b| {
        let mut n = 0usize;
        b.iter(|| {
            let (host, path) = &requests[n & 4095];
            n = n.wrapping_add(1);
            black_box(std::sync::Arc::clone(
                table.find(black_box(host), black_box(path)),
            ));
        })
    });
    group.bench_function("miss_unknown_host", |b| {
        b.iter(|| black_box(table.find(black_box("nope.example.org"), black_box("/x"))))
    });
    group.finish();
}

/// Gateway API at 10,000 HTTPRoutes (one host each; a plain prefix, and prefixes matching a
/// header, a query parameter and a method): what each kind of match costs to find.
fn gateway_lookup(c: &mut Criterion) {
    let hosts = 10_000;
    let translation = translate_gateways(&gateway_snapshot(hosts), &gateway_config());
    let (table, warnings) = RoutingTable::compile(&translation.ports[0].table, &Unshared);
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut with_version = http::HeaderMap::new();
    with_version.insert("user-agent", http::HeaderValue::from_static("bench/1.0"));
    with_version.insert("x-version", http::HeaderValue::from_static("v2"));
    let mut plain = http::HeaderMap::new();
    plain.insert("user-agent", http::HeaderValue::from_static("bench/1.0"));
    let (get, post) = (http::Method::GET, http::Method::POST);
    let host_of = |n: usize| host(n.wrapping_mul(2_654_435_761) % hosts);
    let hosts_mix: Vec<String> = (0..4096).map(host_of).collect();
    let cases: [(&str, &str, &http::Method, &http::HeaderMap, Option<&str>); 5] = [
        ("plain_prefix", "/app/items/42", &get, &plain, None),
        ("header_match", "/api/orders", &get, &with_version, None),
        (
            "query_match",
            "/search",
            &get,
            &plain,
            Some("q=shoes&page=2"),
        ),
        ("method_match", "/login", &post, &plain, None),
        // The header rule's path without its header: checked, failed, then 404.
        ("header_mismatch", "/api/orders", &get, &plain, None),
    ];
    let mut group = c.benchmark_group("route_lookup_gateway_10k_httproutes");
    for (name, path, method, headers, query) in cases {
        let facts = RequestFacts {
            method: Some(method),
            headers: Some(headers),
            query,
        };
        group.bench_function(name, |b| {
            let mut n = 0usize;
            b.iter(|| {
                let host = &hosts_mix[n & 4095];
                n = n.wrapping_add(1);
                black_box(table.find_request(black_box(host), black_box(path), &facts));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, route_lookup, rich_lookup, gateway_lookup);
criterion_main!(benches);
