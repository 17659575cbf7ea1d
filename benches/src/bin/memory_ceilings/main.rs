//! Memory ceilings: the resident memory of Portcullis, nginx, HAProxy and Envoy (configured by
//! the side-by-side harness's table, with the limits an ingress controller ships) under
//! hostile loads that cost a proxy memory rather than CPU:
//!
//! 1. 5,000 idle connections that send nothing; then 5,000 that send one keep-alive request
//!    each and go idle;
//! 2. 2,000 connections each writing a request head with a 390 KiB header that never ends;
//! 3. 3 HTTP/2 connections that open their windows to 2^31-1, ask for 200 responses of
//!    10 MiB each and never read.
//!
//! Each proxy is started fresh for each load, pinned to one core; the backend and these
//! clients share the other. Resident memory is VmRSS (and VmHWM for the peak) from
//! `/proc/PID/status`, summed over the proxy's processes (nginx's master and worker).
//! Writes `memory-ceilings.md`.
//!
//! Run: `cargo run --release -p portcullis-benches --bin memory-ceilings -- --out
//! benches/results` (root, for the open-files limit; about 5 minutes; `--quick` checks the
//! harness with small loads).

mod gated;
mod h1_clients;
mod h2_readers;
mod limits;
mod loads;
mod pinned;
mod report;
mod rss;
mod seen;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use portcullis_benches::harness::{kit, peers, versions};

use loads::Load;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "Resident memory of Portcullis, nginx, HAProxy and Envoy under hostile loads")]
pub struct Args {
    /// Folder the report (`memory-ceilings.md`) is written to, relative to the workspace.
    #[arg(long, default_value = "benches/results")]
    out: PathBuf,
    /// Install missing peers (apt-get, pip).
    #[arg(long)]
    install: bool,
    /// Core the proxy runs on.
    #[arg(long, default_value_t = 0)]
    proxy_core: usize,
    /// Core the backend and the clients run on.
    #[arg(long, default_value_t = 1)]
    load_core: usize,
    /// Idle connections (loads 1 and 1b).
    #[arg(long, default_value_t = 5_000)]
    idle: usize,
    /// Stalled header writers (load 2).
    #[arg(long, default_value_t = 2_000)]
    writers: usize,
    /// KiB of header value each writer sends (and never ends).
    #[arg(long, default_value_t = 390)]
    header_kib: usize,
    /// Stalled HTTP/2 readers (load 3).
    #[arg(long, default_value_t = 3)]
    h2_connections: usize,
    /// Streams each HTTP/2 reader opens.
    #[arg(long, default_value_t = 200)]
    streams: usize,
    /// MiB of each HTTP/2 response.
    #[arg(long, default_value_t = 10)]
    body_mib: usize,
    /// Seconds the HTTP/2 readers stall while memory is sampled.
    #[arg(long, default_value_t = 20)]
    h2_seconds: u64,
    /// Seconds a load settles, once in place, before its memory is read.
    #[arg(long, default_value_t = 2)]
    settle: u64,
    /// Small loads (500 idle, 200 writers, 1 reader of 20 streams for 5 s), to check the
    /// harness rather than to measure.
    #[arg(long)]
    quick: bool,
    /// Only these proxies (by name, any case; repeat the flag), e.g. after a fix to one.
    #[arg(long = "proxy")]
    only_proxies: Vec<String>,
    /// Only these loads (`1`, `1b`, `2`, `3`; repeat the flag).
    #[arg(long = "load")]
    only_loads: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.quick {
        args.idle = args.idle.min(500);
        args.writers = args.writers.min(200);
        args.h2_connections = args.h2_connections.min(1);
        args.streams = args.streams.min(20);
        args.h2_seconds = args.h2_seconds.min(5);
    }
    let loads: Vec<Load> = loads::all(&args)
        .into_iter()
        .filter(|load| args.only_loads.is_empty() || args.only_loads.contains(&load.key()))
        .collect();
    // Every connection of the largest load, and the proxy's own files besides.
    let needed = loads.iter().map(Load::connections).max().unwrap_or(0) as u64 + 1_024;
    let open_files = limits::raise_open_files(needed)?;
    // Before pinning, which leaves this process one core to see.
    let machine = versions::machine();
    limits::pin_to(args.load_core)?;
    let kit = kit::prepare(args.install, &[])?;
    let (available, missing) = peers::available(&kit);
    for missing in &missing {
        eprintln!("MISSING {missing}");
    }
    let chosen = |peer: &peers::Peer| {
        args.only_proxies.is_empty()
            || args
                .only_proxies
                .iter()
                .any(|name| name.eq_ignore_ascii_case(peer.name))
    };
    let proxies: Vec<&peers::Peer> = available
        .into_iter()
        .filter(|peer| peer.process.is_some() && chosen(peer))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the clients' runtime")?;
    let mut measured = Vec::new();
    for load in &loads {
        measured.push(loads::measure(&kit, &args, &runtime, load, &proxies)?);
    }
    let text = report::render(&report::Report {
        quick: args.quick,
        machine,
        commit: versions::commit(&kit.root),
        proxy_commit: versions::last_change(&kit.root, &["proxy", "route", "portcullis"]),
        open_files,
        proxy_core: args.proxy_core,
        load_core: args.load_core,
        settle: Duration::from_secs(args.settle),
        missing,
        loads: measured,
        configs: loads::configs(&kit)?,
    });
    let out = kit.root.join(&args.out);
    fs::create_dir_all(&out)?;
    let path = out.join("memory-ceilings.md");
    fs::write(&path, &text)?;
    println!("{text}");
    eprintln!("wrote {}", path.display());
    Ok(())
}
