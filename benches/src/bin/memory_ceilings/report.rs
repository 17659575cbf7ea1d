//! The Markdown report: how it was measured, one table per load, the configurations. Pure.

use std::fmt::Write;
use std::time::Duration;

use portcullis_benches::harness::peers::Proxy;

use crate::loads::{Measured, Row};
use crate::seen::thousands;

/// Everything the report says.
pub struct Report {
    /// A `--quick` run (not a measurement).
    pub quick: bool,
    /// CPU, cores, kernel, date.
    pub machine: String,
    /// The workspace's commit.
    pub commit: String,
    /// The last commit that changed Portcullis's serving code.
    pub proxy_commit: String,
    /// The open-files limit of the clients and the proxies.
    pub open_files: u64,
    /// Core of the proxy.
    pub proxy_core: usize,
    /// Core of the backend and the clients.
    pub load_core: usize,
    /// How long a load settles before its memory is read.
    pub settle: Duration,
    /// Peers that could not be measured, and why.
    pub missing: Vec<String>,
    /// Each load's rows.
    pub loads: Vec<Measured>,
    /// (file name, text) of the configurations that differ from side-by-side's.
    pub configs: Vec<(String, String)>,
}

/// The whole report.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "# Memory ceilings: Portcullis, nginx, HAProxy and Envoy under hostile loads\n"
    );
    if report.quick {
        let _ = writeln!(
            w,
            "**A `--quick` run (small loads): it checks the harness, it does not measure.**\n"
        );
    }
    let _ = writeln!(
        w,
        "Made by `cargo run --release -p portcullis-benches --bin memory-ceilings -- --out \
         benches/results` (`benches/src/bin/memory_ceilings/`). Measured: commit {} \
         (Portcullis's `proxy/`, `route/` and `portcullis/` last changed in {}). Machine: {}.\n",
        report.commit, report.proxy_commit, report.machine
    );
    let settle = report.settle.as_secs_f64();
    let _ = writeln!(
        w,
        "Method: each proxy is started fresh for each load, as side-by-side starts it \
         (`benches/src/harness/peers.rs`: one worker, pinned to core {proxy}, the same backend \
         and certificate), with the limits an ingress controller ships where they matter \
         (nginx as ingress-nginx configures it, HAProxy allowed 8,192 connections: see \
         Configurations). The backend (`demo-backend`, one thread) and the clients (this \
         program, one thread) share core {load}. Open-files limit {files} for the clients and \
         the proxies.\n\nResident memory is VmRSS from `/proc/PID/status`, summed over the \
         proxy's processes (nginx: master and worker): **baseline** 1 s after it first \
         answered; **under load** {settle} s after every connection was in place (stalled \
         HTTP/2: the highest sample over the stall); **peak** the higher of its VmHWM at the \
         end, summed over its processes (its whole life, start-up included), and the highest \
         VmRSS sampled every 250 ms during the load (VmHWM can lag behind); **after close** {settle} s \
         after the clients closed. **Per connection**: (under load − baseline) / \
         connections. MB = 10^6 bytes, KiB = 1,024 bytes.\n",
        proxy = report.proxy_core,
        load = report.load_core,
        files = thousands(report.open_files),
    );
    for missing in &report.missing {
        let _ = writeln!(w, "- Not measured: {missing}");
    }
    if !report.missing.is_empty() {
        let _ = writeln!(w);
    }
    for measured in &report.loads {
        load_section(w, measured);
    }
    let _ = writeln!(
        w,
        "## Configurations\n\nnginx's and HAProxy's as this benchmark runs them (certificate \
         paths as written); Envoy's and Portcullis's are side-by-side's, shown in \
         [side-by-side.md](side-by-side.md).\n"
    );
    for (name, text) in &report.configs {
        let _ = writeln!(w, "`{name}`:\n\n```\n{}\n```\n", text.trim_end());
    }
    out
}

/// One load: what the clients do, the table, Portcullis against nginx.
fn load_section(w: &mut String, measured: &Measured) {
    let load = &measured.load;
    let _ = writeln!(w, "## {}\n\n{}\n", load.title, load.what);
    let _ = writeln!(
        w,
        "| proxy | version | baseline (MB) | under load (MB) | peak (MB) | after close (MB) | \
         per connection (KiB) | the clients saw |\n|---|---|---|---|---|---|---|---|"
    );
    for row in &measured.rows {
        let mut saw = row.observed.clone();
        if row.in_place < load.connections {
            let _ = write!(
                saw,
                " ({} of {} in place when memory was read)",
                thousands(row.in_place as u64),
                thousands(load.connections as u64)
            );
        }
        let mut proxy = row.proxy.name().to_string();
        if row.processes > 1 {
            let _ = write!(proxy, " ({} processes)", row.processes);
        }
        let _ = writeln!(
            w,
            "| {proxy} | {} | {} | {} | {} | {} | {} | {saw} |",
            short_version(&row.version),
            mb(row.baseline),
            mb(row.under_load),
            mb(row.peak),
            mb(row.after_close),
            kib(per_connection_kib(row, load.connections)),
        );
    }
    let find = |proxy| measured.rows.iter().find(|row| row.proxy == proxy);
    if let (Some(ours), Some(nginx)) = (find(Proxy::Portcullis), find(Proxy::Nginx)) {
        let ratio = |a: f64, b: f64| {
            if b > 0.0 {
                format!("{:.1}x", a / b)
            } else {
                "–".into()
            }
        };
        let _ = writeln!(
            w,
            "\nPortcullis / nginx: {} the memory under load, {} per connection.",
            ratio(ours.under_load as f64, nginx.under_load as f64),
            ratio(
                per_connection_kib(ours, load.connections),
                per_connection_kib(nginx, load.connections)
            ),
        );
    }
    let _ = writeln!(w);
}

