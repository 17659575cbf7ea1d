//! What a request asks for, checked once before routing: its host (RFC 9112 §3.2, RFC 3986
//! §3.2.2) and its path with dot segments removed (RFC 3986 §5.2.4), so that the rule that
//! matches and the path the backend receives can never disagree.
//!
//! Decoded before matching: percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`,
//! RFC 3986 §2.3), which includes encoded dots (`%2e`). Everything else that is encoded (an
//! encoded slash `%2F`, backslash `%5C`, `?`, `#`, non-ASCII bytes) is passed through as sent,
//! hex digits upper-cased, and is not a separator for matching. A dot segment that a backend
//! could still see after decoding one of those (`/api/..%2fadmin`, `..%5c`, Tomcat's `..;`) is
//! refused, as is a malformed `%` escape: a backend must not be able to read a path under a
//! different rule than the one that matched.

use std::borrow::Cow;
use std::net::Ipv6Addr;

/// Why a request's host cannot be served (the client's fault: answer 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostRejection {
    /// The host is empty.
    #[error("the host is empty")]
    Empty,
    /// More than one `Host` header line.
    #[error("more than one Host header")]
    Duplicate,
    /// An HTTP/1.1 request without a `Host` header.
    #[error("an HTTP/1.1 request must carry a Host header")]
    Missing,
    /// `Host` and the request's authority (HTTP/2 `:authority`) name different hosts.
    #[error("the Host header and the request's authority differ")]
    Mismatch,
    /// The host has a `user@` part.
    #[error("the host carries user information")]
    UserInfo,
    /// A byte that no host name may contain (`/`, `?`, `#`, space, non-ASCII, ...).
    #[error("the host contains a character no host name may contain")]
    BadCharacter,
    /// An empty label (`a..b`, a leading dot).
    #[error("the host has an empty label")]
    EmptyLabel,
    /// A port that is empty, not a number or above 65535.
    #[error("the host's port is not a number from 0 to 65535")]
    BadPort,
    /// A bracketed literal that is not an IPv6 address.
    #[error("the host's IP literal is not an IPv6 address")]
    BadIpLiteral,
}

/// Why a request's path cannot be served (the client's fault: answer 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathRejection {
    /// Not origin-form (`/…`): `*` and authority-form targets are not proxied.
    #[error("the path does not start with '/'")]
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    #[error("the path has a malformed percent escape")]
    BadEscape,
    /// A `.` or `..` segment hidden behind an encoded slash or backslash, a raw backslash or a
    /// `;` parameter, which some backends resolve and we would not.
    #[error("the path has a dot segment behind an encoded separator or parameter")]
    HiddenDotSegment,
}

/// Checks a `Host` header value or an authority: `host[:port]`, where host is a name of
/// unreserved characters with no empty label, an IPv4 address, or a bracketed IPv6 address.
/// Returns it as text, unchanged (case and port kept).
pub fn check_host(value: &[u8]) -> Result<&str, HostRejection> {
    if value.is_empty() {
        return Err(HostRejection::Empty);
    }
    if value.contains(&b'@') {
        return Err(HostRejection::UserInfo);
    }
    let (host, port) = split_port(value)?;
    if let Some(port) = port {
        let digits_ok = !port.is_empty() && port.len() <= 5 && port.iter().all(u8::is_ascii_digit);
        if !digits_ok || port.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) > 65535 {
            return Err(HostRejection::BadPort);
        }
    }
    if let Some(literal) = host.strip_prefix(b"[") {
        let inner = literal
            .strip_suffix(b"]")
            .ok_or(HostRejection::BadIpLiteral)?;
        let text = std::str::from_utf8(inner).map_err(|_| HostRejection::BadIpLiteral)?;
        text.parse::<Ipv6Addr>()
            .map_err(|_| HostRejection::BadIpLiteral)?;
    } else {
        check_name(host)?;
    }
    // Only ASCII passed the checks above.
    std::str::from_utf8(value).map_err(|_| HostRejection::BadCharacter)
}

/// Splits `host[:port]`; a bracketed literal's colons are not a port separator.
fn split_port(value: &[u8]) -> Result<(&[u8], Option<&[u8]>), HostRejection> {
    if value.starts_with(b"[") {
        let close = value
            .iter()
            .position(|&b| b == b']')
            .ok_or(HostRejection::BadIpLiteral)?;
        let (host, rest) = value.split_at(close + 1);
        return match rest {
            [] => Ok((host, None)),
            [b':', port @ ..] => Ok((host, Some(port))),
            _ => Err(HostRejection::BadIpLiteral),
        };
    }
    Ok(match value.iter().position(|&b| b == b':') {
        Some(colon) => (&value[..colon], Some(&value[colon + 1..])),
        None => (value, None),
    })
}

