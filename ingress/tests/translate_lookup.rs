//! Request-side checks: objects → translate → compile → `find(host, path)`, table-driven.
//! Every row of the path table in the Kubernetes Ingress documentation is a row here.

use std::path::Path;

use portcullis_ingress::translate::{ClassIdentity, TranslateConfig, translate};
use portcullis_kube::manifests::parse_manifest;
use portcullis_kube::store::Snapshot;
use portcullis_route::counters::Unshared;
use portcullis_route::table::{RouteTarget, RoutingTable};

fn compile_case(case: &str) -> RoutingTable {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(case);
    let text = std::fs::read_to_string(&path).expect("case file");
    let parsed = parse_manifest(case, &text).expect("case parses");
    let config = TranslateConfig {
        class: ClassIdentity {
            ingress_class: "portcullis".into(),
            controller_name: "portcullis.dev/ingress-controller".into(),
        },
        default_backend_service: None,
        default_body_size: None,
        tls: None,
    };
    let translation = translate(&Snapshot::from_objects(parsed.objects), &config);
    let (table, warnings) = RoutingTable::compile(&translation.spec, &Unshared);
    assert!(warnings.is_empty(), "{warnings:?}");
    table
}

/// What a lookup reached: the first endpoint's IP, "404", or "503".
fn outcome(table: &RoutingTable, host: &str, path: &str) -> String {
    let route = table.find(host, path);
    let Some(upstream) = route.single_upstream() else {
        return "split".into();
    };
    match &upstream.target {
        RouteTarget::Endpoints(set) if !set.is_empty() => set
            .round_robin()
            .next()
            .map(|e| e.address.ip().to_string())
            .unwrap_or_default(),
        RouteTarget::Endpoints(_) | RouteTarget::Unavailable(_) => "503".into(),
        RouteTarget::NotFound => "404".into(),
        _ => "other".into(),
    }
}

