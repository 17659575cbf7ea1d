//! What Portcullis does with each ingress-nginx annotation: the one list the review, the
//! migration report and the README table agree with.

/// How an annotation is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Honoured as ingress-nginx does it.
    Honoured,
    /// Honoured, with this difference from ingress-nginx.
    HonouredWithDifference(&'static str),
    /// Restricts access in a way not enforced yet: an Ingress carrying it is not served.
    FailsClosed,
    /// Not supported: the Ingress is served without it.
    Unsupported,
}

/// Honoured annotations (names after the prefix) and how they differ from ingress-nginx for
/// every value; a value handled differently (refused where nginx would evaluate it) is named
/// by the translation's own warning instead.
const HONOURED: &[(&str, Option<&str>)] = &[
    (
        "ssl-redirect",
        Some(
            "only the Ingress whose spec.tls covers the host redirects, and a trailing slash is kept",
        ),
    ),
    ("force-ssl-redirect", None),
    ("rewrite-target", None),
    (
        "use-regex",
        Some("regexes are RE2-like: no look-around or back-references"),
    ),
    ("app-root", None),
    ("x-forwarded-prefix", None),
    ("upstream-vhost", None),
    ("permanent-redirect", None),
    ("permanent-redirect-code", None),
    ("temporal-redirect", None),
    ("temporal-redirect-code", None),
    (
        "proxy-body-size",
        Some("a streamed body is cut at the limit with 413 after part of it reached the backend"),
    ),
    ("proxy-read-timeout", None),
    (
        "proxy-connect-timeout",
        Some("a route with its own value keeps its own pool of upstream connections"),
    ),
    ("proxy-send-timeout", None),
    ("proxy-next-upstream-timeout", None),
    (
        "load-balance",
        Some(
            "ewma picks the lower score of two random endpoints, the score being the decayed response time times the requests in flight (a failure counts as a response timeout); the averages start over when the table is rebuilt with a changed backend",
        ),
    ),
    (
        "service-upstream",
        Some(
            "a headless Service (no cluster IP) uses its endpoints, with a warning; retries go to the same cluster IP",
        ),
    ),
    (
        "canary",
        Some("applies to that host and path only, not to every route of the main Service"),
    ),
    ("canary-weight", Some("exact shares per round, not random")),
    ("canary-weight-total", None),
    ("canary-by-header", None),
    ("canary-by-header-value", None),
    ("canary-by-header-pattern", None),
    ("canary-by-cookie", None),
    ("enable-cors", None),
    (
        "cors-allow-origin",
        Some("origins are matched whole (ingress-nginx's regex is not anchored at the start)"),
    ),
    ("cors-allow-methods", None),
    ("cors-allow-headers", None),
    ("cors-expose-headers", None),
    ("cors-allow-credentials", None),
    ("cors-max-age", None),
    (
        "backend-protocol",
        Some(
            "HTTPS and GRPCS do not verify the backend's certificate (ingress-nginx's default) and send the Service's host (<service>.<namespace>.svc) as SNI; AUTO_HTTP and FCGI are not supported",
        ),
    ),
    (
        "server-alias",
        Some(
            "exact names only (nginx server_name regexes are refused); an alias's TLS uses the default certificate unless an Ingress lists it",
        ),
    ),
    (
        "from-to-www-redirect",
        Some(
            "the Location keeps the request's port as the client sent it and keeps a trailing slash",
        ),
    ),
    (
        "default-backend",
        Some("a Service without ready endpoints is ignored with a warning"),
    ),
    (
        "custom-http-errors",
        Some(
            "the error backend gets the original method without the body; without default-backend the answer is --default-backend-service's, else the built-in 404",
        ),
    ),
    (
        "upstream-hash-by",
        Some(
            "rendezvous hashing over the ready endpoints (an endpoint leaving moves only its keys); the variables $request_uri, $uri, $remote_addr, $host, $http_*, $cookie_*, $arg_* only; upstream-hash-by-subset is not supported",
        ),
    ),
    (
        "proxy-next-upstream",
        Some(
            "a request is sent again only while its body can be (never sent, or empty); invalid_header counts as error",
        ),
    ),
    ("proxy-next-upstream-tries", None),
    ("affinity", None),
    (
        "affinity-mode",
        Some(
            "both modes keep a client on its endpoint while it is ready and move it, setting the cookie again, when it goes; balanced does not move sessions when endpoints are added",
        ),
    ),
    ("session-cookie-name", None),
    ("session-cookie-path", None),
    ("session-cookie-max-age", None),
    ("session-cookie-expires", None),
    ("session-cookie-samesite", None),
    ("session-cookie-secure", None),
    ("session-cookie-domain", None),
    (
        "configuration-snippet",
        Some(
            "never executed: only header directives (more_set_headers, add_header, proxy_set_header, more_set_input_headers) without variables; anything else fails the Ingress closed",
        ),
    ),
    (
        "server-snippet",
        Some("as configuration-snippet, applied to this Ingress's paths only"),
    ),
    (
        "allowlist-source-range",
        Some("not applied to a host's paths no Ingress claims"),
    ),
    (
        "whitelist-source-range",
        Some("not applied to a host's paths no Ingress claims"),
    ),
    (
        "denylist-source-range",
        Some("not applied to a host's paths no Ingress claims"),
    ),
];

/// How annotation `name` (after the prefix) is supported.
pub fn support(name: &str) -> Support {
    match HONOURED.iter().find(|(honoured, _)| *honoured == name) {
        Some((_, None)) => Support::Honoured,
        Some((_, Some(difference))) => Support::HonouredWithDifference(difference),
        None if restricts_access(name) => Support::FailsClosed,
        None => Support::Unsupported,
    }
}

/// Annotation names that restrict who may reach a backend, or inject configuration that may:
/// serving the Ingress without enforcing them would open it.
fn restricts_access(name: &str) -> bool {
    name.starts_with("auth-")
        || name.ends_with("-snippet")
        || matches!(name, "satisfy" | "enable-global-auth")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_the_parser_reads_is_honoured_here() {
        for name in super::super::route_annotations::NAMES {
            assert!(
                matches!(
                    support(name),
                    Support::Honoured | Support::HonouredWithDifference(_)
                ),
                "{name}"
            );
        }
        for (name, _) in HONOURED {
            let read =
                *name == "ssl-redirect" || super::super::route_annotations::NAMES.contains(name);
            assert!(read, "{name} is listed as honoured but nothing reads it");
        }
        assert_eq!(support("auth-url"), Support::FailsClosed);
        assert_eq!(support("stream-snippet"), Support::FailsClosed);
        assert_eq!(support("auth-snippet"), Support::FailsClosed);
        assert_eq!(support("limit-rps"), Support::Unsupported);
    }
}
