//! Route lookup in a table of 10,000 hosts × 10 paths (target: median under 100 ns).

use std::hint::black_box;

/// The allocator the `portcullis` binary uses, so the numbers are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_benches::{PATHS, config, host, snapshot};
use portcullis_ingress::translate::translate;
use portcullis_route::counters::Unshared;
use portcullis_route::table::RoutingTable;

fn route_lookup(c: &mut Criterion) {
    let hosts = 10_000;
    let translation = translate(&snapshot(hosts), &config());
    let (table, _) = RoutingTable::compile(&translation.spec, &Unshared);
    // A fixed pseudo-random mix of hosts and request paths, some deep, some with a port.
    let requests: Vec<(String, String)> = (0..4096)
        .map(|n: usize| {
            let i = n.wrapping_mul(2_654_435_761) % hosts;
            let host = if n.is_multiple_of(4) {
                format!("{}:8080", host(i))
            } else {
                host(i)
            };
            let path = match n % 5 {
                0 => format!("{}/item/{n}", PATHS[n % PATHS.len()]),
                1 => "/api/v1/users/42/orders".to_string(),
                2 => "/nothing/here".to_string(),
                _ => PATHS[n % PATHS.len()].to_string(),
            };
            (host, path)
        })
        .collect();
    let mut group = c.benchmark_group("route_lookup");
    group.bench_function("10k_hosts_x_10_paths", |b| {
        let mut n = 0usize;
        b.iter(|| {
            let (host, path) = &requests[n & 4095];
            n = n.wrapping_add(1);
            black_box(table.find(black_box(host), black_box(path)));
        })
    });
    group.bench_function("miss_unknown_host", |b| {
        b.iter(|| black_box(table.find(black_box("nope.example.org"), black_box("/x"))))
    });
    group.finish();
}

criterion_group!(benches, route_lookup);
criterion_main!(benches);
