//! What answers a matched request: filters in a fixed order, then one action. Both front ends
//! (Ingress with its annotations, Gateway API routes) translate into this; the proxy knows only
//! this.
//!
//! The proxy applies them in nginx's order: the body limit (on a declared length; a longer
//! streamed body is cut at the limit), the action if it is a redirect, the plain-HTTP-to-HTTPS
//! redirect, the rewrite (path, then host), request header edits, the forward to a backend
//! chosen by weight, and response header edits.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use super::{Backend, Origin};

/// The behaviour of one rule (or a host's or the table's default).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    /// Whose rule this is, for the counters of answers the proxy makes itself (redirects,
    /// 413s); forwarded requests count on their backend's origin.
    pub origin: Option<Origin>,
    /// Plain-HTTP requests get a redirect to `https://` with this status (308 for
    /// `ssl-redirect`).
    pub https_redirect: Option<u16>,
    /// Request bodies longer than this many bytes get 413.
    pub body_limit: Option<u64>,
    /// What is rewritten before the request goes upstream.
    pub rewrite: Rewrite,
    /// Request header edits, after the proxy's own forwarding headers.
    pub request_headers: HeaderEdits,
    /// Response header edits, on the upstream's answer.
    pub response_headers: HeaderEdits,
    /// Cross-origin requests: preflights answered here, CORS headers added to answers.
    /// Boxed, as the other rarely set parts: a route is held once per path.
    pub cors: Option<Box<CorsPolicy>>,
    /// Which client addresses may use the route (403 for others).
    pub source_ranges: Option<Box<SourceRanges>>,
    /// Where errors are answered from instead.
    pub error_pages: Option<Box<ErrorPages>>,
    /// Forward or redirect.
    pub action: Action,
}

/// ingress-nginx's `custom-http-errors` and `default-backend`: which answers go to another
/// backend, which gets the request with `X-Code`, `X-Format`, `X-Original-URI`,
/// `X-Namespace`, `X-Ingress-Name`, `X-Service-Name`, `X-Service-Port` and `X-Request-ID`
/// and answers in its place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorPages {
    /// Upstream statuses answered by `backend` instead (sent to it as path `/`).
    pub codes: Vec<u16>,
    /// A route whose backend has no ready endpoint is answered by `backend` (with its
    /// original path, `X-Code: 503`) instead of 503.
    pub when_unavailable: bool,
    /// The error backend.
    pub backend: Arc<Backend>,
}

/// A CORS policy as ingress-nginx's `enable-cors` and `cors-*` annotations give it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CorsPolicy {
    /// Which origins are allowed.
    pub origins: CorsOrigins,
    /// `Access-Control-Allow-Methods`.
    pub allow_methods: HeaderValue,
    /// `Access-Control-Allow-Headers`.
    pub allow_headers: HeaderValue,
    /// `Access-Control-Expose-Headers`, when set.
    pub expose_headers: Option<HeaderValue>,
    /// Sends `Access-Control-Allow-Credentials: true`.
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age`, seconds.
    pub max_age: u64,
}

/// The origins a CORS policy allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CorsOrigins {
    /// `*`: every request gets CORS headers with `Access-Control-Allow-Origin: *`.
    Any,
    /// These origins, lower case: `scheme://host[:port]`, where the host may start with `*.`
    /// for exactly one label.
    List(Vec<String>),
}

/// Client address ranges: a denied address gets 403; with an allow list, so does every
/// address outside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SourceRanges {
    /// Addresses that may (when empty: every address not denied).
    pub allow: Vec<ipnet::IpNet>,
    /// Addresses that may not, whatever `allow` says.
    pub deny: Vec<ipnet::IpNet>,
}

/// The last step of a route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send the request to one of the backends.
    Forward(Forward),
    /// Answer with a redirect.
    Redirect(Redirect),
}

