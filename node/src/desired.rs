//! What this node should look like, from the Nodes the store holds: routes to the other
//! nodes' pods and this node's CNI configuration. Pure: the agent applies the result.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::conflist::{NodeNetwork, render_conflist};
use crate::routes::{NodeInfo, NodeRoute, RouteProblem, plan_routes};
use ipnet::IpNet;
use portcullis_cni::masquerade::{MasqueradePlan, plan_node_masquerade};
use portcullis_fault::{Classified, Fault};

use portcullis_kube::objects::CompactNode;

/// The node agent's settings that shape the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// `--node-name`: which Node is this one.
    pub node_name: String,
    /// The CNI network's name.
    pub network_name: String,
    /// The bridge pods attach to.
    pub bridge: String,
    /// The MTU of the bridge and veths, if set.
    pub mtu: Option<u32>,
    /// Masquerade traffic from this node's pods to destinations outside the cluster.
    pub masquerade_outside: bool,
    /// `--cluster-cidr`: more destinations that are inside the cluster (never masqueraded).
    pub cluster_cidrs: Vec<IpNet>,
}

/// The state the agent makes real.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredNode {
    /// Routes to every other node's pod CIDRs, sorted.
    pub routes: Vec<NodeRoute>,
    /// The conflist to write, once this node's pod CIDRs are known.
    pub conflist: Option<String>,
    /// True when any pod CIDR in the cluster is IPv6, so IPv6 forwarding is needed too.
    pub ipv6: bool,
    /// The node's masquerading table (empty, so removed, when off or without a pod CIDR).
    pub masquerade: MasqueradePlan,
    /// This node's own pod CIDRs (empty until its Node has them).
    pub pod_cidrs: Vec<IpNet>,
    /// What kept part of the state out, each naming the Node and field.
    pub problems: Vec<NodeDataProblem>,
}

/// Something in the Nodes that keeps part of the desired state out; the rest is still built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeDataProblem {
    /// A pod CIDR that does not parse.
    #[error("Node {node}: spec.podCIDRs[{index}] {text:?} is not a CIDR; left out")]
    BadPodCidr {
        /// The Node.
        node: String,
        /// Its place in `spec.podCIDRs`.
        index: usize,
        /// As written.
        text: String,
    },
    /// An InternalIP that does not parse.
    #[error("Node {node}: status.addresses InternalIP {text:?} is not an IP address; left out")]
    BadInternalIp {
        /// The Node.
        node: String,
        /// As written.
        text: String,
    },
    /// This node has no pod CIDR yet, so no conflist can be written.
    #[error(
        "Node {node}: spec.podCIDRs is empty; no CNI configuration is written, so pods \
         cannot start on this node until it has a pod CIDR"
    )]
    NoPodCidr {
        /// This node.
        node: String,
    },
    /// Route planning left a Node out.
    #[error(transparent)]
    Route(#[from] RouteProblem),
}

impl Classified for NodeDataProblem {
    /// The Node objects' (their writer, usually the cluster's IPAM), except what route planning
    /// calls the operator's (a `--node-name` that names no Node).
    fn fault(&self) -> Fault {
        match self {
            NodeDataProblem::Route(problem) => problem.fault(),
            NodeDataProblem::BadPodCidr { .. }
            | NodeDataProblem::BadInternalIp { .. }
            | NodeDataProblem::NoPodCidr { .. } => Fault::User,
        }
    }

    /// The same Nodes give the same answer; it goes when they change.
    fn retryable(&self) -> bool {
        false
    }
}

