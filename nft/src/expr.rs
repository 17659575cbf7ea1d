//! Typed nf_tables expressions: what a rule is made of, each able to write itself as the
//! kernel takes it (`LIST_ELEM { NAME, DATA { ... } }`, attribute numbers from
//! `nf_tables.h`). `render/rule.rs` reads the same values back as nft prints them.

use crate::family::Family;
use crate::wire::{Attrs, attr};

/// A register of the nf_tables VM: the verdict, the four 16-byte ones, or the sixteen 4-byte
/// ones that overlay them (concatenations are loaded into consecutive 4-byte registers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Register {
    /// `NFT_REG_VERDICT`.
    Verdict,
    /// `NFT_REG_1`..`NFT_REG_4` (1..=4).
    R(u8),
    /// `NFT_REG32_00`..`NFT_REG32_15` (0..=15).
    R32(u8),
}

impl Register {
    /// The first 16-byte register, where single values are loaded.
    pub const R1: Register = Register::R(1);

    /// The number the kernel takes.
    pub fn number(self) -> u32 {
        match self {
            Register::Verdict => 0,
            Register::R(n) => u32::from(n),
            Register::R32(n) => 8 + u32::from(n),
        }
    }

    /// Where it starts in the data registers, in bytes (`None` for the verdict).
    pub fn offset(self) -> Option<u32> {
        match self {
            Register::Verdict => None,
            Register::R(n) => Some((u32::from(n).saturating_sub(1)) * 16),
            Register::R32(n) => Some(u32::from(n) * 4),
        }
    }
}

/// What a `meta` expression loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum MetaKey {
    /// `meta nfproto`: the packet's IP version in an inet table (1 byte).
    NfProto,
    /// `meta l4proto`: the transport protocol number (1 byte).
    L4Proto,
}

impl MetaKey {
    fn number(self) -> u32 {
        match self {
            MetaKey::NfProto => 15,
            MetaKey::L4Proto => 16,
        }
    }
}

/// What a `ct` expression loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum CtKey {
    /// `ct state`: the connection's state bits, host order (4 bytes).
    State,
}

/// `ct state` bits.
pub mod ct_state {
    /// `invalid`.
    pub const INVALID: u32 = 1;
    /// `established`.
    pub const ESTABLISHED: u32 = 1 << 1;
    /// `related`.
    pub const RELATED: u32 = 1 << 2;
    /// `new`.
    pub const NEW: u32 = 1 << 3;
    /// `untracked`.
    pub const UNTRACKED: u32 = 1 << 6;
}

/// A header field a `payload` expression loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The source address of the network header.
    Source(Family),
    /// The destination address of the network header.
    Destination(Family),
    /// The transport header's source port (`th sport`).
    SourcePort,
    /// The transport header's destination port (`th dport`).
    DestinationPort,
}

impl Field {
    /// `NFT_PAYLOAD_NETWORK_HEADER` or `_TRANSPORT_HEADER`, the offset and the length.
    pub fn location(self) -> (u32, u32, u32) {
        const NETWORK: u32 = 1;
        const TRANSPORT: u32 = 2;
        match self {
            Field::Source(Family::Ipv4) => (NETWORK, 12, 4),
            Field::Destination(Family::Ipv4) => (NETWORK, 16, 4),
            Field::Source(Family::Ipv6) => (NETWORK, 8, 16),
            Field::Destination(Family::Ipv6) => (NETWORK, 24, 16),
            Field::SourcePort => (TRANSPORT, 0, 2),
            Field::DestinationPort => (TRANSPORT, 2, 2),
        }
    }

    /// The address field of `family` on one side: the source when `source`.
    pub fn address(family: Family, source: bool) -> Field {
        if source {
            Field::Source(family)
        } else {
            Field::Destination(family)
        }
    }
}

/// How `cmp` compares a register with its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CmpOp {
    /// Equal.
    Eq,
    /// Not equal.
    Neq,
}

/// A verdict, as rules and verdict maps carry it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Drop the packet.
    Drop,
    /// Accept it (in this hook).
    Accept,
    /// Continue in the named chain, coming back after it. Shared: thousands of map elements
    /// jump to the same few chains.
    Jump(std::sync::Arc<str>),
    /// Go back to the calling chain.
    Return,
}

impl Verdict {
    fn code(&self) -> i32 {
        match self {
            Verdict::Drop => 0,
            Verdict::Accept => 1,
            Verdict::Jump(_) => -3,
            Verdict::Return => -5,
        }
    }

