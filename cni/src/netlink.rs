//! The IO edge to the kernel: a netlink connection on the current thread, and running work
//! inside another network namespace on a thread of its own (`setns` is per thread).

use std::fs::File;
use std::path::Path;

use futures_util::TryStreamExt;
use nix::sched::{CloneFlags, setns};
use rtnetlink::Handle;
use rtnetlink::packet_route::link::{LinkAttribute, LinkMessage};

use crate::error::{CniError, ErrorCode};

/// A netlink failure, as a CNI I/O error naming what was being done.
pub fn failed(what: impl std::fmt::Display, error: impl std::fmt::Display) -> CniError {
    CniError::new(ErrorCode::IoFailure, what.to_string()).with_details(error)
}

/// The kernel's errno in a netlink error, if that is what it is.
pub fn errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => Some(-message.raw_code()),
        _ => None,
    }
}

/// Runs `job` with a netlink handle for the current thread's network namespace.
pub fn with_netlink<T>(
    job: impl AsyncFnOnce(Handle) -> Result<T, CniError>,
) -> Result<T, CniError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| failed("cannot start the netlink runtime", e))?;
    runtime.block_on(async move {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(|e| failed("cannot open a netlink socket", e))?;
        tokio::spawn(connection);
        job(handle).await
    })
}

/// Runs `job` on a new thread that has entered the network namespace at `netns`.
pub fn in_netns<T: Send>(
    netns: &Path,
    job: impl FnOnce() -> Result<T, CniError> + Send,
) -> Result<T, CniError> {
    let file = File::open(netns).map_err(|e| {
        CniError::new(
            ErrorCode::InvalidEnvironment,
            format!("CNI_NETNS: cannot open {}", netns.display()),
        )
        .with_details(e)
    })?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| {
                    CniError::new(
                        ErrorCode::InvalidEnvironment,
                        format!("CNI_NETNS: {} is not a network namespace", netns.display()),
                    )
                    .with_details(e)
                })?;
                job()
            })
            .join()
            .unwrap_or_else(|_| Err(failed("the namespace thread panicked", "see stderr")))
    })
}

/// The link named `name`, if it exists.
pub async fn link_by_name(handle: &Handle, name: &str) -> Result<Option<LinkMessage>, CniError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        Err(error) if errno(&error) == Some(nix::libc::ENODEV) => Ok(None),
        Err(error) => Err(failed(format!("cannot look up link {name}"), error)),
    }
}

/// The MAC address of a link, as `aa:bb:...`.
pub fn mac_of(link: &LinkMessage) -> String {
    link.attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::Address(bytes) => Some(
                bytes
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":"),
            ),
            _ => None,
        })
        .unwrap_or_default()
}
