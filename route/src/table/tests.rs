use std::net::SocketAddr;

use std::sync::Mutex;

use super::*;
use crate::counters::RouteMetrics;
use crate::counters::Unshared;
use crate::spec::{
    Backend, Conditions, HeaderCondition, PathRule, RouteSpec, Target, ValueMatch, VirtualHost,
    WeightedBackend,
};

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
        tls: None,
        headers: None,
        origin: None,
        target: Target::Endpoints(vec![SocketAddr::from(([127, 0, 0, 1], port))]),
    })
}

fn route(port: u16) -> Arc<RouteSpec> {
    Arc::new(RouteSpec::forward(backend(port)))
}

fn rule(path: &str, kind: PathKind, port: u16) -> PathRule {
    PathRule::new(path, kind, route(port))
}

fn target_of(route: &Route) -> &RouteTarget {
    &route.single_upstream().expect("one upstream").target
}

fn port_of(route: &Route) -> Option<u16> {
    match target_of(route) {
        RouteTarget::Endpoints(set) => set.round_robin().next().map(|e| e.address.port()),
        _ => None,
    }
}

fn not_found() -> Arc<RouteSpec> {
    Arc::new(RouteSpec::forward(Arc::new(Backend::not_found())))
}

fn table(hosts: Vec<VirtualHost>) -> RoutingTable {
    let spec = TableSpec {
        hosts: hosts.into_iter().map(Arc::new).collect(),
        default_backend: not_found(),
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
            aliases: Vec::new(),
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
        aliases: Vec::new(),
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
            default_backend: Some(route(9)),
            aliases: Vec::new(),
        },
        VirtualHost {
            host: HostMatch::Exact("b.test".into()),
            paths: vec![rule("/api", PathKind::Prefix, 2)],
            default_backend: None,
            aliases: Vec::new(),
        },
    ]);
    assert_eq!(port_of(t.find("a.test", "/other")), Some(9));
    assert!(matches!(
        target_of(t.find("b.test", "/other")),
        RouteTarget::NotFound
    ));
    assert_eq!(t.host_count(), 2);
    assert_eq!(t.path_count(), 2);
}

#[test]
fn rules_sharing_a_backend_share_one_round_robin_cursor() {
    let two = Arc::new(RouteSpec::forward(Arc::new(Backend {
        tls: None,
        headers: None,
        origin: None,
        target: Target::Endpoints(vec![
            SocketAddr::from(([127, 0, 0, 1], 1)),
            SocketAddr::from(([127, 0, 0, 1], 2)),
        ]),
    })));
    let t = table(vec![VirtualHost {
        host: HostMatch::Any,
        paths: vec![
            PathRule::new("/a", PathKind::Prefix, two.clone()),
            PathRule::new("/b", PathKind::Prefix, two),
        ],
        default_backend: None,
        aliases: Vec::new(),
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
        default_backend: Arc::new(RouteSpec::forward(Arc::new(Backend {
            tls: None,
            headers: None,
            origin: Some(origin),
            target: Target::Endpoints(vec![]),
        }))),
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
        aliases: Vec::new(),
    };
    let t = table(vec![host("one.test", 1), host("two.test", 2)]);
    let (one, two) = (&t.exact["one.test"], &t.exact["two.test"]);
    assert!(Arc::ptr_eq(&one.index, &two.index));
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
            aliases: Vec::new(),
        })
    };
    let kept = host("kept.test", "/", 1);
    let first_spec = TableSpec {
        hosts: vec![Arc::clone(&kept), host("changed.test", "/old", 2)],
        default_backend: not_found(),
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
        default_backend: not_found(),
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
        target_of(second.find("changed.test", "/old")),
        RouteTarget::NotFound
    ));
    assert_eq!(port_of(second.find("lookalike.test", "/")), Some(3));
    assert_eq!(second.host_count(), 3);
    assert_eq!(second.path_count(), 3);

    // A host missing from the new spec is gone from the new table.
    let third_spec = TableSpec {
        hosts: vec![Arc::clone(&kept)],
        default_backend: not_found(),
    };
    let (third, _) = RoutingTable::compile_reusing(&third_spec, &metrics, Some(&second));
    assert!(matches!(
        target_of(third.find("changed.test", "/new")),
        RouteTarget::NotFound
    ));
}

fn header_is(name: &'static str, value: &str) -> Conditions {
    Conditions {
        headers: vec![HeaderCondition {
            name: http::HeaderName::from_static(name),
            value: ValueMatch::Exact(value.into()),
        }],
        ..Conditions::default()
    }
}

