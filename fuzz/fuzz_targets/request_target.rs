//! A request's target and host → `portcullis_route::request_target::normalise_path` and
//! `check_host`, and the proxy's use of both, `portcullis_proxy::request_head::settle`, on an
//! HTTP/1.1 and an HTTP/2 request. The input is one line or two: the whole input goes to
//! `normalise_path` and `check_host`; for the request, the first line is its target and the
//! second its `Host` header (one line: the same bytes are both).
//!
//! Checks: an accepted path starts with `/`, has no `.` or `..` segment and no percent-encoded
//! dot (nor any other encoded unreserved character), and normalises to itself; an accepted
//! host is ASCII without `/`, `?`, `#`, `@` or whitespace and is returned unchanged; a request
//! the proxy settles carries the normalised path and a host `check_host` accepts.
#![no_main]

use http::header::{self, HeaderValue};
use http::{Request, Uri, Version};
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::debug;
use portcullis_proxy::request_head::settle;
use portcullis_route::request_target::{check_host, normalise_path};

fuzz_target!(|data: &[u8]| {
    check_path_bytes(data);
    let host = check_host(data);
    debug(|| format!("check_host: {host:?}"));
    if let Ok(host) = host {
        assert_eq!(host.as_bytes(), data, "check_host changed the host");
        assert!(
            host.bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'@')),
            "accepted host {host:?}"
        );
    }
    check_request(data);
});

fn check_path_bytes(path: &[u8]) {
    if let Ok(path) = std::str::from_utf8(path) {
        check_path(path);
    }
}

fn check_path(path: &str) {
    let normal = normalise_path(path);
    debug(|| format!("normalise_path: {normal:?}"));
    let Ok(normal) = normal else {
        return;
    };
    assert!(normal.starts_with('/'), "{path:?} -> {normal:?}");
    assert!(
        !normal
            .split('/')
            .any(|segment| segment == "." || segment == ".."),
        "{path:?} -> {normal:?} keeps a dot segment"
    );
    let bytes = normal.as_bytes();
    for (i, window) in bytes.windows(3).enumerate() {
        if window[0] == b'%' {
            let byte = std::str::from_utf8(&window[1..])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            let unreserved = byte.is_some_and(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
            });
            assert!(
                !unreserved,
                "{path:?} -> {normal:?} keeps an encoded {:?} at {i}",
                byte
            );
        }
    }
    assert_eq!(
        normalise_path(&normal).as_deref(),
        Ok(&*normal),
        "not idempotent: {path:?} -> {normal:?}"
    );
}

/// A request of the input's target (when `http` parses it as a URI) and `Host` header (when
/// it is a valid header value), through the proxy's `settle`.
fn check_request(data: &[u8]) {
    let (target, host) = match data.iter().position(|&b| b == b'\n') {
        Some(newline) => (&data[..newline], &data[newline + 1..]),
        None => (data, data),
    };
    check_path_bytes(target);
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };
    let host = HeaderValue::from_bytes(host).ok();
    for version in [Version::HTTP_11, Version::HTTP_2] {
        let mut request = Request::new(());
        *request.uri_mut() = uri.clone();
        *request.version_mut() = version;
        if let Some(host) = &host {
            request.headers_mut().insert(header::HOST, host.clone());
        }
        let settled = settle(&request);
        debug(|| format!("settle {version:?}: {settled:?}"));
        let Ok(target) = settled else {
            continue;
        };
        let normal = normalise_path(uri.path()).expect("settle accepted the path");
        assert_eq!(
            target.path_and_query.path(),
            normal,
            "settled path for {uri}"
        );
        assert_eq!(
            target.path_and_query.query(),
            uri.query(),
            "settled query for {uri}"
        );
        let host = target.host_str();
        if !host.is_empty() {
            assert!(check_host(host.as_bytes()).is_ok(), "settled host {host:?}");
        }
    }
}
