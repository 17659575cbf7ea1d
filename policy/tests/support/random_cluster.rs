//! A small cluster changed one random step at a time (pods, labels, policies, namespaces),
//! for tests that check an incremental path against the from-scratch one over many steps.
//! Deterministic: the same seed gives the same steps, so a failure can be replayed.

#![allow(dead_code)] // Each test uses part of it.

use std::net::IpAddr;

use portcullis_policy::compile::{PolicyInput, compile};
use portcullis_policy::model::{NamedPort, Namespace, Pod, Protocol};
use portcullis_policy::parse::parse_policy;
use portcullis_policy::policy::Policy;
use portcullis_policy::ruleset::Ruleset;
use serde_json::{Value, json};

/// xorshift64*: enough randomness for test steps, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const NAMESPACES: [&str; 3] = ["shop", "data", "ops"];
const APPS: [&str; 3] = ["web", "db", "cache"];
const TEAMS: [&str; 2] = ["red", "blue"];

/// The cluster's current objects.
pub struct Cluster {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub policies: Vec<Policy>,
    next_pod: usize,
    next_policy: usize,
}

/// The node the rulesets are compiled for, and its pod CIDRs.
pub const NODE: &str = "n1";
pub const POD_CIDRS: [&str; 2] = ["10.0.0.0/24", "fd00::/112"];

impl Cluster {
    pub fn new() -> Cluster {
        Cluster {
            namespaces: NAMESPACES
                .iter()
                .enumerate()
                .map(|(i, name)| Namespace {
                    name: name.to_string(),
                    labels: [("team".to_string(), TEAMS[i % 2].to_string())].into(),
                })
                .collect(),
            pods: Vec::new(),
            policies: Vec::new(),
            next_pod: 0,
            next_policy: 0,
        }
    }

    /// Applies one random change and says what it was.
    pub fn step(&mut self, rng: &mut Rng) -> String {
        match rng.below(10) {
            0..=2 => self.add_pod(rng),
            3 if !self.pods.is_empty() => {
                let gone = self.pods.remove(rng.below(self.pods.len()));
                format!("pod {} deleted", gone.key())
            }
            4 if !self.pods.is_empty() => {
                let i = rng.below(self.pods.len());
                let app = rng.pick(&APPS).to_string();
                self.pods[i].labels.insert("app".into(), app.clone());
                format!("pod {} relabelled app={app}", self.pods[i].key())
            }
            5 | 6 => {
                let name = format!("p{}", self.next_policy);
                self.next_policy += 1;
                let policy = random_policy(rng, &name);
                self.policies.push(policy);
                format!("policy {name} added")
            }
            7 if !self.policies.is_empty() => {
                let i = rng.below(self.policies.len());
                let name = self.policies[i].name.clone();
                let namespace = self.policies[i].namespace.clone();
                let mut policy = random_policy(rng, &name);
                policy.namespace = namespace;
                self.policies[i] = policy;
                format!("policy {name} edited")
            }
            8 if !self.policies.is_empty() => {
                let gone = self.policies.remove(rng.below(self.policies.len()));
                format!("policy {} deleted", gone.key())
            }
            9 => {
                let i = rng.below(self.namespaces.len());
                let team = rng.pick(&TEAMS).to_string();
                self.namespaces[i]
                    .labels
                    .insert("team".into(), team.clone());
                format!(
                    "namespace {} relabelled team={team}",
                    self.namespaces[i].name
                )
            }
            _ => self.add_pod(rng),
        }
    }

    fn add_pod(&mut self, rng: &mut Rng) -> String {
        let n = self.next_pod;
        self.next_pod += 1;
        // Addresses are reused after a while, as IPAM does.
        let host = 2 + n % 40;
        let mut ips: Vec<IpAddr> = vec![format!("10.0.0.{host}").parse().unwrap()];
        if rng.chance(30) {
            ips.push(format!("fd00::{host:x}").parse().unwrap());
        }
        let here = rng.chance(70);
        if !here {
            ips = vec![format!("10.1.0.{host}").parse().unwrap()];
        }
        // No two pods share an address.
        self.pods
            .retain(|p| !p.ips.iter().any(|ip| ips.contains(ip)));
        let pod = Pod {
            namespace: rng.pick(&NAMESPACES).to_string(),
            name: format!("pod{n}"),
            labels: [("app".to_string(), rng.pick(&APPS).to_string())].into(),
            node: if here { NODE.into() } else { "n2".into() },
            host_network: rng.chance(5),
            ips: if rng.chance(5) { Vec::new() } else { ips },
            ports: vec![NamedPort {
                name: "http".into(),
                protocol: Protocol::Tcp,
                port: *rng.pick(&[8080, 9090]),
            }],
        };
        let said = format!("pod {} added", pod.key());
        self.pods.push(pod);
        said
    }

