//! PROXY protocol v1 and v2 (HAProxy's), as cloud load balancers send it: the header that opens
//! a connection from a trusted peer names the client's address, which then is the connection's
//! client address. The `ppp` crate parses; this module bounds what is read (a fixed buffer, no
//! allocation a length field asks for), reads exactly the header off the socket with plain
//! reads (never the request after it, never polling), and decides who may send one.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use ppp::{HeaderResult, PartialResult, v1, v2};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The longest header read: v2's 16 fixed bytes and up to this much address and TLV data (a
/// v1 header is at most 107 bytes). Load balancers send tens of bytes of TLVs.
pub const MAX_HEADER_BYTES: usize = 16 + 1024;

/// Who may send a PROXY protocol header, and how long it may take to arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyProtocol {
    /// Peers whose header is read; any other peer's connection is refused. Empty: any peer.
    pub trusted: Vec<IpNet>,
    /// For the whole header to arrive.
    pub timeout: Duration,
}

impl ProxyProtocol {
    /// Whether `peer` may send a header (and so must).
    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = canonical(peer);
        self.trusted.is_empty() || self.trusted.iter().any(|net| net.contains(&peer))
    }
}

/// Why a connection's header was refused (the sender's fault; that connection is closed).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyHeaderError {
    /// The peer is not a trusted sender.
    #[error("peer {0} is not in --proxy-protocol-trusted-cidrs")]
    Untrusted(IpAddr),
    /// No complete header within the timeout, or the connection closed first.
    #[error("no complete PROXY protocol header within {0:?}")]
    Incomplete(Duration),
    /// More than [`MAX_HEADER_BYTES`].
    #[error("a PROXY protocol header longer than {MAX_HEADER_BYTES} bytes")]
    TooLong,
    /// Not a PROXY protocol header, or a malformed one (addresses, TLVs).
    #[error("not a valid PROXY protocol header: {0}")]
    Malformed(String),
    /// Reading the socket failed.
    #[error("reading the PROXY protocol header: {0}")]
    Io(String),
}

/// What a header said: the client's address, or `None` for a `LOCAL`/`UNKNOWN` connection (a
/// health check of the load balancer's own: the peer stays the client).
pub type ProxiedClient = Option<SocketAddr>;

