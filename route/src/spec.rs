//! The routing table as plain data: what the controller's pure translation produces.
//!
//! A [`TableSpec`] holds no runtime state, so it can be compared, rendered as text for golden
//! tests, and built without tokio. [`crate::table::RoutingTable::compile`] turns it into the
//! lookup structure the proxy reads.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

mod conditions;
mod route_spec;

pub use conditions::{Conditions, HeaderCondition, NamedCondition, ValueMatch};
pub use route_spec::{
    Action, Affinity, Balance, CorsOrigins, CorsPolicy, ErrorPages, Forward, HashPart, HeaderEdits,
    Mirror, NextUpstream, PathRewrite, Redirect, RedirectLocation, RedirectPort, Rewrite,
    RouteSpec, SourceRanges, UpstreamProtocol, UpstreamTimeouts, WeightedBackend,
};

/// Every virtual host and the fallback for requests no host claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// Virtual hosts, at most one per [`HostMatch`]. Shared, so an unchanged host is neither
    /// copied nor compiled again when the next spec is built.
    pub hosts: Vec<Arc<VirtualHost>>,
    /// What answers requests that match no host, or a host with no matching path and no
    /// default of its own.
    pub default_backend: Arc<RouteSpec>,
}

/// Which `Host` header values a virtual host answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostMatch {
    /// One host, lower case, no trailing dot: `foo.example.com`.
    Exact(String),
    /// `*.example.com`: exactly one label in front of the stored suffix `example.com` (an
    /// Ingress wildcard).
    Wildcard(String),
    /// `*.example.com` as Gateway API writes it: one or more labels in front of the stored
    /// suffix; the longest matching suffix wins.
    Suffix(String),
    /// Rules without a host: every host no exact or wildcard rule names.
    Any,
}

/// The rules of one host and what answers the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualHost {
    /// Which hosts this is.
    pub host: HostMatch,
    /// Path rules in precedence order among rules on the same path (the first whose
    /// conditions hold wins); between paths the most specific wins (see [`crate::table`]).
    pub paths: Vec<PathRule>,
    /// What answers a request no rule matches (an Ingress's `spec.defaultBackend`).
    pub default_backend: Option<Arc<RouteSpec>>,
    /// More exact host names this host answers (ingress-nginx's `server-alias`); a name that
    /// is a host of its own stays that host's.
    pub aliases: Vec<String>,
}

/// How a rule's path is compared with the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathKind {
    /// The request path equals the rule path, byte for byte.
    Exact,
    /// The rule path's elements are a prefix of the request path's elements.
    Prefix,
    /// The rule path is a regular expression matched from the start of the request path
    /// (add `$` to match the whole path); a host with one regex rule is matched rule by rule,
    /// in order.
    Regex {
        /// Letters match either case (ingress-nginx's `~*` locations).
        case_insensitive: bool,
    },
}

/// One path of one host: a path, optional further conditions, and what answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    /// Starts with `/` for Exact and Prefix; for [`PathKind::Prefix`] a trailing slash is
    /// ignored. A pattern for [`PathKind::Regex`].
    pub path: String,
    /// Exact, element-wise prefix or regex.
    pub kind: PathKind,
    /// What else the request must carry; empty means nothing.
    pub conditions: Conditions,
    /// What answers matching requests. Shared: every rule with the same behaviour holds the
    /// same `Arc`, so they share one compiled route (and its round-robin cursors).
    pub route: Arc<RouteSpec>,
}

impl PathRule {
    /// A rule with no conditions.
    pub fn new(path: impl Into<String>, kind: PathKind, route: Arc<RouteSpec>) -> Self {
        PathRule {
            path: path.into(),
            kind,
            conditions: Conditions::default(),
            route,
        }
    }
}

/// One upstream of a route, and where it came from (for metrics and logs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Backend {
    /// The Ingress and Service behind this backend; `None` for the built-in default.
    pub origin: Option<Origin>,
    /// Where requests go.
    pub target: Target,
    /// TLS to the endpoints, verified (Gateway API's BackendTLSPolicy); `None` leaves the
    /// route's protocol as it is.
    pub tls: Option<Arc<BackendTls>>,
    /// Header edits for this backend only (Gateway API filters on a backendRef), after the
    /// route's.
    pub headers: Option<Box<BackendHeaders>>,
}

/// A backend's own header edits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BackendHeaders {
    /// On the request, after the route's.
    pub request: HeaderEdits,
    /// On the response, after the route's.
    pub response: HeaderEdits,
}

/// How a backend is spoken to over TLS with its certificate verified: the name sent as SNI,
/// the names the certificate must hold, and the CA certificates trusted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BackendTls {
    /// Sent as SNI; also the name verified when `subject_alt_names` is empty.
    pub server_name: String,
    /// DNS names of which the certificate must hold one (instead of `server_name`).
    pub subject_alt_names: Vec<String>,
    /// The trusted CA certificates, PEM (checked to parse when translated).
    pub ca_pem: Arc<str>,
    /// What asked for it, for logs (`BackendTLSPolicy ns/name`).
    pub source: String,
}

/// The Kubernetes objects a route came from. Its texts are shared: a route's origin is copied
/// into its spec, its backend and both compiled forms, and 10,000 Ingresses would otherwise
/// hold four copies of each name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// Namespace of the Ingress and its Service.
    pub namespace: Arc<str>,
    /// Name of the Ingress; empty for a `--default-backend-service` flag.
    pub ingress: Arc<str>,
    /// Name of the Service.
    pub service: Arc<str>,
    /// The Service port as written: a number or a port name.
    pub port: Arc<str>,
}

