//! Settles one host: the paths and default backends every Ingress claims on it, the oldest
//! claim first. Hosts are independent, so a change to one Ingress re-settles only its hosts.
//!
//! Then what ingress-nginx does per host rather than per Ingress: a canary Ingress's paths
//! become conditions and weights on the main Ingress's routes for the same path; one Ingress
//! asking for regex paths makes every path of the host a regex (longest first, as
//! ingress-nginx orders its locations); `app-root` answers `/` for the whole host.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Arc;

use portcullis_route::path_patterns::canonical_prefix;
use portcullis_route::spec::{
    Action, Conditions, Forward, HeaderCondition, HostMatch, NamedCondition, PathKind, PathRewrite,
    PathRule, Redirect, RedirectLocation, RedirectPort, RouteSpec, ValueMatch, VirtualHost,
    WeightedBackend,
};

use super::annotations::Canary;
use super::fragment::{HostContribution, PathClaim};
use portcullis_kube::objects::ObjectKey;
use portcullis_translation::{Diagnostic, Reason};

/// A route and the Ingress that claimed it.
struct Claim<'f> {
    /// The path as written, when it differs from the canonical one.
    as_written: Option<&'f str>,
    route: &'f Arc<RouteSpec>,
    owner: &'f Arc<ObjectKey>,
    /// The first canary attached to this claim.
    canary: Option<(&'f PathClaim, &'f Canary)>,
}

