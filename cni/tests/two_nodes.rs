//! The pod network across nodes, with real components only: two node namespaces joined by a
//! veth "LAN", pods attached on each by running the real plugin binary inside its node's
//! namespace (as the runtime on that node would), and each node's routes to the other's pod
//! CIDR installed by the node-route sync. A pod on one node connects to a pod on the other, and
//! the server sees the client's own pod address: no NAT anywhere. Needs root.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};

use nix::sched::{CloneFlags, setns};
use portcullis_cni::routes::{NodeInfo, plan_routes, sync_routes};

struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("pc2n{}{tag}", std::process::id() % 100_000);
        assert!(
            Command::new("ip")
                .args(["netns", "add", &name])
                .status()
                .unwrap()
                .success()
        );
        Netns(name)
    }

    fn path(&self) -> String {
        format!("/var/run/netns/{}", self.0)
    }

    fn ip(&self, args: &str) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "ip"])
            .args(args.split_whitespace())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ip {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `job` on a thread inside this namespace.
    fn spawn<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let file = std::fs::File::open(self.path()).unwrap();
        std::thread::spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).unwrap();
            job()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// ADDs `pod` to the network of `node` by running the plugin in the node's namespace.
fn attach(node: &Netns, pod: &Netns, subnet: &str, data: &std::path::Path) -> IpAddr {
    let config = format!(
        r#"{{"cniVersion": "1.1.0", "name": "pods", "type": "portcullis-cni", "bridge": "cni0",
            "isGateway": true, "isDefaultGateway": true,
            "ipam": {{"type": "host-local", "subnet": "{subnet}", "dataDir": "{}"}}}}"#,
        data.display()
    );
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &node.0,
            env!("CARGO_BIN_EXE_portcullis-cni"),
        ])
        .env("CNI_COMMAND", "ADD")
        .env("CNI_CONTAINERID", &pod.0)
        .env("CNI_NETNS", pod.path())
        .env("CNI_IFNAME", "eth0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(config.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(output.status.success(), "{result}");
    let address = result["ips"][0]["address"].as_str().unwrap();
    address.split('/').next().unwrap().parse().unwrap()
}

/// Installs this node's routes to the other nodes' pods, from the Node list.
fn route(node: &Netns, name: &'static str, nodes: Vec<NodeInfo>) {
    node.spawn(move || {
        let (desired, problems) = plan_routes(name, &nodes);
        assert!(problems.is_empty(), "{problems:?}");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (connection, handle, _) = rtnetlink::new_connection().unwrap();
            tokio::spawn(connection);
            sync_routes(&handle, &desired).await.unwrap();
        });
    })
    .join()
    .unwrap();
}

#[test]
fn a_pod_reaches_a_pod_on_another_node_and_is_seen_by_its_own_address() {
    let (node_a, node_b) = (Netns::new("a"), Netns::new("b"));
    let (pod_a, pod_b) = (Netns::new("pa"), Netns::new("pb"));
    // The LAN: one veth between the two nodes.
    node_a.ip(&format!(
        "link add lan0 type veth peer name lan0 netns {}",
        node_b.0
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
    route(&node_a, "node-a", nodes.clone());
    route(&node_b, "node-b", nodes);

    let (ready, wait) = std::sync::mpsc::channel();
    let server = pod_b.spawn(move || {
        let listener = TcpListener::bind(("0.0.0.0", 9000)).unwrap();
        ready.send(()).unwrap();
        let (mut stream, peer) = listener.accept().unwrap();
        let mut buffer = [0; 4];
        stream.read_exact(&mut buffer).unwrap();
        stream.write_all(&buffer).unwrap();
        peer.ip()
    });
    wait.recv().unwrap();
    pod_a
        .spawn(move || {
            let mut stream = TcpStream::connect_timeout(
                &std::net::SocketAddr::new(ip_b, 9000),
                std::time::Duration::from_secs(3),
            )
            .unwrap();
            stream.write_all(b"ping").unwrap();
            let mut back = [0; 4];
            stream.read_exact(&mut back).unwrap();
            assert_eq!(&back, b"ping");
        })
        .join()
        .unwrap();
    assert_eq!(
        server.join().unwrap(),
        ip_a,
        "the server sees the client's pod address"
    );

    // A pod reaches the other node itself (pod → node), and that node sees the pod's address.
    let (ready, wait) = std::sync::mpsc::channel();
    let node_server = node_b.spawn(move || {
        let listener = TcpListener::bind(("192.168.90.2", 9001)).unwrap();
        ready.send(()).unwrap();
        listener.accept().unwrap().1.ip()
    });
    wait.recv().unwrap();
    pod_a
        .spawn(|| {
            TcpStream::connect(("192.168.90.2", 9001)).unwrap();
        })
        .join()
        .unwrap();
    assert_eq!(node_server.join().unwrap(), ip_a);
}
