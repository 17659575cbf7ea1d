//! One nf_tables transaction on one table, written from the model: the table replaced whole
//! ([`Transaction::replace`]), removed ([`Transaction::delete`]), or changed piece by piece
//! (the methods `diff.rs` uses). Messages are encoded as they are added; the kernel applies
//! all of them or none.

use std::collections::HashMap;

use crate::elements::{self, KernelElement};
use crate::error::EncodeError;
use crate::family::TableFamily;
use crate::set::{Element, Set, concat_type};
use crate::table::{Chain, Rule, Table};
use crate::wire::{Batch, Encoded, NLM_F_APPEND, NLM_F_CREATE, attr, msg};

/// `NFT_SET_INTERVAL`.
const SET_INTERVAL: u32 = 0x4;
/// `NFT_SET_MAP`: elements carry data.
const SET_MAP: u32 = 0x8;
/// `NFT_SET_CONCAT`: a concatenated key.
const SET_CONCAT: u32 = 0x80;
/// The data type of verdict maps.
const DATA_VERDICT: u32 = 0xffff_ff00;
/// Elements per message: an attribute's length is 16 bits, so one message cannot hold
/// thousands (400 IPv6 map elements with chain names are about 40 KB).
const ELEMENTS_PER_MESSAGE: usize = 400;

/// A transaction being written for one table.
#[derive(Debug)]
pub struct Transaction {
    batch: Batch,
    family: TableFamily,
    table: String,
    /// Sets made in this transaction: rules and elements refer to them by id.
    set_ids: HashMap<String, u32>,
}

impl Transaction {
    /// An empty transaction on the table `family name`.
    pub fn new(family: TableFamily, table: impl Into<String>) -> Transaction {
        Transaction {
            batch: Batch::new(1),
            family,
            table: table.into(),
            set_ids: HashMap::new(),
        }
    }

    /// Makes the kernel's table equal to `table`: add it, delete it (the old one goes whether
    /// or not it existed), add it again with sets, chains, then elements (map elements jump
    /// to chains), then rules (which look sets up).
    pub fn replace(table: &Table) -> Transaction {
        let mut tx = Transaction::delete(table.family, &table.name);
        tx.add_table();
        for set in &table.sets {
            tx.declare_set(set);
        }
        for chain in &table.chains {
            tx.add_chain(chain);
        }
        for set in &table.sets {
            tx.add_elements(set, &set.elements);
        }
        for chain in &table.chains {
            for rule in &chain.rules {
                tx.add_rule(&chain.name, rule);
            }
        }
        tx
    }

    /// Removes the table `family name`, whether or not it exists.
    pub fn delete(family: TableFamily, name: &str) -> Transaction {
        let mut tx = Transaction::new(family, name);
        tx.add_table();
        tx.delete_table();
        tx
    }

    /// How many messages it holds.
    pub fn len(&self) -> usize {
        self.batch.len()
    }

    /// True when it holds no message: nothing to change.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// The bytes to send; fails if some length did not fit netlink's fields.
    pub fn encode(self) -> Result<Encoded, EncodeError> {
        self.batch.encode()
    }

    /// Adds the table (no error if it exists).
    pub fn add_table(&mut self) {
        self.table_message(msg::NEWTABLE, NLM_F_CREATE);
    }

    /// Deletes the table and everything in it.
    pub fn delete_table(&mut self) {
        self.table_message(msg::DELTABLE, 0);
    }

    fn table_message(&mut self, kind: u8, flags: u16) {
        let what = format!("table {} {}", self.family.name(), self.table);
        let table = &self.table;
        self.batch.add(what, self.family, kind, flags, |a| {
            a.str(attr::TABLE_NAME, table);
        });
    }

    /// Adds a chain (its declaration; rules are added with [`Transaction::add_rule`]).
    pub fn add_chain(&mut self, chain: &Chain) {
        let table = &self.table;
        let what = format!("chain {}", chain.name);
        self.batch
            .add(what, self.family, msg::NEWCHAIN, NLM_F_CREATE, |a| {
                a.str(attr::CHAIN_TABLE, table)
                    .str(attr::CHAIN_NAME, &chain.name);
                if let Some(base) = &chain.base {
                    a.nest(attr::CHAIN_HOOK, |h| {
                        h.u32(attr::HOOK_HOOKNUM, base.hook.number())
                            .put(attr::HOOK_PRIORITY, &base.priority.to_be_bytes());
                    });
                    a.u32(attr::CHAIN_POLICY, base.policy.number())
                        .str(attr::CHAIN_TYPE, base.kind.name());
                }
            });
    }

    /// Deletes a chain with its rules (nothing may jump to it any more).
    pub fn delete_chain(&mut self, name: &str) {
        let table = &self.table;
        self.batch.add(
            format!("delete chain {name}"),
            self.family,
            msg::DELCHAIN,
            0,
            |a| {
                a.str(attr::CHAIN_TABLE, table).str(attr::CHAIN_NAME, name);
            },
        );
    }

