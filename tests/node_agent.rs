//! The real `portcullis node` binary in two node namespaces joined by a veth "LAN", reading
//! Node objects from a manifests folder: it installs routes to the other node's pod CIDR,
//! turns forwarding on and writes its node's conflist; pods attached with that conflist by the
//! real plugin binary reach each other across nodes by their own addresses. It then follows
//! Node changes, repairs a route removed behind its back and reports a bad Node by name while
//! keeping the rest. Needs root (CI runs as root).

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use portcullis_testkit::chart::node_agent_account;
use portcullis_testkit::control_plane::ControlPlane;
use portcullis_testkit::netns::{Netns, echo};
use portcullis_testkit::node_agent_process::{
    NodeAgent, attach, eventually, known, node_yaml, pod_yaml, write,
};

/// Two node namespaces on a veth LAN, 192.168.91.1 and .2.
fn two_nodes() -> (Netns, Netns) {
    let (node_a, node_b) = (Netns::new(), Netns::new());
    node_a.ip(&format!(
        "link add lan0 type veth peer name lan0 netns {}",
        node_b.name()
    ));
    node_a.ip("addr add 192.168.91.1/24 dev lan0");
    node_b.ip("addr add 192.168.91.2/24 dev lan0");
    node_a.ip("link set lan0 up");
    node_b.ip("link set lan0 up");
    (node_a, node_b)
}

