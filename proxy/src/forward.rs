//! One request: route it, rewrite headers, send it upstream (retrying a failed connect on the
//! next endpoint), and answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme, Uri};
use http::{Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use tracing::debug;

use tokio::sync::Semaphore;

use crate::error_pages::{self, ErrorBackend, ErrorCause, ErrorContext, error_request, intercepts};
use crate::error_responses::ProxyAnswer;
use crate::forwarded_headers::{ClientSide, X_REQUEST_ID, add_forwarding, strip_hop_by_hop};
use crate::live::LiveTable;
use crate::metrics::Metrics;
use crate::mirror::{CopiedRequest, Mirrors};
use crate::request_head::{Target, settle};
use crate::retryable_body::{Attempt, BodyProgress, RetryableBody, ReturnSlot};
use crate::tls_upstream_names::{endpoint_authority, service_host};
use crate::upgrade::{tunnel, upgrade_protocol};
use crate::upstream_body::UpstreamBody;
use crate::upstream_clients::{UpstreamClients, VerifiedClients};
use portcullis_route::access::{CorsDecision, cors, source_allowed};
use portcullis_route::counters::RouteMetrics;
use portcullis_route::hash_key::{HashFacts, hash_key};
use portcullis_route::host::strip_port;
use portcullis_route::rewrite::{RedirectInput, redirect_location, rewrite_path};
use portcullis_route::spec::{Affinity, Balance, NextUpstream, UpstreamProtocol};
use portcullis_route::sticky::{cookie_token, set_cookie};
use portcullis_route::table::{
    CompiledErrorPages, CompiledHeaderEdits, CompiledMirror, CompiledRedirect, EndpointSet,
    RequestFacts, Route, RouteAction, RouteTarget,
};

/// What the proxy sends back: an upstream's body, or one of its own small answers.
pub type ProxyBody = Either<UpstreamBody, Full<Bytes>>;

/// Everything a request needs that outlives it: the table, the client, the counters.
#[derive(Debug)]
pub struct Forwarder {
    table: Arc<LiveTable>,
    metrics: Arc<Metrics>,
    clients: UpstreamClients,
    timeouts: ForwardTimeouts,
    mirrors: Mirrors,
}

/// The proxy's own timeouts for the exchange with an upstream and the client's body.
#[derive(Debug, Clone, Copy)]
pub struct ForwardTimeouts {
    /// For the upstream's response head once the request is sent (`--upstream-response-timeout`).
    pub response: Duration,
    /// For the upstream to take more of the request body (`--upstream-send-timeout`).
    pub send: Duration,
    /// For the client to send more of its body (`--client-body-timeout`).
    pub client_body: Duration,
}

/// The downstream connection a request arrived on.
#[derive(Debug)]
pub struct Downstream {
    /// The TCP peer (a load balancer, when PROXY protocol is on).
    pub peer: SocketAddr,
    /// The client's address: the peer, or what its PROXY protocol header named.
    pub client: SocketAddr,
    /// The local port the client connected to.
    pub local_port: u16,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The connection's share of upstream exchanges at once (see [`UpstreamBody`]), taken
    /// by HTTP/2 requests; HTTP/1 sends one request at a time and never makes it.
    pub upstream_share: UpstreamShare,
}

/// Upstream exchanges one downstream connection may have at once: the semaphore is made by
/// the connection's first HTTP/2 request, so HTTP/1 connections never allocate it.
#[derive(Debug, Default)]
pub struct UpstreamShare {
    size: usize,
    semaphore: std::sync::OnceLock<Arc<Semaphore>>,
}

impl UpstreamShare {
    /// A share of `size` exchanges (at least one).
    pub fn new(size: usize) -> Self {
        UpstreamShare {
            size: size.max(1),
            semaphore: std::sync::OnceLock::new(),
        }
    }

    fn semaphore(&self) -> Arc<Semaphore> {
        Arc::clone(
            self.semaphore
                .get_or_init(|| Arc::new(Semaphore::new(self.size))),
        )
    }
}

impl Downstream {
    /// The client's address: what source ranges, X-Forwarded-For (and, later, rate limits
    /// and access logs) read. The TCP peer, or the client its PROXY protocol header named;
    /// trusted forwarded headers will be read here too.
    pub fn client_address(&self) -> std::net::IpAddr {
        self.client.ip()
    }
}

impl Forwarder {
    /// A forwarder reading `table`, counting into `metrics`, sending with `clients` (and
    /// mirrored copies with `mirrors`).
    pub fn new(
        table: Arc<LiveTable>,
        metrics: Arc<Metrics>,
        clients: UpstreamClients,
        mirrors: Mirrors,
        timeouts: ForwardTimeouts,
    ) -> Self {
        Forwarder {
            table,
            metrics,
            clients,
            mirrors,
            timeouts,
        }
    }

    /// Handles one request end to end; never fails: problems become 4xx/5xx answers.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        downstream: &Downstream,
    ) -> Response<ProxyBody> {
        let started = Instant::now();
        let target = match settle(&request) {
            Ok(target) => target,
            Err(answer) => {
                self.metrics
                    .proxy
                    .bad_requests
                    .fetch_add(1, Ordering::Relaxed);
                debug!(peer = %downstream.peer, "{}: {answer:?}", answer.status());
                return own(answer);
            }
        };
        let route: Arc<Route> = {
            let facts = RequestFacts {
                method: Some(request.method()),
                headers: Some(request.headers()),
                query: target.path_and_query.query(),
            };
            let table = self.table.load();
            Arc::clone(table.find_request(target.host_str(), target.path_and_query.path(), &facts))
        };
        let (response, counters) = self.serve(request, &route, downstream, target).await;
        counters.record(response.status().as_u16(), started.elapsed());
        response
    }

    /// Applies the route's filters and action, in the order `RouteSpec` documents; returns
    /// the answer and the counters it counts into (the chosen upstream's, or the route's for
    /// its own answers).
    async fn serve<'r>(
        &self,
        request: Request<Incoming>,
        route: &'r Route,
        downstream: &Downstream,
        target: Target,
    ) -> (Response<ProxyBody>, &'r RouteMetrics) {
        let own_answer = |response| (response, &*route.metrics);
        // nginx's order: the body limit on the declared length (its find-config phase), a CORS
        // preflight and the route's redirect (rewrite phase), the HTTPS redirect
        // (ingress-nginx's Lua), then source ranges (access phase).
        if let Some(limit) = route.body_limit
            && declared_length(&request).is_some_and(|length| length > limit)
        {
            return own_answer(too_large(request));
        }
        let cors = match &route.cors {
            Some(policy) => cors(
                policy,
                request.method(),
                request.headers().get(header::ORIGIN),
            ),
            None => CorsDecision::None,
        };
        let cors_headers = match cors {
            CorsDecision::Preflight(headers) => return own_answer(preflight_answer(headers)),
            CorsDecision::Annotate(headers) => Some(headers),
            CorsDecision::None => None,
        };
        let (mut response, counters) = self.serve_allowed(request, route, downstream, target).await;
        if let Some(headers) = cors_headers {
            let map = response.headers_mut();
            for (name, value) in headers {
                map.insert(name, value);
            }
        }
        (response, counters)
    }

    /// [`Forwarder::serve`] after the body limit and CORS.
    async fn serve_allowed<'r>(
        &self,
        request: Request<Incoming>,
        route: &'r Route,
        downstream: &Downstream,
        target: Target,
    ) -> (Response<ProxyBody>, &'r RouteMetrics) {
        let own_answer = |response| (response, &*route.metrics);
        let (split, timeouts, total, affinity, protocol, balance, next_upstream, mirrors) =
            match &route.action {
                RouteAction::Redirect(redirect) => {
                    return own_answer(redirect_answer(redirect, downstream, &target));
                }
                RouteAction::Forward {
                    split,
                    timeouts,
                    affinity,
                    protocol,
                    balance,
                    next_upstream,
                    mirrors,
                } => (
                    split,
                    Waits {
                        connect: timeouts.connect,
                        send: timeouts.send.unwrap_or(self.timeouts.send),
                        response: timeouts.response.unwrap_or(self.timeouts.response),
                    },
                    timeouts.total,
                    affinity.as_deref(),
                    *protocol,
                    balance,
                    next_upstream,
                    mirrors,
                ),
            };
        if let (Some(status), Some(host), "http") =
            (route.https_redirect, &target.host, downstream.scheme)
            && let Some(redirect) = https_redirect(status, host, &target.path_and_query)
        {
            return own_answer(redirect);
        }
        if let Some(ranges) = &route.source_ranges
            && !source_allowed(ranges, downstream.client_address())
        {
            debug!(client = %downstream.client_address(), origin = ?route.origin, "403: source range");
            return own_answer(own(ProxyAnswer::SourceForbidden));
        }
        // A sticky cookie naming a ready endpoint of this split wins over the weights.
        let cookie = affinity.and_then(|a| cookie_token(request.headers(), &a.cookie));
        let sticky = cookie.and_then(|token| split.find_token(token));
        let Some(upstream) = sticky.map(|(u, _)| u).or_else(|| split.choose()) else {
            debug!(origin = ?route.origin, "503: every backend has weight 0");
            return own_answer(own(ProxyAnswer::BackendMisconfigured));
        };
        let response = match &upstream.target {
            RouteTarget::Endpoints(endpoints) if !endpoints.is_empty() => {
                // A verified backend (BackendTLSPolicy) is spoken to over TLS, with its
                // policy's name as SNI, by clients of its own; never without verification.
                // Mirrors speak the rule's protocol, whatever this backend's policy says.
                let mirror_protocol = protocol;
                let (protocol, verified, service_host) = match &upstream.tls {
                    Some(tls) => match self.clients.verified(tls) {
                        Ok(clients) => (
                            protocol.over_tls(),
                            Some(clients),
                            Some(tls.server_name.clone()),
                        ),
                        Err(error) => {
                            // The policy's own diagnostics name it; logged once per request here.
                            debug!(origin = ?upstream.origin, "500: {error}");
                            return (own(ProxyAnswer::BackendInvalid), &*upstream.metrics);
                        }
                    },
                    None => (
                        protocol,
                        None,
                        protocol
                            .is_tls()
                            .then(|| upstream.origin.as_ref())
                            .flatten()
                            .map(|origin| service_host(&origin.service, &origin.namespace)),
                    ),
                };
                let exchange = Exchange {
                    mirrors,
                    mirror_protocol,
                    backend_headers: upstream.headers.as_deref(),
                    route,
                    endpoints,
                    timeouts,
                    protocol,
                    next: next_upstream,
                    sticky: affinity.map(|affinity| Sticky {
                        affinity,
                        start: sticky.map(|(_, index)| index),
                        cookie,
                    }),
                    hashed: match balance {
                        Balance::Hash(parts) if sticky.is_none() => {
                            let facts = HashFacts {
                                target: &target.path_and_query,
                                host: target.host_str(),
                                client: downstream.client_address(),
                                headers: request.headers(),
                            };
                            endpoints.for_hash(hash_key(parts, &facts))
                        }
                        _ => None,
                    },
                    ewma: matches!(balance, Balance::Ewma) && sticky.is_none(),
                    service_host,
                    verified,
                };
                let forwarded = self.forward(request, exchange, downstream, target);
                match total {
                    None => forwarded.await,
                    // Gateway API's request timeout: every try, and the client's upload, in it.
                    Some(total) => tokio::time::timeout(total, forwarded)
                        .await
                        .unwrap_or_else(|_| {
                            debug!(origin = ?route.origin, "504: the request timeout ({total:?}) passed");
                            own(ProxyAnswer::UpstreamTimedOut)
                        }),
                }
            }
            RouteTarget::Invalid(reason) => {
                debug!(origin = ?upstream.origin, "500: {reason}");
                own(ProxyAnswer::BackendInvalid)
            }
            RouteTarget::Endpoints(_) | RouteTarget::Unavailable(_) => {
                let answer = match &upstream.target {
                    RouteTarget::Unavailable(reason) => {
                        debug!(origin = ?upstream.origin, "503: {reason}");
                        ProxyAnswer::BackendMisconfigured
                    }
                    _ => ProxyAnswer::NoReadyEndpoint,
                };
                match route.error_pages.as_deref() {
                    Some(pages) if pages.when_unavailable => {
                        let context = ErrorContext::of(&request, &target, downstream);
                        self.error_page(
                            pages,
                            route,
                            &context,
                            ErrorCause::Unavailable,
                            own(answer),
                        )
                        .await
                    }
                    _ => own(answer),
                }
            }
            _ => own(ProxyAnswer::NoRoute),
        };
        (response, &*upstream.metrics)
    }

    async fn forward(
        &self,
        mut request: Request<Incoming>,
        exchange: Exchange<'_>,
        downstream: &Downstream,
        target: Target,
    ) -> Response<ProxyBody> {
        let Exchange {
            mirrors,
            mirror_protocol,
            backend_headers,
            route,
            endpoints,
            timeouts,
            protocol,
            next,
            sticky,
            hashed,
            ewma,
            service_host,
            verified,
        } = exchange;
        let path_and_query = match route.rewrite.as_ref().and_then(|r| r.path.as_ref()) {
            Some(rewrite) => match rewrite_path(rewrite, &target.path_and_query) {
                Some(Ok(rewritten)) => rewritten,
                Some(Err(error)) => {
                    debug!(origin = ?route.origin, "500: {error}");
                    return own(ProxyAnswer::RouteMisconfigured);
                }
                None => target.path_and_query.clone(),
            },
            None => target.path_and_query.clone(),
        };
        let error_context = route
            .error_pages
            .as_ref()
            .map(|_| ErrorContext::of(&request, &target, downstream));
        let upgrade = upgrade_protocol(&request);
        let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();
        // gRPC servers want `TE: trailers`, a hop-by-hop header HTTP/2 allows end to end.
        let keeps_trailers = protocol.is_grpc()
            && parts
                .headers
                .get(header::TE)
                .is_some_and(|te| te.as_bytes().eq_ignore_ascii_case(b"trailers"));
        strip_hop_by_hop(&mut parts.headers, upgrade);
        if keeps_trailers {
            parts
                .headers
                .insert(header::TE, HeaderValue::from_static("trailers"));
        }
        let client = ClientSide {
            peer: downstream.client,
            scheme: downstream.scheme,
            local_port: downstream.local_port,
            host: target.host,
        };
        let request_id = add_forwarding(&mut parts.headers, client);
        if let Some(host) = route.rewrite.as_ref().and_then(|r| r.host.as_ref()) {
            parts.headers.insert(header::HOST, host.clone());
        }
        if !route.request_headers.is_empty() {
            route.request_headers.apply(&mut parts.headers);
        }
        // Copies go out now, with the headers as they go upstream; their bodies follow the
        // real one as it is read.
        // An upgrade (websocket) is not mirrored: the copy would open a second tunnel.
        let tap = if mirrors.is_empty() || upgrade.is_some() {
            None
        } else {
            let copied = CopiedRequest {
                protocol: mirror_protocol,
                method: &parts.method,
                path: &path_and_query,
                headers: &parts.headers,
                body_empty: http_body::Body::is_end_stream(&body),
            };
            self.mirrors
                .send(mirrors, &copied, &self.metrics.proxy.mirrors_skipped)
        };
        if let Some((edits, _)) = backend_headers {
            edits.apply(&mut parts.headers);
        }
        let permit = if parts.version == Version::HTTP_2 {
            // The semaphore is never closed, so acquiring fails only if it were.
            downstream
                .upstream_share
                .semaphore()
                .acquire_owned()
                .await
                .ok()
        } else {
            None
        };

        // proxy-next-upstream: how many endpoints to try, and after what.
        let attempts = match next.tries {
            0 => endpoints.len(),
            tries => endpoints.len().min(tries as usize),
        };
        let replayable = next.non_idempotent || parts.method.is_idempotent();
        let mut body = Some(body);
        let mut outcome = Err(ProxyAnswer::UpstreamFailed);
        // Read only where something needs it: the plain path reads no clock here.
        let first_attempt = (ewma || next.within.is_some()).then(Instant::now);
        let start = sticky
            .as_ref()
            .and_then(|s| s.start)
            .or(hashed)
            .or_else(|| {
                first_attempt
                    .filter(|_| ewma)
                    .map(|at| endpoints.least_loaded(at))
            })
            .unwrap_or_else(|| endpoints.next_start());
        let mut answered_by = None;
        for (attempt, endpoint) in endpoints.starting_at(start).take(attempts).enumerate() {
            let Some(this_body) = body.take() else { break };
            let in_flight = ewma.then(|| {
                let at = first_attempt
                    .filter(|_| attempt == 0)
                    .unwrap_or_else(Instant::now);
                (endpoints.track((start + attempt) % endpoints.len(), at), at)
            });
            let last = attempt + 1 == attempts;
            let headers = if last {
                std::mem::take(&mut parts.headers)
            } else {
                parts.headers.clone()
            };
            let uploading = !http_body::Body::is_end_stream(&this_body);
            let slot = Attempt::slot(&this_body);
            let this_body = RetryableBody::new(
                this_body,
                Arc::clone(&slot),
                self.timeouts.client_body,
                route.body_limit,
            )
            .tapped(tap.clone());
            let mut upstream = Request::new(this_body);
            *upstream.method_mut() = parts.method.clone();
            *upstream.uri_mut() = match service_host.as_deref().and_then(|host| {
                Authority::try_from(endpoint_authority(endpoint.address, host)).ok()
            }) {
                // Over TLS: the endpoint and the Service's host in one name (SNI).
                Some(authority) => upstream_uri(protocol, &authority, &path_and_query),
                None => upstream_uri(protocol, &endpoint.authority, &path_and_query),
            };
            *upstream.version_mut() = if protocol.is_h2() {
                Version::HTTP_2
            } else {
                Version::HTTP_11
            };
            *upstream.headers_mut() = headers;
            let attempted = self
                .exchange(
                    protocol,
                    verified.as_deref(),
                    upstream,
                    &slot,
                    timeouts,
                    uploading,
                )
                .await;
            if let Some((in_flight, attempt_start)) = in_flight {
                // A failure counts as slow as the response timeout, so it is avoided.
                let now = Instant::now();
                let took = match &attempted {
                    Attempted::Answered(_) => now.saturating_duration_since(attempt_start),
                    _ => timeouts.response,
                };
                in_flight.finish(took, now);
            }
            // Whether the next endpoint may be asked instead: the body must be whole again
            // (never sent, or empty) and, once the request reached an upstream, replayable;
            // and proxy-next-upstream-timeout must not have run out.
            let mut retry = |allowed: bool, reached: bool| {
                if last || !allowed || (reached && !replayable) {
                    return false;
                }
                if let (Some(within), Some(first)) = (next.within, first_attempt)
                    && first.elapsed() >= within
                {
                    return false;
                }
                body = RetryableBody::reclaim(&slot);
                body.is_some()
            };
            match attempted {
                Attempted::Answered(response) => {
                    let status = response.status().as_u16();
                    if next.statuses.contains(&status) && retry(true, true) {
                        debug!(endpoint = %endpoint.address, "{status}: next upstream");
                        self.count_retry();
                        continue;
                    }
                    outcome = Ok(response);
                    answered_by = Some(endpoint.token);
                    break;
                }
                Attempted::Failed(error) if error.is_connect() => {
                    self.metrics
                        .proxy
                        .upstream_connect_failures
                        .fetch_add(1, Ordering::Relaxed);
                    debug!(endpoint = %endpoint.address, "upstream connect failed: {error}");
                    if retry(next.error, false) {
                        self.count_retry();
                    }
                }
                Attempted::Failed(error) => {
                    let progress = Attempt::progress(&slot);
                    let client_fault = matches!(
                        progress,
                        BodyProgress::Malformed | BodyProgress::TimedOut | BodyProgress::TooLarge
                    );
                    debug!(endpoint = %endpoint.address, "upstream request failed: {error}");
                    if !client_fault && retry(next.error, true) {
                        self.count_retry();
                        continue;
                    }
                    outcome = Err(match progress {
                        BodyProgress::Malformed => ProxyAnswer::BadClientBody,
                        BodyProgress::TimedOut => ProxyAnswer::ClientBodyTimedOut,
                        BodyProgress::TooLarge => ProxyAnswer::BodyTooLarge,
                        BodyProgress::Sending | BodyProgress::Sent(_) => {
                            ProxyAnswer::UpstreamFailed
                        }
                    });
                    break;
                }
                Attempted::TimedOut => {
                    self.metrics
                        .proxy
                        .upstream_timeouts
                        .fetch_add(1, Ordering::Relaxed);
                    if retry(next.timeout, true) {
                        self.count_retry();
                        continue;
                    }
                    outcome = Err(ProxyAnswer::UpstreamTimedOut);
                    break;
                }
            }
        }
        let mut response = match outcome {
            Ok(response) => response,
            Err(answer) => {
                if matches!(
                    answer,
                    ProxyAnswer::BadClientBody | ProxyAnswer::ClientBodyTimedOut
                ) {
                    self.metrics
                        .proxy
                        .client_body_failures
                        .fetch_add(1, Ordering::Relaxed);
                }
                return own(answer);
            }
        };
        if let Err(problem) = check_response(&response, upgrade.is_some()) {
            self.metrics
                .proxy
                .upstream_invalid_responses
                .fetch_add(1, Ordering::Relaxed);
            debug!("upstream response refused: {problem}");
            return own(ProxyAnswer::UpstreamInvalid);
        }
        if let (Some(pages), Some(context)) = (route.error_pages.as_deref(), &error_context)
            && intercepts(pages, response.status().as_u16())
        {
            let cause = ErrorCause::Intercepted(response.status().as_u16());
            let fallback = response.map(|body| Either::Left(UpstreamBody::new(body, None)));
            return self
                .error_page(pages, route, context, cause, fallback)
                .await;
        }
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client_upgrade) = client_upgrade {
                let upstream_upgrade = hyper::upgrade::on(&mut response);
                tokio::spawn(tunnel(client_upgrade, upstream_upgrade));
            }
        } else {
            strip_hop_by_hop(response.headers_mut(), None);
        }
        // The client gets our HTTP version, whatever the upstream spoke (RFC 9110 §6.2).
        *response.version_mut() = Version::HTTP_11;
        set_request_id(response.headers_mut(), request_id);
        if !route.response_headers.is_empty() {
            route.response_headers.apply(response.headers_mut());
        }
        if let Some((_, edits)) = backend_headers {
            edits.apply(response.headers_mut());
        }
        // A new or moved client gets the cookie naming the endpoint that answered.
        if let (Some(sticky), Some(token)) = (&sticky, answered_by)
            && sticky.cookie != Some(token)
        {
            let https = downstream.scheme == "https";
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(sticky.affinity, token, https, SystemTime::now()),
            );
        }
        response.map(|body| Either::Left(UpstreamBody::new(body, permit)))
    }

    fn count_retry(&self) {
        self.metrics
            .proxy
            .upstream_retries
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The error backend's answer for `cause`, or `fallback` when it cannot be asked.
    async fn error_page(
        &self,
        pages: &CompiledErrorPages,
        route: &Route,
        context: &ErrorContext,
        cause: ErrorCause,
        fallback: Response<ProxyBody>,
    ) -> Response<ProxyBody> {
        match error_request(pages, route, context, cause) {
            Some(ErrorBackend::Ask(request)) => {
                let answer = tokio::time::timeout(
                    self.timeouts.response,
                    error_pages::send(&self.clients, *request),
                )
                .await;
                match answer {
                    Ok(Ok(mut response)) => {
                        strip_hop_by_hop(response.headers_mut(), None);
                        *response.version_mut() = Version::HTTP_11;
                        response.map(|body| Either::Left(UpstreamBody::new(body, None)))
                    }
                    _ => {
                        debug!("the error backend did not answer; the original answer is sent");
                        fallback
                    }
                }
            }
            Some(ErrorBackend::BuiltInNotFound) => own(ProxyAnswer::NoRoute),
            None => fallback,
        }
    }

    /// Sends one attempt and waits for the response head: the response timeout counts from
    /// when the client's body was fully sent, so a slow upload is the body timeout's business;
    /// while it uploads, an upstream taking none of it for the send timeout ends the attempt.
    async fn exchange(
        &self,
        protocol: UpstreamProtocol,
        verified: Option<&VerifiedClients>,
        upstream: Request<RetryableBody>,
        slot: &ReturnSlot,
        waits: Waits,
        uploading: bool,
    ) -> Attempted {
        let response = match verified {
            Some(clients) => clients.request(protocol, upstream),
            None => self.clients.request(protocol, waits.connect, upstream),
        };
        tokio::pin!(response);
        let now = tokio::time::Instant::now();
        let mut deadline = now + waits.response;
        let mut wake = if uploading {
            deadline.min(now + waits.send)
        } else {
            deadline
        };
        loop {
            match tokio::time::timeout_at(wake, response.as_mut()).await {
                Ok(Ok(response)) => return Attempted::Answered(response),
                Ok(Err(error)) => return Attempted::Failed(error),
                Err(_) => match Attempt::progress(slot) {
                    BodyProgress::Sent(at) if at + waits.response > Instant::now() => {
                        deadline = tokio::time::Instant::from_std(at + waits.response);
                        wake = deadline;
                    }
                    BodyProgress::Sent(_)
                    | BodyProgress::Malformed
                    | BodyProgress::TimedOut
                    | BodyProgress::TooLarge => {
                        return Attempted::TimedOut;
                    }
                    BodyProgress::Sending => {
                        let now = tokio::time::Instant::now();
                        if Attempt::upstream_stalled(slot, waits.send, now.into_std()) {
                            debug!("the upstream took no request body for {:?}", waits.send);
                            return Attempted::TimedOut;
                        }
                        // Still uploading: the body timeout bounds a stalled client.
                        if now >= deadline {
                            deadline = now + waits.response;
                        }
                        wake = deadline.min(now + waits.send);
                    }
                },
            }
        }
    }
}

