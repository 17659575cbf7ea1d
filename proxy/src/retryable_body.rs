//! A request body that can be sent again when the first connect attempt fails.
//!
//! The upstream client takes the request by value, so a failed connect would lose the body.
//! The body is wrapped: if the wrapper is dropped before anyone read from it (nothing was sent),
//! it hands the body back through a shared slot and the request can go to the next endpoint.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

/// Where an unsent body comes back to.
pub type ReturnSlot = Arc<Mutex<Option<Incoming>>>;

/// Wraps a client's request body for one upstream attempt.
#[derive(Debug)]
pub struct RetryableBody {
    inner: Option<Incoming>,
    slot: ReturnSlot,
    read: bool,
}

impl RetryableBody {
    /// Wraps `body`; if it is never read, it goes back into `slot` on drop.
    pub fn new(body: Incoming, slot: ReturnSlot) -> Self {
        RetryableBody {
            inner: Some(body),
            slot,
            read: false,
        }
    }

    /// Takes back a body that was never read, if the attempt that held it has ended.
    pub fn reclaim(slot: &ReturnSlot) -> Option<Incoming> {
        slot.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl Body for RetryableBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        this.read = true;
        match this.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
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
    fn drop(&mut self) {
        if !self.read
            && let Some(body) = self.inner.take()
        {
            *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(body);
        }
    }
}
