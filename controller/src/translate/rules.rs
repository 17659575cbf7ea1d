//! Assembles the table: Ingress rules into hosts and paths, conflicts, default backends.
//!
//! Ingresses are visited oldest first (creationTimestamp, then namespace/name; objects without a
//! timestamp come last), so on a conflict the oldest claim keeps the route and the newer one
//! gets a warning. That order does not depend on which object changed last.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};
use portcullis_proxy::path_patterns::canonical_prefix;
use portcullis_proxy::spec::{
    Backend, HostMatch, Origin, PathKind, PathRule, TableSpec, Target, VirtualHost,
};

use super::backend::{BackendProblem, BackendResolver, PortRef};
use super::class::ClassFilter;
use super::diagnostic::Diagnostic;
use super::host_name::parse_host;
use super::{TranslateConfig, Translation};
use crate::objects::{Kind, ObjectKey};
use crate::store::Snapshot;

/// A route and the Ingress that claimed it.
struct Claim {
    backend: Backend,
    owner: ObjectKey,
}

#[derive(Default)]
struct HostBuild {
    paths: BTreeMap<(String, PathKind), (String, Claim)>,
    default: Option<Claim>,
}

struct Builder<'a> {
    resolver: BackendResolver<'a>,
    hosts: BTreeMap<HostMatch, HostBuild>,
    global_default: Option<Claim>,
    diagnostics: Vec<Diagnostic>,
}

