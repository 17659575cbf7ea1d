//! The incremental Gateway API translation: what one route contributes is kept per route
//! (`RouteFragment`), and a change recomputes only the routes it touches (the route itself,
//! routes naming a changed Service or its slices, routes crossing namespaces when a
//! ReferenceGrant changes) and re-settles only their hosts. GatewayClasses, Gateways and
//! Namespaces (selectors) start over. Listeners are settled again on every change to the
//! objects they read; while they route the same, only certificates change.
//! [`crate::translate_gateways`] is the same code from empty.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use portcullis_kube::objects::gateway_api::HttpRoute;
use portcullis_kube::objects::{Kind, ObjectKey};
use portcullis_kube::store::Snapshot;
use portcullis_route::spec::{HostMatch, TableSpec, TlsSpec, VirtualHost};
use portcullis_translation::{BackendResolver, Diagnostic, Reason, SliceIndex};

use crate::attach::attach;
use crate::hostname::Hostname;
use crate::http_route::{RankedRule, check_rules};
use crate::listeners::{ActiveListener, GatewayState, Protocol, our_gateways, settle_listeners};
use crate::{
    ClassState, Condition, GatewayConfig, GatewayStatus, GatewayTranslation, ParentState, PortSpec,
    RouteState, add_certificate,
};

/// (namespace, name).
type Id = (String, String);

/// The listeners of our Gateways, and what else a settlement yields.
#[derive(Debug, Clone, Default)]
struct Settlement {
    classes: Vec<ClassState>,
    gateway_ids: Vec<Id>,
    active: Vec<ActiveListener>,
    /// With no routes counted.
    states: Vec<GatewayState>,
    diagnostics: Vec<Diagnostic>,
}

/// What one HTTPRoute contributes.
#[derive(Debug, Clone, Default)]
struct RouteFragment {
    /// Ranked rules by (port, host).
    contributions: Vec<((u16, HostMatch), Arc<RankedRule>)>,
    diagnostics: Vec<Diagnostic>,
    /// `None` when no parentRef names a Gateway of ours.
    state: Option<RouteState>,
    /// The active listeners it is attached to (indices), once per attachment.
    attached: Vec<usize>,
    /// Services its backendRefs name.
    services: Vec<Id>,
    /// A backendRef names another namespace.
    crosses_namespaces: bool,
}

/// The incremental translator; see the module documentation.
#[derive(Debug)]
pub struct GatewayTranslator {
    config: GatewayConfig,
    started: bool,
    slices: SliceIndex,
    settlement: Settlement,
    routes: BTreeMap<Id, RouteFragment>,
    dependents: HashMap<Id, BTreeSet<Id>>,
    crossing: BTreeSet<Id>,
    members: BTreeMap<(u16, HostMatch), BTreeSet<Id>>,
    hosts: BTreeMap<(u16, HostMatch), Arc<VirtualHost>>,
}

impl GatewayTranslator {
    /// A translator that has seen nothing yet: its first update translates everything.
    pub fn new(config: GatewayConfig) -> Self {
        GatewayTranslator {
            config,
            started: false,
            slices: SliceIndex::default(),
            settlement: Settlement::default(),
            routes: BTreeMap::new(),
            dependents: HashMap::new(),
            crossing: BTreeSet::new(),
            members: BTreeMap::new(),
            hosts: BTreeMap::new(),
        }
    }

    /// The translation of `snapshot`, given the keys that changed since the last update.
    pub fn update(&mut self, snapshot: &Snapshot, changed: &[ObjectKey]) -> GatewayTranslation {
        let mut full = !self.started
            || changed.iter().any(|key| {
                matches!(
                    key.kind,
                    Kind::GatewayClass | Kind::Gateway | Kind::Namespace
                )
            });
        let mut dirty: BTreeSet<Id> = BTreeSet::new();
        if !self.started {
            self.slices = SliceIndex::from_snapshot(snapshot);
        } else {
            for key in changed {
                let id = (key.namespace.clone(), key.name.clone());
                match key.kind {
                    Kind::HTTPRoute => {
                        dirty.insert(id);
                    }
                    Kind::Service | Kind::Endpoints => {
                        dirty.extend(self.dependents.get(&id).into_iter().flatten().cloned());
                    }
                    Kind::EndpointSlice => {
                        for service in self.slices.refresh(snapshot, &key.namespace, &key.name) {
                            let service = (key.namespace.clone(), service);
                            dirty.extend(
                                self.dependents.get(&service).into_iter().flatten().cloned(),
                            );
                        }
                    }
                    Kind::ReferenceGrant => dirty.extend(self.crossing.iter().cloned()),
                    _ => {}
                }
            }
        }
        let listeners_read = |kind| {
            matches!(
                kind,
                Kind::GatewayClass
                    | Kind::Gateway
                    | Kind::Namespace
                    | Kind::Secret
                    | Kind::ReferenceGrant
            )
        };
        if full || changed.iter().any(|key| listeners_read(key.kind)) {
            let settlement = settle(snapshot, &self.config);
            if !same_routing(&settlement.active, &self.settlement.active) {
                full = true;
            }
            self.settlement = settlement;
        }
        self.started = true;
        let changed_routes = if full {
            self.routes.clear();
            self.dependents.clear();
            self.crossing.clear();
            self.members.clear();
            self.hosts.clear();
            let all: Vec<Id> = snapshot.http_routes.keys().cloned().collect();
            let mut dirty_hosts = BTreeSet::new();
            for id in &all {
                self.recompute(snapshot, id, &mut dirty_hosts);
            }
            self.resettle(&dirty_hosts);
            None
        } else {
            let mut dirty_hosts = BTreeSet::new();
            for id in &dirty {
                self.recompute(snapshot, id, &mut dirty_hosts);
            }
            self.resettle(&dirty_hosts);
            Some(dirty)
        };
        self.output(changed_routes)
    }

