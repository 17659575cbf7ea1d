//! A [`Ruleset`] as the `inet portcullis` table model.
//!
//! Layout, constant per packet whatever the number of policies: the `forward` chain accepts
//! established traffic, then looks the source up in `egress4`/`egress6` and the destination in
//! `ingress4`/`ingress6`, verdict maps from a pod address to that pod's chain. A pod's chain
//! looks the peer up in its sets (`-a4`/`-a6`: peers on any port; `-p4`/`-p6`: `address .
//! protocol . port` with intervals) and drops what they do not hold. Egress chains `return`
//! on a match, so the destination's ingress is still checked; ingress chains `accept`.
//!
//! Model order is the order things are made and listed: the maps, `known4`/`known6`, each
//! allowance's sets (ingress, then egress, by id); then `forward` and the allowance chains.

use std::collections::HashMap;
use std::sync::Arc;

use portcullis_nft::{
    BaseChain, Chain, ChainPolicy, ChainType, Element, Expr, Family, Field, Hook, Interval,
    KeyType, MetaKey, Register, Rule, Set, Table, TableFamily, Verdict, ct_state,
};

use crate::intervals::AddrRange;
use crate::ruleset::{Allow, Ruleset};

/// The table every rule lives in; nothing else is touched.
pub const TABLE: &str = "portcullis";

/// The verdict maps as (ingress, family), in the order the `forward` chain looks them up:
/// egress first, since egress chains return on a match so the destination's ingress is
/// checked next.
pub const MAPS: [(bool, Family); 4] = [
    (false, Family::Ipv4),
    (false, Family::Ipv6),
    (true, Family::Ipv4),
    (true, Family::Ipv6),
];

/// The whole table for `ruleset`.
pub fn table(ruleset: &Ruleset) -> Table {
    let mut table = Table::new(TableFamily::Inet, TABLE);
    for (ingress, family) in MAPS {
        table.sets.push(verdict_map(ruleset, ingress, family));
    }
    for family in Family::ALL {
        let known = ruleset
            .known
            .iter()
            .filter(|ip| Family::of(**ip) == family)
            .map(|ip| Element::addr(*ip))
            .collect();
        let set = Set::new(known_set(family), KeyType::addr(family)).with_elements(known);
        table.sets.push(set);
    }
    table.chains.push(forward_chain(ruleset));
    for (ingress, allows) in [(true, &ruleset.ingress), (false, &ruleset.egress)] {
        for (id, allow) in allows {
            let sets = pod_sets(id, ingress, allow);
            table
                .chains
                .push(allowance_chain(id, ingress, allow, &sets));
            table.sets.extend(sets);
        }
    }
    table
}

/// The verdict map of one family and direction.
pub fn map_name(ingress: bool, family: Family) -> String {
    let direction = if ingress { "ingress" } else { "egress" };
    format!("{direction}{}", family.digit())
}

/// The set of this node's known pod addresses of one family.
pub fn known_set(family: Family) -> String {
    format!("known{}", family.digit())
}

/// The name of a pod's chain: `in-ID` for ingress, `out-ID` for egress.
pub fn chain_name(ingress: bool, id: &str) -> String {
    format!("{}-{id}", if ingress { "in" } else { "out" })
}

/// A verdict map: each pod address of the family → its allowance's chain.
fn verdict_map(ruleset: &Ruleset, ingress: bool, family: Family) -> Set {
    // One name per allowance, shared by the elements of every pod that has it.
    let mut chains: HashMap<&str, Arc<str>> = HashMap::new();
    let mut elements = Vec::new();
    for pod in &ruleset.pods {
        let Some(allow) = pod.allowance(ingress) else {
            continue;
        };
        let chain = chains
            .entry(allow)
            .or_insert_with(|| chain_name(ingress, allow).into());
        elements.extend(
            pod.ips
                .iter()
                .filter(|ip| Family::of(**ip) == family)
                .map(|ip| Element::addr(*ip).jump(Arc::clone(chain))),
        );
    }
    Set::new(map_name(ingress, family), KeyType::addr(family))
        .verdict_map()
        .with_elements(elements)
}

