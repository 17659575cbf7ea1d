//! The traffic annotations of one Ingress, parsed into typed values once per translation of
//! that Ingress. A bad value is a warning naming the annotation and the value, and that
//! annotation falls back to its default; none of these can open access, so none fails closed.

use std::time::Duration;

use http::HeaderValue;
use portcullis_kube::objects::ObjectKey;
use portcullis_route::pattern::{Anchoring, compile};
use portcullis_route::spec::{
    Affinity, Balance, CorsOrigins, CorsPolicy, HashPart, NextUpstream, SourceRanges,
    UpstreamProtocol, UpstreamTimeouts,
};

use super::Annotations;
use super::snippet::{SnippetEdits, parse_snippet};
use super::values::{boolean, bounded, literal_url, redirect_status, seconds, size};
use portcullis_translation::{Diagnostic, Reason};

/// Annotation names (after the prefix) this module reads: the catalogue's tests hold it and
/// the catalogue's honoured list equal.
#[cfg(test)]
pub(crate) const NAMES: &[&str] = &[
    "rewrite-target",
    "use-regex",
    "app-root",
    "x-forwarded-prefix",
    "upstream-vhost",
    "permanent-redirect",
    "permanent-redirect-code",
    "temporal-redirect",
    "temporal-redirect-code",
    "force-ssl-redirect",
    "proxy-body-size",
    "proxy-read-timeout",
    "proxy-connect-timeout",
    "proxy-send-timeout",
    "canary",
    "canary-weight",
    "canary-weight-total",
    "canary-by-header",
    "canary-by-header-value",
    "canary-by-header-pattern",
    "canary-by-cookie",
    "enable-cors",
    "cors-allow-origin",
    "cors-allow-methods",
    "cors-allow-headers",
    "cors-expose-headers",
    "cors-allow-credentials",
    "cors-max-age",
    "allowlist-source-range",
    "whitelist-source-range",
    "denylist-source-range",
    "configuration-snippet",
    "server-snippet",
    "affinity",
    "affinity-mode",
    "session-cookie-name",
    "session-cookie-path",
    "session-cookie-max-age",
    "session-cookie-expires",
    "session-cookie-samesite",
    "session-cookie-secure",
    "session-cookie-domain",
    "backend-protocol",
    "server-alias",
    "from-to-www-redirect",
    "default-backend",
    "custom-http-errors",
    "upstream-hash-by",
    "proxy-next-upstream",
    "proxy-next-upstream-tries",
    "proxy-next-upstream-timeout",
    "load-balance",
    "service-upstream",
];

