//! The parts of a `v1` Node the node agent reads: its pod CIDRs and internal addresses. Kept
//! as the API gives them (strings); the agent parses them and names the field when one is bad.

use k8s_openapi::api::core::v1::Node;

/// A Node as route planning and the CNI configuration read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactNode {
    /// `metadata.name`.
    pub name: String,
    /// `spec.podCIDRs`, or `[spec.podCIDR]` when only the older field is set.
    pub pod_cidrs: Vec<String>,
    /// The `address` of each `status.addresses` entry of type `InternalIP`, in order.
    pub internal_ips: Vec<String>,
}

impl From<&Node> for CompactNode {
    fn from(node: &Node) -> Self {
        let spec = node.spec.as_ref();
        let pod_cidrs = match spec.and_then(|s| s.pod_cidrs.as_ref()) {
            Some(cidrs) if !cidrs.is_empty() => cidrs.clone(),
            _ => spec.and_then(|s| s.pod_cidr.clone()).into_iter().collect(),
        };
        let internal_ips = node
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .into_iter()
            .flatten()
            .filter(|a| a.type_ == "InternalIP")
            .map(|a| a.address.clone())
            .collect();
        CompactNode {
            name: node.metadata.name.clone().unwrap_or_default(),
            pod_cidrs,
            internal_ips,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(json: serde_json::Value) -> CompactNode {
        CompactNode::from(&serde_json::from_value::<Node>(json).expect("a Node"))
    }

    #[test]
    fn keeps_pod_cidrs_and_internal_ips_only() {
        let compact = node(serde_json::json!({
            "metadata": {"name": "n1", "labels": {"a": "b"}},
            "spec": {"podCIDR": "10.0.1.0/24", "podCIDRs": ["10.0.1.0/24", "fd00:1::/64"]},
            "status": {"addresses": [
                {"type": "Hostname", "address": "n1"},
                {"type": "InternalIP", "address": "192.168.1.10"},
                {"type": "ExternalIP", "address": "203.0.113.7"},
                {"type": "InternalIP", "address": "fd00::10"}
            ]}
        }));
        assert_eq!(
            compact,
            CompactNode {
                name: "n1".into(),
                pod_cidrs: vec!["10.0.1.0/24".into(), "fd00:1::/64".into()],
                internal_ips: vec!["192.168.1.10".into(), "fd00::10".into()],
            }
        );
    }

    #[test]
    fn falls_back_to_the_single_pod_cidr_field() {
        let compact = node(serde_json::json!({
            "metadata": {"name": "old"},
            "spec": {"podCIDR": "10.0.2.0/24"}
        }));
        assert_eq!(compact.pod_cidrs, vec!["10.0.2.0/24".to_string()]);
        assert!(compact.internal_ips.is_empty());
        let bare = node(serde_json::json!({"metadata": {"name": "bare"}}));
        assert!(bare.pod_cidrs.is_empty());
    }
}
