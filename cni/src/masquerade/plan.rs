//! The masquerade table of one network, from its subnets and the addresses its pods hold.
//! Per-packet cost does not grow with the number of pods: their addresses are in a set.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::ipam::{Attachment, RangeSet};

/// One address family's part of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyRules<A, N> {
    /// The pods' addresses: traffic from these is masqueraded.
    pub pods: Vec<A>,
    /// Destinations left alone: the network's own subnets and multicast.
    pub exempt: Vec<N>,
}

/// The whole table of one network; empty families are left out, and with no pods at all the
/// table is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasqueradePlan {
    /// `portcullis-cni-NAME`.
    pub table: String,
    /// IPv4 pods and exemptions.
    pub v4: FamilyRules<Ipv4Addr, Ipv4Net>,
    /// IPv6 pods and exemptions.
    pub v6: FamilyRules<Ipv6Addr, Ipv6Net>,
}

/// Multicast is never masqueraded (the reference plugin exempts it too).
const MULTICAST_V4: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(224, 0, 0, 0), 4);
const MULTICAST_V6: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8);

/// The table for network `name` with these ranges, holding every attachment's address.
pub fn plan_masquerade(
    name: &str,
    range_sets: &[RangeSet],
    attachments: &[Attachment],
) -> MasqueradePlan {
    let mut v4 = FamilyRules {
        pods: Vec::new(),
        exempt: Vec::new(),
    };
    let mut v6 = FamilyRules {
        pods: Vec::new(),
        exempt: Vec::new(),
    };
    for attachment in attachments {
        match attachment.ip {
            IpAddr::V4(ip) => v4.pods.push(ip),
            IpAddr::V6(ip) => v6.pods.push(ip),
        }
    }
    for range in range_sets.iter().flatten() {
        match range.subnet.trunc() {
            IpNet::V4(net) => v4.exempt.push(net),
            IpNet::V6(net) => v6.exempt.push(net),
        }
    }
    v4.exempt.push(MULTICAST_V4);
    v6.exempt.push(MULTICAST_V6);
    v4.pods.sort_unstable();
    v4.pods.dedup();
    v6.pods.sort_unstable();
    v6.pods.dedup();
    v4.exempt.sort_unstable();
    v4.exempt.dedup();
    v6.exempt.sort_unstable();
    v6.exempt.dedup();
    MasqueradePlan {
        table: table_name(name),
        v4,
        v6,
    }
}

/// The table of network `name`.
pub fn table_name(name: &str) -> String {
    format!("portcullis-cni-{name}")
}

impl MasqueradePlan {
    /// True when no pod is masqueraded: the table is removed.
    pub fn is_empty(&self) -> bool {
        self.v4.pods.is_empty() && self.v6.pods.is_empty()
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

fn family_rules<A, N: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    keyword: &str,
    set: &str,
    rules: &FamilyRules<A, N>,
) -> fmt::Result {
    if rules.pods.is_empty() {
        return Ok(());
    }
    for net in &rules.exempt {
        writeln!(f, "\t\t{keyword} saddr @{set} {keyword} daddr {net} return")?;
    }
    writeln!(f, "\t\t{keyword} saddr @{set} masquerade")
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
    fn no_pods_means_no_table() {
        let plan = plan_masquerade("n", &[vec![range("10.1.0.0/24")]], &[]);
        assert!(plan.is_empty());
        assert_eq!(plan.to_string(), "");
    }
}
