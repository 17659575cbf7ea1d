//! One route's rules (an HTTPRoute's or a GRPCRoute's) as route model rules: matches into
//! paths and conditions, filters into a `RouteSpec` per listener port, backendRefs into a
//! weighted split.

use std::cmp::Reverse;
use std::sync::Arc;

use http::{HeaderName, Method};
use portcullis_kube::objects::ObjectKey;
use portcullis_kube::objects::gateway_api::{HttpBackendRef, HttpRouteFilter, HttpRouteMatch};
use portcullis_route::spec::{
    Action, Backend, BackendHeaders, Conditions, HeaderCondition, Mirror, NamedCondition, Origin,
    PathKind, PathRule, RouteSpec, Target, UpstreamProtocol, ValueMatch, WeightedBackend,
};
use portcullis_translation::{BackendProblem, BackendResolver, Diagnostic, PortRef, Reason};

use crate::Condition;
use crate::backend_tls::{BackendTlsBook, PolicyUse};
use crate::filters::{cors, duration, header_edits, redirect, rewrite};
use crate::grants::{Referent, Referrer, permitted};
use crate::grpc_match::grpc_match;
use crate::route_view::{Flavor, MatchView, RouteView, RuleView};
use portcullis_kube::store::Snapshot;

/// The order of rules on one host, Gateway API's: for HTTPRoutes exact paths, then longer
/// paths, then a method match; for GRPCRoutes more characters of service, then of method;
/// then more header matches, more query matches, then the older route, its namespace/name,
/// and the rule and match order in it.
pub type Precedence = (
    PathRank,
    Reverse<bool>,
    Reverse<usize>,
    Reverse<usize>,
    RouteOrder,
    usize,
    usize,
);

/// What a match's path part ranks by, per route kind (HTTPRoutes and GRPCRoutes never share a
/// host: the older of two that would wins it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathRank {
    /// Exact (0), RegularExpression (1), PathPrefix (2); then the longer path.
    Http(u8, Reverse<usize>),
    /// The characters of the service matched, then of the method.
    Grpc(Reverse<usize>, Reverse<usize>),
}

/// Oldest first, then namespace, then name (a route without creation time sorts last);
/// shared by every rule of the route.
pub type RouteOrder = Arc<(bool, Option<String>, String, String)>;

/// One matched path of one rule, with its precedence.
#[derive(Debug, Clone)]
pub struct RankedRule {
    /// Where it sorts on its host.
    pub precedence: Precedence,
    /// The rule.
    pub rule: PathRule,
}

/// A rule's matches, filters and backends, checked once; specs are made per port from it.
pub struct CheckedRule {
    matches: Vec<CheckedMatch>,
    backends: Vec<WeightedBackend>,
    filters: Vec<HttpRouteFilter>,
    mirrors: Box<[Mirror]>,
    protocol: UpstreamProtocol,
    /// The rule's index in `spec.rules`, for the field of a diagnostic.
    index: usize,
    /// Why the rule answers 500 whatever its backends (an unsupported filter).
    refused: Option<String>,
    /// `timeouts.backendRequest`: per try, for the response head.
    timeout: Option<std::time::Duration>,
    /// `timeouts.request`: the whole exchange.
    total: Option<std::time::Duration>,
}

struct CheckedMatch {
    path: String,
    kind: PathKind,
    /// The PathPrefix value, for ReplacePrefixMatch.
    prefix: Option<String>,
    conditions: Conditions,
    rank: PathRank,
    index: usize,
}

/// A match checked: its path, the PathPrefix value, conditions and rank.
pub(crate) struct MatchParts {
    pub(crate) path: String,
    pub(crate) kind: PathKind,
    pub(crate) prefix: Option<String>,
    pub(crate) conditions: Conditions,
    pub(crate) rank: PathRank,
}

