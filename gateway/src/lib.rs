//! Gateway API → routing tables: one pure function, no IO, no clock.
//!
//! [`translate_gateways`] reads the GatewayClasses naming our controller, their Gateways'
//! listeners, the HTTPRoutes attached to them and the ReferenceGrants, and returns one
//! [`PortSpec`] (a route model table, and certificates for HTTPS) per listener port, the
//! diagnostics (object + field + what happens), and the status the spec asks for. Requests
//! settle the hostname first (exact, then the longest wildcard, then listeners without one),
//! then the path, then Gateway API's precedence among matches.

#![forbid(unsafe_code)]

mod attach;
mod filters;
mod grants;
mod hostname;
mod http_route;
mod listeners;
mod render;
mod status_patches;

use std::collections::BTreeMap;
use std::sync::Arc;

use portcullis_kube::objects::{Kind, ObjectKey};
use portcullis_kube::store::Snapshot;
use portcullis_route::spec::{CertificateSpec, HostMatch, TableSpec, TlsSpec, VirtualHost};
use portcullis_translation::{BackendResolver, Diagnostic, Reason, SliceIndex};

pub use attach::Parent;
pub use listeners::{GatewayState, ListenerState, Protocol};
pub use status_patches::{SUPPORTED_FEATURES, StatusContext, StatusPatch, status_patches};

use http_route::{RankedRule, SpecCache, check_rules};

/// The controller name of `--gateway-controller-name` by default.
pub const DEFAULT_CONTROLLER_NAME: &str = "portcullis.dev/gateway-controller";

/// What the translation needs besides the objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// GatewayClasses whose `spec.controllerName` is this are ours.
    pub controller_name: String,
    /// Ports the Ingress listeners hold; a Gateway listener on one of them is refused.
    pub reserved_ports: Vec<u16>,
}

/// One condition as status reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `status`: true or false.
    pub status: bool,
    /// `reason`, CamelCase.
    pub reason: String,
    /// `message`.
    pub message: String,
}

impl Condition {
    /// A condition that holds.
    pub fn yes(reason: &str, message: &str) -> Condition {
        Condition {
            status: true,
            reason: reason.to_string(),
            message: message.to_string(),
        }
    }

    /// A condition that does not hold.
    pub fn no(reason: &str, message: &str) -> Condition {
        Condition {
            status: false,
            ..Condition::yes(reason, message)
        }
    }
}

/// What one listener port serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The port number, as the listeners write it.
    pub port: u16,
    /// HTTP or HTTPS.
    pub protocol: Protocol,
    /// The routes of every listener on this port.
    pub table: TableSpec,
    /// HTTPS: certificates by listener hostname (a listener without one gives the default).
    pub tls: Option<Arc<TlsSpec>>,
}

/// A GatewayClass of ours and whether it is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassState {
    /// Its name.
    pub name: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// `Accepted`.
    pub accepted: Condition,
}

/// A route's status: one entry per parentRef naming a Gateway of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteState {
    /// The route.
    pub route: ObjectKey,
    /// `metadata.generation`.
    pub generation: i64,
    /// Per parent.
    pub parents: Vec<ParentState>,
}

/// One `status.parents[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentState {
    /// The parentRef, with namespace written out.
    pub parent: Parent,
    /// `Accepted`.
    pub accepted: Condition,
    /// `ResolvedRefs`.
    pub resolved_refs: Condition,
}

/// Status of every Gateway API object this controller owns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayStatus {
    /// Our GatewayClasses.
    pub classes: Vec<ClassState>,
    /// Our Gateways.
    pub gateways: Vec<GatewayState>,
    /// Routes naming our Gateways.
    pub routes: Vec<RouteState>,
}

/// The result of one translation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayTranslation {
    /// One per served port, by port number.
    pub ports: Vec<PortSpec>,
    /// Problems found, sorted, each naming the object and field.
    pub diagnostics: Vec<Diagnostic>,
    /// What status should say.
    pub status: GatewayStatus,
}

