//! Building the Gateway API tables from 10,000 HTTPRoutes (four rules each: a plain prefix, and
//! prefixes matching a header, a query parameter and a method): the translation, the compile of
//! the port's table, and both, as every Gateway API rebuild runs them today.

use std::hint::black_box;

/// The allocator the `portcullis` binary uses, so the numbers are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_benches::gateway_fixture::{gateway_config, gateway_snapshot};
use portcullis_gateway::translate_gateways;
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
    group.finish();
}

criterion_group!(benches, gateway_build);
criterion_main!(benches);
