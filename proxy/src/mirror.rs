//! Gateway API's RequestMirror: a copy of each (sampled) request goes to the mirror's backend,
//! fire and forget, and its answer is dropped. The copy's body is fed from the real one as it
//! streams, through a small bounded channel per mirror: a mirror that falls behind is cut (its
//! request aborted), never the real request, which is never held up or slowed by a mirror.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Version};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use portcullis_route::spec::UpstreamProtocol;
use portcullis_route::table::{CompiledMirror, RouteTarget};
use tokio::sync::{Semaphore, mpsc};
use tracing::debug;

use crate::forward::upstream_uri;

/// Body frames a mirror may lag behind the real request before it is cut.
const MIRROR_BUFFER_FRAMES: usize = 16;

/// Mirror requests in flight at once, across the listener; more are not sent.
const MAX_MIRRORS_IN_FLIGHT: usize = 1024;

/// A mirror's request body was cut (it fell behind, or the real body failed).
#[derive(Debug, thiserror::Error)]
#[error("the mirrored request body was cut")]
pub struct MirrorCut;

/// The clients mirrors are sent with (plain HTTP/1.1 and h2c) and the bound on them.
#[derive(Debug)]
pub struct Mirrors {
    http1: Client<HttpConnector, MirrorBody>,
    h2c: Client<HttpConnector, MirrorBody>,
    in_flight: Arc<Semaphore>,
    /// For the whole exchange with a mirror.
    timeout: Duration,
}

impl Mirrors {
    /// Mirrors connecting within `connect` and giving up after `timeout`.
    pub fn new(connect: Duration, idle: Duration, timeout: Duration) -> Self {
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect));
        let builder = || {
            let mut builder = Client::builder(TokioExecutor::new());
            builder
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new())
                .pool_idle_timeout(idle)
                .set_host(false);
            builder
        };
        Mirrors {
            http1: builder().build(tcp.clone()),
            h2c: builder().http2_only(true).build(tcp),
            in_flight: Arc::new(Semaphore::new(MAX_MIRRORS_IN_FLIGHT)),
            timeout,
        }
    }

    /// Sends a copy of `request` to each mirror whose share it falls in (`skipped` counts
    /// those not sent). Returns the tap the real body must feed, when a copy waits for body
    /// bytes.
    pub fn send(
        &self,
        mirrors: &[CompiledMirror],
        request: &CopiedRequest<'_>,
        skipped: &AtomicU64,
    ) -> Option<Arc<BodyTap>> {
        let CopiedRequest {
            protocol,
            method,
            path,
            headers,
            body_empty,
        } = *request;
        let mut tap = BodyTap::default();
        for mirror in mirrors {
            if mirror.numerator < mirror.denominator {
                let n = u128::from(mirror.seen.fetch_add(1, Ordering::Relaxed));
                // Spreads the chosen requests evenly: request n is mirrored when the running
                // share crosses the next whole count.
                let (numerator, denominator) =
                    (u128::from(mirror.numerator), u128::from(mirror.denominator));
                let before = n * numerator / denominator;
                let after = (n + 1) * numerator / denominator;
                if before == after {
                    continue;
                }
            }
            let endpoint = match &mirror.upstream.target {
                RouteTarget::Endpoints(set) => set.round_robin().next(),
                _ => None,
            };
            let (Some(endpoint), false) =
                (endpoint, protocol.is_tls() || mirror.upstream.tls.is_some())
            else {
                debug!(origin = ?mirror.upstream.origin, "mirror not sent: no endpoint, or a TLS backend");
                skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let Ok(permit) = Arc::clone(&self.in_flight).try_acquire_owned() else {
                skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let body = if body_empty {
                MirrorBody::empty()
            } else {
                tap.copy()
            };
            let mut request = Request::new(body);
            *request.method_mut() = method.clone();
            *request.uri_mut() = upstream_uri(protocol, &endpoint.authority, path);
            *request.version_mut() = if protocol.is_h2() {
                Version::HTTP_2
            } else {
                Version::HTTP_11
            };
            *request.headers_mut() = headers.clone();
            let sent = if protocol.is_h2() {
                self.h2c.request(request)
            } else {
                self.http1.request(request)
            };
            let timeout = self.timeout;
            let origin = mirror.upstream.origin.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let exchange = async {
                    let response = sent.await.map_err(|e| e.to_string())?;
                    // Read to the end, so the connection can be used again.
                    response
                        .into_body()
                        .collect()
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                };
                match tokio::time::timeout(timeout, exchange).await {
                    Ok(Ok(())) => {}
                    Ok(Err(why)) => debug!(?origin, "mirror failed: {why}"),
                    Err(_) => debug!(?origin, "mirror timed out"),
                }
            });
        }
        (!tap.is_empty()).then(|| Arc::new(tap))
    }
}

