//! The proxy's own answers: small plain-text bodies that say what happened and whose fault.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use portcullis_route::request_target::{HostRejection, PathRejection};

/// Why the proxy answers itself instead of an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyAnswer {
    /// The request's host is missing, repeated or malformed (the client's fault).
    BadHost(HostRejection),
    /// The request's path cannot be matched safely (the client's fault).
    BadPath(PathRejection),
    /// The client's request body was malformed (bad chunked framing, cut short).
    BadClientBody,
    /// The client stopped sending its request body for longer than the body timeout.
    ClientBodyTimedOut,
    /// The request body is longer than the route allows.
    BodyTooLarge,
    /// The client's address is outside the route's allowed source ranges.
    SourceForbidden,
    /// The route's rewrite or redirect produced no valid URL (see the controller log).
    RouteMisconfigured,
    /// No Ingress routes this host and path.
    NoRoute,
    /// The route's Service has no ready endpoint.
    NoReadyEndpoint,
    /// The route's backend is misconfigured (see the controller log).
    BackendMisconfigured,
    /// The route's backend reference is invalid (Gateway API: 500, see the controller log).
    BackendInvalid,
    /// Every endpoint refused or failed the connection, or the upstream broke the exchange.
    UpstreamFailed,
    /// The upstream did not answer in time.
    UpstreamTimedOut,
    /// The upstream's response was malformed or unasked for (both Content-Length and
    /// Transfer-Encoding, a protocol switch nobody asked for).
    UpstreamInvalid,
}

impl ProxyAnswer {
    /// The status code of this answer.
    pub fn status(self) -> StatusCode {
        match self {
            ProxyAnswer::BadHost(_) | ProxyAnswer::BadPath(_) | ProxyAnswer::BadClientBody => {
                StatusCode::BAD_REQUEST
            }
            ProxyAnswer::ClientBodyTimedOut => StatusCode::REQUEST_TIMEOUT,
            ProxyAnswer::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyAnswer::SourceForbidden => StatusCode::FORBIDDEN,
            ProxyAnswer::RouteMisconfigured | ProxyAnswer::BackendInvalid => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ProxyAnswer::NoRoute => StatusCode::NOT_FOUND,
            ProxyAnswer::NoReadyEndpoint | ProxyAnswer::BackendMisconfigured => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyAnswer::UpstreamFailed | ProxyAnswer::UpstreamInvalid => StatusCode::BAD_GATEWAY,
            ProxyAnswer::UpstreamTimedOut => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    fn body(self) -> String {
        let text = match self {
            ProxyAnswer::BadHost(reason) => return format!("400 Bad Request: {reason}\n"),
            ProxyAnswer::BadPath(reason) => return format!("400 Bad Request: {reason}\n"),
            ProxyAnswer::BadClientBody => "400 Bad Request: the request body is malformed\n",
            ProxyAnswer::ClientBodyTimedOut => {
                "408 Request Timeout: the request body stopped arriving\n"
            }
            ProxyAnswer::UpstreamInvalid => {
                "502 Bad Gateway: the upstream sent a malformed response\n"
            }
            ProxyAnswer::BodyTooLarge => {
                "413 Content Too Large: the request body is longer than this route allows\n"
            }
            ProxyAnswer::SourceForbidden => {
                "403 Forbidden: this route is not open to the client's address\n"
            }
            ProxyAnswer::RouteMisconfigured => {
                "500 Internal Server Error: this route's rewrite produced no valid URL (see the ingress controller log)\n"
            }
            ProxyAnswer::NoRoute => "404 Not Found: no Ingress rule matches this host and path\n",
            ProxyAnswer::NoReadyEndpoint => {
                "503 Service Unavailable: the backend has no ready endpoint\n"
            }
            ProxyAnswer::BackendMisconfigured => {
                "503 Service Unavailable: the backend is misconfigured (see the ingress controller log)\n"
            }
            ProxyAnswer::BackendInvalid => {
                "500 Internal Server Error: this route's backend reference is invalid (see the controller log)\n"
            }
            ProxyAnswer::UpstreamFailed => {
                "502 Bad Gateway: the upstream could not be reached or failed\n"
            }
            ProxyAnswer::UpstreamTimedOut => {
                "504 Gateway Timeout: the upstream did not answer in time\n"
            }
        };
        text.to_owned()
    }

    /// The response, with `text/plain` and no caching.
    pub fn response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.body())));
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
            (ProxyAnswer::BadHost(HostRejection::Duplicate), 400),
            (ProxyAnswer::BadPath(PathRejection::HiddenDotSegment), 400),
            (ProxyAnswer::BadClientBody, 400),
            (ProxyAnswer::ClientBodyTimedOut, 408),
            (ProxyAnswer::BodyTooLarge, 413),
            (ProxyAnswer::SourceForbidden, 403),
            (ProxyAnswer::RouteMisconfigured, 500),
            (ProxyAnswer::UpstreamInvalid, 502),
            (ProxyAnswer::NoRoute, 404),
            (ProxyAnswer::NoReadyEndpoint, 503),
            (ProxyAnswer::BackendMisconfigured, 503),
            (ProxyAnswer::BackendInvalid, 500),
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