#[test]
fn a_rule_whose_conditions_fail_falls_through_to_the_next_covering_rule() {
    let canary = PathRule {
        conditions: header_is("x-canary", "always"),
        ..rule("/api", PathKind::Prefix, 2)
    };
    let exact = PathRule {
        conditions: header_is("x-exact", "1"),
        ..rule("/api/v1", PathKind::Exact, 3)
    };
    let t = table(vec![VirtualHost {
        host: HostMatch::Any,
        paths: vec![
            canary,
            rule("/api", PathKind::Prefix, 1),
            exact,
            rule("/", PathKind::Prefix, 4),
        ],
        default_backend: None,
        aliases: Vec::new(),
    }]);
    let mut headers = http::HeaderMap::new();
    let find = |headers: &http::HeaderMap, path: &str| {
        port_of(t.find_request(
            "h",
            path,
            &RequestFacts {
                headers: Some(headers),
                ..RequestFacts::default()
            },
        ))
    };
    assert_eq!(find(&headers, "/api/x"), Some(1));
    assert_eq!(find(&headers, "/api/v1"), Some(1));
    assert_eq!(find(&headers, "/other"), Some(4));
    headers.insert("x-canary", http::HeaderValue::from_static("always"));
    assert_eq!(find(&headers, "/api/x"), Some(2));
    assert_eq!(find(&headers, "/api/v1"), Some(2));
    headers.insert("x-exact", http::HeaderValue::from_static("1"));
    assert_eq!(find(&headers, "/api/v1"), Some(3));
    assert_eq!(port_of(t.find("h", "/api/v1")), Some(1));
}

#[test]
fn a_host_with_a_regex_rule_is_matched_in_order() {
    let regex = PathKind::Regex {
        case_insensitive: true,
    };
    let t = table(vec![VirtualHost {
        host: HostMatch::Exact("r.test".into()),
        paths: vec![
            rule("/user/[0-9]+", regex, 1),
            rule("/user", regex, 2),
            rule("/", PathKind::Prefix, 3),
        ],
        default_backend: None,
        aliases: Vec::new(),
    }]);
    assert_eq!(port_of(t.find("r.test", "/USER/42/x")), Some(1));
    assert_eq!(port_of(t.find("r.test", "/user/me")), Some(2));
    assert_eq!(port_of(t.find("r.test", "/users")), Some(2));
    assert_eq!(port_of(t.find("r.test", "/x")), Some(3));
}

#[test]
fn a_rule_that_does_not_compile_is_a_warning_and_the_rest_is_served() {
    let spec = TableSpec {
        hosts: vec![Arc::new(VirtualHost {
            host: HostMatch::Any,
            paths: vec![
                rule(
                    "/(",
                    PathKind::Regex {
                        case_insensitive: false,
                    },
                    1,
                ),
                PathRule {
                    conditions: Conditions {
                        headers: vec![HeaderCondition {
                            name: http::HeaderName::from_static("x"),
                            value: ValueMatch::Regex("[".into()),
                        }],
                        ..Conditions::default()
                    },
                    ..rule("/b", PathKind::Prefix, 2)
                },
                rule("/", PathKind::Prefix, 3),
            ],
            default_backend: None,
            aliases: Vec::new(),
        })],
        default_backend: not_found(),
    };
    let (t, warnings) = RoutingTable::compile(&spec, &Unshared);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(port_of(t.find("h", "/(")), Some(3));
    assert_eq!(port_of(t.find("h", "/b")), Some(3));
}

#[test]
fn a_weighted_split_shares_requests_and_upstreams_with_other_rules() {
    let main = backend(1);
    let canary = backend(2);
    let split = Arc::new(RouteSpec {
        action: crate::spec::Action::Forward(crate::spec::Forward {
            mirrors: Box::default(),
            backends: vec![
                WeightedBackend {
                    weight: 3,
                    backend: Arc::clone(&main),
                },
                WeightedBackend {
                    weight: 1,
                    backend: Arc::clone(&canary),
                },
            ],
            timeouts: Default::default(),
            affinity: None,
            protocol: Default::default(),
            balance: Default::default(),
            next_upstream: Default::default(),
        }),
        ..RouteSpec::forward(Arc::clone(&main))
    });
    let t = table(vec![VirtualHost {
        host: HostMatch::Any,
        paths: vec![
            PathRule::new("/", PathKind::Prefix, split),
            PathRule::new("/c", PathKind::Prefix, Arc::new(RouteSpec::forward(canary))),
        ],
        default_backend: None,
        aliases: Vec::new(),
    }]);
    let RouteAction::Forward { split, .. } = &t.find("h", "/").action else {
        panic!("forwards");
    };
    let ports: Vec<u16> = (0..8)
        .map(|_| match &split.choose().expect("one").target {
            RouteTarget::Endpoints(set) => set.round_robin().next().expect("one").address.port(),
            _ => 0,
        })
        .collect();
    assert_eq!(ports.iter().filter(|p| **p == 2).count(), 2, "{ports:?}");
    let from_split = split.upstreams().nth(1).expect("canary");
    let alone = t.find("h", "/c").single_upstream().expect("one");
    assert!(Arc::ptr_eq(from_split, alone));
    let _: &Arc<RouteMetrics> = &alone.metrics;
}

