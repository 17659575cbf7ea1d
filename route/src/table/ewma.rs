//! `load-balance: ewma`: each endpoint's response time as a moving average that decays with
//! time (ingress-nginx's 10 s decay), weighted by its requests in flight; of two endpoints
//! picked at random the lower score wins ("power of two choices", as Finagle's and Envoy's
//! peak-EWMA balancers). Nothing locks: a lost update under a race only blurs the average.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How fast an observation fades: after this long it weighs 1/e.
const DECAY_NANOS: f64 = 10e9;

/// The load state of every endpoint of one set, made on the first ewma pick.
#[derive(Debug)]
pub(super) struct EndpointLoads {
    /// What the stamps count from.
    epoch: Instant,
    loads: Box<[Load]>,
}

#[derive(Debug, Default)]
struct Load {
    /// The moving average in nanoseconds, as `f64` bits.
    latency: AtomicU64,
    /// When it was last updated, in nanoseconds since the epoch.
    stamp: AtomicU64,
    in_flight: AtomicU32,
}

impl EndpointLoads {
    pub(super) fn new(endpoints: usize, now: Instant) -> Self {
        EndpointLoads {
            epoch: now,
            loads: (0..endpoints).map(|_| Load::default()).collect(),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The lower-scored of the endpoints at `a` and `b`.
    pub(super) fn better(&self, a: usize, b: usize, now: Instant) -> usize {
        let now = self.nanos(now);
        if self.score(b, now) < self.score(a, now) {
            b
        } else {
            a
        }
    }

    fn score(&self, index: usize, now: u64) -> f64 {
        let Some(load) = self.loads.get(index) else {
            return f64::INFINITY;
        };
        let average = f64::from_bits(load.latency.load(Ordering::Relaxed));
        let age = now.saturating_sub(load.stamp.load(Ordering::Relaxed)) as f64;
        let in_flight = f64::from(load.in_flight.load(Ordering::Relaxed));
        average * (-age / DECAY_NANOS).exp() * (in_flight + 1.0)
    }

    /// One more request in flight at `index`.
    pub(super) fn start(&self, index: usize) {
        if let Some(load) = self.loads.get(index) {
            load.in_flight.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The request at `index` ended without an answer to learn from.
    pub(super) fn cancel(&self, index: usize) {
        if let Some(load) = self.loads.get(index) {
            // Saturating: an end without its start (cannot happen) must not wrap around.
            let _ = load
                .in_flight
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    /// The request at `index` took `took`, observed at `now`.
    pub(super) fn finish(&self, index: usize, took: Duration, now: Instant) {
        self.cancel(index);
        let Some(load) = self.loads.get(index) else {
            return;
        };
        let now = self.nanos(now);
        let age = now.saturating_sub(load.stamp.swap(now, Ordering::Relaxed)) as f64;
        let weight = (-age / DECAY_NANOS).exp();
        let average = f64::from_bits(load.latency.load(Ordering::Relaxed));
        let sample = took.as_nanos() as f64;
        let updated = average * weight + sample * (1.0 - weight);
        load.latency.store(updated.to_bits(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slower_endpoint_loses_and_recovers_as_its_samples_fade() {
        let start = Instant::now();
        let loads = EndpointLoads::new(2, start);
        for step in 1..=5 {
            let at = start + Duration::from_millis(step * 100);
            loads.start(0);
            loads.finish(0, Duration::from_millis(200), at);
            loads.start(1);
            loads.finish(1, Duration::from_millis(5), at);
        }
        let soon = start + Duration::from_secs(1);
        assert_eq!(loads.better(0, 1, soon), 1);
        assert_eq!(loads.better(1, 0, soon), 1);
        // The fast one keeps answering; the slow one, left alone, fades until it is tried again.
        let later = start + Duration::from_secs(60);
        loads.start(1);
        loads.finish(1, Duration::from_millis(5), later);
        assert_eq!(loads.better(0, 1, later), 0);
    }

    #[test]
    fn requests_in_flight_weigh_on_the_score() {
        let start = Instant::now();
        let loads = EndpointLoads::new(2, start);
        let at = start + Duration::from_millis(10);
        for index in 0..2 {
            loads.start(index);
            loads.finish(index, Duration::from_millis(10), at);
        }
        for _ in 0..3 {
            loads.start(0);
        }
        assert_eq!(loads.better(0, 1, at), 1);
        for _ in 0..3 {
            loads.finish(0, Duration::from_millis(10), at);
        }
        assert_eq!(loads.better(0, 1, at), 0);
    }

    #[test]
    fn a_never_used_endpoint_scores_zero_and_is_tried() {
        let start = Instant::now();
        let loads = EndpointLoads::new(2, start);
        loads.start(0);
        loads.finish(
            0,
            Duration::from_millis(1),
            start + Duration::from_millis(1),
        );
        assert_eq!(loads.better(0, 1, start + Duration::from_millis(2)), 1);
    }
}