/// Backends by weight, and how long to wait for them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Forward {
    /// Each request goes to one backend, chosen in proportion to the weights; weights of 0
    /// get nothing, and all 0 answers 503.
    pub backends: Vec<WeightedBackend>,
    /// How long each step with an upstream may take; `None`s are the proxy's flags.
    pub timeouts: UpstreamTimeouts,
    /// Sticky sessions: a cookie names the endpoint that served the client first.
    pub affinity: Option<Box<Affinity>>,
    /// How the backends are spoken to.
    pub protocol: UpstreamProtocol,
    /// How an endpoint is chosen (after affinity).
    pub balance: Balance,
    /// When the next endpoint is tried instead.
    pub next_upstream: NextUpstream,
    /// Copies of each request sent to other backends, answers ignored (Gateway API's
    /// RequestMirror).
    pub mirrors: Box<[Mirror]>,
}

/// A backend that gets a copy of (a share of) a route's requests; its answers are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mirror {
    /// Where the copies go.
    pub backend: Arc<Backend>,
    /// The share mirrored: `numerator` out of `denominator` requests (1/1 is all).
    pub numerator: u32,
    /// See `numerator`; never 0.
    pub denominator: u32,
}

/// A route's own upstream timeouts (ingress-nginx's `proxy-connect-timeout`,
/// `proxy-send-timeout`, `proxy-read-timeout`); each `None` is the proxy's flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UpstreamTimeouts {
    /// How long a TCP connect to one endpoint may take before the next is tried.
    pub connect: Option<Duration>,
    /// How long the upstream may take no request body bytes (between two writes).
    pub send: Option<Duration>,
    /// How long to wait for the response head once the request is sent.
    pub response: Option<Duration>,
    /// How long the whole exchange may take, from the request's arrival to the response
    /// head, across every endpoint tried (Gateway API's `timeouts.request`); 504 after it.
    pub total: Option<Duration>,
}

/// When a request goes to the next endpoint (nginx's `proxy_next_upstream`): only while its
/// body can be sent again (never sent, or empty), and once it reached an upstream only for
/// idempotent methods unless `non_idempotent`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NextUpstream {
    /// After a connect failure or a broken exchange.
    pub error: bool,
    /// After the response timeout.
    pub timeout: bool,
    /// After one of these statuses (the last endpoint's answer is returned as is).
    pub statuses: Vec<u16>,
    /// POST, PATCH and the like too.
    pub non_idempotent: bool,
    /// At most this many endpoints in all; 0 for every endpoint.
    pub tries: u32,
    /// No next endpoint once this long has passed since the first attempt (nginx's
    /// `proxy_next_upstream_timeout`); `None` for no limit.
    pub within: Option<Duration>,
}

impl Default for NextUpstream {
    /// ingress-nginx's default: `error timeout`, at most 3 endpoints.
    fn default() -> Self {
        NextUpstream {
            error: true,
            timeout: true,
            statuses: Vec::new(),
            non_idempotent: false,
            tries: 3,
            within: None,
        }
    }
}

/// How an endpoint of a backend is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Balance {
    /// In turn.
    #[default]
    RoundRobin,
    /// By a hash of these request parts, consistently: the same key goes to the same endpoint
    /// while it is ready, and an endpoint leaving moves only its own keys (ingress-nginx's
    /// `upstream-hash-by`).
    Hash(Vec<HashPart>),
    /// Of two endpoints picked at random, the one with the lower decayed response time
    /// weighted by its requests in flight (ingress-nginx's `load-balance: ewma`).
    Ewma,
}

/// One part of a hash key: text, or a request value (the nginx variables `upstream-hash-by`
/// is written with, as typed values: nothing is evaluated).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HashPart {
    /// Literal text.
    Text(String),
    /// `$request_uri`: path and query as sent.
    RequestUri,
    /// `$uri`: the path.
    Uri,
    /// `$remote_addr`: the client address.
    RemoteAddr,
    /// `$host`.
    Host,
    /// `$http_NAME`: a request header.
    Header(HeaderName),
    /// `$cookie_NAME`.
    Cookie(String),
    /// `$arg_NAME`: a query parameter.
    Arg(String),
}

