//! Picks one address from each range set, the way `host-local` does: resume after the address
//! last handed out, walk every range of the set once, skip gateways and taken addresses.

use std::net::IpAddr;

use super::range::{Range, RangeSet};
use super::store::{Attachment, Store, store_failure};
use crate::error::{CniError, ErrorCode};

/// One address given to an attachment, with the range it came from (for the result's prefix
/// length and gateway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocated {
    /// The address.
    pub ip: IpAddr,
    /// The range it lies in.
    pub range: Range,
    /// Taken by this call (false: the attachment held it already, from an earlier ADD).
    pub fresh: bool,
}

/// Takes one address from every range set for the attachment. An attachment that already holds
/// an address in a set keeps it (a repeated ADD gets the same answer). If any set is full,
/// whatever this call took is given back and the error names that set.
pub fn allocate(
    store: &mut impl Store,
    sets: &[RangeSet],
    container_id: &str,
    ifname: &str,
) -> Result<Vec<Allocated>, CniError> {
    allocate_requested(store, sets, container_id, ifname, &[])
}

/// Like [`allocate`], with addresses the runtime asked for (`CNI_ARGS` `IP=`, as `host-local`
/// reads it): a range set holding a requested address gives that one or fails; the others
/// allocate as usual. A requested address outside every set, on a gateway, or held by another
/// attachment is an error naming it, and nothing is taken.
pub fn allocate_requested(
    store: &mut impl Store,
    sets: &[RangeSet],
    container_id: &str,
    ifname: &str,
    requested: &[IpAddr],
) -> Result<Vec<Allocated>, CniError> {
    for ip in requested {
        let set = sets.iter().find(|set| set.iter().any(|r| r.contains(*ip)));
        match set {
            None => {
                return Err(CniError::new(
                    ErrorCode::InvalidEnvironment,
                    format!("CNI_ARGS: IP={ip} is in no range of ipam"),
                ));
            }
            Some(set) if set.iter().any(|r| r.gateway == *ip) => {
                return Err(CniError::new(
                    ErrorCode::InvalidEnvironment,
                    format!("CNI_ARGS: IP={ip} is the gateway"),
                ));
            }
            Some(_) => {}
        }
    }
    let held = store.attachments().map_err(store_failure)?;
    let mut allocated: Vec<Allocated> = Vec::new();
    for (index, set) in sets.iter().enumerate() {
        let attachment = (container_id, ifname);
        match take_from_set(store, set, index, &held, requested, attachment) {
            Ok(got) => allocated.push(got),
            Err(error) => {
                // Nothing half-done: give back what this call took. (Addresses held from an
                // earlier ADD stay: they belong to that ADD.)
                for taken in allocated.iter().filter(|a| a.fresh) {
                    store.free(taken.ip).map_err(store_failure)?;
                }
                return Err(error);
            }
        }
    }
    Ok(allocated)
}

/// One address from range set `index` for the attachment `(container id, interface)`: the one
/// it already holds there, else the one requested there, else the next free one.
fn take_from_set(
    store: &mut impl Store,
    set: &RangeSet,
    index: usize,
    held: &[Attachment],
    requested: &[IpAddr],
    (container_id, ifname): (&str, &str),
) -> Result<Allocated, CniError> {
    let in_set = |ip: IpAddr| set.iter().find(|r| r.contains(ip)).map(|r| (ip, r.clone()));
    let existing = held
        .iter()
        .filter(|a| a.container_id == container_id && a.ifname == ifname)
        .find_map(|a| in_set(a.ip));
    if let Some((ip, range)) = existing {
        return Ok(Allocated {
            ip,
            range,
            fresh: false,
        });
    }
    if let Some((ip, range)) = requested.iter().find_map(|ip| in_set(*ip)) {
        if !store
            .reserve(ip, container_id, ifname, index)
            .map_err(store_failure)?
        {
            return Err(CniError::new(
                ErrorCode::InvalidEnvironment,
                format!("CNI_ARGS: IP={ip} is held by another attachment"),
            ));
        }
        return Ok(Allocated {
            ip,
            range,
            fresh: true,
        });
    }
    let last = store.last_reserved(index).map_err(store_failure)?;
    for (ip, range) in candidates(set, last) {
        if set.iter().any(|r| r.gateway == ip) {
            continue;
        }
        if store
            .reserve(ip, container_id, ifname, index)
            .map_err(store_failure)?
        {
            return Ok(Allocated {
                ip,
                range: range.clone(),
                fresh: true,
            });
        }
    }
    Err(CniError::new(
        ErrorCode::RangeExhausted,
        format!(
            "ipam range set {index} ({}): no free address left",
            describe(set)
        ),
    ))
}

/// Every address of the set once, starting after `last` (or at the first range's start).
fn candidates(set: &RangeSet, last: Option<IpAddr>) -> impl Iterator<Item = (IpAddr, &Range)> {
    let total: u128 = set.iter().map(Range::size).sum();
    let resume = last.and_then(|ip| set.iter().position(|r| r.contains(ip)).map(|at| (at, ip)));
    let (mut at, mut ip) = match resume {
        Some((at, last)) if last == set[at].end => {
            ((at + 1) % set.len(), set[(at + 1) % set.len()].start)
        }
        Some((at, last)) => (at, set[at].after(last)),
        None => (
            0,
            set.first().map_or(IpAddr::from([0, 0, 0, 0]), |r| r.start),
        ),
    };
    let mut left = if set.is_empty() { 0 } else { total };
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        left -= 1;
        let here = (ip, &set[at]);
        if ip == set[at].end {
            at = (at + 1) % set.len();
            ip = set[at].start;
        } else {
            ip = set[at].after(ip);
        }
        Some(here)
    })
}

fn describe(set: &RangeSet) -> String {
    set.iter()
        .map(|r| format!("{}-{}", r.start, r.end))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
