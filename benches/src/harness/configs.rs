//! The configuration each proxy runs with, generated from one [`Setup`] so they are
//! equivalent: one worker, upstream keep-alive to the same backend, access logs off, the same
//! certificate with TLS 1.3 and HTTP/2 offered by ALPN, and the same routes (`/` alone, or
//! `/r0/` … `/rN-1/` all to the backend, or the one filtered route of [`Setup::filters`]), tuned
//! for throughput or with the limits an ingress controller ships ([`Tuning`]). Pure text;
//! `peers.rs` says which files and writes them.

use std::fmt::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

mod filtered;

/// What every proxy is configured from.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The backend every route goes to.
    pub backend: SocketAddr,
    /// Plain HTTP listener (HTTP/1.1).
    pub http: SocketAddr,
    /// TLS listener (HTTP/1.1 and HTTP/2 by ALPN).
    pub https: SocketAddr,
    /// How many routes: 1 means `/` alone.
    pub routes: usize,
    /// Certificate and key (PEM), and the two concatenated (HAProxy wants one file).
    pub cert: PathBuf,
    /// The certificate's key.
    pub key: PathBuf,
    /// Certificate then key, for HAProxy.
    pub cert_and_key: PathBuf,
    /// Where the proxy keeps its pid file, map file and the like.
    pub dir: PathBuf,
    /// Which limits it runs with.
    pub tuning: Tuning,
    /// Instead of the plain routes (`routes` is then 1), the one filtered route: requests
    /// on [`FILTERED_PATH`] have it rewritten to `/$2` upstream (so `/app/x` arrives as `/x`),
    /// get `X-Forwarded-Prefix: /app`, and go 90% to the backend and 10% to a second upstream,
    /// the canary, at the same address but its own upstream group and keep-alive pool
    /// (Portcullis pools per endpoint, so its two Services share one).
    pub filters: bool,
}

/// The filtered route's path, a regex as ingress-nginx reads it (matched from the start,
/// case-insensitively: so it is in every proxy); `$2` is what goes upstream.
pub const FILTERED_PATH: &str = "/app(/|$)(.*)";

/// The prefix the filtered route strips, sent upstream as `X-Forwarded-Prefix`.
pub const FILTERED_PREFIX: &str = "/app";

/// Percentage of the filtered route's requests that go to the canary.
pub const CANARY_PERCENT: u32 = 10;

/// Which limits the proxies run with, where that differs between what the benchmarks ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tuning {
    /// `side-by-side`: as fast as each goes (nginx buffers responses, HAProxy takes up to
    /// 4,096 connections).
    Throughput,
    /// `memory-ceilings`: nginx with the limits ingress-nginx ships (no response buffering,
    /// 4 KiB proxy buffers, 1 KiB + 4 × 8 KiB header buffers, 60 s header timeout, 128
    /// concurrent HTTP/2 streams, 16,384 connections and the open files for them), HAProxy
    /// allowed 8,192 connections (it wants two open files per connection, within the limit
    /// it inherits); Envoy and Portcullis as for throughput.
    IngressDefaults,
}

/// The path requests use: `/app/x` on the filtered route, `/` with one route, else one in the
/// middle of the list (so a linear matcher walks half of it, a tree does not care).
pub fn request_path(routes: usize, filters: bool) -> String {
    if filters {
        format!("{FILTERED_PREFIX}/x")
    } else if routes <= 1 {
        "/".to_string()
    } else {
        format!("/r{}/x", routes / 2)
    }
}

/// The route prefixes, in order.
fn prefixes(routes: usize) -> Vec<String> {
    if routes <= 1 {
        vec!["/".to_string()]
    } else {
        (0..routes).map(|i| format!("/r{i}/")).collect()
    }
}

