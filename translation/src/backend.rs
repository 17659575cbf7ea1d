//! Resolves a backend (Service + port), as Ingresses and Gateway API routes name it, to the
//! ready endpoints behind it: pure, over a store snapshot.
//!
//! The Service port is found by number or by name; its endpoints come from the EndpointSlices
//! labelled `kubernetes.io/service-name`, matched by port name, or from the Service's Endpoints
//! object when it has no EndpointSlice. Only ready endpoints receive requests: a terminating or
//! not-ready endpoint is left out, and a nil `ready` counts as ready, as the API says.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use foldhash::fast::RandomState;

use portcullis_kube::objects::{CompactService, CompactSlice, ServicePortEntry, tcp_port};
use portcullis_kube::store::Snapshot;

/// Why a backend cannot be served; every variant is the user's to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendProblem {
    /// No Service of that name in the namespace.
    #[error("Service {namespace}/{name} not found; requests get 503 until it exists")]
    ServiceMissing {
        /// Namespace searched.
        namespace: String,
        /// Name searched.
        name: String,
    },
    /// The Service exists but has no such port.
    #[error(
        "Service {namespace}/{name} has no port {port} (it has: {available}); requests get 503"
    )]
    PortMissing {
        /// The Service's namespace.
        namespace: String,
        /// The Service's name.
        name: String,
        /// The port asked for.
        port: String,
        /// The ports the Service has.
        available: String,
    },
    /// Neither `port.number` nor `port.name` is set.
    #[error("set port.number or port.name; requests get 503")]
    PortUnset,
    /// ExternalName Services need DNS resolution in the proxy, which is not there yet.
    #[error(
        "Service {namespace}/{name} is of type ExternalName, which is not supported; requests get 503"
    )]
    ExternalName {
        /// The Service's namespace.
        namespace: String,
        /// The Service's name.
        name: String,
    },
}

/// The port of a backend as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortRef {
    /// `port.number`.
    Number(i32),
    /// `port.name`.
    Name(String),
}

/// EndpointSlices by the Service they belong to (label `kubernetes.io/service-name`), kept
/// current one slice at a time so a change does not re-index every slice.
#[derive(Debug, Default, Clone)]
pub struct SliceIndex {
    /// (namespace, Service name) → slices sorted by name; never holds an empty list. A list,
    /// not a map: most Services have one slice, and a map's smallest node is far bigger.
    by_service: HashMap<(String, String), Vec<Arc<CompactSlice>>, RandomState>,
    /// (namespace, slice name) → the Service it was filed under.
    service_of: HashMap<(String, String), String, RandomState>,
}

impl SliceIndex {
    /// Indexes every EndpointSlice of a snapshot.
    pub fn from_snapshot(snapshot: &Snapshot) -> Self {
        let mut index = SliceIndex::default();
        for slice in snapshot.endpoint_slices.values() {
            index.file(slice);
        }
        index
    }

    /// Re-reads one slice from the snapshot (changed, added or deleted). Returns the Services
    /// whose endpoints may have changed: the one it was filed under and the one it is now.
    pub fn refresh(&mut self, snapshot: &Snapshot, namespace: &str, name: &str) -> Vec<String> {
        let id = (namespace.to_string(), name.to_string());
        let mut touched = Vec::new();
        if let Some(service) = self.service_of.remove(&id) {
            let key = (id.0.clone(), service);
            if let Some(slices) = self.by_service.get_mut(&key) {
                slices.retain(|slice| slice.name != name);
                if slices.is_empty() {
                    self.by_service.remove(&key);
                }
            }
            touched.push(key.1);
        }
        if let Some(slice) = snapshot.endpoint_slices.get(&id)
            && let Some(service) = self.file(slice)
        {
            touched.push(service);
        }
        touched
    }

    /// Files one slice under its Service; returns that Service, if the slice names one.
    fn file(&mut self, slice: &Arc<CompactSlice>) -> Option<String> {
        let service = slice.service.as_ref()?;
        let slices = self
            .by_service
            .entry((slice.namespace.clone(), service.clone()))
            .or_default();
        match slices.binary_search_by(|filed| filed.name.cmp(&slice.name)) {
            Ok(at) => slices[at] = Arc::clone(slice),
            Err(at) => slices.insert(at, Arc::clone(slice)),
        }
        self.service_of.insert(
            (slice.namespace.clone(), slice.name.clone()),
            service.clone(),
        );
        Some(service.clone())
    }
}

/// Resolves backends against one snapshot and its slice index.
#[derive(Debug, Clone, Copy)]
pub struct BackendResolver<'a> {
    snapshot: &'a Snapshot,
    slices: &'a SliceIndex,
}

impl<'a> BackendResolver<'a> {
    /// A resolver over `snapshot`; `slices` must index that same snapshot.
    pub fn new(snapshot: &'a Snapshot, slices: &'a SliceIndex) -> Self {
        BackendResolver { snapshot, slices }
    }