    /// Deletes every rule of a chain.
    pub fn flush_chain(&mut self, name: &str) {
        let table = &self.table;
        self.batch.add(
            format!("flush chain {name}"),
            self.family,
            msg::DELRULE,
            0,
            |a| {
                a.str(attr::RULE_TABLE, table).str(attr::RULE_CHAIN, name);
            },
        );
    }

    /// Appends a rule to a chain.
    pub fn add_rule(&mut self, chain: &str, rule: &Rule) {
        let (table, ids) = (&self.table, &self.set_ids);
        let set_id = |name: &str| ids.get(name).copied().unwrap_or(0);
        self.batch.add(
            format!("rule in chain {chain}"),
            self.family,
            msg::NEWRULE,
            NLM_F_CREATE | NLM_F_APPEND,
            |a| {
                a.str(attr::RULE_TABLE, table).str(attr::RULE_CHAIN, chain);
                a.nest(attr::RULE_EXPRESSIONS, |list| {
                    for expr in &rule.exprs {
                        expr.encode(list, &set_id);
                    }
                });
            },
        );
    }

    /// Adds a set with its elements.
    pub fn add_set(&mut self, set: &Set) {
        self.declare_set(set);
        self.add_elements(set, &set.elements);
    }

    /// Adds a set without elements; later messages of the transaction find it by id.
    pub fn declare_set(&mut self, set: &Set) {
        let id = u32::try_from(self.set_ids.len() + 1).unwrap_or(u32::MAX);
        self.set_ids.insert(set.name.clone(), id);
        let mut flags = 0;
        if set.interval {
            flags |= SET_INTERVAL;
        }
        if set.verdict_map {
            flags |= SET_MAP;
        }
        if set.is_concat() {
            flags |= SET_CONCAT;
        }
        let key_type = concat_type(&set.key);
        let key_len = set.key_len();
        let table = &self.table;
        self.batch.add(
            format!("set {}", set.name),
            self.family,
            msg::NEWSET,
            NLM_F_CREATE,
            |a| {
                a.str(attr::SET_TABLE, table)
                    .str(attr::SET_NAME, &set.name)
                    .u32(attr::SET_FLAGS, flags)
                    .u32(attr::SET_KEY_TYPE, key_type)
                    .u32(attr::SET_KEY_LEN, key_len);
                if set.verdict_map {
                    a.u32(attr::SET_DATA_TYPE, DATA_VERDICT)
                        .u32(attr::SET_DATA_LEN, 0);
                }
                a.u32(attr::SET_ID, id);
                if set.is_concat() {
                    a.nest(attr::SET_DESC, |d| {
                        d.nest(attr::SET_DESC_CONCAT, |c| {
                            for field in &set.key {
                                c.nest(attr::LIST_ELEM, |f| {
                                    f.u32(attr::SET_FIELD_LEN, field.width());
                                });
                            }
                        });
                    });
                }
            },
        );
    }

    /// Deletes a set (no rule may look it up any more).
    pub fn delete_set(&mut self, name: &str) {
        let table = &self.table;
        self.batch.add(
            format!("delete set {name}"),
            self.family,
            msg::DELSET,
            0,
            |a| {
                a.str(attr::SET_TABLE, table).str(attr::SET_NAME, name);
            },
        );
    }

    /// Adds `elements` (sorted) to an empty `set`, as a whole set holds them.
    pub fn add_elements(&mut self, set: &Set, elements: &[Element]) {
        let kernel = elements::whole(set, elements);
        self.elements(msg::NEWSETELEM, &set.name, kernel);
    }

    /// Adds (`NEWSETELEM`) or deletes (`DELSETELEM`) kernel elements of a set, a few hundred
    /// per message; an interval's end stays with its start.
    pub(crate) fn elements(&mut self, kind: u8, set: &str, elements: Vec<KernelElement>) {
        if elements.is_empty() {
            return;
        }
        let mut chunks: Vec<Vec<KernelElement>> = Vec::new();
        for element in elements {
            let ends_interval = element.ends_interval();
            match chunks.last_mut() {
                Some(chunk) if chunk.len() < ELEMENTS_PER_MESSAGE || ends_interval => {
                    chunk.push(element);
                }
                _ => chunks.push(vec![element]),
            }
        }
        let (verb, flags) = if kind == msg::NEWSETELEM {
            ("elements of", NLM_F_CREATE)
        } else {
            ("delete elements of", 0)
        };
        let id = self.set_ids.get(set).copied().unwrap_or(0);
        for chunk in chunks {
            let table = &self.table;
            self.batch
                .add(format!("{verb} set {set}"), self.family, kind, flags, |a| {
                    a.str(attr::ELEM_LIST_TABLE, table)
                        .str(attr::ELEM_LIST_SET, set)
                        .u32(attr::ELEM_LIST_SET_ID, id)
                        .nest(attr::ELEM_LIST_ELEMENTS, |list| {
                            for element in &chunk {
                                element.encode(list, kind == msg::DELSETELEM);
                            }
                        });
                });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
