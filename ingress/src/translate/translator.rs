//! Keeps the translation between changes, so a change costs what it touches, not the table.
//!
//! The [`Translator`] caches one [`Fragment`] per Ingress and one settled virtual host per
//! host. Told which objects changed, it recomputes the fragments of the Ingresses that changed
//! or that name a changed Service (or its EndpointSlices or Endpoints), re-settles only the
//! hosts those fragments claim (before and after), and runs the certificate pass again only
//! when an Ingress with `spec.tls` or a Secret changed. An IngressClass change, which can move
//! every Ingress in or out of our class, recomputes everything. The result is always the same
//! as translating the whole snapshot afresh; a randomized test holds it to that.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use foldhash::fast::RandomState;
use portcullis_route::spec::{Backend, HostMatch, RouteSpec, TableSpec, TlsSpec, VirtualHost};

use super::class::ClassFilter;
use super::fragment::{Fragment, Precedence, flag_backend, fragment};
use super::merge::{lost_conflict, merge_host, wants_www_redirect, www_counterpart};
use super::small_set::SmallSet;
use super::tls::TlsBuilder;
use super::{TranslateConfig, Translation};
use k8s_openapi::api::networking::v1::Ingress;
use portcullis_kube::objects::{Kind, ObjectKey};
use portcullis_kube::store::Snapshot;
use portcullis_translation::{BackendResolver, SliceIndex};
use portcullis_translation::{Diagnostic, Reason};

/// (namespace, name) of a Service.
type Id = (String, String);

/// An Ingress's key, shared by every index that names the Ingress.
type IngressId = Arc<ObjectKey>;

/// The translation of a snapshot, kept up to date change by change.
#[derive(Debug)]
pub struct Translator {
    config: TranslateConfig,
    /// False until the first update, which reads everything.
    primed: bool,
    slices: SliceIndex,
    /// Every Ingress of the snapshot (ours or not), in precedence order.
    fragments: BTreeMap<Precedence, Arc<Fragment>>,
    /// Where each Ingress sits in `fragments`.
    precedence: HashMap<IngressId, Precedence, RandomState>,
    /// (namespace, Service) → the Ingresses that name it.
    dependents: HashMap<Id, SmallSet<IngressId>, RandomState>,
    hosts: BTreeMap<HostMatch, SettledHost>,
    /// Our Ingresses without rules but with a default backend: the oldest is the table default.
    global_defaults: BTreeSet<Precedence>,
    /// Our Ingresses with `spec.tls`.
    with_tls: BTreeSet<Precedence>,
    tls: Arc<TlsSpec>,
    tls_diagnostics: Vec<Diagnostic>,
    /// Our Ingresses in precedence order, rebuilt only when that list changes.
    ours: Arc<[ObjectKey]>,
}

/// One host as the proxy will serve it, and who claims it.
#[derive(Debug)]
struct SettledHost {
    contributors: SmallSet<Contributor>,
    /// Set by every update that creates the host, so never `None` between updates.
    built: Option<Arc<VirtualHost>>,
    diagnostics: Vec<Diagnostic>,
    /// An Ingress of the host asks for `from-to-www-redirect`.
    www_redirect: bool,
}

/// One Ingress claiming a host: its fragment, ordered by the fragment's precedence, so that
/// settling a host looks nothing up.
#[derive(Debug, Clone)]
struct Contributor(Arc<Fragment>);

impl PartialEq for Contributor {
    fn eq(&self, other: &Self) -> bool {
        self.0.precedence == other.0.precedence
    }
}

impl Eq for Contributor {}

impl PartialOrd for Contributor {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Contributor {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.precedence.cmp(&other.0.precedence)
    }
}

/// What one update has to redo besides the Ingresses it recomputes.
#[derive(Debug, Default)]
struct Dirty {
    hosts: BTreeSet<HostMatch>,
    /// Every host is settled anyway: do not record them one by one.
    all_hosts: bool,
    tls: bool,
    ours: bool,
}

