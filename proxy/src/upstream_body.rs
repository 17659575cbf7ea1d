//! An upstream's response body on its way to the client, holding the downstream connection's
//! share of upstream connections until it ends, so one HTTP/2 client cannot hold more
//! upstream connections busy than its share.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::sync::OwnedSemaphorePermit;

/// A response body from upstream, with the permit its exchange holds (HTTP/2 downstreams).
#[derive(Debug)]
pub struct UpstreamBody {
    inner: Incoming,
    _permit: Option<OwnedSemaphorePermit>,
}

impl UpstreamBody {
    /// Wraps `inner`; `permit` is released when the body ends or is dropped.
    pub fn new(inner: Incoming, permit: Option<OwnedSemaphorePermit>) -> Self {
        UpstreamBody {
            inner,
            _permit: permit,
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
