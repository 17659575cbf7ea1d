//! API mode's writers: replicas elect a leader, which alone writes Ingress status and Events.
//! Started before the reconciler, which is handed their inboxes.

use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::sync::watch;

use crate::args::IngressArgs;
use crate::event_writer::{EventNotice, run_event_writer};
use crate::gateway_status_writer::run_gateway_status_writer;
use crate::leader::{Election, run_election};
use crate::reconcile::{GatewayStatusTarget, StatusTarget};
use crate::status_writer::run_status_writer;
use crate::translate::StatusSource;
use portcullis_kube::source_choice::Source;

/// What the publisher sends to the writers; all `None` with `--manifests`.
#[derive(Default)]
pub(super) struct ApiWriters {
    /// The status writer, with `--publish-service` or `--publish-status-address`.
    pub(super) status: Option<StatusTarget>,
    /// The event writer's inbox.
    pub(super) events: Option<UnboundedSender<Vec<EventNotice>>>,
    /// The Gateway API status writer.
    pub(super) gateway_status: Option<GatewayStatusTarget>,
}

/// In API mode, starts the leader election, the status writer (if a publish flag is set) and
/// the event writer, the last two writing only while this replica leads.
pub(super) fn start_api_writers(source: &Source, args: &IngressArgs) -> ApiWriters {
    let Source::Kubernetes(client) = source else {
        return ApiWriters::default();
    };
    let (leading, leadership) = watch::channel(false);
    let election = Election {
        namespace: own_namespace(),
        lease: args.election_id.clone(),
        identity: own_identity(),
        ttl: args.election_ttl,
    };
    tokio::spawn(run_election(client.clone(), election, leading));
    let status = status_source(args).map(|source| {
        let (updates, inbox) = mpsc::unbounded_channel();
        tokio::spawn(run_status_writer(client.clone(), inbox, leadership.clone()));
        StatusTarget { source, updates }
    });
    let (patches, gateway_inbox) = mpsc::unbounded_channel();
    tokio::spawn(run_gateway_status_writer(
        client.clone(),
        gateway_inbox,
        leadership.clone(),
    ));
    let gateway_status = Some(GatewayStatusTarget {
        source: status_source(args),
        patches,
    });
    let (notices, inbox) = mpsc::unbounded_channel();
    tokio::spawn(run_event_writer(
        client.clone(),
        args.controller_name.clone(),
        own_identity(),
        inbox,
        leadership,
    ));
    ApiWriters {
        status,
        events: Some(notices),
        gateway_status,
    }
}

/// Where published addresses come from: `--publish-service`, else `--publish-status-address`,
/// else nowhere (status is not written).
fn status_source(args: &IngressArgs) -> Option<StatusSource> {
    match (
        &args.publish_service,
        args.publish_status_address.is_empty(),
    ) {
        (Some(service), _) => Some(StatusSource::Service {
            namespace: service.namespace.clone(),
            name: service.name.clone(),
        }),
        (None, false) => Some(StatusSource::Addresses(args.publish_status_address.clone())),
        (None, true) => None,
    }
}

/// This replica's name for leader election: `POD_NAME` (the chart sets it), else the host name.
fn own_identity() -> String {
    std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| format!("portcullis-{}", std::process::id()))
}

/// The namespace of the leader Lease: `POD_NAMESPACE`, else the service account's, else `default`.
fn own_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace").ok()
        })
        .map(|namespace| namespace.trim().to_string())
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| "default".to_string())
}
