//! IP address management compatible with the reference `host-local` plugin: the same
//! configuration (`subnet` or `ranges`, `rangeStart`, `rangeEnd`, `gateway`, `dataDir`), the
//! same allocation order (round-robin from the last address handed out), and the same files on
//! disk, so a node can switch plugins without losing track of addresses.

mod allocator;
mod disk_store;
mod range;
mod store;

pub use allocator::{Allocated, allocate, allocate_requested};
pub use disk_store::{DiskStore, LockedDiskStore};
pub use range::{Range, RangeSet};
pub use store::{Attachment, MemoryStore, Store, store_failure};
