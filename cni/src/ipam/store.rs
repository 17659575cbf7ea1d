//! Where allocations are recorded. The allocator only needs these four operations, so it is
//! tested against [`MemoryStore`] and runs against [`super::DiskStore`].

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::IpAddr;

use crate::error::{CniError, ErrorCode};

/// A store that cannot be read or written, as the CNI error the runtime gets (I/O, code 5).
pub fn store_failure(error: io::Error) -> CniError {
    CniError::new(ErrorCode::IoFailure, "IPAM store").with_details(error)
}

/// One address held by one attachment (a container's interface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The address.
    pub ip: IpAddr,
    /// `CNI_CONTAINERID` of the ADD that took it.
    pub container_id: String,
    /// `CNI_IFNAME` of that ADD (empty in records written by old `host-local` versions).
    pub ifname: String,
}

/// The allocation records of one network. Callers hold whatever lock the store needs for the
/// whole of one CNI call.
pub trait Store {
    /// Claims `ip` for the attachment; `Ok(false)` if it is already held.
    fn reserve(
        &mut self,
        ip: IpAddr,
        container_id: &str,
        ifname: &str,
        range_set: usize,
    ) -> io::Result<bool>;

    /// The address last handed out from range set `range_set`, where round-robin resumes.
    fn last_reserved(&self, range_set: usize) -> io::Result<Option<IpAddr>>;

    /// Every address held.
    fn attachments(&self) -> io::Result<Vec<Attachment>>;

    /// Frees every address the attachment holds; returns them (none: nothing to do).
    fn release(&mut self, container_id: &str, ifname: &str) -> io::Result<Vec<IpAddr>>;

    /// Frees one address, whoever holds it (a rollback, or garbage collection).
    fn free(&mut self, ip: IpAddr) -> io::Result<()>;
}

/// A store in memory, for tests of the allocator.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    held: BTreeMap<IpAddr, (String, String)>,
    last: HashMap<usize, IpAddr>,
}

impl Store for MemoryStore {
    fn reserve(
        &mut self,
        ip: IpAddr,
        container_id: &str,
        ifname: &str,
        range_set: usize,
    ) -> io::Result<bool> {
        if self.held.contains_key(&ip) {
            return Ok(false);
        }
        self.held
            .insert(ip, (container_id.to_string(), ifname.to_string()));
        self.last.insert(range_set, ip);
        Ok(true)
    }

    fn last_reserved(&self, range_set: usize) -> io::Result<Option<IpAddr>> {
        Ok(self.last.get(&range_set).copied())
    }

    fn attachments(&self) -> io::Result<Vec<Attachment>> {
        Ok(self
            .held
            .iter()
            .map(|(ip, (container_id, ifname))| Attachment {
                ip: *ip,
                container_id: container_id.clone(),
                ifname: ifname.clone(),
            })
            .collect())
    }

    fn release(&mut self, container_id: &str, ifname: &str) -> io::Result<Vec<IpAddr>> {
        let mine: Vec<IpAddr> = self
            .held
            .iter()
            .filter(|(_, (id, name))| id == container_id && (name == ifname || name.is_empty()))
            .map(|(ip, _)| *ip)
            .collect();
        for ip in &mine {
            self.held.remove(ip);
        }
        Ok(mine)
    }

    fn free(&mut self, ip: IpAddr) -> io::Result<()> {
        self.held.remove(&ip);
        Ok(())
    }
}