/// Builds one virtual host from its contributions, given in precedence order. Prefix paths
/// that differ only by trailing slashes are one claim; a later claim on a taken path or
/// default is dropped with a warning on the Ingress that lost.
pub(super) fn merge_host<'f>(
    host: &HostMatch,
    contributions: impl Iterator<Item = (&'f Arc<ObjectKey>, &'f HostContribution)>,
) -> (Arc<VirtualHost>, Vec<Diagnostic>) {
    let contributions: Vec<_> = contributions.collect();
    let mut paths: BTreeMap<(&'f str, PathKind), Claim<'f>> = BTreeMap::new();
    let mut default: Option<(&'f Arc<RouteSpec>, &'f Arc<ObjectKey>)> = None;
    let mut diagnostics = Vec::new();
    let mains = contributions
        .iter()
        .filter(|(_, c)| c.effects.canary.is_none());
    for (owner, contribution) in mains {
        for claim in &contribution.paths {
            let canonical = canonical_of(claim);
            match paths.entry((canonical, claim.kind)) {
                Entry::Vacant(slot) => {
                    slot.insert(Claim {
                        as_written: (claim.path != canonical).then_some(claim.path.as_str()),
                        route: &claim.route,
                        owner,
                        canary: None,
                    });
                }
                Entry::Occupied(slot) => {
                    let what = format!("host {host} path {canonical} ({})", claim.kind);
                    let existing = slot.get().owner;
                    diagnostics.push(if existing == *owner {
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
    attach_canaries(host, &contributions, &mut paths, &mut diagnostics);
    let mains = || {
        contributions
            .iter()
            .filter(|(_, c)| c.effects.canary.is_none())
    };
    let regex = mains().any(|(_, c)| c.effects.regex);
    let mut rules: Vec<PathRule> = Vec::new();
    for ((canonical, kind), claim) in paths {
        let path = claim.as_written.unwrap_or(canonical);
        let kind = if regex {
            PathKind::Regex {
                case_insensitive: true,
            }
        } else {
            kind
        };
        rules.extend(canary_rules(path, kind, &claim));
        rules.push(PathRule::new(path, kind, main_route(&claim)));
    }
    if regex {
        // ingress-nginx: the longest path text first (then by text, descending); the first
        // regex that matches wins. The sort is stable, so a path's canary rules stay first.
        rules.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then_with(|| b.path.cmp(&a.path))
        });
    }
    if let Some((root, owner)) = mains().find_map(|(o, c)| Some((c.effects.app_root.as_ref()?, o)))
    {
        rules.insert(0, app_root_rule(root, owner));
    }
    // ingress-nginx: the aliases of the oldest Ingress of the host that sets any.
    let aliases = mains()
        .find(|(_, c)| !c.effects.aliases.is_empty())
        .map(|(_, c)| {
            c.effects
                .aliases
                .iter()
                .filter(|alias| HostMatch::Exact((*alias).clone()) != *host)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let virtual_host = VirtualHost {
        host: host.clone(),
        paths: rules,
        default_backend: default.map(|(route, _)| Arc::clone(route)),
        aliases,
    };
    (Arc::new(virtual_host), diagnostics)
}

fn canonical_of(claim: &PathClaim) -> &str {
    match claim.kind {
        PathKind::Prefix => canonical_prefix(&claim.path),
        PathKind::Exact | PathKind::Regex { .. } => claim.path.as_str(),
    }
}

/// Gives each main claim the first canary (oldest Ingress) with the same path and kind; a
/// canary with no main claim is named and ignored, as ingress-nginx ignores it.
fn attach_canaries<'f>(
    host: &HostMatch,
    contributions: &[(&'f Arc<ObjectKey>, &'f HostContribution)],
    paths: &mut BTreeMap<(&'f str, PathKind), Claim<'f>>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (owner, contribution) in contributions {
        let Some(canary) = &contribution.effects.canary else {
            continue;
        };
        for claim in &contribution.paths {
            let canonical = canonical_of(claim);
            let field = claim.field.to_string();
            let what = format!("host {host} path {canonical} ({})", claim.kind);
            match paths.get_mut(&(canonical, claim.kind)) {
                Some(main) if main.canary.is_none() => main.canary = Some((claim, canary)),
                Some(main) => diagnostics.push(Diagnostic::warning(
                    Reason::Conflict,
                    owner,
                    field,
                    format!(
                        "{what} already has a canary (from {}); only the first is used, as in ingress-nginx",
                        main.canary.map_or_else(String::new, |(c, _)| c.route.origin.as_ref().map_or_else(String::new, |o| o.to_string()))
                    ),
                )),
                None => diagnostics.push(Diagnostic::warning(
                    Reason::InvalidIngress,
                    owner,
                    field,
                    format!(
                        "canary for {what}, but no other Ingress serves that host and path; ignored"
                    ),
                )),
            }
        }
    }
}

/// The rules that send a request to the canary (or keep it on the main backend) by header,
/// then cookie, as ingress-nginx decides: they come before the main rule of the same path.
fn canary_rules(path: &str, kind: PathKind, claim: &Claim<'_>) -> Vec<PathRule> {
    let Some((canary_claim, canary)) = claim.canary else {
        return Vec::new();
    };
    let Some(to_canary) = forwarded_to(claim.route, canary_claim) else {
        return Vec::new();
    };
    let to_main = Arc::clone(claim.route);
    let mut rules = Vec::new();
    let rule = |conditions: Conditions, route: &Arc<RouteSpec>| PathRule {
        conditions,
        ..PathRule::new(path, kind, Arc::clone(route))
    };
    if let Some(name) = &canary.header {
        let header = |value: ValueMatch| Conditions {
            headers: vec![HeaderCondition {
                name: name.clone(),
                value,
            }],
            ..Conditions::default()
        };
        if let Some(value) = &canary.header_value {
            rules.push(rule(header(ValueMatch::Exact(value.clone())), &to_canary));
        } else if let Some(pattern) = &canary.header_pattern {
            // ingress-nginx searches the value (unanchored); our regex matches the whole.
            let search = format!("(?s).*(?:{pattern}).*");
            rules.push(rule(header(ValueMatch::Regex(search)), &to_canary));
        } else {
            rules.push(rule(header(ValueMatch::Exact("always".into())), &to_canary));
            rules.push(rule(header(ValueMatch::Exact("never".into())), &to_main));
        }
    }
    if let Some(name) = &canary.cookie {
        let cookie = |value: &str| Conditions {
            cookies: vec![NamedCondition {
                name: name.clone(),
                value: ValueMatch::Exact(value.into()),
            }],
            ..Conditions::default()
        };
        rules.push(rule(cookie("always"), &to_canary));
        rules.push(rule(cookie("never"), &to_main));
    }
    rules
}

/// The main route with its backend swapped for the canary's (every other setting is the main
/// Ingress's, as in ingress-nginx); `None` when the main route does not forward.
fn forwarded_to(main: &Arc<RouteSpec>, canary: &PathClaim) -> Option<Arc<RouteSpec>> {
    let Action::Forward(forward) = &main.action else {
        return None;
    };
    Some(Arc::new(RouteSpec {
        action: Action::Forward(Forward {
            backends: vec![WeightedBackend {
                weight: 1,
                backend: Arc::clone(&canary.backend),
            }],
            ..forward.clone()
        }),
        ..(**main).clone()
    }))
}

/// The main rule's route: as claimed, or split by the canary's weight.
fn main_route(claim: &Claim<'_>) -> Arc<RouteSpec> {
    let Some((canary_claim, canary)) = claim.canary else {
        return Arc::clone(claim.route);
    };
    let Action::Forward(forward) = &claim.route.action else {
        return Arc::clone(claim.route);
    };
    if canary.weight == 0 {
        return Arc::clone(claim.route);
    }
    let mut backends: Vec<WeightedBackend> = forward
        .backends
        .iter()
        .map(|b| WeightedBackend {
            weight: canary.total - canary.weight,
            backend: Arc::clone(&b.backend),
        })
        .collect();
    backends.push(WeightedBackend {
        weight: canary.weight,
        backend: Arc::clone(&canary_claim.backend),
    });
    Arc::new(RouteSpec {
        action: Action::Forward(Forward {
            backends,
            ..forward.clone()
        }),
        ..(**claim.route).clone()
    })
}

/// ingress-nginx's `app-root`: `/` (exactly) answers 302 to the app root on the same scheme,
/// host and port, without the query.
fn app_root_rule(root: &str, owner: &ObjectKey) -> PathRule {
    let route = RouteSpec {
        action: Action::Redirect(Redirect {
            status: 302,
            location: RedirectLocation::Rebuilt {
                scheme: None,
                host: None,
                port: RedirectPort::Keep,
                path: Some(PathRewrite::Full(root.to_owned())),
                keep_query: false,
            },
        }),
        ..RouteSpec::forward(Arc::new(portcullis_route::spec::Backend {
            tls: None,
            headers: None,
            origin: Some(portcullis_route::spec::Origin {
                namespace: owner.namespace.clone().into(),
                ingress: owner.name.clone().into(),
                service: String::new().into(),
                port: String::new().into(),
            }),
            target: portcullis_route::spec::Target::NotFound,
        }))
    };
    PathRule::new("/", PathKind::Exact, Arc::new(route))
}

/// Whether an Ingress of this host asks for ingress-nginx's `from-to-www-redirect`.
pub(super) fn wants_www_redirect<'f>(
    mut contributions: impl Iterator<Item = &'f HostContribution>,
) -> bool {
    contributions.any(|c| c.effects.canary.is_none() && c.effects.www_redirect)
}

/// The host `from-to-www-redirect` adds for `host`: `www.x` for `x` and `x` for `www.x`, every
/// path answering 308 to the same URL on `host`.
pub(super) fn www_counterpart(host: &HostMatch) -> Option<Arc<VirtualHost>> {
    let HostMatch::Exact(name) = host else {
        return None;
    };
    let other = match name.strip_prefix("www.") {
        Some(bare) if !bare.is_empty() => bare.to_owned(),
        _ => format!("www.{name}"),
    };
    let redirect = RouteSpec {
        action: Action::Redirect(Redirect {
            status: 308,
            location: RedirectLocation::Rebuilt {
                scheme: None,
                host: Some(name.clone()),
                port: RedirectPort::Keep,
                path: None,
                keep_query: true,
            },
        }),
        ..RouteSpec::forward(Arc::new(portcullis_route::spec::Backend::not_found()))
    };
    Some(Arc::new(VirtualHost {
        host: HostMatch::Exact(other),
        paths: vec![PathRule::new("/", PathKind::Prefix, Arc::new(redirect))],
        default_backend: None,
        aliases: Vec::new(),
    }))
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
