//! Leader election with a `coordination.k8s.io/v1` Lease, so only one replica writes status.
//!
//! Every replica runs this loop. The Lease is created when absent, renewed by its holder every
//! third of its duration, and taken over once its holder has not renewed it for a whole
//! duration. Updates carry the Lease's resourceVersion, so two replicas racing for it cannot
//! both win. Routing never depends on leadership: every replica serves traffic.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tracing::{info, warn};

/// Who competes for which Lease.
#[derive(Debug, Clone)]
pub struct Election {
    /// Namespace of the Lease (the controller's own).
    pub namespace: String,
    /// Name of the Lease: `--election-id`.
    pub lease: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a Lease stays valid without renewal.
    pub ttl: Duration,
}

/// Competes for the Lease forever, publishing whether this replica leads.
pub async fn run_election(client: Client, election: Election, leading: watch::Sender<bool>) {
    let api: Api<Lease> = Api::namespaced(client, &election.namespace);
    let renew_every = election.ttl / 3;
    loop {
        let now_leading = match try_lead(&api, &election).await {
            Ok(leads) => leads,
            Err(error) => {
                warn!(lease = %election.lease, "leader election: {error}");
                false
            }
        };
        if *leading.borrow() != now_leading {
            if now_leading {
                info!(identity = %election.identity, lease = %election.lease, "became leader: writing Ingress status");
            } else {
                info!(identity = %election.identity, lease = %election.lease, "not leader: another replica writes Ingress status");
            }
            let _ = leading.send(now_leading);
        }
        tokio::time::sleep(renew_every).await;
    }
}

/// One round: returns whether this replica holds the Lease afterwards.
async fn try_lead(api: &Api<Lease>, election: &Election) -> Result<bool, kube::Error> {
    let now = k8s_openapi::jiff::Timestamp::now();
    let ttl_seconds = i32::try_from(election.ttl.as_secs()).unwrap_or(i32::MAX);
    let Some(mut lease) = api.get_opt(&election.lease).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(election.lease.clone()),
                namespace: Some(election.namespace.clone()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(election.identity.clone()),
                lease_duration_seconds: Some(ttl_seconds),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        };
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let mine = holder == election.identity;
    let duration = k8s_openapi::jiff::SignedDuration::from_secs(i64::from(
        spec.lease_duration_seconds.unwrap_or(ttl_seconds),
    ));
    let expired = spec
        .renew_time
        .as_ref()
        .is_none_or(|renewed| renewed.0 + duration < now);
    if !mine && !expired {
        return Ok(false);
    }
    if !mine {
        spec.holder_identity = Some(election.identity.clone());
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.renew_time = Some(MicroTime(now));
    spec.lease_duration_seconds = Some(ttl_seconds);
    match api
        .replace(&election.lease, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}