/// What an Ingress's annotations ask of its routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RouteAnnotations {
    /// `use-regex`: paths are case-insensitive regexes matched from the start (a
    /// `rewrite-target` that differs from a path implies it too).
    pub(crate) regex: bool,
    /// `rewrite-target`: the new path, with `$1`..`$9` from the path regex.
    pub(crate) rewrite_target: Option<String>,
    /// `app-root`: requests for `/` are redirected (302) here.
    pub(crate) app_root: Option<String>,
    /// `x-forwarded-prefix`: sent upstream as `X-Forwarded-Prefix`.
    pub(crate) forwarded_prefix: Option<HeaderValue>,
    /// `upstream-vhost`: the `Host` sent upstream.
    pub(crate) upstream_vhost: Option<String>,
    /// `temporal-redirect` or `permanent-redirect`: every path answers this redirect.
    pub(crate) redirect: Option<(u16, String)>,
    /// `force-ssl-redirect`: plain HTTP redirects to HTTPS even without `spec.tls`.
    pub(crate) force_ssl_redirect: bool,
    /// `proxy-body-size`: `None` when not set (the configured default applies).
    pub(crate) body_size: Option<BodySize>,
    /// `proxy-connect-timeout`, `proxy-send-timeout`, `proxy-read-timeout`.
    pub(crate) timeouts: UpstreamTimeouts,
    /// `service-upstream`: the Service's cluster IP instead of its endpoints.
    pub(crate) service_upstream: bool,
    /// `canary: "true"` and its settings.
    pub(crate) canary: Option<Canary>,
    /// `enable-cors` and its settings.
    pub(crate) cors: Option<CorsPolicy>,
    /// `allowlist-source-range` (or `whitelist-`) and `denylist-source-range`.
    pub(crate) source_ranges: Option<SourceRanges>,
    /// `affinity: cookie` and its `session-cookie-*` settings; an empty path means the
    /// Ingress path.
    pub(crate) affinity: Option<Affinity>,
    /// `backend-protocol`.
    pub(crate) backend_protocol: UpstreamProtocol,
    /// `server-alias`: more exact names for the Ingress's hosts.
    pub(crate) aliases: Vec<String>,
    /// `from-to-www-redirect`.
    pub(crate) www_redirect: bool,
    /// `default-backend`: a Service of the Ingress's namespace for errors.
    pub(crate) default_backend: Option<String>,
    /// `custom-http-errors`: upstream statuses answered by the error backend.
    pub(crate) custom_http_errors: Vec<u16>,
    /// `upstream-hash-by`, else `load-balance`.
    pub(crate) balance: Balance,
    /// `proxy-next-upstream`, `-tries` and `-timeout`.
    pub(crate) next_upstream: NextUpstream,
    /// Header edits from `configuration-snippet` and `server-snippet`.
    pub(crate) snippet: SnippetEdits,
    /// An annotation whose value cannot be enforced as written (its full name): the Ingress
    /// is not served rather than served open or served differently.
    pub(crate) fail_closed: Option<String>,
}

/// A body size as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodySize {
    /// `0`: no limit.
    Unlimited,
    /// At most this many bytes.
    Bytes(u64),
}

/// How a canary Ingress takes traffic from the main Ingress of the same host and path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Canary {
    /// `canary-weight`: share of requests out of `total`.
    pub(crate) weight: u32,
    /// `canary-weight-total` (default 100).
    pub(crate) total: u32,
    /// `canary-by-header`: the header that routes to the canary.
    pub(crate) header: Option<http::HeaderName>,
    /// `canary-by-header-value`: the value that does (instead of `always`).
    pub(crate) header_value: Option<String>,
    /// `canary-by-header-pattern`: a regex the value matches (when no exact value is set).
    pub(crate) header_pattern: Option<String>,
    /// `canary-by-cookie`: the cookie whose value `always` routes to the canary.
    pub(crate) cookie: Option<String>,
}

