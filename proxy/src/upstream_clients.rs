//! The pooled upstream clients, one per way of speaking to a backend (ingress-nginx's
//! `backend-protocol`): HTTP/1.1, HTTP/2 with prior knowledge (h2c, gRPC), and both over TLS.
//! Upstream TLS does not verify the backend's certificate, as ingress-nginx does by default
//! (`proxy_ssl_verify off`): a cluster's backends mostly present self-signed certificates. It
//! sends the Service's host as SNI (see [`crate::tls_upstream_names`]). A backend with a
//! BackendTLSPolicy gets clients of its own that verify ([`VerifiedClients`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use portcullis_route::spec::{BackendTls, UpstreamProtocol};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tracing::debug;

use crate::retryable_body::RetryableBody;
use crate::server::ProxyConfig;
use crate::tls_upstream_names::split_host;
use crate::verified_upstream_tls::{VerifiedTlsError, verified_config};

/// A client over plain TCP.
pub type PlainClient = Client<HttpConnector, RetryableBody>;
/// A client over TLS, connecting to the endpoint a URI host names (see
/// [`crate::tls_upstream_names`]).
pub type TlsClient = Client<HttpsConnector<HttpConnector<EndpointNames>>, RetryableBody>;

/// The resolver of TLS upstream URI hosts: the endpoint address their first label holds. No
/// lookup is made; any other name fails to resolve (the forwarder makes no other).
#[derive(Debug, Clone, Copy, Default)]
pub struct EndpointNames;

impl tower_service::Service<Name> for EndpointNames {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        std::future::ready(match split_host(name.as_str()) {
            // The connector sets the URI's port.
            Some((address, _)) => Ok(vec![SocketAddr::new(address, 0)].into_iter()),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} names no endpoint", name.as_str()),
            )),
        })
    }
}

/// The SNI of a TLS upstream URI: the Service's host after the endpoint's label; an address
/// (the built-in backends') sends none.
#[derive(Debug, Clone, Copy)]
struct ServiceHostAsSni;

impl hyper_rustls::ResolveServerName for ServiceHostAsSni {
    fn resolve(
        &self,
        uri: &http::Uri,
    ) -> Result<ServerName<'static>, Box<dyn std::error::Error + Sync + Send>> {
        let host = uri.host().unwrap_or_default();
        let name = split_host(host).map_or(host, |(_, service_host)| service_host);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        Ok(ServerName::try_from(name.to_owned())?)
    }
}

/// The pooled clients: one set for the proxy's connect timeout, and one more per other connect
/// timeout a route asks for (`proxy-connect-timeout`), made on first use. The timeout belongs to
/// the connector, so a route's own value needs clients (and keep-alive pools) of its own.
#[derive(Debug, Clone)]
pub struct UpstreamClients {
    default: Arc<ClientSet>,
    settings: ClientSettings,
    /// Made by routes' connect timeouts; read without a lock, added to under `adding`.
    others: Arc<ArcSwap<ClientSetsByTimeout>>,
    /// Made by backends' verified TLS; read without a lock, added to under `adding`.
    verified: Arc<ArcSwap<VerifiedByPolicy>>,
    adding: Arc<Mutex<()>>,
}

/// Verifying clients by the TLS settings they verify with, or why they cannot be made (kept,
/// so a policy that cannot be used costs one attempt, not one per request).
type VerifiedByPolicy = Vec<(Arc<BackendTls>, Result<Arc<VerifiedClients>, Arc<str>>)>;

/// The most verifying client pairs kept; making one more drops the oldest (its pooled
/// connections close once their requests are done).
const MAX_VERIFIED: usize = 256;

/// HTTP/1.1 and HTTP/2 clients over TLS that verify the backend as one BackendTLSPolicy says.
#[derive(Debug)]
pub struct VerifiedClients {
    https: TlsClient,
    h2_tls: TlsClient,
}

