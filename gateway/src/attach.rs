//! Which listeners a route attaches to, per parentRef, and why not when it does not.

use portcullis_kube::objects::gateway_api::{GATEWAY_API_GROUP, ParentReference};
use portcullis_kube::store::Snapshot;

use crate::Condition;
use crate::hostname::{Hostname, intersect, owns};
use crate::listeners::ActiveListener;

/// One parentRef of a route that names a Gateway of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    /// The Gateway's namespace (always written out, as status needs it).
    pub namespace: String,
    /// The Gateway's name.
    pub name: String,
    /// `sectionName`.
    pub section_name: Option<String>,
    /// `port`.
    pub port: Option<i32>,
}

/// A route's attachment to one listener: the listener and the hostnames served there.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// Index into the active listeners.
    pub listener: usize,
    /// Hostnames served on it (`None`: every host the listener takes).
    pub hostnames: Vec<Option<Hostname>>,
}

/// What one parentRef came to.
#[derive(Debug, Clone)]
pub struct ParentOutcome {
    /// Its index in `parentRefs`.
    pub index: usize,
    /// The parent.
    pub parent: Parent,
    /// `Accepted`.
    pub accepted: Condition,
    /// The listeners attached to (empty unless accepted).
    pub attachments: Vec<Attachment>,
}

/// Settles a route's parentRefs against our active listeners. `gateways` are our Gateways'
/// (namespace, name); parentRefs naming anything else are not ours to answer.
pub fn attach(
    snapshot: &Snapshot,
    route_namespace: &str,
    route_kind: &str,
    parent_refs: &[ParentReference],
    hostnames: &[Hostname],
    listeners: &[ActiveListener],
    gateways: &[(String, String)],
) -> Vec<ParentOutcome> {
    let mut outcomes = Vec::new();
    for (index, reference) in parent_refs.iter().enumerate() {
        let group = reference.group.as_deref().unwrap_or(GATEWAY_API_GROUP);
        let kind = reference.kind.as_deref().unwrap_or("Gateway");
        if group != GATEWAY_API_GROUP || kind != "Gateway" {
            continue;
        }
        let namespace = reference
            .namespace
            .clone()
            .unwrap_or_else(|| route_namespace.to_string());
        if !gateways.contains(&(namespace.clone(), reference.name.clone())) {
            continue;
        }
        let parent = Parent {
            namespace: namespace.clone(),
            name: reference.name.clone(),
            section_name: reference.section_name.clone(),
            port: reference.port,
        };
        let named: Vec<usize> = listeners
            .iter()
            .enumerate()
            .filter(|(_, l)| l.gateway.namespace == namespace && l.gateway.name == reference.name)
            .filter(|(_, l)| reference.section_name.as_ref().is_none_or(|s| *s == l.name))
            .filter(|(_, l)| reference.port.is_none_or(|p| p == i32::from(l.port)))
            .map(|(index, _)| index)
            .collect();
        if named.is_empty() {
            outcomes.push(ParentOutcome {
                index,
                parent,
                accepted: Condition::no(
                    "NoMatchingParent",
                    "no served listener of the Gateway matches sectionName and port",
                ),
                attachments: Vec::new(),
            });
            continue;
        }
        let allowed: Vec<usize> = named
            .into_iter()
            .filter(|index| {
                let listener = &listeners[*index];
                listener.kinds.allows(route_kind)
                    && listener.allows_namespace(snapshot, route_namespace)
            })
            .collect();
        if allowed.is_empty() {
            outcomes.push(ParentOutcome {
                index,
                parent,
                accepted: Condition::no(
                    "NotAllowedByListeners",
                    "the listeners' allowedRoutes do not take this route's namespace or kind",
                ),
                attachments: Vec::new(),
            });
            continue;
        }
        let mut attachments = Vec::new();
        for listener_index in allowed {
            let listener = &listeners[listener_index];
            let met = intersect(listener.hostname.as_ref(), hostnames);
            if met.is_empty() {
                continue;
            }
            // Accepted where the hostnames meet; served only where no more specific
            // listener on the port owns the name.
            let served = met
                .into_iter()
                .filter(|h| {
                    let same_port = listeners
                        .iter()
                        .filter(|l| l.port == listener.port)
                        .map(|l| l.hostname.as_ref());
                    owns(listener.hostname.as_ref(), h.as_ref(), same_port)
                })
                .collect();
            attachments.push(Attachment {
                listener: listener_index,
                hostnames: served,
            });
        }
        let accepted = if attachments.is_empty() {
            Condition::no(
                "NoMatchingListenerHostname",
                "none of the route's hostnames matches a listener's hostname",
            )
        } else {
            Condition::yes("Accepted", "route accepted")
        };
        outcomes.push(ParentOutcome {
            index,
            parent,
            accepted,
            attachments,
        });
    }
    outcomes
}
