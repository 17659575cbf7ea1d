//! A NetworkPolicy after parsing: every field checked and typed, so the compiler never meets
//! a value it cannot handle.

use ipnet::IpNet;

use crate::model::Protocol;
use crate::selector::Selector;

/// One NetworkPolicy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.podSelector`: the pods of the namespace it applies to.
    pub pod_selector: Selector,
    /// Whether it isolates the selected pods' ingress (`policyTypes`, defaulted).
    pub ingress_isolated: bool,
    /// Whether it isolates their egress.
    pub egress_isolated: bool,
    /// `spec.ingress` (empty: allows nothing).
    pub ingress: Vec<Rule>,
    /// `spec.egress` (empty: allows nothing).
    pub egress: Vec<Rule>,
    /// Fields the compiler does not understand; non-empty means the policy isolates its pods
    /// but allows nothing (fails closed).
    pub not_understood: Vec<String>,
}

/// One ingress or egress rule: traffic to or from any of the peers on any of the ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `from` / `to`; `None` (missing or empty) means every peer.
    pub peers: Option<Vec<Peer>>,
    /// `ports`; `None` (missing or empty) means every protocol and port.
    pub ports: Option<Vec<PortRule>>,
}

/// One entry of `from` / `to`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    /// Pods: `podSelector` and/or `namespaceSelector` (ANDed). Without a namespace selector,
    /// the policy's own namespace; without a pod selector, every pod of those namespaces.
    Pods {
        /// `namespaceSelector`.
        namespaces: Option<Selector>,
        /// `podSelector`.
        pods: Option<Selector>,
    },
    /// `ipBlock`: `cidr` minus each `except`.
    IpBlock {
        /// `cidr`.
        cidr: IpNet,
        /// `except`.
        except: Vec<IpNet>,
    },
}

/// One entry of `ports`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortRule {
    /// `protocol` (default TCP).
    pub protocol: Protocol,
    /// `port` and `endPort`.
    pub port: PortMatch,
}

/// Which ports of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortMatch {
    /// No `port`: every port.
    All,
    /// `port` (through `endPort`, if given).
    Range(u16, u16),
    /// A named container port, resolved against each destination pod.
    Named(String),
}

impl Policy {
    /// `namespace/name`, for logs.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}