/// Reads the traffic annotations of Ingress `key`.
pub(crate) fn parse(
    key: &ObjectKey,
    annotations: &Annotations<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> RouteAnnotations {
    let mut reader = Reader {
        key,
        annotations,
        diagnostics,
    };
    let mut fail_closed = None;
    let rewrite_target = reader.value("rewrite-target", rewrite_template);
    let use_regex = reader.value("use-regex", boolean).unwrap_or(false);
    // ingress-nginx reads the temporal redirect first; the other is then not read at all.
    let redirect = match reader.value("temporal-redirect", redirect_url) {
        Some(url) => {
            let code = reader
                .value("temporal-redirect-code", |v| redirect_status(v, 307))
                .unwrap_or(302);
            Some((code, url))
        }
        None => reader.value("permanent-redirect", redirect_url).map(|url| {
            let code = reader
                .value("permanent-redirect-code", |v| redirect_status(v, 308))
                .unwrap_or(301);
            (code, url)
        }),
    };
    RouteAnnotations {
        regex: use_regex,
        rewrite_target,
        app_root: reader.value("app-root", app_root),
        forwarded_prefix: reader.value("x-forwarded-prefix", header_value),
        upstream_vhost: reader.value("upstream-vhost", host_value),
        redirect,
        force_ssl_redirect: reader.value("force-ssl-redirect", boolean).unwrap_or(false),
        body_size: reader.value("proxy-body-size", |v| {
            size(v).map(|s| s.map_or(BodySize::Unlimited, BodySize::Bytes))
        }),
        timeouts: UpstreamTimeouts {
            connect: reader.value("proxy-connect-timeout", seconds),
            send: reader.value("proxy-send-timeout", seconds),
            response: reader.value("proxy-read-timeout", seconds),
            total: None,
        },
        service_upstream: reader.value("service-upstream", boolean).unwrap_or(false),
        canary: canary(&mut reader),
        cors: cors(&mut reader),
        source_ranges: source_ranges(&mut reader, &mut fail_closed),
        snippet: snippets(&mut reader, &mut fail_closed),
        affinity: affinity(&mut reader),
        backend_protocol: reader
            .value("backend-protocol", backend_protocol)
            .unwrap_or_default(),
        aliases: reader.value("server-alias", aliases).unwrap_or_default(),
        www_redirect: reader
            .value("from-to-www-redirect", boolean)
            .unwrap_or(false),
        default_backend: reader.value("default-backend", service_name),
        custom_http_errors: reader
            .value("custom-http-errors", error_codes)
            .unwrap_or_default(),
        balance: {
            // Both are read, so a bad value of either is named; the hash wins, as in
            // ingress-nginx (its chash balancer replaces the load-balance one).
            let hash = reader.value("upstream-hash-by", hash_parts);
            let balance = reader.value("load-balance", load_balance);
            hash.map(Balance::Hash)
                .or(balance)
                .unwrap_or(Balance::RoundRobin)
        },
        next_upstream: {
            let mut next = reader
                .value("proxy-next-upstream", next_upstream)
                .unwrap_or_default();
            // ingress-nginx's default is 3; 0 is every endpoint, as nginx.
            next.tries = reader
                .value("proxy-next-upstream-tries", |v| bounded(v, 0, 1000))
                .map_or(3, |t| u32::try_from(t).unwrap_or(u32::MAX));
            // 0 is no limit, as nginx.
            next.within = reader
                .value("proxy-next-upstream-timeout", |v| bounded(v, 0, 86_400))
                .filter(|within| *within > 0)
                .map(Duration::from_secs);
            next
        },
        fail_closed,
    }
}

/// `load-balance`: `round_robin` or `ewma` (ingress-nginx's two balancers besides hashing).
fn load_balance(value: &str) -> Result<Balance, String> {
    match value.trim() {
        "round_robin" => Ok(Balance::RoundRobin),
        "ewma" => Ok(Balance::Ewma),
        other => Err(format!("{other:?} is not round_robin or ewma")),
    }
}

/// `upstream-hash-by`: text and nginx variables, read as typed request parts: `$request_uri`,
/// `$uri`, `$remote_addr`, `$host`, `$http_NAME`, `$cookie_NAME`, `$arg_NAME` (`${name}` too).
/// Any other variable is refused: nothing is evaluated.
fn hash_parts(value: &str) -> Result<Vec<HashPart>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = value.trim();
    while let Some(at) = rest.find('$') {
        text.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let (name, after) = match rest.strip_prefix('{') {
            Some(braced) => {
                let end = braced
                    .find('}')
                    .ok_or_else(|| "an unclosed ${".to_owned())?;
                (&braced[..end], &braced[end + 1..])
            }
            None => {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
        };
        rest = after;
        if !text.is_empty() {
            parts.push(HashPart::Text(std::mem::take(&mut text)));
        }
        let part = match name {
            "request_uri" => HashPart::RequestUri,
            "uri" | "document_uri" => HashPart::Uri,
            "remote_addr" | "binary_remote_addr" => HashPart::RemoteAddr,
            "host" | "http_host" => HashPart::Host,
            _ => {
                if let Some(header) = name.strip_prefix("http_") {
                    let header = header.replace('_', "-");
                    HashPart::Header(
                        http::HeaderName::try_from(header.as_str())
                            .map_err(|_| format!("${name} names no header"))?,
                    )
                } else if let Some(cookie) = name.strip_prefix("cookie_") {
                    HashPart::Cookie(cookie.to_owned())
                } else if let Some(arg) = name.strip_prefix("arg_") {
                    HashPart::Arg(arg.to_owned())
                } else {
                    return Err(format!(
                        "${name} is not one of $request_uri, $uri, $remote_addr, $host, \
                         $http_NAME, $cookie_NAME, $arg_NAME"
                    ));
                }
            }
        };
        parts.push(part);
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(HashPart::Text(text));
    }
    if parts.iter().all(|p| matches!(p, HashPart::Text(_))) {
        return Err("names no request value, so every request would hash alike".into());
    }
    Ok(parts)
}

/// `proxy-next-upstream`: nginx's tokens (`error timeout invalid_header http_500 http_502
/// http_503 http_504 http_403 http_404 http_429 non_idempotent off`).
fn next_upstream(value: &str) -> Result<NextUpstream, String> {
    let mut next = NextUpstream {
        error: false,
        timeout: false,
        statuses: Vec::new(),
        non_idempotent: false,
        tries: 0,
        within: None,
    };
    for token in value.split_whitespace() {
        match token {
            "error" | "invalid_header" => next.error = true,
            "timeout" => next.timeout = true,
            "non_idempotent" => next.non_idempotent = true,
            "off" => {}
            _ => match token
                .strip_prefix("http_")
                .and_then(|c| c.parse::<u16>().ok())
            {
                Some(code @ (500 | 502 | 503 | 504 | 403 | 404 | 429)) => next.statuses.push(code),
                _ => {
                    return Err(format!(
                        "{token:?} is not one of nginx's proxy_next_upstream values"
                    ));
                }
            },
        }
    }
    Ok(next)
}

/// A Service name (DNS-1035 label).
fn service_name(value: &str) -> Result<String, String> {
    let name = value.trim();
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(name.to_owned())
    } else {
        Err("expected the name of a Service in the Ingress's namespace".into())
    }
}

