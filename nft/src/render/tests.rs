use std::net::IpAddr;

use super::*;
use crate::expr::{Expr, Field, MetaKey, Register, ct_state};
use crate::family::{Family, TableFamily};
use crate::set::{Interval, KeyType};
use crate::table::{ChainPolicy, ChainType, Rule};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn filter_table() -> Table {
    let v4 = Family::Ipv4;
    let mut table = Table::new(TableFamily::Inet, "t");
    table.sets.push(
        Set::new("m4", KeyType::Ipv4Addr)
            .verdict_map()
            .with_elements(vec![
                Element::addr(ip("10.0.0.10")).jump("c"),
                Element::addr(ip("10.0.0.2")).jump("c"),
            ]),
    );
    table.sets.push(
        Set::new("r4", KeyType::Ipv4Addr)
            .interval()
            .with_elements(vec![
                Element::new(vec![Interval::addrs(v4, 0x0a00_0100, 0x0a00_01ff)]),
                Element::new(vec![Interval::addrs(v4, 0x0a00_0005, 0x0a00_0007)]),
                Element::addr(ip("10.0.0.1")),
            ]),
    );
    table.sets.push(Set {
        name: "p6".into(),
        key: vec![KeyType::Ipv6Addr, KeyType::InetProto, KeyType::InetService],
        verdict_map: false,
        interval: true,
        elements: vec![Element::new(vec![
            Interval::addr(ip("fd00::1")),
            Interval::proto(17),
            Interval::ports(1000, 1010),
        ])],
    });
    let mut forward = Chain::base(
        "forward",
        BaseChain {
            kind: ChainType::Filter,
            hook: Hook::Forward,
            priority: 0,
            policy: ChainPolicy::Accept,
        },
    );
    forward.rules = vec![
        Rule::new()
            .ct_state(ct_state::ESTABLISHED | ct_state::RELATED)
            .verdict(Verdict::Accept),
        Rule::new()
            .family(v4)
            .field_in_net(Field::Source(v4), "10.0.0.0/24".parse().unwrap())
            .field_in_set(Field::Source(v4), "r4", true)
            .verdict(Verdict::Drop),
        Rule::new().family(v4).vmap(Field::Destination(v4), "m4"),
    ];
    let mut c = Chain::regular("c");
    c.rules = vec![
        Rule::new()
            .family(Family::Ipv6)
            .push(Expr::Payload {
                field: Field::Source(Family::Ipv6),
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
                set: "p6".into(),
                sreg: Register::R32(0),
                dreg: None,
                invert: false,
            })
            .verdict(Verdict::Return),
        Rule::new().verdict(Verdict::Drop),
    ];
    table.chains = vec![forward, c];
    table
}

#[test]
fn a_table_renders_as_nft_lists_it() {
    let expected = "\
table inet t {
\tmap m4 {
\t\ttype ipv4_addr : verdict
\t\telements = { 10.0.0.2 : jump c, 10.0.0.10 : jump c }
\t}

\tset r4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 10.0.0.1, 10.0.0.5-10.0.0.7, 10.0.1.0/24 }
\t}

\tset p6 {
\t\ttype ipv6_addr . inet_proto . inet_service
\t\tflags interval
\t\telements = { fd00::1 . udp . 1000-1010 }
\t}

\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tct state established,related accept
\t\tip saddr 10.0.0.0/24 ip saddr != @r4 drop
\t\tip daddr vmap @m4
\t}

\tchain c {
\t\tip6 saddr . meta l4proto . th dport @p6 return
\t\tdrop
\t}
}
";
    assert_eq!(render(&filter_table()), expected);
}

#[test]
fn a_nat_chain_shows_its_named_priority_and_masquerade() {
    let mut table = Table::new(TableFamily::Inet, "n");
    let mut chain = Chain::base(
        "postrouting",
        BaseChain {
            kind: ChainType::Nat,
            hook: Hook::Postrouting,
            priority: 100,
            policy: ChainPolicy::Accept,
        },
    );
    let v6 = Family::Ipv6;
    chain.rules = vec![
        Rule::new()
            .family(v6)
            .field_in_net(Field::Source(v6), "fd00::5/128".parse().unwrap())
            .masquerade(),
    ];
    table.chains.push(chain);
    assert_eq!(
        render(&table),
        "table inet n {\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; \
         policy accept;\n\t\tip6 saddr fd00::5 masquerade\n\t}\n}\n"
    );
}

#[test]
fn a_family_match_nothing_implies_is_shown_and_other_priorities_are_numbers() {
    let mut table = Table::new(TableFamily::Inet, "x");
    let mut chain = Chain::base(
        "input",
        BaseChain {
            kind: ChainType::Filter,
            hook: Hook::Input,
            priority: 10,
            policy: ChainPolicy::Drop,
        },
    );
    chain.rules = vec![Rule::new().family(Family::Ipv6).verdict(Verdict::Accept)];
    table.chains.push(chain);
    let text = render(&table);
    assert!(text.contains("priority 10; policy drop;"), "{text}");
    assert!(text.contains("\t\tmeta nfproto ipv6 accept\n"), "{text}");
}

#[test]
fn an_empty_table_is_a_header_and_a_brace() {
    assert_eq!(
        render(&Table::new(TableFamily::Inet, "e")),
        "table inet e {\n}\n"
    );
}