#[test]
fn aliases_answer_as_their_host_unless_a_host_has_the_name() {
    let t = table_with_warnings(vec![
        VirtualHost {
            host: HostMatch::Exact("shop.test".into()),
            paths: vec![rule("/", PathKind::Prefix, 1)],
            default_backend: None,
            aliases: vec!["store.test".into(), "other.test".into()],
        },
        VirtualHost {
            host: HostMatch::Exact("other.test".into()),
            paths: vec![rule("/", PathKind::Prefix, 2)],
            default_backend: None,
            aliases: Vec::new(),
        },
    ]);
    assert_eq!(port_of(t.0.find("store.test", "/x")), Some(1));
    assert_eq!(port_of(t.0.find("other.test", "/x")), Some(2));
    assert_eq!(t.1.len(), 1, "{:?}", t.1);
}

fn table_with_warnings(hosts: Vec<VirtualHost>) -> (RoutingTable, Vec<CompileWarning>) {
    let spec = TableSpec {
        hosts: hosts.into_iter().map(Arc::new).collect(),
        default_backend: not_found(),
    };
    RoutingTable::compile(&spec, &Unshared)
}

#[test]
fn hashing_is_consistent_when_an_endpoint_leaves() {
    let addresses: Vec<SocketAddr> = (1..=5)
        .map(|p| SocketAddr::from(([10, 0, 0, p], 80)))
        .collect();
    let all = EndpointSet::of(None, &addresses);
    let fewer = EndpointSet::of(None, &addresses[..4]);
    let address = |set: &EndpointSet, key| {
        let index = set.for_hash(key).expect("an endpoint");
        set.starting_at(index).next().expect("one").address
    };
    let mut moved = 0;
    let mut spread = std::collections::HashSet::new();
    for key in 0..1000u64 {
        let key = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let before = address(&all, key);
        spread.insert(before);
        let after = address(&fewer, key);
        if before != after {
            // Only the keys of the endpoint that left move.
            assert_eq!(before, addresses[4]);
            moved += 1;
        }
        assert_eq!(before, address(&all, key), "stable");
    }
    assert_eq!(spread.len(), 5);
    assert!((100..=300).contains(&moved), "{moved}");
}

#[test]
fn gateway_wildcards_span_labels_and_the_longest_suffix_wins() {
    let host = |host: HostMatch, port: u16| VirtualHost {
        host,
        paths: vec![rule("/", PathKind::Prefix, port)],
        default_backend: None,
        aliases: Vec::new(),
    };
    let table = table(vec![
        host(HostMatch::Suffix("example.com".into()), 1),
        host(HostMatch::Suffix("deep.example.com".into()), 2),
        host(HostMatch::Exact("exact.deep.example.com".into()), 3),
    ]);
    for (name, expected) in [
        ("a.example.com", Some(1)),
        ("a.b.c.example.com", Some(1)),
        ("x.deep.example.com", Some(2)),
        ("x.y.deep.example.com", Some(2)),
        ("deep.example.com", Some(1)),
        ("exact.deep.example.com", Some(3)),
        ("EXACT.deep.example.com:8080", Some(3)),
        ("example.com", None),
        ("other.org", None),
    ] {
        assert_eq!(port_of(table.find(name, "/")), expected, "{name}");
    }
}

#[test]
fn an_invalid_backend_compiles_to_its_own_target() {
    let invalid = Arc::new(RouteSpec::forward(Arc::new(Backend {
        tls: None,
        headers: None,
        origin: None,
        target: Target::Invalid("no such kind".into()),
    })));
    let table = table(vec![VirtualHost {
        host: HostMatch::Any,
        paths: vec![PathRule::new("/", PathKind::Prefix, invalid)],
        default_backend: None,
        aliases: Vec::new(),
    }]);
    assert!(matches!(
        target_of(table.find("any.example", "/x")),
        RouteTarget::Invalid(reason) if &**reason == "no such kind"
    ));
}
