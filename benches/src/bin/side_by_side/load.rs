//! The load generators, run on the load core, and what their output says. Closed loop (as fast
//! as the proxy answers): `wrk` for HTTP/1.1 and HTTPS, `h2load` for HTTP/2. Open loop at a
//! fixed rate: `oha -q RATE --latency-correction`, which measures each request from when it
//! was due, not when it was sent, so a stalled proxy cannot hide its queue (coordinated
//! omission).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

/// A closed-loop run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Closed {
    /// Requests completed.
    pub requests: u64,
    /// Requests per second.
    pub rps: f64,
    /// Responses that were not 2xx, plus connection errors.
    pub failed: u64,
}

/// An open-loop run at a fixed rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Open {
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// 99.9th percentile, milliseconds.
    pub p999_ms: f64,
    /// Requests that got a response other than 2xx, or none.
    pub failed: u64,
}

/// `wrk` with `connections` keep-alive connections for `seconds`.
pub fn wrk(
    wrk: &Path,
    core: usize,
    url: &str,
    connections: u32,
    seconds: u32,
) -> anyhow::Result<Closed> {
    let text = run(
        wrk,
        core,
        &[
            "-t1".into(),
            format!("-c{connections}"),
            format!("-d{seconds}s"),
            url.into(),
        ],
    )?;
    parse_wrk(&text).with_context(|| format!("wrk said:\n{text}"))
}

/// `h2load` with 10 connections of 10 concurrent streams for `seconds`.
pub fn h2load(h2load: &Path, core: usize, url: &str, seconds: u32) -> anyhow::Result<Closed> {
    let text = run(
        h2load,
        core,
        &[
            "-c10".into(),
            "-m10".into(),
            "-t1".into(),
            format!("-D{seconds}"),
            url.into(),
        ],
    )?;
    parse_h2load(&text).with_context(|| format!("h2load said:\n{text}"))
}

/// `oha` at `rate` requests per second over 50 connections for `seconds`.
pub fn oha(oha: &Path, core: usize, url: &str, rate: u32, seconds: u32) -> anyhow::Result<Open> {
    let text = run(
        oha,
        core,
        &[
            "--no-tui".into(),
            "--output-format".into(),
            "json".into(),
            "--insecure".into(),
            "-c50".into(),
            format!("-q{rate}"),
            "--latency-correction".into(),
            format!("-z{seconds}s"),
            url.into(),
        ],
    )?;
    parse_oha(&text).with_context(|| format!("oha said:\n{text}"))
}

/// Runs a load generator pinned to `core`; its standard output.
fn run(program: &Path, core: usize, args: &[String]) -> anyhow::Result<String> {
    let out = Command::new("taskset")
        .arg("-c")
        .arg(core.to_string())
        .arg(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", program.display()))?;
    if !out.status.success() {
        bail!(
            "{} {args:?} failed: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

fn parse_wrk(text: &str) -> anyhow::Result<Closed> {
    let number_after = |label: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.trim_start().starts_with(label))?;
        line.trim_start()[label.len()..]
            .split_whitespace()
            .next()?
            .trim_end_matches(',')
            .parse()
            .ok()
    };
    let rps = number_after("Requests/sec:").context("no Requests/sec")?;
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .context("no request count")?;
    let non_2xx = number_after("Non-2xx or 3xx responses:").unwrap_or(0.0) as u64;
    let socket_errors: u64 = text
        .lines()
        .find(|l| l.trim_start().starts_with("Socket errors:"))
        .map(|l| {
            l.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Ok(Closed {
        requests,
        rps,
        failed: non_2xx + socket_errors,
    })
}

fn parse_h2load(text: &str) -> anyhow::Result<Closed> {
    let finished = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .context("no 'finished in' line")?;
    let rps: f64 = finished
        .split(',')
        .nth(1)
        .and_then(|part| part.split_whitespace().next()?.parse().ok())
        .context("no req/s")?;
    let counts = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .context("no requests line")?;
    let count = |label: &str| -> Option<u64> {
        counts
            .split(',')
            .find(|part| part.trim().ends_with(label))?
            .split_whitespace()
            .find_map(|w| w.parse().ok())
    };
    let done = count("done").context("no done count")?;
    let succeeded = count("succeeded").context("no succeeded count")?;
    let status = text.lines().find(|l| l.starts_with("status codes:"));
    let two_xx = status
        .and_then(|l| {
            l.split(',')
                .find(|p| p.contains("2xx"))?
                .split_whitespace()
                .find_map(|w| w.parse::<u64>().ok())
        })
        .unwrap_or(succeeded);
    Ok(Closed {
        requests: done,
        rps,
        failed: done.saturating_sub(two_xx),
    })
}

fn parse_oha(text: &str) -> anyhow::Result<Open> {
    let json: Value = serde_json::from_str(text).context("not JSON")?;
    let percentile = |key: &str| -> anyhow::Result<f64> {
        json["latencyPercentiles"][key]
            .as_f64()
            .map(|seconds| seconds * 1000.0)
            .with_context(|| format!("no latencyPercentiles.{key}"))
    };
    let statuses = json["statusCodeDistribution"]
        .as_object()
        .context("no statusCodeDistribution")?;
    let not_2xx: u64 = statuses
        .iter()
        .filter(|(code, _)| !code.starts_with('2'))
        .filter_map(|(_, n)| n.as_u64())
        .sum();
    // Requests still in flight when the run's time is up are cut by oha itself.
    let errors: u64 = json["errorDistribution"]
        .as_object()
        .map(|e| {
            e.iter()
                .filter(|(what, _)| what.as_str() != "aborted due to deadline")
                .filter_map(|(_, n)| n.as_u64())
                .sum()
        })
        .unwrap_or(0);
    Ok(Open {
        p50_ms: percentile("p50")?,
        p99_ms: percentile("p99")?,
        p999_ms: percentile("p99.9")?,
        failed: not_2xx + errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_read() {
        let text = "Running 5s test @ http://127.0.0.1:19210/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   707.25us  100.00us   5.00ms   90.00%
    Req/Sec    71.46k     2.17k   75.45k    80.00%
  355632 requests in 5.00s, 42.73MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:  71118.42
Transfer/sec:      8.54MB
";
        assert_eq!(
            parse_wrk(text).unwrap(),
            Closed {
                requests: 355_632,
                rps: 71_118.42,
                failed: 8
            }
        );
        assert!(parse_wrk("nothing").is_err());
    }

    #[test]
    fn h2load_output_is_read() {
        let text = "starting benchmark...
finished in 5.00s, 61234.20 req/s, 2.10MB/s
requests: 306171 total, 306271 started, 306171 done, 306160 succeeded, 11 failed, 0 errored, 0 timeout
status codes: 306160 2xx, 0 3xx, 11 4xx, 0 5xx
";
        assert_eq!(
            parse_h2load(text).unwrap(),
            Closed {
                requests: 306_171,
                rps: 61_234.2,
                failed: 11
            }
        );
    }

    #[test]
    fn oha_json_is_read() {
        let text = r#"{"summary": {"successRate": 1.0, "requestsPerSec": 999.5},
            "latencyPercentiles": {"p50": 0.0005, "p99": 0.002, "p99.9": 0.0101},
            "statusCodeDistribution": {"200": 9990, "502": 3},
            "errorDistribution": {"connection closed": 2, "aborted due to deadline": 40}}"#;
        let open = parse_oha(text).unwrap();
        assert!((open.p50_ms - 0.5).abs() < 1e-9 && (open.p999_ms - 10.1).abs() < 1e-9);
        assert_eq!(open.failed, 5);
    }
}
