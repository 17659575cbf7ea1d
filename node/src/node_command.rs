//! `portcullis node`: the node agent's loop. Nodes come from a source into the store; after
//! each batch of changes, and every `--resync-period` in case something outside changed the
//! host, the desired state is computed and applied: routes, forwarding, masquerading of
//! traffic leaving the cluster, CNI configuration.
//! On exit everything stays in place, so pods keep talking while the agent restarts.

mod agent;
mod policy_table;

use anyhow::Context;
use portcullis_policy::nft::program::delete_table;
use portcullis_policy::nft::socket::apply;
use rtnetlink::Handle;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::MissedTickBehavior;
use tracing::{info, warn};

use crate::api_watches::run_node_kube_source;
use crate::args::NodeArgs;
use crate::host::install_plugin;
use agent::Agent;
use portcullis_kube::event_batches::next_batch;
use portcullis_kube::objects::Kind;
use portcullis_kube::source_choice::{Source, shutdown_signal};
use portcullis_kube::store::{Store, StoreEvent};

/// Runs until SIGTERM or SIGINT. Nodes come from `--manifests DIR`, or else the Kubernetes API.
pub async fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    let source = Source::from_flags(args.manifests.as_deref(), args.kubeconfig.as_deref()).await?;
    // Before any conflist exists: a runtime that finds the configuration runs the plugin.
    install_cni_plugin(&args)?;
    let handle = open_netlink()?;
    let (events, received) = mpsc::unbounded_channel();
    let source_name = start_source(source, &args, events);
    info!(node = %args.node_name, source = %source_name, "portcullis node started");
    if !args.network_policy {
        remove_policy_table();
    }
    follow(Agent::new(args, handle), received).await
}

/// With `--install-cni-plugin`, copies the plugin into `--cni-bin-dir` unless it is there.
fn install_cni_plugin(args: &NodeArgs) -> anyhow::Result<()> {
    let Some(plugin) = &args.install_cni_plugin else {
        return Ok(());
    };
    let copied = install_plugin(plugin, &args.cni_bin_dir)
        .with_context(|| format!("--install-cni-plugin {}", plugin.display()))?;
    if copied {
        info!(dir = %args.cni_bin_dir.display(), "installed the CNI plugin");
    }
    Ok(())
}

/// The rtnetlink handle routes are synced with; its connection runs on the runtime.
fn open_netlink() -> anyhow::Result<Handle> {
    let (connection, handle, _) =
        rtnetlink::new_connection().context("cannot open a netlink socket")?;
    tokio::spawn(connection);
    Ok(handle)
}

/// Starts the chosen source sending into `events`; returns its name for the start line.
fn start_source(source: Source, args: &NodeArgs, events: UnboundedSender<StoreEvent>) -> String {
    let network_policy = args.network_policy;
    source.spawn(
        events,
        move |client, events| run_node_kube_source(client, network_policy, events),
        None,
        "keeping the last good state",
    )
}

/// With `--network-policy=false`, a table left by an earlier run would keep enforcing.
fn remove_policy_table() {
    if let Err(problem) = apply(delete_table()) {
        warn!("cannot remove the NetworkPolicy table: {problem}");
    }
}

/// Reconciles after each batch of events once the store is synced, and at every resync,
/// until SIGTERM or SIGINT.
async fn follow(
    mut agent: Agent,
    mut received: UnboundedReceiver<StoreEvent>,
) -> anyhow::Result<()> {
    let mut store = Store::default();
    let mut resync = tokio::time::interval(agent.resync_period());
    resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut source_open = true;
    // The host parts run at the first reconcile, then when a Node changed, and at resyncs.
    let mut host_pending = true;
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            batch = next_batch(&mut received, &mut store), if source_open => {
                let Some(batch) = batch else {
                    source_open = false;
                    continue;
                };
                // Routes, forwarding, masquerading and the conflist follow the Nodes; a change
                // to pods, namespaces or policies only touches the policy table.
                host_pending |= batch.changes.iter().any(|key| key.kind == Kind::Node);
                if batch.synced {
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
