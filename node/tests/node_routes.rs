//! Route sync against a real kernel table in a fresh network namespace: installs what the plan
//! says, repairs what was removed behind its back, updates changed gateways, removes routes no
//! Node wants, and never touches routes of another protocol. Needs root.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use portcullis_node::routes::{NodeInfo, NodeRoute, SyncReport, plan_routes, sync_routes};
use portcullis_testkit::netns::Netns;

/// The node-route sync run inside a namespace.
trait SyncRoutes {
    /// Makes this namespace's node routes equal to `desired`.
    fn sync_routes(&self, desired: &[NodeRoute]) -> SyncReport;
}

impl SyncRoutes for Netns {
    fn sync_routes(&self, desired: &[NodeRoute]) -> SyncReport {
        self.run(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .unwrap();
            runtime.block_on(async {
                let (connection, handle, _) = rtnetlink::new_connection().unwrap();
                tokio::spawn(connection);
                sync_routes(&handle, desired).await.unwrap()
            })
        })
    }
}

fn node(name: &str, cidr: &str, ip: &str) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        pod_cidrs: vec![cidr.parse().unwrap()],
        internal_ips: vec![ip.parse().unwrap()],
    }
}

#[test]
fn sync_installs_repairs_updates_and_removes_only_its_own_routes() {
    let ns = Netns::new();
    ns.ip("link add lan0 type veth peer name lan1");
    ns.ip("link set lan1 up");
    ns.ip("addr add 192.168.77.1/24 dev lan0");
    ns.ip("link set lan0 up");
    // Someone else's route, in the same range of destinations: never touched.
    ns.ip("route add 10.99.9.0/24 via 192.168.77.9 proto static");

    let mut nodes = vec![
        node("a", "10.99.0.0/24", "192.168.77.1"),
        node("b", "10.99.1.0/24", "192.168.77.2"),
        node("c", "10.99.2.0/24", "192.168.77.3"),
    ];
    let (desired, problems) = plan_routes("a", &nodes);
    assert!(problems.is_empty());
    let report = ns.sync_routes(&desired);
    assert_eq!(report.installed.len(), 2);
    let ours = || ns.ip("route show proto 77");
    assert_eq!(
        ours(),
        "10.99.1.0/24 via 192.168.77.2 dev lan0\n10.99.2.0/24 via 192.168.77.3 dev lan0"
    );

    // Nothing to do: nothing changes.
    assert_eq!(ns.sync_routes(&desired), SyncReport::default());
    // Removed behind our back: the next sync puts it back.
    ns.ip("route del 10.99.1.0/24");
    assert_eq!(ns.sync_routes(&desired).installed.len(), 1);
    assert!(ours().contains("10.99.1.0/24 via 192.168.77.2"));
    // Node b moved, node c left.
    nodes[1] = node("b", "10.99.1.0/24", "192.168.77.22");
    nodes.pop();
    let (desired, _) = plan_routes("a", &nodes);
    let report = ns.sync_routes(&desired);
    assert_eq!(report.removed.len(), 1, "{report:?}");
    assert_eq!(ours(), "10.99.1.0/24 via 192.168.77.22 dev lan0");
    assert!(
        ns.ip("route show 10.99.9.0/24")
            .contains("via 192.168.77.9"),
        "the foreign route stays"
    );
    // A Node claiming the foreign route's CIDR, and one whose address is not on any attached
    // network: both refused and reported, the foreign route untouched, the rest still synced.
    nodes.push(node("d", "10.99.9.0/24", "192.168.77.4"));
    nodes.push(node("e", "10.99.5.0/24", "172.31.0.5"));
    nodes.push(node("f", "10.99.6.0/24", "192.168.77.6"));
    let (desired, _) = plan_routes("a", &nodes);
    let report = ns.sync_routes(&desired);
    assert_eq!(report.failed.len(), 2, "{report:?}");
    assert!(
        report.failed[0].contains("10.99.5.0/24") && report.failed[0].contains("directly attached"),
        "{report:?}"
    );
    assert!(
        report.failed[1].contains("10.99.9.0/24") && report.failed[1].contains("left alone"),
        "{report:?}"
    );
    assert_eq!(
        ours(),
        "10.99.1.0/24 via 192.168.77.22 dev lan0\n10.99.6.0/24 via 192.168.77.6 dev lan0"
    );
    assert!(
        ns.ip("route show 10.99.9.0/24")
            .contains("via 192.168.77.9 dev lan0 proto static")
    );

    // No Nodes at all: every route of ours goes, the foreign one stays.
    ns.sync_routes(&[]);
    assert_eq!(ours(), "");
    assert!(
        ns.ip("route show 10.99.9.0/24")
            .contains("via 192.168.77.9")
    );
}
