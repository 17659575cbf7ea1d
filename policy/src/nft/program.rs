//! A [`Ruleset`] as one nf_tables transaction that replaces the table `inet portcullis` whole
//! (add, delete, add again: the old table goes whether or not it existed, atomically).
//!
//! Layout, constant per packet whatever the number of policies: the `forward` chain accepts
//! established traffic, then looks the source up in `egress4`/`egress6` and the destination in
//! `ingress4`/`ingress6`, verdict maps from a pod address to that pod's chain. A pod's chain
//! looks the peer up in its sets (`-a4`/`-a6`: peers on any port; `-p4`/`-p6`: `address .
//! protocol . port` with intervals) and drops what they do not hold. Egress chains `return`
//! on a match, so the destination's ingress is still checked; ingress chains `accept`.

use std::net::IpAddr;

use crate::intervals::AddrRange;
use crate::ruleset::{Allow, PodRules, PortedPeers, Ruleset};

use super::wire::{
    Attrs, Batch, DATA_VERDICT, ELEM_INTERVAL_END, NLM_F_APPEND, NLM_F_CREATE, SET_CONCAT,
    SET_INTERVAL, SET_MAP, Verdict, attr, concat_type, msg, reg, types,
};

/// The table every rule lives in; nothing else is touched.
pub const TABLE: &str = "portcullis";

const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;
const META_NFPROTO: u32 = 15;
const META_L4PROTO: u32 = 16;
const PAYLOAD_NETWORK: u32 = 1;
const PAYLOAD_TRANSPORT: u32 = 2;
const CMP_EQ: u32 = 0;
const CMP_NEQ: u32 = 1;
/// `!=` on a set lookup.
const LOOKUP_INVERT: u32 = 1;
const CT_STATE: u32 = 0;
/// `ct state established,related`, as the ct expression's host-order bits.
const CT_ESTABLISHED_RELATED: u32 = (1 << 1) | (1 << 2);
const NF_INET_FORWARD: u32 = 2;
const NF_ACCEPT: u32 = 1;

/// Which way a pod chain looks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    /// The peer is the source for ingress, the destination for egress.
    fn peer_offset(self, v6: bool) -> u32 {
        match (self, v6) {
            (Direction::Ingress, false) => 12,
            (Direction::Egress, false) => 16,
            (Direction::Ingress, true) => 8,
            (Direction::Egress, true) => 24,
        }
    }

    fn on_match(self) -> Verdict {
        match self {
            Direction::Ingress => Verdict::Accept,
            Direction::Egress => Verdict::Return,
        }
    }
}

