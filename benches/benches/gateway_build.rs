//! Building the Gateway API tables from 10,000 HTTPRoutes (four rules each: a plain prefix, and
//! prefixes matching a header, a query parameter and a method): the translation, the compile of
//! the port's table, and one route edited as a rebuild after that change runs it.

use std::hint::black_box;

/// The allocator the `portcullis` binary uses, so the numbers are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_benches::gateway_fixture::{gateway_config, gateway_snapshot, http_route};
use portcullis_gateway::{GatewayTranslator, translate_gateways};
use portcullis_kube::manifests::parse_manifest;
use portcullis_kube::objects::{Kind, ObjectKey};
use portcullis_kube::store::Snapshot;
use portcullis_proxy::metrics::Metrics;
use portcullis_route::table::RoutingTable;

fn gateway_build(c: &mut Criterion) {
    let snapshot = gateway_snapshot(10_000);
    let config = gateway_config();
    let metrics = Metrics::default();
    let translation = translate_gateways(&snapshot, &config);
    assert_eq!(translation.ports.len(), 1);
    assert!(
        translation.diagnostics.is_empty(),
        "{:?}",
        translation.diagnostics.first()
    );
    let spec = &translation.ports[0].table;
    assert_eq!(spec.hosts.len(), 10_000);
    let mut group = c.benchmark_group("gateway_build_10k_httproutes");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("translate", |b| {
        b.iter(|| black_box(translate_gateways(&snapshot, &config)))
    });
    group.bench_function("compile", |b| {
        b.iter(|| black_box(RoutingTable::compile(spec, &metrics)))
    });
    let (compiled, _) = RoutingTable::compile(spec, &metrics);
    group.bench_function("compile_reusing_unchanged", |b| {
        b.iter(|| {
            black_box(RoutingTable::compile_reusing(
                spec,
                &metrics,
                Some(&compiled),
            ))
        })
    });
    // One HTTPRoute edited (a rule added, then taken away again), as a change-to-live
    // rebuild translates it: the incremental translator and the port's compile reusing the
    // rest of the table.
    let route = ObjectKey {
        kind: Kind::HTTPRoute,
        namespace: "team-42".into(),
        name: "app-42".into(),
    };
    let edited = with_route(&snapshot, &http_route(42, &["/v1".to_string()]));
    let mut translator = GatewayTranslator::new(config.clone());
    let first = translator.update(&snapshot, &[]);
    let (mut table, _) = RoutingTable::compile(&first.ports[0].table, &metrics);
    let mut flip = false;
    group.bench_function("one_route_edited", |b| {
        b.iter(|| {
            flip = !flip;
            let now = if flip { &edited } else { &snapshot };
            let translation = translator.update(now, std::slice::from_ref(&route));
            let (next, _) =
                RoutingTable::compile_reusing(&translation.ports[0].table, &metrics, Some(&table));
            table = next;
            black_box(&table);
        })
    });
    group.finish();
}

/// `snapshot` with one HTTPRoute replaced by `yaml`.
fn with_route(snapshot: &Snapshot, yaml: &str) -> Snapshot {
    let mut edited = snapshot.clone();
    for object in parse_manifest("edit.yaml", yaml).expect("parses").objects {
        edited.insert(object);
    }
    edited
}

criterion_group!(benches, gateway_build);
criterion_main!(benches);
