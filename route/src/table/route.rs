//! A compiled route: its filters in a form the proxy applies without parsing, its action, and
//! the upstreams with their round-robin state and counters.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http::uri::Authority;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use regex::Regex;

use super::ewma::EndpointLoads;
use super::split::Split;
use crate::counters::RouteMetrics;
use crate::spec::{
    Affinity, BackendTls, Balance, CorsPolicy, HeaderEdits, NextUpstream, Origin, RedirectLocation,
    SourceRanges, UpstreamProtocol, UpstreamTimeouts,
};
use crate::sticky::endpoint_token;

/// What answers a matched request.
#[derive(Debug)]
pub struct Route {
    /// Whose rule this is; `None` for the built-in default.
    pub origin: Option<Origin>,
    /// Counters for the answers the proxy makes itself on this route (redirects, 413s);
    /// the same counters as the upstream's when they share an origin.
    pub metrics: Arc<RouteMetrics>,
    /// Plain-HTTP requests get a redirect to `https://` with this status.
    pub https_redirect: Option<StatusCode>,
    /// Bodies longer than this get 413.
    pub body_limit: Option<u64>,
    /// `None` when nothing is rewritten (the common case).
    pub rewrite: Option<Box<CompiledRewrite>>,
    /// Request header edits; empty when none.
    pub request_headers: CompiledHeaderEdits,
    /// Response header edits; empty when none.
    pub response_headers: CompiledHeaderEdits,
    /// CORS, decided per request by [`crate::access::cors`].
    pub cors: Option<Box<CorsPolicy>>,
    /// Client address ranges, checked by [`crate::access::source_allowed`].
    pub source_ranges: Option<Box<SourceRanges>>,
    /// Where errors are answered from instead.
    pub error_pages: Option<Box<CompiledErrorPages>>,
    /// Forward or redirect.
    pub action: RouteAction,
}

/// The last step of a route.
#[derive(Debug)]
pub enum RouteAction {
    /// Send to a backend of the split.
    Forward {
        /// The backends by weight.
        split: Split,
        /// Override the proxy's upstream timeouts.
        timeouts: UpstreamTimeouts,
        /// Sticky sessions by cookie.
        affinity: Option<Box<Affinity>>,
        /// How the backends are spoken to.
        protocol: UpstreamProtocol,
        /// How an endpoint is chosen.
        balance: Balance,
        /// When the next endpoint is tried.
        next_upstream: NextUpstream,
        /// Backends getting copies of the requests.
        mirrors: Box<[CompiledMirror]>,
    },
    /// Answer with a redirect.
    Redirect(CompiledRedirect),
}

/// [`crate::spec::Mirror`], compiled.
#[derive(Debug)]
pub struct CompiledMirror {
    /// Where the copies go.
    pub upstream: Arc<Upstream>,
    /// `numerator` out of `denominator` requests are copied.
    pub numerator: u32,
    /// Never 0.
    pub denominator: u32,
    /// Requests seen, to pick exactly `numerator` of each `denominator`.
    pub seen: AtomicU64,
}

/// [`crate::spec::ErrorPages`], compiled.
#[derive(Debug)]
pub struct CompiledErrorPages {
    /// Upstream statuses answered by the error backend.
    pub codes: Box<[u16]>,
    /// No ready endpoint: answered by the error backend.
    pub when_unavailable: bool,
    /// The error backend.
    pub upstream: Arc<Upstream>,
}

/// A redirect ready to answer.
#[derive(Debug)]
pub struct CompiledRedirect {
    /// The status.
    pub status: StatusCode,
    /// Where to; built per request by [`crate::rewrite::redirect_location`].
    pub location: RedirectLocation,
    /// The compiled path rewrite of a rebuilt location, if any.
    pub path: Option<CompiledPathRewrite>,
}

/// The rewrite of a route, compiled.
#[derive(Debug)]
pub struct CompiledRewrite {
    /// The `Host` sent upstream instead of the request's.
    pub host: Option<HeaderValue>,
    /// How the path is rewritten.
    pub path: Option<CompiledPathRewrite>,
}

