//! The incremental Gateway API translation: what one route (HTTPRoute or GRPCRoute)
//! contributes is kept per route (`RouteFragment`), and a change recomputes only the routes it
//! touches (the route itself, routes naming a changed Service or its slices, routes crossing
//! namespaces when a ReferenceGrant changes) and re-settles only their hosts. GatewayClasses,
//! Gateways and Namespaces (selectors) start over. Listeners are settled again on every change
//! to the objects they read; while they route the same, only certificates change. Where an
//! HTTPRoute and a GRPCRoute on one listener share a hostname the older keeps the listener
//! (`conflicts`; listeners on one port with one hostname count as one, whichever Gateway they
//! are on), recomputed from the fragments on every update that has GRPCRoutes.
//! [`crate::translate_gateways`] is the same code from empty.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use portcullis_kube::objects::{Kind, ObjectKey};
use portcullis_kube::store::Snapshot;
use portcullis_route::spec::{HostMatch, TableSpec, TlsSpec, VirtualHost};
use portcullis_translation::{BackendResolver, Diagnostic, Reason, SliceIndex};

use crate::attach::attach;
use crate::backend_tls::{BackendTlsBook, settle_policies};
use crate::hostname::{Hostname, overlap};
use crate::listeners::{ActiveListener, GatewayState, Protocol, our_gateways, settle_listeners};
use crate::route_rules::{RankedRule, RouteOrder, check_rules};
use crate::route_view::{RouteView, all_routes, route_in};
use crate::{
    ClassState, Condition, GatewayConfig, GatewayStatus, GatewayTranslation, ParentState, PortSpec,
    RouteState, add_certificate,
};

/// (namespace, name).
type Id = (String, String);

/// A route's claim on a listener: its order, key, the hostnames it serves there, the listener.
type Claim<'a> = (&'a RouteOrder, &'a ObjectKey, &'a [Option<Hostname>], usize);

/// A route that loses a listener to an older route of the other kind with a shared hostname.
type Loss = (ObjectKey, usize);

/// The listeners of our Gateways, and what else a settlement yields.
#[derive(Debug, Clone, Default)]
struct Settlement {
    classes: Vec<ClassState>,
    gateway_ids: Vec<Id>,
    active: Vec<ActiveListener>,
    /// With no routes counted.
    states: Vec<GatewayState>,
    diagnostics: Vec<Diagnostic>,
    /// BackendTLSPolicies.
    policies: BackendTlsBook,
}

