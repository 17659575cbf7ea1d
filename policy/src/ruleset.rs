//! The compiled ruleset as plain data: for each isolated pod of this node, which peers it may
//! talk to. [`Ruleset::allows`] evaluates it the way the kernel will, so semantics can be tested
//! without a kernel, and the same truth tables checked against one.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::intervals::{AddrRange, PortRange};
use crate::model::Protocol;

/// Everything this node enforces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    /// The node's pods that some policy selects, sorted by `namespace/name`.
    pub pods: Vec<PodRules>,
    /// The distinct ingress allowances, by id (a hash of their content): pods allowed the same
    /// share one chain and its sets.
    pub ingress: BTreeMap<String, Arc<Allow>>,
    /// The distinct egress allowances, by id.
    pub egress: BTreeMap<String, Arc<Allow>>,
    /// Every address of this node's pods (selected or not), sorted.
    pub known: Vec<IpAddr>,
    /// This node's pod CIDRs: traffic from or to an address in them that is not `known` is
    /// dropped (a pod the agent has not seen yet).
    pub guarded: Vec<IpNet>,
}

/// One pod's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRules {
    /// `namespace/name`.
    pub pod: String,
    /// Its addresses.
    pub ips: Vec<IpAddr>,
    /// The id of what may reach it in [`Ruleset::ingress`]; `None` when no policy isolates
    /// its ingress.
    pub ingress: Option<String>,
    /// The id of where it may send in [`Ruleset::egress`]; `None` when not isolated.
    pub egress: Option<String>,
}

/// The union of the allow rules of every policy isolating one pod in one direction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allow {
    /// Some rule allows every peer on every port.
    pub everything: bool,
    /// Peers allowed on every protocol and port: disjoint, sorted.
    pub peers: Vec<AddrRange>,
    /// Peers allowed on some ports: disjoint boxes, sorted.
    pub ported: Vec<PortedPeers>,
}

/// Peers allowed on one protocol's port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortedPeers {
    /// The peers' addresses.
    pub addrs: AddrRange,
    /// The protocol.
    pub protocol: Protocol,
    /// The ports (destination ports, in both directions).
    pub ports: PortRange,
}

/// A connection attempt, for [`Ruleset::allows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Source address.
    pub from: IpAddr,
    /// Destination address.
    pub to: IpAddr,
    /// Protocol.
    pub protocol: Protocol,
    /// Destination port.
    pub port: u16,
}

impl Ruleset {
    /// Whether this node lets a new connection through: the source pod's egress (if it is
    /// here and isolated) and the destination pod's ingress (likewise) must both allow it.
    pub fn allows(&self, flow: Flow) -> bool {
        let unknown = |ip: IpAddr| {
            self.guarded.iter().any(|net| net.contains(&ip)) && !self.known.contains(&ip)
        };
        if unknown(flow.from) || unknown(flow.to) {
            return false;
        }
        let egress_ok = self
            .pod_by_ip(flow.from)
            .and_then(|pod| pod.egress.as_ref())
            .and_then(|id| self.egress.get(id))
            .is_none_or(|allow| allow.permits(flow.to, flow.protocol, flow.port));
        let ingress_ok = self
            .pod_by_ip(flow.to)
            .and_then(|pod| pod.ingress.as_ref())
            .and_then(|id| self.ingress.get(id))
            .is_none_or(|allow| allow.permits(flow.from, flow.protocol, flow.port));
        egress_ok && ingress_ok
    }

    /// The ingress or the egress allowances.
    pub fn allowances(&self, ingress: bool) -> &BTreeMap<String, Arc<Allow>> {
        if ingress { &self.ingress } else { &self.egress }
    }

    /// The ingress or the egress allowances, to change.
    pub fn allowances_mut(&mut self, ingress: bool) -> &mut BTreeMap<String, Arc<Allow>> {
        if ingress {
            &mut self.ingress
        } else {
            &mut self.egress
        }
    }

    fn pod_by_ip(&self, ip: IpAddr) -> Option<&PodRules> {
        self.pods.iter().find(|pod| pod.ips.contains(&ip))
    }
}

impl PodRules {
    /// The id of its ingress or egress allowance, if that direction is isolated.
    pub fn allowance(&self, ingress: bool) -> Option<&str> {
        if ingress {
            self.ingress.as_deref()
        } else {
            self.egress.as_deref()
        }
    }
}

impl Allow {
    /// Whether `peer` may be reached (or reach) on `protocol`/`port`.
    pub fn permits(&self, peer: IpAddr, protocol: Protocol, port: u16) -> bool {
        let point = AddrRange::single(peer);
        let inside = |range: &AddrRange| {
            range.v6 == point.v6 && range.start <= point.start && point.start <= range.end
        };
        self.everything
            || self.peers.iter().any(inside)
            || self.ported.iter().any(|p| {
                p.protocol == protocol && p.ports.0 <= port && port <= p.ports.1 && inside(&p.addrs)
            })
    }
}
