use super::*;
use crate::error::Classified;

#[test]
fn a_table_message_is_laid_out_as_nft_sends_it() {
    let mut batch = Batch::new(1);
    batch.add(
        "table".into(),
        TableFamily::Inet,
        msg::NEWTABLE,
        NLM_F_CREATE,
        |a| {
            a.str(attr::TABLE_NAME, "t");
        },
    );
    let encoded = batch.encode().unwrap();
    // BATCH_BEGIN (20 bytes), then the table message.
    let table = &encoded.batch[20..];
    let len = u32::from_ne_bytes([table[0], table[1], table[2], table[3]]);
    assert_eq!(
        len,
        16 + 4 + 8,
        "headers + one string attribute padded to 4"
    );
    assert_eq!(u16::from_ne_bytes([table[4], table[5]]), 0x0a00);
    assert_eq!(u16::from_ne_bytes([table[6], table[7]]), 0x1 | 0x400);
    assert_eq!(table[16], TableFamily::Inet.number());
    assert_eq!(&table[20..28], &[6, 0, 1, 0, b't', 0, 0, 0]);
    assert_eq!(encoded.what.get(&2).map(String::as_str), Some("table"));
    assert_eq!(encoded.barrier_seq, 4);
}

fn one_message(fill: impl FnOnce(&mut Attrs<'_>)) -> Result<Encoded, EncodeError> {
    let mut batch = Batch::new(1);
    batch.add("set big".into(), TableFamily::Inet, msg::NEWSET, 0, fill);
    batch.encode()
}

#[test]
fn an_attribute_longer_than_its_length_field_fails_the_batch_instead_of_wrapping() {
    // The largest attribute that fits: 4 bytes of header and 65531 of data.
    let fits = one_message(|a| {
        a.put(attr::SET_NAME, &vec![7; MAX_ATTR_LEN - 4]);
    })
    .unwrap();
    let attr_len = u16::from_ne_bytes([fits.batch[40], fits.batch[41]]);
    assert_eq!(usize::from(attr_len), MAX_ATTR_LEN);
    // One byte more used to be sent with its length clamped to 65535: a corrupt message.
    let error = one_message(|a| {
        a.put(attr::SET_NAME, &vec![7; MAX_ATTR_LEN - 3]);
    })
    .unwrap_err();
    assert_eq!(
        error,
        EncodeError::TooLong {
            what: "set big".into(),
            kind: attr::SET_NAME,
            len: MAX_ATTR_LEN + 1,
            max: MAX_ATTR_LEN,
        }
    );
    assert!(!error.retryable());
    assert_eq!(error.fault(), crate::error::Fault::Bug);
}

#[test]
fn a_nest_whose_parts_add_up_past_the_length_field_fails_the_batch() {
    // Elements of 1 KB each: no attribute alone is too long, their nest is.
    let error = one_message(|a| {
        a.nest(attr::ELEM_LIST_ELEMENTS, |list| {
            for _ in 0..70 {
                list.put(attr::LIST_ELEM, &[1; 1000]);
            }
        });
    })
    .unwrap_err();
    assert!(
        error.to_string().starts_with("nftables: set big: "),
        "{error}"
    );
    let EncodeError::TooLong { kind, len, .. } = error;
    assert_eq!(kind, attr::ELEM_LIST_ELEMENTS | NLA_F_NESTED);
    assert_eq!(len, 4 + 70 * 1004);
}

#[test]
fn the_first_overflow_is_reported_and_later_messages_do_not_hide_it() {
    let mut batch = Batch::new(1);
    batch.add("first".into(), TableFamily::Inet, msg::NEWSET, 0, |a| {
        a.put(1, &vec![0; 70_000]);
    });
    batch.add("second".into(), TableFamily::Inet, msg::NEWSET, 0, |a| {
        a.put(1, &vec![0; 80_000]);
    });
    batch.add("fine".into(), TableFamily::Inet, msg::NEWTABLE, 0, |a| {
        a.str(attr::TABLE_NAME, "t");
    });
    match batch.encode() {
        Err(EncodeError::TooLong { what, .. }) => assert_eq!(what, "first"),
        other => panic!("{other:?}"),
    }
}
