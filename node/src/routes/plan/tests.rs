use super::*;

fn node(name: &str, cidrs: &[&str], ips: &[&str]) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        pod_cidrs: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
        internal_ips: ips.iter().map(|i| i.parse().unwrap()).collect(),
    }
}

fn routes(this: &str, nodes: &[NodeInfo]) -> Vec<String> {
    let (routes, _) = plan_routes(this, nodes);
    routes
        .iter()
        .map(|r| format!("{} via {}", r.dst, r.via))
        .collect()
}

#[test]
fn every_other_node_by_family() {
    let nodes = [
        node(
            "a",
            &["10.244.0.0/24", "fd00:0:0:0::/64"],
            &["192.168.1.10", "fd01::10"],
        ),
        node(
            "b",
            &["10.244.1.0/24", "fd00:0:0:1::/64"],
            &["192.168.1.11", "fd01::11"],
        ),
        node("c", &["10.244.2.0/24"], &["192.168.1.12"]),
    ];
    assert_eq!(
        routes("a", &nodes),
        [
            "10.244.1.0/24 via 192.168.1.11",
            "10.244.2.0/24 via 192.168.1.12",
            "fd00:0:0:1::/64 via fd01::11",
        ]
    );
    let (_, problems) = plan_routes("a", &nodes);
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn problems_name_the_node_and_leave_the_rest_routed() {
    let nodes = [
        node("a", &["10.244.0.0/24"], &["192.168.1.10"]),
        node("b", &["10.244.1.0/24", "fd00::/64"], &["192.168.1.11"]),
        node("c", &["10.244.2.0/23"], &["192.168.1.12"]),
        node("d", &["10.244.3.0/24"], &["192.168.1.13"]),
        node("e", &["10.244.9.0/24"], &[]),
    ];
    assert_eq!(routes("a", &nodes), ["10.244.1.0/24 via 192.168.1.11"]);
    let (_, problems) = plan_routes("a", &nodes);
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 3, "{text:#?}");
    assert!(
        text[0].starts_with("Node c: spec.podCIDRs 10.244.2.0/23 overlaps 10.244.3.0/24 of Node d")
    );
    assert!(
        text[1].starts_with(
            "Node b: spec.podCIDRs has fd00::/64 but status.addresses has no InternalIP"
        )
    );
    assert!(text[2].starts_with("Node e: spec.podCIDRs has 10.244.9.0/24"));
}

#[test]
fn this_node_missing_is_reported_and_the_others_still_routed() {
    let nodes = [node("b", &["10.244.1.7/24"], &["192.168.1.11"])];
    assert_eq!(
        routes("a", &nodes),
        ["10.244.1.0/24 via 192.168.1.11"],
        "CIDRs are truncated"
    );
    let (_, problems) = plan_routes("a", &nodes);
    assert_eq!(
        problems,
        [RouteProblem::ThisNodeMissing { node: "a".into() }]
    );
}

#[test]
fn a_wrong_node_name_is_the_operators_and_bad_nodes_the_users() {
    use portcullis_fault::{Classified, Fault};
    let missing = RouteProblem::ThisNodeMissing { node: "n".into() };
    assert_eq!(
        (missing.fault(), missing.retryable()),
        (Fault::Operator, false)
    );
    let overlap = RouteProblem::Overlap {
        node: "a".into(),
        cidr: "10.0.0.0/24".parse().unwrap(),
        other: "b".into(),
        other_cidr: "10.0.0.0/16".parse().unwrap(),
    };
    assert_eq!(overlap.fault(), Fault::User);
}
