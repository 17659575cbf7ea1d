//! Per-route request counters, kept in atomics so the request path never takes a lock.
//!
//! A compiled route holds its counters; where they come from is the caller's choice
//! ([`CounterSource`]): the proxy's metrics registry interns them by [`Origin`], so a route that
//! survives a table rebuild keeps counting into the same counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::spec::Origin;

/// Upper bounds, in seconds, of the latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Gives each compiled route its counters: the seam between the pure table and whoever exports
/// the numbers.
pub trait CounterSource {
    /// The counters for the route of this origin (`None`: the built-in default backend).
    fn route_counters(&self, origin: Option<&Origin>) -> Arc<RouteMetrics>;
}

impl<T: CounterSource + ?Sized> CounterSource for Arc<T> {
    fn route_counters(&self, origin: Option<&Origin>) -> Arc<RouteMetrics> {
        (**self).route_counters(origin)
    }
}

/// Fresh counters for every route, shared by nobody: for tables whose numbers nobody reads
/// (benchmarks, tests of the lookup).
#[derive(Debug, Default, Clone, Copy)]
pub struct Unshared;

impl CounterSource for Unshared {
    fn route_counters(&self, _origin: Option<&Origin>) -> Arc<RouteMetrics> {
        Arc::new(RouteMetrics::default())
    }
}

/// Request counters and latency of one (ingress, service, port) triple.
#[derive(Debug, Default)]
pub struct RouteMetrics {
    /// Responses by status class: index 0 is 1xx, ..., index 4 is 5xx.
    responses: [AtomicU64; 5],
    latency: Histogram,
}

impl RouteMetrics {
    /// Counts one response with this status and how long it took.
    #[inline]
    pub fn record(&self, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        self.latency.observe(elapsed);
    }

    /// Responses counted in one status class (1 to 5).
    pub fn responses(&self, class: u16) -> u64 {
        let index = usize::from(class).clamp(1, 5) - 1;
        self.responses[index].load(Ordering::Relaxed)
    }

    /// Time from request received to response headers sent.
    pub fn latency(&self) -> &Histogram {
        &self.latency
    }
}

/// A cumulative histogram with fixed latency buckets ([`LATENCY_BUCKETS`]).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Counts one observation.
    #[inline]
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(index) = LATENCY_BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[index].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Sum of all observations, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }

    /// Each bucket's upper bound with the observations at or below it (cumulative).
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut total = 0;
        LATENCY_BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(move |(bound, bucket)| {
                total += bucket.load(Ordering::Relaxed);
                (*bound, total)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(100));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(60));
        let buckets: Vec<(f64, u64)> = histogram.cumulative().collect();
        assert_eq!(buckets[0], (0.0005, 1));
        assert_eq!(buckets[3], (0.005, 2));
        assert_eq!(buckets.last(), Some(&(10.0, 2)), "60 s is only in +Inf");
        assert_eq!(histogram.count(), 3);
        assert!((histogram.sum_seconds() - 60.0031).abs() < 1e-9);
    }

    #[test]
    fn status_classes_are_clamped() {
        let route = RouteMetrics::default();
        route.record(99, Duration::ZERO);
        route.record(200, Duration::ZERO);
        route.record(700, Duration::ZERO);
        assert_eq!(
            (route.responses(1), route.responses(2), route.responses(5)),
            (1, 1, 1)
        );
    }
}
