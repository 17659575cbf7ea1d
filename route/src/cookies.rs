//! Reading one cookie from a request's `Cookie` headers (RFC 6265 §5.4 syntax), for cookie
//! conditions and affinity alike.

use http::header::{self, HeaderMap};

/// The value of cookie `name` in the request's `Cookie` headers, surrounding quotes dropped.
pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key.trim() == name).then(|| value.trim().trim_matches('"'))
        })
}
