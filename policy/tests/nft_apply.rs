//! The compiled ruleset applied to a real kernel in a fresh network namespace: what
//! `nft list table inet portcullis` prints equals the renderer's text (IPv4 and IPv6, interval
//! and concatenated sets, verdict maps), a second apply replaces the first, and a table of
//! someone else's is never touched. Needs root.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use portcullis_testkit::netns;

use netns::Netns;
use portcullis_testkit::nft_listing::{nft, normalized};

use portcullis_policy::compile::{PolicyInput, compile};
use portcullis_policy::model::{NamedPort, Namespace, Pod, Protocol};
use portcullis_policy::nft::program::replace_table;
use portcullis_policy::nft::socket::apply;
use portcullis_policy::parse::parse_policy;
use portcullis_policy::render::render;
use portcullis_policy::ruleset::Ruleset;
use serde_json::json;

fn pod(namespace: &str, name: &str, ips: &[&str], app: &str) -> Pod {
    Pod {
        namespace: namespace.into(),
        name: name.into(),
        labels: [("app".to_string(), app.to_string())].into(),
        node: "n1".into(),
        host_network: false,
        ips: ips.iter().map(|ip| ip.parse().unwrap()).collect(),
        ports: vec![NamedPort {
            name: "http".into(),
            protocol: Protocol::Tcp,
            port: 8080,
        }],
    }
}

fn ruleset() -> Ruleset {
    let namespaces = [Namespace {
        name: "shop".into(),
        labels: Default::default(),
    }];
    let pods = [
        pod("shop", "web", &["10.0.0.1", "fd00::1"], "web"),
        pod("shop", "db", &["10.0.0.2", "fd00::2"], "db"),
        pod("shop", "open", &["10.0.0.3"], "open"),
    ];
    let policies = [
        json!({"metadata": {"namespace": "shop", "name": "db"}, "spec": {
        "podSelector": {"matchLabels": {"app": "db"}},
        "ingress": [
            {"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 5432}, {"protocol": "UDP", "port": 1000, "endPort": 1010}]},
            {"from": [{"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}}]},
            {"from": [{"ipBlock": {"cidr": "fd00:1::/64"}}], "ports": [{"protocol": "SCTP"}]}
        ]}}),
        json!({"metadata": {"namespace": "shop", "name": "web-out"}, "spec": {
            "podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {}}], "ports": [{"port": "http"}]}]}}),
        json!({"metadata": {"namespace": "shop", "name": "open"}, "spec": {
            "podSelector": {"matchLabels": {"app": "open"}}, "ingress": [{}]}}),
    ];
    let policies: Vec<_> = policies.iter().map(|p| parse_policy(p).unwrap()).collect();
    let namespaces: Vec<&Namespace> = namespaces.iter().collect();
    let pods: Vec<&Pod> = pods.iter().collect();
    compile(&PolicyInput {
        node: "n1",
        pod_cidrs: &[
            "10.0.0.0/24".parse().unwrap(),
            "fd00::/112".parse().unwrap(),
        ],
        namespaces: &namespaces,
        pods: &pods,
        policies: &policies,
    })
}

#[test]
fn the_kernel_holds_exactly_the_rendered_table_and_nothing_else_is_touched() {
    let ns = Netns::new();
    nft(&ns, &["add", "table", "inet", "someone-else"]);
    nft(&ns, &["add", "chain", "inet", "someone-else", "c"]);
    let ruleset = ruleset();
    // Both sides normalized: nft lists hash-set elements in no particular order.
    let expected = normalized(&render(&ruleset));
    for _ in 0..2 {
        ns.run(|| apply(replace_table(&ruleset))).unwrap();
        let listing = nft(&ns, &["list", "table", "inet", "portcullis"]);
        assert_eq!(normalized(&listing), expected, "raw listing:\n{listing}");
    }
    // An emptier ruleset replaces it whole.
    ns.run(|| apply(replace_table(&Ruleset::default())))
        .unwrap();
    let listing = nft(&ns, &["list", "table", "inet", "portcullis"]);
    assert_eq!(
        normalized(&listing),
        normalized(&render(&Ruleset::default()))
    );
    assert!(nft(&ns, &["list", "tables"]).contains("table inet someone-else"));
}
