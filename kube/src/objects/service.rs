//! The parts of a `v1` Service the controller reads, kept instead of the whole object: at
//! 10,000 Services a `k8s-openapi` Service costs over a kilobyte each before any field is set.

use k8s_openapi::api::core::v1::Service;

/// A Service as backend resolution and `--publish-service` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactService {
    /// `metadata.namespace` (sources fill in `default`).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.type` is `ExternalName`: there are no endpoints to route to.
    pub external_name: bool,
    /// `spec.ports`, in order.
    pub ports: Box<[ServicePortEntry]>,
    /// `spec.clusterIPs` (else `spec.clusterIP`); empty for a headless Service (`None`).
    pub cluster_ips: Box<[std::net::IpAddr]>,
    /// `status.loadBalancer.ingress`, for `--publish-service`.
    pub load_balancer: Box<[LoadBalancerAddress]>,
}

/// One entry of `spec.ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePortEntry {
    /// `name`; empty when unset, as Kubernetes treats it.
    pub name: Box<str>,
    /// `port`.
    pub port: i32,
}

/// One entry of `status.loadBalancer.ingress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerAddress {
    /// `ip`.
    pub ip: Option<String>,
    /// `hostname`.
    pub hostname: Option<String>,
}

impl From<&Service> for CompactService {
    fn from(service: &Service) -> Self {
        let spec = service.spec.as_ref();
        CompactService {
            namespace: service.metadata.namespace.clone().unwrap_or_default(),
            name: service.metadata.name.clone().unwrap_or_default(),
            external_name: spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName"),
            ports: spec
                .and_then(|s| s.ports.as_ref())
                .into_iter()
                .flatten()
                .map(|p| ServicePortEntry {
                    name: p.name.as_deref().unwrap_or("").into(),
                    port: p.port,
                })
                .collect(),
            cluster_ips: cluster_ips(spec),
            load_balancer: service
                .status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_ref())
                .into_iter()
                .flatten()
                .map(|i| LoadBalancerAddress {
                    ip: i.ip.clone(),
                    hostname: i.hostname.clone(),
                })
                .collect(),
        }
    }
}

/// The addresses of `spec.clusterIPs`, or of `spec.clusterIP` when the list is unset; `None`
/// (headless) and anything unparsable give none.
fn cluster_ips(spec: Option<&k8s_openapi::api::core::v1::ServiceSpec>) -> Box<[std::net::IpAddr]> {
    let Some(spec) = spec else {
        return Box::new([]);
    };
    let listed = spec.cluster_ips.as_deref().filter(|ips| !ips.is_empty());
    let single = spec.cluster_ip.as_slice();
    listed
        .unwrap_or(single)
        .iter()
        .filter_map(|ip| ip.parse().ok())
        .collect()
}

impl CompactService {
    /// The port with this number.
    pub fn port_by_number(&self, number: i32) -> Option<&ServicePortEntry> {
        self.ports.iter().find(|p| p.port == number)
    }

    /// The port with this (non-empty) name.
    pub fn port_by_name(&self, name: &str) -> Option<&ServicePortEntry> {
        self.ports
            .iter()
            .find(|p| !p.name.is_empty() && &*p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::parse_manifest;
    use crate::objects::Object;

    fn service(yaml: &str) -> CompactService {
        match parse_manifest("t.yaml", yaml).unwrap().objects.remove(0) {
            Object::Service(service) => (*service).clone(),
            other => panic!("not a Service: {other:?}"),
        }
    }

    #[test]
    fn keeps_type_ports_and_load_balancer_addresses() {
        let service = service(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n\
             spec: {type: LoadBalancer, clusterIP: 10.96.0.9, ports: [{port: 80}, {name: https, port: 443}]}\n\
             status: {loadBalancer: {ingress: [{ip: 203.0.113.7}, {hostname: lb.example.com}]}}\n",
        );
        assert_eq!((&*service.namespace, &*service.name), ("shop", "web"));
        assert!(!service.external_name);
        assert_eq!(
            service.cluster_ips[..],
            ["10.96.0.9".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(service.port_by_number(80).map(|p| &*p.name), Some(""));
        assert_eq!(service.port_by_name("https").map(|p| p.port), Some(443));
        assert_eq!(
            service.port_by_name(""),
            None,
            "an unnamed port has no name to match"
        );
        assert_eq!(service.port_by_number(8080), None);
        assert_eq!(
            service.load_balancer[..],
            [
                LoadBalancerAddress {
                    ip: Some("203.0.113.7".into()),
                    hostname: None
                },
                LoadBalancerAddress {
                    ip: None,
                    hostname: Some("lb.example.com".into())
                }
            ]
        );
    }

    #[test]
    fn external_name_is_marked() {
        let service = service(
            "apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec: {type: ExternalName, externalName: db.example.com}\n",
        );
        assert!(service.external_name);
        assert!(service.ports.is_empty());
    }
}