    /// Calls `f` with this cluster as the compiler's input.
    pub fn with_input<R>(&self, f: impl FnOnce(&PolicyInput<'_>) -> R) -> R {
        let cidrs: Vec<ipnet::IpNet> = POD_CIDRS.iter().map(|c| c.parse().unwrap()).collect();
        let namespaces: Vec<&Namespace> = self.namespaces.iter().collect();
        let pods: Vec<&Pod> = self.pods.iter().collect();
        f(&PolicyInput {
            node: NODE,
            pod_cidrs: &cidrs,
            namespaces: &namespaces,
            pods: &pods,
            policies: &self.policies,
        })
    }

    /// The ruleset compiled from scratch.
    pub fn compile(&self) -> Ruleset {
        self.with_input(compile)
    }
}

fn selector(rng: &mut Rng, key: &str, values: &[&str]) -> Value {
    match rng.below(4) {
        0 => json!({}),
        1 => {
            json!({"matchExpressions": [{"key": key, "operator": "NotIn", "values": [rng.pick(values)]}]})
        }
        _ => json!({"matchLabels": {key: rng.pick(values)}}),
    }
}

fn peers(rng: &mut Rng) -> Value {
    let one = |rng: &mut Rng| match rng.below(5) {
        0 => json!({"podSelector": selector(rng, "app", &APPS)}),
        1 => json!({"namespaceSelector": selector(rng, "team", &TEAMS)}),
        2 => json!({"namespaceSelector": selector(rng, "team", &TEAMS),
                    "podSelector": selector(rng, "app", &APPS)}),
        3 => json!({"ipBlock": {"cidr": "10.0.0.0/24",
                    "except": [format!("10.0.0.{}/30", 4 * rng.below(10))]}}),
        _ => {
            json!({"ipBlock": {"cidr": *rng.pick(&["192.168.0.0/16", "fd00::/112", "0.0.0.0/0"])}})
        }
    };
    let count = 1 + rng.below(2);
    Value::Array((0..count).map(|_| one(rng)).collect())
}

fn ports(rng: &mut Rng) -> Value {
    let one = |rng: &mut Rng| match rng.below(5) {
        0 => json!({"port": *rng.pick(&[80, 81])}),
        1 => json!({"port": 80, "endPort": 90}),
        2 => json!({"port": "http"}),
        3 => json!({"protocol": "UDP", "port": 53}),
        _ => json!({"protocol": "SCTP"}),
    };
    let count = 1 + rng.below(2);
    Value::Array((0..count).map(|_| one(rng)).collect())
}

fn rules(rng: &mut Rng, side: &str) -> Value {
    let count = rng.below(3);
    Value::Array(
        (0..count)
            .map(|_| {
                let mut rule = serde_json::Map::new();
                if rng.chance(80) {
                    rule.insert(side.into(), peers(rng));
                }
                if rng.chance(70) {
                    rule.insert("ports".into(), ports(rng));
                }
                Value::Object(rule)
            })
            .collect(),
    )
}

fn random_policy(rng: &mut Rng, name: &str) -> Policy {
    let types = match rng.below(3) {
        0 => json!(["Ingress"]),
        1 => json!(["Egress"]),
        _ => json!(["Ingress", "Egress"]),
    };
    let spec = json!({
        "podSelector": selector(rng, "app", &APPS),
        "policyTypes": types,
        "ingress": rules(rng, "from"),
        "egress": rules(rng, "to"),
    });
    let object =
        json!({"metadata": {"namespace": *rng.pick(&NAMESPACES), "name": name}, "spec": spec});
    parse_policy(&object).unwrap()
}
