//! The transaction that takes the kernel's `inet portcullis` from one [`Ruleset`] to the
//! next in place: set and map elements added and deleted, chains and sets made and removed
//! only for allowances that appear or go. Pod churn becomes a handful of element changes
//! instead of a rewritten table, and is as atomic as the full replace.
//!
//! It relies on the table holding exactly `applied` (what the last committed transaction
//! wrote): an element is deleted only if it is there, which kernels before 6.3 require (a
//! missing one fails the whole batch). The agent rewrites the table whole at each resync, so
//! an edit made behind its back is repaired there.

use std::collections::BTreeSet;

use std::net::IpAddr;

use crate::intervals::AddrRange;
use crate::ruleset::{Allow, PodRules, Ruleset};

use super::program::{
    Element, MAPS, PodSet, Program, chain_name, known_element, known_set, map_elements, map_name,
    pod_set_elements, pod_set_names, range_elements, zero_marker,
};
use super::wire::{Batch, msg};

/// The changes from `applied` to `next`, or `None` when they need the table rewritten (the
/// guarded pod CIDRs changed, which are rules of the `forward` chain). An empty batch means
/// nothing changed.
pub fn update_table(applied: &Ruleset, next: &Ruleset) -> Option<Batch> {
    if applied.guarded != next.guarded {
        return None;
    }
    let mut program = Program::new();
    // Chains of new allowances before map elements jump to them; chains that go after the
    // map elements jumping to them are deleted.
    for ingress in [true, false] {
        let (before, after) = (applied.allowances(ingress), next.allowances(ingress));
        for (id, allow) in after {
            match before.get(id) {
                None => {
                    let sets = program.pod_sets(id, ingress, allow);
                    program.chain(&chain_name(ingress, id), false);
                    program.allowance_rules(id, allow, ingress, &sets);
                }
                Some(previous) if previous != allow => {
                    change_allowance(&mut program, id, ingress, previous, allow);
                }
                Some(_) => {}
            }
        }
    }
    let (gone, new) = changed_pods(applied, next);
    for v6 in [false, true] {
        let (gone, new) = changed_known(applied, next, v6);
        diff_elements(&mut program, known_set(v6), gone, new);
    }
    for (ingress, v6) in MAPS {
        diff_elements(
            &mut program,
            map_name(v6, ingress),
            map_elements(&gone, v6, ingress),
            map_elements(&new, v6, ingress),
        );
    }
    for ingress in [true, false] {
        let (before, after) = (applied.allowances(ingress), next.allowances(ingress));
        for (id, allow) in before {
            if !after.contains_key(id) {
                program.delete_chain(&chain_name(ingress, id));
                for (name, _, _) in pod_set_names(id, ingress, allow) {
                    program.delete_set(&name);
                }
            }
        }
    }
    Some(program.batch)
}

/// The pods whose rules differ between two rulesets: their rules in `applied` and in `next`.
fn changed_pods<'a>(
    applied: &'a Ruleset,
    next: &'a Ruleset,
) -> (Vec<&'a PodRules>, Vec<&'a PodRules>) {
    let (mut gone, mut new) = (Vec::new(), Vec::new());
    let mut before = applied.pods.iter().peekable();
    for pod in &next.pods {
        while let Some(old) = before.next_if(|old| old.pod < pod.pod) {
            gone.push(old);
        }
        match before.next_if(|old| old.pod == pod.pod) {
            Some(old) if old == pod => {}
            old => {
                gone.extend(old);
                new.push(pod);
            }
        }
    }
    gone.extend(before);
    (gone, new)
}

/// The addresses of one family that left and joined `known`.
fn changed_known(applied: &Ruleset, next: &Ruleset, v6: bool) -> (Vec<Element>, Vec<Element>) {
    let family = |ips: &[IpAddr]| -> BTreeSet<IpAddr> {
        ips.iter()
            .copied()
            .filter(|ip| ip.is_ipv6() == v6)
            .collect()
    };
    let (before, after) = (family(&applied.known), family(&next.known));
    let elements = |ips: Vec<&IpAddr>| ips.into_iter().map(|ip| known_element(*ip)).collect();
    (
        elements(before.difference(&after).collect()),
        elements(after.difference(&before).collect()),
    )
}

/// An allowance whose peers changed under the same id. The same sets (and the same final
/// verdict): only elements change. Otherwise its rules are rewritten, sets it no longer has
/// deleted after them, new ones made.
fn change_allowance(program: &mut Program, id: &str, ingress: bool, before: &Allow, after: &Allow) {
    let old_sets = pod_set_names(id, ingress, before);
    let new_sets = pod_set_names(id, ingress, after);
    let same_shape = old_sets == new_sets && before.everything == after.everything;
    let chain = chain_name(ingress, id);
    if !same_shape {
        program.flush_chain(&chain);
    }
    let mut sets = Vec::new();
    for (name, v6, ported) in new_sets {
        if old_sets.iter().any(|(old, _, _)| *old == name) {
            if ported {
                diff_elements(
                    program,
                    &name,
                    pod_set_elements(before, v6, ported),
                    pod_set_elements(after, v6, ported),
                );
            } else {
                diff_intervals(program, &name, &peers(before, v6), &peers(after, v6));
            }
            sets.push(PodSet::existing(name, v6, ported));
        } else {
            sets.push(program.pod_set(name, v6, ported, after));
        }
    }
    if !same_shape {
        program.allowance_rules(id, after, ingress, &sets);
        let gone = old_sets
            .iter()
            .filter(|(name, _, _)| !sets.iter().any(|set| set.name == *name));
        for (name, _, _) in gone {
            program.delete_set(name);
        }
    }
}

/// Deletes the elements of `before` missing from `after`, then adds those new in `after`. A
/// map element whose chain changed is deleted and added again.
fn diff_elements(program: &mut Program, set: &str, before: Vec<Element>, after: Vec<Element>) {
    let before: BTreeSet<Element> = before.into_iter().collect();
    let after: BTreeSet<Element> = after.into_iter().collect();
    let gone: Vec<Element> = before.difference(&after).cloned().collect();
    let new: Vec<Element> = after.difference(&before).cloned().collect();
    if !gone.is_empty() {
        program.elements(msg::DELSETELEM, set, 0, gone);
    }
    if !new.is_empty() {
        program.elements(msg::NEWSETELEM, set, 0, new);
    }
}

/// The changes to an interval set, interval by interval: the kernel refuses an element that
/// would cut into an interval it holds, so a changed interval is deleted whole (start and
/// end) and its successor added whole.
fn diff_intervals(program: &mut Program, set: &str, before: &[&AddrRange], after: &[&AddrRange]) {
    let old: BTreeSet<&AddrRange> = before.iter().copied().collect();
    let new: BTreeSet<&AddrRange> = after.iter().copied().collect();
    let mut gone: Vec<Element> = old
        .difference(&new)
        .flat_map(|r| range_elements(r))
        .collect();
    let mut added: Vec<Element> = new
        .difference(&old)
        .flat_map(|r| range_elements(r))
        .collect();
    match (zero_marker(before), zero_marker(after)) {
        (Some(marker), None) => gone.push(marker),
        (None, Some(marker)) => added.push(marker),
        _ => {}
    }
    if !gone.is_empty() {
        program.elements(msg::DELSETELEM, set, 0, gone);
    }
    if !added.is_empty() {
        program.elements(msg::NEWSETELEM, set, 0, added);
    }
}

/// An allowance's any-port peers of one family.
fn peers(allow: &Allow, v6: bool) -> Vec<&AddrRange> {
    allow.peers.iter().filter(|r| r.v6 == v6).collect()
}
