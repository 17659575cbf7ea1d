//! The open-loop points: each peer at 25, 50 and 75% of the slowest proxy's closed-loop
//! maximum (HTTP/1.1, 0 B, 1 route), the same rates for all; latency percentiles.

use crate::Args;
use crate::kit::Kit;
use crate::load;
use crate::peers::Peer;
use crate::results::{Latency, Results, median};
use crate::scenarios::Protocol;
use crate::tools::OHA;

/// Measures each of `peers` (direct first) into `results`; nothing if no proxy has a
/// closed-loop figure for the first scenario to take the rates from.
pub fn measure(
    kit: &Kit,
    args: &Args,
    peers: &[&Peer],
    results: &mut Results,
) -> anyhow::Result<()> {
    // Scenario 0 is HTTP/1.1, 0 B, 1 route.
    let slowest = peers
        .iter()
        .filter(|peer| peer.process.is_some())
        .filter_map(|peer| results.throughput.get(&(0, peer.proxy)))
        .map(|t| t.rps)
        .fold(f64::INFINITY, f64::min);
    if !slowest.is_finite() {
        return Ok(());
    }
    let rates: Vec<u32> = [0.25, 0.5, 0.75]
        .iter()
        .map(|share| (slowest * share).round() as u32)
        .collect();
    let _backend = kit.start_backend(args.load_core, 0)?;
    for peer in peers {
        let running = peer.start(kit, args.proxy_core, 1, false)?;
        let url = peer.url(Protocol::H1, 1, false)?;
        let mut points = Vec::new();
        for rate in &rates {
            eprintln!("{} at {rate} requests/s", peer.name);
            points.push(point(kit, args, &url, *rate)?);
        }
        if let Some(running) = &running {
            results
                .rss
                .entry((peer.proxy, 1))
                .or_default()
                .update(running);
        }
        results.latency.insert(peer.proxy, points);
    }
    Ok(())
}

/// `repeats` open-loop runs at `rate` (after a short one to warm up); medians.
fn point(kit: &Kit, args: &Args, url: &str, rate: u32) -> anyhow::Result<Latency> {
    let oha = kit.tool(&OHA)?;
    load::oha(oha, args.load_core, url, rate, 1)?;
    let mut runs = Vec::new();
    for _ in 0..args.repeats {
        runs.push(load::oha(oha, args.load_core, url, rate, args.seconds)?);
    }
    Ok(Latency {
        rate,
        p50: median(runs.iter().map(|r| r.p50_ms).collect()),
        p99: median(runs.iter().map(|r| r.p99_ms).collect()),
        p999: median(runs.iter().map(|r| r.p999_ms).collect()),
        failed: runs.iter().map(|r| r.failed).sum(),
    })
}
