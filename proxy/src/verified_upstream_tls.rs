//! Upstream TLS that verifies the backend (Gateway API's BackendTLSPolicy): the certificate
//! must chain to the policy's CA certificates and hold its hostname (or one of its subject
//! alternative names). Never falls back to an unverified connection: a policy whose
//! certificates cannot be used fails its requests.

use std::sync::Arc;

use portcullis_route::spec::BackendTls;
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Why a policy's TLS cannot be set up (its certificates; a retry does not help).
#[derive(Debug, thiserror::Error)]
pub enum VerifiedTlsError {
    /// No certificate in the PEM, or one that does not parse.
    #[error("{source_name}: the CA certificates cannot be used: {why}")]
    Certificates {
        /// The policy.
        source_name: String,
        /// What is wrong.
        why: String,
    },
}

/// The rustls client configuration that verifies as `tls` asks.
pub fn verified_config(tls: &BackendTls) -> Result<rustls::ClientConfig, VerifiedTlsError> {
    let fail = |why: String| VerifiedTlsError::Certificates {
        source_name: tls.source.clone(),
        why,
    };
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(tls.ca_pem.as_bytes()) {
        let certificate = certificate.map_err(|e| fail(e.to_string()))?;
        roots.add(certificate).map_err(|e| fail(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(fail("no certificate in the PEM".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| fail(e.to_string()))?;
    let names = tls
        .subject_alt_names
        .iter()
        .map(|name| ServerName::try_from(name.clone()).map_err(|e| fail(format!("{name}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let verifier = Arc::new(NamesVerifier { webpki, names });
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        // Fails only for a provider without suites for TLS 1.2 and 1.3; ring has both.
        .expect("ring's provider supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// WebPKI verification against the SNI name, or against any one of `names` when given.
#[derive(Debug)]
struct NamesVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    names: Vec<ServerName<'static>>,
}

impl ServerCertVerifier for NamesVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.names.is_empty() {
            return self.webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp,
                now,
            );
        }
        let mut last = rustls::Error::General("no subject alternative name to verify".into());
        for name in &self.names {
            match self
                .webpki
                .verify_server_cert(end_entity, intermediates, name, ocsp, now)
            {
                Ok(verified) => return Ok(verified),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
