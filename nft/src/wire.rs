//! nf_tables netlink messages, encoded by hand: the message and attribute layout of
//! `include/uapi/linux/netfilter/nf_tables.h` and `nfnetlink.h`, cross-checked against
//! `nft --debug=mnl` (nft 1.0.6). Pure: a [`Batch`] is bytes; `socket.rs` sends them.
//!
//! Byte order: netlink and attribute headers are host order; every u32 attribute *value* is
//! big-endian; data values are raw register bytes (addresses and ports in network order).
//!
//! Length fields are 16 bits for attributes and 32 for messages. A length that does not fit
//! is remembered while the message is written and makes [`Batch::encode`] fail: a message
//! with a wrapped length would be read by the kernel as something else.

use std::collections::HashMap;

use crate::error::EncodeError;
use crate::family::TableFamily;

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
/// The most an attribute's 16-bit length field holds (header included).
pub const MAX_ATTR_LEN: usize = u16::MAX as usize;

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

/// A length that did not fit its field, noticed while writing.
#[derive(Debug, Clone, Copy)]
struct Overflow {
    kind: u16,
    len: usize,
    max: usize,
}

/// Writes attributes (type-length-value, 4-byte aligned) into a message.
pub struct Attrs<'a> {
    buf: &'a mut Vec<u8>,
    overflow: &'a mut Option<Overflow>,
}

impl Attrs<'_> {
    /// A raw attribute.
    pub fn put(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let len = self.length(kind, 4 + data.len());
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
        let kind = kind | NLA_F_NESTED;
        self.buf.extend_from_slice(&[0, 0]);
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        fill(&mut Attrs {
            buf: self.buf,
            overflow: self.overflow,
        });
        let len = self.length(kind, self.buf.len() - start);
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// `kind { DATA_VALUE = bytes }`.
    pub fn value(&mut self, kind: u16, bytes: &[u8]) -> &mut Self {
        self.nest(kind, |a| {
            a.put(attr::DATA_VALUE, bytes);
        })
    }

    /// One expression of a rule: `LIST_ELEM { NAME, DATA { ... } }`.
    pub fn expr(&mut self, name: &str, fill: impl FnOnce(&mut Attrs<'_>)) -> &mut Self {
        self.nest(attr::LIST_ELEM, |a| {
            a.str(attr::EXPR_NAME, name);
            a.nest(attr::EXPR_DATA, fill);
        })
    }

    /// `len` as a length field; the first length too large is remembered (and 0 written in
    /// its place: the batch will not be encoded).
    fn length(&mut self, kind: u16, len: usize) -> u16 {
        u16::try_from(len).unwrap_or_else(|_| {
            self.overflow.get_or_insert(Overflow {
                kind,
                len,
                max: MAX_ATTR_LEN,
            });
            0
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
    /// The first length that did not fit, with the message it is in.
    error: Option<EncodeError>,
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
        let mut overflow = None;
        let begin = Header {
            kind: NFNL_MSG_BATCH_BEGIN,
            flags: NLM_F_REQUEST,
            seq: first_seq,
            family: 0,
            res_id: NFNL_SUBSYS_NFTABLES,
        };
        begin.write(&mut buf, &mut overflow, |_| {});
        Batch {
            buf,
            next_seq: first_seq + 1,
            what: HashMap::new(),
            error: None,
        }
    }

    /// Adds one nf_tables message for a table of `family`; `what` names it in errors. No ack
    /// is asked for: the kernel answers only the messages it refuses, so a transaction of
    /// thousands of messages does not flood the socket with acks.
    pub fn add(
        &mut self,
        what: String,
        family: TableFamily,
        kind: u8,
        flags: u16,
        fill: impl FnOnce(&mut Attrs<'_>),
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let header = Header {
            kind: (NFNL_SUBSYS_NFTABLES << 8) | u16::from(kind),
            flags: NLM_F_REQUEST | flags,
            seq,
            family: family.number(),
            res_id: 0,
        };
        let mut overflow = None;
        header.write(&mut self.buf, &mut overflow, fill);
        if let Some(overflow) = overflow
            && self.error.is_none()
        {
            self.error = Some(EncodeError::TooLong {
                what: what.clone(),
                kind: overflow.kind,
                len: overflow.len,
                max: overflow.max,
            });
        }
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

    /// Closes the transaction; fails if a length did not fit its field.
    pub fn encode(mut self) -> Result<Encoded, EncodeError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let end = self.next_seq;
        let mut overflow = None;
        let close = Header {
            kind: NFNL_MSG_BATCH_END,
            flags: NLM_F_REQUEST,
            seq: end,
            family: 0,
            res_id: NFNL_SUBSYS_NFTABLES,
        };
        close.write(&mut self.buf, &mut overflow, |_| {});
        let barrier_seq = end + 1;
        let mut barrier = Vec::new();
        let getgen = Header {
            kind: (NFNL_SUBSYS_NFTABLES << 8) | u16::from(msg::GETGEN),
            flags: NLM_F_REQUEST | NLM_F_ACK,
            seq: barrier_seq,
            family: 0,
            res_id: 0,
        };
        getgen.write(&mut barrier, &mut overflow, |_| {});
        Ok(Encoded {
            batch: self.buf,
            barrier,
            barrier_seq,
            what: self.what,
        })
    }
}

/// `nlmsghdr` + `nfgenmsg`.
struct Header {
    kind: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
}

impl Header {
    /// Appends the header and the attributes `fill` writes, and patches the length.
    fn write(
        &self,
        buf: &mut Vec<u8>,
        overflow: &mut Option<Overflow>,
        fill: impl FnOnce(&mut Attrs<'_>),
    ) {
        let start = buf.len();
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&self.kind.to_ne_bytes());
        buf.extend_from_slice(&self.flags.to_ne_bytes());
        buf.extend_from_slice(&self.seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.push(self.family);
        buf.push(0);
        buf.extend_from_slice(&self.res_id.to_be_bytes());
        fill(&mut Attrs { buf, overflow });
        let len = buf.len() - start;
        let len = u32::try_from(len).unwrap_or_else(|_| {
            overflow.get_or_insert(Overflow {
                kind: 0,
                len,
                max: u32::MAX as usize,
            });
            0
        });
        buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }
}

#[cfg(test)]
mod tests;
