//! The parts of a `v1` Endpoints object the controller reads (the fallback for Services
//! without EndpointSlices, as when endpoints are written by hand in a manifests folder).

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Endpoints;

use super::endpoint_slice::EndpointPortEntry;

/// An Endpoints object as backend resolution reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactEndpoints {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name` (the Service's name).
    pub name: String,
    /// `subsets`, in order.
    pub subsets: Box<[EndpointSubsetEntry]>,
}

/// One entry of `subsets`: ready addresses and the ports they serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSubsetEntry {
    /// `addresses[].ip` that parse as IPs (`notReadyAddresses` are left out).
    pub addresses: Box<[IpAddr]>,
    /// `ports`.
    pub ports: Box<[EndpointPortEntry]>,
}

impl From<&Endpoints> for CompactEndpoints {
    fn from(endpoints: &Endpoints) -> Self {
        CompactEndpoints {
            namespace: endpoints.metadata.namespace.clone().unwrap_or_default(),
            name: endpoints.metadata.name.clone().unwrap_or_default(),
            subsets: endpoints
                .subsets
                .iter()
                .flatten()
                .map(|subset| EndpointSubsetEntry {
                    addresses: subset
                        .addresses
                        .iter()
                        .flatten()
                        .filter_map(|a| a.ip.parse().ok())
                        .collect(),
                    ports: subset
                        .ports
                        .iter()
                        .flatten()
                        .map(|p| {
                            EndpointPortEntry::new(
                                p.name.as_deref(),
                                Some(p.port),
                                p.protocol.as_deref(),
                            )
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::manifests::parse_manifest;
    use crate::objects::Object;
    use crate::objects::tcp_port;

    #[test]
    fn keeps_ready_addresses_and_ports_per_subset() {
        let yaml = "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\n\
                    subsets: [{addresses: [{ip: 10.0.0.1}, {ip: bad}], notReadyAddresses: [{ip: 10.0.0.9}], ports: [{name: http, port: 8080}]}]\n";
        let Object::Endpoints(endpoints) =
            parse_manifest("t.yaml", yaml).unwrap().objects.remove(0)
        else {
            panic!("not Endpoints");
        };
        let subset = &endpoints.subsets[0];
        let addresses: Vec<String> = subset.addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(addresses, ["10.0.0.1"]);
        assert_eq!(tcp_port(&subset.ports, "http"), Some(8080));
    }
}
