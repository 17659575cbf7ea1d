//! Everything measured, as the report and the charts read it.

use std::collections::BTreeMap;

use crate::churn::Churn;
use crate::peers::Proxy;
use crate::running::Running;

/// A closed-loop point: medians over the repeats.
#[derive(Debug, Clone)]
pub struct Throughput {
    /// Requests per second.
    pub rps: f64,
    /// Proxy CPU per request, microseconds (`None` for direct).
    pub cpu_us: Option<f64>,
    /// Failed requests over all repeats.
    pub failed: u64,
}

/// An open-loop point: medians over the repeats.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// The rate, requests/s.
    pub rate: u32,
    /// Percentiles, ms.
    pub p50: f64,
    /// 99th.
    pub p99: f64,
    /// 99.9th.
    pub p999: f64,
    /// Failed requests over all repeats.
    pub failed: u64,
}

/// A proxy's resident memory, bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// After the runs, while still serving.
    pub serving: u64,
    /// The high-water mark.
    pub peak: u64,
}

impl Memory {
    /// Takes in what `running` holds now.
    pub fn update(&mut self, running: &Running) {
        self.serving = self.serving.max(running.rss());
        self.peak = self.peak.max(running.peak_rss());
    }
}

/// Everything measured.
#[derive(Debug, Default)]
pub struct Results {
    /// (scenario index, proxy) → throughput.
    pub throughput: BTreeMap<(usize, Proxy), Throughput>,
    /// (proxy, routes) → resident memory in bytes after its runs, and its peak (VmHWM,
    /// start-up included).
    pub rss: BTreeMap<(Proxy, usize), Memory>,
    /// proxy → latency at each rate.
    pub latency: BTreeMap<Proxy, Vec<Latency>>,
    /// Portcullis under route churn.
    pub churn: Option<Churn>,
    /// Proxies that could not be measured, and why.
    pub missing: Vec<String>,
    /// Tool → version line.
    pub versions: BTreeMap<String, String>,
}

/// The median of `values` (the upper one of an even count; NaN for none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