/// Looks up every (row, host, path, expected) and reports all mismatches at once.
fn check_rows(table: &RoutingTable, rows: &[(&str, &str, &str, &str)]) {
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|(row, host, path, want)| {
            let got = outcome(table, host, path);
            (got != *want).then(|| format!("{row}: {host}{path} -> {got}, want {want}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const APP: &str = "10.0.0.1";
const OTHER: &str = "10.0.0.2";
const MISS: &str = "404";

#[test]
fn kubernetes_docs_path_table() {
    let table = compile_case("path-table.yaml");
    #[rustfmt::skip]
    let rows: &[(&str, &str, &str, &str)] = &[
        // (row of the docs table, host, request path, expected)
        ("Prefix / matches all paths", "prefix-root.test", "/", APP),
        ("Prefix / matches all paths", "prefix-root.test", "/anything/at/all", APP),
        ("Exact /foo matches /foo", "exact-foo.test", "/foo", APP),
        ("Exact /foo does not match /bar", "exact-foo.test", "/bar", MISS),
        ("Exact /foo does not match /foo/", "exact-foo.test", "/foo/", MISS),
        ("Exact /foo/ does not match /foo", "exact-foo-slash.test", "/foo", MISS),
        ("Exact /foo/ matches /foo/", "exact-foo-slash.test", "/foo/", APP),
        ("Prefix /foo matches /foo", "prefix-foo.test", "/foo", APP),
        ("Prefix /foo matches /foo/", "prefix-foo.test", "/foo/", APP),
        ("Prefix /foo/ matches /foo", "prefix-foo-slash.test", "/foo", APP),
        ("Prefix /foo/ matches /foo/", "prefix-foo-slash.test", "/foo/", APP),
        ("Prefix /aaa/bb does not match /aaa/bbb", "prefix-aaa-bb.test", "/aaa/bbb", MISS),
        ("Prefix /aaa/bbb matches /aaa/bbb", "prefix-aaa-bbb.test", "/aaa/bbb", APP),
        ("Prefix /aaa/bbb/ matches /aaa/bbb (trailing slash ignored)", "prefix-aaa-bbb-slash.test", "/aaa/bbb", APP),
        ("Prefix /aaa/bbb matches /aaa/bbb/ (trailing slash matched)", "prefix-aaa-bbb.test", "/aaa/bbb/", APP),
        ("Prefix /aaa/bbb matches /aaa/bbb/ccc (subpath)", "prefix-aaa-bbb.test", "/aaa/bbb/ccc", APP),
        ("Prefix /aaa/bbb does not match /aaa/bbbxyz (not a string prefix)", "prefix-aaa-bbb.test", "/aaa/bbbxyz", MISS),
        ("Prefix /, /aaa: /aaa/ccc matches /aaa", "multi-root-aaa.test", "/aaa/ccc", APP),
        ("Prefix /, /aaa, /aaa/bbb: /aaa/bbb matches /aaa/bbb", "multi-root-aaa-bbb.test", "/aaa/bbb", APP),
        ("Prefix /, /aaa, /aaa/bbb: /ccc matches /", "multi-root-aaa-bbb.test", "/ccc", OTHER),
        ("Prefix /aaa: /ccc uses the default backend", "prefix-aaa.test", "/ccc", MISS),
        ("Mixed /foo Prefix and Exact: /foo prefers Exact", "mixed.test", "/foo", APP),
        // Beyond the docs table, same rules:
        ("Mixed: /foo/x only matches the Prefix", "mixed.test", "/foo/x", OTHER),
        ("ImplementationSpecific is Prefix", "impl-specific.test", "/foo/bar", APP),
        ("ImplementationSpecific is element-wise", "impl-specific.test", "/foobar", MISS),
        ("Longest match: Exact /foo/bar beats Prefix /foo", "exact-longer.test", "/foo/bar", APP),
        ("Longest match: /foo/bar/baz falls back to Prefix /foo", "exact-longer.test", "/foo/bar/baz", OTHER),
        ("Paths are case-sensitive", "case.test", "/foo", MISS),
        ("Paths are case-sensitive", "case.test", "/Foo/x", APP),
        ("Query strings are not part of the path", "prefix-foo.test", "/foo", APP),
        ("Unknown host uses the default backend", "nowhere.test", "/", MISS),
    ];
    check_rows(&table, rows);
}

#[test]
fn host_matching() {
    let table = compile_case("host-wildcards.yaml");
    let exact = "10.1.0.1";
    let wild = "10.1.0.2";
    let any = "10.1.0.3";
    #[rustfmt::skip]
    let rows: &[(&str, &str, &str, &str)] = &[
        ("exact host", "foo.bar.com", "/", exact),
        ("host case ignored", "FOO.BAR.COM", "/", exact),
        ("port in Host ignored", "foo.bar.com:8080", "/", exact),
        ("trailing dot ignored", "foo.bar.com.", "/", exact),
        ("wildcard matches one label", "baz.bar.com", "/", wild),
        ("wildcard does not match two labels", "a.baz.bar.com", "/", any),
        ("wildcard does not match the bare domain", "bar.com", "/", any),
        ("exact beats wildcard, no fallthrough on path miss", "only-api.bar.com", "/other", MISS),
        ("exact host path", "only-api.bar.com", "/api/v1", exact),
        ("rules without host match other hosts", "elsewhere.test", "/x", any),
        ("no Host header at all", "", "/x", any),
        ("IPv6 literal host", "[::1]:8080", "/", any),
    ];
    check_rows(&table, rows);
}

#[test]
fn default_backends_and_readiness() {
    let table = compile_case("default-backend.yaml");
    assert_eq!(outcome(&table, "shop.test", "/cart/1"), "10.4.0.1");
    assert_eq!(
        outcome(&table, "shop.test", "/elsewhere"),
        "10.4.0.2",
        "host default"
    );
    assert_eq!(
        outcome(&table, "nopaths.test", "/"),
        "10.4.0.2",
        "host without paths"
    );
    assert_eq!(
        outcome(&table, "unknown.test", "/"),
        "10.4.0.1",
        "catch-all Ingress"
    );

    let table = compile_case("ports-and-readiness.yaml");
    assert_eq!(
        outcome(&table, "api.test", "/down"),
        "503",
        "no ready endpoint"
    );
    assert_eq!(outcome(&table, "api.test", "/no-such-port"), "503");
    assert_eq!(outcome(&table, "api.test", "/no-such-service"), "503");
    assert_eq!(outcome(&table, "api.test", "/legacy"), "10.7.0.1");
}
