//! The Markdown report: how it was measured, every figure, the targets, the configurations.

use std::fmt::Write;

use crate::peers::{PEERS, Proxy, proxies};
use crate::results::Results;
use crate::scenarios::{FILTERED, PLAIN, SCENARIOS};

/// How the run was made, for the report's method section.
pub struct Method {
    /// Seconds per measured run.
    pub seconds: u32,
    /// Runs per point.
    pub repeats: usize,
    /// Core of the proxy.
    pub proxy_core: usize,
    /// Core of the backend and load generators.
    pub load_core: usize,
    /// CPU, cores, kernel, date.
    pub machine: String,
    /// (name, text) of each proxy's 1-route configuration.
    pub configs: Vec<(String, String)>,
    /// (title, file name) of each chart.
    pub charts: Vec<(String, String)>,
    /// A `--quick` run (not a measurement).
    pub quick: bool,
}

/// A table row: `| a | b |`.
fn row(cells: impl IntoIterator<Item = String>) -> String {
    let cells: Vec<String> = cells.into_iter().collect();
    format!("| {} |", cells.join(" | "))
}

/// A table's header and rule for `columns`.
fn header(columns: impl IntoIterator<Item = String>) -> String {
    let columns: Vec<String> = columns.into_iter().collect();
    format!(
        "{}\n|{}",
        row(columns.iter().cloned()),
        "---|".repeat(columns.len())
    )
}

/// The cells of a row: `first`, one per peer in `each`, then `tail`.
fn cells(
    first: &str,
    each: impl IntoIterator<Item = String>,
    tail: &[String],
) -> impl Iterator<Item = String> {
    std::iter::once(first.to_string())
        .chain(each)
        .chain(tail.iter().cloned())
}