/// One route's upstream timeouts, with the proxy's where the route sets none.
#[derive(Debug, Clone, Copy)]
struct Waits {
    /// `None`: the clients' own connect timeout.
    connect: Option<Duration>,
    send: Duration,
    response: Duration,
}

/// What one forward needs from the route.
struct Exchange<'r> {
    route: &'r Route,
    endpoints: &'r EndpointSet,
    timeouts: Waits,
    protocol: UpstreamProtocol,
    /// When to try the next endpoint.
    next: &'r NextUpstream,
    sticky: Option<Sticky<'r>>,
    /// The endpoint `upstream-hash-by` picked.
    hashed: Option<usize>,
    /// `load-balance: ewma`: the first endpoint by load, and each attempt's time learnt.
    ewma: bool,
    /// Over TLS: the Service's host (or the BackendTLSPolicy's hostname), sent as SNI.
    service_host: Option<String>,
    /// A BackendTLSPolicy's verifying clients.
    verified: Option<Arc<VerifiedClients>>,
    /// Backends getting copies of the request.
    mirrors: &'r [CompiledMirror],
    /// How the mirrors are spoken to: the rule's protocol.
    mirror_protocol: UpstreamProtocol,
    /// The chosen backend's own header edits (request, response).
    backend_headers: Option<&'r (CompiledHeaderEdits, CompiledHeaderEdits)>,
}

