//! Prometheus metrics kept in atomics, so recording on the request path never takes a lock.
//!
//! Per-route counters are interned by their labels when a table is compiled: a route that
//! survives a table rebuild keeps counting into the same counters. A route no table holds any
//! more keeps its series for [`RETIRED_SERIES_GRACE`] (so a scrape sees its last value), then
//! the series is dropped.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use portcullis_route::counters::{CounterSource, Histogram, RouteMetrics};
use portcullis_route::spec::Origin;

use crate::certificates::CertificateExpiry;

/// How long the series of a route that no table holds any more are still exported: long enough
/// for a scrape at the usual 15 to 30 s interval to see their last values, short enough that a
/// deleted Ingress's series are gone within a minute.
pub const RETIRED_SERIES_GRACE: Duration = Duration::from_secs(30);

/// Every metric the proxy and controller export, rendered by [`Metrics::render`].
#[derive(Debug, Default)]
pub struct Metrics {
    routes: Mutex<HashMap<Origin, InternedRoute>>,
    /// The built-in default backend's counters.
    default_route: Arc<RouteMetrics>,
    /// Routing table rebuilds and their cost.
    pub table: TableMetrics,
    /// Downstream connections and upstream failures.
    pub proxy: ProxyMetrics,
    /// TLS handshakes and certificate expiry.
    pub tls: TlsMetrics,
}

/// Why a TLS handshake failed, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeFailure {
    /// The client sent an alert, e.g. it does not trust the certificate.
    AlertReceived,
    /// The client closed or reset the connection mid-handshake.
    Eof,
    /// Not TLS at all (plain HTTP to the HTTPS port, a scanner).
    InvalidMessage,
    /// No protocol version, cipher suite or ALPN protocol in common.
    PeerIncompatible,
    /// The client broke the protocol.
    PeerMisbehaved,
    /// The handshake did not finish in time.
    Timeout,
    /// Anything else.
    Other,
}

impl HandshakeFailure {
    const ALL: [HandshakeFailure; 7] = [
        HandshakeFailure::AlertReceived,
        HandshakeFailure::Eof,
        HandshakeFailure::InvalidMessage,
        HandshakeFailure::PeerIncompatible,
        HandshakeFailure::PeerMisbehaved,
        HandshakeFailure::Timeout,
        HandshakeFailure::Other,
    ];

    /// The `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            HandshakeFailure::AlertReceived => "alert_received",
            HandshakeFailure::Eof => "eof",
            HandshakeFailure::InvalidMessage => "invalid_message",
            HandshakeFailure::PeerIncompatible => "peer_incompatible",
            HandshakeFailure::PeerMisbehaved => "peer_misbehaved",
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::Other => "other",
        }
    }
}

/// TLS counters and the expiry of every certificate in use.
#[derive(Debug, Default)]
pub struct TlsMetrics {
    /// Handshakes completed.
    pub handshakes: AtomicU64,
    failures: [AtomicU64; 7],
    expiries: Mutex<Vec<CertificateExpiry>>,
}

