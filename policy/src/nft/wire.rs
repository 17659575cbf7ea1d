//! nf_tables netlink messages, encoded by hand: the message and attribute layout of
//! `include/uapi/linux/netfilter/nf_tables.h` and `nfnetlink.h`, cross-checked against
//! `nft --debug=mnl` (nft 1.0.6). Pure: a [`Batch`] is bytes; `socket.rs` sends them.
//!
//! Byte order: netlink and attribute headers are host order; every u32 attribute *value* is
//! big-endian; data values are raw register bytes (addresses and ports in network order).

use std::collections::HashMap;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
/// Create the object if missing (without EXCL: no error if it exists).
pub const NLM_F_CREATE: u16 = 0x400;
/// Append a rule at the end of its chain.
pub const NLM_F_APPEND: u16 = 0x800;
const NLA_F_NESTED: u16 = 0x8000;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFPROTO_INET: u8 = 1;

/// nf_tables message types (the low byte of the netlink type).
pub mod msg {
    /// Add a table.
    pub const NEWTABLE: u8 = 0;
    /// Delete a table and everything in it.
    pub const DELTABLE: u8 = 2;
    /// Add a chain.
    pub const NEWCHAIN: u8 = 3;
    /// Delete a chain (and its rules).
    pub const DELCHAIN: u8 = 5;
    /// Add a rule.
    pub const NEWRULE: u8 = 6;
    /// Delete a rule (without a handle: every rule of the chain).
    pub const DELRULE: u8 = 8;
    /// Add a set or map.
    pub const NEWSET: u8 = 9;
    /// Delete a set or map.
    pub const DELSET: u8 = 11;
    /// Add set elements.
    pub const NEWSETELEM: u8 = 12;
    /// Delete set elements.
    pub const DELSETELEM: u8 = 14;
    /// Ask for the ruleset generation: the ack barrier after a batch.
    pub const GETGEN: u8 = 16;
}

/// Attribute numbers.
#[allow(missing_docs)] // Names are the kernel's; see nf_tables.h.
pub mod attr {
    pub const TABLE_NAME: u16 = 1;
    pub const CHAIN_TABLE: u16 = 1;
    pub const CHAIN_NAME: u16 = 3;
    pub const CHAIN_HOOK: u16 = 4;
    pub const CHAIN_POLICY: u16 = 5;
    pub const CHAIN_TYPE: u16 = 7;
    pub const HOOK_HOOKNUM: u16 = 1;
    pub const HOOK_PRIORITY: u16 = 2;
    pub const RULE_TABLE: u16 = 1;
    pub const RULE_CHAIN: u16 = 2;
    pub const RULE_EXPRESSIONS: u16 = 4;
    pub const SET_TABLE: u16 = 1;
    pub const SET_NAME: u16 = 2;
    pub const SET_FLAGS: u16 = 3;
    pub const SET_KEY_TYPE: u16 = 4;
    pub const SET_KEY_LEN: u16 = 5;
    pub const SET_DATA_TYPE: u16 = 6;
    pub const SET_DATA_LEN: u16 = 7;
    pub const SET_DESC: u16 = 9;
    pub const SET_ID: u16 = 10;
    pub const SET_DESC_CONCAT: u16 = 2;
    pub const LIST_ELEM: u16 = 1;
    pub const SET_FIELD_LEN: u16 = 1;
    pub const ELEM_LIST_TABLE: u16 = 1;
    pub const ELEM_LIST_SET: u16 = 2;
    pub const ELEM_LIST_ELEMENTS: u16 = 3;
    pub const ELEM_LIST_SET_ID: u16 = 4;
    pub const ELEM_KEY: u16 = 1;
    pub const ELEM_DATA: u16 = 2;
    pub const ELEM_FLAGS: u16 = 3;
    pub const ELEM_KEY_END: u16 = 10;
    pub const DATA_VALUE: u16 = 1;
    pub const DATA_VERDICT: u16 = 2;
    pub const VERDICT_CODE: u16 = 1;
    pub const VERDICT_CHAIN: u16 = 2;
    pub const EXPR_NAME: u16 = 1;
    pub const EXPR_DATA: u16 = 2;
}