fn check_name(name: &[u8]) -> Result<(), HostRejection> {
    if name.is_empty() {
        return Err(HostRejection::Empty);
    }
    if !name.iter().all(|&b| is_unreserved(b)) {
        return Err(HostRejection::BadCharacter);
    }
    // A single trailing dot is the root label (`example.com.`); any other empty label is not.
    let labels = name.strip_suffix(b".").unwrap_or(name);
    if labels.is_empty() || labels.split(|&b| b == b'.').any(<[u8]>::is_empty) {
        return Err(HostRejection::EmptyLabel);
    }
    Ok(())
}

/// The path to match and to send upstream: percent-encoded unreserved characters decoded,
/// other escapes upper-cased, `.` and `..` segments removed (RFC 3986 §5.2.4). Borrows when the
/// path is already normal, which is the common case and costs one scan.
///
/// An accepted path starts with `/`, has no `.` or `..`
/// segment and no encoded unreserved character, and normalising it again returns it unchanged.
pub fn normalise_path(path: &str) -> Result<Cow<'_, str>, PathRejection> {
    if !path.starts_with('/') {
        return Err(PathRejection::NotAbsolute);
    }
    if is_normal(path.as_bytes()) {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode_unreserved(path.as_bytes())?;
    let mut out = String::with_capacity(decoded.len());
    let mut kept: Vec<usize> = Vec::new();
    let segments = decoded.split('/').skip(1);
    let last = decoded.split('/').count() - 2;
    for (index, segment) in segments.enumerate() {
        if hides_dot_segment(segment) {
            return Err(PathRejection::HiddenDotSegment);
        }
        let is_last = index == last;
        match segment {
            "." => {
                if is_last {
                    out.push('/');
                }
            }
            ".." => {
                if let Some(start) = kept.pop() {
                    out.truncate(start);
                }
                if is_last {
                    out.push('/');
                }
            }
            _ => {
                kept.push(out.len());
                out.push('/');
                out.push_str(segment);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    if out == path {
        return Ok(Cow::Borrowed(path));
    }
    Ok(Cow::Owned(out))
}

/// True when nothing needs decoding or resolving: no `%`, no backslash, no segment or `;`
/// parameter starting with a dot.
#[inline]
fn is_normal(path: &[u8]) -> bool {
    let mut previous = b'/';
    for &b in path {
        match b {
            b'%' | b'\\' => return false,
            b'.' if previous == b'/' || previous == b';' => return false,
            _ => {}
        }
        previous = b;
    }
    true
}

/// Decodes `%XX` where it stands for an unreserved character; upper-cases the others.
fn decode_unreserved(path: &[u8]) -> Result<String, PathRejection> {
    let mut out = Vec::with_capacity(path.len());
    let mut rest = path;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let [high, low, ..] = tail else {
                return Err(PathRejection::BadEscape);
            };
            let (Some(h), Some(l)) = (hex_value(*high), hex_value(*low)) else {
                return Err(PathRejection::BadEscape);
            };
            let byte = h * 16 + l;
            if is_unreserved(byte) {
                out.push(byte);
            } else {
                out.extend_from_slice(&[b'%', high.to_ascii_uppercase(), low.to_ascii_uppercase()]);
            }
            rest = &tail[2..];
        } else {
            out.push(b);
            rest = tail;
        }
    }
    // Only whole escapes were rewritten, so UTF-8 input stays UTF-8; the input was a &str.
    String::from_utf8(out).map_err(|_| PathRejection::BadEscape)
}

/// True when a segment, read by a backend that also splits on encoded slashes, backslashes or
/// `;` path parameters, holds a `.` or `..` piece.
fn hides_dot_segment(segment: &str) -> bool {
    if segment == "." || segment == ".." {
        return false;
    }
    segment
        .split(['\\', ';'])
        .flat_map(|piece| piece.split("%2F"))
        .flat_map(|piece| piece.split("%5C"))
        .any(|piece| piece == "." || piece == "..")
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_dot_segments_after_decoding_dots() {
        let cases = [
            ("/", "/"),
            ("/api/x", "/api/x"),
            ("/api/../admin", "/admin"),
            ("/api/%2e%2e/admin", "/admin"),
            ("/api/%2E%2e/admin", "/admin"),
            ("/api/.%2e/admin", "/admin"),
            ("/api/./x", "/api/x"),
            ("/api/.", "/api/"),
            ("/api/..", "/"),
            ("/api/x/..", "/api/"),
            ("/..", "/"),
            ("/../../a", "/a"),
            ("/a/b/../../../c", "/c"),
            ("/a//../b", "/a/b"),
            ("/a/.hidden", "/a/.hidden"),
            ("/a/..b", "/a/..b"),
            ("/a/b..", "/a/b.."),
            ("/%41pi", "/Api"),
            ("/a%7eb", "/a~b"),
            ("/a%2fb", "/a%2Fb"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/a%20b", "/a%20b"),
            ("/a;v=1", "/a;v=1"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalise_path(raw).as_deref(), Ok(want), "input {raw:?}");
        }
    }

    #[test]
    fn borrows_normal_paths() {
        for path in ["/", "/api/v1/items", "/a.b/c.d", "/x;y"] {
            assert!(
                matches!(normalise_path(path), Ok(Cow::Borrowed(_))),
                "{path}"
            );
        }
    }

    #[test]
    fn refuses_dot_segments_a_backend_could_still_resolve() {
        let cases = [
            ("/api/..%2fadmin", PathRejection::HiddenDotSegment),
            ("/api/..%2Fadmin", PathRejection::HiddenDotSegment),
            ("/api/%2e%2e%2fadmin", PathRejection::HiddenDotSegment),
            ("/api/..%5cadmin", PathRejection::HiddenDotSegment),
            ("/api/..\\admin", PathRejection::HiddenDotSegment),
            ("/api/..;/admin", PathRejection::HiddenDotSegment),
            ("/x;../admin", PathRejection::HiddenDotSegment),
            ("/%78;../admin", PathRejection::HiddenDotSegment),
            ("/x;./a", PathRejection::HiddenDotSegment),
            ("/api/x%2f..", PathRejection::HiddenDotSegment),
            ("/a%zz", PathRejection::BadEscape),
            ("/a%2", PathRejection::BadEscape),
            ("/a%", PathRejection::BadEscape),
            ("api", PathRejection::NotAbsolute),
            ("*", PathRejection::NotAbsolute),
            ("", PathRejection::NotAbsolute),
        ];
        for (raw, want) in cases {
            assert_eq!(normalise_path(raw), Err(want), "input {raw:?}");
        }
    }

    #[test]
    fn normalising_is_idempotent() {
        for raw in ["/a/%2e/b/../c/", "/%2e%2e", "/x/%7E/./y", "/a%2fb/../c"] {
            let once = normalise_path(raw).expect("accepted").into_owned();
            assert_eq!(normalise_path(&once).as_deref(), Ok(once.as_str()), "{raw}");
        }
    }

    #[test]
    fn checks_hosts() {
        let good = [
            "p.example",
            "P.Example:8080",
            "127.0.0.1",
            "[::1]:443",
            "[2001:db8::1]",
            "example.com.",
            "my_host",
            "a-b.c",
        ];
        for host in good {
            assert_eq!(check_host(host.as_bytes()), Ok(host), "{host}");
        }
        let bad = [
            ("", HostRejection::Empty),
            ("t.example/x?y", HostRejection::BadCharacter),
            ("a@t.example", HostRejection::UserInfo),
            ("a b", HostRejection::BadCharacter),
            ("t.example#x", HostRejection::BadCharacter),
            ("a..b", HostRejection::EmptyLabel),
            (".a", HostRejection::EmptyLabel),
            (".", HostRejection::EmptyLabel),
            ("a:", HostRejection::BadPort),
            ("a:65536", HostRejection::BadPort),
            ("a:80:80", HostRejection::BadPort),
            ("a:x", HostRejection::BadPort),
            (":80", HostRejection::Empty),
            ("[::1", HostRejection::BadIpLiteral),
            ("[zz]", HostRejection::BadIpLiteral),
            ("[::1]x", HostRejection::BadIpLiteral),
            ("caf\u{e9}.example", HostRejection::BadCharacter),
        ];
        for (host, want) in bad {
            assert_eq!(check_host(host.as_bytes()), Err(want), "{host:?}");
        }
    }
}
