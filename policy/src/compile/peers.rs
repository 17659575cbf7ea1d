//! The peers of a rule (`from` / `to`), resolved against the cluster's pods and namespaces,
//! and which pod changes can alter them. Resolutions are cached by what they depend on, so a
//! pod added re-resolves only the rules that may select it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::intervals::{AddrRange, cidr_minus, merge};
use crate::model::{Labels, Pod};
use crate::policy::Peer;

/// What a rule's peers depend on besides the cluster: the peers, and the policy's namespace
/// when a pod peer has no namespace selector (it means "this namespace"). Identical rules of
/// different policies share one resolution.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct PeerKey {
    namespace: Option<String>,
    /// `None`: every peer.
    peers: Option<Vec<Peer>>,
}

impl PeerKey {
    pub(super) fn new(namespace: &str, peers: Option<&[Peer]>) -> PeerKey {
        let local = peers.is_some_and(|peers| {
            peers.iter().any(|p| {
                matches!(
                    p,
                    Peer::Pods {
                        namespaces: None,
                        ..
                    }
                )
            })
        });
        PeerKey {
            namespace: local.then(|| namespace.to_string()),
            peers: peers.map(<[Peer]>::to_vec),
        }
    }

    /// Whether `pod` (a peer-eligible pod: not hostNetwork, with an address) is, or could
    /// be, among the resolved peers; a change to such a pod makes the resolution stale.
    pub(super) fn may_select(
        &self,
        pod: &Pod,
        namespace_labels: &BTreeMap<String, Labels>,
    ) -> bool {
        let Some(peers) = &self.peers else {
            return true;
        };
        peers.iter().any(|peer| match peer {
            Peer::Pods { namespaces, pods } => {
                pod_in(
                    pod,
                    self.namespace.as_deref(),
                    namespaces.as_ref(),
                    namespace_labels,
                ) && pods.as_ref().is_none_or(|s| s.matches(&pod.labels))
            }
            Peer::IpBlock { cidr, .. } => pod.ips.iter().any(|ip| cidr.contains(ip)),
        })
    }
}

/// A rule's peers, resolved.
#[derive(Debug)]
pub(super) struct Resolved {
    /// `from`/`to` missing: every address.
    pub(super) everyone: bool,
    /// The peers' addresses, merged.
    pub(super) addresses: Vec<AddrRange>,
    /// The peer pods (for named ports on egress, which resolve per destination pod).
    pub(super) pods: Vec<Arc<Pod>>,
}

/// Resolves `key` against `peers` (every pod that can be a peer).
pub(super) fn resolve(
    key: &PeerKey,
    peers: &[Arc<Pod>],
    namespace_labels: &BTreeMap<String, Labels>,
) -> Resolved {
    let Some(rule_peers) = &key.peers else {
        return Resolved {
            everyone: true,
            addresses: vec![AddrRange::everything(false), AddrRange::everything(true)],
            pods: peers.to_vec(),
        };
    };
    let mut addresses = Vec::new();
    let mut pods = Vec::new();
    for peer in rule_peers {
        match peer {
            Peer::Pods {
                namespaces,
                pods: selector,
            } => {
                for candidate in peers {
                    let namespace = key.namespace.as_deref();
                    if pod_in(candidate, namespace, namespaces.as_ref(), namespace_labels)
                        && selector
                            .as_ref()
                            .is_none_or(|s| s.matches(&candidate.labels))
                    {
                        addresses.extend(candidate.ips.iter().map(|ip| AddrRange::single(*ip)));
                        pods.push(Arc::clone(candidate));
                    }
                }
            }
            Peer::IpBlock { cidr, except } => {
                let block = cidr_minus(*cidr, except);
                pods.extend(
                    peers
                        .iter()
                        .filter(|candidate| {
                            candidate.ips.iter().any(|ip| {
                                let point = AddrRange::single(*ip);
                                block.iter().any(|b| {
                                    b.v6 == point.v6
                                        && b.start <= point.start
                                        && point.start <= b.end
                                })
                            })
                        })
                        .cloned(),
                );
                addresses.extend(block);
            }
        }
    }
    Resolved {
        everyone: false,
        addresses: merge(addresses),
        pods,
    }
}

/// Whether `pod` is in the namespaces a pod peer names: those its selector matches, or (no
/// selector) the policy's own.
fn pod_in(
    pod: &Pod,
    own: Option<&str>,
    selector: Option<&crate::selector::Selector>,
    namespace_labels: &BTreeMap<String, Labels>,
) -> bool {
    match selector {
        None => own == Some(pod.namespace.as_str()),
        Some(selector) => namespace_labels
            .get(pod.namespace.as_str())
            .is_some_and(|labels| selector.matches(labels)),
    }
}