/// Set flags.
pub const SET_INTERVAL: u32 = 0x4;
/// A map (elements carry data).
pub const SET_MAP: u32 = 0x8;
/// A concatenated key.
pub const SET_CONCAT: u32 = 0x80;
/// An interval set element that ends the interval before it.
pub const ELEM_INTERVAL_END: u32 = 0x1;
/// The data type of verdict maps.
pub const DATA_VERDICT: u32 = 0xffff_ff00;

/// nft's data types, which `nft list` uses to print keys.
pub mod types {
    /// ipv4_addr.
    pub const IPV4: u32 = 7;
    /// ipv6_addr.
    pub const IPV6: u32 = 8;
    /// inet_proto.
    pub const INET_PROTO: u32 = 12;
    /// inet_service.
    pub const INET_SERVICE: u32 = 13;
}

/// The type of a concatenated key: the first field in the highest bits, 6 bits each.
pub fn concat_type(fields: &[u32]) -> u32 {
    fields.iter().fold(0, |acc, t| (acc << 6) | t)
}

/// Registers: 0 is the verdict; 8 and up are the 4-byte registers `NFT_REG32_00`...
pub mod reg {
    /// The verdict register.
    pub const VERDICT: u32 = 0;
    /// The first 16-byte register.
    pub const R1: u32 = 1;
    /// `NFT_REG32_00`, where concatenations start.
    pub const R32_00: u32 = 8;
}

/// A verdict, as rules and maps carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Drop the packet.
    Drop,
    /// Accept it (in this hook).
    Accept,
    /// Continue in a chain, coming back after it.
    Jump,
    /// Go back to the calling chain.
    Return,
}

impl Verdict {
    fn code(self) -> i32 {
        match self {
            Verdict::Drop => 0,
            Verdict::Accept => 1,
            Verdict::Jump => -3,
            Verdict::Return => -5,
        }
    }
}

/// Writes attributes (type-length-value, 4-byte aligned) into a message.
pub struct Attrs<'a> {
    buf: &'a mut Vec<u8>,
}