/// `forward`: established traffic, the guard of unknown pod addresses, the four maps.
fn forward_chain(ruleset: &Ruleset) -> Chain {
    let mut chain = Chain::base(
        "forward",
        BaseChain {
            kind: ChainType::Filter,
            hook: Hook::Forward,
            priority: 0,
            policy: ChainPolicy::Accept,
        },
    );
    chain.rules.push(
        Rule::new()
            .ct_state(ct_state::ESTABLISHED | ct_state::RELATED)
            .verdict(Verdict::Accept),
    );
    // An address of this node's pod CIDRs that no known pod holds: a pod the agent has not
    // seen yet. Nothing passes to or from it until its rules are in.
    for net in &ruleset.guarded {
        let family = Family::of(net.addr());
        for source in [true, false] {
            let field = Field::address(family, source);
            chain.rules.push(
                Rule::new()
                    .family(family)
                    .field_in_net(field, *net)
                    .field_in_set(field, &known_set(family), true)
                    .verdict(Verdict::Drop),
            );
        }
    }
    for (ingress, family) in MAPS {
        // Egress looks the source up, ingress the destination.
        let field = Field::address(family, !ingress);
        chain.rules.push(
            Rule::new()
                .family(family)
                .vmap(field, &map_name(ingress, family)),
        );
    }
    chain
}

/// The sets of one allowance, in the order they are made and looked up: any-port peers
/// (IPv4, IPv6), then ported peers (IPv4, IPv6); only non-empty ones.
fn pod_sets(id: &str, ingress: bool, allow: &Allow) -> Vec<Set> {
    let mut sets = Vec::new();
    if allow.everything {
        return sets;
    }
    let prefix = if ingress { "in" } else { "out" };
    for family in Family::ALL {
        let peers: Vec<Element> = allow
            .peers
            .iter()
            .filter(|r| family_of(r) == family)
            .map(|r| Element::new([addrs(r)]))
            .collect();
        if !peers.is_empty() {
            let name = format!("{prefix}-{id}-a{}", family.digit());
            let set = Set::new(name, KeyType::addr(family)).interval();
            sets.push(set.with_elements(peers));
        }
    }
    for family in Family::ALL {
        let ported: Vec<Element> = allow
            .ported
            .iter()
            .filter(|p| family_of(&p.addrs) == family)
            .map(|p| {
                Element::new([
                    addrs(&p.addrs),
                    Interval::proto(p.protocol.number()),
                    Interval::ports(p.ports.0, p.ports.1),
                ])
            })
            .collect();
        if !ported.is_empty() {
            let name = format!("{prefix}-{id}-p{}", family.digit());
            let key = vec![
                KeyType::addr(family),
                KeyType::InetProto,
                KeyType::InetService,
            ];
            let set = Set {
                name,
                key,
                verdict_map: false,
                interval: true,
                elements: ported,
            };
            sets.push(set);
        }
    }
    sets
}

/// An allowance's chain: a lookup in each of its sets, then the verdict for everything
/// else.
fn allowance_chain(id: &str, ingress: bool, allow: &Allow, sets: &[Set]) -> Chain {
    let on_match = if ingress {
        Verdict::Accept
    } else {
        Verdict::Return
    };
    let mut chain = Chain::regular(chain_name(ingress, id));
    for set in sets {
        let family = match set.key.first() {
            Some(KeyType::Ipv6Addr) => Family::Ipv6,
            _ => Family::Ipv4,
        };
        // The peer is the source for ingress, the destination for egress.
        let field = Field::address(family, ingress);
        let rule = Rule::new().family(family);
        let rule = if set.is_concat() {
            let after = u8::try_from(family.addr_len() / 4).unwrap_or(4);
            rule.push(Expr::Payload {
                field,
                dreg: Register::R32(0),
            })
            .push(Expr::Meta {
                key: MetaKey::L4Proto,
                dreg: Register::R32(after),
            })
            .push(Expr::Payload {
                field: Field::DestinationPort,
                dreg: Register::R32(after + 1),
            })
            .push(Expr::Lookup {
                set: set.name.clone(),
                sreg: Register::R32(0),
                dreg: None,
                invert: false,
            })
        } else {
            rule.field_in_set(field, &set.name, false)
        };
        chain.rules.push(rule.verdict(on_match.clone()));
    }
    let last = if allow.everything {
        on_match
    } else {
        Verdict::Drop
    };
    chain.rules.push(Rule::new().verdict(last));
    chain
}

fn family_of(range: &AddrRange) -> Family {
    if range.v6 { Family::Ipv6 } else { Family::Ipv4 }
}

fn addrs(range: &AddrRange) -> Interval {
    Interval::addrs(family_of(range), range.start, range.end)
}

#[cfg(test)]
mod tests;
