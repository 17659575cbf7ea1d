//! (Policies, Namespaces, Pods) → [`Ruleset`] for one node. Pure and total: every policy has
//! been parsed already, so compiling cannot fail.
//!
//! The semantics of `networking.k8s.io/v1` NetworkPolicy: policies are additive allow-lists; a
//! pod selected by any policy of a direction is isolated in it; both the sender's egress and the
//! receiver's ingress must allow a connection; hostNetwork pods are never selected, as targets
//! or as peers; named ports resolve against the destination pod.
//!
//! A [`Compiler`] keeps what it worked out between calls: each rule's resolved peers (cached by
//! the rule's content), each allowance (by the policies isolating a pod), each pod's selecting
//! policies. A pod added, changed or deleted re-resolves only the rules that may select it
//! and rebuilds only the allowances using those; a policy or namespace change starts the
//! affected caches afresh. The result is always what [`compile`] gives from scratch.

mod allowance;
mod peers;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::Hasher;
use std::sync::Arc;

use ipnet::IpNet;

use crate::model::{Labels, NamedPort, Namespace, Pod};
use crate::policy::{Policy, PortRule};
use crate::ruleset::{Allow, PodRules, Ruleset};

use allowance::{AllowBuilder, add_rule};
use peers::{PeerKey, Resolved, resolve};

/// The label the API server puts on every Namespace: its name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// What one node's ruleset is compiled from.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    /// This node's name: its pods are the ones enforced here.
    pub node: &'a str,
    /// This node's pod CIDRs: an address in them that is no known pod's is dropped, which
    /// keeps a new pod's packets from passing before its rules are in place.
    pub pod_cidrs: &'a [IpNet],
    /// Every Namespace.
    pub namespaces: &'a [&'a Namespace],
    /// Every Pod of the cluster (peers can be anywhere).
    pub pods: &'a [&'a Pod],
    /// Every NetworkPolicy, parsed.
    pub policies: &'a [Policy],
}

/// Which way traffic goes, seen from the selected pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    Ingress,
    Egress,
}

/// Compiles the ruleset of `input.node` from scratch.
pub fn compile(input: &PolicyInput<'_>) -> Ruleset {
    Compiler::default().compile(input)
}

/// What an allowance depends on: the direction, the isolating policies (indices into the
/// policies of the last compile), and for ingress, where named ports resolve against the pod
/// itself, the pod's named ports.
type AllowanceKey = (Direction, Vec<usize>, Vec<NamedPort>);

/// What an allowance is made of: the distinct (peers, ports) of its policies' rules, and for
/// ingress the pod's named ports. Policies with identical rules contribute once, and
/// allowances of different policies made of the same rules are worked out once.
type Contributions = (
    Direction,
    Vec<(PeerKey, Option<Vec<PortRule>>)>,
    Vec<NamedPort>,
);

/// Compiles one node's ruleset again and again, reusing what a change did not touch.
#[derive(Debug, Default)]
pub struct Compiler {
    /// The policies of the last compile: allowances and selections refer to them by index.
    policies: Vec<Policy>,
    /// Namespace labels of the last compile, the name label included.
    namespace_labels: BTreeMap<String, Labels>,
    /// Every pod of the last compile, sorted by namespace and name.
    pods: Vec<Tracked>,
    /// Pods that can be peers (not hostNetwork, with an address), in the same order.
    peers: Vec<Arc<Pod>>,
    /// Each rule's peers, resolved, by the rule's content.
    resolved: HashMap<PeerKey, Arc<Resolved>>,
    /// Which policies have a rule with each peer key.
    users: HashMap<PeerKey, Vec<usize>>,
    /// Every allowance key met since the policies last changed; pods and `allowances` refer
    /// to them by index.
    keys: Vec<AllowanceKey>,
    /// The index of each key in `keys`.
    key_ids: HashMap<AllowanceKey, usize>,
    /// The allowance of each key, once worked out; `None` again when it may have changed.
    allowances: Vec<Option<(String, Arc<Allow>)>>,
    /// The policies selecting pods of a namespace with these labels.
    selections: HashMap<(String, Labels), Vec<usize>>,
}

/// A pod as the compiler holds it, with the allowance keys it worked out for it: kept while
/// neither the pod nor the policies change.
#[derive(Debug)]
struct Tracked {
    pod: Arc<Pod>,
    /// Indices into [`Compiler::keys`] of its ingress and egress allowance (`None`: that
    /// direction is not isolated); `None` until worked out.
    keys: Option<[Option<usize>; 2]>,
}

