//! NetworkPolicy at scale: 1,000 policies over 5,000 pods, compiled and applied to a real
//! kernel in a throwaway network namespace (needs root), and the cost of one pod added. Two
//! shapes: all 5,000 pods on this node (the worst case for the table's size), and 110 of them
//! here (a full node of a large cluster). Prints a Markdown table; targets: compile + apply
//! under 1 s, one pod added enforced in under 10 ms.
//!
//! Then new TCP connections per second between two pods on the node's bridge (the forward
//! hook sees bridged traffic), with the 1,000-policy table loaded vs no table (target: at
//! least 0.9x).
//!
//! Run: `cargo bench -p portcullis-benches --bench policy_scale`

#![allow(clippy::unwrap_used, missing_docs)] // A bench: a panic is the report.

use portcullis_testkit::netns;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use netns::Netns;
use portcullis_policy::carry::carry_ids;
use portcullis_policy::compile::{Compiler, PolicyInput, compile};
use portcullis_policy::model::{NamedPort, Namespace, Pod, Protocol};
use portcullis_policy::nft::program::replace_table;
use portcullis_policy::nft::socket::commit;
use portcullis_policy::nft::update::AppliedTable;
use portcullis_policy::parse::parse_policy;
use portcullis_policy::policy::Policy;
use serde_json::json;

const NAMESPACES: usize = 50;

/// `cargo test --all-targets` runs benches too, without `--bench`: then one short round of
/// each part checks the bench still works, instead of measuring.
fn smoke() -> bool {
    !std::env::args().any(|arg| arg == "--bench")
}

/// 5,000 pods (500 in a smoke run).
fn pod_count() -> usize {
    if smoke() { 500 } else { 5_000 }
}

/// 1,000 policies (100 in a smoke run).
fn policy_count() -> usize {
    if smoke() { 100 } else { 1_000 }
}

fn rounds() -> usize {
    if smoke() { 1 } else { 5 }
}

fn seconds() -> u64 {
    if smoke() { 1 } else { 2 }
}
const APPS: usize = 20;

fn pods(local: usize) -> Vec<Pod> {
    (0..pod_count())
        .map(|i| {
            let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 64, 0, 2)) + i as u32);
            Pod {
                namespace: format!("ns{}", i % NAMESPACES),
                name: format!("pod{i}"),
                labels: [
                    ("app".to_string(), format!("app{}", i % APPS)),
                    ("tier".to_string(), format!("t{}", i % 3)),
                ]
                .into(),
                node: if i < local { "n1".into() } else { "n2".into() },
                host_network: false,
                ips: vec![IpAddr::V4(ip)],
                ports: vec![NamedPort {
                    name: "http".into(),
                    protocol: Protocol::Tcp,
                    port: 8000 + (i % 7) as u16,
                }],
            }
        })
        .collect()
}

fn namespaces() -> Vec<Namespace> {
    (0..NAMESPACES)
        .map(|i| Namespace {
            name: format!("ns{i}"),
            labels: [("team".to_string(), format!("team{}", i % 5))].into(),
        })
        .collect()
}

/// A mix: same-namespace app peers on a port, cross-namespace team peers on a named port,
/// ipBlocks with an exception, and egress to a port range.
fn policies() -> Vec<Policy> {
    (0..policy_count())
        .map(|i| {
            let spec = match i % 4 {
                0 => json!({"podSelector": {"matchLabels": {"app": format!("app{}", i % APPS)}},
                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": format!("app{}", (i + 1) % APPS)}}}],
                                 "ports": [{"port": 8080}]}]}),
                1 => json!({"podSelector": {"matchLabels": {"tier": format!("t{}", i % 3)}},
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": format!("team{}", i % 5)}},
                                           "podSelector": {"matchLabels": {"app": format!("app{}", (i + 3) % APPS)}}}],
                                 "ports": [{"port": "http"}]}]}),
                2 => json!({"podSelector": {"matchLabels": {"app": format!("app{}", i % APPS)}},
                    "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/16", "except": [format!("192.168.{}.0/24", i % 256)]}}]}]}),
                _ => json!({"podSelector": {"matchLabels": {"app": format!("app{}", i % APPS)}},
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"tier": "t0"}}}],
                                "ports": [{"protocol": "UDP", "port": 5000, "endPort": 5100}]}]}),
            };
            let object = json!({"metadata": {"namespace": format!("ns{}", i % NAMESPACES), "name": format!("p{i}")}, "spec": spec});
            parse_policy(&object).unwrap()
        })
        .collect()
}