pub(super) fn build(snapshot: &Snapshot, config: &TranslateConfig) -> Translation {
    let mut builder = Builder {
        resolver: BackendResolver::new(snapshot),
        hosts: BTreeMap::new(),
        global_default: None,
        diagnostics: Vec::new(),
    };
    let filter = ClassFilter::new(&config.class, &snapshot.ingress_classes);
    let mut ours: Vec<(ObjectKey, &Ingress)> = Vec::new();
    for ((namespace, name), ingress) in &snapshot.ingresses {
        let key = ObjectKey {
            kind: Kind::Ingress,
            namespace: namespace.clone(),
            name: name.clone(),
        };
        if filter.accepts(&key, ingress, &mut builder.diagnostics) {
            ours.push((key, ingress));
        }
    }
    ours.sort_by(|(ka, a), (kb, b)| {
        let created = |i: &Ingress| i.metadata.creation_timestamp.clone();
        let (ca, cb) = (created(a), created(b));
        (ca.is_none(), ca, ka).cmp(&(cb.is_none(), cb, kb))
    });
    for (key, ingress) in &ours {
        builder.add_ingress(key, ingress);
    }
    let default_backend = builder.global_default(config);

    let hosts = builder
        .hosts
        .into_iter()
        .map(|(host, build)| VirtualHost {
            host,
            paths: build
                .paths
                .into_iter()
                .map(|((_, kind), (path, claim))| PathRule {
                    path,
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
    let mut ingresses: Vec<ObjectKey> = ours.into_iter().map(|(key, _)| key).collect();
    ingresses.sort();
    Translation {
        spec: TableSpec {
            hosts,
            default_backend,
        },
        diagnostics,
        ingresses,
    }
}

impl Builder<'_> {
    fn add_ingress(&mut self, key: &ObjectKey, ingress: &Ingress) {
        let Some(spec) = ingress.spec.as_ref() else {
            self.diagnostics.push(Diagnostic::error(
                key,
                "spec",
                "missing; nothing to serve",
            ));
            return;
        };
        let default = spec
            .default_backend
            .as_ref()
            .map(|backend| self.backend(key, backend, "spec.defaultBackend"));
        let rules = spec.rules.as_deref().unwrap_or_default();
        if rules.is_empty() {
            match default {
                Some(backend) => {
                    let claim = Claim {
                        backend,
                        owner: key.clone(),
                    };
                    if let Some(existing) = &self.global_default {
                        self.diagnostics.push(lost_conflict(
                            key,
                            "spec.defaultBackend",
                            "the default backend for requests no rule matches",
                            &existing.owner,
                        ));
                    } else {
                        self.global_default = Some(claim);
                    }
                }
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
                    let field = format!("spec.rules[{i}].host");
                    self.diagnostics
                        .push(Diagnostic::error(key, field, format!("{why}; rule skipped")));
                    continue;
                }
            };
            own_hosts.insert(host.clone());
            self.hosts.entry(host.clone()).or_default();
            let paths = rule.http.as_ref().map(|h| h.paths.as_slice()).unwrap_or_default();
            for (j, path) in paths.iter().enumerate() {
                let field = format!("spec.rules[{i}].http.paths[{j}]");
                let Some((kind, path_text)) = self.path(key, &field, path) else {
                    continue;
                };
                let backend = self.backend(key, &path.backend, &format!("{field}.backend"));
                self.claim_path(key, &field, &host, kind, path_text, backend);
            }
        }
        if let Some(backend) = default {
            for host in own_hosts {
                let build = self.hosts.entry(host.clone()).or_default();
                match &build.default {
                    Some(existing) if existing.owner != *key => {
                        let what = format!("the default backend of host {host}");
                        let owner = existing.owner.clone();
                        self.diagnostics.push(lost_conflict(
                            key,
                            "spec.defaultBackend",
                            &what,
                            &owner,
                        ));
                    }
                    Some(_) => {}
                    None => {
                        build.default = Some(Claim {
                            backend: backend.clone(),
                            owner: key.clone(),
                        })
                    }
                }
            }
        }
    }

    /// Validates one path entry: its kind and its text, or a diagnostic and `None`.
    fn path(
        &mut self,
        key: &ObjectKey,
        field: &str,
        path: &k8s_openapi::api::networking::v1::HTTPIngressPath,
    ) -> Option<(PathKind, String)> {
        let kind = match path.path_type.as_str() {
            "Exact" => PathKind::Exact,
            "Prefix" | "ImplementationSpecific" => PathKind::Prefix,
            "" => {
                self.diagnostics.push(Diagnostic::error(
                    key,
                    format!("{field}.pathType"),
                    "required: Exact, Prefix or ImplementationSpecific; path skipped",
                ));
                return None;
            }
            other => {
                self.diagnostics.push(Diagnostic::error(
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
                self.diagnostics.push(Diagnostic::error(
                    key,
                    format!("{field}.path"),
                    format!("required for pathType {}; path skipped", path.path_type),
                ));
                return None;
            }
            Some(text) => text,
        };
        if !text.starts_with('/') {
            self.diagnostics.push(Diagnostic::error(
                key,
                format!("{field}.path"),
                format!("{text:?} must start with '/'; path skipped"),
            ));
            return None;
        }
        if text.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            self.diagnostics.push(Diagnostic::error(
                key,
                format!("{field}.path"),
                format!("{text:?} contains spaces or control characters; path skipped"),
            ));
            return None;
        }
        Some((kind, text.to_string()))
    }

    fn claim_path(
        &mut self,
        key: &ObjectKey,
        field: &str,
        host: &HostMatch,
        kind: PathKind,
        path: String,
        backend: Backend,
    ) {
        let canonical = match kind {
            PathKind::Prefix => canonical_prefix(&path).to_string(),
            PathKind::Exact => path.clone(),
        };
        let build = self.hosts.entry(host.clone()).or_default();
        match build.paths.get(&(canonical.clone(), kind)) {
            Some((_, existing)) => {
                let what = format!("host {host} path {canonical} ({kind})");
                let owner = existing.owner.clone();
                let diagnostic = if owner == *key {
                    Diagnostic::warning(
                        key,
                        field,
                        format!("{what} appears twice in this Ingress; the first one is used"),
                    )
                } else {
                    lost_conflict(key, field, &what, &owner)
                };
                self.diagnostics.push(diagnostic);
            }
            None => {
                let claim = Claim {
                    backend,
                    owner: key.clone(),
                };
                build.paths.insert((canonical, kind), (path, claim));
            }
        }
    }

    /// Resolves an Ingress backend; a problem becomes a 503 backend plus a diagnostic.
    fn backend(&mut self, key: &ObjectKey, backend: &IngressBackend, field: &str) -> Backend {
        let service = match (&backend.service, &backend.resource) {
            (Some(service), None) => service,
            (None, Some(resource)) => {
                self.diagnostics.push(Diagnostic::error(
                    key,
                    format!("{field}.resource"),
                    format!(
                        "resource backends ({} {}) are not supported; requests get 503",
                        resource.kind, resource.name
                    ),
                ));
                return unavailable(key, "", "", "resource backends are not supported");
            }
            _ => {
                self.diagnostics.push(Diagnostic::error(
                    key,
                    field,
                    "set exactly one of service and resource; requests get 503",
                ));
                return unavailable(key, "", "", "backend has no service");
            }
        };
        let port = BackendResolver::port_ref(service);
        let port_text = match &port {
            Ok(PortRef::Number(n)) => n.to_string(),
            Ok(PortRef::Name(n)) => n.clone(),
            Err(_) => String::new(),
        };
        let origin = Origin {
            namespace: key.namespace.clone(),
            ingress: key.name.clone(),
            service: service.name.clone(),
            port: port_text,
        };
        let resolved = port.and_then(|port| {
            self.resolver
                .resolve(&key.namespace, &service.name, &port)
        });
        match resolved {
            Ok(endpoints) => Backend {
                origin: Some(origin),
                target: Target::Endpoints(endpoints),
            },
            Err(problem) => {
                let sub_field = match problem {
                    BackendProblem::ServiceMissing { .. } | BackendProblem::ExternalName { .. } => {
                        "service.name"
                    }
                    _ => "service.port",
                };
                self.diagnostics.push(Diagnostic::error(
                    key,
                    format!("{field}.{sub_field}"),
                    problem.to_string(),
                ));
                Backend {
                    origin: Some(origin),
                    target: Target::Unavailable(problem.to_string()),
                }
            }
        }
    }

    /// An Ingress without rules, else `--default-backend-service`, else the built-in 404.
    fn global_default(&mut self, config: &TranslateConfig) -> Backend {
        if let Some(claim) = self.global_default.take() {
            return claim.backend;
        }
        let Some(service) = &config.default_backend_service else {
            return Backend::not_found();
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
        let port_text = match &port {
            Ok(PortRef::Number(n)) => n.to_string(),
            Ok(PortRef::Name(n)) => n.clone(),
            Err(_) => String::new(),
        };
        let origin = Origin {
            namespace: service.namespace.clone(),
            ingress: String::new(),
            service: service.name.clone(),
            port: port_text,
        };
        let resolved = port.and_then(|port| {
            self.resolver
                .resolve(&service.namespace, &service.name, &port)
        });
        match resolved {
            Ok(endpoints) => Backend {
                origin: Some(origin),
                target: Target::Endpoints(endpoints),
            },
            Err(problem) => {
                self.diagnostics.push(Diagnostic::error(
                    &key,
                    "",
                    format!("--default-backend-service: {problem}"),
                ));
                Backend {
                    origin: Some(origin),
                    target: Target::Unavailable(problem.to_string()),
                }
            }
        }
    }
}

fn unavailable(key: &ObjectKey, service: &str, port: &str, reason: &str) -> Backend {
    Backend {
        origin: Some(Origin {
            namespace: key.namespace.clone(),
            ingress: key.name.clone(),
            service: service.to_string(),
            port: port.to_string(),
        }),
        target: Target::Unavailable(reason.to_string()),
    }
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
