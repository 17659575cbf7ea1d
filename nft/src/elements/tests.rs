use super::*;
use crate::family::Family;
use crate::set::KeyType;

fn interval_set(elements: Vec<Element>) -> Set {
    Set::new("s", KeyType::Ipv4Addr)
        .interval()
        .with_elements(elements)
}

fn key(bytes: [u8; 4], end: bool) -> KernelElement {
    KernelElement::Key {
        key: bytes.to_vec(),
        end,
    }
}

#[test]
fn interval_sets_hold_starts_and_ends_after_a_zero_marker_as_nft_sends_them() {
    let set = interval_set(vec![
        Element::new(vec![Interval::addrs(
            Family::Ipv4,
            0xff00_0000,
            u32::MAX.into(),
        )]),
        Element::new(vec![Interval::addrs(
            Family::Ipv4,
            0x0a00_0000,
            0x0a00_00ff,
        )]),
    ]);
    assert_eq!(
        whole(&set, &set.elements),
        vec![
            key([0, 0, 0, 0], true),
            key([10, 0, 0, 0], false),
            key([10, 0, 1, 0], true),
            // The last range reaches the top: no end.
            key([255, 0, 0, 0], false),
        ]
    );
}

#[test]
fn an_interval_set_starting_at_zero_has_no_marker() {
    let set = interval_set(vec![Element::new(vec![Interval::addrs(
        Family::Ipv4,
        0,
        9,
    )])]);
    assert_eq!(
        whole(&set, &set.elements),
        vec![key([0, 0, 0, 0], false), key([0, 0, 0, 10], true)]
    );
}

#[test]
fn concatenated_ranges_pad_each_field_to_four_bytes() {
    let set = Set {
        name: "p".into(),
        key: vec![KeyType::Ipv4Addr, KeyType::InetProto, KeyType::InetService],
        verdict_map: false,
        interval: true,
        elements: vec![Element::new(vec![
            Interval::addrs(Family::Ipv4, 0x0a00_0001, 0x0a00_0002),
            Interval::proto(6),
            Interval::ports(80, 0x1f90),
        ])],
    };
    assert_eq!(
        whole(&set, &set.elements),
        vec![KernelElement::Range {
            from: vec![10, 0, 0, 1, 6, 0, 0, 0, 0, 80, 0, 0],
            to: vec![10, 0, 0, 2, 6, 0, 0, 0, 0x1f, 0x90, 0, 0],
        }]
    );
}

#[test]
fn a_map_element_is_deleted_by_its_key_alone() {
    let set = Set::new("m", KeyType::Ipv4Addr).verdict_map();
    let element = single(&set, &Element::addr("10.0.0.1".parse().unwrap()).jump("c"));
    let encode = |delete: bool| {
        let mut buf = crate::wire::Batch::new(1);
        buf.add("e".into(), crate::family::TableFamily::Inet, 0, 0, |a| {
            element.encode(a, delete)
        });
        buf.encode().unwrap().batch
    };
    let (add, delete) = (encode(false), encode(true));
    assert!(add.windows(2).any(|w| w == b"c\0"), "the chain is sent");
    assert!(!delete.windows(2).any(|w| w == b"c\0"), "only the key");
    assert!(delete.len() < add.len());
}
