//! The masquerade table of one network, from its subnets and the addresses its pods hold.
//! Per-packet cost does not grow with the number of pods: their addresses are in a set.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::ipam::{Attachment, RangeSet};

/// One address family's part of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyRules<A, N> {
    /// Single sources whose traffic is masqueraded (a network's pods), kept in a set.
    pub pods: Vec<A>,
    /// Whole source subnets whose traffic is masqueraded (a node's pod CIDRs), a rule each.
    pub pod_subnets: Vec<N>,
    /// Destinations left alone: the pod network itself, multicast, and so on.
    pub exempt: Vec<N>,
}

/// One table of masquerading rules; empty families are left out, and with no sources at all
/// the table is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasqueradePlan {
    /// `portcullis-cni-NAME`, or [`NODE_TABLE`].
    pub table: String,
    /// IPv4 sources and exemptions.
    pub v4: FamilyRules<Ipv4Addr, Ipv4Net>,
    /// IPv6 sources and exemptions.
    pub v6: FamilyRules<Ipv6Addr, Ipv6Net>,
}

/// The node agent's table: traffic from this node's pods to outside the cluster.
pub const NODE_TABLE: &str = "portcullis-node-masq";

/// Multicast is never masqueraded (the reference plugin exempts it too).
const MULTICAST_V4: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(224, 0, 0, 0), 4);
const MULTICAST_V6: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8);

/// The `ipMasq` table of network `name` with these ranges, holding every attachment's address:
/// traffic from a pod to anywhere outside the network's subnets is masqueraded.
pub fn plan_masquerade(
    name: &str,
    range_sets: &[RangeSet],
    attachments: &[Attachment],
) -> MasqueradePlan {
    let mut plan = MasqueradePlan::empty(table_name(name));
    for attachment in attachments {
        match attachment.ip {
            IpAddr::V4(ip) => plan.v4.pods.push(ip),
            IpAddr::V6(ip) => plan.v6.pods.push(ip),
        }
    }
    plan.exempt(range_sets.iter().flatten().map(|range| range.subnet));
    plan.finish()
}

/// The node agent's table: traffic from `pod_cidrs` (this node's) to anywhere but `exempt`
/// (every node's pod CIDRs and addresses, the cluster CIDR) leaves with the node's address.
pub fn plan_node_masquerade(pod_cidrs: &[IpNet], exempt: &[IpNet]) -> MasqueradePlan {
    let mut plan = MasqueradePlan::empty(NODE_TABLE.to_string());
    for cidr in pod_cidrs {
        match cidr.trunc() {
            IpNet::V4(net) => plan.v4.pod_subnets.push(net),
            IpNet::V6(net) => plan.v6.pod_subnets.push(net),
        }
    }
    plan.exempt(exempt.iter().copied());
    plan.finish()
}

impl MasqueradePlan {
    fn empty(table: String) -> MasqueradePlan {
        MasqueradePlan {
            table,
            v4: FamilyRules::default(),
            v6: FamilyRules::default(),
        }
    }

    fn exempt(&mut self, nets: impl Iterator<Item = IpNet>) {
        for net in nets {
            match net.trunc() {
                IpNet::V4(net) => self.v4.exempt.push(net),
                IpNet::V6(net) => self.v6.exempt.push(net),
            }
        }
    }

    /// Adds multicast to the exemptions, and sorts and deduplicates everything.
    fn finish(mut self) -> MasqueradePlan {
        self.v4.exempt.push(MULTICAST_V4);
        self.v6.exempt.push(MULTICAST_V6);
        self.v4.normalize();
        self.v6.normalize();
        self
    }
}

impl<A, N> Default for FamilyRules<A, N> {
    fn default() -> Self {
        FamilyRules {
            pods: Vec::new(),
            pod_subnets: Vec::new(),
            exempt: Vec::new(),
        }
    }
}

impl<A: Ord, N: Ord> FamilyRules<A, N> {
    fn normalize(&mut self) {
        self.pods.sort_unstable();
        self.pods.dedup();
        self.pod_subnets.sort_unstable();
        self.pod_subnets.dedup();
        self.exempt.sort_unstable();
        self.exempt.dedup();
    }

    /// True when nothing of this family is masqueraded.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty() && self.pod_subnets.is_empty()
    }
}

/// The table of network `name`.
pub fn table_name(name: &str) -> String {
    format!("portcullis-cni-{name}")
}

impl MasqueradePlan {
    /// True when nothing is masqueraded: the table is removed.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// The table as `nft list table` would show it (empty text when it is removed), for tests a
/// reviewer can read and for debugging by hand.
impl fmt::Display for MasqueradePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        writeln!(f, "table inet {} {{", self.table)?;
        family_set(f, "pods4", "ipv4_addr", &self.v4.pods)?;
        family_set(f, "pods6", "ipv6_addr", &self.v6.pods)?;
        writeln!(f, "\tchain postrouting {{")?;
        writeln!(
            f,
            "\t\ttype nat hook postrouting priority srcnat; policy accept;"
        )?;
        family_rules(f, "ip", "pods4", &self.v4)?;
        family_rules(f, "ip6", "pods6", &self.v6)?;
        writeln!(f, "\t}}")?;
        writeln!(f, "}}")
    }
}