/// The transaction that makes the kernel's `inet portcullis` equal to `ruleset`.
pub fn replace_table(ruleset: &Ruleset) -> Batch {
    let mut program = Program::new();
    program.table(msg::NEWTABLE);
    program.table(msg::DELTABLE);
    program.table(msg::NEWTABLE);
    // Sets first (rules look them up), then chains (map elements jump to them), then the
    // maps' elements, then rules.
    let mut map_ids = Vec::new();
    for (ingress, v6) in MAPS {
        let direction = if ingress {
            Direction::Ingress
        } else {
            Direction::Egress
        };
        let name = map_name(v6, ingress);
        map_ids.push((name, v6, direction, program.verdict_map(name, v6)));
    }
    // Set ids of `known4` and `known6`.
    let known_ids = [false, true].map(|v6| {
        let key = if v6 {
            (types::IPV6, 16)
        } else {
            (types::IPV4, 4)
        };
        let id = program.set(known_set(v6), 0, key, &[], false);
        program.elements(
            msg::NEWSETELEM,
            known_set(v6),
            id,
            known_elements(ruleset, v6),
        );
        id
    });
    // One chain (and its sets) per distinct allowance, shared by the pods allowed the same.
    let mut allow_sets = Vec::new();
    for direction in [Direction::Ingress, Direction::Egress] {
        for (id, allow) in ruleset.allowances(direction == Direction::Ingress) {
            let sets = program.pod_sets(id, direction == Direction::Ingress, allow);
            allow_sets.push((id, allow, direction, sets));
        }
    }
    program.chain("forward", true);
    for (id, _, direction, _) in &allow_sets {
        program.chain(&chain_name(*direction == Direction::Ingress, id), false);
    }
    for (name, v6, direction, id) in &map_ids {
        let pods: Vec<&PodRules> = ruleset.pods.iter().collect();
        let entries = map_elements(&pods, *v6, *direction == Direction::Ingress);
        program.elements(msg::NEWSETELEM, name, *id, entries);
    }
    program.rule("forward", |a| {
        ct_established(a);
        immediate(a, Verdict::Accept, None);
    });
    // An address of this node's pod CIDRs that no known pod holds: a pod the agent has not
    // seen yet. Nothing passes to or from it until its rules are in.
    for net in &ruleset.guarded {
        let v6 = net.addr().is_ipv6();
        let (set, id) = (known_set(v6), known_ids[usize::from(v6)]);
        let len = if v6 { 16 } else { 4 };
        for offset in if v6 { [8, 24] } else { [12, 16] } {
            program.rule("forward", |a| {
                family(a, v6);
                payload(a, PAYLOAD_NETWORK, offset, len, reg::R1);
                if net.prefix_len() < net.max_prefix_len() {
                    let mask = address_bytes(net.netmask());
                    a.expr("bitwise", |e| {
                        e.u32(1, reg::R1)
                            .u32(2, reg::R1)
                            .u32(3, len)
                            .value(4, &mask)
                            .value(5, &vec![0; len as usize]);
                    });
                }
                cmp(a, CMP_EQ, reg::R1, &address_bytes(net.network()));
                payload(a, PAYLOAD_NETWORK, offset, len, reg::R1);
                a.expr("lookup", |e| {
                    e.u32(2, reg::R1)
                        .str(1, set)
                        .u32(4, id)
                        .u32(5, LOOKUP_INVERT);
                });
                immediate(a, Verdict::Drop, None);
            });
        }
    }
    for (name, v6, direction, id) in map_ids {
        program.rule("forward", |a| {
            family(a, v6);
            let (offset, len) = match (direction, v6) {
                (Direction::Egress, false) => (12, 4),
                (Direction::Ingress, false) => (16, 4),
                (Direction::Egress, true) => (8, 16),
                (Direction::Ingress, true) => (24, 16),
            };
            payload(a, PAYLOAD_NETWORK, offset, len, reg::R1);
            lookup(a, name, id, reg::R1, Some(reg::VERDICT));
        });
    }
    for (id, allow, direction, sets) in allow_sets {
        program.allowance_rules(id, allow, direction == Direction::Ingress, &sets);
    }
    program.batch
}

/// The set of this node's known pod addresses of one family.
pub(super) fn known_set(v6: bool) -> &'static str {
    if v6 { "known6" } else { "known4" }
}

/// The elements of `known4` or `known6`.
fn known_elements(ruleset: &Ruleset, v6: bool) -> Vec<Element> {
    ruleset
        .known
        .iter()
        .filter(|ip| ip.is_ipv6() == v6)
        .map(|ip| known_element(*ip))
        .collect()
}

/// A pod address as an element of `known4` or `known6`.
pub(super) fn known_element(ip: IpAddr) -> Element {
    Element::Key {
        key: address_bytes(ip),
        end: false,
    }
}

/// The verdict maps as (ingress, IPv6), in the order the `forward` chain looks them up:
/// egress first, since egress chains return on a match so the destination's ingress is
/// checked next.
pub(crate) const MAPS: [(bool, bool); 4] =
    [(false, false), (false, true), (true, false), (true, true)];

/// The verdict map of one family and direction.
pub(crate) fn map_name(v6: bool, ingress: bool) -> &'static str {
    match (ingress, v6) {
        (false, false) => "egress4",
        (false, true) => "egress6",
        (true, false) => "ingress4",
        (true, true) => "ingress6",
    }
}

/// The elements of a verdict map: each of `pods`' addresses of the family → its allowance's
/// chain.
pub(super) fn map_elements(pods: &[&PodRules], v6: bool, ingress: bool) -> Vec<Element> {
    pods.iter()
        .filter_map(|pod| Some((pod, pod.allowance(ingress)?)))
        .flat_map(|(pod, allow)| {
            let chain = chain_name(ingress, allow);
            pod.ips
                .iter()
                .filter(move |ip| ip.is_ipv6() == v6)
                .map(move |ip| Element::Jump {
                    key: address_bytes(*ip),
                    chain: chain.clone(),
                })
        })
        .collect()
}

