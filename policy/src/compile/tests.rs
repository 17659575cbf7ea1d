//! Semantics, one test per rule of the NetworkPolicy spec, evaluated on the compiled ruleset.

#![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::*;
use crate::model::{NamedPort, Protocol};
use crate::parse::parse_policy;
use crate::ruleset::Flow;

/// Namespaces `a` (team=a) and `b` (team=b); pods a/web, a/db, b/client, b/other and a
/// hostNetwork pod b/agent, all on node n1.
struct Cluster {
    pod_cidrs: Vec<IpNet>,
    namespaces: Vec<Namespace>,
    pods: Vec<Pod>,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod(
    namespace: &str,
    name: &str,
    ip: &str,
    pairs: &[(&str, &str)],
    ports: &[(&str, u16)],
) -> Pod {
    Pod {
        namespace: namespace.into(),
        name: name.into(),
        labels: labels(pairs),
        node: "n1".into(),
        host_network: false,
        ips: vec![ip.parse().unwrap()],
        ports: ports
            .iter()
            .map(|(name, port)| NamedPort {
                name: name.to_string(),
                protocol: Protocol::Tcp,
                port: *port,
            })
            .collect(),
    }
}

impl Cluster {
    fn new() -> Cluster {
        let mut agent = pod("b", "agent", "192.168.0.10", &[("app", "agent")], &[]);
        agent.host_network = true;
        Cluster {
            pod_cidrs: vec!["10.0.0.0/23".parse().unwrap()],
            namespaces: vec![
                Namespace {
                    name: "a".into(),
                    labels: labels(&[("team", "a")]),
                },
                Namespace {
                    name: "b".into(),
                    labels: labels(&[("team", "b")]),
                },
            ],
            pods: vec![
                pod("a", "web", "10.0.0.1", &[("app", "web")], &[("http", 8080)]),
                pod(
                    "a",
                    "db",
                    "10.0.0.2",
                    &[("app", "db"), ("tier", "data")],
                    &[("pg", 5432)],
                ),
                pod(
                    "b",
                    "client",
                    "10.0.1.1",
                    &[("app", "client")],
                    &[("http", 80)],
                ),
                pod("b", "other", "10.0.1.2", &[("app", "other")], &[]),
                agent,
            ],
        }
    }

    fn ip(&self, key: &str) -> IpAddr {
        if let Ok(ip) = key.parse() {
            return ip;
        }
        self.pods.iter().find(|p| p.key() == key).unwrap().ips[0]
    }

    fn compile(&self, policies: &[Value]) -> Ruleset {
        let policies: Vec<Policy> = policies.iter().map(|p| parse_policy(p).unwrap()).collect();
        let namespaces: Vec<&Namespace> = self.namespaces.iter().collect();
        let pods: Vec<&Pod> = self.pods.iter().collect();
        compile(&PolicyInput {
            node: "n1",
            pod_cidrs: &self.pod_cidrs,
            namespaces: &namespaces,
            pods: &pods,
            policies: &policies,
        })
    }

    /// Asserts each `(from, to, protocol, port, allowed)` against the compiled ruleset.
    fn check(&self, policies: &[Value], table: &[(&str, &str, Protocol, u16, bool)]) {
        let ruleset = self.compile(policies);
        for (from, to, protocol, port, allowed) in table {
            let flow = Flow {
                from: self.ip(from),
                to: self.ip(to),
                protocol: *protocol,
                port: *port,
            };
            assert_eq!(
                ruleset.allows(flow),
                *allowed,
                "{from} -> {to} {protocol}/{port}\n{ruleset:#?}"
            );
        }
    }
}

fn np(namespace: &str, spec: Value) -> Value {
    json!({"metadata": {"namespace": namespace, "name": "p"}, "spec": spec})
}

use Protocol::{Sctp, Tcp, Udp};

#[test]
fn without_policies_everything_is_allowed_and_nothing_compiled() {
    let cluster = Cluster::new();
    assert!(cluster.compile(&[]).pods.is_empty());
    cluster.check(&[], &[("b/client", "a/db", Tcp, 5432, true)]);
}

#[test]
fn deny_all_ingress_isolates_only_the_selected_pods_in_that_direction() {
    let cluster = Cluster::new();
    let deny = np("a", json!({"podSelector": {}, "policyTypes": ["Ingress"]}));
    cluster.check(
        &[deny],
        &[
            ("b/client", "a/web", Tcp, 8080, false),
            ("a/web", "a/db", Tcp, 5432, false),
            ("a/web", "b/client", Tcp, 80, true), // egress is not isolated
            ("b/other", "b/client", Tcp, 80, true), // other namespace untouched
        ],
    );
}

#[test]
fn deny_all_egress_and_policies_are_additive() {
    let cluster = Cluster::new();
    let deny = np("a", json!({"podSelector": {}, "policyTypes": ["Egress"]}));
    let allow_db = np(
        "a",
        json!({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}]}]}),
    );
    cluster.check(
        std::slice::from_ref(&deny),
        &[
            ("a/web", "a/db", Tcp, 5432, false),
            ("b/client", "a/web", Tcp, 8080, true),
        ],
    );
    cluster.check(
        &[deny, allow_db],
        &[
            ("a/web", "a/db", Tcp, 5432, true),
            ("a/web", "b/client", Tcp, 80, false),
            ("a/db", "a/web", Tcp, 8080, false),
        ],
    );
}

