use super::*;
use crate::expr::Verdict;
use crate::set::KeyType;
use crate::table::{Chain, Rule};
use crate::transaction::tests::{ip, steps, table};

#[test]
fn equal_tables_need_no_message() {
    let tx = Transaction::update(&table(&["10.0.0.2"]), &table(&["10.0.0.2"])).unwrap();
    assert!(tx.is_empty());
}

#[test]
fn changed_elements_are_deleted_and_added_alone() {
    let before = table(&["10.0.0.2", "10.0.0.3"]);
    let after = table(&["10.0.0.3", "10.0.0.4"]);
    assert_eq!(
        steps(Transaction::update(&before, &after).unwrap()),
        ["delete elements of set m", "elements of set m"]
    );
}

#[test]
fn a_new_chain_comes_before_elements_jumping_to_it_and_an_old_one_goes_after() {
    let before = table(&["10.0.0.2"]);
    let mut after = before.clone();
    after.chains[1].name = "c2".into();
    after.sets[0].elements = vec![Element::addr(ip("10.0.0.2")).jump("c2")];
    assert_eq!(
        steps(Transaction::update(&before, &after).unwrap()),
        [
            "chain c2",
            "rule in chain c2",
            "rule in chain c2",
            "delete elements of set m",
            "elements of set m",
            "delete chain c",
        ]
    );
}

#[test]
fn a_chain_whose_rules_changed_is_flushed_and_rewritten_and_unused_sets_go_last() {
    let before = table(&[]);
    let mut after = before.clone();
    after.sets.pop();
    after.sets.push(Set::new("other", KeyType::Ipv4Addr));
    after.chains[1].rules = vec![Rule::new().verdict(Verdict::Accept)];
    assert_eq!(
        steps(Transaction::update(&before, &after).unwrap()),
        [
            "set other",
            "flush chain c",
            "rule in chain c",
            "delete set peers",
        ]
    );
}

#[test]
fn a_changed_interval_is_deleted_whole_and_the_zero_marker_follows_the_first_range() {
    use crate::family::Family;
    use crate::set::Interval;
    let before = table(&[]);
    let mut after = before.clone();
    // 10.0.0.0/24 → 0.0.0.0-0.0.0.9: the marker at zero goes.
    after.sets[1].elements = vec![Element::new(vec![Interval::addrs(Family::Ipv4, 0, 9)])];
    let key = |bytes: [u8; 4], end: bool| KernelElement::Key {
        key: bytes.to_vec(),
        end,
    };
    let (gone, added) = element_changes(&before.sets[1], &after.sets[1]);
    assert_eq!(
        gone,
        [
            key([10, 0, 0, 0], false),
            key([10, 0, 1, 0], true),
            key([0, 0, 0, 0], true)
        ]
    );
    assert_eq!(added, [key([0, 0, 0, 0], false), key([0, 0, 0, 10], true)]);
}

#[test]
fn a_set_whose_key_changed_or_a_moved_hook_cannot_change_in_place() {
    let before = table(&[]);
    let mut key = before.clone();
    key.sets[1].key = vec![KeyType::Ipv6Addr];
    assert!(Transaction::update(&before, &key).is_none());
    let mut hook = before.clone();
    hook.chains[0] = Chain::regular("forward");
    assert!(Transaction::update(&before, &hook).is_none());
    let mut other = before.clone();
    other.name = "u".into();
    assert!(Transaction::update(&before, &other).is_none());
}

#[test]
fn differences_are_set_differences_whatever_the_order_or_repeats() {
    let e = |n: u8| Element::addr(std::net::IpAddr::from([10, 0, 0, n]));
    let many = |range: std::ops::Range<u8>| range.map(e).collect::<Vec<_>>();
    /// (before, after, gone, added)
    type Case = (Vec<Element>, Vec<Element>, Vec<Element>, Vec<Element>);
    let cases: Vec<Case> = vec![
        (many(0..100), many(0..100), vec![], vec![]),
        // One added in the middle, one removed near the end: the common ends are skipped.
        (
            many(0..100),
            [many(0..50), vec![e(200)], many(50..98), vec![e(99)]].concat(),
            vec![e(98)],
            vec![e(200)],
        ),
        // Reordered: nothing changes.
        (
            many(0..5),
            vec![e(4), e(3), e(2), e(1), e(0)],
            vec![],
            vec![],
        ),
        // A repeated element that moves into the common prefix is not gone.
        (
            vec![e(1), e(2), e(1)],
            vec![e(1), e(3)],
            vec![e(2)],
            vec![e(3)],
        ),
        // Repeats are reported once.
        (vec![e(7), e(7)], vec![], vec![e(7)], vec![]),
        // A large change takes the hashed path and gives the same answer.
        (many(0..100), many(50..150), many(0..50), many(100..150)),
    ];
    for (before, after, gone, added) in cases {
        let (g, a) = differences(&before, &after);
        let g: Vec<Element> = g.into_iter().cloned().collect();
        let a: Vec<Element> = a.into_iter().cloned().collect();
        assert_eq!((g, a), (gone, added), "{before:?} -> {after:?}");
    }
}