/// The transaction that removes the table (whether or not it exists).
pub fn delete_table() -> Batch {
    let mut program = Program::new();
    program.table(msg::NEWTABLE);
    program.table(msg::DELTABLE);
    program.batch
}

/// The name of a pod's chain: `in-ID` for ingress, `out-ID` for egress.
pub fn chain_name(ingress: bool, id: &str) -> String {
    format!("{}-{id}", if ingress { "in" } else { "out" })
}

/// A set made for one allowance chain.
pub(super) struct PodSet {
    pub(super) name: String,
    id: u32,
    v6: bool,
    ported: bool,
}

impl PodSet {
    /// A set of an allowance that already exists: rules find it by name.
    pub(super) fn existing(name: String, v6: bool, ported: bool) -> PodSet {
        PodSet {
            name,
            id: 0,
            v6,
            ported,
        }
    }
}

/// The names of a pod's sets, in the order they are made and looked up: any-port peers
/// (IPv4, IPv6), then ported peers (IPv4, IPv6); only non-empty ones.
pub fn pod_set_names(id: &str, ingress: bool, allow: &Allow) -> Vec<(String, bool, bool)> {
    let prefix = if ingress { "in" } else { "out" };
    let mut names = Vec::new();
    if allow.everything {
        return names;
    }
    for (ported, suffix) in [(false, "a"), (true, "p")] {
        for v6 in [false, true] {
            let present = if ported {
                allow.ported.iter().any(|p| p.addrs.v6 == v6)
            } else {
                allow.peers.iter().any(|r| r.v6 == v6)
            };
            if present {
                let family = if v6 { 6 } else { 4 };
                names.push((format!("{prefix}-{id}-{suffix}{family}"), v6, ported));
            }
        }
    }
    names
}

/// A transaction being written: the messages, and the next id for a set made in it (rules
/// and elements of the same transaction refer to a new set by that id).
pub(super) struct Program {
    pub(super) batch: Batch,
    next_set_id: u32,
}

impl Program {
    pub(super) fn new() -> Program {
        Program {
            batch: Batch::new(1),
            next_set_id: 1,
        }
    }

    fn table(&mut self, kind: u8) {
        let flags = if kind == msg::NEWTABLE {
            NLM_F_CREATE
        } else {
            0
        };
        self.batch
            .add(format!("table inet {TABLE}"), kind, flags, |a| {
                a.str(attr::TABLE_NAME, TABLE);
            });
    }

    pub(super) fn chain(&mut self, name: &str, base: bool) {
        self.batch
            .add(format!("chain {name}"), msg::NEWCHAIN, NLM_F_CREATE, |a| {
                a.str(attr::CHAIN_TABLE, TABLE).str(attr::CHAIN_NAME, name);
                if base {
                    a.nest(attr::CHAIN_HOOK, |h| {
                        h.u32(attr::HOOK_HOOKNUM, NF_INET_FORWARD)
                            .u32(attr::HOOK_PRIORITY, 0);
                    });
                    a.u32(attr::CHAIN_POLICY, NF_ACCEPT)
                        .str(attr::CHAIN_TYPE, "filter");
                }
            });
    }

    /// Deletes a chain with its rules (nothing may jump to it any more).
    pub(super) fn delete_chain(&mut self, name: &str) {
        self.batch
            .add(format!("delete chain {name}"), msg::DELCHAIN, 0, |a| {
                a.str(attr::CHAIN_TABLE, TABLE).str(attr::CHAIN_NAME, name);
            });
    }

    /// Deletes every rule of a chain.
    pub(super) fn flush_chain(&mut self, name: &str) {
        self.batch
            .add(format!("flush chain {name}"), msg::DELRULE, 0, |a| {
                a.str(attr::RULE_TABLE, TABLE).str(attr::RULE_CHAIN, name);
            });
    }