/// How requests are sent to a backend (ingress-nginx's `backend-protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UpstreamProtocol {
    /// HTTP/1.1 over TCP.
    #[default]
    Http,
    /// HTTP/1.1 over TLS.
    Https,
    /// HTTP/2 with prior knowledge over TCP.
    H2c,
    /// gRPC: HTTP/2 with prior knowledge over TCP, `TE: trailers` kept.
    Grpc,
    /// gRPC over TLS (HTTP/2 by ALPN).
    Grpcs,
}

impl UpstreamProtocol {
    /// Over TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, UpstreamProtocol::Https | UpstreamProtocol::Grpcs)
    }

    /// The same protocol over TLS (a backend whose TLS is verified): HTTP/1.1 becomes HTTPS,
    /// HTTP/2 and gRPC become gRPC over TLS (HTTP/2 by ALPN).
    pub fn over_tls(self) -> Self {
        match self {
            UpstreamProtocol::Http | UpstreamProtocol::Https => UpstreamProtocol::Https,
            _ => UpstreamProtocol::Grpcs,
        }
    }

    /// Over HTTP/2.
    pub fn is_h2(self) -> bool {
        matches!(
            self,
            UpstreamProtocol::H2c | UpstreamProtocol::Grpc | UpstreamProtocol::Grpcs
        )
    }

    /// gRPC.
    pub fn is_grpc(self) -> bool {
        matches!(self, UpstreamProtocol::Grpc | UpstreamProtocol::Grpcs)
    }
}

/// Cookie affinity as ingress-nginx's `affinity: cookie` and `session-cookie-*` give it. The
/// cookie names an endpoint by a stable token (its Service and address), so it keeps working
/// across table rebuilds and replicas while that endpoint stays ready; when it goes, another
/// is chosen and the cookie set again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Affinity {
    /// Cookie name (`INGRESSCOOKIE` by default).
    pub cookie: String,
    /// `Path=`.
    pub path: String,
    /// `Max-Age=` in seconds.
    pub max_age: Option<u64>,
    /// `Expires=` this many seconds after the cookie is set.
    pub expires: Option<u64>,
    /// `SameSite=` as written (`None`, `Lax`, `Strict`).
    pub same_site: Option<String>,
    /// `Secure`: always (`Some(true)`), never (`Some(false)`), or on HTTPS requests (`None`).
    pub secure: Option<bool>,
    /// `Domain=`.
    pub domain: Option<String>,
}

/// One backend of a split.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WeightedBackend {
    /// Relative share of requests.
    pub weight: u32,
    /// Shared: rules naming the same backend share its round-robin cursor.
    pub backend: Arc<Backend>,
}

/// A redirect answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Redirect {
    /// 301, 302, 303, 307 or 308.
    pub status: u16,
    /// Where to.
    pub location: RedirectLocation,
}

/// Where a redirect points.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RedirectLocation {
    /// This URL or path, as written (ingress-nginx's `permanent-redirect`, `app-root`).
    Fixed(String),
    /// The request's URL with some parts replaced (HTTPS redirects, Gateway API's
    /// RequestRedirect).
    Rebuilt {
        /// `http` or `https`; `None` keeps the request's.
        scheme: Option<String>,
        /// `None` keeps the request's host.
        host: Option<String>,
        /// Which port the location names.
        port: RedirectPort,
        /// `None` keeps the request's path.
        path: Option<PathRewrite>,
        /// Whether the request's query is kept (ingress-nginx's `app-root` drops it).
        keep_query: bool,
    },
}

/// The port of a rebuilt redirect location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedirectPort {
    /// The port the request named in its host, if any.
    Keep,
    /// None: the scheme's default port.
    SchemeDefault,
    /// This port (left out when it is the scheme's default).
    Number(u16),
}

/// What of the request is rewritten before it goes upstream.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Rewrite {
    /// The `Host` sent upstream instead of the request's (ingress-nginx `upstream-vhost`).
    pub host: Option<String>,
    /// The path sent upstream.
    pub path: Option<PathRewrite>,
}