/// Two pods on a bridge in `node`: 10.64.0.2 (client) and 10.64.0.3 (server), both among
/// the synthetic pods, so the ruleset selects them.
fn two_pods(node: &Netns) -> (Netns, Netns) {
    node.ip("link set lo up");
    node.ip("link add br0 type bridge");
    node.ip("addr add 10.64.0.1/18 dev br0");
    node.ip("link set br0 up");
    let pods = (Netns::new(), Netns::new());
    for (pod, ip, veth) in [(&pods.0, "10.64.0.2", "vc"), (&pods.1, "10.64.0.3", "vs")] {
        node.ip(&format!(
            "link add {veth} type veth peer name eth0 netns {}",
            pod.name()
        ));
        node.ip(&format!("link set {veth} master br0 up"));
        pod.ip("link set lo up");
        pod.ip(&format!("addr add {ip}/18 dev eth0"));
        pod.ip("link set eth0 up");
    }
    (pods.0, pods.1)
}

/// New connections per second from `client` to the server for `seconds`.
fn connections_per_second(client: &Netns, seconds: u64) -> f64 {
    client.run(|| {
        let target: std::net::SocketAddr = "10.64.0.3:8080".parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut done = 0u64;
        let started = Instant::now();
        while Instant::now() < deadline {
            let mut stream = std::net::TcpStream::connect(target).unwrap();
            stream.set_nodelay(true).unwrap();
            std::io::Write::write_all(&mut stream, b"x").unwrap();
            let mut byte = [0; 1];
            std::io::Read::read_exact(&mut stream, &mut byte).unwrap();
            // Close with a reset: no TIME_WAIT, so ports never come back to a socket (or a
            // conntrack entry) still waiting, which would slow later runs down.
            let linger = nix::libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            nix::sys::socket::setsockopt(&stream, nix::sys::socket::sockopt::Linger, &linger)
                .unwrap();
            done += 1;
        }
        done as f64 / started.elapsed().as_secs_f64()
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let ns = Netns::new();
    let namespaces = namespaces();
    let policies = policies();
    println!(
        "| shape | selected pods | elements | compile ms | encode ms | apply ms | total ms | one pod added ms (compile + carry/encode + apply) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for local in [pod_count(), 110] {
        let all = pods(local);
        let cidr = ["10.64.0.0/18".parse().unwrap()];
        let (mut compile_ms, mut encode_ms, mut apply_ms, mut added_ms) =
            (vec![], vec![], vec![], vec![]);
        let mut added_split = Vec::new();
        let mut added_bytes = 0;
        let mut selected = 0;
        let mut bytes = 0;
        for round in 0..rounds() {
            let namespace_refs: Vec<&Namespace> = namespaces.iter().collect();
            let pod_refs: Vec<&Pod> = all.iter().collect();
            let input = PolicyInput {
                node: "n1",
                pod_cidrs: &cidr,
                namespaces: &namespace_refs,
                pods: &pod_refs,
                policies: &policies,
            };
            let started = Instant::now();
            let ruleset = compile(&input);
            let compiled = started.elapsed();
            let encoded = replace_table(&ruleset).encode().unwrap();
            let encoded_at = started.elapsed();
            ns.run(|| commit(&encoded)).unwrap();
            let applied = started.elapsed();
            selected = ruleset.pods.len();
            bytes = encoded.batch.len();
            compile_ms.push(ms(compiled));
            encode_ms.push(ms(encoded_at - compiled));
            apply_ms.push(ms(applied - encoded_at));
            // One pod added on this node, the way the agent does it: the long-lived compiler
            // reuses what the pod does not touch, ids carry over, and the table changes in
            // place. Then the pod goes again, the same way; ten times a round.
            let mut compiler = Compiler::default();
            let mut applied = AppliedTable::new(compiler.compile(&input));
            let mut extra = all[0].clone();
            extra.name = format!("extra{round}");
            extra.node = "n1".into();
            extra.ips = vec!["10.64.63.200".parse().unwrap()];
            for add in [true, false].repeat(10) {
                let mut pod_refs: Vec<&Pod> = all.iter().collect();
                if add {
                    pod_refs.push(&extra);
                }
                let started = Instant::now();
                let next = compiler.compile(&PolicyInput {
                    pods: &pod_refs,
                    ..input
                });
                let compiled = started.elapsed();
                let next = carry_ids(&applied.ruleset, next);
                let (transaction, next) = applied.update(next);
                let batch = transaction.unwrap().encode().unwrap();
                let encoded_at = started.elapsed();
                ns.run(|| commit(&batch)).unwrap();
                let total = started.elapsed();
                if add {
                    added_ms.push(ms(total));
                    added_split.push((
                        ms(compiled),
                        ms(encoded_at - compiled),
                        ms(total - encoded_at),
                    ));
                    added_bytes = batch.batch.len();
                }
                applied = next;
            }
        }
        let (c, e, a) = (median(compile_ms), median(encode_ms), median(apply_ms));
        let added = median(added_ms);
        let split = added_split[added_split.len() / 2];
        println!(
            "| {local} of {} pods on this node | {selected} | {} KB batch | {c:.0} | {e:.0} | {a:.0} | {:.0} | {added:.1} ({:.1} + {:.1} + {:.1}, {} B batch) |",
            pod_count(),
            bytes / 1024,
            c + e + a,
            split.0,
            split.1,
            split.2,
            added_bytes
        );
    }
    drop(ns);

    // Connections through the forward hook, table vs none, alternating, 5 runs each.
    let node = Netns::new();
    let (client, server) = two_pods(&node);
    let listener = server.run(|| std::net::TcpListener::bind("0.0.0.0:8080").unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_nodelay(true);
            let mut byte = [0; 1];
            if std::io::Read::read_exact(&mut stream, &mut byte).is_ok() {
                let _ = std::io::Write::write_all(&mut stream, &byte);
                // Let the client close first (it resets).
                let _ = std::io::Read::read(&mut stream, &mut byte);
            }
        }
    });
    // Allow the client to reach the server on 8080 whatever the synthetic policies say: an
    // allow-all policy for both (additive), so the connections pass through the full chains.
    // Pod 0 (10.64.0.2) is in ns0, pod 1 (10.64.0.3) in ns1.
    let mut with_open = policies.clone();
    for namespace in ["ns0", "ns1"] {
        let open = json!({"metadata": {"namespace": namespace, "name": "open"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}], "egress": [{}]}});
        with_open.push(parse_policy(&open).unwrap());
    }
    let all = pods(pod_count());
    let namespace_refs: Vec<&Namespace> = namespaces.iter().collect();
    let pod_refs: Vec<&Pod> = all.iter().collect();
    let ruleset = compile(&PolicyInput {
        node: "n1",
        pod_cidrs: &["10.64.0.0/18".parse().unwrap()],
        namespaces: &namespace_refs,
        pods: &pod_refs,
        policies: &with_open,
    });
    let table = replace_table(&ruleset).encode().unwrap();
    // The same table without policies: conntrack and the guard, as on any node with the agent
    // (and as on any Kubernetes node, where kube-proxy loads conntrack anyway).
    let empty = compile(&PolicyInput {
        node: "n1",
        pod_cidrs: &["10.64.0.0/18".parse().unwrap()],
        namespaces: &namespace_refs,
        pods: &pod_refs,
        policies: &[],
    });
    let empty = replace_table(&empty).encode().unwrap();
    let no_table = portcullis_policy::nft::program::delete_table()
        .encode()
        .unwrap();
    let (mut with, mut without, mut baseline) = (vec![], vec![], vec![]);
    for _ in 0..rounds() {
        node.run(|| commit(&no_table)).unwrap();
        without.push(connections_per_second(&client, seconds()));
        node.run(|| commit(&empty)).unwrap();
        baseline.push(connections_per_second(&client, seconds()));
        node.run(|| commit(&table)).unwrap();
        with.push(connections_per_second(&client, seconds()));
    }
    let (with, without, baseline) = (median(with), median(without), median(baseline));
    println!();
    println!(
        "| new TCP connections/s between two pods (median of {} x {} s) | no table | table, no policies | {} policies, {} selected pods | vs no table | vs no policies |",
        rounds(),
        seconds(),
        with_open.len(),
        ruleset.pods.len()
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| client → server through the bridge | {without:.0} | {baseline:.0} | {with:.0} | {:.2}x | {:.2}x |",
        with / without,
        with / baseline
    );
}
