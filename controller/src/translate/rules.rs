//! Assembles the table: Ingress rules into hosts and paths, conflicts, default backends.
//!
//! Ingresses are visited oldest first (creationTimestamp, then namespace/name; objects without a
//! timestamp come last), so on a conflict the oldest claim keeps the route and the newer one
//! gets a warning. That order does not depend on which object changed last.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use foldhash::fast::RandomState;

use k8s_openapi::api::networking::v1::{HTTPIngressPath, Ingress, IngressBackend};
use portcullis_proxy::path_patterns::canonical_prefix;
use portcullis_proxy::spec::{
    Backend, HostMatch, Origin, PathKind, PathRule, TableSpec, Target, TlsSpec, VirtualHost,
};

use super::backend::{BackendProblem, BackendResolver, PortRef};
use super::class::ClassFilter;
use super::diagnostic::Diagnostic;
use super::host_name::parse_host;
use super::tls::{TlsBuilder, covered};
use super::{TranslateConfig, Translation};
use crate::objects::{Kind, ObjectKey};
use crate::store::Snapshot;

/// A route and the Ingress that claimed it.
struct Claim {
    backend: Arc<Backend>,
    /// Shared, so recording a claim per path does not copy the Ingress's name.
    owner: Arc<ObjectKey>,
}

/// Where in an Ingress a backend or path sits; turned into text only when a diagnostic needs it.
#[derive(Debug, Clone, Copy)]
enum Field {
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

/// Backends already resolved for one Ingress, by (service, port number, port name): every
/// path naming the same Service port shares one `Arc<Backend>`.
type BackendCache<'s> =
    HashMap<(&'s str, Option<i32>, Option<&'s str>, bool), Arc<Backend>, RandomState>;

#[derive(Default)]
struct HostBuild {
    /// By (canonical path, kind); the value keeps the path as written when it differs.
    paths: BTreeMap<(String, PathKind), (Option<String>, Claim)>,
    default: Option<Claim>,
}

struct Builder<'s> {
    resolver: BackendResolver<'s>,
    tls: Option<TlsBuilder<'s>>,
    hosts: HashMap<HostMatch, HostBuild, RandomState>,
    global_default: Option<Claim>,
    diagnostics: Vec<Diagnostic>,
}

pub(super) fn build(snapshot: &Snapshot, config: &TranslateConfig) -> Translation {
    let mut builder = Builder {
        resolver: BackendResolver::new(snapshot),
        tls: config
            .tls
            .as_ref()
            .map(|_| TlsBuilder::new(&snapshot.secrets)),
        hosts: HashMap::default(),
        global_default: None,
        diagnostics: Vec::new(),
    };
    let filter = ClassFilter::new(&config.class, &snapshot.ingress_classes);
    let mut ours: Vec<(Arc<ObjectKey>, &Ingress)> = Vec::new();
    for ((namespace, name), ingress) in &snapshot.ingresses {
        let key = ObjectKey {
            kind: Kind::Ingress,
            namespace: namespace.clone(),
            name: name.clone(),
        };
        if filter.accepts(&key, ingress, &mut builder.diagnostics) {
            ours.push((Arc::new(key), ingress));
        }
    }
    // The snapshot yields Ingresses in (namespace, name) order, and the sort is stable, so
    // sorting by age alone leaves namespace/name as the tie-breaker.
    ours.sort_by_key(|(_, ingress)| {
        let created = ingress.metadata.creation_timestamp.clone();
        (created.is_none(), created)
    });
    for (key, ingress) in &ours {
        builder.add_ingress(key, ingress);
    }
    let default_backend = builder.global_default(config);
    let tls = match (builder.tls.take(), config.tls.as_ref()) {
        (Some(tls), Some(tls_config)) => {
            let default = tls_config
                .default_certificate
                .as_ref()
                .map(|secret| (secret.namespace.clone(), secret.name.clone()));
            tls.finish(default.as_ref(), &mut builder.diagnostics)
        }
        _ => TlsSpec::default(),
    };

    let mut hosts: Vec<(HostMatch, HostBuild)> = builder.hosts.into_iter().collect();
    hosts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let hosts = hosts
        .into_iter()
        .map(|(host, build)| VirtualHost {
            host,
            paths: build
                .paths
                .into_iter()
                .map(|((canonical, kind), (as_written, claim))| PathRule {
                    path: as_written.unwrap_or(canonical),
                    kind,
                    backend: claim.backend,
                })
                .collect(),
            default_backend: build.default.map(|claim| claim.backend),
        })
        .collect();
    let mut diagnostics = builder.diagnostics;
    diagnostics.sort();
    diagnostics.dedup();
    let ingresses: Vec<ObjectKey> = ours.into_iter().map(|(key, _)| (*key).clone()).collect();
    Translation {
        spec: TableSpec {
            hosts,
            default_backend,
        },
        tls,
        diagnostics,
        ingresses,
    }
}

