//! Pods and Namespaces kept as the policy compiler reads them (`portcullis_policy::model`):
//! labels, node, addresses and named ports, nothing else.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use portcullis_policy::model;

/// The policy model of a Pod. Addresses that do not parse are left out (the kubelet writes
/// them; a bad one means the pod is not reachable by it anyway), and so are those of a pod
/// that has finished: its address went back to IPAM and may be another pod's now.
pub fn compact_pod(pod: &Pod) -> model::Pod {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let finished = matches!(
        status.and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    let mut ips: Vec<IpAddr> = status
        .and_then(|s| s.pod_ips.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|ip| ip.ip.parse().ok())
        .collect();
    if finished {
        ips.clear();
    }
    if ips.is_empty()
        && !finished
        && let Some(ip) = status
            .and_then(|s| s.pod_ip.as_ref())
            .and_then(|ip| ip.parse().ok())
    {
        ips.push(ip);
    }
    let ports = spec
        .into_iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            Some(model::NamedPort {
                name: p.name.clone().filter(|n| !n.is_empty())?,
                protocol: model::Protocol::from_api(p.protocol.as_deref().unwrap_or("TCP"))?,
                port: u16::try_from(p.container_port).ok()?,
            })
        })
        .collect();
    model::Pod {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        node: spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
        ips,
        ports,
    }
}

/// The policy model of a Namespace.
pub fn compact_namespace(namespace: &Namespace) -> model::Namespace {
    model::Namespace {
        name: namespace.metadata.name.clone().unwrap_or_default(),
        labels: namespace.metadata.labels.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_labels_node_addresses_and_named_ports() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [
                {"name": "c", "ports": [
                    {"name": "http", "containerPort": 8080},
                    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                    {"containerPort": 9000}
                ]}
            ]},
            "status": {"podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}]}
        }))
        .expect("a Pod");
        let compact = compact_pod(&pod);
        assert_eq!(compact.key(), "shop/web");
        assert_eq!(compact.node, "n1");
        assert!(!compact.host_network);
        assert_eq!(compact.ips.len(), 2);
        assert_eq!(compact.named_port("http", model::Protocol::Tcp), Some(8080));
        assert_eq!(compact.named_port("dns", model::Protocol::Udp), Some(53));
        assert_eq!(compact.ports.len(), 2, "unnamed ports are not kept");
    }

    #[test]
    fn a_finished_pod_holds_no_address() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "job", "namespace": "batch"},
            "spec": {"containers": []},
            "status": {"phase": "Succeeded", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.9"}]}
        }))
        .expect("a Pod");
        assert!(compact_pod(&pod).ips.is_empty());
    }

    #[test]
    fn falls_back_to_pod_ip_and_reads_host_network() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "agent", "namespace": "kube-system"},
            "spec": {"hostNetwork": true, "containers": []},
            "status": {"podIP": "192.168.0.2"}
        }))
        .expect("a Pod");
        let compact = compact_pod(&pod);
        assert!(compact.host_network);
        assert_eq!(
            compact.ips,
            vec!["192.168.0.2".parse::<IpAddr>().expect("ip")]
        );
    }
}