    /// Writes `kind { DATA_VERDICT { CODE, CHAIN? } }`.
    pub(crate) fn encode(&self, a: &mut Attrs<'_>, kind: u16) {
        a.nest(kind, |a| {
            a.nest(attr::DATA_VERDICT, |a| {
                a.put(attr::VERDICT_CODE, &self.code().to_be_bytes());
                if let Verdict::Jump(chain) = self {
                    a.str(attr::VERDICT_CHAIN, chain);
                }
            });
        });
    }
}

/// One expression of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Expr {
    /// Loads packet metadata into `dreg`.
    Meta {
        /// What.
        key: MetaKey,
        /// Where.
        dreg: Register,
    },
    /// Loads a header field into `dreg`.
    Payload {
        /// What.
        field: Field,
        /// Where.
        dreg: Register,
    },
    /// Loads connection tracking state into `dreg`.
    Ct {
        /// What.
        key: CtKey,
        /// Where.
        dreg: Register,
    },
    /// `reg = (reg & mask) ^ xor`, over `mask.len()` bytes.
    Bitwise {
        /// Read and written.
        reg: Register,
        /// The mask.
        mask: Vec<u8>,
        /// The xor (zeroes for a plain mask).
        xor: Vec<u8>,
    },
    /// Stops the rule unless `sreg` compares as `op` with `data`.
    Cmp {
        /// The comparison.
        op: CmpOp,
        /// The register read.
        sreg: Register,
        /// Raw register bytes.
        data: Vec<u8>,
    },
    /// Looks `sreg` up in a set (stops the rule when absent, or present if `invert`), or in a
    /// map (its data goes to `dreg`; the verdict register for a verdict map).
    Lookup {
        /// The set's name.
        set: String,
        /// The key's first register.
        sreg: Register,
        /// Where a map's data goes.
        dreg: Option<Register>,
        /// Match when the key is absent.
        invert: bool,
    },
    /// Sets the verdict (`immediate` into the verdict register).
    Verdict(Verdict),
    /// Source NAT to the outgoing interface's address (`masq`).
    Masquerade,
}

impl Expr {
    /// Writes the expression; `set_id` gives the id of a set made in the same transaction
    /// (0 for one that exists: the kernel finds it by name).
    pub(crate) fn encode(&self, a: &mut Attrs<'_>, set_id: &dyn Fn(&str) -> u32) {
        match self {
            Expr::Meta { key, dreg } => {
                a.expr("meta", |e| {
                    e.u32(2, key.number()).u32(1, dreg.number());
                });
            }
            Expr::Payload { field, dreg } => {
                let (base, offset, len) = field.location();
                a.expr("payload", |e| {
                    e.u32(1, dreg.number())
                        .u32(2, base)
                        .u32(3, offset)
                        .u32(4, len);
                });
            }
            Expr::Ct { key, dreg } => {
                let key = match key {
                    CtKey::State => 0,
                };
                a.expr("ct", |e| {
                    e.u32(2, key).u32(1, dreg.number());
                });
            }
            Expr::Bitwise { reg, mask, xor } => {
                a.expr("bitwise", |e| {
                    // Register widths are at most 64 bytes: the length fits.
                    let len = u32::try_from(mask.len()).unwrap_or(u32::MAX);
                    e.u32(1, reg.number())
                        .u32(2, reg.number())
                        .u32(3, len)
                        .value(4, mask)
                        .value(5, xor);
                });
            }
            Expr::Cmp { op, sreg, data } => {
                let op = match op {
                    CmpOp::Eq => 0,
                    CmpOp::Neq => 1,
                };
                a.expr("cmp", |e| {
                    e.u32(1, sreg.number()).u32(2, op).value(3, data);
                });
            }
            Expr::Lookup {
                set,
                sreg,
                dreg,
                invert,
            } => {
                a.expr("lookup", |e| {
                    e.u32(2, sreg.number());
                    if let Some(dreg) = dreg {
                        e.u32(3, dreg.number());
                    }
                    e.str(1, set).u32(4, set_id(set));
                    if *invert {
                        e.u32(5, 1);
                    }
                });
            }
            Expr::Verdict(verdict) => {
                a.expr("immediate", |e| {
                    e.u32(1, Register::Verdict.number());
                    verdict.encode(e, 2);
                });
            }
            Expr::Masquerade => {
                a.expr("masq", |_| {});
            }
        }
    }

    /// The set it looks up, if any.
    pub fn set(&self) -> Option<&str> {
        match self {
            Expr::Lookup { set, .. } => Some(set),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
