//! A [`Table`] as `nft list table` prints it (nft 1.0.6): sets and maps, then chains, in
//! model order, a blank line between blocks, elements on one line in key order. The text
//! golden tests and reviewers read, and what kernel listings are compared with.

mod rule;
mod value;

use std::fmt::Write;

use crate::expr::Verdict;
use crate::set::{Element, Set};
use crate::table::{BaseChain, Chain, Hook, Table};

/// The whole table as text.
pub fn render(table: &Table) -> String {
    let mut blocks: Vec<String> = table.sets.iter().map(set_block).collect();
    blocks.extend(table.chains.iter().map(|chain| chain_block(table, chain)));
    format!(
        "table {} {} {{\n{}}}\n",
        table.family.name(),
        table.name,
        blocks.join("\n")
    )
}

fn set_block(set: &Set) -> String {
    let kind = if set.verdict_map { "map" } else { "set" };
    let key: Vec<&str> = set.key.iter().map(|k| k.name()).collect();
    let mut block = format!("\t{kind} {} {{\n\t\ttype {}", set.name, key.join(" . "));
    if set.verdict_map {
        block.push_str(" : verdict");
    }
    block.push('\n');
    if set.interval {
        block.push_str("\t\tflags interval\n");
    }
    if !set.elements.is_empty() {
        let mut elements: Vec<&Element> = set.elements.iter().collect();
        elements.sort();
        let shown: Vec<String> = elements.iter().map(|e| element(set, e)).collect();
        let _ = writeln!(block, "\t\telements = {{ {} }}", shown.join(", "));
    }
    block.push_str("\t}\n");
    block
}

fn element(set: &Set, element: &Element) -> String {
    let fields: Vec<String> = set
        .key
        .iter()
        .zip(&element.key)
        .map(|(key, range)| value::range(*key, range))
        .collect();
    let mut text = fields.join(" . ");
    if let Some(verdict) = &element.verdict {
        let _ = write!(text, " : {}", verdict_text(verdict));
    }
    text
}

fn chain_block(table: &Table, chain: &Chain) -> String {
    let mut block = format!("\tchain {} {{\n", chain.name);
    if let Some(base) = &chain.base {
        let _ = writeln!(
            block,
            "\t\ttype {} hook {} priority {}; policy {};",
            base.kind.name(),
            base.hook.name(),
            priority(base),
            base.policy.name()
        );
    }
    for r in &chain.rules {
        let _ = writeln!(block, "\t\t{}", rule::text(table, r));
    }
    block.push_str("\t}\n");
    block
}

/// nft's name for a standard priority (`filter`, `srcnat`, ...), else the number.
fn priority(base: &BaseChain) -> String {
    let nat_out = matches!(base.hook, Hook::Postrouting | Hook::Input);
    let name = match base.priority {
        -300 => "raw",
        -150 => "mangle",
        -100 if !nat_out => "dstnat",
        0 => "filter",
        50 => "security",
        100 if nat_out => "srcnat",
        other => return other.to_string(),
    };
    name.to_string()
}

/// A verdict as nft prints it.
fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Accept => "accept".into(),
        Verdict::Drop => "drop".into(),
        Verdict::Return => "return".into(),
        Verdict::Jump(chain) => format!("jump {chain}"),
    }
}

#[cfg(test)]
mod tests;