/// The whole report.
pub fn render(results: &Results, method: &Method) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Side by side: Portcullis, nginx, HAProxy and Envoy\n");
    if method.quick {
        let _ = writeln!(
            w,
            "**A `--quick` run (1 run of 2 s per point): it checks the harness, it does not \
             measure.**\n"
        );
    }
    let _ = writeln!(
        w,
        "Made by `cargo run --release -p portcullis-benches --bin side-by-side` \
         (`benches/src/bin/side_by_side/`). Machine: {}.\n",
        method.machine
    );
    let _ = writeln!(w, "Versions:");
    for (tool, version) in &results.versions {
        let _ = writeln!(w, "- {tool}: {version}");
    }
    let _ = writeln!(
        w,
        "\nMethod: each proxy runs alone, pinned to core {proxy} with one worker (nginx \
         `worker_processes 1`, HAProxy `nbthread 1`, Envoy `--concurrency 1`, Portcullis \
         `TOKIO_WORKER_THREADS=1`), access logs off, keep-alive to the backend pooled \
         (nginx `keepalive` upstream, HAProxy `http-reuse always`, Envoy's and Portcullis's \
         pools). The backend (`demo-backend`, one thread) and the load generators share core \
         {load}. Every point: a warm-up run, then {repeats} run(s) of {seconds} s; tables give \
         medians. Closed loop: `wrk -t1 -c50` (HTTP/1.1, HTTPS with TLS 1.3), `h2load -c10 -m10` \
         (HTTP/2 over TLS by ALPN). Open loop: `oha -c50 -q RATE --latency-correction`, rates \
         at 25/50/75% of the slowest proxy's maximum, the same for all. CPU per request: the \
         proxy's user + system time (all its processes, from /proc) over the requests of the \
         run. Peak RSS: VmHWM summed over its processes. Same ECDSA P-256 certificate for all. \
         With 10,000 routes (prefixes `/r0/` … `/r9999/`) requests go to `/r5000/x`. \
         \"Rewrite + header + canary\": one route, the case-insensitive regex `/app(/|$)(.*)`, \
         which requests reach as `/app/x`; it rewrites the path to `/$2` (the backend sees \
         `/x`), sets `X-Forwarded-Prefix: /app` and sends 10% of requests to a second upstream \
         group at the backend's address (nginx `rewrite`, `split_clients` on `$request_id` \
         over two `upstream`s; HAProxy `replace-path`, `set-header`, `rand(100)` choosing \
         between two backends; Envoy `regex_rewrite`, `request_headers_to_add`, \
         `weighted_clusters`; Portcullis ingress-nginx's `rewrite-target`, \
         `x-forwarded-prefix` and a `canary-weight` Ingress, whose two Services share one \
         keep-alive pool as Portcullis pools per endpoint).\n",
        proxy = method.proxy_core,
        load = method.load_core,
        repeats = method.repeats,
        seconds = method.seconds,
    );
    if !results.missing.is_empty() {
        let _ = writeln!(w, "Not measured:");
        for missing in &results.missing {
            let _ = writeln!(w, "- {missing}");
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(w, "## Maximum requests/s (closed loop)\n");
    let _ = writeln!(
        w,
        "{}",
        header(cells(
            "scenario",
            PEERS.iter().map(|peer| peer.name.to_string()),
            &["Portcullis / nginx".into(), "failed".into()]
        ))
    );
    for (index, scenario) in SCENARIOS.iter().enumerate() {
        let figures = PEERS.iter().map(|peer| {
            rps(results, index, peer.proxy).map_or("–".to_string(), |rps| format!("{rps:.0}"))
        });
        let failed: u64 = results
            .throughput
            .iter()
            .filter(|((i, _), _)| *i == index)
            .map(|(_, t)| t.failed)
            .sum();
        let tail = [
            ratio(
                rps(results, index, Proxy::Portcullis),
                rps(results, index, Proxy::Nginx),
            ),
            failed.to_string(),
        ];
        let _ = writeln!(w, "{}", row(cells(scenario.name, figures, &tail)));
    }

    let _ = writeln!(w, "\n## Proxy CPU per request (µs, lower is better)\n");
    let _ = writeln!(
        w,
        "{}",
        header(cells(
            "scenario",
            proxies().map(|peer| peer.name.to_string()),
            &["Portcullis / nginx".into(), "Portcullis / HAProxy".into()]
        ))
    );
    for (index, scenario) in SCENARIOS.iter().enumerate() {
        let figures = proxies().map(|peer| {
            cpu(results, index, peer.proxy).map_or("–".into(), |c| format!("{c:.1}"))
        });
        let tail = [
            ratio(
                cpu(results, index, Proxy::Portcullis),
                cpu(results, index, Proxy::Nginx),
            ),
            ratio(
                cpu(results, index, Proxy::Portcullis),
                cpu(results, index, Proxy::Haproxy),
            ),
        ];
        let _ = writeln!(w, "{}", row(cells(scenario.name, figures, &tail)));
    }

    filters_cost(w, results);

    let _ = writeln!(
        w,
        "\n## Resident memory (MB)\n\n\"Serving\": VmRSS after the runs, still running; \"peak\": \
         VmHWM, which includes start-up (reading and compiling the configuration).\n"
    );
    let _ = writeln!(
        w,
        "| proxy | 1 route, serving | 1 route, peak | 10,000 routes, serving | 10,000 routes, peak |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|");
    for peer in proxies() {
        let mb = |routes, peak: bool| {
            results
                .rss
                .get(&(peer.proxy, routes))
                .map_or("–".into(), |m| {
                    let bytes = if peak { m.peak } else { m.serving };
                    format!("{:.1}", bytes as f64 / 1e6)
                })
        };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} |",
            peer.name,
            mb(1, false),
            mb(1, true),
            mb(10_000, false),
            mb(10_000, true)
        );
    }

    let _ = writeln!(
        w,
        "\n## Latency at fixed rates (HTTP/1.1, 0 B, 1 route; ms)\n\n\"Added p99\" is the \
         proxy's p99 minus the direct p99 at the same rate.\n"
    );
    let _ = writeln!(
        w,
        "| proxy | rate (req/s) | p50 | p99 | p99.9 | added p99 | failed |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|");
    for (proxy, points) in &results.latency {
        for point in points {
            let added =
                added_p99(results, *proxy, point.rate).map_or("–".into(), |a| format!("{a:.3}"));
            let _ = writeln!(
                w,
                "| {} | {} | {:.3} | {:.3} | {:.3} | {added} | {} |",
                proxy.name(),
                point.rate,
                point.p50,
                point.p99,
                point.p999,
                point.failed
            );
        }
    }

    if let Some(churn) = &results.churn {
        let percentile = |p: f64| {
            let values = &churn.live_ms;
            values
                .get(((values.len() as f64 - 1.0) * p).round() as usize)
                .map_or("–".into(), |v| format!("{v:.1}"))
        };
        let _ = writeln!(
            w,
            "\n## Route churn under load (Portcullis)\n\n{} Ingress changes in {} s (10/s, each \
             a new path to a second backend, written into the `--manifests` folder) while \
             `wrk -c50` ran on `/`: **{} of {} requests failed**. Change to route live: median \
             {} ms, p99 {} ms, max {} ms; {} never went live within 2 s.",
            churn.changes,
            churn.seconds,
            churn.load.failed,
            churn.load.requests,
            percentile(0.5),
            percentile(0.99),
            percentile(1.0),
            churn.never_live
        );
    }

    let _ = writeln!(w, "\n## Against the targets\n");
    let _ = writeln!(w, "| target | measured | met |");
    let _ = writeln!(w, "|---|---|---|");
    let h1 = PLAIN;
    for (what, value, limit, lower_is_better) in [
        (
            "CPU per request ≤ 0.8x nginx's (HTTP/1.1, 0 B)",
            quotient(
                cpu(results, h1, Proxy::Portcullis),
                cpu(results, h1, Proxy::Nginx),
            ),
            0.8,
            true,
        ),
        (
            "CPU per request ≤ HAProxy's (HTTP/1.1, 0 B)",
            quotient(
                cpu(results, h1, Proxy::Portcullis),
                cpu(results, h1, Proxy::Haproxy),
            ),
            1.0,
            true,
        ),
        (
            "CPU per request with rewrite + header + canary ≤ 1.1x the plain route's (Portcullis)",
            quotient(
                cpu(results, FILTERED, Proxy::Portcullis),
                cpu(results, h1, Proxy::Portcullis),
            ),
            1.1,
            true,
        ),
        (
            "HTTPS keep-alive requests/s ≥ 0.8x plaintext (Portcullis)",
            quotient(
                rps(results, 1, Proxy::Portcullis),
                rps(results, 0, Proxy::Portcullis),
            ),
            0.8,
            false,
        ),
        (
            "HTTP/2 requests/s ≥ 1.2x nginx's",
            quotient(
                rps(results, 2, Proxy::Portcullis),
                rps(results, 2, Proxy::Nginx),
            ),
            1.2,
            false,
        ),
    ] {
        let (shown, met) = match value {
            Some(v) => {
                let met = if lower_is_better {
                    v <= limit
                } else {
                    v >= limit
                };
                (format!("{v:.2}x"), if met { "yes" } else { "**no**" })
            }
            None => ("–".into(), "–"),
        };
        let _ = writeln!(w, "| {what} | {shown} | {met} |");
    }
    // Added p99 is a difference, and nginx's can be nil (or, by noise, below direct's): the
    // figures themselves, and met when Portcullis adds at most 0.8x what nginx adds (nothing,
    // if nginx adds nothing).
    let added = middle_rate(results).and_then(|rate| {
        Some((
            added_p99(results, Proxy::Portcullis, rate)?,
            added_p99(results, Proxy::Nginx, rate)?,
        ))
    });
    let _ = writeln!(
        w,
        "| added p99 at 50% load ≤ 0.8x nginx's | {} | {} |",
        added.map_or("–".into(), |(ours, theirs)| format!(
            "Portcullis {ours:+.3} ms, nginx {theirs:+.3} ms"
        )),
        added.map_or("–", |(ours, theirs)| if ours <= 0.8 * theirs.max(0.0) {
            "yes"
        } else {
            "**no**"
        })
    );
    let rss = results.rss.get(&(Proxy::Portcullis, 10_000));
    let _ = writeln!(
        w,
        "| RSS at 10,000 routes < 50 MB (serving) | {} | {} |",
        rss.map_or("–".into(), |m| format!(
            "{:.1} MB serving, {:.1} MB peak at start-up",
            m.serving as f64 / 1e6,
            m.peak as f64 / 1e6
        )),
        rss.map_or("–", |m| if (m.serving as f64) < 50e6 {
            "yes"
        } else {
            "**no**"
        })
    );
    if let Some(churn) = &results.churn {
        let _ = writeln!(
            w,
            "| no failed request under 10 route changes/s | {} failed | {} |",
            churn.load.failed,
            if churn.load.failed == 0 {
                "yes"
            } else {
                "**no**"
            }
        );
    }

    if !method.charts.is_empty() {
        let _ = writeln!(w, "\n## Charts\n");
        for (title, file) in &method.charts {
            let _ = writeln!(w, "![{title}]({file})\n");
        }
    }
    let _ = writeln!(
        w,
        "\n## Configurations (1 route, then the filtered route; the 10,000-route ones repeat the \
         route line)\n"
    );
    for (name, text) in &method.configs {
        let _ = writeln!(
            w,
            "<details><summary>{name}</summary>\n\n```\n{text}```\n</details>\n"
        );
    }
    out
}

