//! A rule's expressions read back as the statement nft prints, the way nft's own
//! `netlink_delinearize` does it for what the model makes: loads fill registers, a `cmp` or
//! `lookup` prints what the registers hold against its data or set (a concatenation when a
//! set's key spans several), a `meta nfproto` compare is the dependency an `ip`/`ip6` field
//! implies (printed only when nothing implies it), and verdicts and `masquerade` end the line.

use std::collections::BTreeMap;

use super::value;
use crate::expr::{CmpOp, CtKey, Expr, Field, MetaKey, Register};
use crate::family::Family;
use crate::set::Set;
use crate::table::{Rule, Table};

/// What a register holds.
#[derive(Debug, Clone)]
struct Loaded {
    /// How nft names it: `ip saddr`, `meta l4proto`, ...
    text: String,
    kind: Kind,
    /// A mask applied by `bitwise`.
    mask: Option<Vec<u8>>,
}

/// How to print data compared with a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NfProto,
    L4Proto,
    Address,
    Port,
    CtState,
}

/// The rule as one line of `nft list`.
pub(super) fn text(table: &Table, rule: &Rule) -> String {
    let mut reader = Reader {
        table,
        registers: BTreeMap::new(),
        dependency: None,
        parts: Vec::new(),
    };
    for expr in &rule.exprs {
        reader.read(expr);
    }
    reader.flush_dependency();
    reader.parts.join(" ")
}

struct Reader<'t> {
    table: &'t Table,
    /// By byte offset in the data registers.
    registers: BTreeMap<u32, Loaded>,
    /// A `meta nfproto` match not yet implied by a field of its family.
    dependency: Option<Family>,
    parts: Vec<String>,
}

impl Reader<'_> {
    fn read(&mut self, expr: &Expr) {
        match expr {
            Expr::Meta { key, dreg } => {
                let (text, kind) = match key {
                    MetaKey::NfProto => ("meta nfproto", Kind::NfProto),
                    MetaKey::L4Proto => ("meta l4proto", Kind::L4Proto),
                };
                self.load(*dreg, text.to_string(), kind);
            }
            Expr::Payload { field, dreg } => {
                let (text, kind) = match field {
                    Field::Source(family) | Field::Destination(family) => {
                        if self.dependency == Some(*family) {
                            self.dependency = None;
                        }
                        let side = if matches!(field, Field::Source(_)) {
                            "saddr"
                        } else {
                            "daddr"
                        };
                        (format!("{} {side}", family.keyword()), Kind::Address)
                    }
                    Field::SourcePort => ("th sport".to_string(), Kind::Port),
                    Field::DestinationPort => ("th dport".to_string(), Kind::Port),
                };
                self.load(*dreg, text, kind);
            }
            Expr::Ct { key, dreg } => match key {
                CtKey::State => self.load(*dreg, "ct state".into(), Kind::CtState),
            },
            Expr::Bitwise { reg, mask, xor } => {
                let plain = xor.iter().all(|b| *b == 0);
                match reg.offset().and_then(|at| self.registers.get_mut(&at)) {
                    Some(loaded) if plain => loaded.mask = Some(mask.clone()),
                    _ => self.emit(format!("bitwise {}", value::hex(mask))),
                }
            }
            Expr::Cmp { op, sreg, data } => self.cmp(*op, *sreg, data),
            Expr::Lookup {
                set,
                sreg,
                dreg,
                invert,
            } => {
                let key = self.take_key(*sreg, set);
                let text = match (dreg, invert) {
                    (Some(Register::Verdict), _) => format!("{key} vmap @{set}"),
                    (Some(_), _) => format!("{key} map @{set}"),
                    (None, true) => format!("{key} != @{set}"),
                    (None, false) => format!("{key} @{set}"),
                };
                self.emit(text);
            }
            Expr::Verdict(verdict) => self.emit(super::verdict_text(verdict)),
            Expr::Masquerade => self.emit("masquerade".into()),
        }
    }

    fn load(&mut self, reg: Register, text: String, kind: Kind) {
        if let Some(at) = reg.offset() {
            self.registers.insert(
                at,
                Loaded {
                    text,
                    kind,
                    mask: None,
                },
            );
        }
    }

    fn cmp(&mut self, op: CmpOp, sreg: Register, data: &[u8]) {
        let Some(loaded) = sreg.offset().and_then(|at| self.registers.remove(&at)) else {
            self.emit(format!("cmp {}", value::hex(data)));
            return;
        };
        if loaded.kind == Kind::NfProto && op == CmpOp::Eq && loaded.mask.is_none() {
            let family = match data {
                [2] => Some(Family::Ipv4),
                [10] => Some(Family::Ipv6),
                _ => None,
            };
            if let Some(family) = family {
                self.flush_dependency();
                self.dependency = Some(family);
                return;
            }
        }
        let not = if op == CmpOp::Neq { "!= " } else { "" };
        let shown = match (loaded.kind, &loaded.mask) {
            (Kind::CtState, Some(mask)) if op == CmpOp::Neq && data.iter().all(|b| *b == 0) => {
                let bits = <[u8; 4]>::try_from(mask.as_slice()).map_or(0, u32::from_ne_bytes);
                self.emit(format!("{} {}", loaded.text, value::ct_states(bits)));
                return;
            }
            (Kind::Address, Some(mask)) => {
                let prefix: u32 = mask.iter().map(|b| b.count_ones()).sum();
                format!("{}/{prefix}", value::address(data))
            }
            (Kind::Address, None) => value::address(data),
            (Kind::CtState, None) => {
                let bits = <[u8; 4]>::try_from(data).map_or(0, u32::from_ne_bytes);
                value::ct_states(bits)
            }
            (Kind::NfProto, None) => match data {
                [2] => "ipv4".into(),
                [10] => "ipv6".into(),
                _ => value::hex(data),
            },
            (Kind::L4Proto, None) => data
                .first()
                .map_or_else(|| value::hex(data), |p| value::protocol((*p).into())),
            (Kind::Port, None) => <[u8; 2]>::try_from(data)
                .map_or_else(|_| value::hex(data), |p| u16::from_be_bytes(p).to_string()),
            (_, Some(mask)) => format!("& {} {}", value::hex(mask), value::hex(data)),
        };
        self.emit(format!("{} {not}{shown}", loaded.text));
    }

    /// The key a lookup reads: the register at `sreg`, or for a concatenated key every
    /// register its width spans, joined by ` . `.
    fn take_key(&mut self, sreg: Register, set: &str) -> String {
        let Some(start) = sreg.offset() else {
            return String::new();
        };
        let width = self.table.set(set).map_or(1, Set::key_len);
        let offsets: Vec<u32> = self
            .registers
            .range(start..start + width.max(1))
            .map(|(at, _)| *at)
            .collect();
        let texts: Vec<String> = offsets
            .iter()
            .filter_map(|at| self.registers.remove(at))
            .map(|loaded| loaded.text)
            .collect();
        texts.join(" . ")
    }

    fn emit(&mut self, part: String) {
        self.flush_dependency();
        self.parts.push(part);
    }

    /// Prints a family match nothing implied.
    fn flush_dependency(&mut self) {
        if let Some(family) = self.dependency.take() {
            let name = match family {
                Family::Ipv4 => "ipv4",
                Family::Ipv6 => "ipv6",
            };
            self.parts.push(format!("meta nfproto {name}"));
        }
    }
}
