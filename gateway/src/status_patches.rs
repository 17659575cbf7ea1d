//! What Gateway API status must say, as the `status` objects to write: pure, from the
//! translation's [`GatewayStatus`] and the status the objects already carry. Only objects
//! whose status differs (lastTransitionTime aside) get a patch, so a written status that comes
//! back as a watch event asks for nothing more.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_kube::objects::gateway_api::GATEWAY_API_GROUP;
use portcullis_kube::objects::{Kind, ObjectKey};
use portcullis_kube::store::Snapshot;
use serde_json::{Value, json};

use crate::route_view::{all_routes, route_status};
use crate::{Condition, GatewayStatus, ParentState};

/// The features a GatewayClass of ours reports in `status.supportedFeatures`, sorted.
pub const SUPPORTED_FEATURES: &[&str] = &[
    "BackendTLSPolicy",
    "GRPCRoute",
    "Gateway",
    "GatewayHTTPListenerIsolation",
    "GatewayPort8080",
    "HTTPRoute",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteBackendTimeout",
    "HTTPRouteDestinationPortMatching",
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
    "HTTPRouteParentRefPort",
    "HTTPRoutePathRedirect",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteRequestPercentageMirror",
    "HTTPRouteRequestTimeout",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteSchemeRedirect",
    "ReferenceGrant",
    "TLSRoute",
];

/// One object's new `status`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPatch {
    /// The object.
    pub object: ObjectKey,
    /// The `resourceVersion` the status was computed from: a route's `parents` are shared
    /// with other controllers, so its write must not overwrite a newer one.
    pub resource_version: Option<String>,
    /// The whole `status` to write.
    pub status: Value,
}

/// What the status says besides the translation.
#[derive(Debug, Clone, Copy)]
pub struct StatusContext<'a> {
    /// Our `--gateway-controller-name`, written into route parents.
    pub controller_name: &'a str,
    /// The Gateways' addresses (`--publish-service`, `--publish-status-address`).
    pub addresses: &'a [String],
    /// Now, as RFC 3339 (UTC, seconds), for conditions that change.
    pub now: &'a str,
}