impl TlsMetrics {
    /// Counts one failed handshake.
    pub fn fail(&self, reason: HandshakeFailure) {
        let index = HandshakeFailure::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(HandshakeFailure::ALL.len() - 1);
        self.failures[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Failed handshakes counted for one reason.
    pub fn failures(&self, reason: HandshakeFailure) -> u64 {
        HandshakeFailure::ALL
            .iter()
            .position(|r| *r == reason)
            .map_or(0, |index| self.failures[index].load(Ordering::Relaxed))
    }

    /// Replaces the certificates whose expiry is exported.
    pub fn set_expiries(&self, expiries: Vec<CertificateExpiry>) {
        *self.expiries.lock().unwrap_or_else(PoisonError::into_inner) = expiries;
    }
}

/// One route's counters as the registry holds them.
#[derive(Debug)]
struct InternedRoute {
    counters: Arc<RouteMetrics>,
    /// When a sweep first found no table holding the counters; `None` while one does.
    unused_since: Option<Instant>,
}

/// Routing table rebuilds: how many, how long, how big.
#[derive(Debug, Default)]
pub struct TableMetrics {
    /// Tables published.
    pub rebuilds: AtomicU64,
    /// Time from a change to the published table, translation and compilation included.
    pub rebuild_duration: Histogram,
    /// Virtual hosts in the live table.
    pub hosts: AtomicU64,
    /// Path rules in the live table.
    pub paths: AtomicU64,
    /// Objects (Ingresses, Services, ...) reported as invalid in the last rebuild.
    pub invalid_objects: AtomicU64,
    /// Unix time, in seconds, of the last publish.
    pub last_rebuild_unix_seconds: AtomicU64,
}

/// Connection-level counters of the proxy.
#[derive(Debug, Default)]
pub struct ProxyMetrics {
    /// Downstream connections accepted.
    pub connections_accepted: AtomicU64,
    /// Downstream connections open now.
    pub connections_open: AtomicU64,
    /// Mirror copies not sent (too many in flight, a TLS mirror backend, no endpoint).
    pub mirrors_skipped: AtomicU64,
    /// Connections closed because their peer may not send a PROXY protocol header.
    pub proxy_protocol_refused: AtomicU64,
    /// Connections closed because their PROXY protocol header was malformed, too long or late.
    pub proxy_protocol_failures: AtomicU64,
    /// Upstream connect attempts that failed (each retry counts).
    pub upstream_connect_failures: AtomicU64,
    /// Requests retried on another endpoint after a connect failure.
    pub upstream_retries: AtomicU64,
    /// Upstream requests that timed out (answered 504).
    pub upstream_timeouts: AtomicU64,
    /// Requests refused before routing: bad or repeated Host, unsafe path (answered 400).
    pub bad_requests: AtomicU64,
    /// Requests whose client body was malformed or stalled (answered 400 or 408).
    pub client_body_failures: AtomicU64,
    /// Upstream responses refused as malformed (answered 502).
    pub upstream_invalid_responses: AtomicU64,
    /// Client connections dropped because they took no response bytes for the send timeout.
    pub send_timeouts: AtomicU64,
}

impl Metrics {
    /// The counters of one route, shared by every table that holds that route.
    pub fn route(&self, origin: Option<&Origin>) -> Arc<RouteMetrics> {
        let Some(origin) = origin else {
            return Arc::clone(&self.default_route);
        };
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = routes.get_mut(origin) {
            existing.unused_since = None;
            return Arc::clone(&existing.counters);
        }
        let fresh = Arc::new(RouteMetrics::default());
        routes.insert(
            origin.clone(),
            InternedRoute {
                counters: Arc::clone(&fresh),
                unused_since: None,
            },
        );
        fresh
    }

    /// Drops the series of routes that no routing table has held for [`RETIRED_SERIES_GRACE`]
    /// and starts the clock for those just let go. Called after each publish and each scrape.
    pub fn sweep_routes(&self, now: Instant) {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        routes.retain(|_, route| {
            // Only the registry holds the counters: every table (and request) using them is gone.
            if Arc::strong_count(&route.counters) > 1 {
                route.unused_since = None;
                return true;
            }
            let since = *route.unused_since.get_or_insert(now);
            now.saturating_duration_since(since) < RETIRED_SERIES_GRACE
        });
    }

    /// Route series currently exported (the built-in default's not counted).
    pub fn route_series(&self) -> usize {
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The Prometheus text exposition format (version 0.0.4) of every metric.
    pub fn render(&self) -> String {
        self.sweep_routes(Instant::now());
        let mut out = String::with_capacity(4096);
        let routes: Vec<(Option<Origin>, Arc<RouteMetrics>)> = {
            let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
            let mut list: Vec<_> = routes
                .iter()
                .map(|(k, v)| (Some(k.clone()), Arc::clone(&v.counters)))
                .collect();
            list.sort_by(|a, b| a.0.cmp(&b.0));
            list.insert(0, (None, Arc::clone(&self.default_route)));
            list
        };

        header(
            &mut out,
            "portcullis_requests_total",
            "counter",
            "Responses sent, by ingress, service, service port and status class.",
        );
        for (origin, route) in &routes {
            let labels = route_labels(origin.as_ref());
            for class in 1..=5 {
                let value = route.responses(class);
                if value > 0 {
                    let _ = writeln!(
                        out,
                        "portcullis_requests_total{{{labels},status_class=\"{class}xx\"}} {value}"
                    );
                }
            }
        }
        header(
            &mut out,
            "portcullis_request_duration_seconds",
            "histogram",
            "Time from request received to response headers sent, by ingress, service and service port.",
        );
        for (origin, route) in &routes {
            render_histogram(
                &mut out,
                route.latency(),
                "portcullis_request_duration_seconds",
                &route_labels(origin.as_ref()),
            );
        }

        let table = &self.table;
        let counters: [(&str, &str, &str, &AtomicU64); 17] = [
            (
                "portcullis_table_rebuilds_total",
                "counter",
                "Routing tables published.",
                &table.rebuilds,
            ),
            (
                "portcullis_table_hosts",
                "gauge",
                "Virtual hosts in the live routing table.",
                &table.hosts,
            ),
            (
                "portcullis_table_paths",
                "gauge",
                "Path rules in the live routing table.",
                &table.paths,
            ),
            (
                "portcullis_table_invalid_objects",
                "gauge",
                "Objects reported invalid by the last rebuild (see the log).",
                &table.invalid_objects,
            ),
            (
                "portcullis_table_last_rebuild_timestamp_seconds",
                "gauge",
                "Unix time of the last routing table publish.",
                &table.last_rebuild_unix_seconds,
            ),
            (
                "portcullis_connections_accepted_total",
                "counter",
                "Downstream connections accepted.",
                &self.proxy.connections_accepted,
            ),
            (
                "portcullis_connections_open",
                "gauge",
                "Downstream connections open now.",
                &self.proxy.connections_open,
            ),
            (
                "portcullis_mirrors_skipped_total",
                "counter",
                "RequestMirror copies not sent: too many in flight, a TLS mirror backend, or no endpoint.",
                &self.proxy.mirrors_skipped,
            ),
            (
                "portcullis_proxy_protocol_refused_total",
                "counter",
                "Connections closed: the peer is not trusted to send a PROXY protocol header.",
                &self.proxy.proxy_protocol_refused,
            ),
            (
                "portcullis_proxy_protocol_failures_total",
                "counter",
                "Connections closed: a malformed, too long or late PROXY protocol header.",
                &self.proxy.proxy_protocol_failures,
            ),
            (
                "portcullis_upstream_connect_failures_total",
                "counter",
                "Failed upstream connect attempts.",
                &self.proxy.upstream_connect_failures,
            ),
            (
                "portcullis_upstream_retries_total",
                "counter",
                "Requests retried on another endpoint after a connect failure.",
                &self.proxy.upstream_retries,
            ),
            (
                "portcullis_upstream_timeouts_total",
                "counter",
                "Upstream requests that timed out.",
                &self.proxy.upstream_timeouts,
            ),
            (
                "portcullis_bad_requests_total",
                "counter",
                "Requests refused before routing (bad or repeated Host, unsafe path).",
                &self.proxy.bad_requests,
            ),
            (
                "portcullis_client_body_failures_total",
                "counter",
                "Requests whose client body was malformed or stalled.",
                &self.proxy.client_body_failures,
            ),
            (
                "portcullis_upstream_invalid_responses_total",
                "counter",
                "Upstream responses refused as malformed.",
                &self.proxy.upstream_invalid_responses,
            ),
            (
                "portcullis_send_timeouts_total",
                "counter",
                "Client connections dropped because they stopped reading.",
                &self.proxy.send_timeouts,
            ),
        ];
        for (name, kind, help, value) in counters {
            header(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        header(
            &mut out,
            "portcullis_table_rebuild_duration_seconds",
            "histogram",
            "Time to translate, compile and publish a routing table.",
        );
        render_histogram(
            &mut out,
            &table.rebuild_duration,
            "portcullis_table_rebuild_duration_seconds",
            "",
        );
        self.render_tls(&mut out);
        out
    }

    fn render_tls(&self, out: &mut String) {
        let tls = &self.tls;
        header(
            out,
            "portcullis_tls_handshakes_total",
            "counter",
            "TLS handshakes completed.",
        );
        let _ = writeln!(
            out,
            "portcullis_tls_handshakes_total {}",
            tls.handshakes.load(Ordering::Relaxed)
        );
        header(
            out,
            "portcullis_tls_handshake_failures_total",
            "counter",
            "TLS handshakes that failed, by reason.",
        );
        for reason in HandshakeFailure::ALL {
            let _ = writeln!(
                out,
                "portcullis_tls_handshake_failures_total{{reason=\"{}\"}} {}",
                reason.label(),
                tls.failures(reason)
            );
        }
        header(
            out,
            "portcullis_certificate_expiry_seconds",
            "gauge",
            "Seconds until the certificate of each TLS Secret in use expires (negative: expired).",
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let expiries = tls.expiries.lock().unwrap_or_else(PoisonError::into_inner);
        for expiry in expiries.iter() {
            let _ = writeln!(
                out,
                "portcullis_certificate_expiry_seconds{{secret=\"{}\"}} {}",
                escape(&expiry.secret),
                expiry.not_after - now
            );
        }
    }
}

impl CounterSource for Metrics {
    fn route_counters(&self, origin: Option<&Origin>) -> Arc<RouteMetrics> {
        self.route(origin)
    }
}

/// One histogram in the exposition format: cumulative buckets, `+Inf`, sum and count.
fn render_histogram(out: &mut String, histogram: &Histogram, name: &str, labels: &str) {
    let separator = if labels.is_empty() { "" } else { "," };
    for (bound, cumulative) in histogram.cumulative() {
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{separator}le=\"{bound}\"}} {cumulative}"
        );
    }
    let count = histogram.count();
    let _ = writeln!(
        out,
        "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {count}"
    );
    let sum = histogram.sum_seconds();
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braces} {sum}");
    let _ = writeln!(out, "{name}_count{braces} {count}");
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn route_labels(origin: Option<&Origin>) -> String {
    match origin {
        Some(origin) => format!(
            "namespace=\"{}\",ingress=\"{}\",service=\"{}\",port=\"{}\"",
            escape(&origin.namespace),
            escape(&origin.ingress),
            escape(&origin.service),
            escape(&origin.port)
        ),
        None => "namespace=\"\",ingress=\"\",service=\"\",port=\"\"".to_string(),
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_counters_survive_reinterning_and_render() {
        let metrics = Metrics::default();
        let origin = Origin {
            namespace: "shop".into(),
            ingress: "store".into(),
            service: "wear".into(),
            port: "80".into(),
        };
        metrics
            .route(Some(&origin))
            .record(200, Duration::from_millis(3));
        metrics
            .route(Some(&origin))
            .record(503, Duration::from_millis(30));
        metrics.route(None).record(404, Duration::from_micros(10));
        let text = metrics.render();
        assert!(text.contains(
            "portcullis_requests_total{namespace=\"shop\",ingress=\"store\",service=\"wear\",port=\"80\",status_class=\"2xx\"} 1"
        ));
        assert!(text.contains(
            "portcullis_requests_total{namespace=\"shop\",ingress=\"store\",service=\"wear\",port=\"80\",status_class=\"5xx\"} 1"
        ));
        assert!(text.contains(
            "portcullis_requests_total{namespace=\"\",ingress=\"\",service=\"\",port=\"\",status_class=\"4xx\"} 1"
        ));
        assert!(text.contains("portcullis_request_duration_seconds_bucket{namespace=\"shop\",ingress=\"store\",service=\"wear\",port=\"80\",le=\"0.005\"} 1"));
        assert!(text.contains("portcullis_request_duration_seconds_bucket{namespace=\"shop\",ingress=\"store\",service=\"wear\",port=\"80\",le=\"+Inf\"} 2"));
        assert!(text.contains("portcullis_table_rebuild_duration_seconds_count 0"));
    }

    fn origin(port: &str) -> Origin {
        Origin {
            namespace: "shop".into(),
            ingress: "store".into(),
            service: "wear".into(),
            port: port.into(),
        }
    }

    #[test]
    fn one_service_on_two_ports_exports_two_distinct_series() {
        let metrics = Metrics::default();
        let http = metrics.route(Some(&origin("80")));
        let admin = metrics.route(Some(&origin("admin")));
        http.record(200, Duration::from_millis(1));
        admin.record(200, Duration::from_millis(1));
        let text = metrics.render();
        let series: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("portcullis_requests_total{"))
            .map(|line| line.rsplit_once(' ').map_or(line, |(name, _)| name))
            .collect();
        let mut unique = series.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(series.len(), unique.len(), "duplicate series in:\n{text}");
        assert!(
            text.contains("port=\"80\",status_class=\"2xx\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("port=\"admin\",status_class=\"2xx\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn series_of_a_route_no_table_holds_are_dropped_after_the_grace() {
        let metrics = Metrics::default();
        let kept = metrics.route(Some(&origin("80")));
        let gone = metrics.route(Some(&origin("81")));
        gone.record(200, Duration::from_millis(1));
        drop(gone);
        let start = Instant::now();
        metrics.sweep_routes(start);
        assert_eq!(metrics.route_series(), 2, "kept through the grace");
        metrics.sweep_routes(start + RETIRED_SERIES_GRACE - Duration::from_millis(1));
        assert_eq!(metrics.route_series(), 2, "still within the grace");
        metrics.sweep_routes(start + RETIRED_SERIES_GRACE);
        assert_eq!(metrics.route_series(), 1, "dropped after the grace");
        assert!(!metrics.render().contains("port=\"81\""));
        // The route still held keeps its series however long it lives.
        metrics.sweep_routes(start + RETIRED_SERIES_GRACE * 10);
        assert_eq!(metrics.route_series(), 1);
        drop(kept);
    }

    #[test]
    fn a_route_taken_up_again_within_the_grace_keeps_its_counts() {
        let metrics = Metrics::default();
        let first = metrics.route(Some(&origin("80")));
        first.record(200, Duration::from_millis(1));
        drop(first);
        let start = Instant::now();
        metrics.sweep_routes(start);
        let again = metrics.route(Some(&origin("80")));
        metrics.sweep_routes(start + RETIRED_SERIES_GRACE * 2);
        assert_eq!(again.responses(2), 1);
        assert_eq!(metrics.route_series(), 1);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
