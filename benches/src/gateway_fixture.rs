//! Gateway API at scale: one Gateway taking routes from every namespace and `count` HTTPRoutes
//! (one hostname each, a plain `/app` prefix and prefixes matching a header, a query parameter
//! and a method; nothing at `/`, so a path a change adds answers 404 until it is live), on the
//! same Services and EndpointSlices as the Ingress fixtures.

use portcullis_gateway::{DEFAULT_CONTROLLER_NAME, GatewayConfig};
use portcullis_kube::manifests::parse_manifest;
use portcullis_kube::objects::Object;
use portcullis_kube::store::Snapshot;

use crate::host;

/// The listener port of the fixture's Gateway.
pub const GATEWAY_PORT: u16 = 8000;

/// The Gateway API translation config the fixture is written for.
pub fn gateway_config() -> GatewayConfig {
    GatewayConfig {
        controller_name: DEFAULT_CONTROLLER_NAME.to_string(),
        reserved_ports: Vec::new(),
    }
}

/// HTTPRoute `i` as YAML, with one more `PathPrefix` rule per entry of `extra_paths`.
pub fn http_route(i: usize, extra_paths: &[String]) -> String {
    let mut rules = format!(
        "  - matches: [{{path: {{type: PathPrefix, value: /app}}}}]\n\
         \x20   backendRefs: [{{name: app-{i}, port: 80}}]\n\
         \x20 - matches: [{{path: {{type: PathPrefix, value: /api}}, headers: [{{name: x-version, value: v2}}]}}]\n\
         \x20   backendRefs: [{{name: app-{i}, port: 80}}]\n\
         \x20 - matches: [{{path: {{type: PathPrefix, value: /search}}, queryParams: [{{name: q, value: shoes}}]}}]\n\
         \x20   backendRefs: [{{name: app-{i}, port: 80}}]\n\
         \x20 - matches: [{{path: {{type: Exact, value: /login}}, method: POST}}]\n\
         \x20   backendRefs: [{{name: app-{i}, port: 80}}]\n"
    );
    for path in extra_paths {
        rules.push_str(&format!(
            "  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n\
             \x20   backendRefs: [{{name: app-{i}, port: 80}}]\n"
        ));
    }
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
         metadata: {{name: app-{i}, namespace: team-{}}}\n\
         spec:\n  parentRefs: [{{name: edge, namespace: gateway}}]\n  hostnames: [{}]\n  rules:\n{rules}",
        i % 100,
        host(i)
    )
}

/// Our GatewayClass and Gateway `gateway/edge` (HTTP on [`GATEWAY_PORT`], routes from all
/// namespaces).
pub fn gateway_yaml() -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {{name: portcullis}}\n\
         spec: {{controllerName: {DEFAULT_CONTROLLER_NAME}}}\n\
         ---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: edge, namespace: gateway}}\n\
         spec:\n  gatewayClassName: portcullis\n  listeners:\n\
         \x20 - {{name: http, port: {GATEWAY_PORT}, protocol: HTTP, allowedRoutes: {{namespaces: {{from: All}}}}}}\n"
    )
}

/// `count` HTTPRoutes with their Services and EndpointSlices, our GatewayClass and Gateway.
pub fn gateway_snapshot(count: usize) -> Snapshot {
    let services = crate::snapshot_with_paths(count, 1);
    let mut text = gateway_yaml();
    for i in 0..count {
        text.push_str("---\n");
        text.push_str(&http_route(i, &[]));
    }
    let parsed = parse_manifest("gateway.yaml", &text).expect("the fixture parses");
    let mut objects: Vec<Object> = parsed.objects;
    objects.extend(
        services
            .services
            .values()
            .map(|s| Object::Service(s.clone()))
            .chain(
                services
                    .endpoint_slices
                    .values()
                    .map(|s| Object::EndpointSlice(s.clone())),
            ),
    );
    Snapshot::from_objects(objects)
}
