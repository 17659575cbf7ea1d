//! Values as nft prints them, by type: addresses (a range as a prefix when it is one),
//! protocol names, ports, `ct state` bits.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::expr::ct_state;
use crate::set::{Interval, KeyType, low_bytes, number};

/// One key field's range: a single value, `first-last`, or for addresses `net/len`.
pub(super) fn range(key: KeyType, range: &Interval) -> String {
    let (first, last) = (number(&range.first), number(&range.last));
    match key {
        KeyType::Ipv4Addr | KeyType::Ipv6Addr => {
            let bits = key.width() * 8;
            let show = |n: u128| address(&low_bytes(n, key.width()));
            if first == last {
                return show(first);
            }
            let size = last - first;
            if size.checked_add(1).is_none_or(u128::is_power_of_two) && first & size == 0 {
                let host_bits = size.checked_add(1).map_or(128, u128::trailing_zeros);
                return format!("{}/{}", show(first), bits - host_bits);
            }
            format!("{}-{}", show(first), show(last))
        }
        KeyType::InetProto | KeyType::InetService => {
            let show = |n: u128| {
                if key == KeyType::InetProto {
                    protocol(n)
                } else {
                    n.to_string()
                }
            };
            if first == last {
                show(first)
            } else {
                format!("{}-{}", show(first), show(last))
            }
        }
    }
}

/// An address of 4 or 16 bytes (hex bytes otherwise, which no model here makes).
pub(super) fn address(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        IpAddr::V4(Ipv4Addr::from(v4)).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        IpAddr::V6(Ipv6Addr::from(v6)).to_string()
    } else {
        hex(bytes)
    }
}

/// A transport protocol: nft's name for the common ones, else the number.
pub(super) fn protocol(number: u128) -> String {
    match number {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "ipv6-icmp".into(),
        132 => "sctp".into(),
        other => other.to_string(),
    }
}

/// `ct state` bits, comma separated, lowest first.
pub(super) fn ct_states(bits: u32) -> String {
    let names = [
        (ct_state::INVALID, "invalid"),
        (ct_state::ESTABLISHED, "established"),
        (ct_state::RELATED, "related"),
        (ct_state::NEW, "new"),
        (ct_state::UNTRACKED, "untracked"),
    ];
    let shown: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    shown.join(",")
}

/// Raw bytes as nft shows unknown data.
pub(super) fn hex(bytes: &[u8]) -> String {
    let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}
