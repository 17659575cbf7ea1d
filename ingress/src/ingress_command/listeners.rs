//! Binding the ingress's sockets before anything else starts, so a taken port fails the
//! command at once with the flag that named it.

use anyhow::Context;
use tokio::net::TcpListener;

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
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("--https-addr {addr}: cannot listen"))?,
            ),
            None => None,
        };
        let http = TcpListener::bind(args.http_addr)
            .await
            .with_context(|| format!("--http-addr {}: cannot listen", args.http_addr))?;
        let admin = TcpListener::bind(args.admin_addr)
            .await
            .with_context(|| format!("--admin-addr {}: cannot listen", args.admin_addr))?;
        Ok(Listeners { http, https, admin })
    }
}
