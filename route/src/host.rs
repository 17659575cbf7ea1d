//! Turns a `Host` header or `:authority` into the form the routing table is keyed by.

use std::borrow::Cow;

/// Lower-cases the host and drops the port and a trailing dot; allocates only when the input
/// has upper-case letters. IPv6 literals keep their brackets: `[::1]:80` becomes `[::1]`.
#[inline]
pub fn normalize_host(raw: &str) -> Cow<'_, str> {
    let without_port = strip_port(raw);
    let trimmed = without_port.strip_suffix('.').unwrap_or(without_port);
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    }
}

/// The suffix a `*.suffix` wildcard rule would store for this normalized host, if the host has
/// a non-empty first label and at least one more label.
#[inline]
pub fn wildcard_suffix(host: &str) -> Option<&str> {
    let (first, rest) = host.split_once('.')?;
    if first.is_empty() || rest.is_empty() || host.starts_with('[') {
        None
    } else {
        Some(rest)
    }
}

/// The suffixes of a normalized host after one or more labels, longest first
/// (`a.b.example.com` gives `b.example.com`, `example.com`, `com`): where Gateway API
/// wildcards, which span any number of labels, are looked up.
#[inline]
pub fn label_suffixes(host: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(wildcard_suffix(host), |rest| wildcard_suffix(rest))
}

/// The host part of a `Host` header value, as sent (case kept), without its port.
#[inline]
pub fn strip_port(raw: &str) -> &str {
    if raw.starts_with('[') {
        // IPv6 literal: keep up to and including the closing bracket.
        return match raw.find(']') {
            Some(end) => &raw[..=end],
            None => raw,
        };
    }
    match raw.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_port_and_trailing_dot() {
        let cases = [
            ("foo.example.com", "foo.example.com"),
            ("Foo.Example.COM", "foo.example.com"),
            ("foo.example.com:8080", "foo.example.com"),
            ("foo.example.com.", "foo.example.com"),
            ("FOO.example.com.:443", "foo.example.com"),
            ("[::1]:8080", "[::1]"),
            ("[::1]", "[::1]"),
            ("127.0.0.1:80", "127.0.0.1"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_host(raw), want, "input {raw:?}");
        }
    }

    #[test]
    fn borrows_when_already_lower_case() {
        assert!(matches!(normalize_host("a.b:1"), Cow::Borrowed("a.b")));
    }

    #[test]
    fn wildcard_suffix_takes_exactly_one_label() {
        assert_eq!(wildcard_suffix("bar.foo.com"), Some("foo.com"));
        assert_eq!(wildcard_suffix("baz.bar.foo.com"), Some("bar.foo.com"));
        assert_eq!(wildcard_suffix("foo"), None);
        assert_eq!(wildcard_suffix(".foo.com"), None);
        assert_eq!(wildcard_suffix("foo."), None);
    }
}
