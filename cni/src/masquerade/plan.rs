//! The masquerade table of one network, from its subnets and the addresses its pods hold.
//! Per-packet cost does not grow with the number of pods: their addresses are in a set.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::table::masquerade_table;
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

/// The table as `nft list table` shows it (empty text when it is removed), rendered from
/// the same model the transaction is made of, for tests a reviewer can read and for
/// debugging by hand.
impl fmt::Display for MasqueradePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        f.write_str(&portcullis_nft::render(&masquerade_table(self)))
    }
}

#[cfg(test)]
mod tests;
