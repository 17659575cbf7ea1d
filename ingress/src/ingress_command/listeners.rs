//! Binding the ingress's sockets before anything else starts, so a taken port fails the
//! command at once with the flag that named it.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::{TcpListener, TcpSocket};

use crate::args::IngressArgs;

/// The bound sockets of `--http-addr`, `--https-addr` and `--admin-addr`.
pub(super) struct Listeners {
    /// `--http-addr`.
    pub(super) http: TcpListener,
    /// `--https-addr`, if given.
    pub(super) https: Option<TcpListener>,
    /// `--admin-addr`.
    pub(super) admin: TcpListener,
}

impl Listeners {
    /// Binds HTTPS (if given), HTTP, then admin; an error names the flag and address.
    pub(super) async fn bind(args: &IngressArgs) -> anyhow::Result<Listeners> {
        let https = match args.https_addr {
            Some(addr) => {
                Some(listen(addr).with_context(|| format!("--https-addr {addr}: cannot listen"))?)
            }
            None => None,
        };
        let http = listen(args.http_addr)
            .with_context(|| format!("--http-addr {}: cannot listen", args.http_addr))?;
        let admin = TcpListener::bind(args.admin_addr)
            .await
            .with_context(|| format!("--admin-addr {}: cannot listen", args.admin_addr))?;
        Ok(Listeners { http, https, admin })
    }
}

/// Connections the kernel may queue for a proxy listener before it accepts them (capped by
/// `net.core.somaxconn`). The standard library's 128 overflows in a burst of new clients (SYN
/// cookies, resets); ingress-nginx listens with the kernel's maximum too.
const PROXY_BACKLOG: u32 = 4096;

/// A proxy listener on `addr`, with address reuse and a deep accept queue.
pub(super) fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(PROXY_BACKLOG)
}