    /// Deletes a set (no rule may look it up any more).
    pub(super) fn delete_set(&mut self, name: &str) {
        self.batch
            .add(format!("delete set {name}"), msg::DELSET, 0, |a| {
                a.str(attr::SET_TABLE, TABLE).str(attr::SET_NAME, name);
            });
    }

    fn rule(&mut self, chain: &str, fill: impl FnOnce(&mut Attrs<'_>)) {
        self.batch.add(
            format!("rule in chain {chain}"),
            msg::NEWRULE,
            NLM_F_CREATE | NLM_F_APPEND,
            |a| {
                a.str(attr::RULE_TABLE, TABLE).str(attr::RULE_CHAIN, chain);
                a.nest(attr::RULE_EXPRESSIONS, fill);
            },
        );
    }

    fn set(&mut self, name: &str, flags: u32, key: (u32, u32), fields: &[u32], map: bool) -> u32 {
        let id = self.next_set_id;
        self.next_set_id += 1;
        self.batch
            .add(format!("set {name}"), msg::NEWSET, NLM_F_CREATE, |a| {
                a.str(attr::SET_TABLE, TABLE)
                    .str(attr::SET_NAME, name)
                    .u32(attr::SET_FLAGS, flags)
                    .u32(attr::SET_KEY_TYPE, key.0)
                    .u32(attr::SET_KEY_LEN, key.1);
                if map {
                    a.u32(attr::SET_DATA_TYPE, DATA_VERDICT)
                        .u32(attr::SET_DATA_LEN, 0);
                }
                a.u32(attr::SET_ID, id);
                if !fields.is_empty() {
                    a.nest(attr::SET_DESC, |d| {
                        d.nest(attr::SET_DESC_CONCAT, |c| {
                            for len in fields {
                                c.nest(attr::LIST_ELEM, |f| {
                                    f.u32(attr::SET_FIELD_LEN, *len);
                                });
                            }
                        });
                    });
                }
            });
        id
    }

    fn verdict_map(&mut self, name: &str, v6: bool) -> u32 {
        let key = if v6 {
            (types::IPV6, 16)
        } else {
            (types::IPV4, 4)
        };
        self.set(name, SET_MAP, key, &[], true)
    }

    /// Adds (`NEWSETELEM`) or deletes (`DELSETELEM`) `elements` of a set, a few hundred per
    /// message: an attribute's length is 16 bits, so one message cannot hold thousands. An
    /// interval's end stays with its start. `id` names a set made in this transaction; an
    /// existing set is found by name.
    pub(super) fn elements(&mut self, kind: u8, name: &str, id: u32, elements: Vec<Element>) {
        const PER_MESSAGE: usize = 400;
        let mut chunks: Vec<Vec<Element>> = Vec::new();
        for element in elements {
            let ends_interval = matches!(element, Element::Key { end: true, .. });
            match chunks.last_mut() {
                Some(chunk) if chunk.len() < PER_MESSAGE || ends_interval => chunk.push(element),
                _ => chunks.push(vec![element]),
            }
        }
        let (verb, flags) = if kind == msg::NEWSETELEM {
            ("elements of", NLM_F_CREATE)
        } else {
            ("delete elements of", 0)
        };
        for chunk in chunks {
            self.batch
                .add(format!("{verb} set {name}"), kind, flags, |a| {
                    a.str(attr::ELEM_LIST_TABLE, TABLE)
                        .str(attr::ELEM_LIST_SET, name)
                        .u32(attr::ELEM_LIST_SET_ID, id)
                        .nest(attr::ELEM_LIST_ELEMENTS, |list| {
                            for element in &chunk {
                                element.encode(list, kind == msg::DELSETELEM);
                            }
                        });
                });
        }
    }

    /// Makes an allowance's non-empty sets with their elements.
    pub(super) fn pod_sets(&mut self, id: &str, ingress: bool, allow: &Allow) -> Vec<PodSet> {
        pod_set_names(id, ingress, allow)
            .into_iter()
            .map(|(name, v6, ported)| self.pod_set(name, v6, ported, allow))
            .collect()
    }

    /// Makes one set of an allowance, with its elements.
    pub(super) fn pod_set(
        &mut self,
        name: String,
        v6: bool,
        ported: bool,
        allow: &Allow,
    ) -> PodSet {
        let address = if v6 {
            (types::IPV6, 16)
        } else {
            (types::IPV4, 4)
        };
        let id = if ported {
            let key_type = concat_type(&[address.0, types::INET_PROTO, types::INET_SERVICE]);
            self.set(
                &name,
                SET_INTERVAL | SET_CONCAT,
                (key_type, address.1 + 8),
                &[address.1, 1, 2],
                false,
            )
        } else {
            self.set(&name, SET_INTERVAL, address, &[], false)
        };
        self.elements(
            msg::NEWSETELEM,
            &name,
            id,
            pod_set_elements(allow, v6, ported),
        );
        PodSet {
            name,
            id,
            v6,
            ported,
        }
    }

    /// The rules of an allowance's chain: a lookup in each of its sets, then the verdict for
    /// everything else.
    pub(super) fn allowance_rules(
        &mut self,
        id: &str,
        allow: &Allow,
        ingress: bool,
        sets: &[PodSet],
    ) {
        let direction = if ingress {
            Direction::Ingress
        } else {
            Direction::Egress
        };
        let chain = chain_name(ingress, id);
        for set in sets {
            self.rule(&chain, |a| {
                family(a, set.v6);
                let len = if set.v6 { 16 } else { 4 };
                let offset = direction.peer_offset(set.v6);
                if set.ported {
                    payload(a, PAYLOAD_NETWORK, offset, len, reg::R32_00);
                    let next = reg::R32_00 + len / 4;
                    meta(a, META_L4PROTO, next);
                    payload(a, PAYLOAD_TRANSPORT, 2, 2, next + 1);
                    lookup(a, &set.name, set.id, reg::R32_00, None);
                } else {
                    payload(a, PAYLOAD_NETWORK, offset, len, reg::R1);
                    lookup(a, &set.name, set.id, reg::R1, None);
                }
                immediate(a, direction.on_match(), None);
            });
        }
        let last = if allow.everything {
            direction.on_match()
        } else {
            Verdict::Drop
        };
        self.rule(&chain, |a| immediate(a, last, None));
    }
}

/// The elements of one of an allowance's sets: address intervals, or `address . protocol .
/// port` ranges.
pub(super) fn pod_set_elements(allow: &Allow, v6: bool, ported: bool) -> Vec<Element> {
    if ported {
        allow
            .ported
            .iter()
            .filter(|p| p.addrs.v6 == v6)
            .map(|peers| Element::Range {
                from: ported_key(peers, false),
                to: ported_key(peers, true),
            })
            .collect()
    } else {
        let ranges: Vec<&AddrRange> = allow.peers.iter().filter(|r| r.v6 == v6).collect();
        interval_elements(&ranges)
    }
}

/// Interval set elements as nft sends them: a leading end marker at zero when the first range
/// starts above it, then each range's start and (unless it reaches the top) the address after
/// its end, flagged as an end.
fn interval_elements(ranges: &[&AddrRange]) -> Vec<Element> {
    let mut elements: Vec<Element> = zero_marker(ranges).into_iter().collect();
    for range in ranges {
        elements.extend(range_elements(range));
    }
    elements
}

/// The end marker at zero an interval set of `ranges` (sorted) holds when it does not start
/// at zero.
pub(super) fn zero_marker(ranges: &[&AddrRange]) -> Option<Element> {
    let first = ranges.first()?;
    (first.start != 0).then(|| Element::Key {
        key: number_bytes(0, width(first.v6)),
        end: true,
    })
}

/// The elements of one range of an interval set: its start and, unless it reaches the top,
/// the address after its end, flagged as an end.
pub(super) fn range_elements(range: &AddrRange) -> Vec<Element> {
    let key = |n: u128, end: bool| Element::Key {
        key: number_bytes(n, width(range.v6)),
        end,
    };
    let top = if range.v6 {
        u128::MAX
    } else {
        u128::from(u32::MAX)
    };
    let mut elements = vec![key(range.start, false)];
    if range.end != top {
        elements.push(key(range.end + 1, true));
    }
    elements
}

fn width(v6: bool) -> usize {
    if v6 { 16 } else { 4 }
}

/// One set element as the kernel takes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Element {
    /// A plain or interval key; `end` marks the end of an interval.
    Key { key: Vec<u8>, end: bool },
    /// A range of a concatenated interval set: both ends inclusive.
    Range { from: Vec<u8>, to: Vec<u8> },
    /// A verdict map entry: jump to `chain`.
    Jump { key: Vec<u8>, chain: String },
}

