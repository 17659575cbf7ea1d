//! The NetworkPolicy half of the agent: parse the policies, compile this node's ruleset, and
//! bring the kernel's `inet portcullis` table to it.

use std::time::Instant;

use ipnet::IpNet;
use portcullis_nft::NftError;
use portcullis_policy::carry::carry_ids;
use portcullis_policy::compile::{Compiler, PolicyInput};
use portcullis_policy::model::{Namespace, Pod};
use portcullis_policy::nft::socket::apply;
use portcullis_policy::nft::update::AppliedTable;
use portcullis_policy::policy::Policy;
use portcullis_policy::ruleset::Ruleset;
use tracing::{info, warn};

use crate::policies::PolicyBook;
use crate::problem::NodeProblem;
use portcullis_kube::store::Snapshot;

/// Each policy's last good version, the compiler with what it worked out last time, and the
/// ruleset in the kernel.
#[derive(Default)]
pub(super) struct PolicyTable {
    book: PolicyBook,
    compiler: Compiler,
    applied: Option<AppliedTable>,
}

impl PolicyTable {
    /// Compiles this node's ruleset and brings the kernel's table to it: the changes alone
    /// when it holds the last ruleset, the whole table at a resync (or when that fails).
    /// Problems go to `problems`.
    pub(super) fn apply(
        &mut self,
        snapshot: &Snapshot,
        node: &str,
        pod_cidrs: &[IpNet],
        resync: bool,
        problems: &mut Vec<NodeProblem>,
    ) {
        let (policies, policy_problems) = self.book.update(&snapshot.network_policies);
        problems.extend(policy_problems.into_iter().map(NodeProblem::Policy));
        let started = Instant::now();
        let ruleset = self.compile(snapshot, node, pod_cidrs, &policies);
        let changed = self.applied.as_ref().map(|a| &a.ruleset) != Some(&ruleset);
        if !resync && !changed {
            return;
        }
        let selected_pods = ruleset.pods.len();
        match self.write(ruleset, resync) {
            Ok((how, applied)) => {
                if changed {
                    info!(
                        selected_pods,
                        policies = policies.len(),
                        applied = how,
                        ms = started.elapsed().as_secs_f64() * 1000.0,
                        "NetworkPolicy ruleset applied"
                    );
                }
                self.applied = Some(applied);
            }
            Err(problem) => {
                // Unknown what the kernel holds now; the next attempt writes it whole.
                self.applied = None;
                problems.push(NodeProblem::policy_ruleset(&problem));
            }
        }
    }

    /// This node's ruleset, keeping the allowance ids of the applied one where it can.
    fn compile(
        &mut self,
        snapshot: &Snapshot,
        node: &str,
        pod_cidrs: &[IpNet],
        policies: &[Policy],
    ) -> Ruleset {
        let namespaces: Vec<&Namespace> = snapshot.namespaces.values().map(|n| &**n).collect();
        let pods: Vec<&Pod> = snapshot.pods.values().map(|p| &**p).collect();
        let ruleset = self.compiler.compile(&PolicyInput {
            node,
            pod_cidrs,
            namespaces: &namespaces,
            pods: &pods,
            policies,
        });
        match &self.applied {
            Some(applied) => carry_ids(&applied.ruleset, ruleset),
            None => ruleset,
        }
    }

    /// Writes `ruleset` to the kernel: the differences from the applied one, else (at a
    /// resync, with nothing applied, or when the update is refused) the whole table. Returns
    /// how, for the log line, and what the kernel now holds.
    fn write(
        &self,
        ruleset: Ruleset,
        resync: bool,
    ) -> Result<(&'static str, AppliedTable), NftError> {
        let (in_place, next) = match (&self.applied, resync) {
            (Some(applied), false) => applied.update(ruleset),
            _ => (None, AppliedTable::new(ruleset)),
        };
        let result = match in_place {
            Some(batch) => apply(batch).map(|()| "in place"),
            None => apply(next.replace()).map(|()| "whole"),
        };
        match result {
            Err(problem) if !resync => {
                // The table is not what we last wrote (edited behind our back?): write it whole.
                warn!("cannot update the NetworkPolicy table in place ({problem}); rewriting it");
                apply(next.replace()).map(|()| ("whole", next))
            }
            result => result.map(|how| (how, next)),
        }
    }
}