/// The patches that bring every object's status to what `status` says: every GatewayClass and
/// Gateway of ours, and the routes in `routes` (`None`: every route).
pub fn status_patches(
    snapshot: &Snapshot,
    status: &GatewayStatus,
    context: &StatusContext<'_>,
    routes: Option<&BTreeSet<ObjectKey>>,
) -> Vec<StatusPatch> {
    let mut patches = Vec::new();
    for class in &status.classes {
        let Some(object) = snapshot.gateway_classes.get(&class.name) else {
            continue;
        };
        let generation = class.generation;
        let current = &object.status.value();
        let desired = json!({
            "conditions": conditions(current, generation, context.now, &[("Accepted", &class.accepted)]),
            "supportedFeatures": SUPPORTED_FEATURES.iter().map(|name| json!({"name": name})).collect::<Vec<_>>(),
        });
        push_if_changed(
            &mut patches,
            ObjectKey {
                kind: Kind::GatewayClass,
                namespace: String::new(),
                name: class.name.clone(),
            },
            current,
            desired,
        );
    }
    let addresses: Vec<Value> = context
        .addresses
        .iter()
        .map(|address| {
            let kind = if address.parse::<std::net::IpAddr>().is_ok() {
                "IPAddress"
            } else {
                "Hostname"
            };
            json!({"type": kind, "value": address})
        })
        .collect();
    for gateway in &status.gateways {
        let id = (
            gateway.gateway.namespace.clone(),
            gateway.gateway.name.clone(),
        );
        let Some(object) = snapshot.gateways.get(&id) else {
            continue;
        };
        let current = &object.status.value();
        let generation = gateway.generation;
        let listeners: Vec<Value> = gateway
            .listeners
            .iter()
            .map(|listener| {
                let current_listener = current
                    .get("listeners")
                    .and_then(Value::as_array)
                    .and_then(|list| {
                        list.iter()
                            .find(|l| l.get("name").and_then(Value::as_str) == Some(&listener.name))
                    })
                    .cloned()
                    .unwrap_or(Value::Null);
                json!({
                    "name": listener.name,
                    "supportedKinds": listener.supported_kinds.iter()
                        .map(|kind| json!({"group": GATEWAY_API_GROUP, "kind": kind}))
                        .collect::<Vec<_>>(),
                    "attachedRoutes": listener.attached_routes,
                    "conditions": conditions(&current_listener, generation, context.now, &[
                        ("Accepted", &listener.accepted),
                        ("ResolvedRefs", &listener.resolved_refs),
                        ("Programmed", &listener.programmed),
                        ("Conflicted", &listener.conflicted),
                    ]),
                })
            })
            .collect();
        let desired = json!({
            "addresses": addresses,
            "conditions": conditions(current, generation, context.now, &[
                ("Accepted", &gateway.accepted),
                ("Programmed", &gateway.programmed),
            ]),
            "listeners": listeners,
        });
        push_if_changed(&mut patches, gateway.gateway.clone(), current, desired);
    }
    let ours: BTreeMap<&ObjectKey, (&[ParentState], i64)> = status
        .routes
        .iter()
        .map(|r| (&r.route, (r.parents.as_slice(), r.generation)))
        .collect();
    let considered: Vec<ObjectKey> = match routes {
        Some(routes) => routes.iter().cloned().collect(),
        None => all_routes(snapshot).collect(),
    };
    for key in considered {
        let Some((meta, route_status)) = route_status(snapshot, &key) else {
            continue;
        };
        let (parents, generation) = ours.get(&key).copied().unwrap_or((&[], meta.generation));
        let desired: Vec<Entry<'_>> = parents
            .iter()
            .map(|parent| {
                (
                    parent_ref(parent),
                    [
                        ("Accepted", &parent.accepted),
                        ("ResolvedRefs", &parent.resolved_refs),
                    ],
                )
            })
            .collect();
        let Some(status) = with_our_entries(
            route_status.value(),
            ("parents", "parentRef"),
            context,
            generation,
            &desired,
        ) else {
            continue;
        };
        patches.push(StatusPatch {
            object: key,
            resource_version: meta.resource_version.clone(),
            status,
        });
    }
    policy_patches(snapshot, status, context, &mut patches);
    patches
}

/// Each BackendTLSPolicy's `status.ancestors`: one entry of ours per Gateway whose routes
/// use it, other controllers' entries kept.
fn policy_patches(
    snapshot: &Snapshot,
    status: &GatewayStatus,
    context: &StatusContext<'_>,
    patches: &mut Vec<StatusPatch>,
) {
    for policy in &status.policies {
        let id = (policy.policy.namespace.clone(), policy.policy.name.clone());
        let Some(object) = snapshot.backend_tls_policies.get(&id) else {
            continue;
        };
        let desired: Vec<Entry<'_>> = policy
            .ancestors
            .iter()
            .map(|(namespace, name)| {
                let reference = json!({
                    "group": GATEWAY_API_GROUP,
                    "kind": "Gateway",
                    "namespace": namespace,
                    "name": name,
                });
                (
                    reference,
                    [
                        ("Accepted", &policy.accepted),
                        ("ResolvedRefs", &policy.resolved_refs),
                    ],
                )
            })
            .collect();
        let Some(status) = with_our_entries(
            object.status.value(),
            ("ancestors", "ancestorRef"),
            context,
            policy.generation,
            &desired,
        ) else {
            continue;
        };
        patches.push(StatusPatch {
            object: policy.policy.clone(),
            resource_version: object.metadata.resource_version.clone(),
            status,
        });
    }
}

/// One entry of ours to be: its reference, and its two conditions.
type Entry<'a> = (Value, [(&'a str, &'a Condition); 2]);

