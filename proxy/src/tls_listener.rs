//! TLS for the HTTPS listener: the rustls configuration, SNI certificate selection, and why a
//! handshake failed.

use std::io;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use crate::certificates::LiveCertificates;
use crate::metrics::HandshakeFailure;

/// Sessions remembered for stateful resumption (TLS 1.2 session ids, TLS 1.3 tickets are
/// stateless on top).
const SESSION_CACHE_SIZE: usize = 10_000;

/// Picks each handshake's certificate from the live store by SNI; never refuses a handshake.
#[derive(Debug)]
struct SniResolver {
    certificates: Arc<LiveCertificates>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.certificates.find(client_hello.server_name()))
    }
}

/// TLS 1.2 and 1.3 with rustls's defaults (ring), ALPN `h2` then `http/1.1`, session tickets
/// and a session cache on.
pub fn tls_acceptor(certificates: Arc<LiveCertificates>) -> Result<TlsAcceptor, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver { certificates }));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Classifies a failed handshake for the metrics.
pub fn handshake_failure(error: &io::Error) -> HandshakeFailure {
    if let Some(tls) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        return match tls {
            rustls::Error::AlertReceived(_) => HandshakeFailure::AlertReceived,
            rustls::Error::InvalidMessage(_) => HandshakeFailure::InvalidMessage,
            rustls::Error::PeerIncompatible(_) => HandshakeFailure::PeerIncompatible,
            rustls::Error::PeerMisbehaved(_) => HandshakeFailure::PeerMisbehaved,
            _ => HandshakeFailure::Other,
        };
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionAborted => HandshakeFailure::Eof,
        io::ErrorKind::InvalidData => HandshakeFailure::InvalidMessage,
        _ => HandshakeFailure::Other,
    }
}