/// The "Filters cost" table: per proxy, CPU per request on the filtered route over the plain
/// route's.
fn filters_cost(w: &mut String, results: &Results) {
    let (plain, filtered) = (SCENARIOS[PLAIN].name, SCENARIOS[FILTERED].name);
    let _ = writeln!(
        w,
        "\n## Filters cost\n\nProxy CPU per request on \"{filtered}\" over \"{plain}\": what \
         the rewrite, the header and the canary split cost on top of routing.\n"
    );
    let _ = writeln!(
        w,
        "| proxy | {plain} (µs) | {filtered} (µs) | filtered / plain |"
    );
    let _ = writeln!(w, "|---|---|---|---|");
    for peer in proxies() {
        let figure = |index| cpu(results, index, peer.proxy);
        let shown = |value: Option<f64>| value.map_or("–".into(), |c| format!("{c:.1}"));
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} |",
            peer.name,
            shown(figure(PLAIN)),
            shown(figure(FILTERED)),
            ratio(figure(FILTERED), figure(PLAIN))
        );
    }
}

fn rps(results: &Results, index: usize, proxy: Proxy) -> Option<f64> {
    results.throughput.get(&(index, proxy)).map(|t| t.rps)
}

fn cpu(results: &Results, index: usize, proxy: Proxy) -> Option<f64> {
    results
        .throughput
        .get(&(index, proxy))
        .and_then(|t| t.cpu_us)
}