/// `custom-http-errors`: a comma list of 4xx and 5xx codes.
fn error_codes(value: &str) -> Result<Vec<u16>, String> {
    let mut codes = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match entry.parse::<u16>() {
            Ok(code @ 400..=599) => codes.push(code),
            _ => return Err(format!("{entry:?} is not a 4xx or 5xx status")),
        }
    }
    codes.sort_unstable();
    codes.dedup();
    Ok(codes)
}

/// `server-alias`: a comma list of exact host names, lower case, sorted, without duplicates.
/// Difference: ingress-nginx also takes nginx `server_name` regexes (`~^www\d+`); those are
/// refused here.
fn aliases(value: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let name = entry.to_ascii_lowercase();
        let valid = name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if !valid || name.len() > 253 {
            return Err(format!(
                "{entry:?} is not a host name (regex names are not supported)"
            ));
        }
        names.push(name);
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// ingress-nginx's values (case-insensitive), and `H2C` for HTTP/2 with prior knowledge.
fn backend_protocol(value: &str) -> Result<UpstreamProtocol, String> {
    match value.trim().to_ascii_uppercase().as_str() {
        "HTTP" => Ok(UpstreamProtocol::Http),
        "HTTPS" => Ok(UpstreamProtocol::Https),
        "GRPC" => Ok(UpstreamProtocol::Grpc),
        "GRPCS" => Ok(UpstreamProtocol::Grpcs),
        "H2C" => Ok(UpstreamProtocol::H2c),
        "AUTO_HTTP" | "FCGI" => Err("not supported; HTTP is used".into()),
        _ => Err("expected HTTP, HTTPS, GRPC, GRPCS or H2C".into()),
    }
}

fn affinity(reader: &mut Reader<'_, '_>) -> Option<Affinity> {
    let kind = reader.value("affinity", |v| match v.trim() {
        "cookie" => Ok(()),
        _ => Err("only \"cookie\" is supported".to_owned()),
    });
    kind?;
    // Both modes keep a client on its endpoint while it is ready, and move it (setting the
    // cookie again) when it goes.
    let _ = reader.value("affinity-mode", |v| match v.trim() {
        "balanced" | "persistent" => Ok(()),
        _ => Err("expected balanced or persistent".to_owned()),
    });
    let seconds = |v: &str| bounded(v, 0, 10 * 365 * 86_400);
    Some(Affinity {
        cookie: reader
            .value("session-cookie-name", cookie_name)
            .unwrap_or_else(|| "INGRESSCOOKIE".to_owned()),
        path: reader
            .value("session-cookie-path", |v| {
                literal_url(v).and_then(|p| {
                    if p.starts_with('/') && !p.contains(';') {
                        Ok(p)
                    } else {
                        Err("expected a path starting with '/'".to_owned())
                    }
                })
            })
            .unwrap_or_default(),
        max_age: reader.value("session-cookie-max-age", seconds),
        expires: reader.value("session-cookie-expires", seconds),
        same_site: reader.value("session-cookie-samesite", |v| {
            match v.trim().to_ascii_lowercase().as_str() {
                "none" | "lax" | "strict" => Ok(v.trim().to_owned()),
                _ => Err("expected None, Lax or Strict".to_owned()),
            }
        }),
        // ingress-nginx: "false" still means Secure on HTTPS requests.
        secure: reader
            .value("session-cookie-secure", boolean)
            .and_then(|secure| secure.then_some(true)),
        domain: reader.value("session-cookie-domain", host_value),
    })
}

/// The header edits of the snippets; anything else in them fails the Ingress closed.
fn snippets(reader: &mut Reader<'_, '_>, fail_closed: &mut Option<String>) -> SnippetEdits {
    let mut all = SnippetEdits::default();
    for name in ["server-snippet", "configuration-snippet"] {
        let Some((full, value)) = reader.annotations.get(name) else {
            continue;
        };
        match parse_snippet(value) {
            Ok(edits) => {
                all.request.set.extend(edits.request.set);
                all.request.add.extend(edits.request.add);
                all.request.remove.extend(edits.request.remove);
                all.response.set.extend(edits.response.set);
                all.response.add.extend(edits.response.add);
                all.response.remove.extend(edits.response.remove);
            }
            Err(why) => {
                reader.diagnostics.push(Diagnostic::error(
                    Reason::UnsupportedAnnotation,
                    reader.key,
                    format!("metadata.annotations[{full}]"),
                    format!(
                        "{why}; nginx configuration is never executed, and only header \
                         directives are understood, so the Ingress is not served (its paths \
                         answer 503) rather than served without it"
                    ),
                ));
                fail_closed.get_or_insert_with(|| full.to_owned());
            }
        }
    }
    all
}

const DEFAULT_CORS_METHODS: &str = "GET, PUT, POST, DELETE, PATCH, OPTIONS";
const DEFAULT_CORS_HEADERS: &str = "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization";

fn cors(reader: &mut Reader<'_, '_>) -> Option<CorsPolicy> {
    if !reader.value("enable-cors", boolean).unwrap_or(false) {
        return None;
    }
    let listed = |v: &str, allowed: fn(char) -> bool| -> Result<http::HeaderValue, String> {
        if v.chars().all(allowed) {
            http::HeaderValue::try_from(v.trim()).map_err(|_| "not a valid header value".into())
        } else {
            Err("contains characters ingress-nginx does not accept here (no *)".into())
        }
    };
    let origins = match reader.annotations.get("cors-allow-origin") {
        None => CorsOrigins::Any,
        Some((full, value)) => {
            let (origins, skipped) = cors_origins(value);
            if !skipped.is_empty() {
                reader.diagnostics.push(Diagnostic::warning(
                    Reason::InvalidAnnotation,
                    reader.key,
                    format!("metadata.annotations[{full}]"),
                    format!(
                        "{skipped:?} are not scheme://host[:port] and are skipped, as \
                         ingress-nginx skips them; the other origins apply"
                    ),
                ));
            }
            origins
        }
    };
    Some(CorsPolicy {
        origins,
        allow_methods: reader
            .value("cors-allow-methods", |v| {
                listed(v, |c| c.is_ascii_alphabetic() || c == ',' || c == ' ')
            })
            .unwrap_or_else(|| http::HeaderValue::from_static(DEFAULT_CORS_METHODS)),
        allow_headers: reader
            .value("cors-allow-headers", |v| {
                listed(v, |c| c.is_ascii_alphanumeric() || "-_, ".contains(c))
            })
            .unwrap_or_else(|| http::HeaderValue::from_static(DEFAULT_CORS_HEADERS)),
        expose_headers: reader.value("cors-expose-headers", |v| {
            listed(v, |c| c.is_ascii_alphanumeric() || "-_, *".contains(c))
        }),
        allow_credentials: reader
            .value("cors-allow-credentials", boolean)
            .unwrap_or(true),
        max_age: reader
            .value("cors-max-age", |v| bounded(v, 0, u64::from(u32::MAX)))
            .unwrap_or(1_728_000),
    })
}

/// `cors-allow-origin`: `*`, or a comma list of `scheme://host[:port]` (a host may start
/// with `*.`), and the entries skipped. As ingress-nginx: `*` anywhere allows every origin;
/// entries without a scheme are skipped (never widened to `*`), and a list left empty
/// allows none.
fn cors_origins(value: &str) -> (CorsOrigins, Vec<&str>) {
    let entries: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.contains(&"*") {
        return (CorsOrigins::Any, Vec::new());
    }
    let mut list = Vec::new();
    let mut skipped = Vec::new();
    for entry in entries {
        let lower = entry.to_ascii_lowercase();
        let valid = lower.split_once("://").is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && scheme.bytes().all(|b| b.is_ascii_lowercase())
                && !rest.is_empty()
                && !rest.contains('/')
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:*[]".contains(&b))
        });
        if valid || lower == "null" {
            list.push(lower);
        } else {
            skipped.push(entry);
        }
    }
    (CorsOrigins::List(list), skipped)
}

