//! In-place table updates against a real kernel: a cluster changes one random step at a time
//! (pods come and go, labels and policies change, namespaces are relabelled), each step is
//! applied as the changes from the last ruleset, and after every step the kernel's table must
//! be exactly the rendering of the new ruleset, as a full rewrite would leave it. Needs root.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use portcullis_testkit::netns;
#[path = "support/random_cluster.rs"]
mod random_cluster;

use netns::Netns;
use portcullis_policy::carry::carry_ids;
use portcullis_policy::nft::socket::apply;
use portcullis_policy::nft::update::AppliedTable;
use portcullis_policy::render::render;
use portcullis_testkit::nft_listing::{blocks, nft};
use random_cluster::{Cluster, Rng};

fn listing(ns: &Netns) -> String {
    nft(ns, &["list", "table", "inet", "portcullis"])
}

#[test]
fn random_changes_applied_in_place_leave_what_a_rewrite_would() {
    let ns = Netns::new();
    let (mut in_place, mut messages_in_place, mut messages_whole) = (0, 0, 0);
    for seed in [7, 8, 9] {
        let mut rng = Rng::new(seed);
        let mut cluster = Cluster::new();
        let mut applied = AppliedTable::new(cluster.compile());
        ns.run(|| apply(applied.replace())).unwrap();
        let mut history = Vec::new();
        for step in 0..120 {
            history.push(cluster.step(&mut rng));
            let next = carry_ids(&applied.ruleset, cluster.compile());
            let (update, next) = applied.update(next);
            let whole = next.replace();
            match update {
                Some(batch) => {
                    in_place += 1;
                    messages_in_place += batch.len();
                    messages_whole += whole.len();
                    if !batch.is_empty() {
                        let result = ns.run(|| apply(batch));
                        assert!(
                            result.is_ok(),
                            "seed {seed} step {step}: {result:?}\nsteps: {history:#?}"
                        );
                    }
                }
                None => ns.run(|| apply(whole)).unwrap(),
            }
            assert_eq!(
                blocks(&listing(&ns)),
                blocks(&render(&next.ruleset)),
                "seed {seed} step {step}, after: {history:#?}"
            );
            applied = next;
        }
    }
    assert!(in_place > 300, "only {in_place} steps applied in place");
    // In place is smaller than a rewrite: the point of it.
    assert!(
        messages_in_place * 3 < messages_whole,
        "{messages_in_place} messages in place vs {messages_whole} rewriting"
    );
}
