use super::*;
use crate::ipam::{MemoryStore, allocate_requested};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn range(subnet: &str, start: Option<&str>, end: Option<&str>) -> Range {
    Range::new(subnet.parse().unwrap(), start.map(ip), end.map(ip), None).unwrap()
}

fn ips(allocated: &[Allocated]) -> Vec<IpAddr> {
    allocated.iter().map(|a| a.ip).collect()
}

#[test]
fn round_robin_skips_the_gateway_and_resumes_after_the_last() {
    let sets = vec![vec![range("10.0.0.0/29", None, None)]]; // .1 gateway, .2-.6 usable
    let mut store = MemoryStore::default();
    let mut got = Vec::new();
    for n in 0..5 {
        got.extend(ips(
            &allocate(&mut store, &sets, &format!("c{n}"), "eth0").unwrap()
        ));
    }
    let expected: Vec<IpAddr> = (2..=6).map(|n| IpAddr::from([10, 0, 0, n])).collect();
    assert_eq!(got, expected);
    // Full: the error names the set, nothing is taken.
    let full = allocate(&mut store, &sets, "c5", "eth0").unwrap_err();
    assert_eq!(full.code, ErrorCode::RangeExhausted);
    assert!(
        full.msg.contains("range set 0 (10.0.0.1-10.0.0.6)"),
        "{}",
        full.msg
    );
    // Freeing .3 and .5: round-robin resumes after the last (.6), wraps, and finds .3 first.
    store.release("c1", "eth0").unwrap();
    store.release("c3", "eth0").unwrap();
    assert_eq!(
        ips(&allocate(&mut store, &sets, "c6", "eth0").unwrap()),
        [ip("10.0.0.3")]
    );
    assert_eq!(
        ips(&allocate(&mut store, &sets, "c7", "eth0").unwrap()),
        [ip("10.0.0.5")]
    );
}

#[test]
fn a_set_of_several_ranges_is_walked_in_order() {
    let sets = vec![vec![
        range("10.0.0.0/24", Some("10.0.0.10"), Some("10.0.0.11")),
        range("10.1.0.0/24", Some("10.1.0.10"), Some("10.1.0.10")),
    ]];
    let mut store = MemoryStore::default();
    let got: Vec<IpAddr> = (0..3)
        .flat_map(|n| ips(&allocate(&mut store, &sets, &format!("c{n}"), "eth0").unwrap()))
        .collect();
    assert_eq!(got, [ip("10.0.0.10"), ip("10.0.0.11"), ip("10.1.0.10")]);
}

#[test]
fn dual_stack_takes_one_address_per_set_and_a_repeated_add_gets_the_same() {
    let sets = vec![
        vec![range("10.0.0.0/24", None, None)],
        vec![range("fd00::/64", None, None)],
    ];
    let mut store = MemoryStore::default();
    let first = allocate(&mut store, &sets, "c0", "eth0").unwrap();
    assert_eq!(ips(&first), [ip("10.0.0.2"), ip("fd00::2")]);
    assert_eq!(first[1].range.gateway, ip("fd00::1"));
    let again = allocate(&mut store, &sets, "c0", "eth0").unwrap();
    let kept: Vec<Allocated> = first
        .iter()
        .map(|a| Allocated {
            fresh: false,
            ..a.clone()
        })
        .collect();
    assert_eq!(again, kept, "the same addresses, not taken again");
    assert_eq!(store.attachments().unwrap().len(), 2);
}

#[test]
fn when_a_later_set_is_full_the_earlier_sets_give_their_address_back() {
    let sets = vec![
        vec![range("10.0.0.0/24", None, None)],
        vec![range("fd00::/120", Some("fd00::2"), Some("fd00::2"))],
    ];
    let mut store = MemoryStore::default();
    allocate(&mut store, &sets, "c0", "eth0").unwrap();
    let error = allocate(&mut store, &sets, "c1", "eth0").unwrap_err();
    assert!(error.msg.contains("range set 1"), "{}", error.msg);
    let held: Vec<String> = store
        .attachments()
        .unwrap()
        .into_iter()
        .map(|a| a.container_id)
        .collect();
    assert_eq!(held, ["c0", "c0"], "c1 kept nothing");
}

#[test]
fn an_explicit_gateway_inside_the_range_is_never_handed_out() {
    let with_gateway = Range::new(
        "10.0.0.0/29".parse().unwrap(),
        None,
        None,
        Some(ip("10.0.0.3")),
    )
    .unwrap();
    let sets = vec![vec![with_gateway]];
    let mut store = MemoryStore::default();
    let got: Vec<IpAddr> = (0..5)
        .flat_map(|n| ips(&allocate(&mut store, &sets, &format!("c{n}"), "eth0").unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ip("10.0.0.1"),
            ip("10.0.0.2"),
            ip("10.0.0.4"),
            ip("10.0.0.5"),
            ip("10.0.0.6")
        ]
    );
}

#[test]
fn requested_addresses_are_given_or_refused_by_name() {
    let sets = vec![
        vec![range("10.0.0.0/24", None, None)],
        vec![range("fd00::/64", None, None)],
    ];
    let mut store = MemoryStore::default();
    let got = allocate_requested(&mut store, &sets, "c0", "eth0", &[ip("10.0.0.50")]).unwrap();
    assert_eq!(
        ips(&got),
        [ip("10.0.0.50"), ip("fd00::2")],
        "the other set allocates as usual"
    );
    let refusals = [
        (
            ip("10.0.0.50"),
            "CNI_ARGS: IP=10.0.0.50 is held by another attachment",
        ),
        (
            ip("10.9.0.1"),
            "CNI_ARGS: IP=10.9.0.1 is in no range of ipam",
        ),
        (ip("10.0.0.1"), "CNI_ARGS: IP=10.0.0.1 is the gateway"),
    ];
    for (wanted, message) in refusals {
        let error = allocate_requested(&mut store, &sets, "c1", "eth0", &[wanted]).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidEnvironment);
        assert_eq!(error.msg, message);
    }
    assert_eq!(
        store.attachments().unwrap().len(),
        2,
        "refusals took nothing"
    );
    // A requested v6 address with the v4 one left to the allocator; the taken v4 is rolled
    // back when the v6 one is refused.
    let error = allocate_requested(&mut store, &sets, "c2", "eth0", &[ip("fd00::2")]).unwrap_err();
    assert!(error.msg.contains("fd00::2 is held"), "{}", error.msg);
    assert_eq!(store.attachments().unwrap().len(), 2);
}