impl Element {
    /// `delete`: a map element is named by its key alone.
    fn encode(&self, list: &mut Attrs<'_>, delete: bool) {
        list.nest(attr::LIST_ELEM, |e| match self {
            Element::Key { key, end } => {
                e.value(attr::ELEM_KEY, key);
                if *end {
                    e.u32(attr::ELEM_FLAGS, ELEM_INTERVAL_END);
                }
            }
            Element::Range { from, to } => {
                e.value(attr::ELEM_KEY, from).value(attr::ELEM_KEY_END, to);
            }
            Element::Jump { key, chain } => {
                e.value(attr::ELEM_KEY, key);
                if !delete {
                    e.verdict(attr::ELEM_DATA, Verdict::Jump, Some(chain));
                }
            }
        });
    }
}

/// `address . protocol . port`, each field padded to 4 bytes; the range's low or high end.
fn ported_key(peers: &PortedPeers, high: bool) -> Vec<u8> {
    let width = if peers.addrs.v6 { 16 } else { 4 };
    let (address, port) = if high {
        (peers.addrs.end, peers.ports.1)
    } else {
        (peers.addrs.start, peers.ports.0)
    };
    let mut key = number_bytes(address, width);
    key.extend_from_slice(&[peers.protocol.number(), 0, 0, 0]);
    let port = port.to_be_bytes();
    key.extend_from_slice(&[port[0], port[1], 0, 0]);
    key
}

