//! Address and port intervals: CIDRs minus exceptions, unions, and the decomposition of
//! (addresses × ports) boxes into disjoint ones. The kernel's concatenated interval sets refuse
//! overlapping elements, so every set the compiler emits is made of disjoint pieces.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddrRange {
    /// True for IPv6.
    pub v6: bool,
    /// First address, as a number.
    pub start: u128,
    /// Last address, as a number.
    pub end: u128,
}

/// An inclusive range of ports.
pub type PortRange = (u16, u16);

impl AddrRange {
    /// One address.
    pub fn single(ip: IpAddr) -> AddrRange {
        let (v6, n) = number(ip);
        AddrRange {
            v6,
            start: n,
            end: n,
        }
    }

    /// Every address of a CIDR.
    pub fn cidr(net: IpNet) -> AddrRange {
        let (v6, start) = number(net.network());
        let (_, end) = number(net.broadcast());
        AddrRange { v6, start, end }
    }

    /// Every address of one family.
    pub fn everything(v6: bool) -> AddrRange {
        AddrRange {
            v6,
            start: 0,
            end: if v6 { u128::MAX } else { u128::from(u32::MAX) },
        }
    }

    /// The first address.
    pub fn first(&self) -> IpAddr {
        address(self.v6, self.start)
    }

    /// The last address.
    pub fn last(&self) -> IpAddr {
        address(self.v6, self.end)
    }
}

/// `cidr` without the `except` blocks, as disjoint sorted ranges.
pub fn cidr_minus(cidr: IpNet, except: &[IpNet]) -> Vec<AddrRange> {
    let mut pieces = vec![AddrRange::cidr(cidr)];
    for hole in except.iter().map(|e| AddrRange::cidr(*e)) {
        pieces = pieces
            .into_iter()
            .flat_map(|piece| subtract(piece, hole))
            .collect();
    }
    pieces
}

fn subtract(piece: AddrRange, hole: AddrRange) -> Vec<AddrRange> {
    if piece.v6 != hole.v6 || hole.end < piece.start || hole.start > piece.end {
        return vec![piece];
    }
    let mut left = Vec::new();
    if hole.start > piece.start {
        left.push(AddrRange {
            end: hole.start - 1,
            ..piece
        });
    }
    if hole.end < piece.end {
        left.push(AddrRange {
            start: hole.end + 1,
            ..piece
        });
    }
    left
}

/// The union of `ranges`, as disjoint, non-adjacent, sorted ranges.
pub fn merge(mut ranges: Vec<AddrRange>) -> Vec<AddrRange> {
    ranges.sort_unstable();
    let mut merged: Vec<AddrRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if last.v6 == range.v6 && range.start <= last.end.saturating_add(1) => {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// `boxes` (addresses × ports) rearranged into disjoint boxes covering the same points: the
/// port axis is cut at every box edge, each slice gets the union of the addresses of the boxes
/// over it, and neighbouring slices with the same addresses are joined again.
pub fn disjoint_boxes(boxes: &[(AddrRange, PortRange)]) -> Vec<(AddrRange, PortRange)> {
    let mut cuts: Vec<u32> = boxes
        .iter()
        .flat_map(|(_, (low, high))| [u32::from(*low), u32::from(*high) + 1])
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    // (port slice, the merged addresses over it), slices in order.
    let mut slices: Vec<(PortRange, Vec<AddrRange>)> = Vec::new();
    for pair in cuts.windows(2) {
        let (low, high) = (pair[0], pair[1] - 1);
        let over: Vec<AddrRange> = boxes
            .iter()
            .filter(|(_, (l, h))| u32::from(*l) <= low && high <= u32::from(*h))
            .map(|(addrs, _)| *addrs)
            .collect();
        if over.is_empty() {
            continue;
        }
        // Both fit in u16: they come from u16 ports.
        let slice = (low as u16, high as u16);
        let addrs = merge(over);
        match slices.last_mut() {
            Some(((_, last_high), last_addrs))
                if u32::from(*last_high) + 1 == low && *last_addrs == addrs =>
            {
                *last_high = slice.1;
            }
            _ => slices.push((slice, addrs)),
        }
    }
    let mut out: Vec<(AddrRange, PortRange)> = slices
        .into_iter()
        .flat_map(|(ports, addrs)| addrs.into_iter().map(move |a| (a, ports)))
        .collect();
    out.sort_unstable();
    out
}

fn number(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

fn address(v6: bool, n: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        // A v4 range only ever holds numbers below 2^32.
        IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
    }
}

/// As nft prints set elements: one address, a CIDR when the range is exactly one, else
/// `first-last`.
impl fmt::Display for AddrRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            return write!(f, "{}", self.first());
        }
        let size = self.end - self.start;
        let bits = if self.v6 { 128 } else { 32 };
        if size.checked_add(1).is_none_or(u128::is_power_of_two) && self.start & size == 0 {
            let host_bits = if size == u128::MAX {
                128
            } else {
                (size + 1).trailing_zeros()
            };
            return write!(f, "{}/{}", self.first(), bits - host_bits);
        }
        write!(f, "{}-{}", self.first(), self.last())
    }
}

#[cfg(test)]
mod tests;
