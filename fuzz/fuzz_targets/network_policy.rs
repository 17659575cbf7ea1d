//! NetworkPolicies, Pods, Namespaces and Nodes from a manifest file → the node agent's path:
//! `parse_manifest` → the store → `portcullis_policy::parse::parse_policy` (what the agent's
//! `PolicyBook` calls on each policy) → `compile::Compiler` → `carry::carry_ids`, with the
//! nftables edge off. Checks: no panic; compiling twice, or incrementally from another input,
//! gives the fresh ruleset; carrying ids over changes no verdict; every set the kernel would be
//! handed is made of disjoint pieces.
#![no_main]

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{YAML_FILE, debug, parse_file, snapshot_of};
use portcullis_policy::carry::carry_ids;
use portcullis_policy::compile::{Compiler, PolicyInput, compile};
use portcullis_policy::model::{Namespace, Pod, Protocol};
use portcullis_policy::parse::parse_policy;
use portcullis_policy::policy::{PortMatch, Rule};
use portcullis_policy::ruleset::{Allow, Flow, Ruleset};

/// The node whose ruleset is compiled when no pod names one.
const NODE: &str = "node-a";

fuzz_target!(|data: &[u8]| {
    let parsed = match parse_file(YAML_FILE, data) {
        Ok(parsed) => parsed,
        Err(error) => return debug(|| error.to_string()),
    };
    let snapshot = snapshot_of(parsed);
    let policies: Vec<_> = snapshot
        .network_policies
        .values()
        .filter_map(|raw| {
            let parsed = parse_policy(&raw.json);
            debug(|| format!("{parsed:?}"));
            parsed.ok()
        })
        .collect();
    let namespaces: Vec<&Namespace> = snapshot.namespaces.values().map(|n| &**n).collect();
    let pods: Vec<&Pod> = snapshot.pods.values().map(|p| &**p).collect();
    let nodes: BTreeSet<&str> = pods
        .iter()
        .map(|pod| pod.node.as_str())
        .chain([NODE])
        .take(4)
        .collect();
    let flows = flows(&pods, &policies);
    for node in nodes {
        let pod_cidrs: Vec<IpNet> = snapshot
            .nodes
            .get(node)
            .into_iter()
            .flat_map(|n| &n.pod_cidrs)
            .filter_map(|text| text.parse().ok())
            .collect();
        let input = PolicyInput {
            node,
            pod_cidrs: &pod_cidrs,
            namespaces: &namespaces,
            pods: &pods,
            policies: &policies,
        };
        let fresh = compile(&input);
        debug(|| format!("{node}: {fresh:?}"));
        assert_eq!(fresh, compile(&input), "compiling twice differs");
        check_ruleset(&fresh);

        // The agent keeps one compiler across reconciles: start from half the pods and
        // policies, grow to all of them, shrink back.
        let half = PolicyInput {
            pods: &pods[..pods.len() / 2],
            policies: &policies[..policies.len() / 2],
            ..input
        };
        let mut compiler = Compiler::default();
        let partial = compiler.compile(&half);
        assert_eq!(partial, compile(&half), "first incremental compile");
        assert_eq!(compiler.compile(&input), fresh, "incremental grow");
        assert_eq!(compiler.compile(&input), fresh, "incremental, unchanged");
        assert_eq!(compiler.compile(&half), partial, "incremental shrink");

        assert_eq!(
            carry_ids(&fresh, fresh.clone()),
            fresh,
            "carrying onto itself"
        );
        let carried = carry_ids(&partial, fresh.clone());
        check_ruleset(&carried);
        for flow in &flows {
            assert_eq!(
                carried.allows(*flow),
                fresh.allows(*flow),
                "carrying ids changed the verdict on {flow:?}"
            );
        }
    }
});

/// Connections between the pods' addresses (and one outside address) on the ports the pods
/// and policies name, bounded so one input stays fast.
fn flows(pods: &[&Pod], policies: &[portcullis_policy::policy::Policy]) -> Vec<Flow> {
    let mut addresses: BTreeSet<IpAddr> = pods.iter().flat_map(|p| p.ips.iter().copied()).collect();
    addresses.insert(IpAddr::from([192, 0, 2, 1]));
    let addresses: Vec<IpAddr> = addresses.into_iter().take(8).collect();
    let rules = policies
        .iter()
        .flat_map(|p| p.ingress.iter().chain(&p.egress))
        .flat_map(|rule: &Rule| rule.ports.iter().flatten());
    let mut ports: BTreeSet<(Protocol, u16)> = rules
        .filter_map(|rule| match rule.port {
            PortMatch::Range(start, end) => Some([(rule.protocol, start), (rule.protocol, end)]),
            _ => None,
        })
        .flatten()
        .chain(
            pods.iter()
                .flat_map(|p| &p.ports)
                .map(|p| (p.protocol, p.port)),
        )
        .take(6)
        .collect();
    ports.insert((Protocol::Tcp, 80));
    ports.insert((Protocol::Udp, 53));
    let mut flows = Vec::new();
    for from in &addresses {
        for to in &addresses {
            for (protocol, port) in &ports {
                flows.push(Flow {
                    from: *from,
                    to: *to,
                    protocol: *protocol,
                    port: *port,
                });
            }
        }
    }
    flows
}

/// Every id a pod names exists, and every allowance is made of disjoint, sorted pieces (the
/// kernel refuses overlapping interval elements).
fn check_ruleset(ruleset: &Ruleset) {
    for pod in &ruleset.pods {
        for (id, allows) in [
            (&pod.ingress, &ruleset.ingress),
            (&pod.egress, &ruleset.egress),
        ] {
            if let Some(id) = id {
                assert!(
                    allows.contains_key(id),
                    "{} names a missing allowance {id}",
                    pod.pod
                );
            }
        }
    }
    for allow in ruleset.ingress.values().chain(ruleset.egress.values()) {
        check_allow(allow);
    }
    assert!(
        ruleset.known.windows(2).all(|w| w[0] < w[1]),
        "known addresses not sorted"
    );
}

fn check_allow(allow: &Allow) {
    for range in &allow.peers {
        assert!(range.start <= range.end, "empty peer range {range:?}");
    }
    for pair in allow.peers.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert!(
            a.v6 != b.v6 || a.end < b.start,
            "peer ranges not disjoint and sorted: {a:?} then {b:?}"
        );
    }
    let ported = &allow.ported[..allow.ported.len().min(200)];
    for (i, a) in ported.iter().enumerate() {
        assert!(
            a.addrs.start <= a.addrs.end && a.ports.0 <= a.ports.1,
            "empty box {a:?}"
        );
        for b in &ported[i + 1..] {
            let overlap = a.protocol == b.protocol
                && a.addrs.v6 == b.addrs.v6
                && a.addrs.start <= b.addrs.end
                && b.addrs.start <= a.addrs.end
                && a.ports.0 <= b.ports.1
                && b.ports.0 <= a.ports.1;
            assert!(!overlap, "overlapping port boxes {a:?} and {b:?}");
        }
    }
}