/// Checks every rule of a route: the rules, and the route's `ResolvedRefs`.
pub fn check_rules(
    snapshot: &Snapshot,
    resolver: BackendResolver<'_>,
    policies: &BackendTlsBook,
    route: &RouteView<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Vec<CheckedRule>, Condition) {
    let key = &route.key;
    let mut resolved = Condition::yes("ResolvedRefs", "all references resolved");
    let mut checked = Vec::new();
    // Backends named twice share one `Arc`, so one upstream and its round-robin cursor.
    let mut known_backends: Vec<Arc<Backend>> = Vec::new();
    for (index, rule) in route.rules.iter().enumerate() {
        let field = || format!("spec.rules[{index}]");
        let matches = check_matches(key, route.flavor, rule, index, diagnostics);
        let mut backends = Vec::new();
        for (b, reference) in rule.backend_refs.iter().enumerate() {
            let (backend, problem) = backend(snapshot, resolver, policies, key, reference);
            if let Some((reason, condition_reason, why)) = problem {
                let at = format!("{}.backendRefs[{b}]", field());
                diagnostics.push(Diagnostic::error(
                    reason,
                    key,
                    &at,
                    match route.flavor {
                        Flavor::Tls => format!("{why}; its share of connections is closed"),
                        _ => format!("{why}; its share of requests gets 500"),
                    },
                ));
                if resolved.status {
                    resolved = Condition::no(condition_reason, &format!("{at}: {why}"));
                }
            }
            let backend = match known_backends.iter().find(|known| ***known == backend) {
                Some(known) => Arc::clone(known),
                None => {
                    let backend = Arc::new(backend);
                    known_backends.push(Arc::clone(&backend));
                    backend
                }
            };
            backends.push(WeightedBackend {
                weight: u32::try_from(reference.weight.unwrap_or(1)).unwrap_or(0),
                backend,
            });
        }
        let mut refused = None;
        let mut mirrors = Vec::new();
        for (f, filter) in rule.filters.iter().enumerate() {
            if let Some(mirror) = filter
                .request_mirror
                .as_ref()
                .filter(|_| filter.filter_type == "RequestMirror")
            {
                let at = format!("{}.filters[{f}].requestMirror", field());
                let target = &mirror.backend_ref;
                let reference = HttpBackendRef {
                    group: target.group.clone(),
                    kind: target.kind.clone(),
                    name: target.name.clone(),
                    namespace: target.namespace.clone(),
                    port: target.port,
                    ..HttpBackendRef::default()
                };
                let (backend, problem) = backend(snapshot, resolver, policies, key, &reference);
                let share = mirror_share(mirror);
                match (problem, share) {
                    (Some((reason, condition_reason, why)), _) => {
                        diagnostics.push(Diagnostic::error(
                            reason,
                            key,
                            format!("{at}.backendRef"),
                            format!("{why}; requests are not mirrored"),
                        ));
                        if resolved.status {
                            resolved = Condition::no(condition_reason, &format!("{at}: {why}"));
                        }
                    }
                    (None, Err(why)) => diagnostics.push(Diagnostic::error(
                        Reason::UnsupportedValue,
                        key,
                        at,
                        format!("{why}; requests are not mirrored"),
                    )),
                    (None, Ok((numerator, denominator))) if numerator > 0 => {
                        mirrors.push(Mirror {
                            backend: Arc::new(backend),
                            numerator,
                            denominator,
                        });
                    }
                    (None, Ok(_)) => {}
                }
            }
            if !route.flavor.supports_filter(&filter.filter_type) {
                let why = format!("filter type {:?} is not supported", filter.filter_type);
                diagnostics.push(Diagnostic::error(
                    Reason::UnsupportedValue,
                    key,
                    format!("{}.filters[{f}].type", field()),
                    format!("{why}; the rule answers 500"),
                ));
                refused.get_or_insert(why);
            }
        }
        let timeout = rule.timeouts.map(|t| {
            let mut parsed = |text: Option<&String>, name: &str| {
                text.and_then(|text| match duration(text) {
                    Ok(value) => value,
                    Err(why) => {
                        diagnostics.push(Diagnostic::error(
                            Reason::UnsupportedValue,
                            key,
                            format!("{}.timeouts.{name}", field()),
                            format!("{why}; the proxy's timeout applies"),
                        ));
                        None
                    }
                })
            };
            let request = parsed(t.request.as_ref(), "request");
            let backend = parsed(t.backend_request.as_ref(), "backendRequest");
            (request, backend)
        });
        let (total, timeout) = timeout.unwrap_or_default();
        checked.push(CheckedRule {
            matches,
            backends,
            filters: rule.filters.to_vec(),
            mirrors: mirrors.into_boxed_slice(),
            protocol: route.flavor.protocol(),
            index,
            refused,
            timeout,
            total,
        });
    }
    (checked, resolved)
}

