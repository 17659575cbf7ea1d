//! ingress-nginx's `custom-http-errors` and `default-backend`: an answer the route lists (or a
//! route with no ready endpoint) is asked of the error backend instead, which is told what
//! happened in `X-Code`, `X-Format`, `X-Original-URI`, `X-Namespace`, `X-Ingress-Name`,
//! `X-Service-Name`, `X-Service-Port` and `X-Request-ID`, and answers in its place.

use std::net::IpAddr;

use http::header::{self, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Version};
use portcullis_route::spec::UpstreamProtocol;
use portcullis_route::table::{CompiledErrorPages, Route, RouteTarget};

use crate::forward::{Downstream, upstream_uri};
use crate::forwarded_headers::{X_FORWARDED_FOR, X_REQUEST_ID, new_request_id};
use crate::request_head::Target;
use crate::retryable_body::RetryableBody;
use crate::upstream_clients::UpstreamClients;

static X_CODE: HeaderName = HeaderName::from_static("x-code");
static X_FORMAT: HeaderName = HeaderName::from_static("x-format");
static X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
static X_NAMESPACE: HeaderName = HeaderName::from_static("x-namespace");
static X_INGRESS_NAME: HeaderName = HeaderName::from_static("x-ingress-name");
static X_SERVICE_NAME: HeaderName = HeaderName::from_static("x-service-name");
static X_SERVICE_PORT: HeaderName = HeaderName::from_static("x-service-port");

/// What of the original request the error backend is told, taken before the request goes
/// upstream (only on routes with error pages).
#[derive(Debug, Clone)]
pub struct ErrorContext {
    method: Method,
    target: PathAndQuery,
    accept: Option<HeaderValue>,
    host: Option<HeaderValue>,
    request_id: Option<HeaderValue>,
    client: IpAddr,
}

/// Why the error backend is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCause {
    /// The upstream answered this listed status: the error backend gets path `/`.
    Intercepted(u16),
    /// The route's backend has no ready endpoint: the original path, `X-Code: 503`.
    Unavailable,
}

impl ErrorContext {
    /// Captures the request's method, target, `Accept`, host and request id, and the client.
    pub fn of<B>(request: &Request<B>, target: &Target, downstream: &Downstream) -> Self {
        ErrorContext {
            method: request.method().clone(),
            target: target.path_and_query.clone(),
            accept: request.headers().get(header::ACCEPT).cloned(),
            host: target.host.clone(),
            request_id: request.headers().get(&X_REQUEST_ID).cloned(),
            client: downstream.client_address(),
        }
    }
}

/// True when `pages` answers instead of an upstream status `status`.
pub fn intercepts(pages: &CompiledErrorPages, status: u16) -> bool {
    pages.codes.contains(&status)
}

/// What the error backend is.
#[derive(Debug)]
pub enum ErrorBackend {
    /// Ask it this.
    Ask(Box<Request<RetryableBody>>),
    /// The built-in 404 backend.
    BuiltInNotFound,
}

/// The error backend's request for `cause`, to one of its endpoints; `None` when it has no
/// ready endpoint (the caller keeps its own answer).
pub fn error_request(
    pages: &CompiledErrorPages,
    route: &Route,
    context: &ErrorContext,
    cause: ErrorCause,
) -> Option<ErrorBackend> {
    let endpoints = match &pages.upstream.target {
        RouteTarget::Endpoints(set) if !set.is_empty() => set,
        RouteTarget::NotFound => return Some(ErrorBackend::BuiltInNotFound),
        _ => return None,
    };
    let endpoint = endpoints.round_robin().next()?;
    let (code, target) = match cause {
        ErrorCause::Intercepted(code) => {
            // nginx's `rewrite (.*) / break`: path `/`, the arguments kept.
            let target = match context.target.query() {
                Some(query) => format!("/?{query}"),
                None => "/".to_owned(),
            };
            (code, PathAndQuery::try_from(target).ok()?)
        }
        ErrorCause::Unavailable => (503, context.target.clone()),
    };
    let mut request = Request::new(RetryableBody::empty());
    *request.method_mut() = context.method.clone();
    *request.uri_mut() = upstream_uri(UpstreamProtocol::Http, &endpoint.authority, &target);
    *request.version_mut() = Version::HTTP_11;
    let headers = request.headers_mut();
    headers.insert(&X_CODE, HeaderValue::from(code));
    if let Some(accept) = &context.accept {
        headers.insert(&X_FORMAT, accept.clone());
    }
    if matches!(cause, ErrorCause::Intercepted(_))
        && let Ok(original) = HeaderValue::try_from(context.target.as_str())
    {
        headers.insert(&X_ORIGINAL_URI, original);
    }
    if let Some(origin) = &route.origin {
        for (name, value) in [
            (&X_NAMESPACE, &origin.namespace),
            (&X_INGRESS_NAME, &origin.ingress),
            (&X_SERVICE_NAME, &origin.service),
            (&X_SERVICE_PORT, &origin.port),
        ] {
            if let Ok(value) = HeaderValue::try_from(&**value) {
                headers.insert(name, value);
            }
        }
    }
    headers.insert(
        &X_REQUEST_ID,
        context.request_id.clone().unwrap_or_else(new_request_id),
    );
    if let Ok(client) = HeaderValue::try_from(context.client.to_string()) {
        headers.insert(&X_FORWARDED_FOR, client);
    }
    if let Some(host) = &context.host {
        headers.insert(header::HOST, host.clone());
    }
    Some(ErrorBackend::Ask(Box::new(request)))
}

/// Sends an error backend's request (HTTP/1.1).
pub fn send(
    clients: &UpstreamClients,
    request: Request<RetryableBody>,
) -> hyper_util::client::legacy::ResponseFuture {
    clients.request(UpstreamProtocol::Http, None, request)
}
