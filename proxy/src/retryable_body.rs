//! A client's request body on its way upstream: handed back when a connect fails before any of
//! it was sent, bounded in how long it may stall, and telling the forwarder how it went.
//!
//! The upstream client takes the request by value, so a failed connect would lose the body.
//! The body is wrapped: if the wrapper is dropped before anyone read from it (nothing was sent),
//! it hands the body back through a shared slot and the request can go to the next endpoint.
//! The same slot records when the body was fully sent (the upstream's response time is counted
//! from then, so a slow client is not an upstream timeout) and whether it failed by the
//! client's fault (bad framing, or silent for longer than the body timeout).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::Sleep;

use crate::mirror::BodyTap;

/// What happened to the body of one attempt, shared with the forwarder.
pub type ReturnSlot = Arc<Mutex<Attempt>>;

/// How far a request body got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProgress {
    /// Not fully sent yet.
    Sending,
    /// Fully sent at this instant.
    Sent(Instant),
    /// The client's framing was malformed or the body was cut short.
    Malformed,
    /// The client sent nothing for longer than the body timeout.
    TimedOut,
    /// The body grew past the route's limit.
    TooLarge,
}

/// The shared state of one attempt.
#[derive(Debug)]
pub struct Attempt {
    unsent: Option<Incoming>,
    progress: BodyProgress,
    /// When a frame went to the upstream client, while it has not asked for the next one:
    /// an upstream that takes no bytes stops it asking (nginx's `proxy_send_timeout`).
    handed_over: Option<Instant>,
}

impl Attempt {
    /// A slot for `body`'s next attempt: an empty body counts as sent from the start.
    pub fn slot(body: &Incoming) -> ReturnSlot {
        let progress = if body.is_end_stream() {
            BodyProgress::Sent(Instant::now())
        } else {
            BodyProgress::Sending
        };
        Arc::new(Mutex::new(Attempt {
            unsent: None,
            progress,
            handed_over: None,
        }))
    }

    /// How far the body got.
    pub fn progress(slot: &ReturnSlot) -> BodyProgress {
        lock(slot).progress
    }

    /// Whether the upstream has taken none of the body for `timeout` by `now`: a frame was
    /// handed over and no next one asked for since.
    pub fn upstream_stalled(slot: &ReturnSlot, timeout: Duration, now: Instant) -> bool {
        let attempt = lock(slot);
        attempt.progress == BodyProgress::Sending
            && attempt
                .handed_over
                .is_some_and(|at| now.saturating_duration_since(at) >= timeout)
    }
}

