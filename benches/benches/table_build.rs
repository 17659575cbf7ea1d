//! Building the routing table from 10,000 Ingresses (target: under 50 ms): translation
//! (objects → spec) and compilation (spec → lookup structure), measured apart and together,
//! with ten paths per Ingress (100,000 path rules) and with one.

use std::hint::black_box;

/// The allocator the `portcullis` binary uses, so the numbers are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_benches::{config, snapshot, snapshot_with_paths};
use portcullis_ingress::translate::translate;
use portcullis_proxy::metrics::Metrics;
use portcullis_route::table::RoutingTable;

fn table_build(c: &mut Criterion) {
    let snapshot = snapshot(10_000);
    let config = config();
    let metrics = Metrics::default();
    let spec = translate(&snapshot, &config).spec;
    let mut group = c.benchmark_group("table_build_10k_ingresses");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("translate", |b| {
        b.iter(|| black_box(translate(&snapshot, &config)))
    });
    group.bench_function("compile", |b| {
        b.iter(|| black_box(RoutingTable::compile(&spec, &metrics)))
    });
    group.bench_function("translate_and_compile", |b| {
        b.iter(|| {
            let translation = translate(&snapshot, &config);
            black_box(RoutingTable::compile(&translation.spec, &metrics))
        })
    });
    let one_path = snapshot_with_paths(10_000, 1);
    group.bench_function("translate_and_compile_1_path_each", |b| {
        b.iter(|| {
            let translation = translate(&one_path, &config);
            black_box(RoutingTable::compile(&translation.spec, &metrics))
        })
    });
    group.finish();
}

criterion_group!(benches, table_build);
criterion_main!(benches);
