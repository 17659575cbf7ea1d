//! Makes the kernel's main routing table hold exactly the planned node routes. Routes this
//! agent installs carry their own protocol number ([`ROUTE_PROTOCOL`]), so a sync only ever
//! adds, replaces or removes routes of that protocol and never anyone else's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures_util::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol,
};
use rtnetlink::{Handle, RouteMessageBuilder};

use super::plan::NodeRoute;
use portcullis_cni::netlink::errno;

/// The `proto` of the routes the agent owns (`ip route show proto 77`); unassigned in
/// iproute2's `rt_protos`.
pub const ROUTE_PROTOCOL: u8 = 77;

/// What a sync changed, and what it could not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Routes added, or whose gateway changed.
    pub installed: Vec<NodeRoute>,
    /// Routes of ours no Node wants any more.
    pub removed: Vec<NodeRoute>,
    /// Routes the kernel refused, one message each; the other routes are still synced, and
    /// the next sync tries these again.
    pub failed: Vec<String>,
}

/// A netlink call that failed during a sync; the next sync tries again.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct SyncError {
    what: String,
    source: rtnetlink::Error,
}

/// Brings the main table's routes of [`ROUTE_PROTOCOL`] in line with `desired`. Fails only when
/// the routes cannot be listed; a route the kernel refuses is reported in
/// [`SyncReport::failed`] and does not hold up the others.
pub async fn sync_routes(handle: &Handle, desired: &[NodeRoute]) -> Result<SyncReport, SyncError> {
    let current = owned_routes(handle).await?;
    let mut report = SyncReport::default();
    for (route, message) in &current {
        if !desired.contains(route) && !desired.iter().any(|d| d.dst == route.dst) {
            match handle.route().del(message.clone()).execute().await {
                Ok(()) => report.removed.push(*route),
                Err(error) => report.failed.push(format!(
                    "cannot remove route {} via {}: {error}",
                    route.dst, route.via
                )),
            }
        }
    }
    for route in desired {
        if current.iter().any(|(have, _)| have == route) {
            continue;
        }
        let ours_to_update = current.iter().any(|(have, _)| have.dst == route.dst);
        match install(handle, route, ours_to_update).await {
            Ok(()) => report.installed.push(*route),
            Err(problem) => report.failed.push(problem),
        }
    }
    Ok(report)
}

/// Adds the route, or with `replace` updates ours to the same CIDR that has an old gateway.
/// Without it the add is exclusive, so a route someone else made to that CIDR is left alone.
async fn install(handle: &Handle, route: &NodeRoute, replace: bool) -> Result<(), String> {
    let failed = |error: &dyn std::fmt::Display| {
        format!(
            "cannot install route {} via {}: {error}",
            route.dst, route.via
        )
    };
    let message = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(route.dst.addr(), route.dst.prefix_len())
        .and_then(|b| b.gateway(route.via))
        .map_err(|e| failed(&e))?
        .protocol(RouteProtocol::Other(ROUTE_PROTOCOL))
        .build();
    let request = handle.route().add(message);
    let request = if replace { request.replace() } else { request };
    match request.execute().await {
        Ok(()) => Ok(()),
        Err(error) if errno(&error) == Some(nix::libc::EEXIST) => Err(format!(
            "{} (a route to {} that Portcullis did not make is in the way; it is left alone)",
            failed(&error),
            route.dst
        )),
        Err(error) if errno(&error) == Some(nix::libc::ENETUNREACH) => Err(format!(
            "{} (host-gw routing needs every node's InternalIP on a network this node is \
             directly attached to)",
            failed(&error)
        )),
        Err(error) => Err(failed(&error)),
    }
}

/// Our routes in the main table, both families, with the messages to delete them by.
async fn owned_routes(handle: &Handle) -> Result<Vec<(NodeRoute, RouteMessage)>, SyncError> {
    let mut owned = Vec::new();
    let queries = [
        RouteMessageBuilder::<Ipv4Addr>::new().build(),
        RouteMessageBuilder::<Ipv6Addr>::new().build(),
    ];
    for query in queries {
        let mut routes = handle.route().get(query).execute();
        while let Some(message) = routes.try_next().await.map_err(|source| SyncError {
            what: "cannot list routes".into(),
            source,
        })? {
            let ours = message.header.protocol == RouteProtocol::Other(ROUTE_PROTOCOL)
                && message.header.table == RouteHeader::RT_TABLE_MAIN;
            if let Some(route) = ours.then(|| as_node_route(&message)).flatten() {
                owned.push((route, message));
            }
        }
    }
    Ok(owned)
}

fn as_node_route(message: &RouteMessage) -> Option<NodeRoute> {
    let prefix = message.header.destination_prefix_length;
    let mut dst = None;
    let mut via = None;
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Destination(address) => dst = ip_of(address),
            RouteAttribute::Gateway(address) => via = ip_of(address),
            _ => {}
        }
    }
    Some(NodeRoute {
        dst: IpNet::new(dst?, prefix).ok()?,
        via: via?,
    })
}

fn ip_of(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

impl portcullis_fault::Classified for SyncError {
    /// The kernel refused or failed a well-formed netlink request.
    fn fault(&self) -> portcullis_fault::Fault {
        portcullis_fault::Fault::Kernel
    }

    /// The next sync asks again; a conflicting route or a busy socket may be gone by then.
    fn retryable(&self) -> bool {
        true
    }
}
