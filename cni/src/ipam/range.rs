//! One address range and its canonical form, as `host-local` computes it.

use std::net::IpAddr;

use ipnet::IpNet;

/// One range of a range set, canonical: `start..=end` lie inside `subnet` and exclude its
/// network address (and, for IPv4, its broadcast address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// The subnet, with host bits cleared.
    pub subnet: IpNet,
    /// First address handed out.
    pub start: IpAddr,
    /// Last address handed out.
    pub end: IpAddr,
    /// The gateway: never handed out. Defaults to the subnet's first address.
    pub gateway: IpAddr,
}

/// Ranges one address is taken from (the first with room wins); a config may have several
/// sets, and each ADD takes one address from each set.
pub type RangeSet = Vec<Range>;

impl Range {
    /// Canonicalizes a range as written. Errors are one line, without the field name (the
    /// caller knows which field it passed).
    pub fn new(
        subnet: IpNet,
        start: Option<IpAddr>,
        end: Option<IpAddr>,
        gateway: Option<IpAddr>,
    ) -> Result<Range, RangeProblem> {
        let subnet = subnet.trunc();
        let network = subnet.network();
        let first = next(network).ok_or(RangeProblem::TooSmall(subnet))?;
        let last = match subnet {
            IpNet::V4(_) => previous(subnet.broadcast()),
            IpNet::V6(_) => Some(subnet.broadcast()),
        }
        .ok_or(RangeProblem::TooSmall(subnet))?;
        if to_u128(first) > to_u128(last) {
            return Err(RangeProblem::TooSmall(subnet));
        }
        // An address as written, else the default; it must lie where `allowed` says.
        let checked =
            |what, given: Option<IpAddr>, default, allowed: &dyn Fn(IpAddr) -> bool| match given {
                Some(ip) if !allowed(ip) => Err(RangeProblem::Outside { what, ip, subnet }),
                Some(ip) => Ok(ip),
                None => Ok(default),
            };
        let usable = |ip: IpAddr| {
            subnet.contains(&ip) && (to_u128(first)..=to_u128(last)).contains(&to_u128(ip))
        };
        let start = checked("rangeStart", start, first, &usable)?;
        let end = checked("rangeEnd", end, last, &usable)?;
        if to_u128(start) > to_u128(end) {
            return Err(RangeProblem::StartAfterEnd { start, end });
        }
        let gateway = checked("gateway", gateway, first, &|ip| subnet.contains(&ip))?;
        Ok(Range {
            subnet,
            start,
            end,
            gateway,
        })
    }

    /// True if `ip` is one this range may hand out (gateway aside).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.subnet.contains(&ip)
            && to_u128(ip) >= to_u128(self.start)
            && to_u128(ip) <= to_u128(self.end)
    }

    /// True if the two ranges share an address.
    pub fn overlaps(&self, other: &Range) -> bool {
        self.start.is_ipv4() == other.start.is_ipv4()
            && to_u128(self.start) <= to_u128(other.end)
            && to_u128(other.start) <= to_u128(self.end)
    }

    /// The address after `ip` in this range, wrapping to the start.
    pub fn after(&self, ip: IpAddr) -> IpAddr {
        match next(ip) {
            Some(n) if self.contains(n) => n,
            _ => self.start,
        }
    }

    /// How many addresses the range holds (saturating).
    pub fn size(&self) -> u128 {
        (to_u128(self.end) - to_u128(self.start)).saturating_add(1)
    }
}

/// Why a range as written cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeProblem {
    /// No address is left once the network (and broadcast) address are taken out.
    #[error("{0} has no usable addresses")]
    TooSmall(IpNet),
    /// An address lies outside the subnet's usable addresses.
    #[error("{what} {ip} is not a usable address of {subnet}")]
    Outside {
        /// `rangeStart`, `rangeEnd` or `gateway`.
        what: &'static str,
        /// The address.
        ip: IpAddr,
        /// The subnet.
        subnet: IpNet,
    },
    /// `rangeStart` is after `rangeEnd`.
    #[error("rangeStart {start} is after rangeEnd {end}")]
    StartAfterEnd {
        /// rangeStart.
        start: IpAddr,
        /// rangeEnd.
        end: IpAddr,
    },
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn next(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) => u32::from(v4)
            .checked_add(1)
            .map(|n| IpAddr::from(n.to_be_bytes())),
        IpAddr::V6(v6) => u128::from(v6)
            .checked_add(1)
            .map(|n| IpAddr::from(n.to_be_bytes())),
    }
}

fn previous(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) => u32::from(v4)
            .checked_sub(1)
            .map(|n| IpAddr::from(n.to_be_bytes())),
        IpAddr::V6(v6) => u128::from(v6)
            .checked_sub(1)
            .map(|n| IpAddr::from(n.to_be_bytes())),
    }
}

#[cfg(test)]
mod tests;
