//! Address families: [`Family`] for what a rule matches (IPv4 or IPv6 headers and addresses),
//! [`TableFamily`] for the nf_tables protocol family a table belongs to.

use std::net::IpAddr;

/// An IP version, where nf_tables code differs by it: header offsets, address widths, the
/// `meta nfproto` value, nft's keyword. Replaces `v6: bool` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4: `ip`, 4-byte addresses.
    Ipv4,
    /// IPv6: `ip6`, 16-byte addresses.
    Ipv6,
}

impl Family {
    /// Both, IPv4 first: the order tables list them in.
    pub const ALL: [Family; 2] = [Family::Ipv4, Family::Ipv6];

    /// The family of an address.
    pub fn of(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// `NFPROTO_IPV4` or `NFPROTO_IPV6`: what `meta nfproto` loads.
    pub fn nfproto(self) -> u8 {
        match self {
            Family::Ipv4 => 2,
            Family::Ipv6 => 10,
        }
    }

    /// The width of an address in bytes.
    pub fn addr_len(self) -> u32 {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }

    /// nft's keyword for the network header: `ip` or `ip6`.
    pub fn keyword(self) -> &'static str {
        match self {
            Family::Ipv4 => "ip",
            Family::Ipv6 => "ip6",
        }
    }

    /// The suffix names use: `4` or `6`.
    pub fn digit(self) -> char {
        match self {
            Family::Ipv4 => '4',
            Family::Ipv6 => '6',
        }
    }
}

/// The nf_tables protocol family of a table (`nfgenmsg.nfgen_family`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableFamily {
    /// `inet`: IPv4 and IPv6 in one table.
    Inet,
    /// `ip`: IPv4 only.
    Ip,
    /// `ip6`: IPv6 only.
    Ip6,
}

impl TableFamily {
    /// The `NFPROTO_*` number netlink messages carry.
    pub fn number(self) -> u8 {
        match self {
            TableFamily::Inet => 1,
            TableFamily::Ip => 2,
            TableFamily::Ip6 => 10,
        }
    }

    /// nft's name for it.
    pub fn name(self) -> &'static str {
        match self {
            TableFamily::Inet => "inet",
            TableFamily::Ip => "ip",
            TableFamily::Ip6 => "ip6",
        }
    }
}