/// Builds the Gateway API tables for a snapshot. Pure and deterministic.
pub fn translate_gateways(snapshot: &Snapshot, config: &GatewayConfig) -> GatewayTranslation {
    let mut diagnostics = Vec::new();
    let classes: Vec<ClassState> = snapshot
        .gateway_classes
        .values()
        .filter(|c| c.spec.controller_name == config.controller_name)
        .map(|c| ClassState {
            name: c.metadata.name.clone(),
            generation: c.metadata.generation,
            accepted: Condition::yes("Accepted", "handled by Portcullis"),
        })
        .collect();
    let class_names: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
    let gateways = listeners::our_gateways(snapshot, &class_names);
    let (active, mut gateway_states) = listeners::settle_listeners(
        snapshot,
        &gateways,
        &config.reserved_ports,
        &mut diagnostics,
    );
    let gateway_ids: Vec<(String, String)> = gateways
        .iter()
        .map(|g| (g.metadata.namespace.clone(), g.metadata.name.clone()))
        .collect();
    let slices = SliceIndex::from_snapshot(snapshot);
    let resolver = BackendResolver::new(snapshot, &slices);
    let mut specs = SpecCache::default();
    // Port → host → ranked rules.
    let mut hosts: BTreeMap<u16, BTreeMap<HostMatch, Vec<RankedRule>>> = BTreeMap::new();
    let mut routes = Vec::new();
    for route in snapshot.http_routes.values() {
        let key = ObjectKey {
            kind: Kind::HTTPRoute,
            namespace: route.metadata.namespace.clone(),
            name: route.metadata.name.clone(),
        };
        let mut hostnames = Vec::new();
        for (index, raw) in route.spec.hostnames.iter().enumerate() {
            match hostname::Hostname::parse(raw) {
                Ok(hostname) => hostnames.push(hostname),
                Err(why) => diagnostics.push(Diagnostic::error(
                    Reason::UnsupportedValue,
                    &key,
                    format!("spec.hostnames[{index}]"),
                    format!("{why}; this hostname is not served"),
                )),
            }
        }
        if hostnames.is_empty() && !route.spec.hostnames.is_empty() {
            // Every hostname was refused: serving all hosts instead would widen the route.
            continue;
        }
        let outcomes = attach::attach(
            snapshot,
            &key.namespace,
            "HTTPRoute",
            &route.spec.parent_refs,
            &hostnames,
            &active,
            &gateway_ids,
        );
        if outcomes.is_empty() {
            continue;
        }
        let (rules, resolved) = check_rules(snapshot, resolver, &key, route, &mut diagnostics);
        let order = (
            route.metadata.creation_timestamp.is_none(),
            route.metadata.creation_timestamp.clone(),
            key.namespace.clone(),
            key.name.clone(),
        );
        let mut parents = Vec::new();
        for outcome in outcomes {
            if !outcome.accepted.status {
                let reason = match outcome.accepted.reason.as_str() {
                    "NotAllowedByListeners" => Reason::NotAllowedByListeners,
                    "NoMatchingListenerHostname" => Reason::NoMatchingListenerHostname,
                    _ => Reason::NoMatchingParent,
                };
                diagnostics.push(Diagnostic::error(
                    reason,
                    &key,
                    format!("spec.parentRefs[{}]", outcome.index),
                    format!(
                        "{}; the route is not attached to Gateway {}/{}",
                        outcome.accepted.message, outcome.parent.namespace, outcome.parent.name
                    ),
                ));
            }
            for attachment in &outcome.attachments {
                let listener = &active[attachment.listener];
                count_attachment(&mut gateway_states, listener);
                for (rule_index, rule) in rules.iter().enumerate() {
                    let ranked = rule.ranked_rules(
                        &key,
                        &order,
                        rule_index,
                        listener.port,
                        &mut specs,
                        &mut diagnostics,
                    );
                    for hostname in &attachment.hostnames {
                        let host = hostname
                            .as_ref()
                            .map_or(HostMatch::Any, hostname::Hostname::host_match);
                        hosts
                            .entry(listener.port)
                            .or_default()
                            .entry(host)
                            .or_default()
                            .extend(ranked.iter().cloned());
                    }
                }
            }
            parents.push(ParentState {
                parent: outcome.parent,
                accepted: outcome.accepted,
                resolved_refs: resolved.clone(),
            });
        }
        routes.push(RouteState {
            route: key,
            generation: route.metadata.generation,
            parents,
        });
    }
    let ports = port_specs(&active, hosts);
    diagnostics.sort();
    diagnostics.dedup();
    GatewayTranslation {
        ports,
        diagnostics,
        status: GatewayStatus {
            classes,
            gateways: gateway_states,
            routes,
        },
    }
}

/// One more route attached to `listener`.
fn count_attachment(states: &mut [GatewayState], listener: &listeners::ActiveListener) {
    if let Some(state) = states
        .iter_mut()
        .find(|s| s.gateway == listener.gateway)
        .and_then(|g| g.listeners.iter_mut().find(|l| l.name == listener.name))
    {
        state.attached_routes += 1;
    }
}

/// The tables and certificates per port, from the ranked rules.
fn port_specs(
    active: &[listeners::ActiveListener],
    mut hosts: BTreeMap<u16, BTreeMap<HostMatch, Vec<RankedRule>>>,
) -> Vec<PortSpec> {
    let mut ports: BTreeMap<u16, PortSpec> = BTreeMap::new();
    for listener in active {
        let port = ports.entry(listener.port).or_insert_with(|| PortSpec {
            port: listener.port,
            protocol: listener.protocol,
            table: TableSpec::empty(),
            tls: None,
        });
        if listener.protocol == Protocol::Https {
            let tls = Arc::make_mut(port.tls.get_or_insert_with(Default::default));
            add_certificate(tls, listener);
        }
    }
    for (number, port) in &mut ports {
        let Some(by_host) = hosts.remove(number) else {
            continue;
        };
        for (host, mut ranked) in by_host {
            ranked.sort_by(|a, b| a.precedence.cmp(&b.precedence));
            // A route attached twice to one port (two listeners) gives the same rules twice.
            ranked.dedup_by(|a, b| a.precedence == b.precedence);
            port.table.hosts.push(Arc::new(VirtualHost {
                host,
                paths: ranked.into_iter().map(|r| r.rule).collect(),
                default_backend: None,
                aliases: Vec::new(),
            }));
        }
    }
    ports.into_values().collect()
}

/// A listener's first certificate for its hostname (or as the port's default).
fn add_certificate(tls: &mut TlsSpec, listener: &listeners::ActiveListener) {
    let Some(certificate) = listener.certificates.first() else {
        return;
    };
    let index = match tls
        .certificates
        .iter()
        .position(|c| c.secret == certificate.secret)
    {
        Some(index) => index,
        None => {
            tls.certificates.push(CertificateSpec::clone(certificate));
            tls.certificates.len() - 1
        }
    };
    match &listener.hostname {
        Some(hostname) => {
            let host = hostname.host_match();
            if !tls.hosts.iter().any(|(h, _)| *h == host) {
                tls.hosts.push((host, index));
            }
        }
        None => {
            tls.default_certificate.get_or_insert(index);
        }
    }
}