impl Translator {
    /// A translator that has seen nothing yet.
    pub fn new(config: TranslateConfig) -> Self {
        Translator {
            config,
            primed: false,
            slices: SliceIndex::default(),
            fragments: BTreeMap::new(),
            precedence: HashMap::default(),
            dependents: HashMap::default(),
            hosts: BTreeMap::new(),
            global_defaults: BTreeSet::new(),
            with_tls: BTreeSet::new(),
            tls: Arc::new(TlsSpec::default()),
            tls_diagnostics: Vec::new(),
            ours: Arc::from(Vec::new()),
        }
    }

    /// Brings the translation up to date with `snapshot`. `changed` names every object added,
    /// changed or deleted since the previous update; the first update reads everything and
    /// ignores it.
    pub fn update(&mut self, snapshot: &Snapshot, changed: &[ObjectKey]) -> Translation {
        let mut dirty = Dirty::default();
        let everything = !self.primed || changed.iter().any(|key| key.kind == Kind::IngressClass);
        if everything {
            // Start from empty: no old fragment to take apart, every host to settle.
            *self = Translator::new(self.config.clone());
            self.primed = true;
            self.slices = SliceIndex::from_snapshot(snapshot);
            dirty.tls = true;
            dirty.ours = true;
            dirty.all_hosts = true;
            let all = snapshot
                .ingresses
                .iter()
                .map(|((namespace, name), ingress)| {
                    let id = Arc::new(ObjectKey {
                        kind: Kind::Ingress,
                        namespace: namespace.clone(),
                        name: name.clone(),
                    });
                    (id, Some(&**ingress))
                });
            self.refresh_fragments(snapshot, all, &mut dirty);
            self.settle_all();
        } else {
            let ingresses = self.collect_dirty(snapshot, changed, &mut dirty);
            let now = ingresses.into_iter().map(|id| {
                let ingress = snapshot
                    .ingresses
                    .get(&(id.namespace.clone(), id.name.clone()))
                    .map(|i| &**i);
                (id, ingress)
            });
            self.refresh_fragments(snapshot, now, &mut dirty);
            for host in std::mem::take(&mut dirty.hosts) {
                self.settle(&host);
            }
        }
        if dirty.tls {
            self.certificate_pass(snapshot);
        }
        if dirty.ours {
            self.ours = self
                .fragments
                .values()
                .filter(|f| f.accepted)
                .map(|f| (**f.owner()).clone())
                .collect();
        }
        self.translation(snapshot)
    }

    /// The Ingresses a set of changed objects invalidates.
    fn collect_dirty(
        &mut self,
        snapshot: &Snapshot,
        changed: &[ObjectKey],
        dirty: &mut Dirty,
    ) -> BTreeSet<IngressId> {
        let mut ingresses: BTreeSet<IngressId> = BTreeSet::new();
        let mut services: BTreeSet<Id> = BTreeSet::new();
        for key in changed {
            match key.kind {
                Kind::Ingress => {
                    ingresses.insert(Arc::new(key.clone()));
                }
                Kind::Service | Kind::Endpoints => {
                    services.insert((key.namespace.clone(), key.name.clone()));
                }
                Kind::EndpointSlice => {
                    for service in self.slices.refresh(snapshot, &key.namespace, &key.name) {
                        services.insert((key.namespace.clone(), service));
                    }
                }
                Kind::Secret => dirty.tls = true,
                // IngressClass changes start over (above); Gateway API kinds are the Gateway
                // translation's; the rest are the node agent's.
                Kind::IngressClass
                | Kind::Node
                | Kind::Pod
                | Kind::Namespace
                | Kind::NetworkPolicy
                | Kind::GatewayClass
                | Kind::Gateway
                | Kind::HTTPRoute
                | Kind::GRPCRoute
                | Kind::TLSRoute
                | Kind::BackendTLSPolicy
                | Kind::ConfigMap
                | Kind::ReferenceGrant => {}
            }
        }
        for service in &services {
            if let Some(dependents) = self.dependents.get(service) {
                ingresses.extend(dependents.iter().cloned());
            }
        }
        ingresses
    }