/// The desired state for `settings.node_name` given every Node.
pub fn desired_node(
    nodes: &BTreeMap<String, Arc<CompactNode>>,
    settings: &NodeSettings,
) -> DesiredNode {
    let mut problems = Vec::new();
    let infos: Vec<NodeInfo> = nodes
        .values()
        .map(|node| node_info(node, &mut problems))
        .collect();
    let (routes, route_problems) = plan_routes(&settings.node_name, &infos);
    problems.extend(route_problems.into_iter().map(NodeDataProblem::Route));
    let own_cidrs = infos
        .iter()
        .find(|info| info.name == settings.node_name)
        .map(|info| info.pod_cidrs.clone())
        .unwrap_or_default();
    let masquerade = if settings.masquerade_outside {
        // Inside the cluster: every pod CIDR and every node address, plus --cluster-cidr.
        let inside: Vec<IpNet> = infos
            .iter()
            .flat_map(|info| {
                let addresses = info.internal_ips.iter().map(|ip| IpNet::from(*ip));
                info.pod_cidrs.iter().copied().chain(addresses)
            })
            .chain(settings.cluster_cidrs.iter().copied())
            .collect();
        plan_node_masquerade(&own_cidrs, &inside)
    } else {
        plan_node_masquerade(&[], &[])
    };
    let conflist = if own_cidrs.is_empty() {
        if nodes.contains_key(&settings.node_name) {
            problems.push(NodeDataProblem::NoPodCidr {
                node: settings.node_name.clone(),
            });
        }
        None
    } else {
        Some(render_conflist(&NodeNetwork {
            name: settings.network_name.clone(),
            bridge: settings.bridge.clone(),
            mtu: settings.mtu,
            pod_cidrs: own_cidrs.clone(),
        }))
    };
    let ipv6 = infos
        .iter()
        .flat_map(|info| &info.pod_cidrs)
        .any(|cidr| matches!(cidr, IpNet::V6(_)));
    DesiredNode {
        routes,
        conflist,
        ipv6,
        masquerade,
        pod_cidrs: own_cidrs,
        problems,
    }
}

