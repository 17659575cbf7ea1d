use super::*;
use crate::family::TableFamily;
use crate::wire::Batch;

/// The attribute bytes of one expression in a rule.
fn bytes(expr: &Expr) -> Vec<u8> {
    let mut batch = Batch::new(1);
    batch.add("r".into(), TableFamily::Inet, 6, 0, |a| {
        expr.encode(a, &|set| if set == "new" { 7 } else { 0 });
    });
    // BATCH_BEGIN (20) and the rule's headers (20) come first.
    batch.encode().unwrap().batch[40..].to_vec()
}

fn u32_attr(kind: u16, value: u32) -> Vec<u8> {
    let mut out = 8u16.to_ne_bytes().to_vec();
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&value.to_be_bytes());
    out
}

#[test]
fn registers_number_and_overlay_as_the_kernel_has_them() {
    assert_eq!(Register::Verdict.number(), 0);
    assert_eq!(Register::R1.number(), 1);
    assert_eq!(Register::R32(0).number(), 8);
    assert_eq!(Register::R32(4).offset(), Some(16));
    assert_eq!(Register::R(2).offset(), Register::R32(4).offset());
    assert_eq!(Register::Verdict.offset(), None);
}

#[test]
fn an_inverted_lookup_of_a_new_set_carries_its_id_and_the_flag() {
    let encoded = bytes(&Expr::Lookup {
        set: "new".into(),
        sreg: Register::R1,
        dreg: None,
        invert: true,
    });
    let contains = |part: &[u8]| encoded.windows(part.len()).any(|w| w == part);
    assert!(contains(b"lookup\0"));
    assert!(contains(&u32_attr(2, 1)), "sreg");
    assert!(contains(&u32_attr(4, 7)), "set id");
    assert!(contains(&u32_attr(5, 1)), "NFT_LOOKUP_F_INV");
    let plain = bytes(&Expr::Lookup {
        set: "old".into(),
        sreg: Register::R1,
        dreg: Some(Register::Verdict),
        invert: false,
    });
    let has = |part: &[u8]| plain.windows(part.len()).any(|w| w == part);
    assert!(has(&u32_attr(3, 0)), "dreg: the verdict register");
    assert!(has(&u32_attr(4, 0)), "an existing set is found by name");
    assert!(!has(&u32_attr(5, 1)));
}

#[test]
fn payload_fields_sit_where_the_headers_have_them() {
    use crate::family::Family;
    assert_eq!(Field::Source(Family::Ipv4).location(), (1, 12, 4));
    assert_eq!(Field::Destination(Family::Ipv6).location(), (1, 24, 16));
    assert_eq!(Field::DestinationPort.location(), (2, 2, 2));
    let encoded = bytes(&Expr::Payload {
        field: Field::Destination(Family::Ipv4),
        dreg: Register::R1,
    });
    for (kind, value) in [(1, 1), (2, 1), (3, 16), (4, 4)] {
        let attr = u32_attr(kind, value);
        assert!(encoded.windows(8).any(|w| w == attr), "{kind}={value}");
    }
}

#[test]
fn a_jump_carries_its_chain_and_masquerade_is_a_bare_masq() {
    let jump = bytes(&Expr::Verdict(Verdict::Jump("in-1".into())));
    assert!(jump.windows(5).any(|w| w == b"in-1\0"));
    assert!(jump.windows(4).any(|w| w == (-3i32).to_be_bytes()));
    let masq = bytes(&Expr::Masquerade);
    assert!(masq.windows(5).any(|w| w == b"masq\0"));
}
