//! The filtered route ([`Setup::filters`]) as each proxy writes it: a case-insensitive regex
//! on [`FILTERED_PATH`], the path rewritten to `/$2`, `X-Forwarded-Prefix` set, and
//! [`CANARY_PERCENT`] of the requests to a second upstream group, `canary`, at the backend's
//! address. The pieces here slot into the configurations of the parent module.

use super::{CANARY_PERCENT, FILTERED_PATH, FILTERED_PREFIX, Setup};

/// The name of the canary's upstream group, cluster, backend and Service in every proxy.
pub const CANARY: &str = "canary";

/// nginx, in `http`: the split on the request id and the canary's keep-alive upstream.
pub fn nginx_upstreams(setup: &Setup) -> String {
    format!(
        "  split_clients \"${{request_id}}\" $app_upstream {{ {CANARY_PERCENT}% {CANARY}; * backend; }}
  upstream {CANARY} {{ server {backend}; keepalive 128; }}
",
        backend = setup.backend,
    )
}

/// nginx, in `server`: the regex location (`~*`, as ingress-nginx writes it), its rewrite
/// and header. A `proxy_set_header` in a location drops the inherited ones, so `Connection`
/// (upstream keep-alive) and `Host` are set again.
pub fn nginx_location() -> String {
    format!(
        "    location ~* \"^{FILTERED_PATH}\" {{
      rewrite \"(?i)^{FILTERED_PATH}\" /$2 break;
      proxy_set_header X-Forwarded-Prefix {FILTERED_PREFIX};
      proxy_set_header Connection \"\";
      proxy_set_header Host $host;
      proxy_pass http://$app_upstream;
    }}
"
    )
}

/// HAProxy, in each frontend: the canary for `rand(100)` below [`CANARY_PERCENT`] (tested
/// first, so most requests skip its regex), else the main backend; both only on the path.
pub fn haproxy_frontend() -> String {
    format!(
        "  acl filtered path_reg -i ^{prefix}(/|$)
  use_backend {CANARY} if {{ rand(100) lt {CANARY_PERCENT} }} filtered
  use_backend app if filtered
",
        prefix = FILTERED_PREFIX,
    )
}

/// HAProxy: the main and the canary backend, each rewriting the path and setting the header.
pub fn haproxy_backends(setup: &Setup) -> String {
    [("app", "s1"), (CANARY, "c1")]
        .iter()
        .map(|(name, server)| {
            format!(
                "backend {name}
  http-request replace-path (?i)^{FILTERED_PATH} /\\2
  http-request set-header X-Forwarded-Prefix {FILTERED_PREFIX}
  server {server} {backend}
",
                backend = setup.backend,
            )
        })
        .collect()
}

/// Envoy: the route (a whole-path regex match), at the routes' indentation.
pub fn envoy_route() -> String {
    let main = 100 - CANARY_PERCENT;
    format!(
        "              - match: {{safe_regex: {{regex: \"(?i){FILTERED_PATH}\"}}}}
                route:
                  weighted_clusters:
                    clusters:
                    - {{name: backend, weight: {main}}}
                    - {{name: {CANARY}, weight: {CANARY_PERCENT}}}
                  regex_rewrite: {{pattern: {{regex: \"(?i)^{FILTERED_PATH}\"}}, substitution: \"/\\\\2\"}}
                request_headers_to_add:
                - header: {{key: X-Forwarded-Prefix, value: \"{FILTERED_PREFIX}\"}}
                  append_action: OVERWRITE_IF_EXISTS_OR_ADD
"
    )
}

/// Portcullis: the main Ingress's metadata with ingress-nginx's rewrite annotations.
pub fn portcullis_metadata() -> String {
    format!(
        "
  name: bench
  namespace: bench
  annotations:
    nginx.ingress.kubernetes.io/rewrite-target: \"/$2\"
    nginx.ingress.kubernetes.io/x-forwarded-prefix: \"{FILTERED_PREFIX}\""
    )
}

/// Portcullis: the route's path, as an Ingress path to Service `service`.
pub fn portcullis_path(service: &str) -> String {
    format!(
        "      - {{path: \"{FILTERED_PATH}\", pathType: ImplementationSpecific, backend: {{service: {{name: {service}, port: {{name: http}}}}}}}}\n"
    )
}

/// Portcullis: the canary Ingress (same rule, no host, as the main one) to Service `canary`,
/// a document of its own.
pub fn portcullis_canary() -> String {
    format!(
        "---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: bench-{CANARY}
  namespace: bench
  annotations:
    nginx.ingress.kubernetes.io/canary: \"true\"
    nginx.ingress.kubernetes.io/canary-weight: \"{CANARY_PERCENT}\"
spec:
  ingressClassName: portcullis
  rules:
  - http:
      paths:
{path}",
        path = portcullis_path(CANARY),
    )
}
