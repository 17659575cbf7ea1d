//! Spec → compiled host: shares what can be shared (one compiled route per `Arc<RouteSpec>`,
//! one upstream per `Arc<Backend>`, one path index per layout) and turns what cannot be
//! compiled into warnings, never into a panic or a route that opens more than the spec says.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;
use http::{HeaderValue, StatusCode};

use super::conditions::CompiledConditions;
use super::path_index::{PathIndex, Rejected};
use super::route::{
    CompiledErrorPages, CompiledHeaderEdits, CompiledMirror, CompiledPathRewrite, CompiledRedirect,
    CompiledRewrite, EndpointSet, Route, RouteAction, RouteTarget, Upstream,
};
use super::split::Split;
use super::{CompileWarning, CompiledHost, CompiledRule};
use crate::counters::CounterSource;
use crate::path_patterns::canonical_prefix;
use crate::pattern::{Anchoring, compile};
use crate::spec::{
    Action, Backend, PathKind, PathRewrite, RedirectLocation, RouteSpec, Target, VirtualHost,
};

/// A layout's index and the paths it could not hold.
type Indexed = (Arc<PathIndex>, Vec<Rejected>);

/// State shared across the hosts of one table build.
pub(super) struct Compiler<'a> {
    metrics: &'a dyn CounterSource,
    routes: HashMap<usize, Arc<Route>, RandomState>,
    upstreams: HashMap<usize, Arc<Upstream>, RandomState>,
    /// Keeps every interned spec alive for the build, so no pointer key is reused.
    held_routes: Vec<Arc<RouteSpec>>,
    held_backends: Vec<Arc<Backend>>,
    indexes: HashMap<Vec<(String, PathKind, bool)>, Indexed, RandomState>,
}

impl<'a> Compiler<'a> {
    pub(super) fn new(metrics: &'a dyn CounterSource) -> Self {
        Compiler {
            metrics,
            routes: HashMap::default(),
            upstreams: HashMap::default(),
            held_routes: Vec::new(),
            held_backends: Vec::new(),
            indexes: HashMap::default(),
        }
    }

    /// The compiled route of `spec`, compiled once per build. A part that does not compile
    /// (a rewrite regex the translation should have refused) makes the route answer 503.
    pub(super) fn route(
        &mut self,
        spec: &Arc<RouteSpec>,
        warnings: &mut Vec<CompileWarning>,
        host: &str,
    ) -> Arc<Route> {
        let key = Arc::as_ptr(spec) as usize;
        if let Some(route) = self.routes.get(&key) {
            return Arc::clone(route);
        }
        let route = match self.build_route(spec) {
            Ok(route) => route,
            Err(reason) => {
                warnings.push(CompileWarning {
                    host: host.to_owned(),
                    path: String::new(),
                    kind: PathKind::Prefix,
                    reason: format!("route not compiled, requests get 503: {reason}"),
                    origin: spec.origin.clone(),
                });
                self.unavailable(spec, &reason)
            }
        };
        let route = Arc::new(route);
        self.held_routes.push(Arc::clone(spec));
        self.routes.insert(key, Arc::clone(&route));
        route
    }

    fn unavailable(&mut self, spec: &RouteSpec, reason: &str) -> Route {
        let upstream = Arc::new(Upstream {
            origin: spec.origin.clone(),
            target: RouteTarget::Unavailable(reason.into()),
            metrics: self.metrics.route_counters(spec.origin.as_ref()),
            tls: None,
            headers: None,
        });
        Route {
            origin: spec.origin.clone(),
            metrics: Arc::clone(&upstream.metrics),
            https_redirect: None,
            body_limit: None,
            rewrite: None,
            request_headers: CompiledHeaderEdits::default(),
            response_headers: CompiledHeaderEdits::default(),
            cors: None,
            source_ranges: None,
            error_pages: None,
            action: RouteAction::Forward {
                split: Split::new(vec![(1, upstream)]),
                timeouts: Default::default(),
                affinity: None,
                protocol: Default::default(),
                balance: Default::default(),
                next_upstream: Default::default(),
                mirrors: Box::default(),
            },
        }
    }

    fn build_route(&mut self, spec: &RouteSpec) -> Result<Route, String> {
        let action = match &spec.action {
            Action::Forward(forward) => RouteAction::Forward {
                split: Split::new(
                    forward
                        .backends
                        .iter()
                        .map(|weighted| (weighted.weight, self.upstream(&weighted.backend)))
                        .collect(),
                ),
                timeouts: forward.timeouts,
                affinity: forward.affinity.clone(),
                protocol: forward.protocol,
                balance: forward.balance.clone(),
                next_upstream: forward.next_upstream.clone(),
                mirrors: forward
                    .mirrors
                    .iter()
                    .map(|mirror| CompiledMirror {
                        upstream: self.upstream(&mirror.backend),
                        numerator: mirror.numerator,
                        denominator: mirror.denominator.max(1),
                        seen: Default::default(),
                    })
                    .collect(),
            },
            Action::Redirect(redirect) => RouteAction::Redirect(CompiledRedirect {
                status: StatusCode::from_u16(redirect.status)
                    .map_err(|_| format!("redirect status {}", redirect.status))?,
                path: match &redirect.location {
                    RedirectLocation::Rebuilt {
                        path: Some(path), ..
                    } => Some(path_rewrite(path)?),
                    _ => None,
                },
                location: redirect.location.clone(),
            }),
        };
        let rewrite = if spec.rewrite.host.is_none() && spec.rewrite.path.is_none() {
            None
        } else {
            Some(Box::new(CompiledRewrite {
                host: match &spec.rewrite.host {
                    Some(host) => Some(
                        HeaderValue::try_from(host.as_str())
                            .map_err(|_| format!("rewrite host {host:?}"))?,
                    ),
                    None => None,
                },
                path: spec.rewrite.path.as_ref().map(path_rewrite).transpose()?,
            }))
        };
        let https_redirect = spec
            .https_redirect
            .map(|status| {
                StatusCode::from_u16(status).map_err(|_| format!("redirect status {status}"))
            })
            .transpose()?;
        Ok(Route {
            origin: spec.origin.clone(),
            metrics: self.metrics.route_counters(spec.origin.as_ref()),
            https_redirect,
            body_limit: spec.body_limit,
            rewrite,
            request_headers: CompiledHeaderEdits::new(&spec.request_headers),
            response_headers: CompiledHeaderEdits::new(&spec.response_headers),
            cors: spec.cors.clone(),
            source_ranges: spec.source_ranges.clone(),
            error_pages: spec.error_pages.as_ref().map(|pages| {
                Box::new(CompiledErrorPages {
                    codes: pages.codes.clone().into_boxed_slice(),
                    when_unavailable: pages.when_unavailable,
                    upstream: self.upstream(&pages.backend),
                })
            }),
            action,
        })
    }

