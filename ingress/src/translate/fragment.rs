//! One Ingress on its own: its paths per host, its default backends and the problems in it.
//!
//! A [`Fragment`] depends only on the Ingress, the IngressClasses and the Services (with their
//! endpoints) it names, so it is cached per Ingress and computed again only when one of those
//! changes. Conflicts between Ingresses are settled later, per host, in [`super::merge`].

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, Ingress, IngressBackend, IngressServiceBackend,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use portcullis_route::spec::{
    Action, Backend, ErrorPages, Forward, HostMatch, Origin, PathKind, PathRewrite, Redirect,
    RedirectLocation, Rewrite, RouteSpec, Target, WeightedBackend,
};

use super::annotations::{self, Annotations, BodySize, Canary, RouteAnnotations};
use super::class::ClassFilter;
use super::host_name::parse_host;
use super::tls::{covered, redirect_hosts};
use super::{ServiceRef, TranslateConfig};
use portcullis_kube::objects::ObjectKey;
use portcullis_translation::{BackendProblem, BackendResolver, PortRef};
use portcullis_translation::{Diagnostic, Reason};

/// Where an Ingress stands among all others: oldest first (creationTimestamp; objects
/// without one last), then namespace/name. On a conflict the one that sorts first wins, so
/// the outcome does not depend on which object changed last. Cheap to clone: the translator
/// keeps one in several indexes per Ingress.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Precedence {
    no_timestamp: bool,
    created: Option<Time>,
    /// Every key here is an Ingress, so this orders by namespace, then name.
    owner: Arc<ObjectKey>,
}

/// Everything one Ingress contributes to the table, before conflicts with other Ingresses.
#[derive(Debug)]
pub(super) struct Fragment {
    /// Also names the Ingress: see [`Fragment::owner`].
    pub(super) precedence: Precedence,
    /// Served by this controller (its class is ours).
    pub(super) accepted: bool,
    /// Problems found in this Ingress alone (class, paths, backends, annotations).
    pub(super) diagnostics: Vec<Diagnostic>,
    /// Per host, in the order the rules first name it.
    pub(super) hosts: Vec<(HostMatch, HostContribution)>,
    /// `spec.defaultBackend` of an Ingress without rules: a candidate for the table default.
    pub(super) global_default: Option<Arc<RouteSpec>>,
    /// The Services (in the Ingress's namespace) whose changes change this fragment.
    /// As (namespace, name): the Ingress's own, and the error backend's.
    pub(super) services: Vec<(String, String)>,
    /// Has `spec.tls` entries: the certificate pass must run again when it changes.
    pub(super) has_tls: bool,
}

/// What one Ingress claims on one host.
#[derive(Debug, Default)]
pub(super) struct HostContribution {
    /// Paths in the order written.
    pub(super) paths: Vec<PathClaim>,
    /// The Ingress's `spec.defaultBackend`, for this host's unmatched paths.
    pub(super) default: Option<Arc<RouteSpec>>,
    /// What the Ingress's annotations do to the whole host.
    pub(super) effects: Arc<HostEffects>,
}

/// What one Ingress's annotations do beyond its own paths (ingress-nginx applies these per
/// host, across Ingresses).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct HostEffects {
    /// Every path of the host is a case-insensitive regex (`use-regex`, or a
    /// `rewrite-target` that differs from a path).
    pub(super) regex: bool,
    /// `app-root`: `/` on this host redirects (302) here.
    pub(super) app_root: Option<String>,
    /// This is a canary Ingress: its paths add to the main Ingress's instead of claiming.
    pub(super) canary: Option<Canary>,
    /// `server-alias`: more names for the host.
    pub(super) aliases: Vec<String>,
    /// `from-to-www-redirect`: `www.` and the bare name redirect to each other's host.
    pub(super) www_redirect: bool,
}

/// The effects of an Ingress whose annotations do nothing beyond its own paths.
fn no_host_effects() -> &'static Arc<HostEffects> {
    static NONE: std::sync::OnceLock<Arc<HostEffects>> = std::sync::OnceLock::new();
    NONE.get_or_init(|| Arc::new(HostEffects::default()))
}

/// One valid path of one rule.
#[derive(Debug)]
pub(super) struct PathClaim {
    pub(super) field: Field,
    pub(super) kind: PathKind,
    /// As written.
    pub(super) path: String,
    /// What answers the path, made of its backend and the Ingress's annotations.
    pub(super) route: Arc<RouteSpec>,
    /// The backend alone, for a canary to attach to the main Ingress's route.
    pub(super) backend: Arc<Backend>,
}