impl<'s> Builder<'s> {
    fn add_ingress(&mut self, owner: &Arc<ObjectKey>, ingress: &'s Ingress) {
        let key: &ObjectKey = owner;
        let Some(spec) = ingress.spec.as_ref() else {
            self.diagnostics
                .push(Diagnostic::error(key, "spec", "missing; nothing to serve"));
            return;
        };
        let redirect_hosts = match &mut self.tls {
            Some(tls) => tls.add_ingress(owner, ingress, &mut self.diagnostics),
            None => HashSet::new(),
        };
        let mut cache = BackendCache::default();
        let default = spec.default_backend.as_ref().map(|backend| {
            resolve_backend(
                &self.resolver,
                &mut self.diagnostics,
                key,
                backend,
                Field::DefaultBackend,
                false,
                &mut cache,
            )
        });
        let rules = spec.rules.as_deref().unwrap_or_default();
        if rules.is_empty() {
            match default {
                Some(backend) => match &self.global_default {
                    Some(existing) => self.diagnostics.push(lost_conflict(
                        key,
                        "spec.defaultBackend",
                        "the default backend for requests no rule matches",
                        &existing.owner,
                    )),
                    None => {
                        self.global_default = Some(Claim {
                            backend,
                            owner: Arc::clone(owner),
                        })
                    }
                },
                None => self.diagnostics.push(Diagnostic::error(
                    key,
                    "spec",
                    "has neither rules nor defaultBackend; nothing to serve",
                )),
            }
            return;
        }

        let mut own_hosts = BTreeSet::new();
        for (i, rule) in rules.iter().enumerate() {
            let host = match parse_host(rule.host.as_deref()) {
                Ok(host) => host,
                Err(why) => {
                    self.diagnostics.push(Diagnostic::error(
                        key,
                        format!("spec.rules[{i}].host"),
                        format!("{why}; rule skipped"),
                    ));
                    continue;
                }
            };
            let paths = rule
                .http
                .as_ref()
                .map(|h| h.paths.as_slice())
                .unwrap_or_default();
            let build = self.hosts.entry(host.clone()).or_default();
            for (j, path) in paths.iter().enumerate() {
                let field = Field::Path { rule: i, path: j };
                let Some((kind, text)) = validate_path(&mut self.diagnostics, key, field, path)
                else {
                    continue;
                };
                let backend = resolve_backend(
                    &self.resolver,
                    &mut self.diagnostics,
                    key,
                    &path.backend,
                    field,
                    covered(&redirect_hosts, &host),
                    &mut cache,
                );
                let claim = PathClaim {
                    field,
                    host: &host,
                    kind,
                    path: text,
                };
                claim_path(build, &mut self.diagnostics, owner, claim, backend);
            }
            if default.is_some() {
                own_hosts.insert(host);
            }
        }
        if let Some(backend) = default {
            for host in own_hosts {
                let build = self.hosts.entry(host.clone()).or_default();
                match &build.default {
                    Some(existing) if *existing.owner != *key => {
                        let what = format!("the default backend of host {host}");
                        let diagnostic =
                            lost_conflict(key, "spec.defaultBackend", &what, &existing.owner);
                        self.diagnostics.push(diagnostic);
                    }
                    Some(_) => {}
                    None => {
                        let backend = if covered(&redirect_hosts, &host) {
                            Arc::new(Backend {
                                https_redirect: true,
                                ..(*backend).clone()
                            })
                        } else {
                            Arc::clone(&backend)
                        };
                        build.default = Some(Claim {
                            backend,
                            owner: Arc::clone(owner),
                        })
                    }
                }
            }
        }
    }
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
                key,
                format!("{field}.pathType"),
                "required: Exact, Prefix or ImplementationSpecific; path skipped",
            ));
            return None;
        }
        other => {
            diagnostics.push(Diagnostic::error(
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
    resolver: &BackendResolver<'_>,
    diagnostics: &mut Vec<Diagnostic>,
    key: &ObjectKey,
    backend: &'s IngressBackend,
    field: Field,
    https_redirect: bool,
    cache: &mut BackendCache<'s>,
) -> Arc<Backend> {
    let service = match (&backend.service, &backend.resource) {
        (Some(service), None) => service,
        (None, Some(resource)) => {
            diagnostics.push(Diagnostic::error(
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
        https_redirect,
    );
    if let Some(cached) = cache.get(&cache_key) {
        return Arc::clone(cached);
    }
    let port = BackendResolver::port_ref(service);
    let origin = Origin {
        namespace: key.namespace.clone(),
        ingress: key.name.clone(),
        service: service.name.clone(),
        port: port_text(port.as_ref().ok()),
    };
    let resolved = port.and_then(|port| resolver.resolve(&key.namespace, &service.name, &port));
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
                key,
                format!("{field}.backend.{sub_field}"),
                problem.to_string(),
            ));
            Target::Unavailable(problem.to_string())
        }
    };
    let resolved = Arc::new(Backend {
        origin: Some(origin),
        target,
        https_redirect,
    });
    cache.insert(cache_key, Arc::clone(&resolved));
    resolved
}

impl Builder<'_> {
    /// An Ingress without rules, else `--default-backend-service`, else the built-in 404.
    fn global_default(&mut self, config: &TranslateConfig) -> Arc<Backend> {
        if let Some(claim) = self.global_default.take() {
            return claim.backend;
        }
        let Some(service) = &config.default_backend_service else {
            return Arc::new(Backend::not_found());
        };
        let key = ObjectKey {
            kind: Kind::Service,
            namespace: service.namespace.clone(),
            name: service.name.clone(),
        };
        let port = match &service.port {
            Some(port) => Ok(port.clone()),
            None => self.resolver.first_port(&service.namespace, &service.name),
        };
        let origin = Origin {
            namespace: service.namespace.clone(),
            ingress: String::new(),
            service: service.name.clone(),
            port: port_text(port.as_ref().ok()),
        };
        let resolved = port.and_then(|port| {
            self.resolver
                .resolve(&service.namespace, &service.name, &port)
        });
        let target = match resolved {
            Ok(endpoints) => Target::Endpoints(endpoints),
            Err(problem) => {
                self.diagnostics.push(Diagnostic::error(
                    &key,
                    "",
                    format!("--default-backend-service: {problem}"),
                ));
                Target::Unavailable(problem.to_string())
            }
        };
        Arc::new(Backend {
            origin: Some(origin),
            target,
            https_redirect: false,
        })
    }
}

