//! Sends an encoded transaction to the kernel over a netfilter netlink socket and waits for
//! its answer: the kernel answers the messages it refuses, and a barrier request sent
//! afterwards marks the end of the answers. Any refusal aborts the whole transaction.

use std::io;

use netlink_sys::protocols::NETLINK_NETFILTER;
use netlink_sys::{Socket, SocketAddr};
use nix::sys::socket::{setsockopt, sockopt};

use crate::error::{NftError, Refusal};
use crate::transaction::Transaction;
use crate::wire::Encoded;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

/// Encodes and applies a transaction.
pub fn apply(transaction: Transaction) -> Result<(), NftError> {
    commit(&transaction.encode()?)
}

/// Applies an encoded transaction.
pub fn commit(encoded: &Encoded) -> Result<(), NftError> {
    let mut socket =
        Socket::new(NETLINK_NETFILTER).map_err(|e| NftError::io("opening the socket", e))?;
    socket
        .bind_auto()
        .map_err(|e| NftError::io("binding the socket", e))?;
    // The whole transaction goes in one send, which must fit the socket's send buffer
    // (208 KB by default; thousands of pods make megabytes). As root, raise it past the
    // system limit; otherwise try within it.
    let wanted = encoded.batch.len() + (64 << 10);
    if setsockopt(&socket, sockopt::SndBufForce, &wanted).is_err() {
        let _ = setsockopt(&socket, sockopt::SndBuf, &wanted);
    }
    // Error strings from the kernel, when it has them; refused messages echoed by header only
    // (a refused set may be megabytes), and room for many of them.
    let _ = socket.set_ext_ack(true);
    let _ = socket.set_cap_ack(true);
    if setsockopt(&socket, sockopt::RcvBufForce, &(4usize << 20)).is_err() {
        let _ = socket.set_rx_buf_sz(4usize << 20);
    }
    let kernel = SocketAddr::new(0, 0);
    let sent = socket
        .send_to(&encoded.batch, &kernel, 0)
        .map_err(|e| NftError::io("sending the transaction", e))?;
    if sent != encoded.batch.len() {
        return Err(NftError::io(
            "sending the transaction",
            io::Error::other("short send"),
        ));
    }
    socket
        .send_to(&encoded.barrier, &kernel, 0)
        .map_err(|e| NftError::io("sending the barrier", e))?;
    let mut refused = Vec::new();
    loop {
        let mut answer: Vec<u8> = Vec::with_capacity(1 << 16);
        socket
            .recv_from(&mut answer, 0)
            .map_err(|e| NftError::io("reading the answer", e))?;
        let mut at = 0;
        while at + 16 <= answer.len() {
            let len = u32_at(&answer, at)? as usize;
            let kind = u16_at(&answer, at + 4)?;
            let seq = u32_at(&answer, at + 8)?;
            if len < 16 || at + len > answer.len() {
                return Err(NftError::Malformed);
            }
            let payload = &answer[at + 16..at + len];
            if kind == NLMSG_ERROR && payload.len() >= 4 {
                let code = i32::from_ne_bytes(bytes4(payload, 0)?);
                if code != 0 {
                    let what = encoded
                        .what
                        .get(&seq)
                        .cloned()
                        .unwrap_or_else(|| format!("message {seq}"));
                    refused.push(Refusal {
                        what,
                        errno: code.saturating_neg(),
                        detail: extended_ack(payload),
                    });
                } else if seq == encoded.barrier_seq {
                    return finish(refused);
                }
            } else if kind == NLMSG_DONE && seq == encoded.barrier_seq {
                return finish(refused);
            }
            at += (len + 3) & !3;
        }
    }
}

/// The outcome once every answer is in: a refusal for lack of permission is the host's
/// fault and said so; others are the kernel's.
fn finish(refused: Vec<Refusal>) -> Result<(), NftError> {
    if refused.is_empty() {
        Ok(())
    } else if let Some(denied) = refused.iter().find(|r| r.denied()) {
        Err(NftError::Permission(denied.to_string()))
    } else {
        Err(NftError::Refused(refused))
    }
}

fn bytes4(buf: &[u8], at: usize) -> Result<[u8; 4], NftError> {
    buf.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .ok_or(NftError::Malformed)
}

fn u32_at(buf: &[u8], at: usize) -> Result<u32, NftError> {
    Ok(u32::from_ne_bytes(bytes4(buf, at)?))
}

fn u16_at(buf: &[u8], at: usize) -> Result<u16, NftError> {
    buf.get(at..at + 2)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_ne_bytes)
        .ok_or(NftError::Malformed)
}

/// The kernel's error text (`NLMSGERR_ATTR_MSG`) after the echoed request header, if any.
fn extended_ack(payload: &[u8]) -> Option<String> {
    // The error code, then the request's header (capped to 16 bytes for errors), then TLVs.
    let mut at = 4 + 16;
    while at + 4 <= payload.len() {
        let len = usize::from(u16::from_ne_bytes([payload[at], payload[at + 1]]));
        let kind = u16::from_ne_bytes([payload[at + 2], payload[at + 3]]) & 0x3fff;
        if len < 4 || at + len > payload.len() {
            break;
        }
        if kind == 1 {
            let text = String::from_utf8_lossy(&payload[at + 4..at + len]);
            return Some(text.trim_end_matches('\0').to_string());
        }
        at += (len + 3) & !3;
    }
    None
}
