//! One reconcile of the node agent: the desired state from the store, made real part by part
//! (routes, forwarding, masquerading, the policy table, the conflist), problems logged once.

use std::time::Duration;

use portcullis_cni::masquerade::apply_masquerade;
use rtnetlink::Handle;
use tracing::{error, info, warn};

use super::policy_table::PolicyTable;
use crate::args::NodeArgs;
use crate::desired::{DesiredNode, NodeSettings, desired_node};
use crate::host::{enable_forwarding, write_conflist};
use crate::problem::NodeProblem;
use crate::routes::sync_routes;
use portcullis_kube::lasting::Lasting;
use portcullis_kube::store::Store;

/// What a reconcile needs besides the store.
pub(super) struct Agent {
    settings: NodeSettings,
    handle: Handle,
    /// NetworkPolicy state; `None` with `--network-policy=false`.
    policy: Option<PolicyTable>,
    args: NodeArgs,
    /// Problems already logged, so each is logged once while it lasts.
    reported: Lasting<NodeProblem>,
    /// Problems of routes, forwarding and masquerading at their last reconcile.
    host_problems: Vec<NodeProblem>,
}

impl Agent {
    /// The agent for `args`, syncing routes through `handle`; nothing applied yet.
    pub(super) fn new(args: NodeArgs, handle: Handle) -> Agent {
        Agent {
            settings: NodeSettings {
                node_name: args.node_name.clone(),
                network_name: args.network_name.clone(),
                bridge: args.bridge.clone(),
                mtu: args.mtu,
                masquerade_outside: args.masquerade_outside,
                cluster_cidrs: args.cluster_cidr.clone(),
            },
            handle,
            policy: args.network_policy.then(PolicyTable::default),
            args,
            reported: Lasting::default(),
            host_problems: Vec::new(),
        }
    }

    /// `--resync-period`.
    pub(super) fn resync_period(&self) -> Duration {
        self.args.resync_period
    }

    /// Makes the host match the objects in `store`: with `host`, routes, forwarding,
    /// masquerading and the conflist, then the policy table. Failures are logged and retried at
    /// the next change (of a Node, for the host parts) or resync; one failing part does not
    /// stop the others. At a `resync` the policy table is rewritten whole even if unchanged,
    /// which repairs edits made behind our back.
    pub(super) async fn reconcile(&mut self, store: &Store, host: bool, resync: bool) {
        let (snapshot, _) = store.snapshot();
        let desired = desired_node(&snapshot.nodes, &self.settings);
        let mut problems: Vec<NodeProblem> = desired
            .problems
            .iter()
            .cloned()
            .map(NodeProblem::NodeData)
            .collect();
        if host {
            self.reconcile_host(&desired, &mut problems).await;
        }
        // Before the conflist: the first pod must find its guard rules in place.
        if let Some(policy) = &mut self.policy {
            policy.apply(
                snapshot,
                &self.settings.node_name,
                &desired.pod_cidrs,
                resync,
                &mut problems,
            );
        }
        if !host {
            // Problems of the host parts stay as they were until they are looked at again.
            problems.extend(self.host_problems.iter().cloned());
        }
        self.report(problems);
        if host && let Some(conflist) = &desired.conflist {
            self.write_conflist(conflist);
        }
    }

    /// Forwarding, routes and masquerading; their problems go to `problems` and are kept for
    /// reconciles that do not look at the host.
    async fn reconcile_host(&mut self, desired: &DesiredNode, problems: &mut Vec<NodeProblem>) {
        let before = problems.len();
        match enable_forwarding(desired.ipv6) {
            Ok(changed) => {
                for sysctl in changed {
                    info!(sysctl, "turned forwarding on");
                }
            }
            // Logged at every attempt, not once: it does not go to `problems`.
            Err(problem) => error!("{}", NodeProblem::Forwarding(problem.to_string())),
        }
        match sync_routes(&self.handle, &desired.routes).await {
            Ok(report) => {
                for route in &report.installed {
                    info!(dst = %route.dst, via = %route.via, "route installed");
                }
                for route in &report.removed {
                    info!(dst = %route.dst, via = %route.via, "route removed");
                }
                problems.extend(report.failed.into_iter().map(NodeProblem::RouteRefused));
            }
            Err(problem) => problems.push(NodeProblem::RoutesUnsynced(problem.to_string())),
        }
        if let Err(problem) = apply_masquerade(&desired.masquerade) {
            problems.push(NodeProblem::masquerade(&problem));
        }
        self.host_problems = problems[before..].to_vec();
    }

    /// Writes the conflist if it differs from the file's; a failure is logged at every
    /// attempt and retried at the next resync.
    fn write_conflist(&self, conflist: &str) {
        let dir = &self.args.cni_conf_dir;
        match write_conflist(dir, &self.args.cni_conf_file, conflist) {
            Ok(true) => info!(
                path = %dir.join(&self.args.cni_conf_file).display(),
                "wrote the CNI configuration"
            ),
            Ok(false) => {}
            Err(problem) => error!("{}", NodeProblem::Conflist(problem.to_string())),
        }
    }

    /// Logs problems that are new, and those that went away; one that lasts is retried at
    /// each resync but logged once.
    fn report(&mut self, problems: Vec<NodeProblem>) {
        let (new, gone) = self.reported.update(problems);
        new.iter().for_each(|problem| warn!("{problem}"));
        gone.iter().for_each(|gone| info!("resolved: {gone}"));
    }
}