/// The source ranges; an entry that is not an address or CIDR makes the Ingress fail closed
/// (ingress-nginx answers 503 for it too).
fn source_ranges(
    reader: &mut Reader<'_, '_>,
    fail_closed: &mut Option<String>,
) -> Option<SourceRanges> {
    let mut ranges = SourceRanges::default();
    // ingress-nginx reads whitelist- only when allowlist- is not set.
    let allow_name = if reader.annotations.get("allowlist-source-range").is_some() {
        "allowlist-source-range"
    } else {
        "whitelist-source-range"
    };
    for (name, list) in [
        (allow_name, &mut ranges.allow),
        ("denylist-source-range", &mut ranges.deny),
    ] {
        let Some((full, value)) = reader.annotations.get(name) else {
            continue;
        };
        match parse_ranges(value) {
            Ok(parsed) => *list = parsed,
            Err(why) => {
                reader.diagnostics.push(Diagnostic::error(
                    Reason::InvalidAnnotation,
                    reader.key,
                    format!("metadata.annotations[{full}]"),
                    format!(
                        "{value:?}: {why}; the Ingress is not served (its paths answer 503) \
                         rather than served open"
                    ),
                ));
                fail_closed.get_or_insert_with(|| full.to_owned());
            }
        }
    }
    (!ranges.allow.is_empty() || !ranges.deny.is_empty()).then_some(ranges)
}

