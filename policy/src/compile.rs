//! (Policies, Namespaces, Pods) → [`Ruleset`] for one node. Pure and total: every policy has
//! been parsed already, so compiling cannot fail.
//!
//! The semantics of `networking.k8s.io/v1` NetworkPolicy: policies are additive allow-lists; a
//! pod selected by any policy of a direction is isolated in it; both the sender's egress and the
//! receiver's ingress must allow a connection; hostNetwork pods are never selected, as targets
//! or as peers; named ports resolve against the destination pod.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hasher;
use std::rc::Rc;

use ipnet::IpNet;

use crate::intervals::{AddrRange, PortRange, cidr_minus, disjoint_boxes, merge};
use crate::model::{Labels, NamedPort, Namespace, Pod, Protocol};
use crate::policy::{Peer, Policy, PortMatch, Rule};
use crate::ruleset::{Allow, PodRules, PortedPeers, Ruleset};

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

/// Compiles the ruleset of `input.node`.
pub fn compile(input: &PolicyInput<'_>) -> Ruleset {
    let context = Context::new(input);
    let local: Vec<&Pod> = input
        .pods
        .iter()
        .copied()
        .filter(|pod| pod.node == input.node && !pod.host_network && !pod.ips.is_empty())
        .collect();
    let mut ruleset = Ruleset::default();
    // Pods isolated by the same policies get the same allowance (ingress: if their named
    // ports agree too), so each is computed once.
    let mut memo: HashMap<AllowanceKey<'_>, Option<String>> = HashMap::new();
    for pod in &local {
        let selecting: Vec<usize> = context
            .by_namespace
            .get(pod.namespace.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|i| input.policies[*i].pod_selector.matches(&pod.labels))
            .collect();
        let mut allowance = |direction: Direction, allows: &mut BTreeMap<String, Allow>| {
            let isolating = context.isolating(&selecting, direction);
            let ports: &[NamedPort] = match direction {
                Direction::Ingress => &pod.ports,
                Direction::Egress => &[],
            };
            memo.entry((direction, isolating.clone(), ports))
                .or_insert_with(|| {
                    context
                        .direction(pod, &isolating, direction)
                        .map(|allow| intern(allows, allow))
                })
                .clone()
        };
        let ingress = allowance(Direction::Ingress, &mut ruleset.ingress);
        let egress = allowance(Direction::Egress, &mut ruleset.egress);
        if ingress.is_some() || egress.is_some() {
            ruleset.pods.push(PodRules {
                pod: pod.key(),
                ips: pod.ips.clone(),
                ingress,
                egress,
            });
        }
    }
    ruleset.pods.sort_by(|a, b| a.pod.cmp(&b.pod));
    ruleset.known = local
        .iter()
        .flat_map(|pod| pod.ips.iter().copied())
        .collect();
    ruleset.known.sort_unstable();
    ruleset.known.dedup();
    ruleset.guarded = input.pod_cidrs.iter().map(IpNet::trunc).collect();
    ruleset.guarded.sort_unstable();
    ruleset.guarded.dedup();
    ruleset
}

/// What an allowance depends on: the direction, the isolating policies, and (for ingress, where
/// named ports resolve against the pod itself) the pod's named ports.
type AllowanceKey<'a> = (Direction, Vec<usize>, &'a [NamedPort]);

/// Files `allow` under its content's id (shared with every pod allowed the same) and returns
/// the id.
fn intern(allows: &mut BTreeMap<String, Allow>, allow: Allow) -> String {
    let id = chain_id(&format!("{allow:?}"));
    allows.entry(id.clone()).or_insert(allow);
    id
}

/// A rule's peers, resolved once for every pod the rule applies to.
struct Resolved<'a> {
    /// `from`/`to` missing: every address.
    everyone: bool,
    /// The peers' addresses.
    addresses: Vec<AddrRange>,
    /// The peer pods (for named ports on egress, which resolve per destination pod).
    pods: Vec<&'a Pod>,
}

/// Lookups shared by every pod's compilation.
struct Context<'a> {
    input: &'a PolicyInput<'a>,
    /// Namespace labels by name, with the name label always present.
    namespace_labels: BTreeMap<&'a str, Labels>,
    /// Pods that can be peers: not hostNetwork, with an address.
    peers: Vec<&'a Pod>,
    /// Policy indices by namespace.
    by_namespace: HashMap<&'a str, Vec<usize>>,
    /// Each (policy, direction, rule)'s peers, resolved on first use.
    resolved: RefCell<HashMap<(usize, bool, usize), Rc<Resolved<'a>>>>,
}

