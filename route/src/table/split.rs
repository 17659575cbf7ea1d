//! A weighted choice between backends, without a lock or a random number generator: request
//! `n` takes slot `n * K mod total` (K a prime above any total), which visits every slot once
//! per `total` requests, so the shares are exact over each round and interleaved within it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::route::Upstream;

/// A prime larger than any weight total (totals are capped below it).
const STRIDE: u64 = 2_654_435_761;

/// Backends with their cumulative weights.
#[derive(Debug)]
pub struct Split {
    /// (cumulative weight up to and including this backend, backend); weight-0 backends are
    /// left out.
    upstreams: Box<[(u64, Arc<Upstream>)]>,
    total: u64,
    next: AtomicU64,
}

impl Split {
    /// A split over `(weight, upstream)` pairs; totals above 2^31 are scaled down.
    pub fn new(weighted: Vec<(u32, Arc<Upstream>)>) -> Self {
        let sum: u64 = weighted.iter().map(|(w, _)| u64::from(*w)).sum();
        let scale = sum.div_ceil(1 << 31).max(1);
        let mut cumulative = 0;
        let upstreams = weighted
            .into_iter()
            .filter_map(|(weight, upstream)| {
                let weight = (u64::from(weight) / scale).max(u64::from(weight > 0));
                (weight > 0).then(|| {
                    cumulative += weight;
                    (cumulative, upstream)
                })
            })
            .collect();
        Split {
            upstreams,
            total: cumulative,
            next: AtomicU64::new(0),
        }
    }

    /// The backend for the next request; `None` when every weight is 0.
    #[inline]
    pub fn choose(&self) -> Option<&Arc<Upstream>> {
        match &*self.upstreams {
            [] => None,
            [(_, only)] => Some(only),
            upstreams => {
                let n = self.next.fetch_add(1, Ordering::Relaxed);
                let slot = n.wrapping_mul(STRIDE) % self.total;
                upstreams
                    .iter()
                    .find(|(cumulative, _)| slot < *cumulative)
                    .map(|(_, upstream)| upstream)
            }
        }
    }

    /// The backend, and the index in it, of the endpoint with this affinity token.
    pub fn find_token(&self, token: u64) -> Option<(&Arc<Upstream>, usize)> {
        self.upstreams
            .iter()
            .find_map(|(_, upstream)| match &upstream.target {
                super::route::RouteTarget::Endpoints(set) => {
                    set.position(token).map(|index| (upstream, index))
                }
                _ => None,
            })
    }

    /// Every backend that gets requests, in order.
    pub fn upstreams(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        self.upstreams.iter().map(|(_, upstream)| upstream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::RouteMetrics;
    use crate::table::route::RouteTarget;

    fn upstream(name: &str) -> Arc<Upstream> {
        Arc::new(Upstream {
            origin: Some(crate::spec::Origin {
                namespace: "ns".into(),
                ingress: "i".into(),
                service: name.into(),
                port: "80".into(),
            }),
            target: RouteTarget::NotFound,
            metrics: Arc::new(RouteMetrics::default()),
            tls: None,
            headers: None,
        })
    }

    fn shares(split: &Split, requests: usize) -> Vec<(String, usize)> {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for _ in 0..requests {
            let chosen = split.choose().expect("a backend");
            let name = chosen.origin.as_ref().expect("origin").service.to_string();
            match counts.iter_mut().find(|(n, _)| *n == name) {
                Some((_, count)) => *count += 1,
                None => counts.push((name, 1)),
            }
        }
        counts.sort();
        counts
    }

    #[test]
    fn shares_are_exact_over_each_round() {
        let split = Split::new(vec![(90, upstream("main")), (10, upstream("canary"))]);
        assert_eq!(
            shares(&split, 1000),
            [("canary".to_owned(), 100), ("main".to_owned(), 900)]
        );
        let split = Split::new(vec![
            (1, upstream("a")),
            (0, upstream("b")),
            (2, upstream("c")),
        ]);
        assert_eq!(
            shares(&split, 30),
            [("a".to_owned(), 10), ("c".to_owned(), 20)]
        );
    }

    #[test]
    fn small_shares_are_spread_not_bunched() {
        let split = Split::new(vec![(1, upstream("canary")), (9, upstream("main"))]);
        let picks: Vec<bool> = (0..10)
            .map(|_| {
                split
                    .choose()
                    .and_then(|u| u.origin.as_ref())
                    .expect("origin")
                    .service
                    .as_ref()
                    == "canary"
            })
            .collect();
        assert_eq!(picks.iter().filter(|c| **c).count(), 1);
    }

    #[test]
    fn all_zero_is_none_and_huge_weights_scale() {
        assert!(Split::new(vec![(0, upstream("a"))]).choose().is_none());
        let split = Split::new(vec![(u32::MAX, upstream("a")), (u32::MAX, upstream("b"))]);
        let counts = shares(&split, 1000);
        assert!(
            counts.iter().all(|(_, n)| (450..=550).contains(n)),
            "{counts:?}"
        );
    }
}