    fn service(&self, namespace: &str, name: &str) -> Result<&'a CompactService, BackendProblem> {
        self.snapshot
            .services
            .get(&(namespace.to_string(), name.to_string()))
            .map(|s| &**s)
            .ok_or_else(|| BackendProblem::ServiceMissing {
                namespace: namespace.to_string(),
                name: name.to_string(),
            })
    }

    /// The first port of a Service, for a default backend named without a port.
    pub fn first_port(&self, namespace: &str, name: &str) -> Result<PortRef, BackendProblem> {
        let service = self.service(namespace, name)?;
        service
            .ports
            .first()
            .map(|p| PortRef::Number(p.port))
            .ok_or_else(|| BackendProblem::PortMissing {
                namespace: namespace.to_string(),
                name: name.to_string(),
                port: "(first port)".to_string(),
                available: "no ports".to_string(),
            })
    }

    /// The ready endpoints of `service`'s `port` in `namespace`, sorted and without duplicates.
    pub fn resolve(
        &self,
        namespace: &str,
        name: &str,
        port: &PortRef,
    ) -> Result<Vec<SocketAddr>, BackendProblem> {
        let (_, service_port) = self.service_port(namespace, name, port)?;
        let port_name = &*service_port.name;
        let id = (namespace.to_string(), name.to_string());
        match self.slices.by_service.get(&id) {
            Some(slices) => Ok(ready_in_slices(slices, port_name)),
            None => Ok(self.ready_in_endpoints_object(namespace, name, port_name)),
        }
    }

    /// `service-upstream`: the Service's cluster IPs with the Service port itself (kube-proxy
    /// picks the endpoint); `None` for a headless Service, which has none.
    pub fn resolve_cluster_ips(
        &self,
        namespace: &str,
        name: &str,
        port: &PortRef,
    ) -> Result<Option<Vec<SocketAddr>>, BackendProblem> {
        let (service, service_port) = self.service_port(namespace, name, port)?;
        let Ok(port) = u16::try_from(service_port.port) else {
            return Ok(None);
        };
        Ok((!service.cluster_ips.is_empty()).then(|| {
            service
                .cluster_ips
                .iter()
                .map(|ip| SocketAddr::new(*ip, port))
                .collect()
        }))
    }

    /// The Service and its port as a backend names them; an ExternalName Service is refused.
    fn service_port(
        &self,
        namespace: &str,
        name: &str,
        port: &PortRef,
    ) -> Result<(&'a CompactService, &'a ServicePortEntry), BackendProblem> {
        let service = self.service(namespace, name)?;
        if service.external_name {
            return Err(BackendProblem::ExternalName {
                namespace: namespace.to_string(),
                name: name.to_string(),
            });
        }
        let service_port = find_port(service, port).ok_or_else(|| BackendProblem::PortMissing {
            namespace: namespace.to_string(),
            name: name.to_string(),
            port: match port {
                PortRef::Number(n) => n.to_string(),
                PortRef::Name(n) => format!("named {n:?}"),
            },
            available: describe_ports(service),
        })?;
        Ok((service, service_port))
    }

    fn ready_in_endpoints_object(
        &self,
        namespace: &str,
        name: &str,
        port_name: &str,
    ) -> Vec<SocketAddr> {
        let id = (namespace.to_string(), name.to_string());
        let Some(endpoints) = self.snapshot.endpoints.get(&id) else {
            return Vec::new();
        };
        let mut ready = Vec::new();
        for subset in &endpoints.subsets {
            let Some(port) = tcp_port(&subset.ports, port_name) else {
                continue;
            };
            ready.extend(subset.addresses.iter().map(|ip| SocketAddr::new(*ip, port)));
        }
        ready.sort_unstable();
        ready.dedup();
        ready
    }
}

fn find_port<'s>(service: &'s CompactService, port: &PortRef) -> Option<&'s ServicePortEntry> {
    match port {
        PortRef::Number(number) => service.port_by_number(*number),
        PortRef::Name(name) => service.port_by_name(name),
    }
}

fn describe_ports(service: &CompactService) -> String {
    let ports: Vec<String> = service
        .ports
        .iter()
        .map(|p| match &*p.name {
            "" => p.port.to_string(),
            name => format!("{name}={}", p.port),
        })
        .collect();
    if ports.is_empty() {
        "no ports".to_string()
    } else {
        ports.join(", ")
    }
}

fn ready_in_slices(slices: &[Arc<CompactSlice>], port_name: &str) -> Vec<SocketAddr> {
    let mut ready = Vec::new();
    for slice in slices {
        if slice.fqdn {
            continue;
        }
        let Some(port) = slice.tcp_port(port_name) else {
            continue;
        };
        ready.extend(
            slice
                .endpoints
                .iter()
                .filter(|e| e.ready && !e.terminating)
                .filter_map(|e| e.address)
                .map(|ip| SocketAddr::new(ip, port)),
        );
    }
    ready.sort_unstable();
    ready.dedup();
    ready
}

impl portcullis_fault::Classified for BackendProblem {
    /// The object names a Service or port that is not there as written.
    fn fault(&self) -> portcullis_fault::Fault {
        portcullis_fault::Fault::User
    }

    /// Translating the same objects gives the same answer (it resolves when they change).
    fn retryable(&self) -> bool {
        false
    }
}
