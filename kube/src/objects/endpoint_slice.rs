//! The parts of a `discovery.k8s.io/v1` EndpointSlice the controller reads. A `k8s-openapi`
//! Endpoint is 352 bytes before its strings; here one is an address and two flags.

use std::net::IpAddr;

use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label naming the Service an EndpointSlice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// An EndpointSlice as backend resolution reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactSlice {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// The `kubernetes.io/service-name` label: the Service this slice serves.
    pub service: Option<String>,
    /// `addressType` is `FQDN`: the addresses are names, not IPs, and are not routed to.
    pub fqdn: bool,
    /// `ports`, in order.
    pub ports: Box<[EndpointPortEntry]>,
    /// `endpoints`, in order.
    pub endpoints: Box<[EndpointEntry]>,
}

/// One entry of `ports` (of a slice, or of a `v1` Endpoints subset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointPortEntry {
    /// `name`; empty when unset (it matches the Service port of the same name, or the
    /// Service's one unnamed port).
    pub name: Box<str>,
    /// `port`; `None` if unset or outside 1..=65535.
    pub port: Option<u16>,
    /// `protocol` is TCP (the default); other protocols are never proxied.
    pub tcp: bool,
}

/// One entry of `endpoints`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointEntry {
    /// The first of `addresses`, if it is an IP: every address of an endpoint is the same
    /// pod, and kube-proxy uses the first too.
    pub address: Option<IpAddr>,
    /// `conditions.ready`, unset meaning ready.
    pub ready: bool,
    /// `conditions.terminating`, unset meaning not terminating.
    pub terminating: bool,
}

impl From<&EndpointSlice> for CompactSlice {
    fn from(slice: &EndpointSlice) -> Self {
        CompactSlice {
            namespace: slice.metadata.namespace.clone().unwrap_or_default(),
            name: slice.metadata.name.clone().unwrap_or_default(),
            service: slice
                .metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get(SERVICE_NAME_LABEL))
                .cloned(),
            fqdn: slice.address_type == "FQDN",
            ports: slice
                .ports
                .iter()
                .flatten()
                .map(|p| EndpointPortEntry::new(p.name.as_deref(), p.port, p.protocol.as_deref()))
                .collect(),
            endpoints: slice
                .endpoints
                .iter()
                .map(|e| {
                    let conditions = e.conditions.as_ref();
                    EndpointEntry {
                        address: e.addresses.first().and_then(|a| a.parse().ok()),
                        ready: conditions.and_then(|c| c.ready).unwrap_or(true),
                        terminating: conditions.and_then(|c| c.terminating).unwrap_or(false),
                    }
                })
                .collect(),
        }
    }
}

impl EndpointPortEntry {
    /// A port entry from the API's optional fields.
    pub fn new(name: Option<&str>, port: Option<i32>, protocol: Option<&str>) -> Self {
        EndpointPortEntry {
            name: name.unwrap_or("").into(),
            port: port.and_then(|p| u16::try_from(p).ok()).filter(|p| *p != 0),
            tcp: protocol.is_none_or(|p| p == "TCP"),
        }
    }
}

impl CompactSlice {
    /// The TCP port number this slice gives the Service port named `port_name`.
    pub fn tcp_port(&self, port_name: &str) -> Option<u16> {
        tcp_port(&self.ports, port_name)
    }
}

/// The TCP port number named `port_name` among `ports`.
pub fn tcp_port(ports: &[EndpointPortEntry], port_name: &str) -> Option<u16> {
    ports
        .iter()
        .filter(|p| p.tcp)
        .find(|p| &*p.name == port_name)
        .and_then(|p| p.port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::parse_manifest;
    use crate::objects::Object;

    fn slice(yaml: &str) -> CompactSlice {
        match parse_manifest("t.yaml", yaml).unwrap().objects.remove(0) {
            Object::EndpointSlice(slice) => (*slice).clone(),
            other => panic!("not an EndpointSlice: {other:?}"),
        }
    }

    #[test]
    fn keeps_service_ports_addresses_and_conditions() {
        let slice = slice(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e, labels: {kubernetes.io/service-name: s}}\n\
             addressType: IPv4\nports: [{port: 80}, {name: metrics, port: 9090, protocol: UDP}, {name: big, port: 70000}]\n\
             endpoints: [{addresses: [10.0.0.1, 10.0.0.9], conditions: {ready: false}, nodeName: node-1, zone: z, targetRef: {kind: Pod, name: p}},\n\
             {addresses: [10.0.0.2], conditions: {terminating: true}}, {addresses: [not-an-ip]}]\n",
        );
        assert_eq!((&*slice.namespace, &*slice.name), ("default", "e"));
        assert_eq!(slice.service.as_deref(), Some("s"));
        assert!(!slice.fqdn);
        assert_eq!(slice.tcp_port(""), Some(80));
        assert_eq!(slice.tcp_port("metrics"), None, "UDP is never proxied");
        assert_eq!(slice.tcp_port("big"), None, "out of range");
        let endpoints: Vec<_> = slice
            .endpoints
            .iter()
            .map(|e| (e.address.map(|a| a.to_string()), e.ready, e.terminating))
            .collect();
        assert_eq!(
            endpoints,
            [
                (Some("10.0.0.1".to_string()), false, false),
                (Some("10.0.0.2".to_string()), true, true),
                (None, true, false),
            ]
        );
    }

    #[test]
    fn fqdn_slices_and_unlabelled_slices_are_marked() {
        let slice = slice(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\n\
             addressType: FQDN\nendpoints: [{addresses: [db.example.com]}]\n",
        );
        assert!(slice.fqdn);
        assert_eq!(slice.service, None);
        assert_eq!(slice.endpoints[0].address, None);
    }
}
