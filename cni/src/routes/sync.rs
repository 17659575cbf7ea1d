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

/// The `proto` of the routes the agent owns (`ip route show proto 77`); unassigned in
/// iproute2's `rt_protos`.
pub const ROUTE_PROTOCOL: u8 = 77;

/// What a sync changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Routes added, or whose gateway changed.
    pub installed: Vec<NodeRoute>,
    /// Routes of ours no Node wants any more.
    pub removed: Vec<NodeRoute>,
}

/// A netlink call that failed during a sync; the next sync tries again.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct SyncError {
    what: String,
    source: rtnetlink::Error,
}

/// Brings the main table's routes of [`ROUTE_PROTOCOL`] in line with `desired`.
pub async fn sync_routes(handle: &Handle, desired: &[NodeRoute]) -> Result<SyncReport, SyncError> {
    let current = owned_routes(handle).await?;
    let mut report = SyncReport::default();
    for (route, message) in &current {
        if !desired.contains(route) && !desired.iter().any(|d| d.dst == route.dst) {
            handle
                .route()
                .del(message.clone())
                .execute()
                .await
                .map_err(|source| SyncError {
                    what: format!("cannot remove route {} via {}", route.dst, route.via),
                    source,
                })?;
            report.removed.push(*route);
        }
    }
    for route in desired {
        if current.iter().any(|(have, _)| have == route) {
            continue;
        }
        let message = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(route.dst.addr(), route.dst.prefix_len())
            .and_then(|b| b.gateway(route.via))
            .map_err(|e| SyncError {
                what: format!("route {} via {}: {e}", route.dst, route.via),
                source: rtnetlink::Error::RequestFailed,
            })?
            .protocol(RouteProtocol::Other(ROUTE_PROTOCOL))
            .build();
        // Replace: a route of ours to the same CIDR with an old gateway is updated in place.
        handle
            .route()
            .add(message)
            .replace()
            .execute()
            .await
            .map_err(|source| SyncError {
                what: format!("cannot install route {} via {}", route.dst, route.via),
                source,
            })?;
        report.installed.push(*route);
    }
    Ok(report)
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
