//! The proxy's own answers: small plain-text bodies that say what happened and whose fault.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

/// Why the proxy answers itself instead of an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyAnswer {
    /// No Ingress routes this host and path.
    NoRoute,
    /// The route's Service has no ready endpoint.
    NoReadyEndpoint,
    /// The route's backend is misconfigured (see the controller log).
    BackendMisconfigured,
    /// Every endpoint refused or failed the connection, or the upstream broke the exchange.
    UpstreamFailed,
    /// The upstream did not answer in time.
    UpstreamTimedOut,
}

impl ProxyAnswer {
    /// The status code of this answer.
    pub fn status(self) -> StatusCode {
        match self {
            ProxyAnswer::NoRoute => StatusCode::NOT_FOUND,
            ProxyAnswer::NoReadyEndpoint | ProxyAnswer::BackendMisconfigured => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyAnswer::UpstreamFailed => StatusCode::BAD_GATEWAY,
            ProxyAnswer::UpstreamTimedOut => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    fn body(self) -> &'static str {
        match self {
            ProxyAnswer::NoRoute => "404 Not Found: no Ingress rule matches this host and path\n",
            ProxyAnswer::NoReadyEndpoint => {
                "503 Service Unavailable: the backend has no ready endpoint\n"
            }
            ProxyAnswer::BackendMisconfigured => {
                "503 Service Unavailable: the backend is misconfigured (see the ingress controller log)\n"
            }
            ProxyAnswer::UpstreamFailed => {
                "502 Bad Gateway: the upstream could not be reached or failed\n"
            }
            ProxyAnswer::UpstreamTimedOut => {
                "504 Gateway Timeout: the upstream did not answer in time\n"
            }
        }
    }

    /// The response, with `text/plain` and no caching.
    pub fn response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from_static(self.body().as_bytes())));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_the_answer() {
        let cases = [
            (ProxyAnswer::NoRoute, 404),
            (ProxyAnswer::NoReadyEndpoint, 503),
            (ProxyAnswer::BackendMisconfigured, 503),
            (ProxyAnswer::UpstreamFailed, 502),
            (ProxyAnswer::UpstreamTimedOut, 504),
        ];
        for (answer, status) in cases {
            let response = answer.response();
            assert_eq!(response.status().as_u16(), status);
            assert!(answer.body().starts_with(&status.to_string()));
        }
    }
}