/// Where in an Ingress a backend or path sits; turned into text only when a diagnostic needs it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Field {
    DefaultBackend,
    Path { rule: usize, path: usize },
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::DefaultBackend => f.write_str("spec.defaultBackend"),
            Field::Path { rule, path } => write!(f, "spec.rules[{rule}].http.paths[{path}]"),
        }
    }
}

/// Backends already resolved for one Ingress, by (service, port number, port name), and the
/// routes made of them, by (backend, redirect): every path naming the same Service port shares
/// one `Arc<Backend>`, and with the same behaviour one `Arc<RouteSpec>`.
struct BackendCache<'s> {
    backends: Vec<(ServicePortKey<'s>, Arc<Backend>)>,
    routes: Vec<(RouteKey, Arc<RouteSpec>)>,
    annotations: &'s RouteAnnotations,
    default_body_size: Option<u64>,
    /// `default-backend` and `custom-http-errors`, resolved once per Ingress.
    error_pages: Option<ErrorPages>,
}

/// A Service port as an Ingress names it: (service, port number, port name).
type ServicePortKey<'s> = (&'s str, Option<i32>, Option<&'s str>);

/// A route of one Ingress: (its backend's address, redirect, the path when it is rewritten).
type RouteKey = (usize, bool, Option<String>);

static X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");

impl BackendCache<'_> {
    /// The route of `path` forwarding to `backend` with the Ingress's annotations,
    /// redirecting plain HTTP when `https_redirect`. `path` is `None` for a default backend
    /// (no rewrite applies).
    fn route(
        &mut self,
        backend: &Arc<Backend>,
        https_redirect: bool,
        path: Option<&str>,
    ) -> Arc<RouteSpec> {
        let a = self.annotations;
        // As ingress-nginx: a target equal to the path is no rewrite.
        let rewritten = match (&a.rewrite_target, path) {
            (Some(target), Some(path)) if target != path => Some((path, target)),
            _ => None,
        };
        // The route depends on the path when it rewrites it or names it in a cookie.
        let by_path = rewritten.is_some()
            || a.affinity
                .as_ref()
                .is_some_and(|affinity| affinity.path.is_empty());
        let key = (
            Arc::as_ptr(backend) as usize,
            https_redirect,
            path.filter(|_| by_path).map(str::to_owned),
        );
        if let Some((_, route)) = self.routes.iter().find(|(k, _)| *k == key) {
            return Arc::clone(route);
        }
        let mut request_headers = a.snippet.request.clone();
        // ingress-nginx sends X-Forwarded-Prefix only with a rewrite.
        if let (Some(prefix), Some(_)) = (&a.forwarded_prefix, rewritten) {
            request_headers
                .set
                .push((X_FORWARDED_PREFIX.clone(), prefix.clone()));
        }
        let action = match &a.redirect {
            Some((status, url)) => Action::Redirect(Redirect {
                status: *status,
                location: RedirectLocation::Fixed(url.clone()),
            }),
            None => Action::Forward(Forward {
                mirrors: Box::default(),
                backends: vec![WeightedBackend {
                    weight: 1,
                    backend: Arc::clone(backend),
                }],
                timeouts: a.timeouts,
                affinity: a.affinity.clone().map(|mut affinity| {
                    // ingress-nginx: the Ingress path as written, unless set.
                    if affinity.path.is_empty() {
                        affinity.path = path.unwrap_or("/").to_owned();
                    }
                    Box::new(affinity)
                }),
                protocol: a.backend_protocol,
                balance: a.balance.clone(),
                next_upstream: a.next_upstream.clone(),
            }),
        };
        let route = Arc::new(RouteSpec {
            origin: backend.origin.clone(),
            https_redirect: (https_redirect || a.force_ssl_redirect).then_some(308),
            body_limit: match a.body_size {
                Some(BodySize::Bytes(limit)) => Some(limit),
                Some(BodySize::Unlimited) => None,
                None => self.default_body_size,
            },
            rewrite: Rewrite {
                host: a.upstream_vhost.clone(),
                path: rewritten.map(|(path, target)| PathRewrite::Regex {
                    pattern: path.to_owned(),
                    case_insensitive: true,
                    replacement: target.clone(),
                }),
            },
            request_headers,
            response_headers: a.snippet.response.clone(),
            cors: a.cors.clone().map(Box::new),
            source_ranges: a.source_ranges.clone().map(Box::new),
            error_pages: self.error_pages.clone().map(Box::new),
            action,
        });
        self.routes.push((key, Arc::clone(&route)));
        route
    }
}

