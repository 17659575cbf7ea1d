//! NetworkPolicy enforced by the real `portcullis node` binary on a node namespace whose pods
//! were attached by the real plugin: pods in two Kubernetes namespaces run TCP and UDP servers
//! on two ports, and every pod pair and port is probed and compared with a truth table written
//! by hand from the NetworkPolicy spec, through the scenarios of the upstream network policy
//! e2e suite. Needs root (CI runs as root).

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use portcullis_testkit::chart::node_agent_account;
use portcullis_testkit::control_plane::ControlPlane;
use portcullis_testkit::netns::Netns;
use portcullis_testkit::node_agent_process::{
    NodeAgent, attach, eventually, known, node_yaml, write,
};

const PROBE_TIMEOUT: Duration = Duration::from_millis(300);
const PORTS: [u16; 2] = [80, 81];

/// A pod: its namespace, name, labels and named port `web`.
struct TestPod {
    namespace: &'static str,
    name: &'static str,
    labels: Vec<(&'static str, &'static str)>,
    web_port: u16,
    netns: Netns,
    ip: IpAddr,
}

impl TestPod {
    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn yaml(&self) -> String {
        self.yaml_with(&self.labels)
    }

    /// The Pod as the kubelet reports it, with these labels.
    fn yaml_with(&self, labels: &[(&str, &str)]) -> String {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {}, namespace: {}, labels: {{{}}}}}\n\
             spec: {{nodeName: n1, containers: [{{name: c, image: x, ports: [{{name: web, containerPort: {}}}]}}]}}\n\
             status: {{podIP: \"{ip}\", podIPs: [{{ip: \"{ip}\"}}]}}\n",
            self.name,
            self.namespace,
            labels.join(", "),
            self.web_port,
            ip = self.ip
        )
    }

    /// TCP and UDP servers on both ports, answering every connection and datagram.
    fn serve(&self) {
        for port in PORTS {
            let tcp = self
                .netns
                .run(|| TcpListener::bind(("0.0.0.0", port)).unwrap());
            std::thread::spawn(move || {
                for mut stream in tcp.incoming().flatten() {
                    let mut byte = [0; 1];
                    if stream.read_exact(&mut byte).is_ok() {
                        let _ = stream.write_all(&byte);
                    }
                }
            });
            let udp = self
                .netns
                .run(|| UdpSocket::bind(("0.0.0.0", port)).unwrap());
            std::thread::spawn(move || {
                let mut buffer = [0; 16];
                while let Ok((n, peer)) = udp.recv_from(&mut buffer) {
                    let _ = udp.send_to(&buffer[..n], peer);
                }
            });
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Proto {
    Tcp,
    Udp,
}

/// One probe from a pod's namespace: does a connection (or an answered datagram) get through?
fn probe(from: &Netns, to: IpAddr, proto: Proto, port: u16) -> bool {
    from.run(|| {
        let target = SocketAddr::new(to, port);
        match proto {
            Proto::Tcp => TcpStream::connect_timeout(&target, PROBE_TIMEOUT)
                .and_then(|mut s| {
                    s.set_read_timeout(Some(PROBE_TIMEOUT))?;
                    s.write_all(b"x")?;
                    let mut back = [0; 1];
                    s.read_exact(&mut back)
                })
                .is_ok(),
            Proto::Udp => {
                let socket = UdpSocket::bind(("0.0.0.0", 0)).unwrap();
                socket.set_read_timeout(Some(PROBE_TIMEOUT)).unwrap();
                let mut back = [0; 1];
                socket.send_to(b"x", target).is_ok() && socket.recv_from(&mut back).is_ok()
            }
        }
    })
}

/// The node, its agent, the manifests folder and the pods.
struct Cluster {
    node: Netns,
    agent: NodeAgent,
    manifests: tempfile::TempDir,
    pods: Vec<TestPod>,
    /// The node's IPAM records: every pod of the node takes its address from here.
    data: tempfile::TempDir,
}

type Row = (String, String, Proto, u16);

impl Cluster {
    fn new() -> Cluster {
        let node = Netns::new();
        node.ip("link set lo up");
        let manifests = tempfile::tempdir().unwrap();
        write(
            manifests.path(),
            "node.yaml",
            &node_yaml("n1", "10.95.0.0/24", "192.168.95.1"),
        );
        write(
            manifests.path(),
            "namespaces.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {team: x}}\n---\n\
             apiVersion: v1\nkind: Namespace\nmetadata: {name: y, labels: {team: y}}\n",
        );
        let source = ["--manifests".as_ref(), manifests.path().as_os_str()];
        let agent = NodeAgent::start_with(&node, "n1", source, &["--masquerade-outside=false"]);
        eventually("the conflist", || agent.conflist().is_some());
        let data = tempfile::tempdir().unwrap();
        let specs = [
            ("x", "a", vec![("app", "a")], 80),
            ("x", "b", vec![("app", "b")], 81),
            ("y", "a", vec![("app", "a")], 80),
            ("y", "c", vec![("app", "c")], 81),
        ];
        let pods: Vec<TestPod> = specs
            .into_iter()
            .map(|(namespace, name, labels, web_port)| {
                let netns = Netns::new();
                netns.ip("link set lo up");
                let ip = attach(&node, &agent, &netns, data.path());
                TestPod {
                    namespace,
                    name,
                    labels,
                    web_port,
                    netns,
                    ip,
                }
            })
            .collect();
        let cluster = Cluster {
            node,
            agent,
            manifests,
            pods,
            data,
        };
        cluster.report_pods();
        for pod in &cluster.pods {
            pod.serve();
            eventually("the agent knows the pod", || {
                known(&cluster.node).contains(&pod.ip.to_string())
            });
        }
        cluster
    }

    /// Writes every pod as the kubelet reports it (labels may have changed).
    fn report_pods(&self) {
        let all: Vec<String> = self.pods.iter().map(TestPod::yaml).collect();
        write(self.manifests.path(), "pods.yaml", &all.join("---\n"));
    }

    fn policies(&self, yaml: &str) {
        write(self.manifests.path(), "policies.yaml", yaml);
    }

    /// Probes every ordered pair of pods on both protocols and ports, in parallel.
    fn probe_all(&self) -> Vec<(Row, bool)> {
        let mut rows = Vec::new();
        for from in &self.pods {
            for to in &self.pods {
                if from.key() == to.key() {
                    continue;
                }
                for proto in [Proto::Tcp, Proto::Udp] {
                    for port in PORTS {
                        rows.push((from, to, proto, port));
                    }
                }
            }
        }
        std::thread::scope(|s| {
            let running: Vec<_> = rows
                .iter()
                .map(|(from, to, proto, port)| {
                    s.spawn(move || {
                        let row = (from.key(), to.key(), *proto, *port);
                        (row, probe(&from.netns, to.ip, *proto, *port))
                    })
                })
                .collect();
            running.into_iter().map(|r| r.join().unwrap()).collect()
        })
    }

    /// Waits (up to 10 s) until every probe matches `expected`; fails with the differences.
    fn expect(&self, scenario: &str, expected: impl Fn(&str, &str, Proto, u16) -> bool) {
        until_agreed(scenario, Duration::from_secs(10), &self.agent, || {
            self.probe_all()
                .into_iter()
                .filter(|((from, to, proto, port), got)| expected(from, to, *proto, *port) != *got)
                .map(|((from, to, proto, port), got)| {
                    let verdict = if got { "passed" } else { "was blocked" };
                    format!("{from} -> {to} {proto:?}/{port} {verdict}")
                })
                .collect()
        });
    }

    fn pod_mut(&mut self, key: &str) -> &mut TestPod {
        self.pods.iter_mut().find(|p| p.key() == key).unwrap()
    }
}

/// Probes again (every 200 ms, up to `within`) until `disagreements` finds none; fails with
/// the last ones and the agent's log.
fn until_agreed(
    what: &str,
    within: Duration,
    agent: &NodeAgent,
    disagreements: impl Fn() -> Vec<String>,
) {
    let deadline = Instant::now() + within;
    loop {
        let wrong = disagreements();
        if wrong.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {} probes disagree with the truth table:\n{}\nagent log:\n{}",
            wrong.len(),
            wrong.join("\n"),
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn namespace_of(key: &str) -> &str {
    key.split('/').next().unwrap()
}

#[test]
fn probes_of_every_pod_pair_match_the_truth_table_through_the_upstream_scenarios() {
    let mut cluster = Cluster::new();
    let everything = |_: &str, _: &str, _: Proto, _: u16| true;
    cluster.expect("no policy", everything);

    cluster.policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: x}\n\
         spec: {podSelector: {}, policyTypes: [Ingress]}\n",
    );
    cluster.expect("deny all ingress in x", |_, to, _, _| {
        namespace_of(to) != "x"
    });
    // The node itself (kubelet probes) still reaches the isolated pods: its packets go through
    // the output and input hooks, never the forward chain the policies live in.
    for pod in cluster.pods.iter().filter(|p| p.namespace == "x") {
        for proto in [Proto::Tcp, Proto::Udp] {
            assert!(
                probe(&cluster.node, pod.ip, proto, 80),
                "node → {} {proto:?} 80 refused under deny-all ingress",
                pod.key()
            );
        }
    }

    cluster.policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-out, namespace: y}\n\
         spec: {podSelector: {}, policyTypes: [Egress]}\n",
    );
    // y sends nothing; what others send to y still arrives (and its answers go back).
    cluster.expect("deny all egress in y", |from, _, _, _| {
        namespace_of(from) != "y"
    });

    cluster.policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: x}\n\
         spec: {podSelector: {}, policyTypes: [Ingress]}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-y, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {app: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]\n    ports: [{port: 80}]\n",
    );
    cluster.expect(
        "additive: namespace y may reach x/a on TCP 80",
        |from, to, proto, port| {
            namespace_of(to) != "x"
                || (to == "x/a" && namespace_of(from) == "y" && proto == Proto::Tcp && port == 80)
        },
    );

    cluster.policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: and, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {app: b}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: y}}, podSelector: {matchLabels: {app: a}}}]\n",
    );
    cluster.expect("one peer, both selectors: AND", |from, to, _, _| {
        to != "x/b" || from == "y/a"
    });

    cluster.policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: or, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {app: b}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: y}}}, {podSelector: {matchLabels: {app: a}}}]\n",
    );
    cluster.expect("two peers: OR", |from, to, _, _| {
        to != "x/b" || namespace_of(from) == "y" || from == "x/a"
    });

    cluster.policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: named, namespace: y}\n\
         spec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - ports: [{port: web}]\n  egress:\n  - ports: [{port: web}]\n",
    );
    // y's pods: reachable only on their own web port (y/a 80, y/c 81), TCP; they reach others
    // only on the destination's web port (x/a 80, x/b 81, y/a 80, y/c 81).
    let web = |pod: &str| if pod == "x/a" || pod == "y/a" { 80 } else { 81 };
    cluster.expect("named ports in both directions", |from, to, proto, port| {
        let ingress_ok = namespace_of(to) != "y" || (proto == Proto::Tcp && port == web(to));
        let egress_ok = namespace_of(from) != "y" || (proto == Proto::Tcp && port == web(to));
        ingress_ok && egress_ok
    });

    cluster.policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: range, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress:\n  - ports: [{protocol: UDP, port: 80, endPort: 81}, {protocol: TCP, port: 81, endPort: 90}]\n",
    );
    cluster.expect("port ranges and protocols", |_, to, proto, port| {
        namespace_of(to) != "x" || proto == Proto::Udp || port == 81
    });

    cluster.policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: proto, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress:\n  - ports: [{protocol: UDP}]\n",
    );
    cluster.expect("protocol only", |_, to, proto, _| {
        namespace_of(to) != "x" || proto == Proto::Udp
    });

    let y_c = cluster.pods.iter().find(|p| p.key() == "y/c").unwrap().ip;
    cluster.policies(&format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: block, namespace: x}}\n\
         spec:\n  podSelector: {{matchLabels: {{app: a}}}}\n  ingress:\n  - from: [{{ipBlock: {{cidr: 10.95.0.0/24, except: [\"{y_c}/32\"]}}}}]\n"
    ));
    cluster.expect("ipBlock with except, on pod addresses", |from, to, _, _| {
        to != "x/a" || from != "y/c"
    });

    cluster.policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: out, namespace: y}\n\
         spec:\n  podSelector: {matchLabels: {app: c}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{namespaceSelector: {matchLabels: {team: x}}}]\n    ports: [{port: 80}]\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: in, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {app: a}}\n  ingress:\n  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}]\n",
    );
    // y/c may send only to x on TCP 80; x/a only accepts app=a. y/c -> x/a needs both: no.
    cluster.expect(
        "egress and ingress both have to allow",
        |from, to, proto, port| {
            let egress_ok =
                from != "y/c" || (namespace_of(to) == "x" && proto == Proto::Tcp && port == 80);
            let ingress_ok = to != "x/a" || from == "y/a";
            egress_ok && ingress_ok
        },
    );

    // Label updates: y/c becomes app=a, so x/a now accepts it (and its egress still applies
    // through the policy selecting app=c? no longer: it is not app=c any more).
    cluster.pod_mut("y/c").labels = vec![("app", "a")];
    cluster.report_pods();
    cluster.expect("pod label update", |from, to, _, _| {
        to != "x/a" || from == "y/a" || from == "y/c"
    });
    cluster.pod_mut("y/c").labels = vec![("app", "c")];
    cluster.report_pods();

    // Namespace label update: the policy selects namespaces labelled team=friend.
    cluster.policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: friends, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: friend}}}]\n",
    );
    cluster.expect("namespace not yet labelled", |_, to, _, _| {
        namespace_of(to) != "x"
    });
    write(
        cluster.manifests.path(),
        "namespaces.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {team: x}}\n---\n\
         apiVersion: v1\nkind: Namespace\nmetadata: {name: y, labels: {team: friend}}\n",
    );
    cluster.expect("namespace label update", |from, to, _, _| {
        namespace_of(to) != "x" || namespace_of(from) == "y"
    });

    // A malformed edit keeps the last good version in force, and says so.
    cluster.policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: friends, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 90, endPort: 80}]\n",
    );
    eventually("the bad policy reported", || {
        cluster.agent.log().contains(
            "NetworkPolicy x/friends: spec.ingress[0].ports[0].endPort: 80 is below port 90",
        )
    });
    cluster.expect("last good version kept", |from, to, _, _| {
        namespace_of(to) != "x" || namespace_of(from) == "y"
    });

    // Policy deletion: everything open again.
    cluster.policies("");
    cluster.expect("policies deleted", everything);

    // The changes above went in as in-place updates of the table, not rewrites: the truth
    // tables checked that path.
    let log = cluster.agent.log();
    assert!(
        log.matches("in place").count() >= 5,
        "few in-place updates:\n{log}"
    );
}

