//! Drops the parts of an object the controller never reads before it is stored, the way
//! controller-runtime's `TransformStripManagedFields` does: `managedFields` and kubectl's
//! `last-applied-configuration` often outweigh the rest of an object, and at 10,000 Ingresses
//! with their Services, EndpointSlices and Secrets every copy is kept for the process's life.
//!
//! The object kept is also a fresh copy made here, on the thread that keeps it. Sources decode
//! on other threads, amid far more short-lived garbage; if the kept objects stayed where they
//! were decoded, each of those allocator pages would stay pinned by a few live objects and
//! resident memory would keep the garbage's size. Copied out, the decoding threads' pages
//! empty and can go back to the OS.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::objects::Object;

/// kubectl's copy of the whole object as last applied: never read here.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The Secret keys the TLS translation reads.
const TLS_KEYS: [&str; 2] = ["tls.crt", "tls.key"];

/// The object without the fields the translation, status and events never read.
pub fn slim(object: Object) -> Object {
    object.slimmed()
}

/// Drops `managedFields` and kubectl's last-applied copy.
pub(crate) fn slim_meta(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    if let Some(annotations) = &mut meta.annotations {
        annotations.remove(LAST_APPLIED);
    }
}

/// The ConfigMap key BackendTLSPolicy CA certificates are read from.
pub const CA_CERTIFICATE_KEY: &str = "ca.crt";

/// Keeps only the CA certificate of a ConfigMap (all others may be large and are never read).
pub(crate) fn keep_ca_certificate(config_map: &mut ConfigMap) {
    if let Some(data) = &mut config_map.data {
        data.retain(|key, _| key == CA_CERTIFICATE_KEY);
    }
    config_map.binary_data = None;
}

/// Keeps only the certificate and key of a Secret.
pub(crate) fn keep_tls_keys(secret: &mut Secret) {
    if let Some(data) = &mut secret.data {
        data.retain(|key, _| TLS_KEYS.contains(&key.as_str()));
    }
    if let Some(data) = &mut secret.string_data {
        data.retain(|key, _| TLS_KEYS.contains(&key.as_str()));
    }
}

/// Edits the object, then returns a deep copy of the result allocated on this thread (see
/// the module documentation); the source's allocation is dropped.
pub(crate) fn edit<T: Clone>(object: Arc<T>, change: impl FnOnce(&mut T)) -> Arc<T> {
    let mut decoded = Arc::unwrap_or_clone(object);
    change(&mut decoded);
    Arc::new(decoded.clone())
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
        let Object::Ingress(ingress) = object else {
            panic!("not an Ingress");
        };
        let meta = &ingress.metadata;
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
    fn kept_lists_have_no_spare_room() {
        // Decoding grows lists by doubling: one path would keep room for four.
        let Object::Ingress(ingress) = slim(one(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: n}\n\
             spec: {rules: [{host: a, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]}\n",
        )) else {
            panic!("not an Ingress");
        };
        let rules = ingress.spec.as_ref().unwrap().rules.as_ref().unwrap();
        assert_eq!(rules.capacity(), 1);
        assert_eq!(rules[0].http.as_ref().unwrap().paths.capacity(), 1);
    }
}
