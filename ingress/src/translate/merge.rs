//! Settles one host: the paths and default backends every Ingress claims on it, the oldest
//! claim first. Hosts are independent, so a change to one Ingress re-settles only its hosts.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Arc;

use portcullis_route::path_patterns::canonical_prefix;
use portcullis_route::spec::{Backend, HostMatch, PathKind, PathRule, VirtualHost};

use super::diagnostic::{Diagnostic, Reason};
use super::fragment::HostContribution;
use portcullis_kube::objects::ObjectKey;

/// A route and the Ingress that claimed it.
struct Claim<'f> {
    /// The path as written, when it differs from the canonical one.
    as_written: Option<&'f str>,
    backend: &'f Arc<Backend>,
    owner: &'f Arc<ObjectKey>,
}

/// Builds one virtual host from its contributions, given in precedence order. Prefix paths
/// that differ only by trailing slashes are one claim; a later claim on a taken path or
/// default is dropped with a warning on the Ingress that lost.
pub(super) fn merge_host<'f>(
    host: &HostMatch,
    contributions: impl Iterator<Item = (&'f Arc<ObjectKey>, &'f HostContribution)>,
) -> (Arc<VirtualHost>, Vec<Diagnostic>) {
    let mut paths: BTreeMap<(&'f str, PathKind), Claim<'f>> = BTreeMap::new();
    let mut default: Option<(&'f Arc<Backend>, &'f Arc<ObjectKey>)> = None;
    let mut diagnostics = Vec::new();
    for (owner, contribution) in contributions {
        for claim in &contribution.paths {
            let canonical = match claim.kind {
                PathKind::Prefix => canonical_prefix(&claim.path),
                PathKind::Exact => claim.path.as_str(),
            };
            match paths.entry((canonical, claim.kind)) {
                Entry::Vacant(slot) => {
                    slot.insert(Claim {
                        as_written: (claim.path != canonical).then_some(claim.path.as_str()),
                        backend: &claim.backend,
                        owner,
                    });
                }
                Entry::Occupied(slot) => {
                    let what = format!("host {host} path {canonical} ({})", claim.kind);
                    let existing = slot.get().owner;
                    diagnostics.push(if existing == owner {
                        Diagnostic::warning(
                            Reason::InvalidIngress,
                            owner,
                            claim.field.to_string(),
                            format!("{what} appears twice in this Ingress; the first one is used"),
                        )
                    } else {
                        lost_conflict(owner, &claim.field.to_string(), &what, existing)
                    });
                }
            }
        }
        if let Some(backend) = &contribution.default {
            match default {
                Some((_, existing)) => {
                    let what = format!("the default backend of host {host}");
                    diagnostics.push(lost_conflict(owner, "spec.defaultBackend", &what, existing));
                }
                None => default = Some((backend, owner)),
            }
        }
    }
    let virtual_host = VirtualHost {
        host: host.clone(),
        paths: paths
            .into_iter()
            .map(|((canonical, kind), claim)| PathRule {
                path: claim.as_written.unwrap_or(canonical).to_string(),
                kind,
                backend: Arc::clone(claim.backend),
            })
            .collect(),
        default_backend: default.map(|(backend, _)| Arc::clone(backend)),
    };
    (Arc::new(virtual_host), diagnostics)
}

/// The warning for a claim that an older Ingress already holds.
pub(super) fn lost_conflict(
    key: &ObjectKey,
    field: &str,
    what: &str,
    owner: &ObjectKey,
) -> Diagnostic {
    Diagnostic::warning(
        Reason::Conflict,
        key,
        field,
        format!(
            "{what} is already claimed by {owner}, which is older (or sorts first); this claim is ignored"
        ),
    )
}