impl Precedence {
    /// The precedence of an Ingress.
    pub(super) fn of(owner: Arc<ObjectKey>, ingress: &Ingress) -> Self {
        let created = ingress.metadata.creation_timestamp.clone();
        Precedence {
            no_timestamp: created.is_none(),
            created,
            owner,
        }
    }
}

/// Translates one Ingress on its own.
/// `owner` is the Ingress's key.
pub(super) fn fragment(
    owner: Arc<ObjectKey>,
    ingress: &Ingress,
    filter: &ClassFilter<'_>,
    resolver: BackendResolver<'_>,
    config: &TranslateConfig,
) -> Fragment {
    let mut fragment = Fragment {
        precedence: Precedence::of(owner, ingress),
        accepted: false,
        diagnostics: Vec::new(),
        hosts: Vec::new(),
        global_default: None,
        services: Vec::new(),
        has_tls: false,
    };
    fragment.accepted = filter.accepts(
        &fragment.precedence.owner,
        ingress,
        &mut fragment.diagnostics,
    );
    if fragment.accepted {
        let review = annotations::review(
            &fragment.precedence.owner,
            ingress.metadata.annotations.as_ref(),
            &mut fragment.diagnostics,
        );
        let behaviour = annotations::parse(
            &fragment.precedence.owner,
            &Annotations::new(ingress.metadata.annotations.as_ref()),
            &mut fragment.diagnostics,
        );
        fragment.add_rules(ingress, resolver, config, &behaviour);
        if let Some(annotation) = review.fail_closed.or(behaviour.fail_closed) {
            fragment.close(&annotation);
        }
    }
    fragment
}

impl Fragment {
    /// Keeps every path and default of this Ingress claimed, so no other rule answers them,
    /// but answering 503: `annotation` asks for access control that is not enforced.
    fn close(&mut self, annotation: &str) {
        let closed_backend = |origin: &Option<Origin>| {
            Arc::new(Backend {
                tls: None,
                headers: None,
                origin: origin.clone(),
                target: Target::Unavailable(format!(
                    "not served: annotation {annotation} is not enforced (fail closed)"
                )),
            })
        };
        let closed =
            |route: &Arc<RouteSpec>| Arc::new(RouteSpec::forward(closed_backend(&route.origin)));
        for (_, contribution) in &mut self.hosts {
            for claim in &mut contribution.paths {
                claim.route = closed(&claim.route);
                // A canary carrying it must not take traffic unprotected either.
                claim.backend = closed_backend(&claim.backend.origin);
            }
            if let Some(default) = &mut contribution.default {
                *default = closed(default);
            }
        }
        if let Some(default) = &mut self.global_default {
            *default = closed(default);
        }
    }

    /// The Ingress this fragment translates.
    pub(super) fn owner(&self) -> &Arc<ObjectKey> {
        &self.precedence.owner
    }