#[test]
fn a_new_pod_talks_only_once_the_agent_knows_it() {
    let cluster = Cluster::new();
    // A pod the runtime just attached; its Pod object does not report the address yet.
    let fresh = Netns::new();
    fresh.ip("link set lo up");
    let ip = attach(&cluster.node, &cluster.agent, &fresh, cluster.data.path());
    let x_a = cluster.pods[0].ip;
    for _ in 0..3 {
        assert!(
            !probe(&fresh, x_a, Proto::Tcp, 80),
            "an unknown pod's packet passed"
        );
        assert!(!probe(&cluster.pods[0].netns, ip, Proto::Tcp, 80));
    }
    // Reported (no policy selects it): now it talks.
    let mut all: Vec<String> = cluster.pods.iter().map(TestPod::yaml).collect();
    all.push(format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: fresh, namespace: x}}\n\
         spec: {{nodeName: n1, containers: [{{name: c, image: x}}]}}\n\
         status: {{podIP: \"{ip}\"}}\n"
    ));
    write(cluster.manifests.path(), "pods.yaml", &all.join("---\n"));
    eventually("the fresh pod reaches x/a", || {
        probe(&fresh, x_a, Proto::Tcp, 80)
    });
}

#[test]
fn while_policies_and_labels_churn_no_probe_sees_what_neither_state_allows() {
    let cluster = Cluster::new();
    let base = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-y-a, namespace: x}\n\
                spec:\n  podSelector: {}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}, podSelector: {matchLabels: {app: a}}}]\n";
    let extra = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: c-to-a, namespace: x}\n\
                 spec:\n  podSelector: {matchLabels: {app: a}}\n  ingress:\n  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: c}}}]\n";
    cluster.policies(base);
    // Both states allow y/a into x; both deny y/c into x/b. Only y/c -> x/a flips.
    cluster.expect("the base state", |from, to, _, _| {
        namespace_of(to) != "x" || from == "y/a"
    });
    let stop = std::sync::atomic::AtomicBool::new(false);
    let pod = |key: &str| cluster.pods.iter().find(|p| p.key() == key).unwrap();
    let (y_a, y_c, x_a, x_b) = (pod("y/a"), pod("y/c"), pod("x/a").ip, pod("x/b").ip);
    let (probes, violations) = std::thread::scope(|s| {
        let prober = s.spawn(|| {
            let (mut probes, mut violations) = (0, Vec::new());
            let mut flipped = [0, 0];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // The pair that flips with the extra policy: both outcomes must be seen.
                flipped[usize::from(probe(&y_c.netns, x_a, Proto::Tcp, 80))] += 1;
                for (from, to, allowed, what) in [
                    (&y_a.netns, x_a, true, "y/a -> x/a"),
                    (&y_a.netns, x_b, true, "y/a -> x/b"),
                    (&y_c.netns, x_b, false, "y/c -> x/b"),
                ] {
                    probes += 1;
                    if probe(from, to, Proto::Tcp, 80) != allowed {
                        violations.push(what);
                    }
                }
            }
            assert!(
                flipped[0] > 0 && flipped[1] > 0,
                "the state never flipped during the churn: {flipped:?} (blocked, passed)"
            );
            (probes, violations)
        });
        // Churn: the extra policy comes and goes, and y/c's labels change back and forth
        // (app stays c; an unrelated label moves), every 100 ms for 5 s.
        let started = Instant::now();
        let mut round = 0;
        while started.elapsed() < Duration::from_secs(5) {
            round += 1;
            if round % 2 == 0 {
                cluster.policies(&format!("{base}{extra}"));
            } else {
                cluster.policies(base);
            }
            let labels: &[(&str, &str)] = if round % 3 == 0 {
                &[("app", "c"), ("version", "2")]
            } else {
                &[("app", "c")]
            };
            let all: Vec<String> = cluster
                .pods
                .iter()
                .map(|p| {
                    if p.key() == "y/c" {
                        p.yaml_with(labels)
                    } else {
                        p.yaml()
                    }
                })
                .collect();
            write(cluster.manifests.path(), "pods.yaml", &all.join("---\n"));
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        prober.join().unwrap()
    });
    assert!(probes >= 12, "too few probes ran: {probes}");
    assert!(
        violations.is_empty(),
        "{} of {probes} probes broke an invariant: {violations:?}",
        violations.len()
    );
}