/// A path rewrite, compiled (see [`crate::spec::PathRewrite`]).
#[derive(Debug)]
pub enum CompiledPathRewrite {
    /// Replace the whole path.
    Full(Box<str>),
    /// Replace the matched prefix.
    ReplacePrefix {
        /// The canonical prefix the rule matched.
        prefix: Box<str>,
        /// What takes its place.
        with: Box<str>,
    },
    /// Replace the whole path by the template when the pattern matches.
    Regex {
        /// Anchored at the start.
        regex: Regex,
        /// With `$1`..`$9`.
        replacement: Box<str>,
    },
}

/// Header edits with names and values already validated.
#[derive(Debug, Default)]
pub struct CompiledHeaderEdits {
    set: Box<[(HeaderName, HeaderValue)]>,
    add: Box<[(HeaderName, HeaderValue)]>,
    remove: Box<[HeaderName]>,
}

impl CompiledHeaderEdits {
    pub(super) fn new(edits: &HeaderEdits) -> Self {
        CompiledHeaderEdits {
            set: edits.set.clone().into_boxed_slice(),
            add: edits.add.clone().into_boxed_slice(),
            remove: edits.remove.clone().into_boxed_slice(),
        }
    }

    /// True when there is nothing to do.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }

    /// Removes, then sets, then adds.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            headers.insert(name, value.clone());
        }
        for (name, value) in &self.add {
            headers.append(name, value.clone());
        }
    }
}

/// One backend, compiled: where its requests go and whose counters they count into.
#[derive(Debug)]
pub struct Upstream {
    /// The Ingress and Service this backend came from; `None` for the built-in default.
    pub origin: Option<Origin>,
    /// Where the request goes.
    pub target: RouteTarget,
    /// Request counters shared by every table that holds this backend's origin.
    pub metrics: Arc<RouteMetrics>,
    /// Verified TLS to the endpoints (BackendTLSPolicy), whatever the route's protocol says.
    pub tls: Option<Arc<BackendTls>>,
    /// This backend's own header edits (request, response), after the route's.
    pub headers: Option<Box<(CompiledHeaderEdits, CompiledHeaderEdits)>>,
}

/// Where a backend's requests go, with the state load balancing needs.
#[derive(Debug)]
#[non_exhaustive]
pub enum RouteTarget {
    /// Ready endpoints, picked round robin. Empty means 503.
    Endpoints(EndpointSet),
    /// A misconfigured backend: 503, with the reason in the log.
    Unavailable(Box<str>),
    /// An invalid backend reference: 500, with the reason in the log.
    Invalid(Box<str>),
    /// The built-in default backend: 404.
    NotFound,
}

/// Ready endpoints of one backend, the round-robin cursor over them, and (once a route
/// balances by ewma) their load.
#[derive(Debug)]
pub struct EndpointSet {
    endpoints: Box<[Endpoint]>,
    next: AtomicUsize,
    loads: OnceLock<EndpointLoads>,
}

/// A request counted as in flight at one endpoint for `load-balance: ewma`; dropping it
/// without [`InFlight::finish`] only stops counting it.
#[derive(Debug)]
pub struct InFlight<'s> {
    loads: &'s EndpointLoads,
    index: usize,
    done: bool,
}

impl InFlight<'_> {
    /// The request got its answer after `took`.
    pub fn finish(mut self, took: Duration, now: Instant) {
        self.done = true;
        self.loads.finish(self.index, took, now);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.loads.cancel(self.index);
        }
    }
}

/// One upstream address, with its URI authority built once at compile time instead of per
/// request.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Where to connect.
    pub address: SocketAddr,
    /// `ip:port` as a URI authority, for the upstream request URI.
    pub authority: Authority,
    /// What names it in an affinity cookie ([`crate::sticky`]).
    pub token: u64,
}