    fn add_rules(
        &mut self,
        ingress: &Ingress,
        resolver: BackendResolver<'_>,
        config: &TranslateConfig,
        behaviour: &RouteAnnotations,
    ) {
        let key = Arc::clone(self.owner());
        let Some(spec) = ingress.spec.as_ref() else {
            self.diagnostics.push(Diagnostic::error(
                Reason::InvalidIngress,
                &key,
                "spec",
                "missing; nothing to serve",
            ));
            return;
        };
        self.has_tls = spec.tls.as_ref().is_some_and(|tls| !tls.is_empty());
        self.services = service_names(ingress)
            .into_iter()
            .map(|name| (key.namespace.clone(), name))
            .collect();
        if let Some(service) = &behaviour.default_backend {
            self.services.push((key.namespace.clone(), service.clone()));
        }
        if !behaviour.custom_http_errors.is_empty()
            && let Some(flag) = &config.default_backend_service
        {
            self.services
                .push((flag.namespace.clone(), flag.name.clone()));
        }
        self.services.sort_unstable();
        self.services.dedup();
        let redirect_hosts = match config.tls {
            Some(_) => redirect_hosts(&key, ingress, &mut self.diagnostics),
            None => HashSet::new(),
        };
        let error_pages = error_pages(resolver, config, &key, behaviour, &mut self.diagnostics);
        let mut cache = BackendCache {
            backends: Vec::new(),
            routes: Vec::new(),
            annotations: behaviour,
            default_body_size: config.default_body_size,
            error_pages,
        };
        let effects = HostEffects {
            regex: behaviour.regex || rewrites_a_path(ingress, behaviour),
            app_root: behaviour.app_root.clone(),
            canary: behaviour.canary.clone(),
            aliases: behaviour.aliases.clone(),
            www_redirect: behaviour.www_redirect,
        };
        // Most Ingresses have none: they share one, instead of 10,000 alike.
        let effects = if effects == HostEffects::default() {
            Arc::clone(no_host_effects())
        } else {
            Arc::new(effects)
        };
        let default = spec.default_backend.as_ref().map(|backend| {
            resolve_backend(
                resolver,
                &mut self.diagnostics,
                &key,
                backend,
                Field::DefaultBackend,
                &mut cache,
            )
        });
        let rules = spec.rules.as_deref().unwrap_or_default();
        if rules.is_empty() {
            match default {
                Some(backend) => self.global_default = Some(cache.route(&backend, false, None)),
                None => self.diagnostics.push(Diagnostic::error(
                    Reason::InvalidIngress,
                    &key,
                    "spec",
                    "has neither rules nor defaultBackend; nothing to serve",
                )),
            }
            return;
        }
        for (i, rule) in rules.iter().enumerate() {
            let host = match parse_host(rule.host.as_deref()) {
                Ok(host) => host,
                Err(why) => {
                    self.diagnostics.push(Diagnostic::error(
                        Reason::InvalidHost,
                        &key,
                        format!("spec.rules[{i}].host"),
                        format!("{why}; rule skipped"),
                    ));
                    continue;
                }
            };
            let redirect = covered(&redirect_hosts, &host);
            let slot = match self.hosts.iter().position(|(h, _)| *h == host) {
                Some(found) => found,
                None => {
                    let default = default
                        .as_ref()
                        .map(|backend| cache.route(backend, redirect, None));
                    self.hosts.push((
                        host.clone(),
                        HostContribution {
                            paths: Vec::new(),
                            default,
                            effects: Arc::clone(&effects),
                        },
                    ));
                    self.hosts.len() - 1
                }
            };
            let paths = rule
                .http
                .as_ref()
                .map(|h| h.paths.as_slice())
                .unwrap_or_default();
            for (j, path) in paths.iter().enumerate() {
                let field = Field::Path { rule: i, path: j };
                let Some((kind, text)) = validate_path(&mut self.diagnostics, &key, field, path)
                else {
                    continue;
                };
                let backend = resolve_backend(
                    resolver,
                    &mut self.diagnostics,
                    &key,
                    &path.backend,
                    field,
                    &mut cache,
                );
                let route = cache.route(&backend, redirect, Some(text));
                self.hosts[slot].1.paths.push(PathClaim {
                    field,
                    kind,
                    path: text.to_string(),
                    route,
                    backend,
                });
            }
        }
    }
}