    /// Drops the old fragment of every dirty Ingress and computes its new one, noting the
    /// hosts either of them claims.
    /// `ingresses` pairs each Ingress to redo with its current object (`None`: deleted).
    fn refresh_fragments<'s>(
        &mut self,
        snapshot: &'s Snapshot,
        ingresses: impl Iterator<Item = (IngressId, Option<&'s Ingress>)>,
        dirty: &mut Dirty,
    ) {
        let filter = ClassFilter::new(&self.config.class, &snapshot.ingress_classes);
        let resolver = BackendResolver::new(snapshot, &self.slices);
        for (id, ingress) in ingresses {
            if let Some(old) = self
                .precedence
                .remove(&id)
                .and_then(|p| self.fragments.remove(&p))
            {
                for service_id in &old.services {
                    if let Some(ingresses) = self.dependents.get_mut(service_id) {
                        ingresses.remove(&id);
                        if ingresses.is_empty() {
                            self.dependents.remove(service_id);
                        }
                    }
                }
                for (host, _) in &old.hosts {
                    if let Some(settled) = self.hosts.get_mut(host) {
                        settled.contributors.remove(&Contributor(Arc::clone(&old)));
                    }
                    if !dirty.all_hosts {
                        dirty.hosts.insert(host.clone());
                    }
                }
                self.global_defaults.remove(&old.precedence);
                dirty.tls |= self.with_tls.remove(&old.precedence);
                dirty.ours |= old.accepted;
            }
            let Some(ingress) = ingress else {
                continue;
            };
            let new = Arc::new(fragment(
                Arc::clone(&id),
                ingress,
                &filter,
                resolver,
                &self.config,
            ));
            for service in &new.services {
                self.dependents
                    .entry(service.clone())
                    .or_default()
                    .insert(id.clone());
            }
            for (host, _) in &new.hosts {
                self.hosts
                    .entry(host.clone())
                    .or_insert_with(|| SettledHost {
                        contributors: SmallSet::default(),
                        built: None,
                        diagnostics: Vec::new(),
                        www_redirect: false,
                    })
                    .contributors
                    .insert(Contributor(Arc::clone(&new)));
                if !dirty.all_hosts {
                    dirty.hosts.insert(host.clone());
                }
            }
            if new.global_default.is_some() {
                self.global_defaults.insert(new.precedence.clone());
            }
            if new.accepted && new.has_tls {
                self.with_tls.insert(new.precedence.clone());
                dirty.tls = true;
            }
            dirty.ours |= new.accepted;
            self.precedence.insert(id, new.precedence.clone());
            self.fragments.insert(new.precedence.clone(), new);
        }
    }

    /// Settles one host again from its contributors, or drops it when none is left.
    fn settle(&mut self, host: &HostMatch) {
        let Some(settled) = self.hosts.get_mut(host) else {
            return;
        };
        if settled.contributors.is_empty() {
            self.hosts.remove(host);
            return;
        }
        resettle(host, settled);
    }

    /// Settles every host (after a start from empty, where each one has contributors).
    fn settle_all(&mut self) {
        for (host, settled) in &mut self.hosts {
            resettle(host, settled);
        }
    }

