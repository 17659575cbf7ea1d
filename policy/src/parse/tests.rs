#![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

use serde_json::json;

use super::*;

fn policy(spec: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "p", "namespace": "shop"}, "spec": spec})
}

fn parsed(spec: Value) -> Policy {
    parse_policy(&policy(spec)).unwrap()
}

fn error(spec: Value) -> PolicyError {
    parse_policy(&policy(spec)).unwrap_err()
}

#[test]
fn policy_types_default_from_the_sections() {
    let cases = [
        (json!({"podSelector": {}}), (true, false)),
        (json!({"podSelector": {}, "ingress": [{}]}), (true, false)),
        (json!({"podSelector": {}, "egress": [{}]}), (true, true)),
        (json!({"podSelector": {}, "egress": []}), (true, false)),
        (
            json!({"podSelector": {}, "policyTypes": ["Egress"]}),
            (false, true),
        ),
        (
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
            (true, true),
        ),
    ];
    for (spec, expected) in cases {
        let p = parsed(spec.clone());
        assert_eq!((p.ingress_isolated, p.egress_isolated), expected, "{spec}");
    }
}

#[test]
fn empty_rules_allow_nothing_and_an_empty_rule_allows_everything() {
    assert!(
        parsed(json!({"podSelector": {}, "ingress": []}))
            .ingress
            .is_empty()
    );
    let all = parsed(json!({"podSelector": {}, "ingress": [{}]}));
    assert_eq!(
        all.ingress,
        vec![Rule {
            peers: None,
            ports: None
        }]
    );
    // Empty lists mean the same as missing ones.
    let also_all = parsed(json!({"podSelector": {}, "ingress": [{"from": [], "ports": []}]}));
    assert_eq!(also_all.ingress, all.ingress);
}

#[test]
fn peers_ports_and_selectors_are_typed() {
    let p = parsed(json!({
        "podSelector": {"matchLabels": {"app": "db"}},
        "ingress": [{
            "from": [
                {"namespaceSelector": {"matchLabels": {"team": "a"}}, "podSelector": {"matchLabels": {"app": "web"}}},
                {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}},
                {"ipBlock": {"cidr": "10.0.0.7/8", "except": ["10.1.0.0/16"]}}
            ],
            "ports": [
                {"port": 5432},
                {"protocol": "UDP", "port": "dns"},
                {"protocol": "SCTP", "port": 1000, "endPort": 2000},
                {"protocol": "UDP"}
            ]
        }]
    }));
    let rule = &p.ingress[0];
    let peers = rule.peers.as_ref().unwrap();
    assert!(matches!(
        &peers[0],
        Peer::Pods {
            namespaces: Some(_),
            pods: Some(_)
        }
    ));
    assert!(
        matches!(&peers[1], Peer::Pods { namespaces: None, pods: Some(s) } if s.expressions.len() == 1)
    );
    assert_eq!(
        peers[2],
        Peer::IpBlock {
            cidr: "10.0.0.0/8".parse().unwrap(),
            except: vec!["10.1.0.0/16".parse().unwrap()]
        }
    );
    let ports = rule.ports.as_ref().unwrap();
    assert_eq!(
        ports,
        &vec![
            PortRule {
                protocol: Protocol::Tcp,
                port: PortMatch::Range(5432, 5432)
            },
            PortRule {
                protocol: Protocol::Udp,
                port: PortMatch::Named("dns".into())
            },
            PortRule {
                protocol: Protocol::Sctp,
                port: PortMatch::Range(1000, 2000)
            },
            PortRule {
                protocol: Protocol::Udp,
                port: PortMatch::All
            },
        ]
    );
    assert!(p.not_understood.is_empty());
}

#[test]
fn malformed_policies_name_the_field() {
    let cases = [
        (json!({}), "spec.podSelector", "is required"),
        (
            json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]}}),
            "spec.podSelector.matchExpressions[0].operator",
            "\"Equals\" is not",
        ),
        (
            json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}),
            "spec.podSelector.matchExpressions[0].values",
            "need values",
        ),
        (
            json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}),
            "spec.ingress[0].from[0].ipBlock.cidr",
            "not a CIDR",
        ),
        (
            json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}]}]}),
            "spec.egress[0].to[0].ipBlock.except[0]",
            "not strictly inside",
        ),
        (
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}),
            "spec.ingress[0].ports[0].endPort",
            "80 is below port 90",
        ),
        (
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": "http", "endPort": 80}]}]}),
            "spec.ingress[0].ports[0].endPort",
            "named port",
        ),
        (
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": 70000}]}]}),
            "spec.ingress[0].ports[0].port",
            "not a port number",
        ),
        (
            json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}),
            "spec.ingress[0].from[0]",
            "cannot be combined",
        ),
        (
            json!({"podSelector": {}, "ingress": [{"from": [{}]}]}),
            "spec.ingress[0].from[0]",
            "needs podSelector",
        ),
        (
            json!({"podSelector": {}, "policyTypes": ["Sideways"]}),
            "spec.policyTypes[0]",
            "not Ingress or Egress",
        ),
    ];
    for (spec, field, message) in cases {
        let e = error(spec.clone());
        assert_eq!(e.policy, "shop/p");
        assert_eq!(e.field, field, "{spec}");
        assert!(e.message.contains(message), "{spec}: {e}");
    }
}

#[test]
fn unknown_fields_and_protocols_are_noted_so_the_policy_fails_closed() {
    let p = parsed(json!({
        "podSelector": {},
        "ingress": [{"from": [{"podSelector": {}, "serviceAccount": "x"}],
                     "ports": [{"protocol": "ICMP"}]}],
        "futureField": true
    }));
    assert_eq!(
        p.not_understood,
        vec![
            "spec.futureField".to_string(),
            "spec.ingress[0].from[0].serviceAccount".to_string(),
            "spec.ingress[0].ports[0].protocol (ICMP)".to_string(),
        ]
    );
}
