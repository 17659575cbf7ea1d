//! The routing half of the node agent: every other node's pod CIDR via that node's InternalIP
//! (host-gw style), so pods talk across nodes without NAT. [`plan`] decides the routes from
//! the Node objects (pure); `sync` (to come with the agent) makes the kernel's table match.

mod plan;

pub use plan::{NodeInfo, NodeRoute, RouteProblem, plan_routes};
