use std::sync::Arc;

use super::*;
use crate::model::Protocol;
use crate::ruleset::{PodRules, PortedPeers};

fn v4(a: u32, b: u32) -> AddrRange {
    AddrRange {
        v6: false,
        start: a.into(),
        end: b.into(),
    }
}

fn ruleset() -> Ruleset {
    let allow = Allow {
        everything: false,
        peers: vec![v4(0x0a00_0000, 0x0a00_00ff)],
        ported: vec![PortedPeers {
            addrs: v4(0x0a00_0105, 0x0a00_0105),
            protocol: Protocol::Udp,
            ports: (53, 53),
        }],
    };
    Ruleset {
        pods: vec![PodRules {
            pod: "ns/a".into(),
            ips: vec!["10.0.0.2".parse().unwrap(), "fd00::2".parse().unwrap()],
            ingress: Some("x".into()),
            egress: None,
        }],
        ingress: [("x".to_string(), Arc::new(allow))].into(),
        egress: Default::default(),
        known: vec!["10.0.0.2".parse().unwrap(), "fd00::2".parse().unwrap()],
        guarded: vec!["10.0.0.0/24".parse().unwrap()],
    }
}

#[test]
fn sets_come_in_the_order_they_are_made_and_listed() {
    let table = table(&ruleset());
    let names: Vec<&str> = table.sets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "egress4", "egress6", "ingress4", "ingress6", "known4", "known6", "in-x-a4", "in-x-p4"
        ]
    );
    let chains: Vec<&str> = table.chains.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(chains, ["forward", "in-x"]);
}

#[test]
fn each_pod_address_jumps_to_its_allowance_in_its_familys_map() {
    let table = table(&ruleset());
    let map = |name: &str| table.set(name).unwrap().elements.clone();
    assert_eq!(
        map("ingress4"),
        [Element::addr("10.0.0.2".parse().unwrap()).jump("in-x")]
    );
    assert_eq!(
        map("ingress6"),
        [Element::addr("fd00::2".parse().unwrap()).jump("in-x")]
    );
    assert!(map("egress4").is_empty());
}

#[test]
fn a_ported_set_is_an_interval_concatenation_of_address_protocol_and_port() {
    let table = table(&ruleset());
    let set = table.set("in-x-p4").unwrap();
    assert!(set.interval && set.is_concat());
    assert_eq!(
        set.key,
        [KeyType::Ipv4Addr, KeyType::InetProto, KeyType::InetService]
    );
    assert_eq!(
        set.elements[0].key[..],
        [
            Interval::addrs(Family::Ipv4, 0x0a00_0105, 0x0a00_0105),
            Interval::proto(17),
            Interval::ports(53, 53)
        ]
    );
}

#[test]
fn an_allowance_of_everything_has_no_sets_and_ends_with_its_verdict() {
    let mut ruleset = ruleset();
    ruleset.ingress = [(
        "x".to_string(),
        Arc::new(Allow {
            everything: true,
            ..Allow::default()
        }),
    )]
    .into();
    let table = table(&ruleset);
    assert!(table.set("in-x-a4").is_none());
    assert_eq!(
        table.chains[1].rules,
        [Rule::new().verdict(Verdict::Accept)]
    );
}
