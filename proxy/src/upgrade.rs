//! Upgrade requests: only the protocols we mean to tunnel (WebSocket) are forwarded and then
//! tunnelled byte for byte. Any other `Upgrade` (`h2c` above all, which would turn the
//! connection into a tunnel carrying requests no rule exposes) is stripped, and the request is
//! forwarded as a plain one.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tracing::debug;

/// A protocol the proxy tunnels after a `101 Switching Protocols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpgradeProtocol {
    /// RFC 6455.
    WebSocket,
}

impl UpgradeProtocol {
    /// The `Upgrade` header value sent upstream.
    pub fn header_value(self) -> HeaderValue {
        match self {
            UpgradeProtocol::WebSocket => HeaderValue::from_static("websocket"),
        }
    }
}

/// The protocol an HTTP/1.1 request asks to switch to (`Connection: upgrade` plus an
/// `Upgrade` header), if it is one we tunnel.
pub fn upgrade_protocol<B>(request: &Request<B>) -> Option<UpgradeProtocol> {
    if request.version() != Version::HTTP_11 || !connection_has_upgrade(request.headers()) {
        return None;
    }
    request
        .headers()
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| {
            let name = token.trim().split('/').next().unwrap_or("");
            name.eq_ignore_ascii_case("websocket")
        })
        .then_some(UpgradeProtocol::WebSocket)
}

fn connection_has_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// Once both sides have switched protocols, copies bytes both ways until either side closes.
pub async fn tunnel(client: OnUpgrade, upstream: OnUpgrade) {
    let (client, upstream) = tokio::join!(client, upstream);
    match (client, upstream) {
        (Ok(client), Ok(upstream)) => {
            let mut client = TokioIo::new(client);
            let mut upstream = TokioIo::new(upstream);
            match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                Ok((up, down)) => debug!(up, down, "upgraded connection closed"),
                Err(error) => debug!("upgraded connection ended: {error}"),
            }
        }
        (client, upstream) => debug!(
            client_ok = client.is_ok(),
            upstream_ok = upstream.is_ok(),
            "upgrade did not complete"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(connection: &str, upgrade: &str) -> Request<()> {
        Request::get("/ws")
            .header("connection", connection)
            .header("upgrade", upgrade)
            .body(())
            .expect("request")
    }

    #[test]
    fn tunnels_websocket_only() {
        let cases = [
            (
                "keep-alive, Upgrade",
                "websocket",
                Some(UpgradeProtocol::WebSocket),
            ),
            ("upgrade", "WebSocket", Some(UpgradeProtocol::WebSocket)),
            (
                "upgrade",
                "h2c, websocket",
                Some(UpgradeProtocol::WebSocket),
            ),
            ("Upgrade, HTTP2-Settings", "h2c", None),
            ("upgrade", "TLS/1.2", None),
            ("keep-alive", "websocket", None),
        ];
        for (connection, upgrade, want) in cases {
            assert_eq!(
                upgrade_protocol(&request(connection, upgrade)),
                want,
                "{connection} / {upgrade}"
            );
        }
    }
}
