//! What keeps the node agent from making the host match the objects, as a value: each kind
//! says whose fault it is and whether waiting for the next attempt can help, and displays as
//! the line the agent logs. Other crates' errors become one here, at the node boundary.

use std::cmp::Ordering;
use std::fmt;

use crate::desired::NodeDataProblem;
use portcullis_cni::masquerade::ApplyError;
pub use portcullis_fault::{Classified, Fault};
use portcullis_nft::NftError;

/// One problem of a reconcile. Lasting ones are logged once when they appear and once when
/// they go; they are ordered by their text, so a batch of them is logged alphabetically.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeProblem {
    /// A Node's data is invalid or missing (a pod CIDR or InternalIP that does not parse, a
    /// family without an address, overlapping CIDRs, this node absent or without a pod CIDR):
    /// what `desired_node` reports, one line each naming the Node and field.
    NodeData(NodeDataProblem),
    /// The kernel refused one route (its line names the route); the others are synced.
    RouteRefused(String),
    /// The routes could not be synced at all (listing them failed).
    RoutesUnsynced(String),
    /// The masquerading table could not be replaced.
    Masquerade {
        /// The error's text.
        message: String,
        /// Whose fault, as the masquerading error says.
        fault: Fault,
        /// Whether the same attempt may succeed later, as the masquerading error says.
        retryable: bool,
    },
    /// Forwarding could not be turned on (a sysctl write failed).
    Forwarding(String),
    /// A NetworkPolicy does not parse, or has fields not understood (it fails closed).
    Policy(String),
    /// The NetworkPolicy ruleset could not be written to the kernel.
    PolicyRuleset {
        /// The error's text.
        message: String,
        /// Whose fault, as the nftables error says.
        fault: Fault,
        /// Whether the same attempt may succeed later, as the nftables error says.
        retryable: bool,
    },
    /// The CNI configuration could not be written.
    Conflist(String),
}

impl NodeProblem {
    /// Masquerading failed; whose fault and whether to retry come from the error.
    pub fn masquerade(error: &ApplyError) -> NodeProblem {
        NodeProblem::Masquerade {
            message: error.to_string(),
            fault: error.fault(),
            retryable: error.retryable(),
        }
    }

    /// Writing the policy ruleset failed; whose fault and whether to retry come from the error.
    pub fn policy_ruleset(error: &NftError) -> NodeProblem {
        NodeProblem::PolicyRuleset {
            message: error.to_string(),
            fault: error.fault(),
            retryable: error.retryable(),
        }
    }

    /// The variant's place in declaration order, to break ties between equal texts.
    fn rank(&self) -> u8 {
        match self {
            NodeProblem::NodeData(_) => 0,
            NodeProblem::RouteRefused(_) => 1,
            NodeProblem::RoutesUnsynced(_) => 2,
            NodeProblem::Masquerade { .. } => 3,
            NodeProblem::Forwarding(_) => 4,
            NodeProblem::Policy(_) => 5,
            NodeProblem::PolicyRuleset { .. } => 6,
            NodeProblem::Conflist(_) => 7,
        }
    }
}

impl Classified for NodeProblem {
    /// Whose move it is to fix this.
    fn fault(&self) -> Fault {
        match self {
            NodeProblem::NodeData(problem) => problem.fault(),
            NodeProblem::Policy(_) => Fault::User,
            NodeProblem::RouteRefused(_) | NodeProblem::RoutesUnsynced(_) => Fault::Kernel,
            NodeProblem::Masquerade { fault, .. } | NodeProblem::PolicyRuleset { fault, .. } => {
                *fault
            }
            NodeProblem::Forwarding(_) | NodeProblem::Conflist(_) => Fault::Operator,
        }
    }

    /// Whether the next attempt, with the same objects and flags, can succeed: the kernel's
    /// route refusals (a conflicting route may go) and what the nftables errors call passing.
    /// The agent retries everything at resync anyway; false says waiting alone will not fix it.
    fn retryable(&self) -> bool {
        match self {
            NodeProblem::RouteRefused(_) | NodeProblem::RoutesUnsynced(_) => true,
            NodeProblem::Masquerade { retryable, .. }
            | NodeProblem::PolicyRuleset { retryable, .. } => *retryable,
            NodeProblem::NodeData(_)
            | NodeProblem::Policy(_)
            | NodeProblem::Forwarding(_)
            | NodeProblem::Conflist(_) => false,
        }
    }
}

impl fmt::Display for NodeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeProblem::NodeData(problem) => problem.fmt(f),
            NodeProblem::RouteRefused(line) | NodeProblem::Policy(line) => f.write_str(line),
            NodeProblem::RoutesUnsynced(error) => write!(f, "cannot sync routes: {error}"),
            NodeProblem::Masquerade { message, .. } => f.write_str(message),
            NodeProblem::Forwarding(error) => {
                write!(f, "cannot turn forwarding on: {error}; retrying at resync")
            }
            NodeProblem::PolicyRuleset { message, .. } => {
                write!(f, "cannot apply the NetworkPolicy ruleset: {message}")
            }
            NodeProblem::Conflist(error) => write!(
                f,
                "cannot write the CNI configuration: {error}; retrying at resync"
            ),
        }
    }
}

/// By text, as the log lines were sorted when problems were strings; then by kind and fault,
/// so that only equal problems compare equal.
impl Ord for NodeProblem {
    fn cmp(&self, other: &Self) -> Ordering {
        self.to_string()
            .cmp(&other.to_string())
            .then_with(|| self.rank().cmp(&other.rank()))
            .then_with(|| self.fault().cmp(&other.fault()))
    }
}

impl PartialOrd for NodeProblem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests;
