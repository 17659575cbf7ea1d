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
    let nets = |list: &[&str]| -> Vec<IpNet> { list.iter().map(|n| n.parse().unwrap()).collect() };
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
