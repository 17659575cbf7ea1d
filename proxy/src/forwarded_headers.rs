//! Request and response header rewriting: hop-by-hop removal, X-Forwarded-*, X-Request-Id.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::upgrade::UpgradeProtocol;

/// The `X-Request-Id` header, kept when the client sends one and generated otherwise.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `X-Forwarded-For`, also sent to error backends.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// What the proxy knows about the client side of one request.
#[derive(Debug, Clone)]
pub struct ClientSide {
    /// The client's address.
    pub peer: SocketAddr,
    /// `http` or `https`: the scheme the client used.
    pub scheme: &'static str,
    /// The port the client connected to.
    pub local_port: u16,
    /// The host the client asked for, settled (see [`crate::request_head`]): sent upstream
    /// as `Host` and `X-Forwarded-Host`; with none, neither is sent.
    pub host: Option<HeaderValue>,
}

/// Removes hop-by-hop headers (RFC 9110 §7.6.1), including those named in `Connection`, and
/// `HTTP2-Settings`. For an upgrade we tunnel, `Upgrade` is set to that protocol alone and
/// `Connection: upgrade` is set again.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: Option<UpgradeProtocol>) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    headers.remove(header::CONNECTION);
    headers.remove(&KEEP_ALIVE);
    headers.remove(&PROXY_CONNECTION);
    headers.remove(header::TE);
    headers.remove(header::TRAILER);
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(&HTTP2_SETTINGS);
    match upgrade {
        Some(protocol) => {
            headers.insert(header::UPGRADE, protocol.header_value());
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        }
        None => {
            headers.remove(header::UPGRADE);
        }
    }
}

/// Sets the forwarding headers on an upstream request and returns its request id.
/// `X-Forwarded-For` is appended to; the other forwarding headers are replaced.
pub fn add_forwarding(headers: &mut HeaderMap, client: ClientSide) -> HeaderValue {
    let ip = client.peer.ip().to_string();
    let forwarded_for = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(previous) if !previous.trim().is_empty() => format!("{previous}, {ip}"),
        _ => ip.clone(),
    };
    if let Ok(value) = HeaderValue::try_from(forwarded_for) {
        headers.insert(&X_FORWARDED_FOR, value);
    }
    if let Ok(value) = HeaderValue::try_from(ip) {
        headers.insert(&X_REAL_IP, value);
    }
    headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(client.scheme));
    headers.insert(&X_FORWARDED_PORT, HeaderValue::from(client.local_port));
    match client.host {
        Some(host) => {
            headers.insert(header::HOST, host.clone());
            headers.insert(&X_FORWARDED_HOST, host);
        }
        None => {
            headers.remove(header::HOST);
            headers.remove(&X_FORWARDED_HOST);
        }
    }
    match headers.get(&X_REQUEST_ID) {
        Some(id) if !id.is_empty() => id.clone(),
        _ => {
            let id = new_request_id();
            headers.insert(&X_REQUEST_ID, id.clone());
            id
        }
    }
}

/// 32 random hex digits, as ingress-nginx's `$req_id`.
pub fn new_request_id() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut random = fastrand::u128(..);
    let mut digits = [0u8; 32];
    for digit in &mut digits {
        *digit = HEX[(random & 0xf) as usize];
        random >>= 4;
    }
    // 32 ASCII hex digits are always a valid header value.
    HeaderValue::from_bytes(&digits).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        headers
    }

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut headers = map(&[
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-connection", "keep-alive"),
            ("http2-settings", "AAMAAABkAAQAoAAAAAIAAAAA"),
            ("accept", "*/*"),
        ]);
        strip_hop_by_hop(&mut headers, None);
        let left: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["accept"]);
    }

    #[test]
    fn keeps_upgrade_for_upgrade_requests() {
        let mut headers = map(&[("connection", "Upgrade"), ("upgrade", "h2c, websocket")]);
        strip_hop_by_hop(&mut headers, Some(UpgradeProtocol::WebSocket));
        assert_eq!(headers["upgrade"], "websocket");
        assert_eq!(headers["connection"], "upgrade");
    }

    #[test]
    fn adds_forwarding_headers_and_keeps_a_client_request_id() {
        let client = ClientSide {
            peer: "10.1.2.3:5555".parse().expect("addr"),
            scheme: "http",
            local_port: 8080,
            host: Some(HeaderValue::from_static("shop.example.com")),
        };
        let mut headers = map(&[
            ("x-forwarded-for", "192.0.2.1"),
            ("x-forwarded-proto", "https"),
            ("x-request-id", "abc"),
            ("host", "admin.internal"),
        ]);
        let id = add_forwarding(&mut headers, client.clone());
        assert_eq!(id, "abc");
        assert_eq!(headers["x-forwarded-for"], "192.0.2.1, 10.1.2.3");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-host"], "shop.example.com");
        assert_eq!(headers["x-forwarded-port"], "8080");
        assert_eq!(headers["x-real-ip"], "10.1.2.3");
        assert_eq!(headers["host"], "shop.example.com");

        let mut fresh = HeaderMap::new();
        let id = add_forwarding(&mut fresh, client);
        assert_eq!(id.len(), 32);
        assert_eq!(fresh["x-forwarded-for"], "10.1.2.3");
        assert_ne!(new_request_id(), new_request_id());
    }
}
