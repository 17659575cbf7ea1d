//! Side-by-side proxy benchmark: Portcullis (`--manifests`), nginx, HAProxy and Envoy with
//! equivalent configuration in front of the same backend, plus a "direct" row (load generator
//! straight to the backend) as the ceiling. Proxies run one at a time, pinned to one core;
//! the backend and the load generators share the other.
//!
//! Measures, per proxy: maximum requests/s (closed loop), latency p50/p99/p99.9 at fixed rates
//! (open loop, corrected for coordinated omission), CPU seconds per request, peak RSS; for
//! HTTP/1.1, HTTPS (TLS 1.3) and HTTP/2, bodies of 0 B, 1 KiB and 64 KiB, 1 and 10,000 routes,
//! and one route with filters (rewrite, request header, 10% canary) against the plain one;
//! then Portcullis under route churn. Writes `side-by-side.md` and PNG charts.
//!
//! Run: `cargo run --release -p portcullis-benches --bin side-by-side -- --install` (root, a
//! quiet machine; about 20 minutes; `--quick` checks the harness in about 8).
//!
//! What is measured is the table in `benches/src/harness/peers.rs` (shared with
//! `memory-ceilings`); this file only puts the steps in order.

mod charts;
mod churn;
mod closed_loop;
mod load;
mod open_loop;
mod report;
mod results;
mod scenarios;

use std::fs;
use std::path::PathBuf;

use clap::Parser;
use portcullis_benches::harness::{configs, kit, peers, running, tools, versions};

use results::Results;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "Portcullis vs nginx, HAProxy and Envoy on this machine")]
struct Args {
    /// Seconds per measured run.
    #[arg(long, default_value_t = 5)]
    seconds: u32,
    /// Measured runs per point; the report gives medians.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Short runs (1 of 2 s), to check the harness rather than to measure.
    #[arg(long)]
    quick: bool,
    /// Install missing peers and load generators (apt-get, pip, cargo install).
    #[arg(long)]
    install: bool,
    /// Core the proxy runs on.
    #[arg(long, default_value_t = 0)]
    proxy_core: usize,
    /// Core the backend and the load generators run on.
    #[arg(long, default_value_t = 1)]
    load_core: usize,
    /// Folder for the report and charts.
    #[arg(long, default_value = "benches/results")]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.quick {
        args.seconds = 2;
        args.repeats = 1;
    }
    let kit = kit::prepare(args.install, &tools::LOAD_GENERATORS)?;
    let (peers, missing) = peers::available(&kit);
    for missing in &missing {
        eprintln!("MISSING {missing}");
    }
    let mut results = Results {
        missing,
        ..Results::default()
    };
    closed_loop::measure(&kit, &args, &peers, &mut results)?;
    open_loop::measure(&kit, &args, &peers, &mut results)?;
    results.churn = Some(churn::run(&kit, &args)?);
    results.versions = versions::versions(&kit);

    let out = kit.root.join(&args.out);
    fs::create_dir_all(&out)?;
    let configs = peers::example_configs(&kit)?;
    let charts = charts::draw(&results, &out)?;
    let text = report::render(
        &results,
        &report::Method {
            seconds: args.seconds,
            repeats: args.repeats,
            proxy_core: args.proxy_core,
            load_core: args.load_core,
            machine: versions::machine(),
            configs,
            charts,
            quick: args.quick,
        },
    );
    let path = out.join("side-by-side.md");
    fs::write(&path, &text)?;
    println!("{text}");
    eprintln!("wrote {}", path.display());
    Ok(())
}