/// Parses the header at the start of `bytes`: its length and the client it names. `Ok(None)`
/// when more bytes are needed.
pub fn parse(bytes: &[u8]) -> Result<Option<(usize, ProxiedClient)>, ProxyHeaderError> {
    let result = HeaderResult::parse(bytes);
    if result.is_incomplete() {
        return if bytes.len() >= MAX_HEADER_BYTES {
            Err(ProxyHeaderError::TooLong)
        } else {
            Ok(None)
        };
    }
    match result {
        HeaderResult::V1(Ok(header)) => {
            let client = match header.addresses {
                v1::Addresses::Tcp4(a) => {
                    Some(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
                }
                v1::Addresses::Tcp6(a) => {
                    Some(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
                }
                v1::Addresses::Unknown => None,
            };
            Ok(Some((header.header.len(), client)))
        }
        HeaderResult::V2(Ok(header)) => {
            if header.len() > MAX_HEADER_BYTES {
                return Err(ProxyHeaderError::TooLong);
            }
            for tlv in header.tlvs() {
                tlv.map_err(|e| ProxyHeaderError::Malformed(format!("TLV: {e}")))?;
            }
            let client = match (header.command, header.addresses) {
                (v2::Command::Local, _) => None,
                (_, v2::Addresses::IPv4(a)) => {
                    Some(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
                }
                (_, v2::Addresses::IPv6(a)) => {
                    Some(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
                }
                (_, v2::Addresses::Unspecified | v2::Addresses::Unix(_)) => None,
            };
            Ok(Some((header.len(), client)))
        }
        HeaderResult::V1(Err(e)) => Err(ProxyHeaderError::Malformed(e.to_string())),
        HeaderResult::V2(Err(e)) => Err(ProxyHeaderError::Malformed(e.to_string())),
    }
}

/// Reads the header off `stream` (from `peer`) and returns the client it names. Reads exactly
/// the header's bytes, never what follows (the client's own): v1 up to its CRLF (at most 107
/// bytes), v2 its 16 fixed bytes and then the length they announce (at most the bound).
pub async fn read_header(
    stream: &mut TcpStream,
    peer: SocketAddr,
    config: &ProxyProtocol,
) -> Result<ProxiedClient, ProxyHeaderError> {
    if !config.trusts(peer.ip()) {
        return Err(ProxyHeaderError::Untrusted(peer.ip()));
    }
    tokio::time::timeout(config.timeout, read_exactly_the_header(stream))
        .await
        .map_err(|_| ProxyHeaderError::Incomplete(config.timeout))?
}

async fn read_exactly_the_header(
    stream: &mut TcpStream,
) -> Result<ProxiedClient, ProxyHeaderError> {
    let mut buffer = [0u8; MAX_HEADER_BYTES];
    // "PROXY" (v1) and "\r\n\r\n\0" (v2) both take 5 bytes to tell apart.
    read_part(stream, &mut buffer[0..5]).await?;
    let length = if &buffer[..5] == b"PROXY" {
        let mut at = 5;
        loop {
            if at >= V1_MAX_BYTES {
                return Err(ProxyHeaderError::Malformed(
                    "a v1 header without its CRLF".into(),
                ));
            }
            read_part(stream, &mut buffer[at..at + 1]).await?;
            at += 1;
            if buffer[at - 2..at] == *b"\r\n" {
                break at;
            }
        }
    } else {
        read_part(stream, &mut buffer[5..16]).await?;
        if buffer[..12] != *V2_SIGNATURE {
            return Err(ProxyHeaderError::Malformed(
                "neither a v1 nor a v2 PROXY protocol signature".into(),
            ));
        }
        let declared = usize::from(u16::from_be_bytes([buffer[14], buffer[15]]));
        let total = 16 + declared;
        if total > MAX_HEADER_BYTES {
            // Checked by the parse below too; never read a length a peer asks for.
            return parse(&buffer[..16]).and(Err(ProxyHeaderError::TooLong));
        }
        read_part(stream, &mut buffer[16..total]).await?;
        total
    };
    match parse(&buffer[..length])? {
        Some((used, client)) if used == length => {
            Ok(client.map(|c| SocketAddr::new(canonical(c.ip()), c.port())))
        }
        _ => Err(ProxyHeaderError::Malformed(
            "the header does not end where it says".into(),
        )),
    }
}

/// Fills `part` from the socket.
async fn read_part(stream: &mut TcpStream, part: &mut [u8]) -> Result<(), ProxyHeaderError> {
    stream
        .read_exact(part)
        .await
        .map(|_| ())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                ProxyHeaderError::Malformed("the connection closed inside the header".into())
            }
            _ => ProxyHeaderError::Io(e.to_string()),
        })
}

/// The 12 bytes a v2 header opens with.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// The longest v1 header, CRLF included.
const V1_MAX_BYTES: usize = 107;

/// An IPv4 address mapped into IPv6 (a dual-stack socket's peer) as the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v2 header: PROXY over TCP/IPv4 from `source`, with `tlvs` appended to the addresses.
    fn v2(command: u8, source: [u8; 4], port: u16, tlvs: &[u8]) -> Vec<u8> {
        let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        out.push(0x20 | command);
        out.push(0x11);
        out.extend_from_slice(&u16::try_from(12 + tlvs.len()).expect("fits").to_be_bytes());
        out.extend_from_slice(&source);
        out.extend_from_slice(&[10, 0, 0, 1]);
        out.extend_from_slice(&port.to_be_bytes());
        out.extend_from_slice(&443u16.to_be_bytes());
        out.extend_from_slice(tlvs);
        out
    }

    #[test]
    fn headers_name_the_client_and_their_own_length() {
        let v1 = b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 80\r\nGET / HTTP/1.1\r\n";
        assert_eq!(
            parse(v1),
            Ok(Some((42, Some("203.0.113.7:51000".parse().expect("addr")))))
        );
        let v1_six = b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n";
        assert_eq!(
            parse(v1_six),
            Ok(Some((
                v1_six.len(),
                Some("[2001:db8::7]:51000".parse().expect("addr"))
            )))
        );
        assert_eq!(parse(b"PROXY UNKNOWN\r\nGET"), Ok(Some((15, None))));
        // An AWS-style TLV (type 0xEA, a VPC endpoint id) and a NOOP.
        let tlvs = [0xEA, 0, 4, b'v', b'p', b'c', b'e', 0x04, 0, 1, 0];
        let header = v2(1, [198, 51, 100, 9], 40000, &tlvs);
        let mut with_request = header.clone();
        with_request.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(
            parse(&with_request),
            Ok(Some((
                header.len(),
                Some("198.51.100.9:40000".parse().expect("addr"))
            )))
        );
        // LOCAL: the load balancer's own health check.
        let local = v2(0, [0, 0, 0, 0], 0, &[]);
        assert_eq!(parse(&local), Ok(Some((local.len(), None))));
    }

    #[test]
    fn partial_oversized_and_malformed_headers_are_told_apart() {
        assert_eq!(parse(b"PROXY TCP4 203.0.113.7"), Ok(None));
        let header = v2(1, [198, 51, 100, 9], 40000, &[]);
        assert_eq!(parse(&header[..20]), Ok(None));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\n\r\n"),
            Err(ProxyHeaderError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"PROXY TCP4 999.0.113.7 10.0.0.1 1 2\r\n"),
            Err(ProxyHeaderError::Malformed(_))
        ));
        // A TLV whose length runs past the header.
        let bad_tlv = v2(1, [198, 51, 100, 9], 40000, &[0x04, 0, 9, 1]);
        assert!(matches!(
            parse(&bad_tlv),
            Err(ProxyHeaderError::Malformed(_))
        ));
        // A length field announcing 60 KiB: refused once the bound is reached, never read.
        let mut huge = v2(1, [198, 51, 100, 9], 40000, &[]);
        huge[14..16].copy_from_slice(&60_000u16.to_be_bytes());
        huge.resize(MAX_HEADER_BYTES, 0);
        assert_eq!(parse(&huge), Err(ProxyHeaderError::TooLong));
        // A v1 line without its end.
        let endless = [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat();
        assert!(parse(&endless).is_err());
    }

    #[test]
    fn only_trusted_peers_may_send_one() {
        let config = ProxyProtocol {
            trusted: vec!["10.0.0.0/8".parse().expect("net")],
            timeout: Duration::from_secs(1),
        };
        assert!(config.trusts("10.1.2.3".parse().expect("ip")));
        assert!(config.trusts("::ffff:10.1.2.3".parse().expect("ip")));
        assert!(!config.trusts("192.0.2.1".parse().expect("ip")));
        let any = ProxyProtocol {
            trusted: Vec::new(),
            ..config
        };
        assert!(any.trusts("192.0.2.1".parse().expect("ip")));
    }
}
