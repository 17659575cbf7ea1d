//! The routing half of the node agent: every other node's pod CIDR via that node's InternalIP
//! (host-gw style), so pods talk across nodes without NAT. [`plan`] decides the routes from
//! the Node objects (pure); [`sync_routes`] makes the kernel's table match, touching only routes
//! of its own protocol number.

mod plan;
mod sync;

pub use plan::{NodeInfo, NodeRoute, RouteProblem, plan_routes};
pub use sync::{ROUTE_PROTOCOL, SyncError, SyncReport, sync_routes};
