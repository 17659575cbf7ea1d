//! HTTPRoutes and GRPCRoutes as one shape: parents, hostnames and rules (matches of either
//! kind, filters, backendRefs), so attachment, backends, filters and status are written once.

use portcullis_kube::objects::gateway_api::{
    GatewayMeta, GrpcRoute, GrpcRouteMatch, HttpBackendRef, HttpRoute, HttpRouteFilter,
    HttpRouteMatch, HttpRouteTimeouts, ParentReference, StatusText, TlsRoute,
};
use portcullis_kube::objects::{Kind, ObjectKey};
use portcullis_kube::store::Snapshot;
use portcullis_route::spec::UpstreamProtocol;

/// Which route kind a view came from: its matches, allowed filters and upstream protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// HTTPRoute: HTTP/1.1 to the backends.
    Http,
    /// GRPCRoute: gRPC (HTTP/2 with prior knowledge) to the backends.
    Grpc,
    /// TLSRoute: the TLS stream passed to the backends by SNI (a rule is one `/` match).
    Tls,
}

impl Flavor {
    /// The filter types a rule of this kind may use.
    pub fn supports_filter(self, filter_type: &str) -> bool {
        match self {
            Flavor::Http => matches!(
                filter_type,
                "RequestHeaderModifier"
                    | "ResponseHeaderModifier"
                    | "RequestRedirect"
                    | "URLRewrite"
                    | "RequestMirror"
                    | "CORS"
            ),
            Flavor::Grpc => matches!(
                filter_type,
                "RequestHeaderModifier" | "ResponseHeaderModifier" | "RequestMirror"
            ),
            Flavor::Tls => false,
        }
    }

    /// How the backends are spoken to.
    pub fn protocol(self) -> UpstreamProtocol {
        match self {
            Flavor::Http | Flavor::Tls => UpstreamProtocol::Http,
            Flavor::Grpc => UpstreamProtocol::Grpc,
        }
    }
}

/// One route of either kind.
pub struct RouteView<'a> {
    /// Its key (kind HTTPRoute or GRPCRoute).
    pub key: ObjectKey,
    /// Its metadata.
    pub meta: &'a GatewayMeta,
    /// `spec.parentRefs`.
    pub parent_refs: &'a [ParentReference],
    /// `spec.hostnames`.
    pub hostnames: &'a [String],
    /// `spec.rules`; never empty (an empty list is one rule matching everything).
    pub rules: Vec<RuleView<'a>>,
    /// The kind.
    pub flavor: Flavor,
}

/// One rule.
#[derive(Default)]
pub struct RuleView<'a> {
    /// `matches`; empty matches every request of the kind.
    pub matches: Vec<MatchView<'a>>,
    /// `filters`.
    pub filters: &'a [HttpRouteFilter],
    /// `backendRefs`.
    pub backend_refs: &'a [HttpBackendRef],
    /// `timeouts` (HTTPRoute only).
    pub timeouts: Option<&'a HttpRouteTimeouts>,
}

/// One match of either kind.
pub enum MatchView<'a> {
    /// An HTTPRoute match.
    Http(&'a HttpRouteMatch),
    /// A GRPCRoute match.
    Grpc(&'a GrpcRouteMatch),
}

impl<'a> RouteView<'a> {
    /// An HTTPRoute.
    pub fn http(route: &'a HttpRoute) -> Self {
        let rules = route
            .spec
            .rules
            .iter()
            .map(|rule| RuleView {
                matches: rule.matches.iter().map(MatchView::Http).collect(),
                filters: &rule.filters,
                backend_refs: &rule.backend_refs,
                timeouts: rule.timeouts.as_ref(),
            })
            .collect();
        RouteView::new(
            Kind::HTTPRoute,
            &route.metadata,
            &route.spec.parent_refs,
            &route.spec.hostnames,
            rules,
            Flavor::Http,
        )
    }

    /// A GRPCRoute.
    pub fn grpc(route: &'a GrpcRoute) -> Self {
        let rules = route
            .spec
            .rules
            .iter()
            .map(|rule| RuleView {
                matches: rule.matches.iter().map(MatchView::Grpc).collect(),
                filters: &rule.filters,
                backend_refs: &rule.backend_refs,
                timeouts: None,
            })
            .collect();
        RouteView::new(
            Kind::GRPCRoute,
            &route.metadata,
            &route.spec.parent_refs,
            &route.spec.hostnames,
            rules,
            Flavor::Grpc,
        )
    }

    /// A TLSRoute.
    pub fn tls(route: &'a TlsRoute) -> Self {
        let rules = route
            .spec
            .rules
            .iter()
            .map(|rule| RuleView {
                backend_refs: &rule.backend_refs,
                ..RuleView::default()
            })
            .collect();
        RouteView::new(
            Kind::TLSRoute,
            &route.metadata,
            &route.spec.parent_refs,
            &route.spec.hostnames,
            rules,
            Flavor::Tls,
        )
    }

    fn new(
        kind: Kind,
        meta: &'a GatewayMeta,
        parent_refs: &'a [ParentReference],
        hostnames: &'a [String],
        mut rules: Vec<RuleView<'a>>,
        flavor: Flavor,
    ) -> Self {
        if rules.is_empty() {
            rules.push(RuleView::default());
        }
        RouteView {
            key: ObjectKey {
                kind,
                namespace: meta.namespace.clone(),
                name: meta.name.clone(),
            },
            meta,
            parent_refs,
            hostnames,
            rules,
            flavor,
        }
    }
}

/// The route `key` names in `snapshot`, if it is a route kind and there.
pub fn route_in<'a>(snapshot: &'a Snapshot, key: &ObjectKey) -> Option<RouteView<'a>> {
    let id = (key.namespace.clone(), key.name.clone());
    match key.kind {
        Kind::HTTPRoute => snapshot.http_routes.get(&id).map(|r| RouteView::http(r)),
        Kind::GRPCRoute => snapshot.grpc_routes.get(&id).map(|r| RouteView::grpc(r)),
        Kind::TLSRoute => snapshot.tls_routes.get(&id).map(|r| RouteView::tls(r)),
        _ => None,
    }
}

/// Every route of every kind in `snapshot`.
pub fn all_routes(snapshot: &Snapshot) -> impl Iterator<Item = ObjectKey> + '_ {
    let key = |kind: Kind| {
        move |(namespace, name): &(String, String)| ObjectKey {
            kind,
            namespace: namespace.clone(),
            name: name.clone(),
        }
    };
    snapshot
        .http_routes
        .keys()
        .map(key(Kind::HTTPRoute))
        .chain(snapshot.grpc_routes.keys().map(key(Kind::GRPCRoute)))
        .chain(snapshot.tls_routes.keys().map(key(Kind::TLSRoute)))
}

/// A route's `status` as the API holds it, and its metadata.
pub fn route_status<'a>(
    snapshot: &'a Snapshot,
    key: &ObjectKey,
) -> Option<(&'a GatewayMeta, &'a StatusText)> {
    let id = (key.namespace.clone(), key.name.clone());
    match key.kind {
        Kind::HTTPRoute => snapshot
            .http_routes
            .get(&id)
            .map(|r| (&r.metadata, &r.status)),
        Kind::GRPCRoute => snapshot
            .grpc_routes
            .get(&id)
            .map(|r| (&r.metadata, &r.status)),
        Kind::TLSRoute => snapshot
            .tls_routes
            .get(&id)
            .map(|r| (&r.metadata, &r.status)),
        _ => None,
    }
}