/// The same enforcement fed by a real control plane: the Node, Namespaces, Pods and
/// NetworkPolicies come through the API server (which validates them), Pod addresses as the
/// kubelet reports them (status patches), and a Namespace's labels changed through the API
/// move what its pods may reach.
#[test]
fn network_policies_from_the_kubernetes_api_are_enforced() {
    let node = Netns::new();
    node.ip("link set lo up");
    let plane = ControlPlane::start();
    // As the chart's node ServiceAccount, with exactly the roles it renders.
    plane.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: portcullis-system}\n");
    let dir = tempfile::tempdir().unwrap();
    let account = node_agent_account(&plane, "nodes", "portcullis-system", dir.path());
    let kubeconfig = plane.forward_inside(&node, &account);
    plane.apply("apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n");
    plane.kubectl_ok(&[
        "patch",
        "node",
        "n1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status": {"addresses": [{"type": "InternalIP", "address": "192.168.95.1"}]}}"#,
    ]);
    plane.apply(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {team: \"x\"}}\n---\n\
         apiVersion: v1\nkind: Namespace\nmetadata: {name: \"y\", labels: {team: \"y\"}}\n",
    );
    let agent = NodeAgent::start_with(
        &node,
        "n1",
        ["--kubeconfig".as_ref(), kubeconfig.as_os_str()],
        &["--masquerade-outside=false"],
    );
    // The conflist needs the pod CIDR the node IPAM controller hands out.
    eventually("the conflist", || agent.conflist().is_some());
    let data = tempfile::tempdir().unwrap();
    let specs = [("x", "a", 80), ("x", "b", 81), ("y", "c", 81)];
    let pods: Vec<TestPod> = specs
        .into_iter()
        .map(|(namespace, name, web_port)| {
            let netns = Netns::new();
            netns.ip("link set lo up");
            let ip = attach(&node, &agent, &netns, data.path());
            TestPod {
                namespace,
                name,
                labels: vec![("app", name)],
                web_port,
                netns,
                ip,
            }
        })
        .collect();
    for pod in &pods {
        plane.apply(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: \"{}\", namespace: \"{}\", labels: {{app: \"{}\"}}}}\n\
             spec: {{nodeName: n1, containers: [{{name: c, image: registry.invalid/x, ports: [{{name: web, containerPort: {}}}]}}]}}\n",
            pod.name, pod.namespace, pod.name, pod.web_port
        ));
        let status = format!(
            r#"{{"status": {{"podIP": "{ip}", "podIPs": [{{"ip": "{ip}"}}]}}}}"#,
            ip = pod.ip
        );
        plane.kubectl_ok(&[
            "patch",
            "pod",
            pod.name,
            "-n",
            pod.namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ]);
        pod.serve();
        eventually("the agent knows the pod", || {
            known(&node).contains(&pod.ip.to_string())
        });
    }
    let (x_a, x_b, y_c) = (&pods[0], &pods[1], &pods[2]);
    let expect = |what: &str, cases: &[(&TestPod, &TestPod, u16, bool)]| {
        until_agreed(what, Duration::from_secs(15), &agent, || {
            cases
                .iter()
                .filter(|(from, to, port, want)| {
                    probe(&from.netns, to.ip, Proto::Tcp, *port) != *want
                })
                .map(|(from, to, port, want)| {
                    format!("{} -> {}:{port} should pass: {want}", from.key(), to.key())
                })
                .collect()
        });
    };
    expect(
        "no policy",
        &[
            (y_c, x_a, 80, true),
            (x_b, x_a, 80, true),
            (x_a, y_c, 81, true),
        ],
    );

    // The API server validates what a manifests folder would take: a port out of range is
    // refused there, and nothing changes here.
    let bad = plane.kubectl_with_input(
        &["apply", "-f", "-"],
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: x}\n\
         spec: {podSelector: {}, ingress: [{ports: [{port: 70000}]}]}\n",
    );
    assert!(
        !bad.status.success(),
        "an invalid NetworkPolicy was accepted"
    );

    // x takes traffic only from namespaces labelled team: y, on port 80.
    plane.apply(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-y, namespace: x}\n\
         spec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: \"y\"}}}]\n    ports: [{protocol: TCP, port: 80}]\n",
    );
    expect(
        "only team y, only port 80",
        &[
            (y_c, x_a, 80, true),
            (y_c, x_b, 81, false),
            (x_b, x_a, 80, false),
            (x_a, y_c, 81, true),
        ],
    );
    // Namespace y loses its label: its pods lose their way in.
    plane.kubectl_ok(&["label", "namespace", "y", "team=z", "--overwrite"]);
    expect(
        "y relabelled",
        &[(y_c, x_a, 80, false), (x_a, y_c, 81, true)],
    );
    plane.kubectl_ok(&["delete", "networkpolicy", "from-y", "-n", "x"]);
    expect(
        "policy deleted",
        &[(y_c, x_a, 80, true), (x_b, x_a, 80, true)],
    );
}
