//! (Policies, Namespaces, Pods) → [`Ruleset`] for one node. Pure and total: every policy has
//! been parsed already, so compiling cannot fail.
//!
//! The semantics of `networking.k8s.io/v1` NetworkPolicy: policies are additive allow-lists; a
//! pod selected by any policy of a direction is isolated in it; both the sender's egress and the
//! receiver's ingress must allow a connection; hostNetwork pods are never selected, as targets
//! or as peers; named ports resolve against the destination pod.

use std::collections::BTreeMap;
use std::hash::Hasher;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::intervals::{AddrRange, PortRange, cidr_minus, disjoint_boxes, merge};
use crate::model::{Labels, Namespace, Pod, Protocol};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    let mut pods: Vec<PodRules> = local
        .iter()
        .filter_map(|pod| context.pod_rules(pod))
        .collect();
    pods.sort_by(|a, b| a.pod.cmp(&b.pod));
    let mut known: Vec<IpAddr> = local
        .iter()
        .flat_map(|pod| pod.ips.iter().copied())
        .collect();
    known.sort_unstable();
    known.dedup();
    let mut guarded: Vec<IpNet> = input.pod_cidrs.iter().map(IpNet::trunc).collect();
    guarded.sort_unstable();
    guarded.dedup();
    Ruleset {
        pods,
        known,
        guarded,
    }
}

/// Lookups shared by every pod's compilation.
struct Context<'a> {
    input: &'a PolicyInput<'a>,
    /// Namespace labels by name, with the name label always present.
    namespace_labels: BTreeMap<&'a str, Labels>,
    /// Pods that can be peers: not hostNetwork, with an address.
    peers: Vec<&'a Pod>,
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
        Context {
            input,
            namespace_labels,
            peers,
        }
    }

    /// The pod's rules, or `None` when no policy selects it.
    fn pod_rules(&self, pod: &Pod) -> Option<PodRules> {
        let selecting: Vec<&Policy> = self
            .input
            .policies
            .iter()
            .filter(|p| p.namespace == pod.namespace && p.pod_selector.matches(&pod.labels))
            .collect();
        let ingress = self.direction(pod, &selecting, Direction::Ingress);
        let egress = self.direction(pod, &selecting, Direction::Egress);
        if ingress.is_none() && egress.is_none() {
            return None;
        }
        Some(PodRules {
            pod: pod.key(),
            id: chain_id(&pod.key()),
            ips: pod.ips.clone(),
            ingress,
            egress,
        })
    }

    /// The union of what the isolating policies allow in one direction.
    fn direction(&self, pod: &Pod, selecting: &[&Policy], direction: Direction) -> Option<Allow> {
        let isolating: Vec<&&Policy> = selecting
            .iter()
            .filter(|p| match direction {
                Direction::Ingress => p.ingress_isolated,
                Direction::Egress => p.egress_isolated,
            })
            .collect();
        if isolating.is_empty() {
            return None;
        }
        let mut builder = AllowBuilder::default();
        for policy in isolating {
            // Not understood: isolates, allows nothing (fails closed).
            if !policy.not_understood.is_empty() {
                continue;
            }
            let rules = match direction {
                Direction::Ingress => &policy.ingress,
                Direction::Egress => &policy.egress,
            };
            for rule in rules {
                self.add_rule(&mut builder, pod, policy, rule, direction);
            }
        }
        Some(builder.finish())
    }

    fn add_rule(
        &self,
        builder: &mut AllowBuilder,
        pod: &Pod,
        policy: &Policy,
        rule: &Rule,
        direction: Direction,
    ) {
        // The peers' addresses, and (for egress named ports) the peer pods themselves.
        let (addresses, peer_pods): (Vec<AddrRange>, Vec<&Pod>) = match &rule.peers {
            None => (
                vec![AddrRange::everything(false), AddrRange::everything(true)],
                self.peers.clone(),
            ),
            Some(peers) => {
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
                                    addresses.extend(
                                        candidate.ips.iter().map(|ip| AddrRange::single(*ip)),
                                    );
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
                                        b.v6 == point.v6
                                            && b.start <= point.start
                                            && point.start <= b.end
                                    })
                                })
                            }));
                            addresses.extend(block);
                        }
                    }
                }
                (addresses, pods)
            }
        };
        let Some(ports) = &rule.ports else {
            if rule.peers.is_none() {
                builder.everything = true;
            } else {
                builder.peers.extend(addresses);
            }
            return;
        };
        for port in ports {
            let protocol = port.protocol;
            match &port.port {
                PortMatch::All => builder.add_boxes(protocol, &addresses, (0, u16::MAX)),
                PortMatch::Range(low, high) => {
                    builder.add_boxes(protocol, &addresses, (*low, *high))
                }
                PortMatch::Named(name) => match direction {
                    // The destination is the selected pod itself.
                    Direction::Ingress => {
                        if let Some(number) = pod.named_port(name, protocol) {
                            builder.add_boxes(protocol, &addresses, (number, number));
                        }
                    }
                    // The destination is each peer pod, which may name a different number.
                    Direction::Egress => {
                        for peer in &peer_pods {
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
