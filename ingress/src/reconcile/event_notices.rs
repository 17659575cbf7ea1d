//! A rebuild's diagnostics as Event notices, for the event writer (API mode).

use k8s_openapi::api::core::v1::ObjectReference;

use crate::event_writer::EventNotice;
use crate::translate::Diagnostic;
use portcullis_kube::objects::gateway_api::GatewayMeta;
use portcullis_kube::objects::{Kind, ObjectKey};
use portcullis_kube::store::Snapshot;

/// One notice per diagnostic about an Ingress, Secret or Gateway API object present in the
/// snapshot; the note is the message, after the field when the diagnostic names one.
pub(super) fn event_notices(snapshot: &Snapshot, diagnostics: &[Diagnostic]) -> Vec<EventNotice> {
    diagnostics
        .iter()
        .filter_map(|diagnostic| {
            Some(EventNotice {
                object: reference(snapshot, &diagnostic.object)?,
                reason: diagnostic.reason.as_str(),
                note: if diagnostic.field.is_empty() {
                    diagnostic.message.clone()
                } else {
                    format!("{}: {}", diagnostic.field, diagnostic.message)
                },
            })
        })
        .collect()
}

/// The API reference of an Ingress, Secret or Gateway API object in the snapshot, for an
/// Event about it.
fn reference(snapshot: &Snapshot, key: &ObjectKey) -> Option<ObjectReference> {
    let id = (key.namespace.clone(), key.name.clone());
    let gateway_api = |meta: &GatewayMeta| ObjectReference {
        api_version: Some("gateway.networking.k8s.io/v1".to_string()),
        kind: Some(key.kind.as_str().to_string()),
        namespace: (!key.namespace.is_empty()).then(|| key.namespace.clone()),
        name: Some(key.name.clone()),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..Default::default()
    };
    match key.kind {
        Kind::Gateway => return Some(gateway_api(&snapshot.gateways.get(&id)?.metadata)),
        Kind::HTTPRoute => return Some(gateway_api(&snapshot.http_routes.get(&id)?.metadata)),
        Kind::GRPCRoute => return Some(gateway_api(&snapshot.grpc_routes.get(&id)?.metadata)),
        Kind::TLSRoute => return Some(gateway_api(&snapshot.tls_routes.get(&id)?.metadata)),
        Kind::BackendTLSPolicy => {
            return Some(gateway_api(
                &snapshot.backend_tls_policies.get(&id)?.metadata,
            ));
        }
        Kind::GatewayClass => {
            return Some(gateway_api(
                &snapshot.gateway_classes.get(&key.name)?.metadata,
            ));
        }
        _ => {}
    }
    let (api_version, meta) = match key.kind {
        Kind::Ingress => (
            "networking.k8s.io/v1",
            &snapshot.ingresses.get(&id)?.metadata,
        ),
        Kind::Secret => ("v1", &snapshot.secrets.get(&id)?.metadata),
        _ => return None,
    };
    Some(ObjectReference {
        api_version: Some(api_version.to_string()),
        kind: Some(key.kind.as_str().to_string()),
        namespace: Some(key.namespace.clone()),
        name: Some(key.name.clone()),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..Default::default()
    })
}