/// The low `width` bytes of `n`, big-endian.
fn number_bytes(n: u128, width: usize) -> Vec<u8> {
    n.to_be_bytes()[16 - width..].to_vec()
}

fn address_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// `meta nfproto ipv4|ipv6`: the dependency of every network-header match in an inet table.
fn family(a: &mut Attrs<'_>, v6: bool) {
    meta(a, META_NFPROTO, reg::R1);
    let proto = if v6 { NFPROTO_IPV6 } else { NFPROTO_IPV4 };
    cmp(a, CMP_EQ, reg::R1, &[proto]);
}

fn meta(a: &mut Attrs<'_>, key: u32, dreg: u32) {
    a.expr("meta", |e| {
        e.u32(2, key).u32(1, dreg);
    });
}

fn payload(a: &mut Attrs<'_>, base: u32, offset: u32, len: u32, dreg: u32) {
    a.expr("payload", |e| {
        e.u32(1, dreg).u32(2, base).u32(3, offset).u32(4, len);
    });
}

fn cmp(a: &mut Attrs<'_>, op: u32, sreg: u32, data: &[u8]) {
    a.expr("cmp", |e| {
        e.u32(1, sreg).u32(2, op).value(3, data);
    });
}

fn lookup(a: &mut Attrs<'_>, set: &str, set_id: u32, sreg: u32, dreg: Option<u32>) {
    a.expr("lookup", |e| {
        e.u32(2, sreg);
        if let Some(dreg) = dreg {
            e.u32(3, dreg);
        }
        e.str(1, set).u32(4, set_id);
    });
}

/// `ct state established,related`.
fn ct_established(a: &mut Attrs<'_>) {
    a.expr("ct", |e| {
        e.u32(2, CT_STATE).u32(1, reg::R1);
    });
    a.expr("bitwise", |e| {
        e.u32(1, reg::R1)
            .u32(2, reg::R1)
            .u32(3, 4)
            .value(4, &CT_ESTABLISHED_RELATED.to_ne_bytes())
            .value(5, &0u32.to_ne_bytes());
    });
    cmp(a, CMP_NEQ, reg::R1, &0u32.to_ne_bytes());
}

fn immediate(a: &mut Attrs<'_>, verdict: Verdict, chain: Option<&str>) {
    a.expr("immediate", |e| {
        e.u32(1, reg::VERDICT).verdict(2, verdict, chain);
    });
}