fn family_set<A: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    type_: &str,
    pods: &[A],
) -> fmt::Result {
    if pods.is_empty() {
        return Ok(());
    }
    let elements: Vec<String> = pods.iter().map(ToString::to_string).collect();
    writeln!(f, "\tset {name} {{")?;
    writeln!(f, "\t\ttype {type_}")?;
    writeln!(f, "\t\telements = {{ {} }}", elements.join(", "))?;
    writeln!(f, "\t}}\n")
}

fn family_rules<A, N: Copy + Into<IpNet>>(
    f: &mut fmt::Formatter<'_>,
    keyword: &str,
    set: &str,
    rules: &FamilyRules<A, N>,
) -> fmt::Result {
    let set = format!("@{set}");
    let sets = (!rules.pods.is_empty()).then_some(set);
    let subnets = rules.pod_subnets.iter().map(|net| nft_net((*net).into()));
    for source in sets.into_iter().chain(subnets) {
        for net in &rules.exempt {
            let net = nft_net((*net).into());
            writeln!(
                f,
                "\t\t{keyword} saddr {source} {keyword} daddr {net} return"
            )?;
        }
        writeln!(f, "\t\t{keyword} saddr {source} masquerade")?;
    }
    Ok(())
}

/// A subnet as nft prints it: a single address without its `/32` or `/128`.
fn nft_net(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;
    use crate::ipam::Range;

    fn range(subnet: &str) -> Range {
        let subnet: IpNet = subnet.parse().unwrap();
        Range {
            subnet,
            start: subnet.network(),
            end: subnet.broadcast(),
            gateway: subnet.network(),
        }
    }

    fn pod(ip: &str, id: &str) -> Attachment {
        Attachment {
            ip: ip.parse().unwrap(),
            container_id: id.into(),
            ifname: "eth0".into(),
        }
    }

    #[test]
    fn a_dual_stack_network_masquerades_each_family_from_a_set() {
        let plan = plan_masquerade(
            "pods",
            &[vec![range("10.22.0.0/16")], vec![range("fd00:22::/64")]],
            &[
                pod("10.22.0.9", "b"),
                pod("10.22.0.2", "a"),
                pod("fd00:22::2", "a"),
            ],
        );
        let expected = "\
table inet portcullis-cni-pods {
\tset pods4 {
\t\ttype ipv4_addr
\t\telements = { 10.22.0.2, 10.22.0.9 }
\t}

\tset pods6 {
\t\ttype ipv6_addr
\t\telements = { fd00:22::2 }
\t}

\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr @pods4 ip daddr 10.22.0.0/16 return
\t\tip saddr @pods4 ip daddr 224.0.0.0/4 return
\t\tip saddr @pods4 masquerade
\t\tip6 saddr @pods6 ip6 daddr fd00:22::/64 return
\t\tip6 saddr @pods6 ip6 daddr ff00::/8 return
\t\tip6 saddr @pods6 masquerade
\t}
}
";
        assert_eq!(plan.to_string(), expected);
    }

    #[test]
    fn every_range_of_a_set_is_exempt_and_a_family_without_pods_is_left_out() {
        let plan = plan_masquerade(
            "n",
            &[vec![range("10.1.0.0/24"), range("10.2.0.0/24")]],
            &[pod("10.1.0.5", "a")],
        );
        let text = plan.to_string();
        assert!(text.contains("ip daddr 10.1.0.0/24 return"), "{text}");
        assert!(text.contains("ip daddr 10.2.0.0/24 return"), "{text}");
        assert!(!text.contains("pods6"), "{text}");
    }

    #[test]
    fn a_node_masquerades_its_pod_cidrs_to_outside_the_cluster() {
        let nets =
            |list: &[&str]| -> Vec<IpNet> { list.iter().map(|n| n.parse().unwrap()).collect() };
        let plan = plan_node_masquerade(
            &nets(&["10.244.1.0/24"]),
            &nets(&[
                "10.244.1.0/24",
                "10.244.2.0/24",
                "192.168.0.2/32",
                "10.244.0.0/16",
            ]),
        );
        let expected = "\
table inet portcullis-node-masq {
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 10.244.1.0/24 ip daddr 10.244.0.0/16 return
\t\tip saddr 10.244.1.0/24 ip daddr 10.244.1.0/24 return
\t\tip saddr 10.244.1.0/24 ip daddr 10.244.2.0/24 return
\t\tip saddr 10.244.1.0/24 ip daddr 192.168.0.2 return
\t\tip saddr 10.244.1.0/24 ip daddr 224.0.0.0/4 return
\t\tip saddr 10.244.1.0/24 masquerade
\t}
}
";
        assert_eq!(plan.to_string(), expected);
        assert!(plan_node_masquerade(&[], &nets(&["10.244.0.0/16"])).is_empty());
    }

    #[test]
    fn no_pods_means_no_table() {
        let plan = plan_masquerade("n", &[vec![range("10.1.0.0/24")]], &[]);
        assert!(plan.is_empty());
        assert_eq!(plan.to_string(), "");
    }
}
