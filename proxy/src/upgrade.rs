//! Upgrade requests (WebSocket and others): forwarded, then tunnelled byte for byte.

use http::header::{self, HeaderMap};
use http::{Request, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tracing::debug;

/// True for an HTTP/1.1 request asking to switch protocols (`Connection: upgrade` plus an
/// `Upgrade` header).
pub fn is_upgrade_request<B>(request: &Request<B>) -> bool {
    request.version() == Version::HTTP_11
        && request.headers().contains_key(header::UPGRADE)
        && connection_has_upgrade(request.headers())
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

    #[test]
    fn detects_upgrade_requests() {
        let upgrade = Request::get("/ws")
            .header("connection", "keep-alive, Upgrade")
            .header("upgrade", "websocket")
            .body(())
            .expect("request");
        assert!(is_upgrade_request(&upgrade));
        let plain = Request::get("/")
            .header("upgrade", "websocket")
            .body(())
            .expect("request");
        assert!(!is_upgrade_request(&plain));
    }
}
