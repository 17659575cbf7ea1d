//! ReferenceGrant: whether an object may refer to an object in another namespace.

use portcullis_kube::objects::gateway_api::GATEWAY_API_GROUP;
use portcullis_kube::store::Snapshot;

/// Who refers: a Gateway (to certificate Secrets) or a route (to backend Services).
#[derive(Debug, Clone, Copy)]
pub struct Referrer<'a> {
    /// The referrer's kind (`Gateway`, `HTTPRoute`); its group is Gateway API's.
    pub kind: &'a str,
    /// The referrer's namespace.
    pub namespace: &'a str,
}

/// What is referred to, in the core group.
#[derive(Debug, Clone, Copy)]
pub struct Referent<'a> {
    /// `Service` or `Secret`.
    pub kind: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// Its name.
    pub name: &'a str,
}

/// True when the reference stays in its namespace, or a ReferenceGrant in the referent's
/// namespace lets the referrer's kind and namespace refer to it. A grant lives in the
/// namespace of what it grants; a near miss (group, kind, namespace or name) grants nothing.
pub fn permitted(snapshot: &Snapshot, from: Referrer<'_>, to: Referent<'_>) -> bool {
    if from.namespace == to.namespace {
        return true;
    }
    snapshot
        .reference_grants
        .range((to.namespace.to_string(), String::new())..)
        .take_while(|((namespace, _), _)| namespace == to.namespace)
        .any(|(_, grant)| {
            let from_ok = grant.spec.from.iter().any(|f| {
                f.group == GATEWAY_API_GROUP && f.kind == from.kind && f.namespace == from.namespace
            });
            let to_ok = grant.spec.to.iter().any(|t| {
                t.group.is_empty()
                    && t.kind == to.kind
                    && t.name.as_deref().is_none_or(|name| name == to.name)
            });
            from_ok && to_ok
        })
}