/// The error backend of `default-backend` (a Service of the Ingress's namespace, its first
/// port, used only with ready endpoints, as ingress-nginx) and `custom-http-errors` (without
/// `default-backend`: `--default-backend-service`, else the built-in 404).
fn error_pages(
    resolver: BackendResolver<'_>,
    config: &TranslateConfig,
    key: &ObjectKey,
    behaviour: &RouteAnnotations,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<ErrorPages> {
    let codes = behaviour.custom_http_errors.clone();
    let from_annotation = behaviour.default_backend.as_ref().and_then(|service| {
        let resolved = resolver
            .first_port(&key.namespace, service)
            .and_then(|port| {
                let endpoints = resolver.resolve(&key.namespace, service, &port)?;
                Ok((port, endpoints))
            });
        match resolved {
            Ok((port, endpoints)) if !endpoints.is_empty() => Some(Arc::new(Backend {
                tls: None,
                headers: None,
                origin: Some(Origin {
                    namespace: key.namespace.clone().into(),
                    ingress: key.name.clone().into(),
                    service: service.clone().into(),
                    port: port_text(Some(&port)).into(),
                }),
                target: Target::Endpoints(endpoints),
            })),
            outcome => {
                let why = match outcome {
                    Err(problem) => problem.to_string(),
                    Ok(_) => format!("Service {}/{service} has no ready endpoint", key.namespace),
                };
                diagnostics.push(Diagnostic::warning(
                    Reason::BackendUnavailable,
                    key,
                    "metadata.annotations[nginx.ingress.kubernetes.io/default-backend]",
                    format!("{why}; the default backend is not used while so (as ingress-nginx)"),
                ));
                None
            }
        }
    });
    if from_annotation.is_none() && codes.is_empty() {
        return None;
    }
    let backend = match from_annotation.clone() {
        Some(backend) => backend,
        None => match &config.default_backend_service {
            Some(service) => Arc::new(flag_backend(resolver, service).0),
            None => Arc::new(Backend::not_found()),
        },
    };
    Some(ErrorPages {
        codes,
        when_unavailable: from_annotation.is_some(),
        backend,
    })
}

/// True when the Ingress's `rewrite-target` differs from one of its paths: ingress-nginx then
/// makes every path of the host a regex.
fn rewrites_a_path(ingress: &Ingress, behaviour: &RouteAnnotations) -> bool {
    let Some(target) = &behaviour.rewrite_target else {
        return false;
    };
    ingress
        .spec
        .iter()
        .flat_map(|spec| spec.rules.iter().flatten())
        .filter_map(|rule| rule.http.as_ref())
        .flat_map(|http| http.paths.iter())
        .any(|path| path.path.as_deref().unwrap_or("/") != target)
}

/// The Services an Ingress names, sorted and without duplicates.
fn service_names(ingress: &Ingress) -> Vec<String> {
    let Some(spec) = ingress.spec.as_ref() else {
        return Vec::new();
    };
    let rule_backends = spec
        .rules
        .iter()
        .flatten()
        .filter_map(|rule| rule.http.as_ref())
        .flat_map(|http| http.paths.iter().map(|p| &p.backend));
    let mut names: Vec<String> = spec
        .default_backend
        .iter()
        .chain(rule_backends)
        .filter_map(|backend| backend.service.as_ref().map(|s| s.name.clone()))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Validates one path entry: its kind and its text, or a diagnostic and `None`.
fn validate_path<'p>(
    diagnostics: &mut Vec<Diagnostic>,
    key: &ObjectKey,
    field: Field,
    path: &'p HTTPIngressPath,
) -> Option<(PathKind, &'p str)> {
    let kind = match path.path_type.as_str() {
        "Exact" => PathKind::Exact,
        "Prefix" | "ImplementationSpecific" => PathKind::Prefix,
        "" => {
            diagnostics.push(Diagnostic::error(
                Reason::InvalidPath,
                key,
                format!("{field}.pathType"),
                "required: Exact, Prefix or ImplementationSpecific; path skipped",
            ));
            return None;
        }
        other => {
            diagnostics.push(Diagnostic::error(
                Reason::InvalidPath,
                key,
                format!("{field}.pathType"),
                format!(
                    "{other:?} is not one of Exact, Prefix, ImplementationSpecific; path skipped"
                ),
            ));
            return None;
        }
    };
    let text = match path.path.as_deref() {
        None | Some("") if path.path_type == "ImplementationSpecific" => "/",
        None | Some("") => {
            diagnostics.push(Diagnostic::error(
                Reason::InvalidPath,
                key,
                format!("{field}.path"),
                format!("required for pathType {}; path skipped", path.path_type),
            ));
            return None;
        }
        Some(text) => text,
    };
    let problem = if !text.starts_with('/') {
        Some("must start with '/'")
    } else if text.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        Some("contains spaces or control characters")
    } else {
        None
    };
    if let Some(problem) = problem {
        diagnostics.push(Diagnostic::error(
            Reason::InvalidPath,
            key,
            format!("{field}.path"),
            format!("{text:?} {problem}; path skipped"),
        ));
        return None;
    }
    Some((kind, text))
}

