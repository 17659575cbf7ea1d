//! The table model: one value describing a table (its chains with hooks, types, priorities
//! and policies; its sets and maps; rules as lists of typed [`Expr`]), from which both the
//! netlink transaction (`transaction.rs`, `diff.rs`) and the `nft list table` text
//! (`render.rs`) are made, so what is sent and what is shown cannot drift apart.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::expr::{CmpOp, CtKey, Expr, Field, MetaKey, Register, Verdict};
use crate::family::{Family, TableFamily};
use crate::set::Set;

/// A whole table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// `inet`, `ip`, `ip6`.
    pub family: TableFamily,
    /// Its name.
    pub name: String,
    /// Sets and maps, in the order they are made (and listed).
    pub sets: Vec<Set>,
    /// Chains, in the order they are made (and listed).
    pub chains: Vec<Chain>,
}

impl Table {
    /// An empty table.
    pub fn new(family: TableFamily, name: impl Into<String>) -> Table {
        Table {
            family,
            name: name.into(),
            sets: Vec::new(),
            chains: Vec::new(),
        }
    }

    /// The set named `name`.
    pub fn set(&self, name: &str) -> Option<&Set> {
        self.sets.iter().find(|set| set.name == name)
    }
}

/// A chain and its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Its name.
    pub name: String,
    /// Where a base chain hooks in; `None` for a chain reached only by jumps.
    pub base: Option<BaseChain>,
    /// Its rules, in order.
    pub rules: Vec<Rule>,
}

impl Chain {
    /// A chain reached by jumps.
    pub fn regular(name: impl Into<String>) -> Chain {
        Chain {
            name: name.into(),
            base: None,
            rules: Vec::new(),
        }
    }

    /// A base chain.
    pub fn base(name: impl Into<String>, base: BaseChain) -> Chain {
        Chain {
            name: name.into(),
            base: Some(base),
            rules: Vec::new(),
        }
    }
}

/// Where and how a base chain sees packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaseChain {
    /// `filter` or `nat`.
    pub kind: ChainType,
    /// The netfilter hook.
    pub hook: Hook,
    /// Lower runs first; nft names the standard ones (`filter` 0, `srcnat` 100, ...).
    pub priority: i32,
    /// What happens to packets no rule decides.
    pub policy: ChainPolicy,
}

/// A base chain's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainType {
    /// Filtering.
    Filter,
    /// Address translation (the first packet of a connection only).
    Nat,
}

impl ChainType {
    /// nft's name.
    pub fn name(self) -> &'static str {
        match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
        }
    }
}

/// The netfilter hooks of the ip, ip6 and inet families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hook {
    /// Before routing.
    Prerouting,
    /// To this host.
    Input,
    /// Routed through this host.
    Forward,
    /// From this host.
    Output,
    /// After routing, leaving.
    Postrouting,
}

impl Hook {
    /// `NF_INET_*`.
    pub fn number(self) -> u32 {
        match self {
            Hook::Prerouting => 0,
            Hook::Input => 1,
            Hook::Forward => 2,
            Hook::Output => 3,
            Hook::Postrouting => 4,
        }
    }

    /// nft's name.
    pub fn name(self) -> &'static str {
        match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        }
    }
}

/// A base chain's default verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainPolicy {
    /// Accept.
    Accept,
    /// Drop.
    Drop,
}

impl ChainPolicy {
    /// `NF_ACCEPT` or `NF_DROP`.
    pub fn number(self) -> u32 {
        match self {
            ChainPolicy::Drop => 0,
            ChainPolicy::Accept => 1,
        }
    }

    /// nft's name.
    pub fn name(self) -> &'static str {
        match self {
            ChainPolicy::Drop => "drop",
            ChainPolicy::Accept => "accept",
        }
    }
}

/// A rule: its expressions in order. The builder methods append the expressions nft emits
/// for the statement they are named after.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The expressions.
    pub exprs: Vec<Expr>,
}

impl Rule {
    /// An empty rule.
    pub fn new() -> Rule {
        Rule::default()
    }

    /// Appends one expression.
    pub fn push(mut self, expr: Expr) -> Rule {
        self.exprs.push(expr);
        self
    }

    /// `meta nfproto ipv4|ipv6`: the dependency of a network-header match in an inet table
    /// (nft prints it only through the `ip`/`ip6` that follows).
    pub fn family(self, family: Family) -> Rule {
        self.push(Expr::Meta {
            key: MetaKey::NfProto,
            dreg: Register::R1,
        })
        .push(Expr::Cmp {
            op: CmpOp::Eq,
            sreg: Register::R1,
            data: vec![family.nfproto()],
        })
    }

    /// `FIELD NET`: the address field is in `net` (a masked compare; a plain compare for a
    /// single address).
    pub fn field_in_net(self, field: Field, net: IpNet) -> Rule {
        let rule = self.push(Expr::Payload {
            field,
            dreg: Register::R1,
        });
        let rule = if net.prefix_len() < net.max_prefix_len() {
            let mask = address_bytes(net.netmask());
            let xor = vec![0; mask.len()];
            rule.push(Expr::Bitwise {
                reg: Register::R1,
                mask,
                xor,
            })
        } else {
            rule
        };
        rule.push(Expr::Cmp {
            op: CmpOp::Eq,
            sreg: Register::R1,
            data: address_bytes(net.network()),
        })
    }

    /// `FIELD @set` (or `FIELD != @set` when `invert`).
    pub fn field_in_set(self, field: Field, set: &str, invert: bool) -> Rule {
        self.push(Expr::Payload {
            field,
            dreg: Register::R1,
        })
        .push(Expr::Lookup {
            set: set.to_string(),
            sreg: Register::R1,
            dreg: None,
            invert,
        })
    }

    /// `FIELD vmap @map`.
    pub fn vmap(self, field: Field, map: &str) -> Rule {
        self.push(Expr::Payload {
            field,
            dreg: Register::R1,
        })
        .push(Expr::Lookup {
            set: map.to_string(),
            sreg: Register::R1,
            dreg: Some(Register::Verdict),
            invert: false,
        })
    }

    /// `ct state STATES`: any of the `ct_state` bits in `states`.
    pub fn ct_state(self, states: u32) -> Rule {
        self.push(Expr::Ct {
            key: CtKey::State,
            dreg: Register::R1,
        })
        .push(Expr::Bitwise {
            reg: Register::R1,
            mask: states.to_ne_bytes().to_vec(),
            xor: 0u32.to_ne_bytes().to_vec(),
        })
        .push(Expr::Cmp {
            op: CmpOp::Neq,
            sreg: Register::R1,
            data: 0u32.to_ne_bytes().to_vec(),
        })
    }

    /// Ends the rule with a verdict.
    pub fn verdict(self, verdict: Verdict) -> Rule {
        self.push(Expr::Verdict(verdict))
    }

    /// Ends the rule with `masquerade`.
    pub fn masquerade(self) -> Rule {
        self.push(Expr::Masquerade)
    }
}

/// An address's bytes, network order.
pub fn address_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    }
}
