//! A TLS client's trust in exactly one certificate: the harness's self-signed one, which
//! `openssl req -x509` marks as a CA, so the usual path validation refuses it as a server's.
//! The handshake's signatures are still checked against it.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// Accepts a server that presents `certificate` and proves it holds its key.
#[derive(Debug)]
pub struct Pinned {
    certificate: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl Pinned {
    /// Trusts `certificate` alone, checking signatures with `provider`'s algorithms.
    pub fn new(certificate: CertificateDer<'static>, provider: Arc<CryptoProvider>) -> Pinned {
        Pinned {
            certificate,
            provider,
        }
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.certificate.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "not the harness's certificate".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pinned_certificate_is_accepted() {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let pinned = Pinned::new(CertificateDer::from(vec![1, 2, 3]), provider);
        let name = ServerName::try_from("bench.test").unwrap();
        let check = |der: Vec<u8>| {
            pinned
                .verify_server_cert(&CertificateDer::from(der), &[], &name, &[], UnixTime::now())
                .is_ok()
        };
        assert!(check(vec![1, 2, 3]));
        assert!(!check(vec![1, 2, 4]));
        assert!(!pinned.supported_verify_schemes().is_empty());
    }
}