fn lock(slot: &ReturnSlot) -> std::sync::MutexGuard<'_, Attempt> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why the client's body could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientBodyError {
    /// hyper refused the client's framing or the client went away mid-body.
    #[error("the client's request body failed: {0}")]
    Malformed(#[source] hyper::Error),
    /// No body bytes arrived for the body timeout.
    #[error("the client sent no request body bytes for {0:?}")]
    TimedOut(Duration),
    /// More bytes than the route allows.
    #[error("the client's request body is longer than {0} bytes")]
    TooLarge(u64),
}

/// Wraps a client's request body for one upstream attempt.
#[derive(Debug)]
pub struct RetryableBody {
    inner: Option<Incoming>,
    slot: ReturnSlot,
    read: bool,
    timeout: Duration,
    /// Armed on the first wait; pushed back on the first wait after progress.
    stall: Option<Pin<Box<Sleep>>>,
    progressed: bool,
    /// Most bytes allowed, and how many came so far.
    limit: Option<u64>,
    received: u64,
    /// A data frame with bytes went upstream: the body cannot be sent again.
    sent_data: bool,
    /// A frame was handed over and the slot says so.
    handed_over: bool,
    /// Mirrors copying the body as it is read (shared by every attempt: each byte of the
    /// client's body is read once).
    tap: Option<Arc<BodyTap>>,
}

impl RetryableBody {
    /// Wraps `body`; if it is never read, it goes back into `slot` on drop. A body that
    /// sends nothing for `timeout`, or more than `limit` bytes, fails.
    pub fn new(body: Incoming, slot: ReturnSlot, timeout: Duration, limit: Option<u64>) -> Self {
        RetryableBody {
            inner: Some(body),
            slot,
            read: false,
            timeout,
            stall: None,
            progressed: false,
            limit,
            received: 0,
            sent_data: false,
            handed_over: false,
            tap: None,
        }
    }

    /// The same body, its bytes also offered to `tap`.
    pub fn tapped(mut self, tap: Option<Arc<BodyTap>>) -> Self {
        self.tap = tap;
        self
    }

    /// A body with nothing in it (an error backend's request).
    pub fn empty() -> Self {
        RetryableBody {
            inner: None,
            slot: Arc::new(Mutex::new(Attempt {
                unsent: None,
                progress: BodyProgress::Sending,
                handed_over: None,
            })),
            read: true,
            timeout: Duration::ZERO,
            stall: None,
            progressed: false,
            limit: None,
            received: 0,
            sent_data: false,
            handed_over: false,
            tap: None,
        }
    }

    /// Takes back a body that was never read, if the attempt that held it has ended.
    pub fn reclaim(slot: &ReturnSlot) -> Option<Incoming> {
        lock(slot).unsent.take()
    }

    fn set_progress(&self, progress: BodyProgress) {
        lock(&self.slot).progress = progress;
    }
}

impl Body for RetryableBody {
    type Data = Bytes;
    type Error = ClientBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ClientBodyError>>> {
        let this = self.get_mut();
        this.read = true;
        if std::mem::take(&mut this.handed_over) {
            lock(&this.slot).handed_over = None;
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(&mut *inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.progressed = true;
                if frame.data_ref().is_some_and(|data| !data.is_empty()) {
                    this.sent_data = true;
                }
                if let (Some(limit), Some(data)) = (this.limit, frame.data_ref()) {
                    this.received += data.len() as u64;
                    if this.received > limit {
                        this.set_progress(BodyProgress::TooLarge);
                        return Poll::Ready(Some(Err(ClientBodyError::TooLarge(limit))));
                    }
                }
                if let (Some(tap), Some(data)) = (&this.tap, frame.data_ref()) {
                    tap.offer(data);
                }
                if inner.is_end_stream() {
                    if let Some(tap) = &this.tap {
                        tap.finish();
                    }
                    this.set_progress(BodyProgress::Sent(Instant::now()));
                } else {
                    this.handed_over = true;
                    lock(&this.slot).handed_over = Some(Instant::now());
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.set_progress(BodyProgress::Malformed);
                Poll::Ready(Some(Err(ClientBodyError::Malformed(error))))
            }
            Poll::Ready(None) => {
                if let Some(tap) = &this.tap {
                    tap.finish();
                }
                this.set_progress(BodyProgress::Sent(Instant::now()));
                Poll::Ready(None)
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let stall = match &mut this.stall {
                    Some(stall) => {
                        if std::mem::take(&mut this.progressed) {
                            stall.as_mut().reset(tokio::time::Instant::now() + timeout);
                        }
                        stall
                    }
                    None => this.stall.insert(Box::pin(tokio::time::sleep(timeout))),
                };
                match stall.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.set_progress(BodyProgress::TimedOut);
                        Poll::Ready(Some(Err(ClientBodyError::TimedOut(timeout))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map(Body::size_hint)
            .unwrap_or_else(|| SizeHint::with_exact(0))
    }
}

impl Drop for RetryableBody {
    /// A body nothing was read from, or an empty one (nothing to lose by sending it again),
    /// goes back for the next attempt.
    fn drop(&mut self) {
        let whole =
            !self.read || (!self.sent_data && self.inner.as_ref().is_some_and(Body::is_end_stream));
        if whole && let Some(body) = self.inner.take() {
            lock(&self.slot).unsent = Some(body);
        }
    }
}