impl Compiler {
    /// The ruleset of `input.node`, equal to [`compile`]'s.
    pub fn compile(&mut self, input: &PolicyInput<'_>) -> Ruleset {
        self.take_policies(input.policies);
        self.take_namespaces(input.namespaces);
        self.take_pods(input.pods);
        let mut ruleset = Ruleset::default();
        let mut made = HashMap::new();
        let mut pods = std::mem::take(&mut self.pods);
        for tracked in &mut pods {
            let pod = &tracked.pod;
            if pod.node != input.node || !can_be_peer(pod) {
                continue;
            }
            ruleset.known.extend(pod.ips.iter().copied());
            let keys = match tracked.keys {
                Some(keys) => keys,
                None => *tracked.keys.insert(self.keys_of(pod)),
            };
            let [ingress, egress] = keys.map(|key| {
                let (id, allow) = self.allowance(key?, pod, &mut made);
                Some((id, allow))
            });
            if ingress.is_none() && egress.is_none() {
                continue;
            }
            for (allowance, allows) in [
                (&ingress, &mut ruleset.ingress),
                (&egress, &mut ruleset.egress),
            ] {
                if let Some((id, allow)) = allowance {
                    allows
                        .entry(id.clone())
                        .or_insert_with(|| Arc::clone(allow));
                }
            }
            ruleset.pods.push(PodRules {
                pod: pod.key(),
                ips: pod.ips.clone(),
                ingress: ingress.map(|(id, _)| id),
                egress: egress.map(|(id, _)| id),
            });
        }
        self.pods = pods;
        ruleset.pods.sort_by(|a, b| a.pod.cmp(&b.pod));
        ruleset.known.sort_unstable();
        ruleset.known.dedup();
        ruleset.guarded = input.pod_cidrs.iter().map(IpNet::trunc).collect();
        ruleset.guarded.sort_unstable();
        ruleset.guarded.dedup();
        ruleset
    }

    /// New policies (any change): allowances and selections refer to policies by index, so
    /// they start afresh. Resolved peers are kept: they depend on a rule's content only.
    fn take_policies(&mut self, policies: &[Policy]) {
        if self.policies == policies {
            return;
        }
        self.policies = policies.to_vec();
        self.keys.clear();
        self.key_ids.clear();
        self.allowances.clear();
        self.selections.clear();
        for tracked in &mut self.pods {
            tracked.keys = None;
        }
        self.users.clear();
        for (index, policy) in policies.iter().enumerate() {
            for rule in policy.ingress.iter().chain(&policy.egress) {
                let key = PeerKey::new(&policy.namespace, rule.peers.as_deref());
                let users = self.users.entry(key).or_default();
                if users.last() != Some(&index) {
                    users.push(index);
                }
            }
        }
        self.resolved.retain(|key, _| self.users.contains_key(key));
    }

    /// New namespace labels: every resolution by namespace selector may change; start afresh.
    fn take_namespaces(&mut self, namespaces: &[&Namespace]) {
        let labels: BTreeMap<String, Labels> = namespaces
            .iter()
            .map(|ns| {
                let mut labels = ns.labels.clone();
                labels.insert(NAMESPACE_NAME_LABEL.to_string(), ns.name.clone());
                (ns.name.clone(), labels)
            })
            .collect();
        if labels != self.namespace_labels {
            self.namespace_labels = labels;
            self.resolved.clear();
            self.allowances.iter_mut().for_each(|a| *a = None);
        }
    }

    /// New pods: the resolutions that may select a pod that changed (before or after the
    /// change) are dropped, and the allowances of the policies using them.
    fn take_pods(&mut self, pods: &[&Pod]) {
        let mut sorted: Vec<&Pod> = pods.to_vec();
        // Sources hand pods over sorted already; then this is one pass.
        sorted.sort_by(|a, b| by_key(a, b));
        let mut changed: Vec<Arc<Pod>> = Vec::new();
        let mut current: Vec<Tracked> = Vec::with_capacity(sorted.len());
        let mut old = std::mem::take(&mut self.pods).into_iter().peekable();
        for pod in sorted {
            // Pods before this one that are gone.
            while let Some(gone) = old.next_if(|o| by_key(&o.pod, pod).is_lt()) {
                changed.push(gone.pod);
            }
            match old.next_if(|o| by_key(&o.pod, pod).is_eq()) {
                Some(same) if *same.pod == *pod => current.push(same),
                previous => {
                    changed.extend(previous.map(|p| p.pod));
                    let new = Arc::new(pod.clone());
                    changed.push(Arc::clone(&new));
                    current.push(Tracked {
                        pod: new,
                        keys: None,
                    });
                }
            }
        }
        changed.extend(old.map(|gone| gone.pod));
        self.pods = current;
        if changed.is_empty() {
            return;
        }
        self.peers = self
            .pods
            .iter()
            .filter(|t| can_be_peer(&t.pod))
            .map(|t| Arc::clone(&t.pod))
            .collect();
        let changed: Vec<&Arc<Pod>> = changed.iter().filter(|pod| can_be_peer(pod)).collect();
        let stale: Vec<PeerKey> = self
            .resolved
            .keys()
            .filter(|key| {
                changed
                    .iter()
                    .any(|pod| key.may_select(pod, &self.namespace_labels))
            })
            .cloned()
            .collect();
        let mut dirty = BTreeSet::new();
        for key in stale {
            self.resolved.remove(&key);
            dirty.extend(self.users.get(&key).into_iter().flatten().copied());
        }
        if !dirty.is_empty() {
            for (key, allowance) in self.keys.iter().zip(&mut self.allowances) {
                if key.1.iter().any(|i| dirty.contains(i)) {
                    *allowance = None;
                }
            }
        }
    }