/// What one route contributes.
#[derive(Debug, Clone, Default)]
struct RouteFragment {
    /// Ranked rules by (port, host), with the listener (index) they came through.
    contributions: Vec<((u16, HostMatch), usize, Arc<RankedRule>)>,
    diagnostics: Vec<Diagnostic>,
    /// `None` when no parentRef names a Gateway of ours.
    state: Option<RouteState>,
    /// Its attachments: listener (index), the `state.parents` entry, the hostnames served.
    attached: Vec<(usize, usize, Vec<Option<Hostname>>)>,
    /// Where it sorts against other routes (oldest first).
    order: Option<RouteOrder>,
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
    routes: BTreeMap<ObjectKey, RouteFragment>,
    dependents: HashMap<Id, BTreeSet<ObjectKey>>,
    crossing: BTreeSet<ObjectKey>,
    members: BTreeMap<(u16, HostMatch), BTreeSet<ObjectKey>>,
    hosts: BTreeMap<(u16, HostMatch), Arc<VirtualHost>>,
    losses: BTreeSet<Loss>,
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
            losses: BTreeSet::new(),
        }
    }

    /// The translation of `snapshot`, given the keys that changed since the last update.
    pub fn update(&mut self, snapshot: &Snapshot, changed: &[ObjectKey]) -> GatewayTranslation {
        // BackendTLSPolicies (and the ConfigMaps they read) are few and rarely change: any
        // change to one starts over.
        let policies = &self.settlement.policies;
        let mut full = !self.started
            || changed.iter().any(|key| match key.kind {
                Kind::GatewayClass | Kind::Gateway | Kind::Namespace | Kind::BackendTLSPolicy => {
                    true
                }
                Kind::ConfigMap => policies.reads_config_map(&key.namespace, &key.name),
                _ => false,
            });
        let mut dirty: BTreeSet<ObjectKey> = BTreeSet::new();
        if !self.started {
            self.slices = SliceIndex::from_snapshot(snapshot);
        } else {
            for key in changed {
                let id = (key.namespace.clone(), key.name.clone());
                match key.kind {
                    Kind::HTTPRoute | Kind::GRPCRoute | Kind::TLSRoute => {
                        dirty.insert(key.clone());
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
            self.losses.clear();
            let mut dirty_hosts = BTreeSet::new();
            for id in all_routes(snapshot) {
                self.recompute(snapshot, &id, &mut dirty_hosts);
            }
            self.losses = self.conflicts();
            self.resettle(&dirty_hosts);
            None
        } else {
            let mut dirty_hosts = BTreeSet::new();
            for id in &dirty {
                self.recompute(snapshot, id, &mut dirty_hosts);
            }
            let losses = self.conflicts();
            for (route, listener) in losses.symmetric_difference(&self.losses) {
                if let Some(fragment) = self.routes.get(route) {
                    dirty_hosts.extend(
                        fragment
                            .contributions
                            .iter()
                            .filter(|(_, l, _)| l == listener)
                            .map(|(host, _, _)| host.clone()),
                    );
                }
                dirty.insert(route.clone());
            }
            self.losses = losses;
            self.resettle(&dirty_hosts);
            Some(dirty)
        };
        self.output(changed_routes)
    }

    /// The listeners each route loses: where an HTTPRoute and a GRPCRoute attached to one
    /// listener share a hostname, the older (then the first by namespace/name) keeps it.
    fn conflicts(&self) -> BTreeSet<Loss> {
        let first_grpc = ObjectKey {
            kind: Kind::GRPCRoute,
            namespace: String::new(),
            name: String::new(),
        };
        let grpc: Vec<(&ObjectKey, &RouteFragment)> = self
            .routes
            .range(first_grpc..)
            .take_while(|(key, _)| key.kind == Kind::GRPCRoute)
            .filter(|(_, f)| !f.attached.is_empty())
            .collect();
        let mut losses = BTreeSet::new();
        if grpc.is_empty() {
            return losses;
        }
        // Listeners on one port with the same hostname serve the same hosts (on one Gateway
        // or several): their routes compete as if on one listener.
        let group = |listener: usize| {
            let active = &self.settlement.active[listener];
            (active.port, active.hostname.clone())
        };
        let groups: BTreeSet<(u16, Option<Hostname>)> = grpc
            .iter()
            .flat_map(|(_, f)| f.attached.iter().map(|(l, _, _)| group(*l)))
            .collect();
        // Per group, the routes attached to it oldest first; each keeps its listener unless an
        // older route of the other kind that kept one shares a hostname.
        let mut attached: BTreeMap<(u16, Option<Hostname>), Vec<Claim<'_>>> = BTreeMap::new();
        for (key, fragment) in &self.routes {
            let Some(order) = &fragment.order else {
                continue;
            };
            for (listener, _, hosts) in &fragment.attached {
                let group = group(*listener);
                if groups.contains(&group) {
                    attached
                        .entry(group)
                        .or_default()
                        .push((order, key, hosts, *listener));
                }
            }
        }
        for (_, mut routes) in attached {
            routes.sort();
            let mut kept: Vec<(Kind, &[Option<Hostname>])> = Vec::new();
            for (_, key, hosts, listener) in routes {
                let beaten = kept
                    .iter()
                    .any(|(kind, other)| *kind != key.kind && overlap(hosts, other));
                if beaten {
                    losses.insert((key.clone(), listener));
                } else {
                    kept.push((key.kind, hosts));
                }
            }
        }
        losses
    }

    /// Whether a change to `key` can change the translation: a kind it reads, and of
    /// ConfigMaps only those a BackendTLSPolicy names (clusters are full of others).
    pub fn reads(&self, key: &ObjectKey) -> bool {
        match key.kind {
            Kind::ConfigMap => {
                !self.started
                    || self
                        .settlement
                        .policies
                        .reads_config_map(&key.namespace, &key.name)
            }
            kind => crate::reads(kind),
        }
    }

    /// The status of every route naming a Gateway of ours, as the last update left it (an
    /// update's own status lists only the routes it recomputed).
    pub fn route_states(&self) -> Vec<RouteState> {
        self.routes
            .iter()
            .filter_map(|(key, f)| self.state_of(key, f))
            .collect()
    }

    /// A route's status, with the listeners it lost to a route of the other kind.
    fn state_of(&self, key: &ObjectKey, fragment: &RouteFragment) -> Option<RouteState> {
        let mut state = fragment.state.clone()?;
        let lost = |listener: &usize| self.losses.contains(&(key.clone(), *listener));
        for (index, parent) in state.parents.iter_mut().enumerate() {
            let mut attached = fragment.attached.iter().filter(|(_, p, _)| *p == index);
            if parent.accepted.status && attached.all(|(l, _, _)| lost(l)) {
                parent.accepted = Condition::no(
                    "Conflicted",
                    "an older route of the other kind (HTTPRoute or GRPCRoute) serves the same \
                     hostnames on these listeners",
                );
            }
        }
        Some(state)
    }

    /// Drops route `id`'s fragment and computes it again from `snapshot` (if it is there).
    fn recompute(
        &mut self,
        snapshot: &Snapshot,
        id: &ObjectKey,
        dirty_hosts: &mut BTreeSet<(u16, HostMatch)>,
    ) {
        if let Some(old) = self.routes.remove(id) {
            for (host, _, _) in &old.contributions {
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
        let Some(route) = route_in(snapshot, id) else {
            return;
        };
        let resolver = BackendResolver::new(snapshot, &self.slices);
        let fragment = route_fragment(snapshot, resolver, &self.settlement, &route);
        for (host, _, _) in &fragment.contributions {
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
            let (routes, losses) = (&self.routes, &self.losses);
            let mut ranked: Vec<&RankedRule> = members
                .iter()
                .filter_map(|id| Some((id, routes.get(id)?)))
                .flat_map(|(id, fragment)| {
                    fragment
                        .contributions
                        .iter()
                        .filter(move |(h, listener, _)| {
                            h == host
                                && (losses.is_empty() || !losses.contains(&(id.clone(), *listener)))
                        })
                })
                .map(|(_, _, rule)| &**rule)
                .collect();
            if ranked.is_empty() {
                // Members that lost the host to a conflict stay members: they may win it back.
                if members.is_empty() {
                    self.members.remove(host);
                }
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
    fn output(&self, changed_routes: Option<BTreeSet<ObjectKey>>) -> GatewayTranslation {
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
            for (index, _, _) in &fragment.attached {
                if !self.losses.is_empty() && self.losses.contains(&(id.clone(), *index)) {
                    continue;
                }
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
                routes.extend(self.state_of(id, fragment));
            }
        }
        for (route, index) in &self.losses {
            let listener = &settlement.active[*index];
            let other = match route.kind {
                Kind::GRPCRoute => "HTTPRoute",
                _ => "GRPCRoute",
            };
            diagnostics.push(Diagnostic::error(
                Reason::Conflict,
                route,
                "spec.hostnames",
                format!(
                    "an older {other} serves some of these hostnames on port {}; the route is \
                     not served on listener {} of {}",
                    listener.port, listener.name, listener.gateway
                ),
            ));
        }
        diagnostics.extend(settlement.policies.diagnostics.iter().cloned());
        let mut policies = settlement.policies.states.clone();
        if !policies.is_empty() {
            // A policy's ancestors: the Gateways of the accepted routes reaching a Service it
            // targets, whether it won the Service or not (a losing policy says so there).
            let mut by_service: BTreeMap<&Id, BTreeSet<(String, String)>> = BTreeMap::new();
            for fragment in self.routes.values() {
                let Some(state) = &fragment.state else {
                    continue;
                };
                for service in &fragment.services {
                    let gateways = by_service.entry(service).or_default();
                    for parent in state.parents.iter().filter(|p| p.accepted.status) {
                        gateways
                            .insert((parent.parent.namespace.clone(), parent.parent.name.clone()));
                    }
                }
            }
            for policy in &mut policies {
                let gateways: BTreeSet<(String, String)> = policy
                    .targets
                    .iter()
                    .filter_map(|target| by_service.get(target))
                    .flatten()
                    .cloned()
                    .collect();
                policy.ancestors = gateways.into_iter().collect();
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
                policies,
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
        policies: settle_policies(snapshot),
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
                && a.kinds == b.kinds
        })
}

/// What one route contributes against the settled listeners.
fn route_fragment(
    snapshot: &Snapshot,
    resolver: BackendResolver<'_>,
    settlement: &Settlement,
    route: &RouteView<'_>,
) -> RouteFragment {
    let key = route.key.clone();
    let mut fragment = RouteFragment::default();
    for rule in &route.rules {
        let mirrored = rule
            .filters
            .iter()
            .filter_map(|f| f.request_mirror.as_ref());
        for (namespace, name) in mirrored.map(|m| (&m.backend_ref.namespace, &m.backend_ref.name)) {
            let namespace = namespace.clone().unwrap_or_else(|| key.namespace.clone());
            fragment.crosses_namespaces |= namespace != key.namespace;
            let service = (namespace, name.clone());
            if !fragment.services.contains(&service) {
                fragment.services.push(service);
            }
        }
        for reference in rule.backend_refs {
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
    for (index, raw) in route.hostnames.iter().enumerate() {
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
    if hostnames.is_empty() && !route.hostnames.is_empty() {
        // Every hostname was refused: serving all hosts instead would widen the route.
        return fragment;
    }
    let outcomes = attach(
        snapshot,
        &key.namespace,
        key.kind.as_str(),
        route.parent_refs,
        &hostnames,
        &settlement.active,
        &settlement.gateway_ids,
    );
    if outcomes.is_empty() {
        return fragment;
    }
    let (rules, resolved) =
        check_rules(snapshot, resolver, &settlement.policies, route, diagnostics);
    let order = Arc::new((
        route.meta.creation_timestamp.is_none(),
        route.meta.creation_timestamp.clone(),
        key.namespace.clone(),
        key.name.clone(),
    ));
    fragment.order = Some(Arc::clone(&order));
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
            fragment.attached.push((
                attachment.listener,
                parents.len(),
                attachment.hostnames.clone(),
            ));
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
                        fragment.contributions.push((
                            (listener.port, host.clone()),
                            attachment.listener,
                            Arc::clone(one),
                        ));
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
        generation: route.meta.generation,
        parents,
    });
    fragment
}
