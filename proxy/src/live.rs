//! The one place the current routing table lives: swapped whole, read without a lock.

use std::sync::Arc;

use arc_swap::ArcSwap;

use portcullis_route::table::RoutingTable;

/// The routing table the proxy serves from. The controller publishes, the proxy loads;
/// readers never wait, and a table stays alive while any request still holds it.
#[derive(Debug)]
pub struct LiveTable {
    current: ArcSwap<RoutingTable>,
}

impl LiveTable {
    /// Starts with `initial` (typically an empty table that answers 404).
    pub fn new(initial: RoutingTable) -> Self {
        LiveTable {
            current: ArcSwap::from_pointee(initial),
        }
    }

    /// Replaces the table; requests already routed keep the route they picked.
    pub fn publish(&self, table: RoutingTable) {
        self.current.store(Arc::new(table));
    }

    /// A cheap read guard on the current table, for one lookup.
    pub fn load(&self) -> arc_swap::Guard<Arc<RoutingTable>> {
        self.current.load()
    }
}
