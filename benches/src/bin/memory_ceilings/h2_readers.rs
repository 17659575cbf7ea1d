//! HTTP/2 clients that ask for a lot and never read it: each connection (TLS, `h2` by ALPN)
//! opens its connection and stream windows to 2^31-1, learns the server's settings, stops
//! reading ([`Gated`]) and then asks for up to `streams` responses at once. Whatever the proxy
//! has read from the backend for them and cannot send stays with the proxy.

use std::fmt::Write;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use h2::client::{ResponseFuture, SendRequest};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};
use tokio_rustls::TlsConnector;

use crate::gated::{Gate, Gated};
use crate::pinned::Pinned;
use crate::seen::thousands;

/// The largest HTTP/2 window (RFC 9113 §6.9.1).
const MAX_WINDOW: u32 = (1 << 31) - 1;

/// How long the server's first SETTINGS (its stream limit) may take to be read: a busy proxy
/// (streaming to the readers before) can take a while; one that sets no limit takes all of it.
const SETTINGS_PATIENCE: Duration = Duration::from_secs(2);

/// What h2 assumes of the server's stream limit until its SETTINGS say otherwise.
const NO_LIMIT_YET: usize = usize::MAX;

/// How long the next stream may wait to be allowed; the server's limit is reached then.
const STREAM_PATIENCE: Duration = Duration::from_secs(1);

/// The name the harness's certificate is for.
const SERVER_NAME: &str = "bench.test";

/// A TLS client trusting the harness's certificate (`cert_pem`) alone, offering only `h2`.
pub fn connector(cert_pem: &[u8]) -> anyhow::Result<TlsConnector> {
    let certificate = CertificateDer::pem_slice_iter(cert_pem)
        .next()
        .context("no certificate in the harness's PEM")?
        .context("the harness's certificate")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned::new(certificate, provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

/// What one connection got to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// Streams opened, and the server's limit on concurrent streams (`usize::MAX`: none).
    Opened {
        /// Streams the server was sent.
        streams: usize,
        /// Its SETTINGS_MAX_CONCURRENT_STREAMS.
        limit: usize,
    },
    /// It could not be set up.
    Failed(String),
}

/// Stalled readers, held until [`Held::close`].
pub struct Held {
    readers: Vec<Reader>,
    /// What each connection got to ask, in order.
    pub asked: Vec<Asked>,
}

/// One stalled connection: its requests (dropping them would cancel the streams) and the task
/// that drives it.
struct Reader {
    _client: SendRequest<Bytes>,
    _responses: Vec<ResponseFuture>,
    driver: JoinHandle<()>,
}

/// Opens `count` stalled readers to `addr`, each asking for `streams` responses of `path`.
pub async fn open(
    addr: SocketAddr,
    tls: &TlsConnector,
    count: usize,
    streams: usize,
    path: &str,
) -> Held {
    let mut held = Held {
        readers: Vec::new(),
        asked: Vec::new(),
    };
    for _ in 0..count {
        match reader(addr, tls, streams, path).await {
            Ok((reader, asked)) => {
                held.readers.push(reader);
                held.asked.push(asked);
            }
            Err(e) => held.asked.push(Asked::Failed(format!("{e:#}"))),
        }
    }
    held
}

impl Held {
    /// Closes every connection (unread).
    pub fn close(self) {
        for reader in self.readers {
            reader.driver.abort();
        }
    }
}

/// One connection: windows opened, settings read (until the stream limit is known, or
/// [`SETTINGS_PATIENCE`]), reads stopped, streams asked for.
async fn reader(
    addr: SocketAddr,
    tls: &TlsConnector,
    streams: usize,
    path: &str,
) -> anyhow::Result<(Reader, Asked)> {
    let tcp = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect to {addr}"))?;
    tcp.set_nodelay(true)?;
    let gate = Gate::default();
    let name = ServerName::try_from(SERVER_NAME)?;
    let stream = tls
        .connect(name, Gated::new(tcp, gate.clone()))
        .await
        .context("TLS handshake")?;
    if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
        bail!("the server did not choose h2 by ALPN");
    }
    let (mut client, connection) = h2::client::Builder::new()
        .initial_window_size(MAX_WINDOW)
        .initial_connection_window_size(MAX_WINDOW)
        .handshake::<_, Bytes>(stream)
        .await
        .context("HTTP/2 handshake")?;
    // Ends when the server closes or the load does; a stalled reader looks at nothing.
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let settings_read = Instant::now() + SETTINGS_PATIENCE;
    while client.current_max_send_streams() == NO_LIMIT_YET && Instant::now() < settings_read {
        sleep(Duration::from_millis(10)).await;
    }
    gate.close();
    let limit = client.current_max_send_streams();
    let uri = format!("https://{SERVER_NAME}{path}");
    let mut responses = Vec::with_capacity(streams);
    for _ in 0..streams {
        match timeout(STREAM_PATIENCE, poll_fn(|cx| client.poll_ready(cx))).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e).context("HTTP/2 connection"),
            Err(_) => break,
        }
        let request = http::Request::get(uri.as_str()).body(())?;
        let (response, _) = client.send_request(request, true)?;
        responses.push(response);
    }
    // A request past the server's limit waits here, unsent.
    let asked = Asked::Opened {
        streams: responses.len().min(limit),
        limit,
    };
    Ok((
        Reader {
            _client: client,
            _responses: responses,
            driver,
        },
        asked,
    ))
}

/// One line for the report: "3 × 128 streams (the server allows 128), never read".
pub fn tally(asked: &[Asked], wanted: usize) -> String {
    let mut line = String::new();
    let mut i = 0;
    while i < asked.len() {
        let same = asked[i..].iter().take_while(|a| **a == asked[i]).count();
        if !line.is_empty() {
            line.push_str("; ");
        }
        let _ = match &asked[i] {
            Asked::Opened { streams, limit } => {
                let limit = if *limit == NO_LIMIT_YET {
                    "no limit from the server".to_string()
                } else {
                    format!("the server allows {}", thousands(*limit as u64))
                };
                write!(
                    line,
                    "{same} × {streams} of {wanted} streams opened ({limit}), never read"
                )
            }
            Asked::Failed(why) => write!(line, "{same} failed: {why}"),
        };
        i += same;
    }
    if line.is_empty() {
        line.push_str("no connections");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_are_summed_up_alike_first() {
        let capped = Asked::Opened {
            streams: 128,
            limit: 128,
        };
        assert_eq!(
            tally(&[capped.clone(), capped.clone(), capped], 200),
            "3 × 128 of 200 streams opened (the server allows 128), never read"
        );
        let open = Asked::Opened {
            streams: 200,
            limit: usize::MAX,
        };
        assert_eq!(
            tally(&[open, Asked::Failed("TLS handshake".into())], 200),
            "1 × 200 of 200 streams opened (no limit from the server), never read; 1 failed: \
             TLS handshake"
        );
        assert_eq!(tally(&[], 200), "no connections");
    }
}
