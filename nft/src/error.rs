//! What can go wrong between a table model and the kernel, each error saying whose fault it
//! is ([`Fault`]) and whether sending the same transaction again can help.

use std::fmt;
use std::io;

pub use portcullis_fault::{Classified, Fault};

/// A transaction that cannot be encoded: nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A netlink length field cannot hold the length: an attribute or nest is longer than
    /// 65535 bytes, or a message longer than 4 GiB. Sent anyway, the kernel would read a
    /// corrupt message; the builder must split its data (as set elements are, per message).
    #[error("nftables: {what}: attribute {kind} is {len} bytes, more than netlink's {max}")]
    TooLong {
        /// The message it belongs to.
        what: String,
        /// The attribute type (with nesting flags), or 0 for the message itself.
        kind: u16,
        /// Its length with header.
        len: usize,
        /// The most its length field holds.
        max: usize,
    },
}

impl Classified for EncodeError {
    /// Always ours: the same model encodes the same way.
    fn fault(&self) -> Fault {
        Fault::Bug
    }

    /// Never: the same model fails the same way.
    fn retryable(&self) -> bool {
        false
    }
}

/// One message the kernel refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What the message does (`set in-abc-a4`, `rule in chain forward`, ...).
    pub what: String,
    /// The kernel's error number (positive: `ENOENT`, `EEXIST`, ...).
    pub errno: i32,
    /// The kernel's extended-ack text, when it gave one.
    pub detail: Option<String>,
}

impl Refusal {
    /// Errors a moment later may not repeat: the kernel was busy or short of memory.
    fn transient(&self) -> bool {
        matches!(
            self.errno,
            nix::libc::EBUSY | nix::libc::EAGAIN | nix::libc::ENOMEM | nix::libc::EINTR
        )
    }

    /// The caller lacks `CAP_NET_ADMIN` (in the namespace).
    pub(crate) fn denied(&self) -> bool {
        matches!(self.errno, nix::libc::EPERM | nix::libc::EACCES)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.what,
            io::Error::from_raw_os_error(self.errno)
        )?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

/// Why a transaction was not applied; the kernel's ruleset is as it was (a transaction is
/// all or nothing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NftError {
    /// It could not be encoded; nothing was sent. Ours, not retryable.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// Not allowed: no `CAP_NET_ADMIN` in this network namespace. The host's fault; retrying
    /// will not help until the process has it.
    #[error("nftables: permission denied: {0}")]
    Permission(String),
    /// The netlink socket failed (no nf_tables in the kernel, a full buffer, a signal). The
    /// host's; [`NftError::retryable`] says whether the error kind is a passing one.
    #[error("nftables netlink: {step}: {source}")]
    Socket {
        /// What was being done.
        step: String,
        /// What the socket said.
        source: io::Error,
    },
    /// The kernel refused messages: each names the message and the kernel's reason. The
    /// transaction expected another table (edited behind our back: rewrite it whole), or the
    /// kernel is too old; retrying the same helps only if the kernel was busy.
    #[error("nftables refused the transaction: {}", list(.0))]
    Refused(Vec<Refusal>),
    /// The kernel's answer could not be read: a bug of ours in reading it.
    #[error("nftables: unreadable netlink answer")]
    Malformed,
}

impl Classified for NftError {
    /// Ours for what we built or failed to read; the host's (operator's) for permissions and
    /// the socket; the kernel's for a refusal.
    fn fault(&self) -> Fault {
        match self {
            NftError::Encode(_) | NftError::Malformed => Fault::Bug,
            NftError::Permission(_) | NftError::Socket { .. } => Fault::Operator,
            NftError::Refused(_) => Fault::Kernel,
        }
    }

    /// Whether sending the same transaction again may succeed without anyone acting.
    fn retryable(&self) -> bool {
        match self {
            NftError::Socket { source, .. } => {
                matches!(
                    source.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                ) || source.raw_os_error() == Some(nix::libc::ENOBUFS)
            }
            NftError::Refused(refusals) => refusals.iter().all(Refusal::transient),
            NftError::Encode(_) | NftError::Permission(_) | NftError::Malformed => false,
        }
    }
}

impl NftError {
    /// A socket error, or a permission error when that is what it is.
    pub(crate) fn io(step: &str, error: io::Error) -> NftError {
        if error.kind() == io::ErrorKind::PermissionDenied {
            NftError::Permission(format!("{step}: {error}"))
        } else {
            NftError::Socket {
                step: step.to_string(),
                source: error,
            }
        }
    }
}

fn list(refusals: &[Refusal]) -> String {
    refusals
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
