//! From Node objects to the routes this node needs. Pure: the agent feeds it what the store
//! holds, and applies the result.

use std::net::IpAddr;

use ipnet::IpNet;

/// A Node as route planning reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// `metadata.name`.
    pub name: String,
    /// `spec.podCIDRs` (or `spec.podCIDR`).
    pub pod_cidrs: Vec<IpNet>,
    /// `status.addresses` of type `InternalIP`, in order.
    pub internal_ips: Vec<IpAddr>,
}

/// A route to another node's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeRoute {
    /// The other node's pod CIDR.
    pub dst: IpNet,
    /// The other node's InternalIP of the same family.
    pub via: IpAddr,
}

/// A Node whose pods cannot be routed to, and why; the rest of the nodes are unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteProblem {
    /// The node has a pod CIDR of a family it has no InternalIP of.
    #[error(
        "Node {node}: spec.podCIDRs has {cidr} but status.addresses has no InternalIP of that family; its pods are unreachable from here"
    )]
    NoAddressOfFamily {
        /// The node.
        node: String,
        /// The CIDR.
        cidr: IpNet,
    },
    /// Two nodes claim overlapping pod CIDRs: neither is routed, since either could be wrong.
    #[error(
        "Node {node}: spec.podCIDRs {cidr} overlaps {other_cidr} of Node {other}; neither is routed until that is fixed"
    )]
    Overlap {
        /// One node.
        node: String,
        /// Its CIDR.
        cidr: IpNet,
        /// The other node.
        other: String,
        /// Its CIDR.
        other_cidr: IpNet,
    },
    /// This node's own name is not among the nodes: its own CIDR is unknown.
    #[error(
        "Node {node} (this node, --node-name) is not among the Nodes; routes to the others are still programmed"
    )]
    ThisNodeMissing {
        /// --node-name.
        node: String,
    },
}

/// The routes `this_node` needs to reach every other node's pods, sorted, and the problems
/// that kept some out.
pub fn plan_routes(this_node: &str, nodes: &[NodeInfo]) -> (Vec<NodeRoute>, Vec<RouteProblem>) {
    let mut problems = Vec::new();
    if !nodes.iter().any(|n| n.name == this_node) {
        problems.push(RouteProblem::ThisNodeMissing {
            node: this_node.to_string(),
        });
    }
    // Every (node, cidr) claim, to find overlaps across nodes (one node's own CIDRs may not
    // overlap each other either, but that is the API server's to refuse).
    let claims: Vec<(&str, IpNet)> = nodes
        .iter()
        .flat_map(|n| {
            n.pod_cidrs
                .iter()
                .map(move |c| (n.name.as_str(), c.trunc()))
        })
        .collect();
    let mut overlapping = std::collections::BTreeSet::new();
    for (i, (node, cidr)) in claims.iter().enumerate() {
        for (other, other_cidr) in &claims[i + 1..] {
            if node != other && (cidr.contains(other_cidr) || other_cidr.contains(cidr)) {
                overlapping.insert((*node, *cidr));
                overlapping.insert((*other, *other_cidr));
                problems.push(RouteProblem::Overlap {
                    node: node.to_string(),
                    cidr: *cidr,
                    other: other.to_string(),
                    other_cidr: *other_cidr,
                });
            }
        }
    }
    let mut routes = Vec::new();
    for node in nodes.iter().filter(|n| n.name != this_node) {
        for cidr in &node.pod_cidrs {
            let cidr = cidr.trunc();
            if overlapping.contains(&(node.name.as_str(), cidr)) {
                continue;
            }
            let via = node
                .internal_ips
                .iter()
                .find(|ip| ip.is_ipv4() == cidr.addr().is_ipv4());
            match via {
                Some(via) => routes.push(NodeRoute {
                    dst: cidr,
                    via: *via,
                }),
                None => problems.push(RouteProblem::NoAddressOfFamily {
                    node: node.name.clone(),
                    cidr,
                }),
            }
        }
    }
    routes.sort();
    routes.dedup();
    (routes, problems)
}

impl portcullis_fault::Classified for RouteProblem {
    /// Node objects contradict themselves or each other, except a wrong `--node-name`.
    fn fault(&self) -> portcullis_fault::Fault {
        match self {
            RouteProblem::ThisNodeMissing { .. } => portcullis_fault::Fault::Operator,
            RouteProblem::NoAddressOfFamily { .. } | RouteProblem::Overlap { .. } => {
                portcullis_fault::Fault::User
            }
        }
    }

    /// The same Nodes plan the same way.
    fn retryable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