/// `current_status` with one per-controller list (`parents` of a route under `parentRef`,
/// `ancestors` of a policy under `ancestorRef`) made to hold other controllers' entries as they
/// are and ours as `desired` says (a condition that did not change keeps its
/// lastTransitionTime); `None` when ours already say that.
fn with_our_entries(
    current_status: Value,
    (list, reference_key): (&str, &str),
    context: &StatusContext<'_>,
    generation: i64,
    desired: &[Entry<'_>],
) -> Option<Value> {
    let (others, mine): (Vec<Value>, Vec<Value>) = current_status
        .get(list)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .partition(|entry| {
            entry.get("controllerName").and_then(Value::as_str) != Some(context.controller_name)
        });
    let desired: Vec<Value> = desired
        .iter()
        .map(|(reference, wanted)| {
            let current = mine
                .iter()
                .find(|m| m.get(reference_key) == Some(reference))
                .cloned()
                .unwrap_or(Value::Null);
            json!({
                reference_key: reference,
                "controllerName": context.controller_name,
                "conditions": conditions(&current, generation, context.now, wanted),
            })
        })
        .collect();
    if without_times(&Value::from(mine)) == without_times(&Value::from(desired.clone())) {
        return None;
    }
    let mut all = others;
    all.extend(desired);
    let mut status = current_status;
    if !status.is_object() {
        status = json!({});
    }
    status[list] = Value::from(all);
    Some(status)
}

/// A route parent's `parentRef` as status writes it: group, kind and namespace spelled out.
fn parent_ref(parent: &ParentState) -> Value {
    let p = &parent.parent;
    let mut reference = json!({
        "group": GATEWAY_API_GROUP,
        "kind": "Gateway",
        "namespace": p.namespace,
        "name": p.name,
    });
    if let Some(section) = &p.section_name {
        reference["sectionName"] = json!(section);
    }
    if let Some(port) = p.port {
        reference["port"] = json!(port);
    }
    reference
}

/// Conditions as status writes them; a condition whose status did not change keeps its
/// `lastTransitionTime` from `current` (an object holding `conditions`).
fn conditions(current: &Value, generation: i64, now: &str, wanted: &[(&str, &Condition)]) -> Value {
    let previous = current.get("conditions").and_then(Value::as_array);
    let list: Vec<Value> = wanted
        .iter()
        .map(|(kind, condition)| {
            let status = if condition.status { "True" } else { "False" };
            let since = previous
                .and_then(|list| {
                    list.iter().find(|c| {
                        c.get("type").and_then(Value::as_str) == Some(kind)
                            && c.get("status").and_then(Value::as_str) == Some(status)
                    })
                })
                .and_then(|c| c.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| json!(now));
            json!({
                "type": kind,
                "status": status,
                "reason": condition.reason,
                "message": condition.message,
                "observedGeneration": generation,
                "lastTransitionTime": since,
            })
        })
        .collect();
    Value::from(list)
}

/// `value` without any `lastTransitionTime`, for comparing what status says.
fn without_times(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| key.as_str() != "lastTransitionTime")
                .map(|(key, v)| (key.clone(), without_times(v)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.iter().map(without_times).collect()),
        other => other.clone(),
    }
}

/// A patch for a GatewayClass or Gateway (ours alone: written without a resourceVersion) when
/// its status would change.
fn push_if_changed(
    patches: &mut Vec<StatusPatch>,
    object: ObjectKey,
    current: &Value,
    desired: Value,
) {
    // Compare only the fields we write: other controllers' and newer fields stay.
    let mut merged = if current.is_object() {
        current.clone()
    } else {
        json!({})
    };
    if let (Some(target), Some(fields)) = (merged.as_object_mut(), desired.as_object()) {
        for (key, value) in fields {
            target.insert(key.clone(), value.clone());
        }
    }
    if without_times(&merged) != without_times(current) {
        patches.push(StatusPatch {
            object,
            resource_version: None,
            status: merged,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GatewayConfig, translate_gateways};
    use portcullis_kube::manifests::parse_manifest;

    const OBJECTS: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ours, generation: 2}
spec: {controllerName: example.dev/gw}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: web, generation: 3}
spec:
  gatewayClassName: ours
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: web, generation: 5, resourceVersion: '42'}
spec:
  parentRefs: [{name: edge}]
  rules: [{backendRefs: [{name: missing, port: 80}]}]