    /// Which Secret answers which SNI name, over every Ingress of ours with `spec.tls`.
    fn certificate_pass(&mut self, snapshot: &Snapshot) {
        let Some(tls_config) = &self.config.tls else {
            return;
        };
        let mut diagnostics = Vec::new();
        let mut builder = TlsBuilder::new(&snapshot.secrets);
        for precedence in &self.with_tls {
            let Some(fragment) = self.fragments.get(precedence) else {
                continue;
            };
            let id = (
                fragment.owner().namespace.clone(),
                fragment.owner().name.clone(),
            );
            if let Some(ingress) = snapshot.ingresses.get(&id) {
                builder.add_ingress(fragment.owner(), ingress, &mut diagnostics);
            }
        }
        let default = tls_config
            .default_certificate
            .as_ref()
            .map(|secret| (secret.namespace.clone(), secret.name.clone()));
        self.tls = Arc::new(builder.finish(default.as_ref(), &mut diagnostics));
        self.tls_diagnostics = diagnostics;
    }

    /// Assembles the result from the settled pieces.
    fn translation(&self, snapshot: &Snapshot) -> Translation {
        let mut diagnostics: Vec<Diagnostic> = Vec::new();
        for fragment in self.fragments.values() {
            diagnostics.extend(fragment.diagnostics.iter().cloned());
        }
        for settled in self.hosts.values() {
            diagnostics.extend(settled.diagnostics.iter().cloned());
        }
        diagnostics.extend(self.tls_diagnostics.iter().cloned());
        let default_backend = self.table_default(snapshot, &mut diagnostics);
        diagnostics.sort();
        diagnostics.dedup();
        let mut hosts: Vec<Arc<VirtualHost>> = self
            .hosts
            .values()
            .filter_map(|s| s.built.clone())
            .collect();
        // from-to-www-redirect: the other name, unless it is a host of its own.
        for (host, settled) in &self.hosts {
            if settled.www_redirect
                && let Some(counterpart) = www_counterpart(host)
                && !self.hosts.contains_key(&counterpart.host)
            {
                hosts.push(counterpart);
            }
        }
        Translation {
            spec: TableSpec {
                hosts,
                default_backend,
            },
            tls: Arc::clone(&self.tls),
            diagnostics,
            ingresses: Arc::clone(&self.ours),
        }
    }

    /// The oldest Ingress without rules, else `--default-backend-service`, else the built-in
    /// 404.
    fn table_default(
        &self,
        snapshot: &Snapshot,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Arc<RouteSpec> {
        let mut candidates = self
            .global_defaults
            .iter()
            .filter_map(|precedence| self.fragments.get(precedence))
            .filter_map(|f| Some((f.owner(), f.global_default.as_ref()?)));
        if let Some((winner, backend)) = candidates.next() {
            for (loser, _) in candidates {
                diagnostics.push(lost_conflict(
                    loser,
                    "spec.defaultBackend",
                    "the default backend for requests no rule matches",
                    winner,
                ));
            }
            return Arc::clone(backend);
        }
        let Some(service) = &self.config.default_backend_service else {
            return Arc::new(RouteSpec::forward(Arc::new(Backend::not_found())));
        };
        let resolver = BackendResolver::new(snapshot, &self.slices);
        let (backend, problem) = flag_backend(resolver, service);
        if let Some(problem) = problem {
            let key = ObjectKey {
                kind: Kind::Service,
                namespace: service.namespace.clone(),
                name: service.name.clone(),
            };
            diagnostics.push(Diagnostic::error(
                Reason::BackendUnavailable,
                &key,
                "",
                format!("--default-backend-service: {problem}"),
            ));
        }
        Arc::new(RouteSpec::forward(Arc::new(backend)))
    }
}

/// Merges a host's contributions, in precedence order, into its virtual host and conflicts.
fn resettle(host: &HostMatch, settled: &mut SettledHost) {
    let contributions = settled
        .contributors
        .iter()
        .filter_map(|Contributor(fragment)| {
            let (_, contribution) = fragment.hosts.iter().find(|(h, _)| h == host)?;
            Some((fragment.owner(), contribution))
        });
    let (built, diagnostics) = merge_host(host, contributions.clone());
    settled.www_redirect = wants_www_redirect(contributions.map(|(_, c)| c));
    settled.built = Some(built);
    settled.diagnostics = diagnostics;
}

#[cfg(test)]
mod tests;