/// The Node as route planning reads it; entries that do not parse are left out and reported.
fn node_info(node: &CompactNode, problems: &mut Vec<NodeDataProblem>) -> NodeInfo {
    let name = &node.name;
    let pod_cidrs = node
        .pod_cidrs
        .iter()
        .enumerate()
        .filter_map(|(index, text)| match text.parse::<IpNet>() {
            Ok(cidr) => Some(cidr),
            Err(_) => {
                problems.push(NodeDataProblem::BadPodCidr {
                    node: name.clone(),
                    index,
                    text: text.clone(),
                });
                None
            }
        })
        .collect();
    let internal_ips = node
        .internal_ips
        .iter()
        .filter_map(|text| match text.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                problems.push(NodeDataProblem::BadInternalIp {
                    node: name.clone(),
                    text: text.clone(),
                });
                None
            }
        })
        .collect();
    NodeInfo {
        name: name.clone(),
        pod_cidrs,
        internal_ips,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;

    fn settings() -> NodeSettings {
        NodeSettings {
            node_name: "a".into(),
            network_name: "portcullis".into(),
            bridge: "cni0".into(),
            mtu: None,
            masquerade_outside: true,
            cluster_cidrs: Vec::new(),
        }
    }

    fn nodes(list: &[(&str, &[&str], &[&str])]) -> BTreeMap<String, Arc<CompactNode>> {
        list.iter()
            .map(|(name, cidrs, ips)| {
                let node = CompactNode {
                    name: name.to_string(),
                    pod_cidrs: cidrs.iter().map(ToString::to_string).collect(),
                    internal_ips: ips.iter().map(ToString::to_string).collect(),
                };
                (name.to_string(), Arc::new(node))
            })
            .collect()
    }

    fn route(dst: &str, via: &str) -> NodeRoute {
        NodeRoute {
            dst: dst.parse().unwrap(),
            via: via.parse().unwrap(),
        }
    }

    #[test]
    fn routes_to_the_others_and_a_conflist_for_this_node() {
        let desired = desired_node(
            &nodes(&[
                ("a", &["10.1.0.0/24"], &["192.168.0.1"]),
                ("b", &["10.1.1.0/24"], &["192.168.0.2"]),
                ("c", &["10.1.2.0/24"], &["192.168.0.3"]),
            ]),
            &settings(),
        );
        assert_eq!(
            desired.routes,
            vec![
                route("10.1.1.0/24", "192.168.0.2"),
                route("10.1.2.0/24", "192.168.0.3")
            ]
        );
        let conflist = desired.conflist.unwrap();
        assert!(
            conflist.contains(r#""subnet": "10.1.0.0/24""#),
            "{conflist}"
        );
        assert!(!desired.ipv6);
        assert!(desired.problems.is_empty(), "{:?}", desired.problems);
        // Outside the cluster only: every pod CIDR and node address is exempt.
        let table = desired.masquerade.to_string();
        for inside in ["10.1.1.0/24", "10.1.2.0/24", "192.168.0.2 ", "192.168.0.3 "] {
            assert!(
                table.contains(&format!("ip daddr {inside}")),
                "{inside}: {table}"
            );
        }
        assert!(table.contains("ip saddr 10.1.0.0/24 masquerade"), "{table}");
    }

    #[test]
    fn masquerading_can_be_off_and_the_cluster_cidr_is_exempt() {
        let list = nodes(&[("a", &["10.1.0.0/24"], &["192.168.0.1"])]);
        let off = NodeSettings {
            masquerade_outside: false,
            ..settings()
        };
        assert!(desired_node(&list, &off).masquerade.is_empty());
        let with_cluster = NodeSettings {
            cluster_cidrs: vec!["10.0.0.0/8".parse().unwrap()],
            ..settings()
        };
        let table = desired_node(&list, &with_cluster).masquerade.to_string();
        assert!(table.contains("ip daddr 10.0.0.0/8 return"), "{table}");
    }

    #[test]
    fn dual_stack_nodes_need_ipv6_forwarding() {
        let desired = desired_node(
            &nodes(&[
                (
                    "a",
                    &["10.1.0.0/24", "fd00:0:0:1::/64"],
                    &["192.168.0.1", "fd00::1"],
                ),
                (
                    "b",
                    &["10.1.1.0/24", "fd00:0:0:2::/64"],
                    &["192.168.0.2", "fd00::2"],
                ),
            ]),
            &settings(),
        );
        assert!(desired.ipv6);
        assert_eq!(
            desired.routes,
            vec![
                route("10.1.1.0/24", "192.168.0.2"),
                route("fd00:0:0:2::/64", "fd00::2")
            ]
        );
    }

    #[test]
    fn bad_fields_are_named_and_the_rest_is_kept() {
        let desired = desired_node(
            &nodes(&[
                ("a", &["10.1.0.0/24"], &["192.168.0.1"]),
                ("b", &["10.1.1.0/33", "10.1.5.0/24"], &["192.168.0.2"]),
                ("c", &["10.1.2.0/24"], &["not-an-ip", "192.168.0.3"]),
            ]),
            &settings(),
        );
        assert_eq!(
            desired.routes,
            vec![
                route("10.1.2.0/24", "192.168.0.3"),
                route("10.1.5.0/24", "192.168.0.2")
            ]
        );
        let lines: Vec<String> = desired.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            vec![
                r#"Node b: spec.podCIDRs[0] "10.1.1.0/33" is not a CIDR; left out"#.to_string(),
                r#"Node c: status.addresses InternalIP "not-an-ip" is not an IP address; left out"#
                    .to_string(),
            ]
        );
        assert!(desired.problems.iter().all(|p| p.fault() == Fault::User));
        assert!(desired.conflist.is_some());
    }

    #[test]
    fn no_conflist_until_this_node_has_a_pod_cidr() {
        let without_cidr = desired_node(
            &nodes(&[
                ("a", &[], &["192.168.0.1"]),
                ("b", &["10.1.1.0/24"], &["192.168.0.2"]),
            ]),
            &settings(),
        );
        assert_eq!(without_cidr.conflist, None);
        assert_eq!(
            without_cidr.routes,
            vec![route("10.1.1.0/24", "192.168.0.2")]
        );
        assert!(
            without_cidr.problems[0]
                .to_string()
                .starts_with("Node a: spec.podCIDRs is empty"),
            "{:?}",
            without_cidr.problems
        );

        let absent = desired_node(
            &nodes(&[("b", &["10.1.1.0/24"], &["192.168.0.2"])]),
            &settings(),
        );
        assert_eq!(absent.conflist, None);
        assert_eq!(absent.routes.len(), 1);
        assert_eq!(absent.problems.len(), 1, "{:?}", absent.problems);
        assert!(
            absent.problems[0].to_string().contains("--node-name"),
            "{:?}",
            absent.problems
        );
        assert_eq!(
            absent.problems[0].fault(),
            Fault::Operator,
            "a --node-name naming no Node is the operator's"
        );
    }
}