/// (under load − baseline) / connections, KiB; 0 when memory went down.
pub fn per_connection_kib(row: &Row, connections: usize) -> f64 {
    row.under_load.saturating_sub(row.baseline) as f64 / connections.max(1) as f64 / 1024.0
}

/// KiB with one decimal under 100, else whole and with thousands separators.
fn kib(kib: f64) -> String {
    if kib < 100.0 {
        format!("{kib:.1}")
    } else {
        thousands(kib.round() as u64)
    }
}

/// Bytes as MB with one decimal.
fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

/// The version number in a version line ("nginx version: nginx/1.22.1" → "1.22.1"): the first
/// word after the last "version" that starts with digits, a dot and digits; else the line
/// (Portcullis's commit).
fn short_version(line: &str) -> &str {
    let after = line.rfind("version").map_or(line, |at| &line[at..]);
    after
        .split([' ', '/'])
        .find(|word| {
            let mut parts = word.split('.');
            let numeric = |part: Option<&str>| {
                part.is_some_and(|p| p.starts_with(|c: char| c.is_ascii_digit()))
            };
            numeric(parts.next()) && numeric(parts.next())
        })
        .unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1_clients::Script;
    use crate::loads::{Kind, Load};

    fn row(proxy: Proxy, version: &str, baseline: u64, under_load: u64) -> Row {
        Row {
            proxy,
            version: version.into(),
            processes: 1,
            baseline,
            under_load,
            peak: under_load + 1_000_000,
            after_close: baseline,
            in_place: 2_000,
            observed: "2,000 no answer, open".into(),
        }
    }

    #[test]
    fn large_per_connection_figures_are_whole_kib() {
        assert_eq!(kib(6.64), "6.6");
        assert_eq!(kib(402.2), "402");
        assert_eq!(kib(201_946.7), "201,947");
    }

    #[test]
    fn versions_are_shortened_to_their_number() {
        assert_eq!(short_version("nginx version: nginx/1.22.1"), "1.22.1");
        assert_eq!(
            short_version("HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/"),
            "2.6.12-1+deb12u4"
        );
        assert_eq!(
            short_version("/root/.pyenv/versions/3.11.7/bin/envoy  version: 9e55/1.40.0/Clean"),
            "1.40.0"
        );
        assert_eq!(short_version("c6b7c88"), "c6b7c88");
    }

    #[test]
    fn a_load_gets_a_row_per_proxy_and_the_ratio_to_nginx() {
        let mut short = row(Proxy::Envoy, "envoy 1.40.0", 70_000_000, 80_000_000);
        short.in_place = 1_990;
        let report = Report {
            quick: false,
            machine: "2026-12-02, 2 cores".into(),
            commit: "abc1234".into(),
            proxy_commit: "def5678".into(),
            open_files: 20_000,
            proxy_core: 0,
            load_core: 1,
            settle: Duration::from_secs(2),
            missing: vec!["HAProxy: `haproxy` not found".into()],
            loads: vec![Measured {
                load: Load {
                    title: "2. 2,000 stalled header writers".into(),
                    what: "They write.".into(),
                    connections: 2_000,
                    body: 0,
                    kind: Kind::H1(Script::Nothing),
                    patience: Duration::from_secs(1),
                    hold: Duration::from_secs(1),
                },
                rows: vec![
                    // 2,048,000 bytes more: 1 KiB per connection.
                    row(Proxy::Portcullis, "abc1234", 10_000_000, 12_048_000),
                    Row {
                        processes: 2,
                        ..row(
                            Proxy::Nginx,
                            "nginx version: nginx/1.22.1",
                            5_000_000,
                            6_024_000,
                        )
                    },
                    short,
                ],
            }],
            configs: vec![("nginx.conf".into(), "worker_processes 1;\n".into())],
        };
        let text = render(&report);
        assert!(text.contains("commit abc1234 (Portcullis's"), "{text}");
        assert!(text.contains("- Not measured: HAProxy"), "{text}");
        assert!(text.contains("## 2. 2,000 stalled header writers\n\nThey write.\n"));
        assert!(
            text.contains(
                "| Portcullis | abc1234 | 10.0 | 12.0 | 13.0 | 10.0 | 1.0 | 2,000 no answer, open |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| nginx (2 processes) | 1.22.1 | 5.0 | 6.0 | 7.0 | 5.0 | 0.5 |"),
            "{text}"
        );
        assert!(text.contains("(1,990 of 2,000 in place when memory was read)"));
        assert!(
            text.contains("Portcullis / nginx: 2.0x the memory under load, 2.0x per connection."),
            "{text}"
        );
        assert!(text.contains("`nginx.conf`:\n\n```\nworker_processes 1;\n```"));
        assert!(!text.contains("--quick"));
    }
}
