use std::net::SocketAddr;

use std::sync::Mutex;

use super::*;
use crate::counters::Unshared;
use crate::spec::{PathRule, VirtualHost};

/// Interns counters by origin, as the proxy's registry does.
#[derive(Default)]
struct Interning(Mutex<HashMap<Option<Origin>, Arc<RouteMetrics>>>);

impl CounterSource for Interning {
    fn route_counters(&self, origin: Option<&Origin>) -> Arc<RouteMetrics> {
        let mut seen = self.0.lock().expect("not poisoned");
        Arc::clone(seen.entry(origin.cloned()).or_default())
    }
}

fn backend(port: u16) -> Arc<Backend> {
    Arc::new(Backend {
        origin: None,
        target: Target::Endpoints(vec![SocketAddr::from(([127, 0, 0, 1], port))]),
        https_redirect: false,
    })
}

fn rule(path: &str, kind: PathKind, port: u16) -> PathRule {
    PathRule {
        path: path.into(),
        kind,
        backend: backend(port),
    }
}

fn port_of(route: &Route) -> Option<u16> {
    match &route.target {
        RouteTarget::Endpoints(set) => set.round_robin().next().map(|e| e.address.port()),
        _ => None,
    }
}

fn table(hosts: Vec<VirtualHost>) -> RoutingTable {
    let spec = TableSpec {
        hosts: hosts.into_iter().map(Arc::new).collect(),
        default_backend: Arc::new(Backend::not_found()),
    };
    let (table, warnings) = RoutingTable::compile(&spec, &Unshared);
    assert!(warnings.is_empty(), "{warnings:?}");
    table
}

#[test]
fn exact_beats_prefix_on_the_same_path_in_either_order() {
    for order in [
        [PathKind::Exact, PathKind::Prefix],
        [PathKind::Prefix, PathKind::Exact],
    ] {
        let paths = order
            .iter()
            .map(|kind| rule("/foo", *kind, if *kind == PathKind::Exact { 1 } else { 2 }))
            .collect();
        let t = table(vec![VirtualHost {
            host: HostMatch::Any,
            paths,
            default_backend: None,
        }]);
        assert_eq!(port_of(t.find("x", "/foo")), Some(1), "{order:?}");
        assert_eq!(port_of(t.find("x", "/foo/")), Some(2), "{order:?}");
        assert_eq!(port_of(t.find("x", "/foo/bar")), Some(2), "{order:?}");
    }
}

#[test]
fn literal_braces_and_stars_in_paths_are_not_patterns() {
    let t = table(vec![VirtualHost {
        host: HostMatch::Any,
        paths: vec![
            rule("/a{b}", PathKind::Exact, 1),
            rule("/{*rest}", PathKind::Prefix, 2),
            rule("/x/{id}", PathKind::Prefix, 3),
        ],
        default_backend: None,
    }]);
    assert_eq!(port_of(t.find("h", "/a{b}")), Some(1));
    assert_eq!(port_of(t.find("h", "/ab")), None);
    assert_eq!(port_of(t.find("h", "/{*rest}/z")), Some(2));
    assert_eq!(port_of(t.find("h", "/anything")), None);
    assert_eq!(port_of(t.find("h", "/x/{id}/7")), Some(3));
    assert_eq!(port_of(t.find("h", "/x/7")), None);
}

#[test]
fn host_default_answers_unmatched_paths_then_the_table_default() {
    let t = table(vec![
        VirtualHost {
            host: HostMatch::Exact("a.test".into()),
            paths: vec![rule("/api", PathKind::Prefix, 1)],
            default_backend: Some(backend(9)),
        },
        VirtualHost {
            host: HostMatch::Exact("b.test".into()),
            paths: vec![rule("/api", PathKind::Prefix, 2)],
            default_backend: None,
        },
    ]);
    assert_eq!(port_of(t.find("a.test", "/other")), Some(9));
    assert!(matches!(
        t.find("b.test", "/other").target,
        RouteTarget::NotFound
    ));
    assert_eq!(t.host_count(), 2);
    assert_eq!(t.path_count(), 2);
}

#[test]
fn rules_sharing_a_backend_share_one_round_robin_cursor() {
    let two = Arc::new(Backend {
        origin: None,
        target: Target::Endpoints(vec![
            SocketAddr::from(([127, 0, 0, 1], 1)),
            SocketAddr::from(([127, 0, 0, 1], 2)),
        ]),
        https_redirect: false,
    });
    let t = table(vec![VirtualHost {
        host: HostMatch::Any,
        paths: vec![
            PathRule {
                path: "/a".into(),
                kind: PathKind::Prefix,
                backend: two.clone(),
            },
            PathRule {
                path: "/b".into(),
                kind: PathKind::Prefix,
                backend: two,
            },
        ],
        default_backend: None,
    }]);
    let picks: Vec<Option<u16>> = ["/a", "/b", "/a", "/b"]
        .iter()
        .map(|p| port_of(t.find("h", p)))
        .collect();
    assert_eq!(picks, [Some(1), Some(2), Some(1), Some(2)]);
    assert!(Arc::ptr_eq(t.find("h", "/a"), t.find("h", "/b")));
}