/// A comma list of addresses and CIDRs, normalised (`10.0.0.1/24` is `10.0.0.0/24`).
fn parse_ranges(value: &str) -> Result<Vec<ipnet::IpNet>, String> {
    let mut nets = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let net = match entry.parse::<ipnet::IpNet>() {
            Ok(net) => net.trunc(),
            Err(_) => match entry.parse::<std::net::IpAddr>() {
                Ok(ip) => ipnet::IpNet::from(ip),
                Err(_) => return Err(format!("{entry:?} is not an IP address or CIDR")),
            },
        };
        nets.push(net);
    }
    nets.sort();
    nets.dedup();
    Ok(nets)
}

fn canary(reader: &mut Reader<'_, '_>) -> Option<Canary> {
    if !reader.value("canary", boolean).unwrap_or(false) {
        return None;
    }
    // As ingress-nginx's balancer: a total of 100 or less counts as 100.
    let total = reader
        .value("canary-weight-total", |v| bounded(v, 1, 1_000_000))
        .unwrap_or(100)
        .max(100);
    let weight = reader
        .value("canary-weight", |v| bounded(v, 0, 1_000_000))
        .unwrap_or(0)
        .min(total);
    let to_u32 = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    Some(Canary {
        weight: to_u32(weight),
        total: to_u32(total),
        header: reader.value("canary-by-header", |v| {
            http::HeaderName::try_from(v.trim()).map_err(|_| "expected a header name".to_owned())
        }),
        header_value: reader.value("canary-by-header-value", |v| Ok(v.to_owned())),
        header_pattern: reader.value("canary-by-header-pattern", |v| {
            compile(v, Anchoring::Whole, false)
                .map(|_| v.to_owned())
                .map_err(|error| format!("not a regular expression this proxy accepts: {error}"))
        }),
        cookie: reader.value("canary-by-cookie", cookie_name),
    })
}

