//! NetworkPolicy at scale: 1,000 policies over 5,000 pods, compiled and applied to a real
//! kernel in a throwaway network namespace (needs root), and the cost of one pod added. Two
//! shapes: all 5,000 pods on this node (the worst case for the table's size), and 110 of them
//! here (a full node of a large cluster). Prints a Markdown table; targets: compile + apply
//! under 1 s, one pod added enforced in under 10 ms.
//!
//! Run: `cargo bench -p portcullis-benches --bench policy_scale`

#![allow(clippy::unwrap_used, missing_docs)] // A bench: a panic is the report.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use portcullis_policy::compile::{PolicyInput, compile};
use portcullis_policy::model::{NamedPort, Namespace, Pod, Protocol};
use portcullis_policy::nft::program::replace_table;
use portcullis_policy::nft::socket::commit;
use portcullis_policy::parse::parse_policy;
use portcullis_policy::policy::Policy;
use serde_json::json;

const NAMESPACES: usize = 50;
const PODS: usize = 5_000;
const POLICIES: usize = 1_000;
const APPS: usize = 20;

fn pods(local: usize) -> Vec<Pod> {
    (0..PODS)
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
    (0..POLICIES)
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

struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("pcbench{}", std::process::id());
        assert!(
            Command::new("ip")
                .args(["netns", "add", &name])
                .status()
                .unwrap()
                .success()
        );
        Netns(name)
    }

    fn run<T: Send>(&self, job: impl FnOnce() -> T + Send) -> T {
        let file = std::fs::File::open(format!("/var/run/netns/{}", self.0)).unwrap();
        std::thread::scope(|s| {
            s.spawn(move || {
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                job()
            })
            .join()
            .unwrap()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
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
        "| shape | selected pods | elements | compile ms | encode ms | apply ms | total ms | one pod added ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for local in [PODS, 110] {
        let mut all = pods(local);
        let cidr = ["10.64.0.0/18".parse().unwrap()];
        let (mut compile_ms, mut encode_ms, mut apply_ms, mut added_ms) =
            (vec![], vec![], vec![], vec![]);
        let mut selected = 0;
        let mut bytes = 0;
        for round in 0..5 {
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
            let encoded = replace_table(&ruleset).encode();
            let encoded_at = started.elapsed();
            ns.run(|| commit(&encoded)).unwrap();
            let applied = started.elapsed();
            selected = ruleset.pods.len();
            bytes = encoded.batch.len();
            compile_ms.push(ms(compiled));
            encode_ms.push(ms(encoded_at - compiled));
            apply_ms.push(ms(applied - encoded_at));
            // One pod added on this node: everything again (the table is replaced whole).
            let mut extra = all[0].clone();
            extra.name = format!("extra{round}");
            extra.node = "n1".into();
            extra.ips = vec!["10.64.63.200".parse().unwrap()];
            all.push(extra);
            let pod_refs: Vec<&Pod> = all.iter().collect();
            let started = Instant::now();
            let namespace_refs: Vec<&Namespace> = namespaces.iter().collect();
            let ruleset = compile(&PolicyInput {
                node: "n1",
                pod_cidrs: &cidr,
                namespaces: &namespace_refs,
                pods: &pod_refs,
                policies: &policies,
            });
            let encoded = replace_table(&ruleset).encode();
            ns.run(|| commit(&encoded)).unwrap();
            added_ms.push(ms(started.elapsed()));
            all.pop();
        }
        let (c, e, a) = (median(compile_ms), median(encode_ms), median(apply_ms));
        println!(
            "| {local} of {PODS} pods on this node | {selected} | {} KB batch | {c:.0} | {e:.0} | {a:.0} | {:.0} | {:.0} |",
            bytes / 1024,
            c + e + a,
            median(added_ms)
        );
    }
}