/// Resolves an Ingress backend once per Service port; a problem becomes a 503 backend plus a
/// diagnostic.
fn resolve_backend<'s>(
    resolver: BackendResolver<'_>,
    diagnostics: &mut Vec<Diagnostic>,
    key: &ObjectKey,
    backend: &'s IngressBackend,
    field: Field,
    cache: &mut BackendCache<'s>,
) -> Arc<Backend> {
    let service = match (&backend.service, &backend.resource) {
        (Some(service), None) => service,
        (None, Some(resource)) => {
            diagnostics.push(Diagnostic::error(
                Reason::BackendUnavailable,
                key,
                format!("{field}.backend.resource"),
                format!(
                    "resource backends ({} {}) are not supported; requests get 503",
                    resource.kind, resource.name
                ),
            ));
            return unavailable(key, "resource backends are not supported");
        }
        _ => {
            diagnostics.push(Diagnostic::error(
                Reason::BackendUnavailable,
                key,
                format!("{field}.backend"),
                "set exactly one of service and resource; requests get 503",
            ));
            return unavailable(key, "backend has no service");
        }
    };
    let port = service.port.as_ref();
    let cache_key = (
        service.name.as_str(),
        port.and_then(|p| p.number),
        port.and_then(|p| p.name.as_deref()),
    );
    if let Some((_, cached)) = cache.backends.iter().find(|(k, _)| *k == cache_key) {
        return Arc::clone(cached);
    }
    let port = port_ref(service);
    let origin = Origin {
        namespace: key.namespace.clone().into(),
        ingress: key.name.clone().into(),
        service: service.name.clone().into(),
        port: port_text(port.as_ref().ok()).into(),
    };
    let resolved = port.and_then(|port| {
        if cache.annotations.service_upstream {
            match resolver.resolve_cluster_ips(&key.namespace, &service.name, &port)? {
                Some(addresses) => return Ok(addresses),
                // As ingress-nginx: no cluster IP, so the endpoints after all.
                None => diagnostics.push(Diagnostic::warning(
                    Reason::InvalidAnnotation,
                    key,
                    format!("{field}.backend.service.name"),
                    format!(
                        "service-upstream: Service {}/{} is headless (no cluster IP); its endpoints are used",
                        key.namespace, service.name
                    ),
                )),
            }
        }
        resolver.resolve(&key.namespace, &service.name, &port)
    });
    let target = match resolved {
        Ok(endpoints) => Target::Endpoints(endpoints),
        Err(problem) => {
            let sub_field = match problem {
                BackendProblem::ServiceMissing { .. } | BackendProblem::ExternalName { .. } => {
                    "service.name"
                }
                _ => "service.port",
            };
            diagnostics.push(Diagnostic::error(
                Reason::BackendUnavailable,
                key,
                format!("{field}.backend.{sub_field}"),
                problem.to_string(),
            ));
            Target::Unavailable(problem.to_string())
        }
    };
    let resolved = Arc::new(Backend {
        tls: None,
        headers: None,
        origin: Some(origin),
        target,
    });
    cache.backends.push((cache_key, Arc::clone(&resolved)));
    resolved
}

/// The backend a `--default-backend-service` flag names: its port (the first when the flag
/// names none) and ready endpoints, or 503 with the problem, which is also returned.
pub(super) fn flag_backend(
    resolver: BackendResolver<'_>,
    service: &ServiceRef,
) -> (Backend, Option<BackendProblem>) {
    let port = match &service.port {
        Some(port) => Ok(port.clone()),
        None => resolver.first_port(&service.namespace, &service.name),
    };
    let origin = Origin {
        namespace: service.namespace.clone().into(),
        ingress: String::new().into(),
        service: service.name.clone().into(),
        port: port_text(port.as_ref().ok()).into(),
    };
    let resolved = port.and_then(|port| resolver.resolve(&service.namespace, &service.name, &port));
    let (target, problem) = match resolved {
        Ok(endpoints) => (Target::Endpoints(endpoints), None),
        Err(problem) => (Target::Unavailable(problem.to_string()), Some(problem)),
    };
    let backend = Backend {
        tls: None,
        headers: None,
        origin: Some(origin),
        target,
    };
    (backend, problem)
}

pub(super) fn port_text(port: Option<&PortRef>) -> String {
    match port {
        Some(PortRef::Number(n)) => n.to_string(),
        Some(PortRef::Name(n)) => n.clone(),
        None => String::new(),
    }
}

fn unavailable(key: &ObjectKey, reason: &str) -> Arc<Backend> {
    Arc::new(Backend {
        tls: None,
        headers: None,
        origin: Some(Origin {
            namespace: key.namespace.clone().into(),
            ingress: key.name.clone().into(),
            service: String::new().into(),
            port: String::new().into(),
        }),
        target: Target::Unavailable(reason.to_string()),
    })
}

/// The port of an Ingress service backend, or [`BackendProblem::PortUnset`].
fn port_ref(backend: &IngressServiceBackend) -> Result<PortRef, BackendProblem> {
    let port = backend.port.as_ref();
    match (
        port.and_then(|p| p.number),
        port.and_then(|p| p.name.as_deref()),
    ) {
        (Some(number), _) => Ok(PortRef::Number(number)),
        (None, Some(name)) if !name.is_empty() => Ok(PortRef::Name(name.to_string())),
        _ => Err(BackendProblem::PortUnset),
    }
}