    /// The status of every route naming a Gateway of ours, as the last update left it (an
    /// update's own status lists only the routes it recomputed).
    pub fn route_states(&self) -> impl Iterator<Item = &RouteState> {
        self.routes.values().filter_map(|f| f.state.as_ref())
    }

    /// Drops route `id`'s fragment and computes it again from `snapshot` (if it is there).
    fn recompute(
        &mut self,
        snapshot: &Snapshot,
        id: &Id,
        dirty_hosts: &mut BTreeSet<(u16, HostMatch)>,
    ) {
        if let Some(old) = self.routes.remove(id) {
            for (host, _) in &old.contributions {
                if let Some(members) = self.members.get_mut(host) {
                    members.remove(id);
                }
                dirty_hosts.insert(host.clone());
            }
            for service in &old.services {
                if let Some(routes) = self.dependents.get_mut(service) {
                    routes.remove(id);
                    if routes.is_empty() {
                        self.dependents.remove(service);
                    }
                }
            }
            self.crossing.remove(id);
        }
        let Some(route) = snapshot.http_routes.get(id) else {
            return;
        };
        let resolver = BackendResolver::new(snapshot, &self.slices);
        let fragment = route_fragment(snapshot, resolver, &self.settlement, route);
        for (host, _) in &fragment.contributions {
            self.members
                .entry(host.clone())
                .or_default()
                .insert(id.clone());
            dirty_hosts.insert(host.clone());
        }
        for service in &fragment.services {
            self.dependents
                .entry(service.clone())
                .or_default()
                .insert(id.clone());
        }
        if fragment.crosses_namespaces {
            self.crossing.insert(id.clone());
        }
        self.routes.insert(id.clone(), fragment);
    }

    /// Builds the virtual host of each dirty (port, host) again from its routes' rules.
    fn resettle(&mut self, dirty_hosts: &BTreeSet<(u16, HostMatch)>) {
        for host in dirty_hosts {
            let Some(members) = self.members.get(host) else {
                self.hosts.remove(host);
                continue;
            };
            let mut ranked: Vec<&RankedRule> = members
                .iter()
                .filter_map(|id| self.routes.get(id))
                .flat_map(|fragment| fragment.contributions.iter())
                .filter(|(h, _)| h == host)
                .map(|(_, rule)| &**rule)
                .collect();
            if ranked.is_empty() {
                self.members.remove(host);
                self.hosts.remove(host);
                continue;
            }
            ranked.sort_by(|a, b| a.precedence.cmp(&b.precedence));
            // A route attached twice to one port (two listeners) gives the same rules twice.
            ranked.dedup_by(|a, b| a.precedence == b.precedence);
            self.hosts.insert(
                host.clone(),
                Arc::new(VirtualHost {
                    host: host.1.clone(),
                    paths: ranked.into_iter().map(|r| r.rule.clone()).collect(),
                    default_backend: None,
                    aliases: Vec::new(),
                }),
            );
        }
    }

