//! `portcullis node`: the node agent's loop. Nodes come from a source into the store; after
//! each batch of changes, and every `--resync-period` in case something outside changed the
//! host, the desired state is computed and applied: routes, forwarding, masquerading of
//! traffic leaving the cluster, CNI configuration.
//! On exit everything stays in place, so pods keep talking while the agent restarts.

use std::time::Instant;

use crate::routes::sync_routes;
use anyhow::Context;
use ipnet::IpNet;
use portcullis_cni::masquerade::apply_masquerade;
use portcullis_policy::carry::carry_ids;
use portcullis_policy::compile::{Compiler, PolicyInput};
use portcullis_policy::model::{Namespace, Pod};
use portcullis_policy::nft::program::{delete_table, replace_table};
use portcullis_policy::nft::socket::apply;
use portcullis_policy::nft::update::update_table;
use portcullis_policy::ruleset::Ruleset;
use rtnetlink::Handle;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tracing::{error, info, warn};

use crate::api_watches::run_node_kube_source;
use crate::args::NodeArgs;
use crate::desired::{DesiredNode, NodeSettings, desired_node};
use crate::host::{enable_forwarding, install_plugin, write_conflist};
use crate::policies::PolicyBook;
use portcullis_kube::lasting::Lasting;
use portcullis_kube::manifests::run_manifests_source;
use portcullis_kube::objects::Kind;
use portcullis_kube::source_choice::{Source, shutdown_signal};
use portcullis_kube::store::{Snapshot, Store};

/// Runs until SIGTERM or SIGINT. Nodes come from `--manifests DIR`, or else the Kubernetes API.
pub async fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    let source = Source::from_flags(args.manifests.as_deref(), args.kubeconfig.as_deref()).await?;
    // Before any conflist exists: a runtime that finds the configuration runs the plugin.
    if let Some(plugin) = &args.install_cni_plugin {
        let copied = install_plugin(plugin, &args.cni_bin_dir)
            .with_context(|| format!("--install-cni-plugin {}", plugin.display()))?;
        if copied {
            info!(dir = %args.cni_bin_dir.display(), "installed the CNI plugin");
        }
    }
    let (connection, handle, _) =
        rtnetlink::new_connection().context("cannot open a netlink socket")?;
    tokio::spawn(connection);

    let (events, mut received) = mpsc::unbounded_channel();
    let source_name = match source {
        Source::Manifests(dir) => {
            let name = format!("manifests {}", dir.display());
            tokio::spawn(async move {
                if let Err(problem) = run_manifests_source(dir, events).await {
                    error!("manifests source stopped: {problem}; keeping the last good state");
                }
            });
            name
        }
        Source::Kubernetes(client) => {
            tokio::spawn(run_node_kube_source(client, args.network_policy, events));
            "Kubernetes API".to_string()
        }
    };
    info!(node = %args.node_name, source = %source_name, "portcullis node started");

    let mut agent = Agent {
        settings: NodeSettings {
            node_name: args.node_name.clone(),
            network_name: args.network_name.clone(),
            bridge: args.bridge.clone(),
            mtu: args.mtu,
            masquerade_outside: args.masquerade_outside,
            cluster_cidrs: args.cluster_cidr.clone(),
        },
        handle,
        policy: args.network_policy.then(PolicyState::default),
        args,
        reported: Lasting::default(),
        host_problems: Vec::new(),
    };
    if agent.policy.is_none()
        && let Err(problem) = apply(delete_table())
    {
        warn!("cannot remove the NetworkPolicy table: {problem}");
    }
    let mut store = Store::default();
    let mut resync = tokio::time::interval(agent.args.resync_period);
    resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut source_open = true;
    // The host parts run at the first reconcile, then when a Node changed, and at resyncs.
    let mut host_pending = true;
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            event = received.recv(), if source_open => {
                let Some(event) = event else {
                    source_open = false;
                    continue;
                };
                store.apply(event);
                while let Ok(more) = received.try_recv() {
                    store.apply(more);
                }
                // Routes, forwarding, masquerading and the conflist follow the Nodes; a change
                // to pods, namespaces or policies only touches the policy table.
                host_pending |= store
                    .take_changes()
                    .iter()
                    .any(|key| key.kind == Kind::Node);
                if store.is_synced() {
                    agent.reconcile(&store, host_pending, false).await;
                    host_pending = false;
                }
            }
            _ = resync.tick() => {
                if store.is_synced() {
                    agent.reconcile(&store, true, true).await;
                    host_pending = false;
                }
            }
            stopped = &mut shutdown => {
                stopped?;
                info!("shutting down; routes and the CNI configuration stay in place");
                return Ok(());
            }
        }
    }
}

/// What a reconcile needs besides the store.
struct Agent {
    settings: NodeSettings,
    handle: Handle,
    /// NetworkPolicy state; `None` with `--network-policy=false`.
    policy: Option<PolicyState>,
    args: NodeArgs,
    /// Problems already logged, so each is logged once while it lasts.
    reported: Lasting<String>,
    /// Problems of routes, forwarding and masquerading at their last reconcile.
    host_problems: Vec<String>,
}