    /// The compiled upstream of `backend`, once per build: rules sharing a backend share its
    /// round-robin cursor.
    fn upstream(&mut self, backend: &Arc<Backend>) -> Arc<Upstream> {
        let key = Arc::as_ptr(backend) as usize;
        if let Some(upstream) = self.upstreams.get(&key) {
            return Arc::clone(upstream);
        }
        let target = match &backend.target {
            Target::Endpoints(addresses) => {
                RouteTarget::Endpoints(EndpointSet::of(backend.origin.as_ref(), addresses))
            }
            Target::Unavailable(reason) => RouteTarget::Unavailable(reason.as_str().into()),
            Target::Invalid(reason) => RouteTarget::Invalid(reason.as_str().into()),
            Target::NotFound => RouteTarget::NotFound,
        };
        let upstream = Arc::new(Upstream {
            origin: backend.origin.clone(),
            target,
            metrics: self.metrics.route_counters(backend.origin.as_ref()),
            tls: backend.tls.clone(),
            headers: backend.headers.as_ref().map(|h| {
                Box::new((
                    CompiledHeaderEdits::new(&h.request),
                    CompiledHeaderEdits::new(&h.response),
                ))
            }),
        });
        self.held_backends.push(Arc::clone(backend));
        self.upstreams.insert(key, Arc::clone(&upstream));
        upstream
    }

    /// The path index of a layout, built once per build, with what it could not hold.
    fn index(&mut self, host: &VirtualHost) -> Indexed {
        let layout: Vec<(String, PathKind, bool)> = host
            .paths
            .iter()
            .map(|rule| (rule.path.clone(), rule.kind, !rule.conditions.is_empty()))
            .collect();
        if let Some((index, rejected)) = self.indexes.get(&layout) {
            return (Arc::clone(index), rejected.clone());
        }
        let borrowed: Vec<(&str, PathKind, bool)> = layout
            .iter()
            .map(|(p, k, c)| (p.as_str(), *k, *c))
            .collect();
        let mut rejected = Vec::new();
        let index = Arc::new(PathIndex::build(&borrowed, &mut rejected));
        self.indexes
            .insert(layout, (Arc::clone(&index), rejected.clone()));
        (index, rejected)
    }
}

fn path_rewrite(rewrite: &PathRewrite) -> Result<CompiledPathRewrite, String> {
    Ok(match rewrite {
        PathRewrite::Full(path) => CompiledPathRewrite::Full(path.as_str().into()),
        PathRewrite::ReplacePrefix { prefix, with } => CompiledPathRewrite::ReplacePrefix {
            prefix: canonical_prefix(prefix).into(),
            with: with.as_str().into(),
        },
        PathRewrite::Regex {
            pattern,
            case_insensitive,
            replacement,
        } => CompiledPathRewrite::Regex {
            regex: compile(pattern, Anchoring::Start, *case_insensitive)
                .map_err(|error| format!("rewrite regex {pattern:?}: {error}"))?,
            replacement: replacement.as_str().into(),
        },
    })
}

pub(super) fn compile_host(host: &Arc<VirtualHost>, compiler: &mut Compiler<'_>) -> CompiledHost {
    let name = host.host.to_string();
    let mut warnings = Vec::new();
    let (index, rejected) = compiler.index(host);
    for Rejected { rule, path, reason } in rejected {
        let spec = host.paths.get(rule);
        warnings.push(CompileWarning {
            host: name.clone(),
            path,
            kind: spec.map_or(PathKind::Prefix, |r| r.kind),
            reason,
            origin: spec.and_then(|r| r.route.origin.clone()),
        });
    }
    let rules: Box<[CompiledRule]> = host
        .paths
        .iter()
        .map(|rule| {
            let route = compiler.route(&rule.route, &mut warnings, &name);
            let conditions = match CompiledConditions::compile(&rule.conditions) {
                Ok(conditions) => conditions,
                Err(reason) => {
                    warnings.push(CompileWarning {
                        host: name.clone(),
                        path: rule.path.clone(),
                        kind: rule.kind,
                        reason: format!("condition not compiled, rule skipped: {reason}"),
                        origin: rule.route.origin.clone(),
                    });
                    // A rule whose conditions cannot be checked never matches.
                    Some(Box::new(CompiledConditions::never()))
                }
            };
            CompiledRule { conditions, route }
        })
        .collect();
    let default = host
        .default_backend
        .as_ref()
        .map(|spec| compiler.route(spec, &mut warnings, &name));
    CompiledHost {
        source: Arc::clone(host),
        warnings,
        index,
        rules,
        default,
    }
}