/// A backendRef's own filters: its header modifiers (HTTPRouteBackendRequestHeaderModification
/// and the response side); any other filter there cannot be honoured.
fn backend_headers(filters: &[HttpRouteFilter]) -> Result<Option<Box<BackendHeaders>>, String> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut headers = BackendHeaders::default();
    for (f, filter) in filters.iter().enumerate() {
        let at = |sub: &str, why: String| format!("filters[{f}].{sub}: {why}");
        match (
            filter.filter_type.as_str(),
            &filter.request_header_modifier,
            &filter.response_header_modifier,
        ) {
            ("RequestHeaderModifier", Some(m), _) => {
                let edits = header_edits(m)
                    .map_err(|(s, w)| at(&format!("requestHeaderModifier.{s}"), w))?;
                merge_edits(&mut headers.request, edits);
            }
            ("ResponseHeaderModifier", _, Some(m)) => {
                let edits = header_edits(m)
                    .map_err(|(s, w)| at(&format!("responseHeaderModifier.{s}"), w))?;
                merge_edits(&mut headers.response, edits);
            }
            (other, _, _) => {
                return Err(format!(
                    "filter type {other:?} on a backendRef is not supported (the header modifiers are)"
                ));
            }
        }
    }
    Ok(Some(Box::new(headers)))
}

/// The share of requests a RequestMirror copies, as `numerator / denominator`.
fn mirror_share(
    mirror: &portcullis_kube::objects::gateway_api::RequestMirror,
) -> Result<(u32, u32), String> {
    let (numerator, denominator) = match (&mirror.fraction, mirror.percent) {
        (Some(fraction), _) => (fraction.numerator, fraction.denominator.unwrap_or(100)),
        (None, Some(percent)) => (percent, 100),
        (None, None) => (1, 1),
    };
    match (u32::try_from(numerator), u32::try_from(denominator)) {
        (Ok(numerator), Ok(denominator)) if denominator > 0 && numerator <= denominator => {
            Ok((numerator, denominator))
        }
        _ => Err(format!(
            "a mirrored share of {numerator}/{denominator} is not between 0 and 1"
        )),
    }
}

