//! The compiled routing table: what the proxy reads on every request, without a lock.
//!
//! Built once from a [`TableSpec`] and never changed; a new configuration is a new table,
//! swapped in whole (the proxy's `LiveTable`). Requests in flight keep the `Arc<Route>`
//! they picked, so a swap never cuts them off.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use foldhash::fast::RandomState;
use http::uri::Authority;

use crate::counters::{CounterSource, RouteMetrics};
use crate::host::{normalize_host, wildcard_suffix};
use crate::path_patterns::patterns;
use crate::spec::{Backend, HostMatch, Origin, PathKind, TableSpec, Target, VirtualHost};

/// Host → path → route, ready for lookup.
#[derive(Debug)]
pub struct RoutingTable {
    exact: HashMap<Box<str>, Arc<CompiledHost>, RandomState>,
    wildcard: HashMap<Box<str>, Arc<CompiledHost>, RandomState>,
    any: Option<Arc<CompiledHost>>,
    default: Arc<Route>,
    path_count: usize,
}

/// What a request is sent to: a backend plus the counters of its route.
#[derive(Debug)]
pub struct Route {
    /// The Ingress and Service this route came from; `None` for the built-in default.
    pub origin: Option<Origin>,
    /// Where the request goes.
    pub target: RouteTarget,
    /// Request counters shared by every table that holds this route.
    pub metrics: Arc<RouteMetrics>,
    /// Plain-HTTP requests get a 308 to `https://`.
    pub https_redirect: bool,
}

/// Where a route's requests go, with the state load balancing needs.
#[derive(Debug)]
#[non_exhaustive]
pub enum RouteTarget {
    /// Ready endpoints, picked round robin. Empty means 503.
    Endpoints(EndpointSet),
    /// A misconfigured backend: 503, with the reason in the log.
    Unavailable(Box<str>),
    /// The built-in default backend: 404.
    NotFound,
}

/// Ready endpoints of one backend and the round-robin cursor over them.
#[derive(Debug)]
pub struct EndpointSet {
    endpoints: Box<[Endpoint]>,
    next: AtomicUsize,
}

/// One upstream address, with its URI authority built once at compile time instead of per
/// request.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Where to connect.
    pub address: SocketAddr,
    /// `ip:port` as a URI authority, for the upstream request URI.
    pub authority: Authority,
}

/// A path rule the matcher rejected: the rule is skipped, the rest of the table still applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host {host}: path {path} ({kind}) skipped: {reason}")]
pub struct CompileWarning {
    /// The host of the rule.
    pub host: String,
    /// The path of the rule.
    pub path: String,
    /// Exact or Prefix.
    pub kind: PathKind,
    /// What the matcher said.
    pub reason: String,
}

#[derive(Debug)]
struct CompiledHost {
    /// What this was compiled from: a later compile reuses this host when its spec holds the
    /// very same `Arc`, and holding it keeps the pointer from being recycled meanwhile.
    source: Arc<VirtualHost>,
    /// What the matcher rejected when this host was compiled, repeated when it is reused.
    warnings: Vec<CompileWarning>,
    /// Shared by every host with the same rule list: most hosts have identical path layouts,
    /// so sharing keeps the table small and the matcher hot in cache.
    paths: Arc<matchit::Router<usize>>,
    routes: Box<[Arc<Route>]>,
    default: Option<Arc<Route>>,
}

impl RoutingTable {
    /// Compiles a spec, taking each route's counters from `metrics` (which may intern them so
    /// they survive rebuilds). Rules the matcher cannot hold are skipped and returned as
    /// warnings.
    pub fn compile(
        spec: &TableSpec,
        metrics: &dyn CounterSource,
    ) -> (RoutingTable, Vec<CompileWarning>) {
        RoutingTable::compile_reusing(spec, metrics, None)
    }

    /// Like [`RoutingTable::compile`], but every host whose spec is the same `Arc` as in
    /// `previous` is taken over instead of compiled again: a change to one host of 10,000
    /// costs one host's compile plus the map inserts.
    pub fn compile_reusing(
        spec: &TableSpec,
        metrics: &dyn CounterSource,
        previous: Option<&RoutingTable>,
    ) -> (RoutingTable, Vec<CompileWarning>) {
        let mut routes = RouteInterner {
            metrics,
            seen: HashMap::default(),
        };
        let mut routers = RouterInterner::default();
        let mut warnings = Vec::new();
        let mut table = RoutingTable {
            exact: HashMap::with_capacity_and_hasher(spec.hosts.len(), RandomState::default()),
            wildcard: HashMap::default(),
            any: None,
            default: routes.route(&spec.default_backend),
            path_count: 0,
        };
        for host in &spec.hosts {
            table.path_count += host.paths.len();
            let compiled = match previous.and_then(|p| p.compiled(&host.host)) {
                Some(old) if Arc::ptr_eq(&old.source, host) => Arc::clone(old),
                _ => Arc::new(compile_host(host, &mut routes, &mut routers)),
            };
            warnings.extend(compiled.warnings.iter().cloned());
            match &host.host {
                HostMatch::Exact(name) => {
                    table.exact.insert(name.as_str().into(), compiled);
                }
                HostMatch::Wildcard(suffix) => {
                    table.wildcard.insert(suffix.as_str().into(), compiled);
                }
                HostMatch::Any => table.any = Some(compiled),
            }
        }
        (table, warnings)
    }

    fn compiled(&self, host: &HostMatch) -> Option<&Arc<CompiledHost>> {
        match host {
            HostMatch::Exact(name) => self.exact.get(name.as_str()),
            HostMatch::Wildcard(suffix) => self.wildcard.get(suffix.as_str()),
            HostMatch::Any => self.any.as_ref(),
        }
    }