/// The proxy's p99 minus direct's at `rate`.
fn added_p99(results: &Results, proxy: Proxy, rate: u32) -> Option<f64> {
    let at = |p: Proxy| {
        results
            .latency
            .get(&p)?
            .iter()
            .find(|point| point.rate == rate)
            .map(|point| point.p99)
    };
    Some(at(proxy)? - at(Proxy::Direct)?)
}

/// The 50% rate.
fn middle_rate(results: &Results) -> Option<u32> {
    results.latency.values().next()?.get(1).map(|p| p.rate)
}

fn quotient(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    quotient(a, b).map_or("–".into(), |r| format!("{r:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Throughput;

    #[test]
    fn filters_cost_divides_the_filtered_cpu_by_the_plain() {
        let mut results = Results::default();
        for (index, cpu_us) in [(PLAIN, 20.0), (FILTERED, 22.0)] {
            results.throughput.insert(
                (index, Proxy::Portcullis),
                Throughput {
                    rps: 1.0,
                    cpu_us: Some(cpu_us),
                    failed: 0,
                },
            );
        }
        let mut text = String::new();
        filters_cost(&mut text, &results);
        assert!(
            text.contains("| Portcullis | 20.0 | 22.0 | 1.10 |"),
            "{text}"
        );
        assert!(text.contains("| nginx | – | – | – |"), "{text}");
    }
}
