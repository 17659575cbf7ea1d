//! The objects the compiler reads, as the agent hands them over: only the fields policy
//! semantics depend on. Sources convert Kubernetes objects into these.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Labels of a Pod or Namespace.
pub type Labels = BTreeMap<String, String>;

/// A Namespace: its name and labels (`kubernetes.io/metadata.name` is always set to the name,
/// as the API server does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: Labels,
}

/// A Pod as policy reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: Labels,
    /// `spec.nodeName`.
    pub node: String,
    /// `spec.hostNetwork`: such pods share the node's address and are never selected.
    pub host_network: bool,
    /// `status.podIPs` (or `status.podIP`); empty until the pod has an address.
    pub ips: Vec<IpAddr>,
    /// Every container's named `ports`, for named ports in policies.
    pub ports: Vec<NamedPort>,
}

/// One named container port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamedPort {
    /// `name`.
    pub name: String,
    /// `protocol` (default TCP).
    pub protocol: Protocol,
    /// `containerPort`.
    pub port: u16,
}

/// The transport protocols NetworkPolicy ports name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    /// The name nft prints.
    pub fn nft_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    /// From the API's spelling (`TCP`, `UDP`, `SCTP`).
    pub fn from_api(text: &str) -> Option<Protocol> {
        match text {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

impl Pod {
    /// `namespace/name`, for names in logs and chains.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The container port named `name` with `protocol`, if any.
    pub fn named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.ports
            .iter()
            .find(|p| p.name == name && p.protocol == protocol)
            .map(|p| p.port)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.nft_name())
    }
}