/// A route's cookie affinity for one request.
struct Sticky<'r> {
    affinity: &'r Affinity,
    /// The endpoint the cookie names, when it is one of this backend's.
    start: Option<usize>,
    /// The token the request's cookie carried.
    cookie: Option<u64>,
}

/// How one upstream attempt ended.
enum Attempted {
    Answered(Response<Incoming>),
    Failed(hyper_util::client::legacy::Error),
    TimedOut,
}

/// Refuses what a client must not receive: a length beside chunked framing (RFC 9112 §6.3:
/// the length is stale and the message a smuggling vector) or a protocol switch the client did
/// not ask for.
fn check_response(response: &Response<Incoming>, upgrading: bool) -> Result<(), &'static str> {
    let headers = response.headers();
    if headers.contains_key(header::TRANSFER_ENCODING)
        && headers.contains_key(header::CONTENT_LENGTH)
    {
        return Err("both Content-Length and Transfer-Encoding");
    }
    if response.status() == StatusCode::SWITCHING_PROTOCOLS && !upgrading {
        return Err("101 Switching Protocols to a request that asked for no upgrade");
    }
    Ok(())
}

/// A redirect to the same host (default HTTPS port), path and query over `https://`.
fn https_redirect(
    status: StatusCode,
    host: &HeaderValue,
    path: &PathAndQuery,
) -> Option<Response<ProxyBody>> {
    let host = strip_port(host.to_str().ok()?);
    let path = path.as_str();
    let location = HeaderValue::try_from(format!("https://{host}{path}")).ok()?;
    Some(redirect_response(
        status,
        location,
        "this host is served over HTTPS",
    ))
}

