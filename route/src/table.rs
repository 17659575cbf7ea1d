//! The compiled routing table: what the proxy reads on every request, without a lock.
//!
//! Built once from a [`TableSpec`] and never changed; a new configuration is a new table,
//! swapped in whole (the proxy's `LiveTable`). Requests in flight keep the `Arc<Route>`
//! they picked, so a swap never cuts them off.
//!
//! A host's Exact and Prefix rules go into a matchit tree: the most specific path wins
//! (Exact before Prefix on the same path, longer prefixes first), and where several rules
//! cover the request's path they are tried in that order, each with its conditions, the first
//! that holds winning. A host with a regex rule is matched rule by rule in the spec's order.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::counters::CounterSource;
use crate::host::{label_suffixes, normalize_host, wildcard_suffix};
use crate::spec::{HostMatch, Origin, PathKind, TableSpec, VirtualHost};

mod compile_host;
mod conditions;
mod ewma;
mod path_index;
mod route;
mod split;

pub use conditions::RequestFacts;
pub(crate) use conditions::query_value;
pub use route::{
    CompiledErrorPages, CompiledHeaderEdits, CompiledMirror, CompiledPathRewrite, CompiledRedirect,
    CompiledRewrite, Endpoint, EndpointSet, InFlight, Route, RouteAction, RouteTarget, Upstream,
};
pub use split::Split;

use compile_host::{Compiler, compile_host};
use conditions::CompiledConditions;
use path_index::PathIndex;

/// Host → path → route, ready for lookup.
#[derive(Debug)]
pub struct RoutingTable {
    exact: HashMap<Box<str>, Arc<CompiledHost>, RandomState>,
    wildcard: HashMap<Box<str>, Arc<CompiledHost>, RandomState>,
    /// Gateway API wildcards (any number of labels), by suffix; usually empty, so Ingress
    /// lookups never walk the labels.
    suffix: HashMap<Box<str>, Arc<CompiledHost>, RandomState>,
    any: Option<Arc<CompiledHost>>,
    default: Arc<Route>,
    path_count: usize,
}

/// A rule the compiler could not hold: the rule is skipped, the rest of the table still
/// applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host {host}: path {path} ({kind}) skipped: {reason}")]
pub struct CompileWarning {
    /// The host of the rule.
    pub host: String,
    /// The path of the rule.
    pub path: String,
    /// Exact, Prefix or Regex.
    pub kind: PathKind,
    /// What the compiler said.
    pub reason: String,
    /// The rule's origin, when it has one (to name the object in a diagnostic).
    pub origin: Option<Origin>,
}

#[derive(Debug)]
struct CompiledHost {
    /// What this was compiled from: a later compile reuses this host when its spec holds the
    /// very same `Arc`, and holding it keeps the pointer from being recycled meanwhile.
    source: Arc<VirtualHost>,
    /// What the compiler rejected when this host was compiled, repeated when it is reused.
    warnings: Vec<CompileWarning>,
    /// Shared by every host with the same path layout: most hosts have identical layouts,
    /// so sharing keeps the table small and the matcher hot in cache.
    index: Arc<PathIndex>,
    rules: Box<[CompiledRule]>,
    default: Option<Arc<Route>>,
}

/// One rule: what else it checks, and what answers.
#[derive(Debug)]
struct CompiledRule {
    /// `None` when the path is all there is to check (the common case).
    conditions: Option<Box<CompiledConditions>>,
    route: Arc<Route>,
}

