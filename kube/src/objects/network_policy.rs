//! NetworkPolicies are kept as the JSON the source delivered: the policy parser reads it
//! itself, so it can notice fields it does not know and fail closed instead of dropping them.

use serde_json::Value;

/// One NetworkPolicy, unparsed.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPolicy {
    /// `metadata.namespace` (sources fill in `default`).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// The whole object (`metadata.managedFields` and last-applied annotations removed).
    pub json: Value,
}

impl RawPolicy {
    /// Wraps a NetworkPolicy object; the namespace defaults to `default`.
    pub fn new(mut json: Value) -> RawPolicy {
        let text = |json: &Value, field: &str| {
            json.get("metadata")
                .and_then(|m| m.get(field))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let mut namespace = text(&json, "namespace");
        if namespace.is_empty() {
            namespace = "default".to_string();
            if let Some(meta) = json.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("namespace".into(), namespace.clone().into());
            }
        }
        if let Some(meta) = json.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
            if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
            }
        }
        RawPolicy {
            name: text(&json, "name"),
            namespace,
            json,
        }
    }
}
