//! Keeps allowance ids stable from one ruleset to the next. The compiler names an allowance by
//! its content, so a pod added as a peer would give every allowance that admits it a new id:
//! new chains and sets, and every map element pointing at them rewritten. Renaming the next
//! ruleset's changed allowances to the ids their pods had lets the table update change a few
//! set elements instead.
//!
//! Purely a matter of names: the result allows exactly what `next` allows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::compile::chain_id;
use crate::ruleset::{Allow, PodRules, Ruleset};

/// `next` with its allowances renamed, where it can, to the ids `applied` used for the same
/// pods. An allowance equal to one in `applied` keeps its id; a changed one takes the id most
/// of its pods had, if no other took it; every id stays unique.
pub fn carry_ids(applied: &Ruleset, mut next: Ruleset) -> Ruleset {
    for ingress in [true, false] {
        let renames = renames(
            applied.allowances(ingress),
            next.allowances(ingress),
            &next.pods,
            &applied.pods,
            ingress,
        );
        if renames.is_empty() {
            continue;
        }
        let allows = next.allowances_mut(ingress);
        let renamed: BTreeMap<String, Arc<Allow>> = std::mem::take(allows)
            .into_iter()
            .map(|(id, allow)| (renames.get(&id).cloned().unwrap_or(id), allow))
            .collect();
        *allows = renamed;
        for pod in &mut next.pods {
            let id = if ingress {
                &mut pod.ingress
            } else {
                &mut pod.egress
            };
            if let Some(new) = id.as_ref().and_then(|old| renames.get(old)) {
                *id = Some(new.clone());
            }
        }
    }
    next
}

/// Old name → new name for one direction's allowances of `next`.
fn renames(
    applied: &BTreeMap<String, Arc<Allow>>,
    next: &BTreeMap<String, Arc<Allow>>,
    next_pods: &[PodRules],
    before: &[PodRules],
    ingress: bool,
) -> HashMap<String, String> {
    let kept: BTreeSet<&str> = next
        .iter()
        .filter(|(id, allow)| applied.get(*id) == Some(allow))
        .map(|(id, _)| id.as_str())
        .collect();
    // The ids the pods of each changed allowance had.
    let mut previous: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for pod in next_pods {
        let Some(id) = pod.allowance(ingress) else {
            continue;
        };
        if kept.contains(id) {
            continue;
        }
        // Both sorted by pod.
        let had = before
            .binary_search_by(|p| p.pod.cmp(&pod.pod))
            .ok()
            .and_then(|i| before[i].allowance(ingress));
        let counts = previous.entry(id).or_default();
        if let Some(had) = had.filter(|had| !kept.contains(had) && applied.contains_key(*had)) {
            *counts.entry(had).or_default() += 1;
        }
    }
    let mut taken: BTreeSet<String> = kept.iter().map(|id| id.to_string()).collect();
    let mut named: HashMap<&str, String> = HashMap::new();
    // Most common previous id first, ties to the smallest: deterministic.
    for (id, counts) in &previous {
        let mut candidates: Vec<(&str, usize)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
        candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        if let Some((had, _)) = candidates.iter().find(|(had, _)| !taken.contains(*had)) {
            taken.insert(had.to_string());
            named.insert(id, had.to_string());
        }
    }
    // The rest keep their content id, or a fresh one if a carried id is the same.
    for id in next.keys().filter(|id| !kept.contains(id.as_str())) {
        if named.contains_key(id.as_str()) {
            continue;
        }
        let mut name = id.clone();
        while taken.contains(&name) {
            name = chain_id(&format!("{name}+"));
        }
        taken.insert(name.clone());
        named.insert(id, name);
    }
    named
        .into_iter()
        .filter(|(id, name)| id != name)
        .map(|(id, name)| (id.to_string(), name))
        .collect()
}