impl RoutingTable {
    /// Compiles a spec, taking each route's counters from `metrics` (which may intern them so
    /// they survive rebuilds). Rules the compiler cannot hold are skipped and returned as
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
        let mut compiler = Compiler::new(metrics);
        let mut warnings = Vec::new();
        let default = compiler.route(&spec.default_backend, &mut warnings, "*");
        let mut table = RoutingTable {
            exact: HashMap::with_capacity_and_hasher(spec.hosts.len(), RandomState::default()),
            wildcard: HashMap::default(),
            suffix: HashMap::default(),
            any: None,
            default,
            path_count: 0,
        };
        for host in &spec.hosts {
            table.path_count += host.paths.len();
            let compiled = match previous.and_then(|p| p.compiled(&host.host)) {
                Some(old) if Arc::ptr_eq(&old.source, host) => Arc::clone(old),
                _ => Arc::new(compile_host(host, &mut compiler)),
            };
            warnings.extend(compiled.warnings.iter().cloned());
            match &host.host {
                HostMatch::Exact(name) => {
                    table.exact.insert(name.as_str().into(), compiled);
                }
                HostMatch::Wildcard(suffix) => {
                    table.wildcard.insert(suffix.as_str().into(), compiled);
                }
                HostMatch::Suffix(suffix) => {
                    table.suffix.insert(suffix.as_str().into(), compiled);
                }
                HostMatch::Any => table.any = Some(compiled),
            }
        }
        // Aliases last, so a name that is a host of its own stays that host's whatever the
        // order.
        for host in &spec.hosts {
            let Some(compiled) = table.compiled(&host.host).cloned() else {
                continue;
            };
            for alias in &host.aliases {
                match table.exact.entry(alias.as_str().into()) {
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(Arc::clone(&compiled));
                    }
                    std::collections::hash_map::Entry::Occupied(_) => {
                        warnings.push(CompileWarning {
                            host: host.host.to_string(),
                            path: String::new(),
                            kind: PathKind::Prefix,
                            reason: format!("alias {alias} is another host's name; not an alias"),
                            origin: None,
                        })
                    }
                }
            }
        }
        (table, warnings)
    }

    fn compiled(&self, host: &HostMatch) -> Option<&Arc<CompiledHost>> {
        match host {
            HostMatch::Exact(name) => self.exact.get(name.as_str()),
            HostMatch::Wildcard(suffix) => self.wildcard.get(suffix.as_str()),
            HostMatch::Suffix(suffix) => self.suffix.get(suffix.as_str()),
            HostMatch::Any => self.any.as_ref(),
        }
    }

    /// The route for a request known only by host and path: rules with conditions on the
    /// method, headers, query or cookies do not match.
    #[inline]
    pub fn find(&self, host: &str, path: &str) -> &Arc<Route> {
        self.find_request(host, path, &RequestFacts::default())
    }

    /// The route for a request. `host` is the raw `Host` header or `:authority` (case and
    /// port do not matter); `path` is the request path without the query; `facts` is what
    /// conditions may read.
    #[inline]
    pub fn find_request(&self, host: &str, path: &str, facts: &RequestFacts<'_>) -> &Arc<Route> {
        let host = normalize_host(host);
        let compiled = self
            .exact
            .get(host.as_ref())
            .or_else(|| wildcard_suffix(&host).and_then(|suffix| self.wildcard.get(suffix)))
            .or_else(|| self.longest_suffix(&host))
            .or(self.any.as_ref());
        compiled
            .and_then(|compiled| compiled.find(path, facts))
            .unwrap_or(&self.default)
    }

    /// The Gateway API wildcard host with the longest suffix of `host` (after at least one
    /// label), if any.
    #[inline]
    fn longest_suffix(&self, host: &str) -> Option<&Arc<CompiledHost>> {
        if self.suffix.is_empty() {
            return None;
        }
        label_suffixes(host).find_map(|suffix| self.suffix.get(suffix))
    }

    /// Virtual hosts in the table (exact, wildcard and the host-less one).
    pub fn host_count(&self) -> usize {
        self.exact.len() + self.wildcard.len() + self.suffix.len() + usize::from(self.any.is_some())
    }

    /// Path rules in the table.
    pub fn path_count(&self) -> usize {
        self.path_count
    }
}

impl CompiledHost {
    #[inline]
    fn find(&self, path: &str, facts: &RequestFacts<'_>) -> Option<&Arc<Route>> {
        let found = self.index.candidates(path).find_map(|candidate| {
            let rule = self.rules.get(candidate.rule)?;
            // An unconditional rule wins without reading it (only its address is taken).
            let holds = !candidate.conditional
                || rule
                    .conditions
                    .as_ref()
                    .is_none_or(|conditions| conditions.hold(facts));
            holds.then_some(&rule.route)
        });
        found.or(self.default.as_ref())
    }
}

#[cfg(test)]
mod tests;