status:
  parents:
  - parentRef: {name: other-gateway}
    controllerName: someone.else/controller
    conditions: []
";

    fn snapshot(text: &str) -> Snapshot {
        Snapshot::from_objects(parse_manifest("t.yaml", text).expect("parses").objects)
    }

    fn patches(snapshot: &Snapshot) -> Vec<StatusPatch> {
        let config = GatewayConfig {
            controller_name: "example.dev/gw".into(),
            reserved_ports: vec![],
        };
        let translation = translate_gateways(snapshot, &config);
        let context = StatusContext {
            controller_name: "example.dev/gw",
            addresses: &["192.0.2.7".to_string(), "lb.example".to_string()],
            now: "2026-12-01T00:00:00Z",
        };
        status_patches(snapshot, &translation.status, &context, None)
    }

    #[test]
    fn status_says_what_the_spec_asks_and_keeps_other_controllers_entries() {
        let first = patches(&snapshot(OBJECTS));
        assert_eq!(first.len(), 3, "{first:#?}");
        let class = &first[0].status;
        assert_eq!(class["conditions"][0]["type"], "Accepted");
        assert_eq!(class["conditions"][0]["observedGeneration"], 2);
        assert_eq!(class["supportedFeatures"][0]["name"], SUPPORTED_FEATURES[0]);
        let mut sorted = SUPPORTED_FEATURES.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, SUPPORTED_FEATURES, "kept sorted, as the spec asks");
        let gateway = &first[1].status;
        assert_eq!(
            gateway["addresses"][0],
            json!({"type": "IPAddress", "value": "192.0.2.7"})
        );
        assert_eq!(
            gateway["addresses"][1],
            json!({"type": "Hostname", "value": "lb.example"})
        );
        assert_eq!(gateway["listeners"][0]["attachedRoutes"], 1);
        assert_eq!(gateway["conditions"][1]["type"], "Programmed");
        assert_eq!(gateway["conditions"][1]["observedGeneration"], 3);
        let route = &first[2];
        assert_eq!(route.resource_version.as_deref(), Some("42"));
        let parents = route.status["parents"].as_array().expect("parents");
        assert_eq!(parents.len(), 2, "the other controller's entry stays");
        assert_eq!(parents[0]["controllerName"], "someone.else/controller");
        let ours = &parents[1];
        assert_eq!(
            ours["parentRef"],
            json!({"group": GATEWAY_API_GROUP, "kind": "Gateway", "namespace": "web", "name": "edge"})
        );
        assert_eq!(ours["conditions"][0]["status"], "True");
        assert_eq!(ours["conditions"][1]["reason"], "BackendNotFound");
        assert_eq!(ours["conditions"][1]["observedGeneration"], 5);

        // Once written (as the watch brings it back), nothing more is asked for.
        let mut written = OBJECTS.replace(
            "status:\n  parents:\n  - parentRef: {name: other-gateway}\n    controllerName: someone.else/controller\n    conditions: []\n",
            "",
        );
        for patch in &first {
            let status = serde_json::to_string(&patch.status).expect("json");
            let marker = match patch.object.kind {
                Kind::GatewayClass => "spec: {controllerName: example.dev/gw}\n",
                Kind::Gateway => "  listeners: [{name: http, port: 80, protocol: HTTP}]\n",
                _ => "  rules: [{backendRefs: [{name: missing, port: 80}]}]\n",
            };
            written = written.replace(marker, &format!("{marker}status: {status}\n"));
        }
        assert_eq!(patches(&snapshot(&written)), Vec::new());
    }
}