#[test]
fn the_node_agent_routes_pods_across_nodes_and_follows_node_changes() {
    let (node_a, node_b) = two_nodes();
    let (pod_a, pod_b) = (Netns::new(), Netns::new());

    let manifests = tempfile::tempdir().unwrap();
    write(
        manifests.path(),
        "a.yaml",
        &node_yaml("a", "10.91.1.0/24", "192.168.91.1"),
    );
    write(
        manifests.path(),
        "b.yaml",
        &node_yaml("b", "10.91.2.0/24", "192.168.91.2"),
    );
    let source = ["--manifests".as_ref(), manifests.path().as_os_str()];
    let agent_a = NodeAgent::start(&node_a, "a", source);
    let agent_b = NodeAgent::start(&node_b, "b", source);

    let routes = |node: &Netns| node.ip("route show proto 77");
    eventually("node a's route to b's pods", || {
        routes(&node_a) == "10.91.2.0/24 via 192.168.91.2 dev lan0"
    });
    eventually("node b's route to a's pods", || {
        routes(&node_b) == "10.91.1.0/24 via 192.168.91.1 dev lan0"
    });
    eventually("both conflists", || {
        agent_a.conflist().is_some() && agent_b.conflist().is_some()
    });
    assert_eq!(
        agent_a.conflist().unwrap()["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
        "10.91.1.0/24"
    );
    for node in [&node_a, &node_b] {
        let forwarding = node.exec("cat", &["/proc/sys/net/ipv4/ip_forward"]);
        assert_eq!(forwarding.trim(), "1");
    }

    // Pods attached with the written conflists talk across nodes by their own addresses.
    let (data_a, data_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ip_a = attach(&node_a, &agent_a, &pod_a, data_a.path());
    let ip_b = attach(&node_b, &agent_b, &pod_b, data_b.path());
    assert!(ip_a.to_string().starts_with("10.91.1."), "{ip_a}");
    // The kubelet reports each pod's address; until the agents know it, the pod's packets are
    // dropped (no pod talks before its NetworkPolicy rules are in place).
    write(
        manifests.path(),
        "pods.yaml",
        &format!(
            "{}---\n{}",
            pod_yaml("pod-a", "a", ip_a),
            pod_yaml("pod-b", "b", ip_b)
        ),
    );
    for (node, ip) in [(&node_a, ip_a), (&node_b, ip_b)] {
        eventually("the agent knows the pod", || {
            known(node).contains(&ip.to_string())
        });
    }
    let server = pod_b.accept_one(9000);
    pod_a.run(|| echo(ip_b, 9000));
    assert_eq!(
        server.join().unwrap(),
        ip_a,
        "the server sees the client's pod address"
    );
    // Node → pod on the other node, and pod → the other node: both by their own addresses.
    let pod_server = pod_a.accept_one(9002);
    node_b.run(|| echo(ip_a, 9002));
    assert_eq!(
        pod_server.join().unwrap(),
        "192.168.91.2".parse::<IpAddr>().unwrap()
    );
    let node_server = node_a.accept_one(9003);
    pod_b.run(|| echo("192.168.91.1".parse().unwrap(), 9003));
    assert_eq!(node_server.join().unwrap(), ip_b);

    // Leaving the cluster (a network with no route back to the pods), a pod appears as its
    // node; the existing table shows what was programmed.
    let outside = Netns::new();
    node_a.ip(&format!(
        "link add up0 type veth peer name up0 netns {}",
        outside.name()
    ));
    node_a.ip("addr add 203.0.113.1/24 dev up0");
    outside.ip("addr add 203.0.113.2/24 dev up0");
    node_a.ip("link set up0 up");
    outside.ip("link set up0 up");
    let outside_server = outside.accept_one(9004);
    pod_a.run(|| echo("203.0.113.2".parse().unwrap(), 9004));
    assert_eq!(
        outside_server.join().unwrap(),
        "203.0.113.1".parse::<IpAddr>().unwrap()
    );
    let table = node_a.exec("nft", &["list", "table", "inet", "portcullis-node-masq"]);
    assert!(
        table.contains("ip saddr 10.91.1.0/24 ip daddr 10.91.2.0/24 return")
            && table.contains("ip saddr 10.91.1.0/24 ip daddr 192.168.91.2 return")
            && table.contains("ip saddr 10.91.1.0/24 masquerade"),
        "{table}"
    );

    // A route removed behind the agent's back comes back at the next resync.
    node_a.ip("route del 10.91.2.0/24");
    eventually("the repaired route", || {
        routes(&node_a) == "10.91.2.0/24 via 192.168.91.2 dev lan0"
    });
    // So does forwarding turned off.
    let sysctl = |value: &str| {
        node_a.exec("sysctl", &["-qw", &format!("net.ipv4.ip_forward={value}")]);
    };
    sysctl("0");
    eventually("forwarding back on", || {
        agent_a.log().contains("turned forwarding on")
    });

    // A new Node gets a route; a bad one is reported by name and field, the rest stays.
    write(
        manifests.path(),
        "c.yaml",
        &node_yaml("c", "10.91.3.0/24", "192.168.91.3"),
    );
    write(
        manifests.path(),
        "d.yaml",
        &node_yaml("d", "10.91.4.0/33", "192.168.91.4"),
    );
    eventually("node c's route on a", || {
        routes(&node_a).contains("10.91.3.0/24 via 192.168.91.3")
    });
    eventually("the bad Node reported", || {
        agent_a
            .log()
            .contains(r#"Node d: spec.podCIDRs[0] "10.91.4.0/33" is not a CIDR"#)
    });
    assert!(routes(&node_a).contains("10.91.2.0/24 via 192.168.91.2"));

    // A Node that leaves takes its route with it; a foreign route is never touched.
    node_a.ip("route add 10.91.9.0/24 via 192.168.91.9 proto static");
    std::fs::remove_file(manifests.path().join("c.yaml")).unwrap();
    eventually("node c's route gone", || {
        routes(&node_a) == "10.91.2.0/24 via 192.168.91.2 dev lan0"
    });
    assert!(
        node_a
            .ip("route show 10.91.9.0/24")
            .contains("proto static")
    );
    assert!(
        !agent_a.log().contains("ERROR"),
        "unexpected errors:\n{}",
        agent_a.log()
    );
}

/// The same agent fed by a real control plane (reached from inside the node's namespace
/// through a forwarder, as the chart's node ServiceAccount): Nodes get their pod CIDRs from the real node IPAM controller
/// (`--allocate-node-cidrs`), their addresses as a kubelet reports them (a status patch), and
/// routes follow Nodes added, moved and deleted.
#[test]
fn the_node_agent_follows_nodes_from_the_kubernetes_api() {
    let (node_a, _node_b) = two_nodes();
    node_a.ip("link set lo up");
    let plane = ControlPlane::start();
    // The agent runs as the chart's node ServiceAccount, with exactly the roles it renders.
    plane.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: portcullis-system}\n");
    let dir = tempfile::tempdir().unwrap();
    let account = node_agent_account(&plane, "nodes", "portcullis-system", dir.path());
    let kubeconfig = plane.forward_inside(&node_a, &account);
    let join = |name: &str, ip: &str| {
        plane.apply(&format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n"
        ));
        let status = format!(
            r#"{{"status": {{"addresses": [{{"type": "Hostname", "address": "{name}"}}, {{"type": "InternalIP", "address": "{ip}"}}]}}}}"#
        );
        plane.kubectl_ok(&[
            "patch",
            "node",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ]);
    };
    let pod_cidr = |name: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let cidr = plane.kubectl_ok(&["get", "node", name, "-o", "jsonpath={.spec.podCIDR}"]);
            if !cidr.is_empty() {
                return cidr;
            }
            assert!(
                Instant::now() < deadline,
                "node IPAM gave {name} no pod CIDR"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    join("a", "192.168.91.1");
    join("b", "192.168.91.2");
    let b = pod_cidr("b");
    assert!(b.starts_with("10.244."), "{b} from --cluster-cidr");
    let agent = NodeAgent::start(
        &node_a,
        "a",
        ["--kubeconfig".as_ref(), kubeconfig.as_os_str()],
    );

    let routes = || node_a.ip("route show proto 77");
    let wait = |what: &str, want: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while routes() != want {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {}; log:\n{}",
                routes(),
                agent.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait("the route to b", &format!("{b} via 192.168.91.2 dev lan0"));
    eventually("the conflist", || agent.conflist().is_some());

    join("c", "192.168.91.3");
    let c = pod_cidr("c");
    let mut both = [
        format!("{b} via 192.168.91.2 dev lan0"),
        format!("{c} via 192.168.91.3 dev lan0"),
    ];
    both.sort();
    wait("the route to c", &both.join("\n"));
    plane.kubectl_ok(&[
        "patch", "node", "b", "--subresource=status", "--type=merge", "-p",
        r#"{"status": {"addresses": [{"type": "Hostname", "address": "b"}, {"type": "InternalIP", "address": "192.168.91.22"}]}}"#,
    ]);
    plane.kubectl_ok(&["delete", "node", "c"]);
    wait(
        "b moved, c gone",
        &format!("{b} via 192.168.91.22 dev lan0"),
    );
}
