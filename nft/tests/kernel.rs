//! The table model against a real kernel, in a fresh network namespace: a table with every
//! kind of thing the model has (verdict map, interval set, concatenated interval set, base
//! and regular chains, NAT masquerade) lists exactly as it renders; an in-place update lists
//! as the new model renders; and a transaction the kernel refuses is reported as the
//! kernel's fault, changing nothing. Needs root.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use std::net::IpAddr;

use portcullis_nft::{
    BaseChain, Chain, ChainPolicy, ChainType, Classified, Element, Expr, Family, Fault, Field,
    Hook, Interval, KeyType, MetaKey, NftError, Register, Rule, Set, Table, TableFamily,
    Transaction, Verdict, apply, ct_state, render,
};
use portcullis_testkit::netns::Netns;
use portcullis_testkit::nft_listing::{blocks, nft, normalized};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn base(kind: ChainType, hook: Hook, priority: i32) -> BaseChain {
    BaseChain {
        kind,
        hook,
        priority,
        policy: ChainPolicy::Accept,
    }
}

fn table(pods: &[&str], peers: &[(u128, u128)]) -> Table {
    let (v4, v6) = (Family::Ipv4, Family::Ipv6);
    let mut table = Table::new(TableFamily::Inet, "portcullis-nft-test");
    let jumps = pods
        .iter()
        .map(|p| Element::addr(ip(p)).jump("peer"))
        .collect();
    table.sets.push(
        Set::new("pods4", KeyType::Ipv4Addr)
            .verdict_map()
            .with_elements(jumps),
    );
    let ranges = peers
        .iter()
        .map(|(a, b)| Element::new(vec![Interval::addrs(v4, *a, *b)]))
        .collect();
    table.sets.push(
        Set::new("peers4", KeyType::Ipv4Addr)
            .interval()
            .with_elements(ranges),
    );
    table.sets.push(Set {
        name: "ported6".into(),
        key: vec![KeyType::Ipv6Addr, KeyType::InetProto, KeyType::InetService],
        verdict_map: false,
        interval: true,
        elements: vec![Element::new(vec![
            Interval::addrs(v6, 0xfd00 << 112, (0xfd00 << 112) + 0xff),
            Interval::proto(6),
            Interval::ports(8000, 8080),
        ])],
    });
    let mut forward = Chain::base("forward", base(ChainType::Filter, Hook::Forward, 0));
    forward.rules = vec![
        Rule::new()
            .ct_state(ct_state::ESTABLISHED | ct_state::RELATED)
            .verdict(Verdict::Accept),
        Rule::new()
            .family(v4)
            .field_in_net(Field::Source(v4), "10.9.0.0/16".parse().unwrap())
            .field_in_set(Field::Source(v4), "peers4", true)
            .verdict(Verdict::Drop),
        Rule::new().family(v4).vmap(Field::Destination(v4), "pods4"),
    ];
    let mut peer = Chain::regular("peer");
    peer.rules = vec![
        Rule::new()
            .family(v4)
            .field_in_set(Field::Source(v4), "peers4", false)
            .verdict(Verdict::Accept),
        Rule::new()
            .family(v6)
            .push(Expr::Payload {
                field: Field::Source(v6),
                dreg: Register::R32(0),
            })
            .push(Expr::Meta {
                key: MetaKey::L4Proto,
                dreg: Register::R32(4),
            })
            .push(Expr::Payload {
                field: Field::DestinationPort,
                dreg: Register::R32(5),
            })
            .push(Expr::Lookup {
                set: "ported6".into(),
                sreg: Register::R32(0),
                dreg: None,
                invert: false,
            })
            .verdict(Verdict::Accept),
        Rule::new().verdict(Verdict::Drop),
    ];
    let mut nat = Chain::base("postrouting", base(ChainType::Nat, Hook::Postrouting, 100));
    nat.rules = vec![
        Rule::new()
            .family(v4)
            .field_in_net(Field::Source(v4), "10.9.0.0/16".parse().unwrap())
            .field_in_net(Field::Destination(v4), "10.0.0.0/8".parse().unwrap())
            .verdict(Verdict::Return),
        Rule::new()
            .family(v4)
            .field_in_net(Field::Source(v4), "10.9.0.0/16".parse().unwrap())
            .masquerade(),
    ];
    table.chains = vec![forward, peer, nat];
    table
}

fn listing(ns: &Netns) -> String {
    nft(ns, &["list", "table", "inet", "portcullis-nft-test"])
}

#[test]
fn the_kernel_lists_what_the_model_renders_whole_and_after_an_update() {
    let ns = Netns::new();
    let first = table(&["10.9.0.2", "10.9.0.3"], &[(0x0a00_0000, 0x0a00_00ff)]);
    ns.run(|| apply(Transaction::replace(&first))).unwrap();
    assert_eq!(normalized(&listing(&ns)), normalized(&render(&first)));
    // Elements and intervals change in place, including the zero marker going.
    let second = table(
        &["10.9.0.3", "10.9.0.4"],
        &[(0, 9), (0x0a00_0100, 0x0a00_0101)],
    );
    let update = Transaction::update(&first, &second).unwrap();
    ns.run(|| apply(update)).unwrap();
    assert_eq!(blocks(&listing(&ns)), blocks(&render(&second)));
    ns.run(|| {
        apply(Transaction::delete(
            TableFamily::Inet,
            "portcullis-nft-test",
        ))
    })
    .unwrap();
    assert!(!nft(&ns, &["list", "tables"]).contains("portcullis-nft-test"));
}

#[test]
fn a_refused_transaction_is_the_kernels_fault_names_the_message_and_changes_nothing() {
    let ns = Netns::new();
    let applied = table(&["10.9.0.2"], &[]);
    ns.run(|| apply(Transaction::replace(&applied))).unwrap();
    // An update from a table the kernel does not hold: the element to delete is not there.
    let imagined = table(&["10.9.0.7"], &[]);
    let update = Transaction::update(&imagined, &applied).unwrap();
    let error = ns.run(|| apply(update)).unwrap_err();
    let NftError::Refused(refusals) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(refusals[0].what, "delete elements of set pods4", "{error}");
    assert_eq!((error.fault(), error.retryable()), (Fault::Kernel, false));
    assert_eq!(normalized(&listing(&ns)), normalized(&render(&applied)));
}