impl Agent {
    /// Makes the host match the objects in `store`: with `host`, routes, forwarding,
    /// masquerading and the conflist, then the policy table. Failures are logged and retried at
    /// the next change (of a Node, for the host parts) or resync; one failing part does not
    /// stop the others. At a `resync` the policy table is rewritten whole even if unchanged,
    /// which repairs edits made behind our back.
    async fn reconcile(&mut self, store: &Store, host: bool, resync: bool) {
        let (snapshot, _) = store.snapshot();
        let desired = desired_node(&snapshot.nodes, &self.settings);
        let mut problems = desired.problems.clone();
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
            let dir = &self.args.cni_conf_dir;
            match write_conflist(dir, &self.args.cni_conf_file, conflist) {
                Ok(true) => info!(
                    path = %dir.join(&self.args.cni_conf_file).display(),
                    "wrote the CNI configuration"
                ),
                Ok(false) => {}
                Err(problem) => {
                    error!("cannot write the CNI configuration: {problem}; retrying at resync");
                }
            }
        }
    }

    /// Forwarding, routes and masquerading; their problems go to `problems` and are kept for
    /// reconciles that do not look at the host.
    async fn reconcile_host(&mut self, desired: &DesiredNode, problems: &mut Vec<String>) {
        let before = problems.len();
        match enable_forwarding(desired.ipv6) {
            Ok(changed) => {
                for sysctl in changed {
                    info!(sysctl, "turned forwarding on");
                }
            }
            Err(problem) => error!("cannot turn forwarding on: {problem}; retrying at resync"),
        }
        match sync_routes(&self.handle, &desired.routes).await {
            Ok(report) => {
                for route in &report.installed {
                    info!(dst = %route.dst, via = %route.via, "route installed");
                }
                for route in &report.removed {
                    info!(dst = %route.dst, via = %route.via, "route removed");
                }
                problems.extend(report.failed);
            }
            Err(problem) => problems.push(format!("cannot sync routes: {problem}")),
        }
        if let Err(problem) = apply_masquerade(&desired.masquerade) {
            problems.push(problem.to_string());
        }
        self.host_problems = problems[before..].to_vec();
    }

    /// Logs problems that are new, and those that went away; one that lasts is retried at
    /// each resync but logged once.
    fn report(&mut self, problems: Vec<String>) {
        let (new, gone) = self.reported.update(problems);
        new.iter().for_each(|problem| warn!("{problem}"));
        gone.iter().for_each(|gone| info!("resolved: {gone}"));
    }
}

/// The NetworkPolicy half of the agent: each policy's last good version, the compiler with
/// what it worked out last time, and the ruleset in the kernel.
#[derive(Default)]
struct PolicyState {
    book: PolicyBook,
    compiler: Compiler,
    applied: Option<Ruleset>,
}

impl PolicyState {
    /// Compiles this node's ruleset and brings the kernel's table to it: the changes alone
    /// when it holds the last ruleset, the whole table at a resync (or when that fails).
    /// Problems go to `problems`.
    fn apply(
        &mut self,
        snapshot: &Snapshot,
        node: &str,
        pod_cidrs: &[IpNet],
        resync: bool,
        problems: &mut Vec<String>,
    ) {
        let (policies, policy_problems) = self.book.update(&snapshot.network_policies);
        problems.extend(policy_problems);
        let namespaces: Vec<&Namespace> = snapshot.namespaces.values().map(|n| &**n).collect();
        let pods: Vec<&Pod> = snapshot.pods.values().map(|p| &**p).collect();
        let started = Instant::now();
        let mut ruleset = self.compiler.compile(&PolicyInput {
            node,
            pod_cidrs,
            namespaces: &namespaces,
            pods: &pods,
            policies: &policies,
        });
        if let Some(applied) = &self.applied {
            ruleset = carry_ids(applied, ruleset);
        }
        let changed = self.applied.as_ref() != Some(&ruleset);
        if !resync && !changed {
            return;
        }
        let in_place = match (&self.applied, resync) {
            (Some(applied), false) => update_table(applied, &ruleset),
            _ => None,
        };
        let mut result = match in_place {
            Some(batch) => apply(batch).map(|()| "in place"),
            None => apply(replace_table(&ruleset)).map(|()| "whole"),
        };
        if let Err(problem) = &result
            && !resync
        {
            // The table is not what we last wrote (edited behind our back?): write it whole.
            warn!("cannot update the NetworkPolicy table in place ({problem}); rewriting it");
            result = apply(replace_table(&ruleset)).map(|()| "whole");
        }
        match result {
            Ok(how) => {
                if changed {
                    info!(
                        selected_pods = ruleset.pods.len(),
                        policies = policies.len(),
                        applied = how,
                        ms = started.elapsed().as_secs_f64() * 1000.0,
                        "NetworkPolicy ruleset applied"
                    );
                }
                self.applied = Some(ruleset);
            }
            Err(problem) => {
                // Unknown what the kernel holds now; the next attempt writes it whole.
                self.applied = None;
                problems.push(format!("cannot apply the NetworkPolicy ruleset: {problem}"));
            }
        }
    }
}