impl<'a> Context<'a> {
    fn new(input: &'a PolicyInput<'a>) -> Context<'a> {
        let namespace_labels = input
            .namespaces
            .iter()
            .map(|ns| {
                let ns: &Namespace = ns;
                let mut labels = ns.labels.clone();
                labels.insert(NAMESPACE_NAME_LABEL.to_string(), ns.name.clone());
                (ns.name.as_str(), labels)
            })
            .collect();
        let peers = input
            .pods
            .iter()
            .copied()
            .filter(|pod| !pod.host_network && !pod.ips.is_empty())
            .collect();
        let mut by_namespace: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, policy) in input.policies.iter().enumerate() {
            by_namespace
                .entry(policy.namespace.as_str())
                .or_default()
                .push(index);
        }
        Context {
            input,
            namespace_labels,
            peers,
            by_namespace,
            resolved: RefCell::new(HashMap::new()),
        }
    }

    /// The policies among `selecting` that isolate `direction`.
    fn isolating(&self, selecting: &[usize], direction: Direction) -> Vec<usize> {
        selecting
            .iter()
            .copied()
            .filter(|i| {
                let policy = &self.input.policies[*i];
                match direction {
                    Direction::Ingress => policy.ingress_isolated,
                    Direction::Egress => policy.egress_isolated,
                }
            })
            .collect()
    }

    /// The union of what the `isolating` policies allow `pod` in one direction, or `None`
    /// when there are none.
    fn direction(&self, pod: &Pod, isolating: &[usize], direction: Direction) -> Option<Allow> {
        if isolating.is_empty() {
            return None;
        }
        let mut builder = AllowBuilder::default();
        for &index in isolating {
            let policy = &self.input.policies[index];
            // Not understood: isolates, allows nothing (fails closed).
            if !policy.not_understood.is_empty() {
                continue;
            }
            let rules = match direction {
                Direction::Ingress => &policy.ingress,
                Direction::Egress => &policy.egress,
            };
            for (number, rule) in rules.iter().enumerate() {
                let peers = self.resolve(index, direction, number, rule);
                add_rule(&mut builder, pod, rule, &peers, direction);
            }
        }
        Some(builder.finish())
    }

    fn resolve(
        &self,
        index: usize,
        direction: Direction,
        number: usize,
        rule: &Rule,
    ) -> Rc<Resolved<'a>> {
        let key = (index, direction == Direction::Egress, number);
        if let Some(done) = self.resolved.borrow().get(&key) {
            return Rc::clone(done);
        }
        let policy = &self.input.policies[index];
        let resolved = Rc::new(self.resolve_peers(policy, rule));
        self.resolved.borrow_mut().insert(key, Rc::clone(&resolved));
        resolved
    }

    fn resolve_peers(&self, policy: &Policy, rule: &Rule) -> Resolved<'a> {
        let Some(peers) = &rule.peers else {
            return Resolved {
                everyone: true,
                addresses: vec![AddrRange::everything(false), AddrRange::everything(true)],
                pods: self.peers.clone(),
            };
        };
        let mut addresses = Vec::new();
        let mut pods = Vec::new();
        for peer in peers {
            match peer {
                Peer::Pods {
                    namespaces,
                    pods: selector,
                } => {
                    for candidate in &self.peers {
                        let namespace_ok = match namespaces {
                            None => candidate.namespace == policy.namespace,
                            Some(selector) => self
                                .namespace_labels
                                .get(candidate.namespace.as_str())
                                .is_some_and(|labels| selector.matches(labels)),
                        };
                        let pod_ok = selector
                            .as_ref()
                            .is_none_or(|s| s.matches(&candidate.labels));
                        if namespace_ok && pod_ok {
                            addresses.extend(candidate.ips.iter().map(|ip| AddrRange::single(*ip)));
                            pods.push(*candidate);
                        }
                    }
                }
                Peer::IpBlock { cidr, except } => {
                    let block = cidr_minus(*cidr, except);
                    pods.extend(self.peers.iter().filter(|candidate| {
                        candidate.ips.iter().any(|ip| {
                            let point = AddrRange::single(*ip);
                            block.iter().any(|b| {
                                b.v6 == point.v6 && b.start <= point.start && point.start <= b.end
                            })
                        })
                    }));
                    addresses.extend(block);
                }
            }
        }
        Resolved {
            everyone: false,
            addresses: merge(addresses),
            pods,
        }
    }
}

/// Adds what one rule allows `pod` to `builder`.
fn add_rule(
    builder: &mut AllowBuilder,
    pod: &Pod,
    rule: &Rule,
    peers: &Resolved<'_>,
    direction: Direction,
) {
    let Some(ports) = &rule.ports else {
        if peers.everyone {
            builder.everything = true;
        } else {
            builder.peers.extend(peers.addresses.iter().copied());
        }
        return;
    };
    for port in ports {
        let protocol = port.protocol;
        match &port.port {
            PortMatch::All => builder.add_boxes(protocol, &peers.addresses, (0, u16::MAX)),
            PortMatch::Range(low, high) => {
                builder.add_boxes(protocol, &peers.addresses, (*low, *high));
            }
            PortMatch::Named(name) => match direction {
                // The destination is the selected pod itself.
                Direction::Ingress => {
                    if let Some(number) = pod.named_port(name, protocol) {
                        builder.add_boxes(protocol, &peers.addresses, (number, number));
                    }
                }
                // The destination is each peer pod, which may name a different number.
                Direction::Egress => {
                    for peer in &peers.pods {
                        if let Some(number) = peer.named_port(name, protocol) {
                            let own: Vec<AddrRange> =
                                peer.ips.iter().map(|ip| AddrRange::single(*ip)).collect();
                            builder.add_boxes(protocol, &own, (number, number));
                        }
                    }
                }
            },
        }
    }
}

/// Collects one direction's allowances before they are made disjoint.
#[derive(Default)]
struct AllowBuilder {
    everything: bool,
    peers: Vec<AddrRange>,
    boxes: BTreeMap<Protocol, Vec<(AddrRange, PortRange)>>,
}

impl AllowBuilder {
    fn add_boxes(&mut self, protocol: Protocol, addresses: &[AddrRange], ports: PortRange) {
        let boxes = self.boxes.entry(protocol).or_default();
        boxes.extend(addresses.iter().map(|a| (*a, ports)));
    }

    fn finish(self) -> Allow {
        if self.everything {
            return Allow {
                everything: true,
                ..Allow::default()
            };
        }
        let mut ported: Vec<PortedPeers> = self
            .boxes
            .into_iter()
            .flat_map(|(protocol, boxes)| {
                disjoint_boxes(&boxes)
                    .into_iter()
                    .map(move |(addrs, ports)| PortedPeers {
                        addrs,
                        protocol,
                        ports,
                    })
            })
            .collect();
        ported.sort_unstable();
        Allow {
            everything: false,
            peers: merge(self.peers),
            ported,
        }
    }
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
