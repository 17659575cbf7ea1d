//! Reads a TLS ClientHello off a connection without answering it: the SNI name it asks for and
//! every byte read, to pass on to whoever terminates the session. The backend terminates TLS,
//! so anything it might accept is read (TLS 1.0 to 1.3, any extensions): the records are
//! walked here (a ClientHello may span several), the message is parsed by `tls-parser`, and
//! only how much is read is bounded.

use tls_parser::{
    SNIType, TlsExtension, TlsMessage, TlsMessageHandshake, parse_tls_extensions,
    parse_tls_message_handshake,
};
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
        bytes.extend_from_slice(&chunk[..read]);
        if let Some(server_name) = server_name(&bytes)? {
            return Ok(Hello { server_name, bytes });
        }
    }
}

/// The SNI name of the ClientHello `bytes` start with: `None` while more bytes are needed,
/// `Some(None)` for a complete ClientHello without one.
fn server_name(bytes: &[u8]) -> Result<Option<Option<String>>, HelloError> {
    let not_tls = |why: &str| HelloError::NotTls(why.to_string());
    // The handshake bytes, from as many records as it takes.
    let mut handshake = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 5) {
        if header[0] != 22 {
            return Err(not_tls("the first record is not a handshake"));
        }
        if header[1] != 3 {
            return Err(not_tls("not a TLS record version"));
        }
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let Some(fragment) = bytes.get(at + 5..at + 5 + length) else {
            return Ok(None);
        };
        handshake.extend_from_slice(fragment);
        at += 5 + length;
        let Some(head) = handshake.get(..4) else {
            continue;
        };
        if head[0] != 1 {
            return Err(not_tls("the first handshake message is not a ClientHello"));
        }
        let message =
            4 + (usize::from(head[1]) << 16 | usize::from(head[2]) << 8 | usize::from(head[3]));
        if message > MAX_CLIENT_HELLO_BYTES {
            return Err(HelloError::TooLarge);
        }
        if handshake.len() < message {
            continue;
        }
        let hello = match parse_tls_message_handshake(&handshake[..message]) {
            Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(hello)))) => hello,
            _ => return Err(not_tls("a malformed ClientHello")),
        };
        let Some(extensions) = hello.ext else {
            return Ok(Some(None));
        };
        let Ok((_, extensions)) = parse_tls_extensions(extensions) else {
            return Err(not_tls("malformed ClientHello extensions"));
        };
        let name = extensions.iter().find_map(|extension| match extension {
            TlsExtension::SNI(names) => names
                .iter()
                .find(|(kind, _)| *kind == SNIType::HostName)
                .map(|(_, name)| *name),
            _ => None,
        });
        return match name {
            None => Ok(Some(None)),
            Some(name) => match std::str::from_utf8(name) {
                Ok(name) if !name.is_empty() && name.is_ascii() => {
                    Ok(Some(Some(name.to_ascii_lowercase())))
                }
                _ => Err(not_tls("an SNI name that is not ASCII")),
            },
        };
    }
    Ok(None)
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

    /// A minimal TLS 1.2 ClientHello (no signature_algorithms, which rustls would demand):
    /// one cipher suite, null compression, and an SNI extension for `name` when given;
    /// split into records of at most `record` handshake bytes.
    fn legacy_hello(name: Option<&str>, record: usize) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0, 0x2f, 1, 0]);
        if let Some(name) = name {
            let name = name.as_bytes();
            let list = 3 + name.len();
            let mut extension = vec![0, 0];
            extension.extend_from_slice(&u16::try_from(list + 2).expect("fits").to_be_bytes());
            extension.extend_from_slice(&u16::try_from(list).expect("fits").to_be_bytes());
            extension.push(0);
            extension.extend_from_slice(&u16::try_from(name.len()).expect("fits").to_be_bytes());
            extension.extend_from_slice(name);
            body.extend_from_slice(&u16::try_from(extension.len()).expect("fits").to_be_bytes());
            body.extend_from_slice(&extension);
        }
        let mut handshake = vec![1, 0];
        handshake.extend_from_slice(&u16::try_from(body.len()).expect("fits").to_be_bytes());
        handshake.extend_from_slice(&body);
        let mut out = Vec::new();
        for fragment in handshake.chunks(record) {
            out.extend_from_slice(&[22, 3, 1]);
            out.extend_from_slice(&u16::try_from(fragment.len()).expect("fits").to_be_bytes());
            out.extend_from_slice(fragment);
        }
        out
    }

    #[tokio::test]
    async fn older_clients_split_records_and_hellos_without_sni_are_read() {
        for record in [16 * 1024, 20] {
            let hello = legacy_hello(Some("Legacy.Example"), record);
            let mut stream = Trickle(hello.clone(), 0);
            let read = read_client_hello(&mut stream).await.expect("hello");
            assert_eq!(
                read.server_name.as_deref(),
                Some("legacy.example"),
                "{record}"
            );
            assert_eq!(read.bytes, hello);
        }
        let mut no_name = &legacy_hello(None, 16 * 1024)[..];
        let read = read_client_hello(&mut no_name).await.expect("hello");
        assert_eq!(read.server_name, None);
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