/// A rule's matches as paths and conditions; a match that cannot be honoured is dropped
/// (never widened), with a diagnostic.
fn check_matches(
    key: &ObjectKey,
    flavor: Flavor,
    rule: &RuleView<'_>,
    rule_index: usize,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<CheckedMatch> {
    let default_match = HttpRouteMatch::default();
    let default_grpc = Default::default();
    let default = [match flavor {
        Flavor::Http | Flavor::Tls => MatchView::Http(&default_match),
        Flavor::Grpc => MatchView::Grpc(&default_grpc),
    }];
    let matches = if rule.matches.is_empty() {
        &default[..]
    } else {
        &rule.matches
    };
    let mut checked = Vec::new();
    for (index, one) in matches.iter().enumerate() {
        let parts = match one {
            MatchView::Http(one) => check_match(one),
            MatchView::Grpc(one) => grpc_match(one),
        };
        match parts {
            Ok(parts) => checked.push(CheckedMatch {
                path: parts.path,
                kind: parts.kind,
                prefix: parts.prefix,
                conditions: parts.conditions,
                rank: parts.rank,
                index,
            }),
            Err((sub, why)) => diagnostics.push(Diagnostic::error(
                Reason::UnsupportedValue,
                key,
                format!("spec.rules[{rule_index}].matches[{index}].{sub}"),
                format!("{why}; this match is not served"),
            )),
        }
    }
    checked
}

fn check_match(one: &HttpRouteMatch) -> Result<MatchParts, (String, String)> {
    let path = one.path.as_ref();
    let value = path
        .and_then(|p| p.value.clone())
        .unwrap_or_else(|| "/".into());
    let (kind, prefix, path) = match path.and_then(|p| p.match_type.as_deref()) {
        None | Some("PathPrefix") => {
            if !value.starts_with('/') {
                return Err((
                    "path.value".into(),
                    format!("{value:?} does not start with /"),
                ));
            }
            (PathKind::Prefix, Some(value.clone()), value)
        }
        Some("Exact") => {
            if !value.starts_with('/') {
                return Err((
                    "path.value".into(),
                    format!("{value:?} does not start with /"),
                ));
            }
            (PathKind::Exact, None, value)
        }
        // The route model anchors a pattern at the start; Gateway API matches the whole path.
        Some("RegularExpression") => (
            PathKind::Regex {
                case_insensitive: false,
            },
            None,
            format!("(?:{value})$"),
        ),
        Some(other) => {
            return Err((
                "path.type".into(),
                format!("{other:?} is not a path match type"),
            ));
        }
    };
    let kind_rank = match kind {
        PathKind::Exact => 0,
        PathKind::Regex { .. } => 1,
        PathKind::Prefix => 2,
    };
    let rank = PathRank::Http(kind_rank, Reverse(path.trim_end_matches('/').len()));
    let mut conditions = Conditions::default();
    if let Some(method) = &one.method {
        conditions.method = Some(
            Method::from_bytes(method.as_bytes())
                .map_err(|_| ("method".to_string(), format!("{method:?} is not a method")))?,
        );
    }
    conditions.headers = header_conditions(&one.headers)?;
    for (index, query) in one.query_params.iter().enumerate() {
        let value = value_match(query.match_type.as_deref(), &query.value)
            .map_err(|why| (format!("queryParams[{index}].type"), why))?;
        conditions.query.push(NamedCondition {
            name: query.name.clone(),
            value,
        });
    }
    Ok(MatchParts {
        path,
        kind,
        prefix,
        conditions,
        rank,
    })
}

/// A match's `headers` as conditions.
pub(crate) fn header_conditions(
    headers: &[portcullis_kube::objects::gateway_api::NameValueMatch],
) -> Result<Vec<HeaderCondition>, (String, String)> {
    let mut conditions = Vec::new();
    for (index, header) in headers.iter().enumerate() {
        let name = HeaderName::try_from(header.name.as_str()).map_err(|_| {
            (
                format!("headers[{index}].name"),
                format!("{:?} is not a header name", header.name),
            )
        })?;
        let value = value_match(header.match_type.as_deref(), &header.value)
            .map_err(|why| (format!("headers[{index}].type"), why))?;
        conditions.push(HeaderCondition { name, value });
    }
    Ok(conditions)
}

fn value_match(match_type: Option<&str>, value: &str) -> Result<ValueMatch, String> {
    match match_type {
        None | Some("Exact") => Ok(ValueMatch::Exact(value.to_string())),
        Some("RegularExpression") => Ok(ValueMatch::Regex(value.to_string())),
        Some(other) => Err(format!("{other:?} is not Exact or RegularExpression")),
    }
}

type Problem = (Reason, &'static str, String);

/// One backendRef: a Service's endpoints, or an invalid target that answers 500.
fn backend(
    snapshot: &Snapshot,
    resolver: BackendResolver<'_>,
    policies: &BackendTlsBook,
    route: &ObjectKey,
    reference: &HttpBackendRef,
) -> (Backend, Option<Problem>) {
    let namespace = reference.namespace.as_deref().unwrap_or(&route.namespace);
    let port_text = reference.port.map(|p| p.to_string()).unwrap_or_default();
    let origin = Origin {
        namespace: namespace.into(),
        ingress: route.name.as_str().into(),
        service: reference.name.as_str().into(),
        port: port_text.as_str().into(),
    };
    let invalid = |problem: Problem| {
        (
            Backend {
                tls: None,
                headers: None,
                origin: Some(origin.clone()),
                target: Target::Invalid(problem.2.clone()),
            },
            Some(problem),
        )
    };
    let group = reference.group.as_deref().unwrap_or("");
    let kind = reference.kind.as_deref().unwrap_or("Service");
    if !(group.is_empty() || group == "core") || kind != "Service" {
        return invalid((
            Reason::InvalidKind,
            "InvalidKind",
            format!("backend kind {group}/{kind} is not supported (Service is)"),
        ));
    }
    let headers = match backend_headers(&reference.filters) {
        Ok(headers) => headers,
        Err(why) => return invalid((Reason::UnsupportedValue, "UnsupportedValue", why)),
    };
    let referrer = Referrer {
        kind: route.kind.as_str(),
        namespace: &route.namespace,
    };
    let referent = Referent {
        kind: "Service",
        namespace,
        name: &reference.name,
    };
    if !permitted(snapshot, referrer, referent) {
        return invalid((
            Reason::RefNotPermitted,
            "RefNotPermitted",
            format!(
                "no ReferenceGrant in namespace {namespace} lets {}s of {} use Service {}",
                route.kind, route.namespace, reference.name
            ),
        ));
    }
    let Some(port) = reference.port else {
        return invalid((
            Reason::UnsupportedValue,
            "UnsupportedValue",
            "a Service backendRef needs a port".into(),
        ));
    };
    match resolver.resolve(namespace, &reference.name, &PortRef::Number(port)) {
        Ok(endpoints) => {
            let port_name = snapshot
                .services
                .get(&(namespace.to_string(), reference.name.clone()))
                .and_then(|s| s.ports.iter().find(|p| p.port == port))
                .map_or("", |p| &*p.name);
            let policy = policies.for_backend(namespace, &reference.name, port_name);
            let tls = match policy {
                None => None,
                Some((key, used)) => {
                    match used {
                        PolicyUse::Verify(tls) => Some(Arc::clone(tls)),
                        // The policy's own status and diagnostics say why.
                        PolicyUse::Refused(why) => {
                            return (
                                Backend {
                                    tls: None,
                                    headers: None,
                                    origin: Some(origin),
                                    target: Target::Invalid(format!(
                                        "{} {}/{}: {why}",
                                        key.kind, key.namespace, key.name
                                    )),
                                },
                                None,
                            );
                        }
                    }
                }
            };
            (
                Backend {
                    tls,
                    headers,
                    origin: Some(origin),
                    target: Target::Endpoints(endpoints),
                },
                None,
            )
        }
        Err(
            problem @ (BackendProblem::ServiceMissing { .. } | BackendProblem::PortMissing { .. }),
        ) => {
            let text = problem.to_string();
            let text = text.split(';').next().unwrap_or(&text).to_string();
            invalid((Reason::BackendNotFound, "BackendNotFound", text))
        }
        Err(problem) => {
            let text = problem.to_string();
            let text = text.split(';').next().unwrap_or(&text).to_string();
            invalid((Reason::UnsupportedValue, "UnsupportedValue", text))
        }
    }
}

impl CheckedRule {
    /// The rule's path rules on a listener of `port`, each with its precedence. Its matches
    /// share one `RouteSpec` (and so one compiled route), unless a ReplacePrefixMatch needs
    /// each match's prefix.
    pub fn ranked_rules(
        &self,
        key: &ObjectKey,
        order: &RouteOrder,
        rule_index: usize,
        port: u16,
        specs: &mut Vec<Arc<RouteSpec>>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Vec<Arc<RankedRule>> {
        let per_prefix = self.filters.iter().any(|f| {
            let replaces = |m: &Option<portcullis_kube::objects::gateway_api::PathModifier>| {
                m.as_ref()
                    .is_some_and(|m| m.modifier_type == "ReplacePrefixMatch")
            };
            f.url_rewrite.as_ref().is_some_and(|r| replaces(&r.path))
                || f.request_redirect
                    .as_ref()
                    .is_some_and(|r| replaces(&r.path))
        });
        let mut shared: Option<Arc<RouteSpec>> = None;
        let mut ranked = Vec::new();
        for one in &self.matches {
            let reuse = shared.as_ref().filter(|_| !per_prefix).cloned();
            let spec = reuse.unwrap_or_else(|| {
                let spec = Arc::new(match self.spec(key, one.prefix.as_deref(), port) {
                    Ok(spec) => spec,
                    Err((at, why)) => {
                        diagnostics.push(Diagnostic::error(
                            Reason::UnsupportedValue,
                            key,
                            format!("spec.rules[{}].{at}", self.index),
                            format!("{why}; the rule answers 500"),
                        ));
                        invalid_spec(key, &why)
                    }
                });
                // Rules of the route behaving alike share one spec, so one compiled route.
                let spec = match specs.iter().find(|known| **known == spec) {
                    Some(known) => Arc::clone(known),
                    None => {
                        specs.push(Arc::clone(&spec));
                        spec
                    }
                };
                shared = Some(Arc::clone(&spec));
                spec
            });
            let c = &one.conditions;
            ranked.push(Arc::new(RankedRule {
                precedence: (
                    one.rank,
                    Reverse(c.method.is_some()),
                    Reverse(c.headers.len()),
                    Reverse(c.query.len()),
                    Arc::clone(order),
                    rule_index,
                    one.index,
                ),
                rule: PathRule {
                    path: one.path.clone(),
                    kind: one.kind,
                    conditions: one.conditions.clone(),
                    route: spec,
                },
            }));
        }
        ranked
    }

    /// The behaviour of one match of this rule on a listener of `port`.
    fn spec(
        &self,
        key: &ObjectKey,
        prefix: Option<&str>,
        port: u16,
    ) -> Result<RouteSpec, (String, String)> {
        if let Some(why) = &self.refused {
            return Ok(invalid_spec(key, why));
        }
        let mut spec = if self.backends.is_empty() {
            invalid_spec(key, "the rule has no backendRefs")
        } else {
            RouteSpec::forward(Arc::clone(&self.backends[0].backend))
        };
        spec.origin = Some(route_origin(key));
        if let Action::Forward(forward) = &mut spec.action {
            if !self.backends.is_empty() {
                forward.backends = self.backends.clone();
            }
            forward.timeouts.response = self.timeout;
            forward.timeouts.total = self.total;
            forward.protocol = self.protocol;
            forward.mirrors = self.mirrors.clone();
            // A request that timed out is not sent again (no Gateway API route asks for it).
            forward.next_upstream.timeout = false;
        }
        for (f, filter) in self.filters.iter().enumerate() {
            let at = |sub: String| format!("filters[{f}].{sub}");
            match filter.filter_type.as_str() {
                "RequestHeaderModifier" => {
                    if let Some(m) = &filter.request_header_modifier {
                        let edits = header_edits(m)
                            .map_err(|(s, w)| (at(format!("requestHeaderModifier.{s}")), w))?;
                        merge_edits(&mut spec.request_headers, edits);
                    }
                }
                "ResponseHeaderModifier" => {
                    if let Some(m) = &filter.response_header_modifier {
                        let edits = header_edits(m)
                            .map_err(|(s, w)| (at(format!("responseHeaderModifier.{s}")), w))?;
                        merge_edits(&mut spec.response_headers, edits);
                    }
                }
                "RequestRedirect" => {
                    if let Some(r) = &filter.request_redirect {
                        let redirect = redirect(r, prefix, port)
                            .map_err(|(s, w)| (at(format!("requestRedirect.{s}")), w))?;
                        spec.action = Action::Redirect(redirect);
                    }
                }
                "URLRewrite" => {
                    if let Some(r) = &filter.url_rewrite {
                        spec.rewrite = rewrite(r, prefix)
                            .map_err(|(s, w)| (at(format!("urlRewrite.{s}")), w))?;
                    }
                }
                "CORS" => {
                    if let Some(c) = &filter.cors {
                        spec.cors = Some(Box::new(
                            cors(c).map_err(|(s, w)| (at(format!("cors.{s}")), w))?,
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(spec)
    }
}

fn merge_edits(
    into: &mut portcullis_route::spec::HeaderEdits,
    more: portcullis_route::spec::HeaderEdits,
) {
    into.set.extend(more.set);
    into.add.extend(more.add);
    into.remove.extend(more.remove);
}

/// Whose rules these are, for the proxy's own answers (redirects, 500s).
fn route_origin(key: &ObjectKey) -> Origin {
    Origin {
        namespace: key.namespace.as_str().into(),
        ingress: key.name.as_str().into(),
        service: "".into(),
        port: "".into(),
    }
}

/// A rule that answers 500 for `why`.
fn invalid_spec(key: &ObjectKey, why: &str) -> RouteSpec {
    RouteSpec::forward(Arc::new(Backend {
        tls: None,
        headers: None,
        origin: Some(route_origin(key)),
        target: Target::Invalid(why.to_string()),
    }))
}