impl VerifiedClients {
    /// Sends `request` over TLS (HTTP/2 for the HTTP/2 protocols, else HTTP/1.1).
    pub fn request(
        &self,
        protocol: UpstreamProtocol,
        request: http::Request<RetryableBody>,
    ) -> hyper_util::client::legacy::ResponseFuture {
        if protocol.is_h2() {
            self.h2_tls.request(request)
        } else {
            self.https.request(request)
        }
    }
}

/// Client sets by their connect timeout.
type ClientSetsByTimeout = Vec<(Duration, Arc<ClientSet>)>;

/// What every client set is built with.
#[derive(Debug, Clone, Copy)]
struct ClientSettings {
    connect_timeout: Duration,
    idle_timeout: Duration,
}

impl ClientSettings {
    /// `connector` with TCP_NODELAY and the connect timeout.
    fn tuned<R>(self, mut connector: HttpConnector<R>) -> HttpConnector<R> {
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(self.connect_timeout));
        connector
    }
}

/// The most client sets made for routes' connect timeouts; a route asking for yet another
/// value uses the proxy's.
const MAX_CONNECT_TIMEOUTS: usize = 32;

/// One pooled client per upstream protocol.
#[derive(Debug)]
struct ClientSet {
    http1: PlainClient,
    h2c: PlainClient,
    https: TlsClient,
    h2_tls: TlsClient,
}

/// The most an upstream connection's read buffer holds.
const UPSTREAM_READ_BUFFER: usize = 64 * 1024;

impl UpstreamClients {
    /// Keep-alive per endpoint, TCP_NODELAY, the connect timeout; the forwarder sets `Host`
    /// itself (never the endpoint's address); a bounded HTTP/1 read buffer.
    pub fn new(config: &ProxyConfig) -> Self {
        let settings = ClientSettings {
            connect_timeout: config.upstream_connect_timeout,
            idle_timeout: config.upstream_idle_timeout,
        };
        UpstreamClients {
            default: Arc::new(ClientSet::new(settings)),
            settings,
            others: Arc::new(ArcSwap::from_pointee(Vec::new())),
            verified: Arc::new(ArcSwap::from_pointee(Vec::new())),
            adding: Arc::new(Mutex::new(())),
        }
    }

    /// Sends `request` with the client for `protocol`, connecting within `connect` (the
    /// proxy's connect timeout when `None`).
    pub fn request(
        &self,
        protocol: UpstreamProtocol,
        connect: Option<Duration>,
        request: http::Request<RetryableBody>,
    ) -> hyper_util::client::legacy::ResponseFuture {
        match connect {
            Some(timeout) if timeout != self.settings.connect_timeout => self
                .with_connect_timeout(timeout)
                .request(protocol, request),
            _ => self.default.request(protocol, request),
        }
    }

    /// The clients that verify as `tls` says, made on first use.
    pub fn verified(&self, tls: &Arc<BackendTls>) -> Result<Arc<VerifiedClients>, Arc<str>> {
        let known = |sets: &VerifiedByPolicy| {
            sets.iter()
                .find(|(t, _)| Arc::ptr_eq(t, tls) || **t == **tls)
                .map(|(_, clients)| clients.clone())
        };
        if let Some(clients) = known(&self.verified.load()) {
            return clients;
        }
        let _adding = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.verified.load_full();
        if let Some(clients) = known(&current) {
            return clients;
        }
        let made = verified_config(tls)
            .map(|config| Arc::new(ClientSet::verified(self.settings, config)))
            .map_err(|e: VerifiedTlsError| Arc::<str>::from(e.to_string()));
        let mut next = Vec::clone(&current);
        if next.len() >= MAX_VERIFIED {
            // The oldest goes; its pool closes once its requests are done.
            let _oldest = next.remove(0);
        }
        next.push((Arc::clone(tls), made.clone()));
        self.verified.store(Arc::new(next));
        made
    }