    /// The policies of the pod's namespace whose pod selector matches it.
    fn selecting(&mut self, pod: &Pod) -> Vec<usize> {
        let key = (pod.namespace.clone(), pod.labels.clone());
        if let Some(found) = self.selections.get(&key) {
            return found.clone();
        }
        let found: Vec<usize> = self
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| p.namespace == pod.namespace && p.pod_selector.matches(&pod.labels))
            .map(|(i, _)| i)
            .collect();
        self.selections.insert(key, found.clone());
        found
    }

    /// The keys of a pod's ingress and egress allowances (`None` where not isolated).
    fn keys_of(&mut self, pod: &Pod) -> [Option<usize>; 2] {
        let selecting = self.selecting(pod);
        [Direction::Ingress, Direction::Egress].map(|direction| {
            let isolating: Vec<usize> = selecting
                .iter()
                .copied()
                .filter(|i| match direction {
                    Direction::Ingress => self.policies[*i].ingress_isolated,
                    Direction::Egress => self.policies[*i].egress_isolated,
                })
                .collect();
            if isolating.is_empty() {
                return None;
            }
            let ports = match direction {
                Direction::Ingress => pod.ports.clone(),
                Direction::Egress => Vec::new(),
            };
            let key = (direction, isolating, ports);
            Some(match self.key_ids.get(&key) {
                Some(id) => *id,
                None => {
                    let id = self.keys.len();
                    self.key_ids.insert(key.clone(), id);
                    self.keys.push(key);
                    self.allowances.push(None);
                    id
                }
            })
        })
    }

    /// The allowance of key `id` (whose pods include `pod`), from the cache or worked out;
    /// `made` holds those worked out in this compile, by what they are made of.
    fn allowance(
        &mut self,
        id: usize,
        pod: &Pod,
        made: &mut HashMap<Contributions, (String, Arc<Allow>)>,
    ) -> (String, Arc<Allow>) {
        if let Some(found) = &self.allowances[id] {
            return found.clone();
        }
        let contributions = self.contributions(&self.keys[id]);
        let found = match made.get(&contributions) {
            Some(found) => found.clone(),
            None => {
                let allow = self.work_out(pod, &contributions.1, contributions.0);
                let found = (chain_id(&format!("{allow:?}")), Arc::new(allow));
                made.insert(contributions, found.clone());
                found
            }
        };
        self.allowances[id] = Some(found.clone());
        found
    }

    /// The distinct rules an allowance is made of.
    fn contributions(&self, key: &AllowanceKey) -> Contributions {
        let (direction, isolating, ports) = key;
        let mut rules = Vec::new();
        let mut seen = HashSet::new();
        for policy in isolating.iter().map(|i| &self.policies[*i]) {
            // Not understood: isolates, allows nothing (fails closed).
            if !policy.not_understood.is_empty() {
                continue;
            }
            let policy_rules = match direction {
                Direction::Ingress => &policy.ingress,
                Direction::Egress => &policy.egress,
            };
            for rule in policy_rules {
                let contribution = (
                    PeerKey::new(&policy.namespace, rule.peers.as_deref()),
                    rule.ports.clone(),
                );
                if seen.insert(contribution.clone()) {
                    rules.push(contribution);
                }
            }
        }
        (*direction, rules, ports.clone())
    }

    /// The union of what `rules` allow `pod` in one direction.
    fn work_out(
        &mut self,
        pod: &Pod,
        rules: &[(PeerKey, Option<Vec<PortRule>>)],
        direction: Direction,
    ) -> Allow {
        let mut builder = AllowBuilder::default();
        for (peer_key, ports) in rules {
            let peers = self.resolve(peer_key);
            add_rule(&mut builder, pod, ports.as_deref(), &peers, direction);
        }
        builder.finish()
    }

    fn resolve(&mut self, key: &PeerKey) -> Arc<Resolved> {
        if let Some(done) = self.resolved.get(key) {
            return Arc::clone(done);
        }
        let resolved = Arc::new(resolve(key, &self.peers, &self.namespace_labels));
        self.resolved.insert(key.clone(), Arc::clone(&resolved));
        resolved
    }
}

/// Pods in the order of their namespace, then name.
fn by_key(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name))
}

/// Not hostNetwork, with an address: a pod policies can select, as a target or a peer.
fn can_be_peer(pod: &Pod) -> bool {
    !pod.host_network && !pod.ips.is_empty()
}

/// A short, stable name for a pod's chains: 16 hex digits of FNV-1a over `namespace/name`.
pub fn chain_id(pod: &str) -> String {
    let mut hasher = Fnv1a::default();
    hasher.write(pod.as_bytes());
    format!("{:016x}", hasher.finish())
}

/// FNV-1a 64: stable across Rust versions and runs, unlike `DefaultHasher`.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests;
