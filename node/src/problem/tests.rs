#![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

use std::io;

use portcullis_nft::Refusal;

use super::*;
use crate::desired::NodeDataProblem;

/// Every kind once: its fault, whether a retry helps, and its log line.
fn cases() -> Vec<(NodeProblem, Fault, bool, &'static str)> {
    let denied = || io::Error::from(io::ErrorKind::PermissionDenied);
    vec![
        (
            NodeProblem::NodeData(NodeDataProblem::BadPodCidr {
                node: "b".to_string(),
                index: 0,
                text: "x".to_string(),
            }),
            Fault::User,
            false,
            "Node b: spec.podCIDRs[0] \"x\" is not a CIDR; left out",
        ),
        (
            NodeProblem::RouteRefused(
                "cannot install route 10.1.1.0/24 via 192.168.0.2: File exists".to_string(),
            ),
            Fault::Kernel,
            true,
            "cannot install route 10.1.1.0/24 via 192.168.0.2: File exists",
        ),
        (
            NodeProblem::RoutesUnsynced("list routes: Operation not permitted".to_string()),
            Fault::Kernel,
            true,
            "cannot sync routes: list routes: Operation not permitted",
        ),
        (
            NodeProblem::masquerade(&ApplyError::Name("bad\0name".to_string())),
            Fault::Operator,
            false,
            "name: \"bad\\0name\" cannot be used in an nftables table name",
        ),
        (
            NodeProblem::masquerade(&ApplyError::Netlink {
                table: "portcullis-nat".to_string(),
                source: NftError::Refused(vec![Refusal {
                    what: "table inet portcullis-nat".to_string(),
                    errno: 16,
                    detail: None,
                }]),
            }),
            Fault::Kernel,
            true,
            "nftables: cannot replace table inet portcullis-nat: nftables refused the \
             transaction: table inet portcullis-nat: Device or resource busy (os error 16)",
        ),
        (
            NodeProblem::Forwarding(
                "/proc/sys/net/ipv4/ip_forward: Read-only file system".to_string(),
            ),
            Fault::Operator,
            false,
            "cannot turn forwarding on: /proc/sys/net/ipv4/ip_forward: Read-only file system; \
             retrying at resync",
        ),
        (
            NodeProblem::Policy("NetworkPolicy a/b: spec.podSelector: missing".to_string()),
            Fault::User,
            false,
            "NetworkPolicy a/b: spec.podSelector: missing",
        ),
        (
            NodeProblem::policy_ruleset(&NftError::Permission(format!("opening: {}", denied()))),
            Fault::Operator,
            false,
            "cannot apply the NetworkPolicy ruleset: nftables: permission denied: opening: \
             permission denied",
        ),
        (
            NodeProblem::policy_ruleset(&NftError::Refused(vec![Refusal {
                what: "rule in chain forward".to_string(),
                errno: 22,
                detail: None,
            }])),
            Fault::Kernel,
            false,
            "cannot apply the NetworkPolicy ruleset: nftables refused the transaction: \
             rule in chain forward: Invalid argument (os error 22)",
        ),
        (
            NodeProblem::policy_ruleset(&NftError::Malformed),
            Fault::Bug,
            false,
            "cannot apply the NetworkPolicy ruleset: nftables: unreadable netlink answer",
        ),
        (
            NodeProblem::Conflist(
                "/etc/cni/net.d/10-portcullis.conflist: Permission denied".into(),
            ),
            Fault::Operator,
            false,
            "cannot write the CNI configuration: /etc/cni/net.d/10-portcullis.conflist: \
             Permission denied; retrying at resync",
        ),
    ]
}

#[test]
fn each_kind_says_whose_fault_whether_to_retry_and_its_line() {
    for (problem, fault, retryable, line) in cases() {
        assert_eq!(problem.fault(), fault, "{problem}");
        assert_eq!(problem.retryable(), retryable, "{problem}");
        assert_eq!(problem.to_string(), line);
    }
}

#[test]
fn problems_sort_by_their_text_as_the_old_lines_did() {
    let mut problems: Vec<NodeProblem> = cases().into_iter().map(|case| case.0).collect();
    problems.sort();
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}

#[test]
fn the_same_text_of_two_kinds_is_two_problems() {
    let a = NodeProblem::RouteRefused("x".to_string());
    let b = NodeProblem::Policy("x".to_string());
    assert_ne!(a.cmp(&b), Ordering::Equal);
    assert_eq!(a.cmp(&a.clone()), Ordering::Equal);
}
