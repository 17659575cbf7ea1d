//! The incremental paths agree with the from-scratch ones over thousands of random cluster
//! steps: a long-lived [`Compiler`] gives exactly what `compile` gives, and `carry_ids` only
//! renames (every pod is allowed the same as before the renaming).

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

#[path = "support/random_cluster.rs"]
mod random_cluster;

use portcullis_policy::carry::carry_ids;
use portcullis_policy::compile::Compiler;
use portcullis_policy::ruleset::Ruleset;
use random_cluster::{Cluster, Rng};

#[test]
fn a_long_lived_compiler_gives_what_compiling_afresh_gives() {
    let mut checked_pods = 0;
    for seed in 1..=25 {
        let mut rng = Rng::new(seed);
        let mut cluster = Cluster::new();
        let mut compiler = Compiler::default();
        let mut history = Vec::new();
        for step in 0..200 {
            history.push(cluster.step(&mut rng));
            let incremental = cluster.with_input(|input| compiler.compile(input));
            let fresh = cluster.compile();
            assert_eq!(incremental, fresh, "seed {seed} step {step}: {history:#?}");
            checked_pods += fresh.pods.len();
        }
    }
    // The steps did select pods (the comparison is not between empty rulesets).
    assert!(checked_pods > 20_000, "{checked_pods}");
}

/// Each pod's allowance contents, by pod.
fn contents(ruleset: &Ruleset) -> Vec<(String, Option<String>, Option<String>)> {
    let show = |id: Option<&str>, ingress: bool| {
        id.map(|id| format!("{:?}", ruleset.allowances(ingress)[id]))
    };
    ruleset
        .pods
        .iter()
        .map(|p| {
            (
                p.pod.clone(),
                show(p.allowance(true), true),
                show(p.allowance(false), false),
            )
        })
        .collect()
}

#[test]
fn carrying_ids_only_renames() {
    let (mut carried, mut total) = (0, 0);
    for seed in 1..=25 {
        let mut rng = Rng::new(seed);
        let mut cluster = Cluster::new();
        let mut applied = cluster.compile();
        for step in 0..200 {
            cluster.step(&mut rng);
            let next = cluster.compile();
            let renamed = carry_ids(&applied, next.clone());
            assert_eq!(
                contents(&renamed),
                contents(&next),
                "seed {seed} step {step}"
            );
            assert_eq!(renamed.ingress.len(), next.ingress.len());
            assert_eq!(renamed.egress.len(), next.egress.len());
            assert_eq!(
                (&renamed.known, &renamed.guarded),
                (&next.known, &next.guarded)
            );
            // Every id a pod names exists.
            for pod in &renamed.pods {
                for ingress in [true, false] {
                    if let Some(id) = pod.allowance(ingress) {
                        assert!(renamed.allowances(ingress).contains_key(id));
                    }
                }
            }
            total += renamed.ingress.len() + renamed.egress.len();
            carried += renamed
                .ingress
                .keys()
                .chain(renamed.egress.keys())
                .filter(|id| !next.ingress.contains_key(*id) && !next.egress.contains_key(*id))
                .count();
            applied = renamed;
        }
    }
    // Ids were carried (the test is not passing by never renaming).
    assert!(carried * 10 > total, "{carried} of {total}");
}