/// nginx: one worker; `keepalive` upstream with HTTP/1.1 and the Connection header cleared
/// (what makes nginx reuse upstream connections); one prefix `location` per route.
/// With [`Setup::filters`], one regex `location` instead, and `split_clients` over two
/// upstreams.
pub fn nginx(setup: &Setup) -> String {
    let dir = setup.dir.display();
    let mut locations = String::new();
    let mut canary = String::new();
    if setup.filters {
        locations = filtered::nginx_location();
        canary = filtered::nginx_upstreams(setup);
    } else {
        for prefix in prefixes(setup.routes) {
            let _ = writeln!(
                locations,
                "    location {prefix} {{ proxy_pass http://backend; }}"
            );
        }
    }
    let (open_files, events, limits) = match setup.tuning {
        Tuning::Throughput => ("", "", "  proxy_buffering on;\n"),
        // Two files per proxied connection: the client's and the backend's.
        Tuning::IngressDefaults => (
            "worker_rlimit_nofile 32768;\n",
            " multi_accept on;",
            "  proxy_buffering off;
  proxy_buffer_size 4k;
  proxy_buffers 4 4k;
  client_header_buffer_size 1k;
  large_client_header_buffers 4 8k;
  client_header_timeout 60s;
  keepalive_timeout 75s;
  http2_max_concurrent_streams 128;
",
        ),
    };
    format!(
        "worker_processes 1;
{open_files}pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 16384;{events} }}
http {{
  access_log off;
  upstream backend {{ server {backend}; keepalive 128; }}
{canary}  proxy_http_version 1.1;
  proxy_set_header Connection \"\";
  proxy_set_header Host $host;
{limits}  server {{
    listen {http} reuseport backlog=4096;
    listen {https} ssl http2 reuseport backlog=4096;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    keepalive_requests 1000000;
{locations}  }}
}}
",
        backend = setup.backend,
        http = setup.http,
        https = setup.https,
        cert = setup.cert.display(),
        key = setup.key.display(),
    )
}

/// HAProxy: one thread, `http-reuse always` (upstream keep-alive shared across clients), no
/// logs; routes as a prefix map (`map_beg`, a tree lookup) naming the one backend. With
/// [`Setup::filters`], a path regex choosing between two backends that rewrite instead.
pub fn haproxy(setup: &Setup) -> String {
    let maxconn = match setup.tuning {
        Tuning::Throughput => 4096,
        Tuning::IngressDefaults => 8192,
    };
    let (routing, backends) = if setup.filters {
        (
            filtered::haproxy_frontend(),
            filtered::haproxy_backends(setup),
        )
    } else {
        (
            format!(
                "  use_backend %[path,map_beg({map})]\n",
                map = haproxy_map_path(setup).display()
            ),
            format!(
                "backend app\n  server s1 {backend}\n",
                backend = setup.backend
            ),
        )
    };
    format!(
        "global
  nbthread 1
  maxconn {maxconn}
  tune.ssl.default-dh-param 2048
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  option http-keep-alive
  http-reuse always
frontend plain
  bind {http}
{routing}frontend tls
  bind {https} ssl crt {pem} alpn h2,http/1.1 ssl-min-ver TLSv1.2
{routing}{backends}",
        http = setup.http,
        https = setup.https,
        pem = setup.cert_and_key.display(),
    )
}

/// Where HAProxy's route map goes.
pub fn haproxy_map_path(setup: &Setup) -> PathBuf {
    setup.dir.join("routes.map")
}

/// HAProxy's route map: each prefix → the backend's name.
pub fn haproxy_map(setup: &Setup) -> String {
    prefixes(setup.routes)
        .into_iter()
        .map(|prefix| format!("{prefix} app\n"))
        .collect()
}

