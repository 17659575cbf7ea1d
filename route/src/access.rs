//! Per-request decisions on who may use a route: CORS (which origins, and what a preflight is
//! answered) and client address ranges. Pure, so ingress-nginx's e2e cases are table tests
//! here and the proxy only applies the answer.

use std::net::IpAddr;

use http::Method;
use http::header::{self, HeaderName, HeaderValue};

use crate::spec::{CorsOrigins, CorsPolicy, SourceRanges};

/// What CORS asks of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsDecision {
    /// Not a CORS request we answer for (no policy, or an origin not allowed): proxied as is,
    /// no CORS headers (ingress-nginx answers no 403 either).
    None,
    /// An `OPTIONS` request from an allowed origin: answer 204 with these headers, without
    /// asking the upstream.
    Preflight(Vec<(HeaderName, HeaderValue)>),
    /// Proxy the request and add these headers to the answer.
    Annotate(Vec<(HeaderName, HeaderValue)>),
}

/// The CORS decision for a request with this method and `Origin` header, as ingress-nginx
/// makes it: with `*` every request gets the headers (even without `Origin`); with a list,
/// only an `Origin` on the list (case-insensitive; `*.` is one label; the port must match).
/// Every `OPTIONS` request from an allowed origin is a preflight.
pub fn cors(policy: &CorsPolicy, method: &Method, origin: Option<&HeaderValue>) -> CorsDecision {
    let allow_origin = match &policy.origins {
        CorsOrigins::Any => HeaderValue::from_static("*"),
        CorsOrigins::List(list) => {
            let Some(origin) = origin else {
                return CorsDecision::None;
            };
            let Ok(text) = origin.to_str() else {
                return CorsDecision::None;
            };
            if !list.iter().any(|allowed| origin_matches(allowed, text)) {
                return CorsDecision::None;
            }
            origin.clone()
        }
    };
    let mut headers = vec![(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin)];
    if policy.allow_credentials {
        headers.push((
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        ));
    }
    headers.push((
        header::ACCESS_CONTROL_ALLOW_METHODS,
        policy.allow_methods.clone(),
    ));
    headers.push((
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        policy.allow_headers.clone(),
    ));
    if let Some(expose) = &policy.expose_headers {
        headers.push((header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone()));
    }
    headers.push((
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(policy.max_age),
    ));
    if method == Method::OPTIONS {
        CorsDecision::Preflight(headers)
    } else {
        CorsDecision::Annotate(headers)
    }
}

/// True when `origin` (as sent) is the allowed `pattern` (lower case; `*.` one label).
fn origin_matches(pattern: &str, origin: &str) -> bool {
    let origin = origin.to_ascii_lowercase();
    match pattern.split_once("://*.") {
        Some((scheme, rest)) => {
            let Some(after_scheme) = origin
                .strip_prefix(scheme)
                .and_then(|o| o.strip_prefix("://"))
            else {
                return false;
            };
            match after_scheme.split_once('.') {
                Some((label, tail)) => {
                    !label.is_empty()
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && tail == rest
                }
                None => false,
            }
        }
        None => origin == pattern,
    }
}

/// True when `client` may use a route with these ranges: not denied, and allowed when an
/// allow list is set. IPv4-mapped IPv6 addresses count as their IPv4 address.
pub fn source_allowed(ranges: &SourceRanges, client: IpAddr) -> bool {
    let client = client.to_canonical();
    if ranges.deny.iter().any(|net| net.contains(&client)) {
        return false;
    }
    ranges.allow.is_empty() || ranges.allow.iter().any(|net| net.contains(&client))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: CorsOrigins) -> CorsPolicy {
        CorsPolicy {
            origins,
            allow_methods: HeaderValue::from_static("GET, PUT, POST, DELETE, PATCH, OPTIONS"),
            allow_headers: HeaderValue::from_static("DNT,Keep-Alive,User-Agent"),
            expose_headers: None,
            allow_credentials: true,
            max_age: 1_728_000,
        }
    }

    fn allow_origin(decision: &CorsDecision) -> Option<&str> {
        let headers = match decision {
            CorsDecision::None => return None,
            CorsDecision::Preflight(h) | CorsDecision::Annotate(h) => h,
        };
        headers
            .iter()
            .find(|(n, _)| *n == header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .and_then(|(_, v)| v.to_str().ok())
    }

    #[test]
    fn a_wildcard_policy_annotates_every_request() {
        let any = policy(CorsOrigins::Any);
        let decision = cors(&any, &Method::GET, None);
        assert_eq!(allow_origin(&decision), Some("*"));
        let origin = HeaderValue::from_static("https://x.example");
        assert!(matches!(
            cors(&any, &Method::OPTIONS, Some(&origin)),
            CorsDecision::Preflight(_)
        ));
        let CorsDecision::Annotate(headers) = decision else {
            panic!("annotates");
        };
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "access-control-allow-origin",
                "access-control-allow-credentials",
                "access-control-allow-methods",
                "access-control-allow-headers",
                "access-control-max-age"
            ]
        );
    }

    #[test]
    fn listed_origins_as_ingress_nginx_e2e_checks_them() {
        // test/e2e/annotations/cors.go
        let list = policy(CorsOrigins::List(vec![
            "https://origin2.cors.com".into(),
            "http://*.origin.cors.com".into(),
            "http://origin.com:8080".into(),
            "https://foo.bar.com".into(),
        ]));
        let cases = [
            ("https://origin2.cors.com", true),
            ("HTTPS://Origin2.Cors.com", true),
            ("http://foo.origin.cors.com", true),
            ("http://bar-foo.origin.cors.com", true),
            ("http://bar.foo.origin.cors.com", false),
            ("http://origin.cors.com", false),
            ("http://origin.com", false),
            ("http://origin.com:8080", true),
            ("https://fooxbar.com", false),
            ("https://evil.example", false),
        ];
        for (origin, allowed) in cases {
            let value = HeaderValue::from_str(origin).expect("valid");
            let decision = cors(&list, &Method::GET, Some(&value));
            assert_eq!(allow_origin(&decision).is_some(), allowed, "{origin}");
            if allowed {
                assert_eq!(allow_origin(&decision), Some(origin), "echoed as sent");
            }
        }
        assert_eq!(cors(&list, &Method::GET, None), CorsDecision::None);
    }

    #[test]
    fn source_ranges_deny_wins_and_an_allow_list_closes_the_rest() {
        // test/e2e/annotations/ipdenylist.go
        let net = |s: &str| s.parse::<ipnet::IpNet>().expect("valid");
        let ranges = SourceRanges {
            allow: vec![net("18.0.0.0/8"), net("55.0.0.0/8")],
            deny: vec![net("18.1.0.0/16"), net("56.0.0.0/8")],
        };
        let ip = |s: &str| s.parse::<IpAddr>().expect("valid");
        assert!(!source_allowed(&ranges, ip("18.1.0.1")));
        assert!(!source_allowed(&ranges, ip("10.10.10.10")));
        assert!(source_allowed(&ranges, ip("18.4.0.1")));
        assert!(source_allowed(&ranges, ip("55.55.55.55")));
        assert!(source_allowed(&ranges, ip("::ffff:18.4.0.1")));
        let deny_only = SourceRanges {
            allow: vec![],
            deny: vec![net("18.0.0.0/8"), net("56.0.0.1/32")],
        };
        assert!(!source_allowed(&deny_only, ip("56.0.0.1")));
        assert!(source_allowed(&deny_only, ip("56.0.0.2")));
    }
}