    fn with_connect_timeout(&self, timeout: Duration) -> Arc<ClientSet> {
        if let Some(set) = find(&self.others.load(), timeout) {
            return set;
        }
        let _adding = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.others.load_full();
        if let Some(set) = find(&current, timeout) {
            return set;
        }
        if current.len() >= MAX_CONNECT_TIMEOUTS {
            debug!(
                ?timeout,
                "too many distinct connect timeouts; the proxy's is used"
            );
            return Arc::clone(&self.default);
        }
        let set = Arc::new(ClientSet::new(ClientSettings {
            connect_timeout: timeout,
            ..self.settings
        }));
        let mut next = Vec::clone(&current);
        next.push((timeout, Arc::clone(&set)));
        self.others.store(Arc::new(next));
        set
    }
}

fn find(sets: &[(Duration, Arc<ClientSet>)], timeout: Duration) -> Option<Arc<ClientSet>> {
    sets.iter()
        .find(|(t, _)| *t == timeout)
        .map(|(_, set)| Arc::clone(set))
}

impl ClientSet {
    fn new(settings: ClientSettings) -> Self {
        let tcp = settings.tuned(HttpConnector::new());
        let (https, h2_tls) = tls_clients(settings, unverified_tls());
        ClientSet {
            http1: builder(settings).build(tcp.clone()),
            h2c: builder(settings).http2_only(true).build(tcp),
            https,
            h2_tls,
        }
    }

    /// The TLS clients of `config` (a BackendTLSPolicy's verification).
    fn verified(settings: ClientSettings, config: rustls::ClientConfig) -> VerifiedClients {
        let (https, h2_tls) = tls_clients(settings, config);
        VerifiedClients { https, h2_tls }
    }

    fn request(
        &self,
        protocol: UpstreamProtocol,
        request: http::Request<RetryableBody>,
    ) -> hyper_util::client::legacy::ResponseFuture {
        match protocol {
            UpstreamProtocol::Http => self.http1.request(request),
            UpstreamProtocol::H2c | UpstreamProtocol::Grpc => self.h2c.request(request),
            UpstreamProtocol::Https => self.https.request(request),
            UpstreamProtocol::Grpcs => self.h2_tls.request(request),
        }
    }
}

/// A client builder: pooled with the idle timeout, the forwarder's `Host`, a bounded buffer.
fn builder(settings: ClientSettings) -> hyper_util::client::legacy::Builder {
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(settings.idle_timeout)
        .set_host(false)
        .http1_max_buf_size(UPSTREAM_READ_BUFFER);
    builder
}

/// HTTP/1.1 and HTTP/2 clients over TLS with `config`, connecting to the endpoint a URI host
/// names and sending the rest of it as SNI.
fn tls_clients(settings: ClientSettings, config: rustls::ClientConfig) -> (TlsClient, TlsClient) {
    let mut tls_tcp = settings.tuned(HttpConnector::new_with_resolver(EndpointNames));
    // The TLS connector needs the plain connector to accept https:// URIs.
    tls_tcp.enforce_http(false);
    let tls = |alpn_h2: bool| {
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(config.clone())
            .https_only()
            .with_server_name_resolver(ServiceHostAsSni);
        if alpn_h2 {
            connector.enable_http2().wrap_connector(tls_tcp.clone())
        } else {
            connector.enable_http1().wrap_connector(tls_tcp.clone())
        }
    };
    (
        builder(settings).build(tls(false)),
        builder(settings).http2_only(true).build(tls(true)),
    )
}

/// TLS 1.2/1.3 with ring and no certificate verification.
fn unverified_tls() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(NoVerification(Arc::clone(&provider)));
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        // Fails only for a provider without suites for TLS 1.2 and 1.3; ring has both.
        .expect("ring's provider supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

/// Accepts any certificate, but still checks the handshake signatures (the peer holds the
/// key of the certificate it sent).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
