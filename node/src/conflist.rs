//! The network configuration list the node agent writes for the runtime: this node's pod
//! CIDRs as one `portcullis-cni` network. Pure: the agent decides where the text goes.

use ipnet::IpNet;
use serde_json::{Value, json};

use portcullis_cni::version::CniVersion;

/// What a node's network configuration is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeNetwork {
    /// The network's `name` (also the IPAM directory's).
    pub name: String,
    /// The bridge pods attach to.
    pub bridge: String,
    /// The MTU of the bridge and veths; the kernel's default if unset.
    pub mtu: Option<u32>,
    /// This node's pod CIDRs (one per family), in the Node's order.
    pub pod_cidrs: Vec<IpNet>,
}

/// The conflist JSON for `network`, pretty-printed with a trailing newline. Pods get the
/// bridge as default gateway and hairpin mode (a pod can reach itself through a Service); no
/// masquerading, since pods on other nodes must see the pod's own address.
pub fn render_conflist(network: &NodeNetwork) -> String {
    let ranges: Vec<Value> = network
        .pod_cidrs
        .iter()
        .map(|cidr| json!([{ "subnet": cidr.trunc().to_string() }]))
        .collect();
    let mut plugin = json!({
        "type": "portcullis-cni",
        "bridge": network.bridge,
        "isGateway": true,
        "isDefaultGateway": true,
        "hairpinMode": true,
        "ipMasq": false,
        "ipam": { "type": "host-local", "ranges": ranges },
    });
    if let (Some(mtu), Some(fields)) = (network.mtu, plugin.as_object_mut()) {
        fields.insert("mtu".into(), mtu.into());
    }
    let list = json!({
        "cniVersion": CniVersion::V1_1_0.as_str(),
        "name": network.name,
        "plugins": [plugin],
    });
    // Serializing a `Value` has no failure path (all keys are strings).
    let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;
    use portcullis_cni::config::parse_bridge_config;

    fn dual_stack() -> NodeNetwork {
        NodeNetwork {
            name: "portcullis".into(),
            bridge: "cni0".into(),
            mtu: Some(1450),
            pod_cidrs: vec![
                "10.244.1.0/24".parse().unwrap(),
                "fd00:1::/64".parse().unwrap(),
            ],
        }
    }

    #[test]
    fn renders_one_range_set_per_pod_cidr() {
        let expected = r#"{
  "cniVersion": "1.1.0",
  "name": "portcullis",
  "plugins": [
    {
      "bridge": "cni0",
      "hairpinMode": true,
      "ipMasq": false,
      "ipam": {
        "ranges": [
          [
            {
              "subnet": "10.244.1.0/24"
            }
          ],
          [
            {
              "subnet": "fd00:1::/64"
            }
          ]
        ],
        "type": "host-local"
      },
      "isDefaultGateway": true,
      "isGateway": true,
      "mtu": 1450,
      "type": "portcullis-cni"
    }
  ]
}
"#;
        assert_eq!(render_conflist(&dual_stack()), expected);
    }

    #[test]
    fn the_plugin_accepts_what_is_rendered() {
        // A runtime hands each plugin its entry with the list's cniVersion and name added.
        let list: Value = serde_json::from_str(&render_conflist(&dual_stack())).unwrap();
        let mut entry = list["plugins"][0].clone();
        entry["cniVersion"] = list["cniVersion"].clone();
        entry["name"] = list["name"].clone();
        let config = parse_bridge_config(entry.to_string().as_bytes()).unwrap();
        assert_eq!(config.bridge, "cni0");
        assert_eq!(config.mtu, Some(1450));
        assert!(config.is_default_gateway && config.hairpin_mode && !config.ip_masq);
        assert_eq!(config.ipam.range_sets.len(), 2);
    }

    #[test]
    fn a_host_address_in_a_cidr_is_written_as_its_network() {
        let network = NodeNetwork {
            mtu: None,
            pod_cidrs: vec!["10.244.1.7/24".parse().unwrap()],
            ..dual_stack()
        };
        let text = render_conflist(&network);
        assert!(text.contains(r#""subnet": "10.244.1.0/24""#), "{text}");
        assert!(!text.contains("mtu"), "{text}");
    }
}