#[test]
fn an_empty_rule_allows_everything_and_an_empty_list_nothing() {
    let cluster = Cluster::new();
    let none = np("a", json!({"podSelector": {}, "ingress": []}));
    let all = np("a", json!({"podSelector": {}, "ingress": [{}]}));
    cluster.check(
        std::slice::from_ref(&none),
        &[("b/client", "a/web", Udp, 53, false)],
    );
    cluster.check(
        std::slice::from_ref(&all),
        &[("b/client", "a/web", Udp, 53, true)],
    );
    cluster.check(&[none, all], &[("b/client", "a/web", Sctp, 9, true)]);
}

#[test]
fn one_peer_with_both_selectors_is_and_two_peers_are_or() {
    let cluster = Cluster::new();
    let and = np(
        "a",
        json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"team": "b"}}, "podSelector": {"matchLabels": {"app": "client"}}}
        ]}]}),
    );
    let or = np(
        "a",
        json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"team": "b"}}},
            {"podSelector": {"matchLabels": {"app": "client"}}}
        ]}]}),
    );
    cluster.check(
        &[and],
        &[
            ("b/client", "a/db", Tcp, 5432, true),
            ("b/other", "a/db", Tcp, 5432, false),
            ("a/web", "a/db", Tcp, 5432, false),
        ],
    );
    cluster.check(
        &[or],
        &[
            ("b/client", "a/db", Tcp, 5432, true),
            ("b/other", "a/db", Tcp, 5432, true), // namespace b
            ("a/web", "a/db", Tcp, 5432, false),  // app=client only in a: none
        ],
    );
}

#[test]
fn a_pod_selector_alone_means_the_policy_namespace_and_the_name_label_selects_namespaces() {
    let cluster = Cluster::new();
    let same_namespace = np(
        "a",
        json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [{"podSelector": {}}]}]}),
    );
    cluster.check(
        &[same_namespace],
        &[
            ("a/web", "a/db", Tcp, 5432, true),
            ("b/client", "a/db", Tcp, 5432, false),
        ],
    );
    let by_name = np(
        "a",
        json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}}}]}]}),
    );
    cluster.check(
        &[by_name],
        &[
            ("b/other", "a/db", Tcp, 5432, true),
            ("a/web", "a/db", Tcp, 5432, false),
        ],
    );
}

#[test]
fn match_expressions_select_peers() {
    let cluster = Cluster::new();
    let policy = np(
        "a",
        json!({"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [
            {"namespaceSelector": {}, "podSelector": {"matchExpressions": [
                {"key": "app", "operator": "NotIn", "values": ["client"]},
                {"key": "tier", "operator": "DoesNotExist"}]}}]}]}),
    );
    cluster.check(
        &[policy],
        &[
            ("b/other", "a/web", Tcp, 8080, true),
            ("b/client", "a/web", Tcp, 8080, false),
            ("a/db", "a/web", Tcp, 8080, false), // has tier
        ],
    );
}

#[test]
fn ports_by_number_range_protocol_and_tcp_by_default() {
    let cluster = Cluster::new();
    let policy = np(
        "a",
        json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"ports": [
            {"port": 5432},
            {"protocol": "UDP", "port": 1000, "endPort": 1010},
            {"protocol": "SCTP"}]}]}),
    );
    cluster.check(
        &[policy],
        &[
            ("b/client", "a/db", Tcp, 5432, true),
            ("b/client", "a/db", Udp, 5432, false),
            ("b/client", "a/db", Udp, 1000, true),
            ("b/client", "a/db", Udp, 1010, true),
            ("b/client", "a/db", Udp, 1011, false),
            ("b/client", "a/db", Tcp, 1005, false),
            ("b/client", "a/db", Sctp, 7, true),
        ],
    );
}