impl Attrs<'_> {
    /// A raw attribute.
    pub fn put(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        // Attributes here are at most a few hundred bytes (names, keys): u16 holds them.
        let len = u16::try_from(4 + data.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        pad(self.buf);
        self
    }

    /// A big-endian u32.
    pub fn u32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.put(kind, &value.to_be_bytes())
    }

    /// A NUL-terminated string.
    pub fn str(&mut self, kind: u16, text: &str) -> &mut Self {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(0);
        self.put(kind, &bytes)
    }

    /// A nested attribute.
    pub fn nest(&mut self, kind: u16, fill: impl FnOnce(&mut Attrs<'_>)) -> &mut Self {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        fill(&mut Attrs { buf: self.buf });
        let len = u16::try_from(self.buf.len() - start).unwrap_or(u16::MAX);
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// `kind { DATA_VALUE = bytes }`.
    pub fn value(&mut self, kind: u16, bytes: &[u8]) -> &mut Self {
        self.nest(kind, |a| {
            a.put(attr::DATA_VALUE, bytes);
        })
    }

    /// `kind { DATA_VERDICT { CODE, CHAIN? } }`.
    pub fn verdict(&mut self, kind: u16, verdict: Verdict, chain: Option<&str>) -> &mut Self {
        self.nest(kind, |a| {
            a.nest(attr::DATA_VERDICT, |a| {
                a.put(attr::VERDICT_CODE, &verdict.code().to_be_bytes());
                if let Some(chain) = chain {
                    a.str(attr::VERDICT_CHAIN, chain);
                }
            });
        })
    }

    /// One expression of a rule: `LIST_ELEM { NAME, DATA { ... } }`.
    pub fn expr(&mut self, name: &str, fill: impl FnOnce(&mut Attrs<'_>)) -> &mut Self {
        self.nest(attr::LIST_ELEM, |a| {
            a.str(attr::EXPR_NAME, name);
            a.nest(attr::EXPR_DATA, fill);
        })
    }
}

fn pad(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// One transaction: BATCH_BEGIN, messages, BATCH_END. The kernel applies all of it or none.
#[derive(Debug)]
pub struct Batch {
    buf: Vec<u8>,
    next_seq: u32,
    /// What each message does, by sequence number, to name a refused one.
    what: HashMap<u32, String>,
}

/// A batch ready to send, with the barrier to send after it.
#[derive(Debug)]
pub struct Encoded {
    /// The transaction.
    pub batch: Vec<u8>,
    /// A GETGEN request whose ack arrives after every answer to the batch; sent on its own,
    /// since nfnetlink ignores anything after BATCH_END in the same send.
    pub barrier: Vec<u8>,
    /// The barrier's sequence number.
    pub barrier_seq: u32,
    /// What each message does, by sequence number.
    pub what: HashMap<u32, String>,
}

impl Batch {
    /// An empty transaction; `first_seq` numbers its messages.
    pub fn new(first_seq: u32) -> Batch {
        let mut buf = Vec::with_capacity(4096);
        header(
            &mut buf,
            NFNL_MSG_BATCH_BEGIN,
            NLM_F_REQUEST,
            first_seq,
            0,
            NFNL_SUBSYS_NFTABLES,
            |_| {},
        );
        Batch {
            buf,
            next_seq: first_seq + 1,
            what: HashMap::new(),
        }
    }

    /// Adds one message of the `inet` family; `what` names it in errors. No ack is asked
    /// for: the kernel answers only the messages it refuses, so a transaction of thousands of
    /// messages does not flood the socket with acks.
    pub fn add(&mut self, what: String, kind: u8, flags: u16, fill: impl FnOnce(&mut Attrs<'_>)) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let kind = (NFNL_SUBSYS_NFTABLES << 8) | u16::from(kind);
        header(
            &mut self.buf,
            kind,
            NLM_F_REQUEST | flags,
            seq,
            NFPROTO_INET,
            0,
            fill,
        );
        self.what.insert(seq, what);
    }

    /// How many messages it holds.
    pub fn len(&self) -> usize {
        self.what.len()
    }

    /// True when it holds no message.
    pub fn is_empty(&self) -> bool {
        self.what.is_empty()
    }

    /// Closes the transaction.
    pub fn encode(mut self) -> Encoded {
        let end = self.next_seq;
        header(
            &mut self.buf,
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            end,
            0,
            NFNL_SUBSYS_NFTABLES,
            |_| {},
        );
        let barrier_seq = end + 1;
        let mut barrier = Vec::new();
        let kind = (NFNL_SUBSYS_NFTABLES << 8) | u16::from(msg::GETGEN);
        header(
            &mut barrier,
            kind,
            NLM_F_REQUEST | NLM_F_ACK,
            barrier_seq,
            0,
            0,
            |_| {},
        );
        Encoded {
            batch: self.buf,
            barrier,
            barrier_seq,
            what: self.what,
        }
    }
}

/// Appends `nlmsghdr` + `nfgenmsg` + attributes, and patches the length.
fn header(
    buf: &mut Vec<u8>,
    kind: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
    fill: impl FnOnce(&mut Attrs<'_>),
) {
    let start = buf.len();
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.push(family);
    buf.push(0);
    buf.extend_from_slice(&res_id.to_be_bytes());
    fill(&mut Attrs { buf });
    let len = u32::try_from(buf.len() - start).unwrap_or(u32::MAX);
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_message_is_laid_out_as_nft_sends_it() {
        let mut batch = Batch::new(1);
        batch.add("table".into(), msg::NEWTABLE, NLM_F_CREATE, |a| {
            a.str(attr::TABLE_NAME, "t");
        });
        let encoded = batch.encode();
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
        assert_eq!(table[16], NFPROTO_INET);
        assert_eq!(&table[20..28], &[6, 0, 1, 0, b't', 0, 0, 0]);
        assert_eq!(encoded.what.get(&2).map(String::as_str), Some("table"));
        assert_eq!(encoded.barrier_seq, 4);
    }

    #[test]
    fn concatenated_types_put_the_first_field_highest() {
        assert_eq!(
            concat_type(&[types::IPV4, types::INET_PROTO, types::INET_SERVICE]),
            0x730d
        );
    }
}