    /// The route for a request. `host` is the raw `Host` header or `:authority` (case and
    /// port do not matter); `path` is the request path without the query.
    #[inline]
    pub fn find(&self, host: &str, path: &str) -> &Arc<Route> {
        let host = normalize_host(host);
        let compiled = self
            .exact
            .get(host.as_ref())
            .or_else(|| wildcard_suffix(&host).and_then(|suffix| self.wildcard.get(suffix)))
            .or(self.any.as_ref());
        compiled
            .and_then(|compiled| compiled.find(path))
            .unwrap_or(&self.default)
    }

    /// Virtual hosts in the table (exact, wildcard and the host-less one).
    pub fn host_count(&self) -> usize {
        self.exact.len() + self.wildcard.len() + usize::from(self.any.is_some())
    }

    /// Path rules in the table.
    pub fn path_count(&self) -> usize {
        self.path_count
    }
}

impl CompiledHost {
    #[inline]
    fn find(&self, path: &str) -> Option<&Arc<Route>> {
        match self.paths.at(path) {
            Ok(found) => self.routes.get(*found.value),
            Err(_) => self.default.as_ref(),
        }
    }
}

impl EndpointSet {
    /// Builds a set from addresses; the cursor starts at the first.
    pub fn new(addresses: &[SocketAddr]) -> Self {
        let mut text = String::with_capacity(48);
        let endpoints = addresses
            .iter()
            .filter_map(|address| {
                text.clear();
                // Writing to a String cannot fail.
                let _ = write!(text, "{address}");
                // An ip:port always renders as a valid authority; filter_map only to avoid a panic path.
                let authority = Authority::try_from(text.as_str()).ok()?;
                Some(Endpoint {
                    address: *address,
                    authority,
                })
            })
            .collect();
        EndpointSet {
            endpoints,
            next: AtomicUsize::new(0),
        }
    }

    /// How many endpoints there are.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// True when no endpoint is ready.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Every endpoint once, starting at the next one in round-robin order: try the first,
    /// and on a connect failure the next.
    #[inline]
    pub fn round_robin(&self) -> impl Iterator<Item = &Endpoint> + '_ {
        let len = self.endpoints.len();
        let start = if len == 0 {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % len
        };
        (0..len).map(move |offset| &self.endpoints[(start + offset) % len])
    }
}

/// Gives every distinct `Arc<Backend>` of the spec one `Arc<Route>`: rules that share a
/// backend share a round-robin cursor.
struct RouteInterner<'a> {
    metrics: &'a dyn CounterSource,
    seen: HashMap<usize, Arc<Route>, RandomState>,
}

impl RouteInterner<'_> {
    fn route(&mut self, backend: &Arc<Backend>) -> Arc<Route> {
        let metrics = self.metrics;
        let route = self
            .seen
            .entry(Arc::as_ptr(backend) as usize)
            .or_insert_with(|| {
                let target = match &backend.target {
                    Target::Endpoints(addresses) => {
                        RouteTarget::Endpoints(EndpointSet::new(addresses))
                    }
                    Target::Unavailable(reason) => RouteTarget::Unavailable(reason.as_str().into()),
                    Target::NotFound => RouteTarget::NotFound,
                };
                Arc::new(Route {
                    origin: backend.origin.clone(),
                    target,
                    metrics: metrics.route_counters(backend.origin.as_ref()),
                    https_redirect: backend.https_redirect,
                })
            });
        Arc::clone(route)
    }
}

/// One matcher per distinct rule list (paths and kinds, in order).
type RouterInterner<'a> =
    HashMap<Vec<(&'a str, PathKind)>, Arc<matchit::Router<usize>>, RandomState>;

fn compile_host<'a>(
    host: &'a Arc<VirtualHost>,
    routes: &mut RouteInterner<'_>,
    routers: &mut RouterInterner<'a>,
) -> CompiledHost {
    let mut warnings = Vec::new();
    let layout: Vec<(&str, PathKind)> = host
        .paths
        .iter()
        .map(|rule| (rule.path.as_str(), rule.kind))
        .collect();
    let paths = match routers.get(&layout) {
        Some(shared) => Arc::clone(shared),
        None => {
            let router = Arc::new(build_router(host, &mut warnings));
            routers.insert(layout, Arc::clone(&router));
            router
        }
    };
    CompiledHost {
        source: Arc::clone(host),
        warnings,
        paths,
        routes: host
            .paths
            .iter()
            .map(|rule| routes.route(&rule.backend))
            .collect(),
        default: host.default_backend.as_ref().map(|b| routes.route(b)),
    }
}

/// A matcher from patterns to rule index. On the same pattern an Exact rule wins over a
/// Prefix rule; between rules of one kind the first wins.
fn build_router(host: &VirtualHost, warnings: &mut Vec<CompileWarning>) -> matchit::Router<usize> {
    let mut by_pattern: BTreeMap<String, (PathKind, usize)> = BTreeMap::new();
    for (index, rule) in host.paths.iter().enumerate() {
        for pattern in patterns(&rule.path, rule.kind) {
            let entry = by_pattern.entry(pattern).or_insert((rule.kind, index));
            if rule.kind == PathKind::Exact && entry.0 == PathKind::Prefix {
                *entry = (rule.kind, index);
            }
        }
    }
    let mut router = matchit::Router::new();
    for (pattern, (kind, index)) in by_pattern {
        if let Err(error) = router.insert(pattern.clone(), index) {
            warnings.push(CompileWarning {
                host: host.host.to_string(),
                path: pattern,
                kind,
                reason: error.to_string(),
            });
        }
    }
    router
}

#[cfg(test)]
mod tests;