/// Where requests of a backend go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// Ready endpoints, in a stable order. Empty means 503: the Service has no ready endpoint.
    Endpoints(Vec<SocketAddr>),
    /// The backend is misconfigured (missing Service or port, ...): 503, with this reason logged.
    Unavailable(String),
    /// The backend reference itself is invalid (Gateway API: unknown kind, not found, not
    /// permitted by a ReferenceGrant): 500, as the spec requires, with this reason logged.
    Invalid(String),
    /// The built-in default backend: 404 with a small body.
    NotFound,
}

impl Backend {
    /// The built-in 404 backend.
    pub fn not_found() -> Self {
        Backend {
            tls: None,
            headers: None,
            origin: None,
            target: Target::NotFound,
        }
    }
}

impl TableSpec {
    /// A table with no hosts, answering 404 everywhere.
    pub fn empty() -> Self {
        TableSpec {
            hosts: Vec::new(),
            default_backend: Arc::new(RouteSpec::forward(Arc::new(Backend::not_found()))),
        }
    }
}

impl fmt::Display for HostMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostMatch::Exact(host) => f.write_str(host),
            HostMatch::Wildcard(suffix) => write!(f, "*.{suffix}"),
            HostMatch::Suffix(suffix) => write!(f, "**.{suffix}"),
            HostMatch::Any => f.write_str("*"),
        }
    }
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathKind::Exact => "Exact",
            PathKind::Prefix => "Prefix",
            PathKind::Regex {
                case_insensitive: false,
            } => "Regex",
            PathKind::Regex {
                case_insensitive: true,
            } => "Regex(i)",
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Origin {
            namespace,
            ingress,
            service,
            port,
        } = self;
        if ingress.is_empty() {
            write!(f, "service {namespace}/{service}")?;
        } else {
            write!(f, "ingress {namespace}/{ingress}")?;
            if !service.is_empty() {
                write!(f, " service {service}")?;
            }
        }
        if !port.is_empty() {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::NotFound => f.write_str("404 built-in")?,
            Target::Unavailable(reason) => write!(f, "503 ({reason})")?,
            Target::Invalid(reason) => write!(f, "500 ({reason})")?,
            Target::Endpoints(endpoints) if endpoints.is_empty() => {
                f.write_str("503 (no ready endpoints)")?
            }
            Target::Endpoints(endpoints) => {
                let list: Vec<String> = endpoints.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", list.join(", "))?
            }
        }
        if let Some(origin) = &self.origin {
            write!(f, " <- {origin}")?;
        }
        if let Some(headers) = &self.headers {
            write!(
                f,
                " (backend headers request {:?} response {:?})",
                headers.request, headers.response
            )?;
        }
        if let Some(tls) = &self.tls {
            write!(f, " (tls verified as {:?}", tls.server_name)?;
            if !tls.subject_alt_names.is_empty() {
                write!(f, " or {:?}", tls.subject_alt_names)?;
            }
            write!(f, " by {})", tls.source)?;
        }
        Ok(())
    }
}

/// Renders the table as stable, reviewable text: the format of the golden files.
impl fmt::Display for TableSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for host in &self.hosts {
            writeln!(f, "host {}", host.host)?;
            for alias in &host.aliases {
                writeln!(f, "  alias {alias}")?;
            }
            for rule in &host.paths {
                writeln!(
                    f,
                    "  {:<6} {}{} -> {}",
                    rule.kind, rule.path, rule.conditions, rule.route
                )?;
            }
            if let Some(default) = &host.default_backend {
                writeln!(f, "  default -> {default}")?;
            }
        }
        writeln!(f, "default -> {}", self.default_backend)
    }
}

/// TLS as plain data: which certificate answers which SNI name. Built by the controller's pure
/// translation; the proxy's `CertificateStore::compile` parses and checks it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSpec {
    /// Certificates, one per Secret in use.
    pub certificates: Vec<CertificateSpec>,
    /// SNI name → index into `certificates`; at most one entry per [`HostMatch`].
    pub hosts: Vec<(HostMatch, usize)>,
    /// `--default-ssl-certificate`: index into `certificates`, for no SNI or an unknown name.
    pub default_certificate: Option<usize>,
}

/// One certificate chain and key, as found in a `kubernetes.io/tls` Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateSpec {
    /// `namespace/name` of the Secret, for logs and metrics.
    pub secret: String,
    /// `tls.crt`: PEM, leaf first.
    pub chain_pem: Vec<u8>,
    /// `tls.key`: PEM, PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key_pem: Vec<u8>,
}

impl fmt::Debug for CertificateSpec {
    /// Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateSpec")
            .field("secret", &self.secret)
            .field("chain_pem_bytes", &self.chain_pem.len())
            .finish_non_exhaustive()
    }
}

/// Renders which Secret answers which SNI name: part of the golden files.
impl fmt::Display for TlsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (host, index) in &self.hosts {
            if let Some(certificate) = self.certificates.get(*index) {
                writeln!(f, "tls {host} -> secret {}", certificate.secret)?;
            }
        }
        if let Some(certificate) = self
            .default_certificate
            .and_then(|index| self.certificates.get(index))
        {
            writeln!(f, "tls default -> secret {}", certificate.secret)?;
        }
        Ok(())
    }
}