/// The answer of a redirect route.
fn redirect_answer(
    redirect: &CompiledRedirect,
    downstream: &Downstream,
    target: &Target,
) -> Response<ProxyBody> {
    let input = RedirectInput {
        scheme: downstream.scheme,
        host: target.host_str(),
        path_and_query: &target.path_and_query,
    };
    match redirect_location(redirect, input) {
        Ok(location) => redirect_response(redirect.status, location, "see Location"),
        Err(error) => {
            debug!("500: {error}");
            own(ProxyAnswer::RouteMisconfigured)
        }
    }
}

fn redirect_response(status: StatusCode, location: HeaderValue, why: &str) -> Response<ProxyBody> {
    let reason = status.canonical_reason().unwrap_or("Redirect");
    let body = format!("{} {reason}: {why}\n", status.as_u16());
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Most bytes of a refused body read and thrown away so the client sees the 413 (nginx's
/// lingering close does the same), and for how long.
const DISCARD_BYTES: u64 = 64 << 20;
const DISCARD_TIME: Duration = Duration::from_secs(5);

/// The 413 for a body declared too long, with `Connection: close`. The body is read and
/// dropped in the background, up to [`DISCARD_BYTES`] for [`DISCARD_TIME`]: closing on a
/// client still sending would reset the connection before it reads the answer.
fn too_large(request: Request<Incoming>) -> Response<ProxyBody> {
    let mut body = request.into_body();
    tokio::spawn(async move {
        let discard = async {
            let mut read = 0u64;
            while let Some(Ok(frame)) = body.frame().await {
                read += frame.data_ref().map_or(0, |d| d.len() as u64);
                if read > DISCARD_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DISCARD_TIME, discard).await;
    });
    let mut response = own(ProxyAnswer::BodyTooLarge);
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// ingress-nginx's preflight answer: 204 with the CORS headers, nothing upstream.
fn preflight_answer(headers: Vec<(header::HeaderName, HeaderValue)>) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::new())));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let map = response.headers_mut();
    for (name, value) in headers {
        map.insert(name, value);
    }
    map.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain charset=UTF-8"),
    );
    response
}

/// The body length the request declares, if it declares one.
fn declared_length(request: &Request<Incoming>) -> Option<u64> {
    http_body::Body::size_hint(request.body()).exact()
}

/// The URI of a request to `authority` over `protocol`.
pub(crate) fn upstream_uri(
    protocol: UpstreamProtocol,
    authority: &http::uri::Authority,
    path: &PathAndQuery,
) -> Uri {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(if protocol.is_tls() {
        Scheme::HTTPS
    } else {
        Scheme::HTTP
    });
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
