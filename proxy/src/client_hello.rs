//! Reads a TLS ClientHello off a connection without answering it: the SNI name it asks for and
//! every byte read, to pass on to whoever terminates the session. rustls's `Acceptor` parses
//! the records (fragmented ClientHellos included); this module only bounds how much is read.

use rustls::server::Acceptor;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The most ClientHello bytes read (a ClientHello of many extensions and a post-quantum key
/// share is a few KiB; TLS caps a handshake message's record at 16 KiB plus its header).
pub const MAX_CLIENT_HELLO_BYTES: usize = 16 * 1024 + 5;

/// Why no ClientHello was read.
#[derive(Debug, thiserror::Error)]
pub enum HelloError {
    /// The client closed the connection before its ClientHello was complete.
    #[error("the client closed the connection before its ClientHello was complete")]
    Closed,
    /// More than [`MAX_CLIENT_HELLO_BYTES`] without a complete ClientHello.
    #[error("no complete ClientHello within {MAX_CLIENT_HELLO_BYTES} bytes")]
    TooLarge,
    /// The bytes are not a TLS ClientHello (the client's fault; a retry will not help).
    #[error("not a TLS ClientHello: {0}")]
    NotTls(String),
    /// Reading failed.
    #[error("reading the ClientHello: {0}")]
    Io(#[from] std::io::Error),
}

/// A ClientHello read: its SNI name (lower case, if it sent one) and the bytes as they came.
#[derive(Debug)]
pub struct Hello {
    /// `server_name`, if the client sent one.
    pub server_name: Option<String>,
    /// Every byte read from the connection, to send on first.
    pub bytes: Vec<u8>,
}

/// Reads from `stream` until a whole ClientHello has arrived (the caller bounds the time).
pub async fn read_client_hello<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Hello, HelloError> {
    let mut acceptor = Acceptor::default();
    let mut bytes = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let room = MAX_CLIENT_HELLO_BYTES - bytes.len();
        if room == 0 {
            return Err(HelloError::TooLarge);
        }
        let want = room.min(chunk.len());
        let read = stream.read(&mut chunk[..want]).await?;
        if read == 0 {
            return Err(HelloError::Closed);
        }
        let new = &chunk[..read];
        bytes.extend_from_slice(new);
        let mut unread = new;
        while !unread.is_empty() {
            // `read_tls` takes what its buffer holds; the rest is offered again.
            if acceptor.read_tls(&mut unread)? == 0 {
                return Err(HelloError::TooLarge);
            }
        }
        match acceptor.accept() {
            Ok(None) => continue,
            Ok(Some(accepted)) => {
                let server_name = accepted
                    .client_hello()
                    .server_name()
                    .map(str::to_ascii_lowercase);
                return Ok(Hello { server_name, bytes });
            }
            Err((error, _alert)) => return Err(HelloError::NotTls(error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real ClientHello for `name`, as a rustls client writes it.
    fn client_hello(name: &str) -> Vec<u8> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let server_name = rustls_pki_types::ServerName::try_from(name.to_string()).expect("name");
        let mut client =
            rustls::ClientConnection::new(std::sync::Arc::new(config), server_name).expect("conn");
        let mut out = Vec::new();
        client.write_tls(&mut out).expect("write");
        out
    }

    /// A reader handing out `bytes` a few at a time.
    struct Trickle(Vec<u8>, usize);

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let Trickle(bytes, at) = &mut *self;
            let n = 7.min(bytes.len() - *at).min(buf.remaining());
            buf.put_slice(&bytes[*at..*at + n]);
            *at += n;
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn reads_the_name_and_keeps_every_byte_even_when_it_trickles_in() {
        let hello = client_hello("Shop.Example");
        let mut stream = Trickle(hello.clone(), 0);
        let read = read_client_hello(&mut stream).await.expect("hello");
        assert_eq!(read.server_name.as_deref(), Some("shop.example"));
        assert_eq!(read.bytes, hello);
    }

    #[tokio::test]
    async fn refuses_what_is_not_a_client_hello_and_stops_at_the_bound() {
        let mut http = &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..];
        assert!(matches!(
            read_client_hello(&mut http).await,
            Err(HelloError::NotTls(_))
        ));
        let mut truncated = &client_hello("a.example")[..40];
        assert!(matches!(
            read_client_hello(&mut truncated).await,
            Err(HelloError::Closed)
        ));
        // A handshake record header announcing the largest record, then endless bytes.
        let mut endless = vec![0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0xff, 0xff];
        endless.resize(64 * 1024, 0);
        let mut endless = &endless[..];
        let outcome = read_client_hello(&mut endless).await;
        assert!(
            matches!(outcome, Err(HelloError::TooLarge | HelloError::NotTls(_))),
            "{outcome:?}"
        );
    }
}