/// One path of one rule, about to be claimed.
struct PathClaim<'p> {
    field: Field,
    host: &'p HostMatch,
    kind: PathKind,
    path: &'p str,
}

/// Records one path claim on its host, or a diagnostic if an earlier claim holds it. Prefix
/// paths that differ only by trailing slashes are the same claim.
fn claim_path(
    build: &mut HostBuild,
    diagnostics: &mut Vec<Diagnostic>,
    owner: &Arc<ObjectKey>,
    claim: PathClaim<'_>,
    backend: Arc<Backend>,
) {
    let key: &ObjectKey = owner;
    let PathClaim {
        field,
        host,
        kind,
        path,
    } = claim;
    let canonical = match kind {
        PathKind::Prefix => canonical_prefix(path),
        PathKind::Exact => path,
    };
    match build.paths.entry((canonical.to_string(), kind)) {
        Entry::Vacant(slot) => {
            let as_written = (path != canonical).then(|| path.to_string());
            slot.insert((
                as_written,
                Claim {
                    backend,
                    owner: Arc::clone(owner),
                },
            ));
        }
        Entry::Occupied(slot) => {
            let what = format!("host {host} path {canonical} ({kind})");
            let existing = &slot.get().1;
            let diagnostic = if *existing.owner == **owner {
                Diagnostic::warning(
                    key,
                    field.to_string(),
                    format!("{what} appears twice in this Ingress; the first one is used"),
                )
            } else {
                lost_conflict(key, &field.to_string(), &what, &existing.owner)
            };
            diagnostics.push(diagnostic);
        }
    }
}

fn port_text(port: Option<&PortRef>) -> String {
    match port {
        Some(PortRef::Number(n)) => n.to_string(),
        Some(PortRef::Name(n)) => n.clone(),
        None => String::new(),
    }
}

fn unavailable(key: &ObjectKey, reason: &str) -> Arc<Backend> {
    Arc::new(Backend {
        origin: Some(Origin {
            namespace: key.namespace.clone(),
            ingress: key.name.clone(),
            service: String::new(),
            port: String::new(),
        }),
        target: Target::Unavailable(reason.to_string()),
        https_redirect: false,
    })
}

fn lost_conflict(key: &ObjectKey, field: &str, what: &str, owner: &ObjectKey) -> Diagnostic {
    Diagnostic::warning(
        key,
        field,
        format!(
            "{what} is already claimed by {owner}, which is older (or sorts first); this claim is ignored"
        ),
    )
}
