//! `ipMasq: true` against a real kernel: in a node namespace with an "outside" network the
//! pods' subnet is not routed from, a pod reaches the outside with the node's address, while
//! traffic inside the pod subnet keeps the pod's own address; the network's nftables table is
//! exactly what the plan renders, follows concurrent ADDs and DELs, and is gone with the last
//! pod. Needs root.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use std::net::IpAddr;
use std::process::Command;

use portcullis_testkit::cni_calls::{Call, invoke, pod_ip};
use portcullis_testkit::netns::{Netns, echo, unique};

struct Node {
    ns: Netns,
    name: String,
    data: tempfile::TempDir,
    /// The `ipam` section's address fields.
    ranges: &'static str,
}

impl Node {
    fn new(ranges: &'static str) -> Node {
        Node {
            ns: Netns::new(),
            name: unique("masq"),
            data: tempfile::tempdir().unwrap(),
            ranges,
        }
    }

    fn config(&self) -> String {
        format!(
            r#"{{"cniVersion": "1.1.0", "name": "{}", "type": "portcullis-cni", "bridge": "cni0",
                "isGateway": true, "isDefaultGateway": true, "ipMasq": true,
                "ipam": {{"type": "host-local", {}, "dataDir": "{}"}}}}"#,
            self.name,
            self.ranges,
            self.data.path().display()
        )
    }

    /// The plan for these attachments, as the plugin computes it from this config.
    fn expected(&self, attachments: &[(IpAddr, &str)]) -> String {
        let config = portcullis_cni::config::parse_bridge_config(self.config().as_bytes()).unwrap();
        let attachments: Vec<_> = attachments
            .iter()
            .map(|(ip, container)| portcullis_cni::ipam::Attachment {
                ip: *ip,
                container_id: container.to_string(),
                ifname: "eth0".into(),
            })
            .collect();
        portcullis_cni::masquerade::plan_masquerade(
            &self.name,
            &config.ipam.range_sets,
            &attachments,
        )
        .to_string()
    }

    fn call(&self, command: &str, pod: &Netns, container: &str) -> (bool, serde_json::Value) {
        let mut plugin = Command::new("ip");
        plugin.args([
            "netns",
            "exec",
            self.ns.name(),
            env!("CARGO_BIN_EXE_portcullis-cni"),
        ]);
        let netns = pod.path();
        let call = Call {
            command,
            container,
            netns: &netns,
            ifname: "eth0",
            args: "",
        };
        invoke(plugin, &call, &self.config())
    }

    /// `nft list table inet portcullis-cni-NAME` in the node, or `None` if there is none.
    fn table(&self) -> Option<String> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                self.ns.name(),
                "nft",
                "list",
                "table",
                "inet",
            ])
            .arg(format!("portcullis-cni-{}", self.name))
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    }
}

fn add(node: &Node, pod: &Netns, container: &str) -> IpAddr {
    let (ok, result) = node.call("ADD", pod, container);
    assert!(ok, "{result}");
    pod_ip(&result)
}

