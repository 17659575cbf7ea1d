//! The pod network across nodes, with real components only: two node namespaces joined by a
//! veth "LAN", pods attached on each by running the real plugin binary inside its node's
//! namespace (as the runtime on that node would), and each node's routes to the other's pod
//! CIDR installed by the node-route sync. A pod on one node connects to a pod on the other, and
//! the server sees the client's own pod address: no NAT anywhere. Needs root.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

mod support;

use std::net::IpAddr;
use std::process::Command;

use portcullis_cni::routes::{NodeInfo, plan_routes};
use support::{Call, Netns, echo, invoke, pod_ip};

/// ADDs `pod` to the network of `node` by running the plugin in the node's namespace.
fn attach(node: &Netns, pod: &Netns, subnet: &str, data: &std::path::Path) -> IpAddr {
    let config = format!(
        r#"{{"cniVersion": "1.1.0", "name": "pods", "type": "portcullis-cni", "bridge": "cni0",
            "isGateway": true, "isDefaultGateway": true,
            "ipam": {{"type": "host-local", "subnet": "{subnet}", "dataDir": "{}"}}}}"#,
        data.display()
    );
    let mut plugin = Command::new("ip");
    plugin.args([
        "netns",
        "exec",
        node.name(),
        env!("CARGO_BIN_EXE_portcullis-cni"),
    ]);
    let call = Call {
        command: "ADD",
        container: pod.name(),
        netns: &pod.path(),
        ifname: "eth0",
        args: "",
    };
    let (ok, result) = invoke(plugin, &call, &config);
    assert!(ok, "{result}");
    pod_ip(&result)
}

/// Installs this node's routes to the other nodes' pods, from the Node list.
fn route(node: &Netns, name: &str, nodes: &[NodeInfo]) {
    let (desired, problems) = plan_routes(name, nodes);
    assert!(problems.is_empty(), "{problems:?}");
    node.sync_routes(&desired);
}

#[test]
fn a_pod_reaches_a_pod_on_another_node_and_is_seen_by_its_own_address() {
    let (node_a, node_b) = (Netns::new(), Netns::new());
    let (pod_a, pod_b) = (Netns::new(), Netns::new());
    // The LAN: one veth between the two nodes.
    node_a.ip(&format!(
        "link add lan0 type veth peer name lan0 netns {}",
        node_b.name()
    ));
    node_a.ip("addr add 192.168.90.1/24 dev lan0");
    node_b.ip("addr add 192.168.90.2/24 dev lan0");
    node_a.ip("link set lan0 up");
    node_b.ip("link set lan0 up");

    let (data_a, data_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ip_a = attach(&node_a, &pod_a, "10.90.1.0/24", data_a.path());
    let ip_b = attach(&node_b, &pod_b, "10.90.2.0/24", data_b.path());
    let nodes = vec![
        NodeInfo {
            name: "node-a".into(),
            pod_cidrs: vec!["10.90.1.0/24".parse().unwrap()],
            internal_ips: vec!["192.168.90.1".parse().unwrap()],
        },
        NodeInfo {
            name: "node-b".into(),
            pod_cidrs: vec!["10.90.2.0/24".parse().unwrap()],
            internal_ips: vec!["192.168.90.2".parse().unwrap()],
        },
    ];
    route(&node_a, "node-a", &nodes);
    route(&node_b, "node-b", &nodes);

    let server = pod_b.accept_one(9000);
    pod_a.run(|| echo(ip_b, 9000));
    assert_eq!(
        server.join().unwrap(),
        ip_a,
        "the server sees the client's pod address"
    );

    // A pod reaches the other node itself (pod → node), and that node sees the pod's address.
    let node_server = node_b.accept_one(9001);
    pod_a.run(|| echo("192.168.90.2".parse().unwrap(), 9001));
    assert_eq!(node_server.join().unwrap(), ip_a);
}