    /// The translation as it stands.
    fn output(&self, changed_routes: Option<BTreeSet<Id>>) -> GatewayTranslation {
        let settlement = &self.settlement;
        let mut ports: BTreeMap<u16, PortSpec> = BTreeMap::new();
        for listener in &settlement.active {
            let port = ports.entry(listener.port).or_insert_with(|| PortSpec {
                port: listener.port,
                protocol: listener.protocol,
                table: TableSpec::empty(),
                tls: None,
            });
            if listener.protocol == Protocol::Https {
                let tls =
                    Arc::make_mut(port.tls.get_or_insert_with(|| Arc::new(TlsSpec::default())));
                add_certificate(tls, listener);
            }
        }
        for ((port, _), host) in &self.hosts {
            if let Some(spec) = ports.get_mut(port) {
                spec.table.hosts.push(Arc::clone(host));
            }
        }
        let mut gateways = settlement.states.clone();
        let mut diagnostics = settlement.diagnostics.clone();
        let mut routes = Vec::new();
        for (id, fragment) in &self.routes {
            for index in &fragment.attached {
                let listener = &settlement.active[*index];
                if let Some(state) = gateways
                    .iter_mut()
                    .find(|s| s.gateway == listener.gateway)
                    .and_then(|g| g.listeners.iter_mut().find(|l| l.name == listener.name))
                {
                    state.attached_routes += 1;
                }
            }
            diagnostics.extend(fragment.diagnostics.iter().cloned());
            if changed_routes
                .as_ref()
                .is_none_or(|changed| changed.contains(id))
            {
                routes.extend(fragment.state.iter().cloned());
            }
        }
        diagnostics.sort();
        diagnostics.dedup();
        GatewayTranslation {
            ports: ports.into_values().collect(),
            diagnostics,
            status: GatewayStatus {
                classes: settlement.classes.clone(),
                gateways,
                routes,
            },
            changed_routes,
        }
    }
}

/// Our classes, Gateways and their listeners.
fn settle(snapshot: &Snapshot, config: &GatewayConfig) -> Settlement {
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
    let gateways = our_gateways(snapshot, &class_names);
    let mut diagnostics = Vec::new();
    let (active, states) = settle_listeners(
        snapshot,
        &gateways,
        &config.reserved_ports,
        &mut diagnostics,
    );
    Settlement {
        classes,
        gateway_ids: gateways
            .iter()
            .map(|g| (g.metadata.namespace.clone(), g.metadata.name.clone()))
            .collect(),
        active,
        states,
        diagnostics,
    }
}

/// True when two sets of listeners route alike (only certificates may differ).
fn same_routing(a: &[ActiveListener], b: &[ActiveListener]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.gateway == b.gateway
                && a.name == b.name
                && a.port == b.port
                && a.protocol == b.protocol
                && a.hostname == b.hostname
                && a.namespaces == b.namespaces
                && a.allows_http_routes == b.allows_http_routes
        })
}

/// What one HTTPRoute contributes against the settled listeners.
fn route_fragment(
    snapshot: &Snapshot,
    resolver: BackendResolver<'_>,
    settlement: &Settlement,
    route: &HttpRoute,
) -> RouteFragment {
    let key = ObjectKey {
        kind: Kind::HTTPRoute,
        namespace: route.metadata.namespace.clone(),
        name: route.metadata.name.clone(),
    };
    let mut fragment = RouteFragment::default();
    for rule in &route.spec.rules {
        for reference in &rule.backend_refs {
            let namespace = reference
                .namespace
                .clone()
                .unwrap_or_else(|| key.namespace.clone());
            fragment.crosses_namespaces |= namespace != key.namespace;
            let service = (namespace, reference.name.clone());
            if !fragment.services.contains(&service) {
                fragment.services.push(service);
            }
        }
    }
    let diagnostics = &mut fragment.diagnostics;
    let mut hostnames = Vec::new();
    for (index, raw) in route.spec.hostnames.iter().enumerate() {
        match Hostname::parse(raw) {
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
        return fragment;
    }
    let outcomes = attach(
        snapshot,
        &key.namespace,
        "HTTPRoute",
        &route.spec.parent_refs,
        &hostnames,
        &settlement.active,
        &settlement.gateway_ids,
    );
    if outcomes.is_empty() {
        return fragment;
    }
    let (rules, resolved) = check_rules(snapshot, resolver, &key, route, diagnostics);
    let order = Arc::new((
        route.metadata.creation_timestamp.is_none(),
        route.metadata.creation_timestamp.clone(),
        key.namespace.clone(),
        key.name.clone(),
    ));
    let mut specs = Vec::new();
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
            let listener = &settlement.active[attachment.listener];
            fragment.attached.push(attachment.listener);
            for (rule_index, rule) in rules.iter().enumerate() {
                let ranked = rule.ranked_rules(
                    &key,
                    &order,
                    rule_index,
                    listener.port,
                    &mut specs,
                    diagnostics,
                );
                for hostname in &attachment.hostnames {
                    let host = hostname
                        .as_ref()
                        .map_or(HostMatch::Any, Hostname::host_match);
                    for one in &ranked {
                        fragment
                            .contributions
                            .push(((listener.port, host.clone()), Arc::clone(one)));
                    }
                }
            }
        }
        parents.push(ParentState {
            parent: outcome.parent,
            accepted: outcome.accepted,
            resolved_refs: resolved.clone(),
        });
    }
    diagnostics.sort();
    diagnostics.dedup();
    fragment.state = Some(RouteState {
        route: key,
        generation: route.metadata.generation,
        parents,
    });
    fragment
}
