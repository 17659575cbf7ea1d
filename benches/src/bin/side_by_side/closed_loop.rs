//! The closed-loop points: each peer as fast as it answers in every scenario it takes, grouped
//! so the backend (body size) and the proxies (routes, filters) restart rarely; requests/s, the
//! proxy's CPU per request, and its memory after the runs (plain routes only).

use crate::Args;
use crate::kit::Kit;
use crate::load;
use crate::peers::Peer;
use crate::results::{Results, Throughput, median};
use crate::running::Running;
use crate::scenarios::{Protocol, SCENARIOS, Scenario, routing};
use crate::tools::{H2LOAD, WRK};

/// Measures every scenario for each of `peers` (in order, direct first) into `results`.
pub fn measure(
    kit: &Kit,
    args: &Args,
    peers: &[&Peer],
    results: &mut Results,
) -> anyhow::Result<()> {
    let mut bodies: Vec<usize> = SCENARIOS.iter().map(|s| s.body).collect();
    bodies.dedup();
    for body in bodies {
        // Runs until the end of this body size's scenarios.
        let _backend = kit.start_backend(args.load_core, body)?;
        let mut routings: Vec<(usize, bool)> = SCENARIOS
            .iter()
            .filter(|s| s.body == body)
            .map(routing)
            .collect();
        routings.dedup();
        for (routes, filters) in routings {
            let scenarios: Vec<(usize, &Scenario)> = SCENARIOS
                .iter()
                .enumerate()
                .filter(|(_, s)| s.body == body && routing(s) == (routes, filters))
                .collect();
            for peer in peers {
                let running = peer.start(kit, args.proxy_core, routes, filters)?;
                for (index, scenario) in &scenarios {
                    if !peer.serves(scenario.protocol) {
                        continue;
                    }
                    eprintln!("{} / {}", peer.name, scenario.name);
                    let point = point(kit, args, running.as_ref(), peer, scenario)?;
                    results.throughput.insert((*index, peer.proxy), point);
                }
                // The memory table is by route count; the filtered route's is not in it.
                if let (Some(running), false) = (&running, filters) {
                    results
                        .rss
                        .entry((peer.proxy, routes))
                        .or_default()
                        .update(running);
                }
            }
        }
    }
    Ok(())
}

/// Warm-up, then `repeats` closed-loop runs; medians. CPU only with a proxy `running`.
fn point(
    kit: &Kit,
    args: &Args,
    running: Option<&Running>,
    peer: &Peer,
    scenario: &Scenario,
) -> anyhow::Result<Throughput> {
    let url = peer.url(scenario.protocol, scenario.routes, scenario.filters)?;
    let (wrk, h2load) = (kit.tool(&WRK)?, kit.tool(&H2LOAD)?);
    let go = |seconds: u32| match scenario.protocol {
        Protocol::H2 => load::h2load(h2load, args.load_core, &url, seconds),
        _ => load::wrk(wrk, args.load_core, &url, 50, seconds),
    };
    go(args.seconds.min(2))?;
    let (mut rps, mut cpu, mut failed) = (Vec::new(), Vec::new(), 0);
    for _ in 0..args.repeats {
        let before = running.map(Running::cpu_seconds);
        let run = go(args.seconds)?;
        if let (Some(before), Some(running)) = (before, running) {
            let used = running.cpu_seconds() - before;
            cpu.push(used / run.requests.max(1) as f64 * 1e6);
        }
        rps.push(run.rps);
        failed += run.failed;
    }
    Ok(Throughput {
        rps: median(rps),
        cpu_us: (!cpu.is_empty()).then(|| median(cpu)),
        failed,
    })
}