/// How a path is rewritten. The query string is kept, unless the new path brings its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathRewrite {
    /// Replace the whole path.
    Full(String),
    /// Replace the rule's matched prefix (Gateway API's ReplacePrefixMatch).
    ReplacePrefix {
        /// The prefix the rule matched.
        prefix: String,
        /// What takes its place.
        with: String,
    },
    /// When `pattern` matches from the start of the path, the path becomes `replacement`
    /// with `$1`..`$9` filled from the capture groups (ingress-nginx's `rewrite-target`, as
    /// nginx's `rewrite` does it); a replacement with a `?` brings its own query and the
    /// request's query is appended after it.
    Regex {
        /// The rule's path pattern.
        pattern: String,
        /// Letters match either case.
        case_insensitive: bool,
        /// The new path, with `$n` references.
        replacement: String,
    },
}

/// Header edits, applied as: remove, then set (replacing every value), then add.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct HeaderEdits {
    /// Replace every value of the header with this one.
    pub set: Vec<(HeaderName, HeaderValue)>,
    /// Append a value, keeping the others.
    pub add: Vec<(HeaderName, HeaderValue)>,
    /// Remove every value.
    pub remove: Vec<HeaderName>,
}

impl HeaderEdits {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }
}

impl RouteSpec {
    /// Forwards to one backend, no filters: what a plain Ingress path is.
    pub fn forward(backend: Arc<Backend>) -> Self {
        RouteSpec {
            origin: backend.origin.clone(),
            https_redirect: None,
            body_limit: None,
            rewrite: Rewrite::default(),
            request_headers: HeaderEdits::default(),
            response_headers: HeaderEdits::default(),
            cors: None,
            source_ranges: None,
            error_pages: None,
            action: Action::Forward(Forward {
                backends: vec![WeightedBackend { weight: 1, backend }],
                timeouts: UpstreamTimeouts::default(),
                affinity: None,
                protocol: UpstreamProtocol::Http,
                balance: Balance::RoundRobin,
                next_upstream: NextUpstream::default(),
                mirrors: Box::default(),
            }),
        }
    }
}

impl fmt::Display for PathRewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathRewrite::Full(path) => write!(f, "{path:?}"),
            PathRewrite::ReplacePrefix { prefix, with } => write!(f, "prefix {prefix:?} {with:?}"),
            PathRewrite::Regex {
                pattern,
                case_insensitive,
                replacement,
            } => {
                let flag = if *case_insensitive { "(i)" } else { "" };
                write!(f, "regex{flag} {pattern:?} {replacement:?}")
            }
        }
    }
}

