//! How requests travel to a peer.

/// How requests travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 keep-alive, plain.
    H1,
    /// HTTP/1.1 keep-alive over TLS 1.3.
    Https,
    /// HTTP/2 over TLS 1.3 (ALPN).
    H2,
}
