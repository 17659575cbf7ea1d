//! Cookie affinity, the pure parts: the token that names an endpoint in a cookie (stable
//! across tables, restarts and replicas), reading it back from a request, and the
//! `Set-Cookie` value.

use std::time::{Duration, SystemTime};

use http::header::{HeaderMap, HeaderValue};

use crate::cookies::cookie_value;
use crate::spec::{Affinity, Origin};

/// The token of endpoint `address` of the backend `origin`: FNV-1a over both, so every replica
/// and every table build computes the same one, and the same address under another Service
/// is another endpoint.
pub fn endpoint_token(origin: Option<&Origin>, address: &std::net::SocketAddr) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let text = match origin {
        Some(o) => format!("{}/{}:{}|{address}", o.namespace, o.service, o.port),
        None => format!("|{address}"),
    };
    text.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// The token in the request's affinity cookie, if it carries a well-formed one.
pub fn cookie_token(headers: &HeaderMap, cookie: &str) -> Option<u64> {
    cookie_value(headers, cookie)
        .filter(|value| value.len() == 16)
        .and_then(|value| u64::from_str_radix(value, 16).ok())
}

/// The `Set-Cookie` value naming endpoint `token`; `https` says whether the request came over
/// TLS (for `Secure` when the policy leaves it to the scheme).
pub fn set_cookie(affinity: &Affinity, token: u64, https: bool, now: SystemTime) -> HeaderValue {
    let mut text = format!("{}={token:016x}; Path={}", affinity.cookie, affinity.path);
    if let Some(domain) = &affinity.domain {
        text.push_str(&format!("; Domain={domain}"));
    }
    if let Some(max_age) = affinity.max_age {
        text.push_str(&format!("; Max-Age={max_age}"));
    }
    if let Some(expires) = affinity.expires {
        let at = now + Duration::from_secs(expires);
        text.push_str(&format!("; Expires={}", httpdate::fmt_http_date(at)));
    }
    if affinity.secure.unwrap_or(https) {
        text.push_str("; Secure");
    }
    text.push_str("; HttpOnly");
    if let Some(same_site) = &affinity.same_site {
        text.push_str(&format!("; SameSite={same_site}"));
    }
    // Every part was validated at translation; a value that still fails sets no cookie
    // rather than a broken one.
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header;

    fn affinity() -> Affinity {
        Affinity {
            cookie: "INGRESSCOOKIE".into(),
            path: "/app".into(),
            max_age: Some(3600),
            expires: Some(60),
            same_site: Some("None".into()),
            secure: None,
            domain: None,
        }
    }

    #[test]
    fn tokens_are_stable_and_per_service() {
        let origin = |service: &str| Origin {
            namespace: "shop".into(),
            ingress: "web".into(),
            service: service.into(),
            port: "80".into(),
        };
        let address = "10.0.0.1:8080".parse().expect("valid");
        let a = endpoint_token(Some(&origin("a")), &address);
        assert_eq!(a, endpoint_token(Some(&origin("a")), &address));
        assert_ne!(a, endpoint_token(Some(&origin("b")), &address));
        // The Ingress is not part of it: two Ingresses on one Service share sessions.
        let other_ingress = Origin {
            ingress: "other".into(),
            ..origin("a")
        };
        assert_eq!(a, endpoint_token(Some(&other_ingress), &address));
    }

    #[test]
    fn the_cookie_round_trips() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let value = set_cookie(&affinity(), 0xabc, true, now);
        assert_eq!(
            value,
            "INGRESSCOOKIE=0000000000000abc; Path=/app; Max-Age=3600; Expires=Tue, 14 Nov 2023 22:14:20 GMT; Secure; HttpOnly; SameSite=None"
        );
        let plain = set_cookie(&affinity(), 1, false, now);
        assert!(!plain.to_str().expect("ascii").contains("Secure"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; INGRESSCOOKIE=0000000000000abc"),
        );
        assert_eq!(cookie_token(&headers, "INGRESSCOOKIE"), Some(0xabc));
        headers.insert(header::COOKIE, HeaderValue::from_static("INGRESSCOOKIE=zz"));
        assert_eq!(cookie_token(&headers, "INGRESSCOOKIE"), None);
    }
}