impl fmt::Display for RedirectLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectLocation::Fixed(location) => write!(f, "{location:?}"),
            RedirectLocation::Rebuilt {
                scheme,
                host,
                port,
                path,
                keep_query,
            } => {
                let keep = "(kept)";
                let port = match port {
                    RedirectPort::Keep => keep.to_owned(),
                    RedirectPort::SchemeDefault => "(default)".to_owned(),
                    RedirectPort::Number(port) => port.to_string(),
                };
                write!(
                    f,
                    "scheme {} host {} port {port}",
                    scheme.as_deref().unwrap_or(keep),
                    host.as_deref().unwrap_or(keep),
                )?;
                if let Some(path) = path {
                    write!(f, " path {path}")?;
                }
                if !keep_query {
                    f.write_str(" without query")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for HeaderEdits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (name, value) in &self.set {
            parts.push(format!("set {name}: {value:?}"));
        }
        for (name, value) in &self.add {
            parts.push(format!("add {name}: {value:?}"));
        }
        for name in &self.remove {
            parts.push(format!("remove {name}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// Renders the action first (a lone backend as itself, so plain paths read as before), then
/// each filter in the order the proxy applies them: part of the golden text.
impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.action {
            Action::Forward(forward) => {
                match forward.backends.as_slice() {
                    [only] if only.weight == 1 => write!(f, "{}", only.backend)?,
                    backends => {
                        let list: Vec<String> = backends
                            .iter()
                            .map(|b| format!("{} x {}", b.weight, b.backend))
                            .collect();
                        write!(f, "split {{ {} }}", list.join("; "))?;
                    }
                }
                let timeouts = [
                    ("connect", forward.timeouts.connect),
                    ("send", forward.timeouts.send),
                    ("response", forward.timeouts.response),
                    ("total", forward.timeouts.total),
                ];
                for (step, timeout) in timeouts {
                    if let Some(timeout) = timeout {
                        write!(f, " ({step} timeout {}s)", timeout.as_secs_f64())?;
                    }
                }
                if forward.next_upstream != NextUpstream::default() {
                    let n = &forward.next_upstream;
                    write!(
                        f,
                        " (next upstream error {} timeout {} statuses {:?} non-idempotent {} tries {}",
                        n.error, n.timeout, n.statuses, n.non_idempotent, n.tries
                    )?;
                    if let Some(within) = n.within {
                        write!(f, " within {}s", within.as_secs_f64())?;
                    }
                    f.write_str(")")?;
                }
                match &forward.balance {
                    Balance::RoundRobin => {}
                    Balance::Hash(parts) => write!(f, " (hash by {parts:?})")?,
                    Balance::Ewma => f.write_str(" (balance ewma)")?,
                }
                if forward.protocol != UpstreamProtocol::Http {
                    write!(f, " ({:?} upstream)", forward.protocol)?;
                }
                for mirror in &forward.mirrors {
                    write!(
                        f,
                        " (mirror {}/{} to {})",
                        mirror.numerator, mirror.denominator, mirror.backend
                    )?;
                }
                if let Some(affinity) = &forward.affinity {
                    write!(
                        f,
                        " (sticky cookie {} path {}",
                        affinity.cookie, affinity.path
                    )?;
                    if let Some(max_age) = affinity.max_age {
                        write!(f, " max-age {max_age}")?;
                    }
                    if let Some(expires) = affinity.expires {
                        write!(f, " expires +{expires}s")?;
                    }
                    if let Some(same_site) = &affinity.same_site {
                        write!(f, " samesite {same_site}")?;
                    }
                    match affinity.secure {
                        Some(true) => f.write_str(" secure")?,
                        Some(false) => f.write_str(" never-secure")?,
                        None => {}
                    }
                    if let Some(domain) = &affinity.domain {
                        write!(f, " domain {domain}")?;
                    }
                    f.write_str(")")?;
                }
            }
            Action::Redirect(redirect) => {
                write!(f, "redirect {} {}", redirect.status, redirect.location)?;
                if let Some(origin) = &self.origin {
                    write!(f, " <- {origin}")?;
                }
            }
        }
        match self.https_redirect {
            Some(308) => f.write_str(" (http redirects to https)")?,
            Some(status) => write!(f, " (http redirects to https with {status})")?,
            None => {}
        }
        if let Some(limit) = self.body_limit {
            write!(f, " (body limit {limit})")?;
        }
        if let Some(path) = &self.rewrite.path {
            write!(f, " (rewrite path {path})")?;
        }
        if let Some(host) = &self.rewrite.host {
            write!(f, " (rewrite host {host:?})")?;
        }
        if !self.request_headers.is_empty() {
            write!(f, " (request headers {})", self.request_headers)?;
        }
        if !self.response_headers.is_empty() {
            write!(f, " (response headers {})", self.response_headers)?;
        }
        if let Some(cors) = &self.cors {
            let origins = match &cors.origins {
                CorsOrigins::Any => "*".to_owned(),
                CorsOrigins::List(list) => list.join(" "),
            };
            write!(
                f,
                " (cors {origins}; methods {:?}; headers {:?}; credentials {}; max-age {})",
                cors.allow_methods, cors.allow_headers, cors.allow_credentials, cors.max_age
            )?;
        }
        if let Some(pages) = &self.error_pages {
            write!(f, " (errors {:?}", pages.codes)?;
            if pages.when_unavailable {
                f.write_str(" and unavailable")?;
            }
            write!(f, " -> {})", pages.backend)?;
        }
        if let Some(ranges) = &self.source_ranges {
            let list = |nets: &[ipnet::IpNet]| {
                nets.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            write!(
                f,
                " (source allow [{}] deny [{}])",
                list(&ranges.allow),
                list(&ranges.deny)
            )?;
        }
        Ok(())
    }
}