/// Envoy: static listeners and cluster (run with `--concurrency 1`), no access log, one
/// prefix route per route (Envoy matches them in order), HTTP/1.1 upstream pool; TLS listener
/// offers h2 and http/1.1. With [`Setup::filters`], one regex route with `regex_rewrite`,
/// `request_headers_to_add` and `weighted_clusters` over two clusters.
pub fn envoy(setup: &Setup) -> String {
    let mut routes = String::new();
    let mut clusters = envoy_cluster("backend", setup.backend);
    if setup.filters {
        routes = filtered::envoy_route();
        clusters.push_str(&envoy_cluster(filtered::CANARY, setup.backend));
    } else {
        for prefix in prefixes(setup.routes) {
            let _ = writeln!(
                routes,
                "              - match: {{prefix: \"{prefix}\"}}\n                route: {{cluster: backend}}"
            );
        }
    }
    let listener = |name: &str, address: SocketAddr, tls: bool| {
        let transport = if tls {
            format!(
                "      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            alpn_protocols: [h2, http/1.1]
            tls_certificates:
            - certificate_chain: {{filename: \"{cert}\"}}
              private_key: {{filename: \"{key}\"}}
",
                cert = setup.cert.display(),
                key = setup.key.display()
            )
        } else {
            String::new()
        };
        format!(
            "  - name: {name}
    address: {{socket_address: {{address: \"{ip}\", port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: {name}
          codec_type: AUTO
          route_config:
            virtual_hosts:
            - name: all
              domains: [\"*\"]
              routes:
{routes}          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
{transport}",
            ip = address.ip(),
            port = address.port(),
        )
    };
    format!(
        "static_resources:
  listeners:
{plain}{tls}  clusters:
{clusters}",
        plain = listener("plain", setup.http, false),
        tls = listener("tls", setup.https, true),
    )
}

/// One of Envoy's static clusters: `name`, its one endpoint at `address`.
fn envoy_cluster(name: &str, address: SocketAddr) -> String {
    format!(
        "  - name: {name}
    type: STATIC
    connect_timeout: 5s
    circuit_breakers:
      thresholds: [{{max_connections: 100000, max_pending_requests: 100000, max_requests: 100000}}]
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: \"{ip}\", port_value: {port}}}}}}}
",
        ip = address.ip(),
        port = address.port(),
    )
}

/// Portcullis: the Kubernetes objects `--manifests` reads (IngressClass, TLS Secret, Service,
/// EndpointSlice, one Ingress with every route as a Prefix path). `cert_pem` and `key_pem`
/// are the PEM texts, base64-encoded into the Secret. With [`Setup::filters`], the Ingress
/// has the one filtered path with ingress-nginx's `rewrite-target` and `x-forwarded-prefix`,
/// and a canary Ingress (`canary-weight`) adds a second Service at the backend's address.
pub fn portcullis(setup: &Setup, cert_pem: &[u8], key_pem: &[u8]) -> String {
    let mut services = service("backend", setup.backend);
    let (metadata, paths, canary) = if setup.filters {
        services.push_str(&service(filtered::CANARY, setup.backend));
        (
            filtered::portcullis_metadata(),
            filtered::portcullis_path("backend"),
            filtered::portcullis_canary(),
        )
    } else {
        let mut paths = String::new();
        for prefix in prefixes(setup.routes) {
            let path = if prefix == "/" {
                prefix.clone()
            } else {
                prefix.trim_end_matches('/').to_string()
            };
            let _ = writeln!(
                paths,
                "      - {{path: \"{path}\", pathType: Prefix, backend: {{service: {{name: backend, port: {{name: http}}}}}}}}"
            );
        }
        (
            " {name: bench, namespace: bench}".to_string(),
            paths,
            String::new(),
        )
    };
    format!(
        "apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: portcullis}}
spec: {{controller: portcullis.dev/ingress-controller}}
---
apiVersion: v1
kind: Secret
metadata: {{name: bench-tls, namespace: bench}}
type: kubernetes.io/tls
data: {{tls.crt: {cert}, tls.key: {key}}}
---
{services}---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:{metadata}
spec:
  ingressClassName: portcullis
  tls: [{{hosts: [bench.test], secretName: bench-tls}}]
  rules:
  - http:
      paths:
{paths}{canary}",
        cert = STANDARD.encode(cert_pem),
        key = STANDARD.encode(key_pem),
    )
}

/// A Service `name` in namespace `bench` and the EndpointSlice pointing it at `address`, as
/// the Kubernetes objects Portcullis reads (each document ends with `---`).
pub fn service(name: &str, address: SocketAddr) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: bench}}
spec: {{ports: [{{name: http, port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {name}-1, namespace: bench, labels: {{kubernetes.io/service-name: {name}}}}}
addressType: IPv4
ports: [{{name: http, port: {port}}}]
endpoints: [{{addresses: [\"{ip}\"]}}]
---
",
        ip = address.ip(),
        port = address.port(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(routes: usize) -> Setup {
        Setup {
            backend: "127.0.0.1:9000".parse().unwrap(),
            http: "127.0.0.1:9080".parse().unwrap(),
            https: "127.0.0.1:9443".parse().unwrap(),
            routes,
            cert: "/w/cert.pem".into(),
            key: "/w/key.pem".into(),
            cert_and_key: "/w/both.pem".into(),
            dir: "/w".into(),
            tuning: Tuning::Throughput,
            filters: false,
        }
    }

    fn filtered() -> Setup {
        Setup {
            filters: true,
            ..setup(1)
        }
    }

    #[test]
    fn every_proxy_gets_every_route_and_keeps_upstream_connections() {
        let many = setup(10_000);
        let nginx = nginx(&many);
        assert_eq!(nginx.matches("proxy_pass http://backend;").count(), 10_000);
        assert!(
            nginx.contains("keepalive 128;") && nginx.contains("proxy_set_header Connection \"\";")
        );
        assert!(nginx.contains("access_log off;") && nginx.contains("worker_processes 1;"));
        assert_eq!(haproxy_map(&many).lines().count(), 10_000);
        let haproxy = haproxy(&many);
        assert!(haproxy.contains("http-reuse always") && haproxy.contains("nbthread 1"));
        assert!(!haproxy.contains("log "), "no logging configured");
        let envoy = envoy(&many);
        assert_eq!(
            envoy.matches("route: {cluster: backend}").count(),
            20_000,
            "both listeners"
        );
        assert!(!envoy.contains("access_log"));
        let portcullis = portcullis(&many, b"c", b"k");
        assert_eq!(portcullis.matches("pathType: Prefix").count(), 10_000);
        // The request path is one of the routes.
        assert_eq!(request_path(10_000, false), "/r5000/x");
        assert!(nginx.contains("location /r5000/ "));
        assert!(portcullis.contains("path: \"/r5000\""));
    }

    #[test]
    fn portcullis_reads_its_manifests() {
        use portcullis_kube::manifests::parse_manifest;
        let parsed = parse_manifest("bench.yaml", &portcullis(&setup(3), b"c", b"k")).unwrap();
        // IngressClass, Secret, Service, EndpointSlice, Ingress.
        assert_eq!(parsed.objects.len(), 5, "{parsed:?}");
        assert!(parsed.skipped.is_empty());
    }

    #[test]
    fn throughput_and_ingress_defaults_differ_only_in_limits() {
        let throughput = nginx(&setup(1));
        assert!(throughput.starts_with("worker_processes 1;\npid /w/nginx.pid;\n"));
        assert!(throughput.contains("events { worker_connections 16384; }\n"));
        assert!(throughput.contains("proxy_buffering on;") && !throughput.contains("large_client"));
        let shipped = Setup {
            tuning: Tuning::IngressDefaults,
            ..setup(1)
        };
        let ingress = nginx(&shipped);
        for line in [
            "worker_rlimit_nofile 32768;",
            "events { worker_connections 16384; multi_accept on; }",
            "proxy_buffering off;",
            "proxy_buffer_size 4k;",
            "client_header_buffer_size 1k;",
            "large_client_header_buffers 4 8k;",
            "http2_max_concurrent_streams 128;",
        ] {
            assert!(ingress.contains(line), "{line}:\n{ingress}");
        }
        let (routes, shipped_routes) = (
            throughput.split_once("  server {").unwrap().1,
            ingress.split_once("  server {").unwrap().1,
        );
        assert_eq!(routes, shipped_routes, "same listeners and locations");
        assert!(haproxy(&setup(1)).contains("maxconn 4096\n"));
        assert!(haproxy(&shipped).contains("maxconn 8192\n"));
    }

    #[test]
    fn one_route_is_the_root() {
        let one = setup(1);
        assert_eq!(request_path(1, false), "/");
        assert_eq!(haproxy_map(&one), "/ app\n");
        assert!(nginx(&one).contains("location / { proxy_pass"));
        assert!(portcullis(&one, b"c", b"k").contains("path: \"/\""));
    }

    #[test]
    fn nginx_filters_with_a_regex_location_a_rewrite_and_split_clients() {
        let nginx = nginx(&filtered());
        let location = nginx
            .split_once("    location ~* \"^/app(/|$)(.*)\" {\n")
            .unwrap()
            .1;
        let location = location.split_once("    }\n").unwrap().0;
        for line in [
            "rewrite \"(?i)^/app(/|$)(.*)\" /$2 break;",
            "proxy_set_header X-Forwarded-Prefix /app;",
            // The location's own proxy_set_header replaces the inherited ones.
            "proxy_set_header Connection \"\";",
            "proxy_set_header Host $host;",
            "proxy_pass http://$app_upstream;",
        ] {
            assert!(location.contains(line), "{line}:\n{location}");
        }
        assert!(
            nginx.contains(
                "split_clients \"${request_id}\" $app_upstream { 10% canary; * backend; }"
            )
        );
        assert!(nginx.contains("upstream backend { server 127.0.0.1:9000; keepalive 128; }"));
        assert!(nginx.contains("upstream canary { server 127.0.0.1:9000; keepalive 128; }"));
        assert_eq!(
            nginx.matches("location ").count(),
            1,
            "the filtered route alone"
        );
        assert_eq!(request_path(1, true), "/app/x");
    }

    #[test]
    fn haproxy_filters_with_replace_path_set_header_and_a_random_backend() {
        let haproxy = haproxy(&filtered());
        assert!(!haproxy.contains("map_beg"), "no route map");
        assert_eq!(
            haproxy
                .matches("  acl filtered path_reg -i ^/app(/|$)\n  use_backend canary if { rand(100) lt 10 } filtered\n  use_backend app if filtered\n")
                .count(),
            2,
            "both frontends:\n{haproxy}"
        );
        for (backend, server) in [("app", "s1"), ("canary", "c1")] {
            assert!(
                haproxy.contains(&format!(
                    "backend {backend}
  http-request replace-path (?i)^/app(/|$)(.*) /\\2
  http-request set-header X-Forwarded-Prefix /app
  server {server} 127.0.0.1:9000
"
                )),
                "{backend}:\n{haproxy}"
            );
        }
        assert!(haproxy.contains("http-reuse always"));
    }

    #[test]
    fn envoy_filters_with_regex_rewrite_a_header_and_weighted_clusters() {
        let envoy = envoy(&filtered());
        let route = "              - match: {safe_regex: {regex: \"(?i)/app(/|$)(.*)\"}}
                route:
                  weighted_clusters:
                    clusters:
                    - {name: backend, weight: 90}
                    - {name: canary, weight: 10}
                  regex_rewrite: {pattern: {regex: \"(?i)^/app(/|$)(.*)\"}, substitution: \"/\\\\2\"}
                request_headers_to_add:
                - header: {key: X-Forwarded-Prefix, value: \"/app\"}
                  append_action: OVERWRITE_IF_EXISTS_OR_ADD
";
        assert_eq!(envoy.matches(route).count(), 2, "both listeners:\n{envoy}");
        assert!(!envoy.contains("route: {cluster: backend}"));
        for cluster in ["backend", "canary"] {
            assert!(envoy.contains(&format!("  - name: {cluster}\n    type: STATIC\n")));
            assert!(envoy.contains(&format!("      cluster_name: {cluster}\n")));
        }
        assert_eq!(envoy.matches("port_value: 9000}").count(), 2);
    }

    #[test]
    fn portcullis_filters_through_ingress_nginx_annotations() {
        use portcullis_ingress::translate::translate;
        use portcullis_kube::manifests::parse_manifest;
        use portcullis_kube::store::Snapshot;
        let manifests = portcullis(&filtered(), b"c", b"k");
        for annotation in [
            "nginx.ingress.kubernetes.io/rewrite-target: \"/$2\"",
            "nginx.ingress.kubernetes.io/x-forwarded-prefix: \"/app\"",
            "nginx.ingress.kubernetes.io/canary: \"true\"",
            "nginx.ingress.kubernetes.io/canary-weight: \"10\"",
        ] {
            assert!(manifests.contains(annotation), "{annotation}");
        }
        let parsed = parse_manifest("bench.yaml", &manifests).unwrap();
        // IngressClass, Secret, two Services and their EndpointSlices, two Ingresses.
        assert_eq!(parsed.objects.len(), 8, "{parsed:?}");
        assert!(parsed.skipped.is_empty());
        // What Portcullis makes of them: one regex route, rewritten, with the header, split.
        let translation = translate(&Snapshot::from_objects(parsed.objects), &crate::config());
        assert!(
            translation.diagnostics.is_empty(),
            "{:?}",
            translation.diagnostics
        );
        let table = translation.spec.to_string();
        let route = table
            .lines()
            .find(|line| line.contains("Regex(i) /app(/|$)(.*) -> split {"))
            .unwrap_or_else(|| panic!("no split regex route:\n{table}"));
        for part in [
            "90 x [127.0.0.1:9000] <- ingress bench/bench service backend:http",
            "10 x [127.0.0.1:9000] <- ingress bench/bench-canary service canary:http",
            "(rewrite path regex(i) \"/app(/|$)(.*)\" \"/$2\")",
            "(request headers set x-forwarded-prefix: \"/app\")",
        ] {
            assert!(route.contains(part), "{part}:\n{table}");
        }
    }

    #[test]
    fn the_plain_configurations_have_no_filters() {
        let one = setup(1);
        for text in [
            nginx(&one),
            haproxy(&one),
            envoy(&one),
            portcullis(&one, b"c", b"k"),
        ] {
            for filter in [
                "canary",
                "rewrite",
                "X-Forwarded-Prefix",
                "x-forwarded-prefix",
            ] {
                assert!(!text.contains(filter), "{filter}:\n{text}");
            }
        }
    }
}
