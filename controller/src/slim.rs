//! Drops the parts of an object the controller never reads before it is stored, the way
//! controller-runtime's `TransformStripManagedFields` does: `managedFields` and kubectl's
//! `last-applied-configuration` often outweigh the rest of an object, and at 10,000 Ingresses
//! with their Services, EndpointSlices and Secrets every copy is kept for the process's life.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::objects::Object;

/// kubectl's copy of the whole object as last applied: never read here.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The Secret keys the TLS translation reads.
const TLS_KEYS: [&str; 2] = ["tls.crt", "tls.key"];

/// The object without the fields the translation, status and events never read.
pub fn slim(object: Object) -> Object {
    match object {
        Object::IngressClass(o) => Object::IngressClass(edit(o, |o| slim_meta(&mut o.metadata))),
        Object::Ingress(o) => Object::Ingress(edit(o, |o| slim_meta(&mut o.metadata))),
        Object::Service(o) => Object::Service(edit(o, |o| slim_meta(&mut o.metadata))),
        Object::Endpoints(o) => Object::Endpoints(edit(o, |o| slim_meta(&mut o.metadata))),
        Object::EndpointSlice(o) => Object::EndpointSlice(edit(o, |o| {
            slim_meta(&mut o.metadata);
            for endpoint in &mut o.endpoints {
                // Only addresses and conditions decide where requests go.
                endpoint.target_ref = None;
                endpoint.node_name = None;
                endpoint.hostname = None;
                endpoint.zone = None;
                endpoint.hints = None;
                endpoint.deprecated_topology = None;
            }
        })),
        Object::Secret(o) => Object::Secret(edit(o, |o| {
            slim_meta(&mut o.metadata);
            if let Some(data) = &mut o.data {
                data.retain(|key, _| TLS_KEYS.contains(&key.as_str()));
            }
            if let Some(data) = &mut o.string_data {
                data.retain(|key, _| TLS_KEYS.contains(&key.as_str()));
            }
        })),
    }
}

fn slim_meta(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    if let Some(annotations) = &mut meta.annotations {
        annotations.remove(LAST_APPLIED);
    }
}

/// Edits the object in place when this is its only handle, else edits a copy.
fn edit<T: Clone>(object: Arc<T>, change: impl FnOnce(&mut T)) -> Arc<T> {
    let mut owned = Arc::unwrap_or_clone(object);
    change(&mut owned);
    Arc::new(owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::parse_manifest;

    fn one(yaml: &str) -> Object {
        parse_manifest("t.yaml", yaml).unwrap().objects.remove(0)
    }

    #[test]
    fn managed_fields_and_last_applied_are_dropped_other_annotations_kept() {
        let object = slim(one(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: i\n  namespace: n\n  \
             annotations: {kubectl.kubernetes.io/last-applied-configuration: '{}', portcullis.dev/ssl-redirect: 'false'}\n  \
             managedFields: [{manager: kubectl, operation: Apply}]\nspec: {}\n",
        ));
        let meta = object.meta();
        assert!(meta.managed_fields.is_none());
        let annotations = meta.annotations.as_ref().unwrap();
        assert_eq!(annotations.len(), 1);
        assert_eq!(annotations["portcullis.dev/ssl-redirect"], "false");
    }

    #[test]
    fn secrets_keep_only_the_certificate_and_key() {
        let Object::Secret(secret) = slim(one(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\ntype: kubernetes.io/tls\n\
             data: {tls.crt: Y2VydA==, tls.key: a2V5, ca.crt: Y2E=}\nstringData: {password: hunter2}\n",
        )) else {
            panic!("not a Secret");
        };
        let keys: Vec<&String> = secret.data.as_ref().unwrap().keys().collect();
        assert_eq!(keys, ["tls.crt", "tls.key"]);
        assert!(secret.string_data.as_ref().unwrap().is_empty());
    }

    #[test]
    fn endpoint_slices_keep_addresses_and_conditions_only() {
        let Object::EndpointSlice(slice) = slim(one(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e, namespace: n, labels: {kubernetes.io/service-name: s}}\n\
             addressType: IPv4\nports: [{port: 80}]\n\
             endpoints: [{addresses: [10.0.0.1], conditions: {ready: false}, nodeName: node-1, zone: z, targetRef: {kind: Pod, name: p}}]\n",
        )) else {
            panic!("not an EndpointSlice");
        };
        let endpoint = &slice.endpoints[0];
        assert_eq!(endpoint.addresses, ["10.0.0.1"]);
        assert_eq!(endpoint.conditions.as_ref().unwrap().ready, Some(false));
        assert!(endpoint.node_name.is_none() && endpoint.zone.is_none());
        assert!(endpoint.target_ref.is_none());
        assert_eq!(
            slice.metadata.labels.as_ref().unwrap()["kubernetes.io/service-name"],
            "s"
        );
    }
}
