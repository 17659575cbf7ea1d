use std::net::IpAddr;

use super::*;
use crate::expr::{Field, Verdict};
use crate::family::Family;
use crate::set::{Interval, KeyType};
use crate::table::{BaseChain, ChainPolicy, ChainType, Hook};

/// What each message of a transaction does, in order.
pub(crate) fn steps(tx: Transaction) -> Vec<String> {
    let encoded = tx.encode().unwrap();
    let mut what: Vec<(u32, String)> = encoded.what.into_iter().collect();
    what.sort();
    what.into_iter().map(|(_, what)| what).collect()
}

pub(crate) fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A small table: a map jumping to a chain, a set the chain looks up.
pub(crate) fn table(pods: &[&str]) -> Table {
    let mut table = Table::new(TableFamily::Inet, "t");
    let elements = pods
        .iter()
        .map(|p| Element::addr(ip(p)).jump("c"))
        .collect();
    table.sets.push(
        Set::new("m", KeyType::Ipv4Addr)
            .verdict_map()
            .with_elements(elements),
    );
    table.sets.push(
        Set::new("peers", KeyType::Ipv4Addr)
            .interval()
            .with_elements(vec![Element::new(vec![Interval::addrs(
                Family::Ipv4,
                0x0a00_0000,
                0x0a00_00ff,
            )])]),
    );
    let mut forward = Chain::base(
        "forward",
        BaseChain {
            kind: ChainType::Filter,
            hook: Hook::Forward,
            priority: 0,
            policy: ChainPolicy::Accept,
        },
    );
    forward.rules.push(
        Rule::new()
            .family(Family::Ipv4)
            .vmap(Field::Destination(Family::Ipv4), "m"),
    );
    let mut c = Chain::regular("c");
    c.rules.push(
        Rule::new()
            .family(Family::Ipv4)
            .field_in_set(Field::Source(Family::Ipv4), "peers", false)
            .verdict(Verdict::Accept),
    );
    c.rules.push(Rule::new().verdict(Verdict::Drop));
    table.chains = vec![forward, c];
    table
}

#[test]
fn a_replace_drops_the_old_table_then_makes_sets_chains_elements_rules() {
    assert_eq!(
        steps(Transaction::replace(&table(&["10.0.0.2"]))),
        [
            "table inet t",
            "table inet t",
            "table inet t",
            "set m",
            "set peers",
            "chain forward",
            "chain c",
            "elements of set m",
            "elements of set peers",
            "rule in chain forward",
            "rule in chain c",
            "rule in chain c",
        ]
    );
}

#[test]
fn a_delete_adds_then_deletes_so_a_missing_table_is_no_error() {
    assert_eq!(
        steps(Transaction::delete(TableFamily::Inet, "gone")),
        ["table inet gone", "table inet gone"]
    );
}

#[test]
fn many_elements_are_split_over_messages_keeping_interval_ends_with_their_starts() {
    let v4 = Family::Ipv4;
    // 300 ranges: 600 kernel elements plus the zero marker.
    let ranges = (0..300u128)
        .map(|n| {
            let start = 0x0a00_0000 + n * 4;
            Element::new(vec![Interval::addrs(v4, start, start + 1)])
        })
        .collect();
    let set = Set::new("s", KeyType::Ipv4Addr)
        .interval()
        .with_elements(ranges);
    let mut tx = Transaction::new(TableFamily::Inet, "t");
    let kernel = elements::whole(&set, &set.elements);
    assert_eq!(kernel.len(), 601);
    tx.elements(msg::NEWSETELEM, "s", kernel);
    // 400 elements end on a start; its end joins the first message.
    assert_eq!(tx.len(), 2);
    tx.encode().unwrap();
}

#[test]
fn a_name_longer_than_netlink_carries_is_an_encode_error_not_a_corrupt_message() {
    let mut table = table(&[]);
    table.chains[1].name = "c".repeat(70_000);
    let error = Transaction::replace(&table).encode().unwrap_err();
    let EncodeError::TooLong { what, len, .. } = error;
    assert!(what.starts_with("chain ccc"), "{what:.20}");
    assert_eq!(len, 4 + 70_001);
}
