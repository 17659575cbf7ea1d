//! Notices a client that stopped reading: the connection's writes have been blocked (the
//! socket full, nothing taken) for longer than the send timeout, as nginx's `send_timeout`
//! measures it, so the connection and all it buffers can be dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// When the connection's writes last started waiting, if they are waiting now.
#[derive(Debug)]
pub struct WriteStall {
    origin: Instant,
    /// Milliseconds since `origin` + 1 when writes started blocking; 0 while they flow.
    blocked_since: AtomicU64,
}

impl WriteStall {
    /// A fresh record: not blocked.
    pub fn new() -> Arc<Self> {
        Arc::new(WriteStall {
            origin: Instant::now(),
            blocked_since: AtomicU64::new(0),
        })
    }

    #[inline]
    fn blocked(&self) {
        if self.blocked_since.load(Ordering::Relaxed) == 0 {
            let now = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
            self.blocked_since.store(now + 1, Ordering::Relaxed);
        }
    }

    #[inline]
    fn flowing(&self) {
        if self.blocked_since.load(Ordering::Relaxed) != 0 {
            self.blocked_since.store(0, Ordering::Relaxed);
        }
    }

    /// How long writes have been blocked, if they are.
    pub fn blocked_for(&self) -> Option<Duration> {
        match self.blocked_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(
                self.origin
                    .elapsed()
                    .saturating_sub(Duration::from_millis(since - 1)),
            ),
        }
    }

    /// Resolves once writes have been blocked for `limit` without a byte taken.
    pub async fn exceeded(&self, limit: Duration) {
        let check = (limit / 4).max(Duration::from_millis(50));
        loop {
            match self.blocked_for() {
                Some(blocked) if blocked >= limit => return,
                Some(blocked) => tokio::time::sleep((limit - blocked).min(check)).await,
                None => tokio::time::sleep(check).await,
            }
        }
    }
}

/// An IO whose writes report to a [`WriteStall`].
#[derive(Debug)]
pub struct WatchedIo<I> {
    inner: I,
    stall: Arc<WriteStall>,
}

impl<I> WatchedIo<I> {
    /// Wraps `inner`, reporting to `stall`.
    pub fn new(inner: I, stall: Arc<WriteStall>) -> Self {
        WatchedIo { inner, stall }
    }

    fn note<T>(
        &self,
        poll: Poll<std::io::Result<T>>,
        progress: impl Fn(&T) -> bool,
    ) -> Poll<std::io::Result<T>> {
        match &poll {
            Poll::Pending => self.stall.blocked(),
            Poll::Ready(Ok(value)) if progress(value) => self.stall.flowing(),
            Poll::Ready(_) => {}
        }
        poll
    }
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for WatchedIo<I> {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for WatchedIo<I> {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.note(poll, |written| *written > 0)
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.note(poll, |written| *written > 0)
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.note(poll, |()| true)
    }

    #[inline]
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_until_a_write_flows() {
        let stall = WriteStall::new();
        assert_eq!(stall.blocked_for(), None);
        stall.blocked();
        std::thread::sleep(Duration::from_millis(20));
        stall.blocked();
        assert!(
            stall
                .blocked_for()
                .is_some_and(|d| d >= Duration::from_millis(19))
        );
        stall.flowing();
        assert_eq!(stall.blocked_for(), None);
    }
}