#[test]
fn round_robin_visits_every_endpoint_once_per_attempt() {
    let addresses: Vec<SocketAddr> = (1..=3)
        .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
        .collect();
    let set = EndpointSet::new(&addresses);
    let first: Vec<u16> = set.round_robin().map(|e| e.address.port()).collect();
    let second: Vec<u16> = set.round_robin().map(|e| e.address.port()).collect();
    assert_eq!(first, [1, 2, 3]);
    assert_eq!(second, [2, 3, 1]);
    assert_eq!(
        set.round_robin().next().map(|e| e.authority.as_str()),
        Some("127.0.0.1:3")
    );
    let empty = EndpointSet::new(&[]);
    assert_eq!(empty.round_robin().count(), 0);
}

#[test]
fn route_metrics_are_shared_across_rebuilds() {
    let metrics = Interning::default();
    let origin = Origin {
        namespace: "n".into(),
        ingress: "i".into(),
        service: "s".into(),
        port: "80".into(),
    };
    let spec = TableSpec {
        hosts: vec![],
        default_backend: Arc::new(Backend {
            origin: Some(origin),
            target: Target::Endpoints(vec![]),
            https_redirect: false,
        }),
    };
    let (first, _) = RoutingTable::compile(&spec, &metrics);
    let (second, _) = RoutingTable::compile(&spec, &metrics);
    assert!(Arc::ptr_eq(
        &first.find("h", "/").metrics,
        &second.find("h", "/").metrics
    ));
}

#[test]
fn hosts_with_the_same_rule_list_share_one_matcher() {
    let host = |name: &str, port| VirtualHost {
        host: HostMatch::Exact(name.into()),
        paths: vec![
            rule("/a", PathKind::Prefix, port),
            rule("/b", PathKind::Exact, port),
        ],
        default_backend: None,
    };
    let t = table(vec![host("one.test", 1), host("two.test", 2)]);
    let (one, two) = (&t.exact["one.test"], &t.exact["two.test"]);
    assert!(Arc::ptr_eq(&one.paths, &two.paths));
    assert_eq!(port_of(t.find("one.test", "/a/x")), Some(1));
    assert_eq!(port_of(t.find("two.test", "/a/x")), Some(2));
    assert_eq!(port_of(t.find("two.test", "/b")), Some(2));
}

#[test]
fn compile_reusing_takes_over_unchanged_hosts_and_compiles_changed_ones() {
    let metrics = Unshared;
    let host = |name: &str, path: &str, port| {
        Arc::new(VirtualHost {
            host: HostMatch::Exact(name.into()),
            paths: vec![rule(path, PathKind::Prefix, port)],
            default_backend: None,
        })
    };
    let kept = host("kept.test", "/", 1);
    let first_spec = TableSpec {
        hosts: vec![Arc::clone(&kept), host("changed.test", "/old", 2)],
        default_backend: Arc::new(Backend::not_found()),
    };
    let (first, _) = RoutingTable::compile(&first_spec, &metrics);
    // Same content but a new Arc: compiled again, since only identity says "unchanged".
    let lookalike = host("lookalike.test", "/", 3);
    let second_spec = TableSpec {
        hosts: vec![
            Arc::clone(&kept),
            host("changed.test", "/new", 2),
            Arc::clone(&lookalike),
        ],
        default_backend: Arc::new(Backend::not_found()),
    };
    let (second, _) = RoutingTable::compile_reusing(&second_spec, &metrics, Some(&first));
    assert!(Arc::ptr_eq(
        &first.exact["kept.test"],
        &second.exact["kept.test"]
    ));
    assert!(!Arc::ptr_eq(
        &first.exact["changed.test"],
        &second.exact["changed.test"]
    ));
    assert_eq!(port_of(second.find("changed.test", "/new")), Some(2));
    assert!(matches!(
        second.find("changed.test", "/old").target,
        RouteTarget::NotFound
    ));
    assert_eq!(port_of(second.find("lookalike.test", "/")), Some(3));
    assert_eq!(second.host_count(), 3);
    assert_eq!(second.path_count(), 3);

    // A host missing from the new spec is gone from the new table.
    let third_spec = TableSpec {
        hosts: vec![Arc::clone(&kept)],
        default_backend: Arc::new(Backend::not_found()),
    };
    let (third, _) = RoutingTable::compile_reusing(&third_spec, &metrics, Some(&second));
    assert!(matches!(
        third.find("changed.test", "/new").target,
        RouteTarget::NotFound
    ));
}