#[test]
fn pods_reach_the_outside_masqueraded_and_each_other_by_their_own_address() {
    let node = Node::new(r#""subnet": "10.93.0.0/24""#);
    // The outside: a network the node is on and that has no route back to the pods.
    let outside = Netns::new();
    node.ns.ip(&format!(
        "link add up0 type veth peer name up0 netns {}",
        outside.name()
    ));
    node.ns.ip("addr add 203.0.113.1/24 dev up0");
    outside.ip("addr add 203.0.113.2/24 dev up0");
    node.ns.ip("link set up0 up");
    outside.ip("link set up0 up");

    let (pod_a, pod_b) = (Netns::new(), Netns::new());
    let ip_a = add(&node, &pod_a, "ctr-a");
    let ip_b = add(&node, &pod_b, "ctr-b");

    let to_outside = outside.accept_one(9000);
    pod_a.run(|| echo("203.0.113.2".parse().unwrap(), 9000));
    assert_eq!(
        to_outside.join().unwrap(),
        "203.0.113.1".parse::<IpAddr>().unwrap(),
        "leaving the pod network, the pod appears as the node"
    );
    let inside = pod_b.accept_one(9001);
    pod_a.run(|| echo(ip_b, 9001));
    assert_eq!(inside.join().unwrap(), ip_a, "inside the subnet, no NAT");

    // What the kernel holds is what the plan renders (nft prints the same text).
    assert_eq!(
        node.table().unwrap(),
        node.expected(&[(ip_a, "ctr-a"), (ip_b, "ctr-b")])
    );

    // DEL takes the pod's address out; the last DEL removes the table.
    assert!(node.call("DEL", &pod_a, "ctr-a").0);
    let table = node.table().unwrap();
    assert!(
        !table.contains(&ip_a.to_string()) && table.contains(&ip_b.to_string()),
        "{table}"
    );
    assert!(node.call("DEL", &pod_b, "ctr-b").0);
    assert_eq!(node.table(), None);
}

#[test]
fn a_dual_stack_pod_is_masqueraded_in_both_families() {
    let node =
        Node::new(r#""ranges": [[{"subnet": "10.94.0.0/24"}], [{"subnet": "fd00:94::/64"}]]"#);
    let pod = Netns::new();
    let (ok, result) = node.call("ADD", &pod, "ctr-6");
    assert!(ok, "{result}");
    let ips: Vec<IpAddr> = result["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ip| {
            ip["address"]
                .as_str()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(ips.len(), 2, "{result}");
    let table = node.table().unwrap();
    assert!(table.contains("ip6 saddr @pods6 masquerade"), "{table}");
    assert_eq!(
        table,
        node.expected(&[(ips[0], "ctr-6"), (ips[1], "ctr-6")])
    );
    assert!(node.call("DEL", &pod, "ctr-6").0);
    assert_eq!(node.table(), None);
}

#[test]
fn concurrent_adds_and_dels_leave_the_set_complete_then_no_table() {
    const PODS: usize = 12;
    let node = Node::new(r#""subnet": "10.93.0.0/24""#);
    let pods: Vec<Netns> = (0..PODS).map(|_| Netns::new()).collect();
    let ips: Vec<IpAddr> = std::thread::scope(|s| {
        let running: Vec<_> = pods
            .iter()
            .enumerate()
            .map(|(n, pod)| {
                let node = &node;
                s.spawn(move || add(node, pod, &format!("ctr-{n}")))
            })
            .collect();
        running.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let table = node.table().unwrap();
    for ip in &ips {
        assert!(
            table.contains(&ip.to_string()),
            "{ip} missing from\n{table}"
        );
    }
    std::thread::scope(|s| {
        for (n, pod) in pods.iter().enumerate() {
            let node = &node;
            s.spawn(move || assert!(node.call("DEL", pod, &format!("ctr-{n}")).0));
        }
    });
    assert_eq!(node.table(), None);
}

#[test]
fn the_node_table_masquerades_pod_subnets_and_is_replaced_whole_then_removed() {
    use portcullis_cni::masquerade::{NODE_TABLE, apply_masquerade, plan_node_masquerade};
    let ns = Netns::new();
    let nets =
        |list: &[&str]| -> Vec<ipnet::IpNet> { list.iter().map(|n| n.parse().unwrap()).collect() };
    let listing = || {
        let out = Command::new("ip")
            .args(["netns", "exec", ns.name(), "nft", "list", "table", "inet"])
            .arg(NODE_TABLE)
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    };
    let exempt = nets(&["10.244.0.0/16", "fd00:244::/56", "192.168.0.2/32"]);
    let first = plan_node_masquerade(&nets(&["10.244.1.0/24", "fd00:244:0:1::/64"]), &exempt);
    ns.run(|| apply_masquerade(&first)).unwrap();
    assert_eq!(listing().unwrap(), first.to_string());
    // A second plan replaces the first whole: nothing of the old subnet is left.
    let second = plan_node_masquerade(&nets(&["10.244.2.0/24"]), &exempt);
    ns.run(|| apply_masquerade(&second)).unwrap();
    let table = listing().unwrap();
    assert_eq!(table, second.to_string());
    assert!(
        !table.contains("10.244.1.0/24") && !table.contains("ip6"),
        "{table}"
    );
    ns.run(|| apply_masquerade(&plan_node_masquerade(&[], &exempt)))
        .unwrap();
    assert_eq!(listing(), None);
}