struct Reader<'a, 'd> {
    key: &'a ObjectKey,
    annotations: &'a Annotations<'a>,
    diagnostics: &'d mut Vec<Diagnostic>,
}

impl Reader<'_, '_> {
    /// The parsed value of annotation `name`, or `None` (with a warning when it was set but
    /// is invalid).
    fn value<T>(&mut self, name: &str, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let (full, value) = self.annotations.get(name)?;
        match parse(value) {
            Ok(parsed) => Some(parsed),
            Err(why) => {
                self.diagnostics.push(Diagnostic::warning(
                    Reason::InvalidAnnotation,
                    self.key,
                    format!("metadata.annotations[{full}]"),
                    format!("{value:?}: {why}; ignored (its default applies)"),
                ));
                None
            }
        }
    }
}

/// A rewrite target as ingress-nginx validates it (`[-._~a-zA-Z0-9/:$]`, so no query), with
/// `$1`..`$9` references and no nginx variable (we would send `$host` literally).
fn rewrite_template(value: &str) -> Result<String, String> {
    let text = value.trim();
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~/:$".contains(*c)))
    {
        return Err(format!(
            "contains {bad:?}: a rewrite target is a path of letters, digits, -._~/: and $1..$9"
        ));
    }
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if !after.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!(
                "contains {:?}: only $1..$9 are filled in, nginx variables are not evaluated",
                &rest[at..]
            ));
        }
        rest = after;
    }
    Ok(text.to_owned())
}

/// A redirect URL as ingress-nginx validates it (`[-._~a-zA-Z0-9/:,?&=]`) that starts with
/// `http`.
fn redirect_url(value: &str) -> Result<String, String> {
    let text = literal_url(value)?;
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~/:,?&=".contains(*c)))
    {
        return Err(format!("contains {bad:?}, which a redirect URL may not"));
    }
    if text.starts_with("http://") || text.starts_with("https://") {
        Ok(text)
    } else {
        Err("expected an http:// or https:// URL".into())
    }
}

fn app_root(value: &str) -> Result<String, String> {
    let path = literal_url(value)?;
    if path.starts_with('/') && !path.starts_with("//") {
        Ok(path)
    } else {
        Err("expected a path starting with '/' (not a URL)".into())
    }
}

fn header_value(value: &str) -> Result<HeaderValue, String> {
    let text = literal_url(value)?;
    HeaderValue::try_from(text).map_err(|_| "not a valid header value".into())
}

fn host_value(value: &str) -> Result<String, String> {
    let text = value.trim();
    let valid = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'[' | b']'));
    if valid {
        Ok(text.to_owned())
    } else {
        Err("expected a host name, optionally with :port".into())
    }
}

fn cookie_name(value: &str) -> Result<String, String> {
    let text = value.trim();
    let valid = !text.is_empty()
        && text.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')'
                        | b'<'
                        | b'>'
                        | b'@'
                        | b','
                        | b';'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'/'
                        | b'['
                        | b']'
                        | b'?'
                        | b'='
                        | b'{'
                        | b'}'
                )
        });
    if valid {
        Ok(text.to_owned())
    } else {
        Err("expected a cookie name".into())
    }
}