impl Route {
    /// The only upstream, when the route forwards to exactly one (tests, the plain case).
    pub fn single_upstream(&self) -> Option<&Arc<Upstream>> {
        match &self.action {
            RouteAction::Forward { split, .. } => {
                let mut all = split.upstreams();
                let first = all.next()?;
                all.next().is_none().then_some(first)
            }
            RouteAction::Redirect(_) => None,
        }
    }
}

impl EndpointSet {
    /// Builds a set from addresses; the cursor starts at the first.
    pub fn new(addresses: &[SocketAddr]) -> Self {
        EndpointSet::of(None, addresses)
    }

    /// Builds the set of backend `origin` (whose identity goes into each endpoint's token).
    pub fn of(origin: Option<&Origin>, addresses: &[SocketAddr]) -> Self {
        let mut text = String::with_capacity(48);
        let endpoints = addresses
            .iter()
            .filter_map(|address| {
                text.clear();
                // Writing to a String cannot fail.
                let _ = write!(text, "{address}");
                // An ip:port always renders as a valid authority; filter_map only to avoid a panic path.
                let authority = Authority::try_from(text.as_str()).ok()?;
                Some(Endpoint {
                    address: *address,
                    authority,
                    token: endpoint_token(origin, address),
                })
            })
            .collect();
        EndpointSet {
            endpoints,
            next: AtomicUsize::new(0),
            loads: OnceLock::new(),
        }
    }

    /// How many endpoints there are.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// True when no endpoint is ready.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Every endpoint once, starting at the next one in round-robin order: try the first,
    /// and on a connect failure the next.
    #[inline]
    pub fn round_robin(&self) -> impl Iterator<Item = &Endpoint> + '_ {
        self.starting_at(self.next_start())
    }

    /// Where the next round-robin attempt starts (moves the cursor).
    #[inline]
    pub fn next_start(&self) -> usize {
        match self.endpoints.len() {
            0 => 0,
            len => self.next.fetch_add(1, Ordering::Relaxed) % len,
        }
    }

    /// The endpoint for hash `key` by rendezvous hashing: the highest score of key and
    /// endpoint token wins, so an endpoint leaving moves only the keys it had.
    pub fn for_hash(&self, key: u64) -> Option<usize> {
        self.endpoints
            .iter()
            .enumerate()
            .max_by_key(|(_, endpoint)| mix(key ^ endpoint.token))
            .map(|(index, _)| index)
    }

    /// The less loaded of two endpoints picked at random (`load-balance: ewma`).
    pub fn least_loaded(&self, now: Instant) -> usize {
        let len = self.endpoints.len();
        if len < 2 {
            return 0;
        }
        let random = mix(self.next.fetch_add(1, Ordering::Relaxed) as u64);
        // Both values are below `len`, a usize, so the casts back cannot truncate.
        let first = (random % len as u64) as usize;
        let second = (first + 1 + ((random >> 32) % (len as u64 - 1)) as usize) % len;
        self.loads(now).better(first, second, now)
    }

    /// Counts a request to the endpoint at `index` as in flight until it is finished.
    pub fn track(&self, index: usize, now: Instant) -> InFlight<'_> {
        let loads = self.loads(now);
        loads.start(index);
        InFlight {
            loads,
            index,
            done: false,
        }
    }

    fn loads(&self, now: Instant) -> &EndpointLoads {
        self.loads
            .get_or_init(|| EndpointLoads::new(self.endpoints.len(), now))
    }

    /// The index of the endpoint with this token.
    pub fn position(&self, token: u64) -> Option<usize> {
        self.endpoints.iter().position(|e| e.token == token)
    }

    /// Every endpoint once, starting at `index` (a sticky endpoint, then the others to retry
    /// on), without moving the round-robin cursor.
    pub fn starting_at(&self, index: usize) -> impl Iterator<Item = &Endpoint> + '_ {
        let len = self.endpoints.len();
        (0..len).map(move |offset| &self.endpoints[(index + offset) % len])
    }
}

/// A 64-bit finalizer (splitmix64's), so close keys and tokens score far apart.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
