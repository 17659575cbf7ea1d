//! Which `status.loadBalancer.ingress` each Ingress should carry. Pure: the writer only applies
//! the differences this returns.
//!
//! The addresses come from `--publish-status-address` (bare metal, NodePort) or from the
//! LoadBalancer status of the `--publish-service` Service (cloud). Our Ingresses get them; an
//! Ingress that left our class but still shows exactly our addresses gets them cleared, so two
//! controllers never fight over one Ingress.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::networking::v1::{Ingress, IngressLoadBalancerIngress};

use portcullis_kube::objects::{Kind, ObjectKey};
use portcullis_kube::store::Snapshot;

/// Where the published addresses come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusSource {
    /// `--publish-status-address`: fixed IPs or hostnames.
    Addresses(Vec<String>),
    /// `--publish-service NS/NAME`: that Service's `status.loadBalancer.ingress`.
    Service {
        /// Namespace of the Service.
        namespace: String,
        /// Name of the Service.
        name: String,
    },
}

/// One status change to write.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    /// The Ingress.
    pub ingress: ObjectKey,
    /// The addresses it should show; empty clears them.
    pub addresses: Vec<IngressLoadBalancerIngress>,
}

/// The addresses to publish, sorted, from the flag or the Service's status.
pub fn published_addresses(
    snapshot: &Snapshot,
    source: &StatusSource,
) -> Vec<IngressLoadBalancerIngress> {
    let mut addresses: Vec<IngressLoadBalancerIngress> = match source {
        StatusSource::Addresses(list) => list
            .iter()
            .map(|address| match address.parse::<IpAddr>() {
                Ok(_) => IngressLoadBalancerIngress {
                    ip: Some(address.clone()),
                    ..Default::default()
                },
                Err(_) => IngressLoadBalancerIngress {
                    hostname: Some(address.clone()),
                    ..Default::default()
                },
            })
            .collect(),
        StatusSource::Service { namespace, name } => snapshot
            .services
            .get(&(namespace.clone(), name.clone()))
            .into_iter()
            .flat_map(|service| service.load_balancer.iter())
            .map(|ingress| IngressLoadBalancerIngress {
                ip: ingress.ip.clone(),
                hostname: ingress.hostname.clone(),
                ..Default::default()
            })
            .collect(),
    };
    addresses.sort_by(order);
    addresses.dedup();
    addresses
}

/// The updates that bring every Ingress's status in line: ours get `addresses`, former ones
/// that still show exactly `addresses` get cleared. Ingresses already right are left out.
pub fn status_updates(
    ingresses: &BTreeMap<(String, String), Arc<Ingress>>,
    ours: &[ObjectKey],
    addresses: &[IngressLoadBalancerIngress],
) -> Vec<StatusUpdate> {
    let ours: HashSet<&ObjectKey> = ours.iter().collect();
    let mut updates = Vec::new();
    for ((namespace, name), ingress) in ingresses {
        let key = ObjectKey {
            kind: Kind::Ingress,
            namespace: namespace.clone(),
            name: name.clone(),
        };
        let current = current_addresses(ingress);
        let is_ours = ours.contains(&key);
        if is_ours && current != addresses {
            updates.push(StatusUpdate {
                ingress: key,
                addresses: addresses.to_vec(),
            });
        } else if !is_ours && !current.is_empty() && current == addresses {
            updates.push(StatusUpdate {
                ingress: key,
                addresses: Vec::new(),
            });
        }
    }
    updates
}

fn current_addresses(ingress: &Ingress) -> Vec<IngressLoadBalancerIngress> {
    let mut current: Vec<IngressLoadBalancerIngress> = ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|i| IngressLoadBalancerIngress {
            ip: i.ip,
            hostname: i.hostname,
            ..Default::default()
        })
        .collect();
    current.sort_by(order);
    current
}

/// IPs first, then hostnames, each sorted: the order both sides are compared in.
fn order(a: &IngressLoadBalancerIngress, b: &IngressLoadBalancerIngress) -> std::cmp::Ordering {
    (a.ip.is_none(), &a.ip, &a.hostname).cmp(&(b.ip.is_none(), &b.ip, &b.hostname))
}

#[cfg(test)]
mod tests;
