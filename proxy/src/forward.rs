//! One request: route it, rewrite headers, send it upstream (retrying a failed connect on the
//! next endpoint), and answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::uri::{PathAndQuery, Scheme, Uri};
use http::{Request, Response, StatusCode, Version};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tracing::debug;

use crate::error_responses::ProxyAnswer;
use crate::forwarded_headers::{ClientSide, X_REQUEST_ID, add_forwarding, strip_hop_by_hop};
use crate::live::LiveTable;
use crate::metrics::Metrics;
use crate::retryable_body::{RetryableBody, ReturnSlot};
use crate::upgrade::{is_upgrade_request, tunnel};
use portcullis_route::host::strip_port;
use portcullis_route::table::{EndpointSet, Route, RouteTarget};

/// What the proxy sends back: an upstream's body, or one of its own small answers.
pub type ProxyBody = Either<Incoming, Full<Bytes>>;

/// The upstream HTTP client: pooled keep-alive connections per endpoint.
pub type UpstreamClient = Client<HttpConnector, RetryableBody>;

/// Everything a request needs that outlives it: the table, the client, the counters.
#[derive(Debug)]
pub struct Forwarder {
    table: Arc<LiveTable>,
    metrics: Arc<Metrics>,
    client: UpstreamClient,
    response_timeout: Duration,
}

/// The downstream connection a request arrived on.
#[derive(Debug, Clone, Copy)]
pub struct Downstream {
    /// The client's address.
    pub peer: SocketAddr,
    /// The local port the client connected to.
    pub local_port: u16,
    /// `http` or `https`.
    pub scheme: &'static str,
}

impl Forwarder {
    /// A forwarder reading `table`, counting into `metrics`, sending with `client`.
    pub fn new(
        table: Arc<LiveTable>,
        metrics: Arc<Metrics>,
        client: UpstreamClient,
        response_timeout: Duration,
    ) -> Self {
        Forwarder {
            table,
            metrics,
            client,
            response_timeout,
        }
    }

    /// Handles one request end to end; never fails: problems become 404/502/503/504.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        downstream: Downstream,
    ) -> Response<ProxyBody> {
        let started = Instant::now();
        let host = request_host(&request);
        let route: Arc<Route> = {
            let table = self.table.load();
            let host = host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or("");
            Arc::clone(table.find(host, request.uri().path()))
        };
        let redirect = match (&host, route.https_redirect && downstream.scheme == "http") {
            (Some(host), true) => https_redirect(host, request.uri()),
            _ => None,
        };
        let response = match (redirect, &route.target) {
            (Some(redirect), _) => redirect,
            (None, RouteTarget::Endpoints(endpoints)) if !endpoints.is_empty() => {
                self.forward(request, endpoints, downstream, host).await
            }
            (None, RouteTarget::Endpoints(_)) => own(ProxyAnswer::NoReadyEndpoint),
            (None, RouteTarget::Unavailable(reason)) => {
                debug!(origin = ?route.origin, "503: {reason}");
                own(ProxyAnswer::BackendMisconfigured)
            }
            (None, _) => own(ProxyAnswer::NoRoute),
        };
        route
            .metrics
            .record(response.status().as_u16(), started.elapsed());
        response
    }

    async fn forward(
        &self,
        mut request: Request<Incoming>,
        endpoints: &EndpointSet,
        downstream: Downstream,
        host: Option<HeaderValue>,
    ) -> Response<ProxyBody> {
        let upgrade = is_upgrade_request(&request);
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();
        strip_hop_by_hop(&mut parts.headers, upgrade);
        let client = ClientSide {
            peer: downstream.peer,
            scheme: downstream.scheme,
            local_port: downstream.local_port,
            host,
        };
        let request_id = add_forwarding(&mut parts.headers, client);
        let path = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));

        let attempts = endpoints.len();
        let mut body = Some(body);
        let mut outcome = Err(ProxyAnswer::UpstreamFailed);
        for (attempt, endpoint) in endpoints.round_robin().enumerate() {
            let Some(this_body) = body.take() else { break };
            let last = attempt + 1 == attempts;
            let headers = if last {
                std::mem::take(&mut parts.headers)
            } else {
                parts.headers.clone()
            };
            let slot = ReturnSlot::default();
            let mut upstream = Request::new(RetryableBody::new(this_body, Arc::clone(&slot)));
            *upstream.method_mut() = parts.method.clone();
            *upstream.uri_mut() = upstream_uri(&endpoint.authority, &path);
            *upstream.version_mut() = Version::HTTP_11;
            *upstream.headers_mut() = headers;
            match tokio::time::timeout(self.response_timeout, self.client.request(upstream)).await {
                Ok(Ok(response)) => {
                    outcome = Ok(response);
                    break;
                }
                Ok(Err(error)) if error.is_connect() => {
                    self.metrics
                        .proxy
                        .upstream_connect_failures
                        .fetch_add(1, Ordering::Relaxed);
                    debug!(endpoint = %endpoint.address, "upstream connect failed: {error}");
                    body = RetryableBody::reclaim(&slot);
                    if !last && body.is_some() {
                        self.metrics
                            .proxy
                            .upstream_retries
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(Err(error)) => {
                    debug!(endpoint = %endpoint.address, "upstream request failed: {error}");
                    break;
                }
                Err(_) => {
                    self.metrics
                        .proxy
                        .upstream_timeouts
                        .fetch_add(1, Ordering::Relaxed);
                    outcome = Err(ProxyAnswer::UpstreamTimedOut);
                    break;
                }
            }
        }
        let mut response = match outcome {
            Ok(response) => response,
            Err(answer) => return own(answer),
        };
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client_upgrade) = client_upgrade {
                let upstream_upgrade = hyper::upgrade::on(&mut response);
                tokio::spawn(tunnel(client_upgrade, upstream_upgrade));
            }
        } else {
            strip_hop_by_hop(response.headers_mut(), false);
        }
        set_request_id(response.headers_mut(), request_id);
        response.map(Either::Left)
    }
}

/// A 308 to the same host (default HTTPS port), path and query over `https://`.
fn https_redirect(host: &HeaderValue, uri: &Uri) -> Option<Response<ProxyBody>> {
    let host = strip_port(host.to_str().ok()?);
    let path = uri.path_and_query().map_or("/", PathAndQuery::as_str);
    let location = HeaderValue::try_from(format!("https://{host}{path}")).ok()?;
    let mut response = Response::new(Either::Right(Full::new(Bytes::from_static(
        b"308 Permanent Redirect: this host is served over HTTPS\n",
    ))));
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Some(response)
}

/// The host the client asked for: the URI authority (HTTP/2, absolute-form), else `Host`.
fn request_host(request: &Request<Incoming>) -> Option<HeaderValue> {
    match request.uri().authority() {
        Some(authority) => HeaderValue::from_str(authority.as_str()).ok(),
        None => request.headers().get(header::HOST).cloned(),
    }
}

fn upstream_uri(authority: &http::uri::Authority, path: &PathAndQuery) -> Uri {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(authority.clone());
    parts.path_and_query = Some(path.clone());
    // Scheme, authority and path all come from already-valid values.
    Uri::from_parts(parts).unwrap_or_default()
}

fn set_request_id(headers: &mut HeaderMap, id: HeaderValue) {
    if !headers.contains_key(&X_REQUEST_ID) {
        headers.insert(&X_REQUEST_ID, id);
    }
}

fn own(answer: ProxyAnswer) -> Response<ProxyBody> {
    answer.response().map(Either::Right)
}