#[test]
fn named_ports_resolve_per_destination_pod_in_both_directions() {
    let cluster = Cluster::new();
    // Egress from b/other to port "http": a/web's is 8080, b/client's is 80.
    let egress = np(
        "b",
        json!({"podSelector": {"matchLabels": {"app": "other"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"port": "http"}]}]}),
    );
    cluster.check(
        &[egress],
        &[
            ("b/other", "a/web", Tcp, 8080, true),
            ("b/other", "a/web", Tcp, 80, false),
            ("b/other", "b/client", Tcp, 80, true),
            ("b/other", "b/client", Tcp, 8080, false),
            ("b/other", "a/db", Tcp, 5432, false), // no "http" on db
        ],
    );
    let ingress = np(
        "a",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": "pg"}]}]}),
    );
    cluster.check(
        &[ingress],
        &[
            ("b/client", "a/db", Tcp, 5432, true),
            ("b/client", "a/web", Tcp, 5432, false),
        ],
    );
}

#[test]
fn ip_blocks_with_except_apply_to_pod_addresses_too() {
    let cluster = Cluster::new();
    let policy = np(
        "a",
        json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [
            {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.2/32"]}}]}]}),
    );
    cluster.check(
        &[policy],
        &[
            ("b/client", "a/db", Tcp, 5432, true),
            ("b/other", "a/db", Tcp, 5432, false),
            ("a/web", "a/db", Tcp, 5432, true),
            ("10.1.0.1", "a/db", Tcp, 5432, false),
        ],
    );
}

#[test]
fn egress_and_ingress_both_have_to_allow() {
    let cluster = Cluster::new();
    let egress = np(
        "b",
        json!({"podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "db"}}}]}]}),
    );
    let ingress = np(
        "a",
        json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [
            {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "web"}}}]}]}),
    );
    cluster.check(
        std::slice::from_ref(&egress),
        &[("b/client", "a/db", Tcp, 5432, true)],
    );
    cluster.check(
        &[egress, ingress],
        &[("b/client", "a/db", Tcp, 5432, false)],
    );
}

#[test]
fn host_network_pods_are_never_selected() {
    let cluster = Cluster::new();
    let deny = np(
        "b",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    );
    let ruleset = cluster.compile(&[deny]);
    let selected: Vec<&str> = ruleset.pods.iter().map(|p| p.pod.as_str()).collect();
    assert_eq!(selected, ["b/client", "b/other"]);
}

#[test]
fn rules_of_a_direction_the_policy_does_not_isolate_are_ignored() {
    let cluster = Cluster::new();
    let egress_only = np(
        "a",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{"from": [{"podSelector": {}}]}]}),
    );
    cluster.check(
        &[egress_only],
        &[
            ("b/client", "a/web", Tcp, 8080, true),
            ("a/web", "b/client", Tcp, 80, false),
        ],
    );
}

#[test]
fn a_policy_with_fields_not_understood_isolates_and_allows_nothing() {
    let cluster = Cluster::new();
    let strange = np(
        "a",
        json!({"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}], "somethingNew": 1}),
    );
    cluster.check(
        &[strange],
        &[
            ("b/client", "a/web", Tcp, 8080, false),
            ("b/client", "a/db", Tcp, 5432, true),
        ],
    );
}

#[test]
fn only_this_node_pods_are_compiled() {
    let mut cluster = Cluster::new();
    cluster.pods[0].node = "n2".into();
    let deny = np("a", json!({"podSelector": {}}));
    let ruleset = cluster.compile(&[deny]);
    let selected: Vec<&str> = ruleset.pods.iter().map(|p| p.pod.as_str()).collect();
    assert_eq!(selected, ["a/db"]);
}

#[test]
fn an_address_of_this_node_no_known_pod_holds_is_dropped() {
    let cluster = Cluster::new();
    // 10.0.1.9 is in this node's pod CIDR but no Pod reports it yet (a pod just created).
    cluster.check(
        &[],
        &[
            ("10.0.1.9", "a/web", Tcp, 8080, false),
            ("a/web", "10.0.1.9", Tcp, 80, false),
            ("10.7.0.1", "a/web", Tcp, 8080, true), // another node's pod: not guarded here
        ],
    );
    let ruleset = cluster.compile(&[]);
    assert_eq!(
        ruleset.known.len(),
        4,
        "every local pod, selected or not: {:?}",
        ruleset.known
    );
}