/// The request a mirror gets a copy of, as it goes upstream.
#[derive(Debug, Clone, Copy)]
pub struct CopiedRequest<'a> {
    /// How the mirrors are spoken to (the rule's protocol).
    pub protocol: UpstreamProtocol,
    /// The method.
    pub method: &'a Method,
    /// The path and query, rewritten as upstream gets them.
    pub path: &'a http::uri::PathAndQuery,
    /// The headers as they go upstream.
    pub headers: &'a HeaderMap,
    /// The request has no body.
    pub body_empty: bool,
}

/// Where the real request body's bytes are copied to, one channel per mirror.
#[derive(Debug, Default)]
pub struct BodyTap {
    copies: Mutex<Vec<MirrorCopy>>,
}

/// One mirror's copy of the body: its channel and whether the body ended whole.
#[derive(Debug)]
struct MirrorCopy {
    sender: mpsc::Sender<Bytes>,
    complete: Arc<AtomicBool>,
}

impl BodyTap {
    /// A new copy of the body to come.
    fn copy(&mut self) -> MirrorBody {
        let (sender, receiver) = mpsc::channel(MIRROR_BUFFER_FRAMES);
        let complete = Arc::new(AtomicBool::new(false));
        self.copies
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .push(MirrorCopy {
                sender,
                complete: Arc::clone(&complete),
            });
        MirrorBody {
            receiver: Some(receiver),
            complete,
        }
    }

    fn is_empty(&mut self) -> bool {
        self.copies
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Copies `data` to every mirror that keeps up; one whose buffer is full is cut.
    pub fn offer(&self, data: &Bytes) {
        let mut copies = self.copies.lock().unwrap_or_else(PoisonError::into_inner);
        copies.retain(|copy| copy.sender.try_send(data.clone()).is_ok());
    }

    /// The real body ended: every copy still going ends too, complete.
    pub fn finish(&self) {
        let mut copies = self.copies.lock().unwrap_or_else(PoisonError::into_inner);
        for copy in copies.drain(..) {
            copy.complete.store(true, Ordering::Release);
        }
    }
}

/// A mirror's request body: the bytes the real body sent, then its end, or an error if the
/// copy was cut before the end.
#[derive(Debug)]
pub struct MirrorBody {
    receiver: Option<mpsc::Receiver<Bytes>>,
    complete: Arc<AtomicBool>,
}

impl MirrorBody {
    fn empty() -> Self {
        MirrorBody {
            receiver: None,
            complete: Arc::new(AtomicBool::new(true)),
        }
    }
}

impl Body for MirrorBody {
    type Data = Bytes;
    type Error = MirrorCut;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, MirrorCut>>> {
        let this = self.get_mut();
        let Some(receiver) = this.receiver.as_mut() else {
            return Poll::Ready(None);
        };
        match receiver.poll_recv(cx) {
            Poll::Ready(Some(data)) => Poll::Ready(Some(Ok(Frame::data(data)))),
            Poll::Ready(None) => {
                this.receiver = None;
                if this.complete.load(Ordering::Acquire) {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err(MirrorCut)))
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.receiver.is_none()
    }
}
