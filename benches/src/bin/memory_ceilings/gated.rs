//! A stream whose reads can be stopped for good: once its [`Gate`] closes, reading never
//! completes (and never wakes the reader), so nothing more leaves the kernel's receive
//! buffer, while writes go on. That is a client that has stopped reading, seen from the
//! proxy: its TCP window closes and what it sends piles up on its side.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Stops the reads of the [`Gated`] streams made with it.
#[derive(Debug, Clone, Default)]
pub struct Gate(Arc<AtomicBool>);

impl Gate {
    /// No more reads, from now on.
    pub fn close(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn closed(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// `inner` with reads that stop when its gate closes.
#[derive(Debug)]
pub struct Gated<S> {
    inner: S,
    gate: Gate,
}

impl<S> Gated<S> {
    /// `inner`, read until `gate` closes.
    pub fn new(inner: S, gate: Gate) -> Gated<S> {
        Gated { inner, gate }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Gated<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.gate.closed() {
            // Never woken: this reader has stopped.
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Gated<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn reads_stop_when_the_gate_closes_and_writes_go_on() {
        let (near, mut far) = tokio::io::duplex(64);
        let gate = Gate::default();
        let mut gated = Gated::new(near, gate.clone());
        far.write_all(b"one").await.unwrap();
        let mut buf = [0u8; 8];
        let n = gated.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one");
        gate.close();
        far.write_all(b"two").await.unwrap();
        let stopped =
            tokio::time::timeout(std::time::Duration::from_millis(50), gated.read(&mut buf)).await;
        assert!(stopped.is_err(), "no read once the gate is closed");
        gated.write_all(b"still").await.unwrap();
        let n = far.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"still");
    }
}
