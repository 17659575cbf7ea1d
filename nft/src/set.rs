//! Sets and maps of the table model: a key of one type or a concatenation of several, an
//! optional verdict per element (a verdict map), intervals; elements as inclusive ranges per
//! key field, so one value serves the netlink encoding (`elements.rs`) and the rendering.

use std::net::IpAddr;

use smallvec::SmallVec;

use crate::expr::Verdict;
use crate::family::Family;

/// A named set or map of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// Its name, as lookups give it.
    pub name: String,
    /// The key's type: one field, or the fields of a concatenation in order.
    pub key: Vec<KeyType>,
    /// A verdict map: each element carries a verdict.
    pub verdict_map: bool,
    /// Elements may be ranges (`flags interval`).
    pub interval: bool,
    /// The elements.
    pub elements: Vec<Element>,
}

impl Set {
    /// An empty set of one key type, without flags.
    pub fn new(name: impl Into<String>, key: KeyType) -> Set {
        Set {
            name: name.into(),
            key: vec![key],
            verdict_map: false,
            interval: false,
            elements: Vec::new(),
        }
    }

    /// The same set as an interval set.
    pub fn interval(mut self) -> Set {
        self.interval = true;
        self
    }

    /// The same set as a verdict map.
    pub fn verdict_map(mut self) -> Set {
        self.verdict_map = true;
        self
    }

    /// The same set with these elements.
    pub fn with_elements(mut self, elements: Vec<Element>) -> Set {
        self.elements = elements;
        self
    }

    /// The same declaration (name, key, kind, flags), whatever the elements.
    pub fn same_declaration(&self, other: &Set) -> bool {
        self.name == other.name
            && self.key == other.key
            && self.verdict_map == other.verdict_map
            && self.interval == other.interval
    }

    /// A key of more than one field.
    pub fn is_concat(&self) -> bool {
        self.key.len() > 1
    }

    /// The key's width in bytes as registers hold it: a concatenation's fields each padded
    /// to 4 bytes.
    pub fn key_len(&self) -> u32 {
        if self.is_concat() {
            self.key.iter().map(|k| k.width().div_ceil(4) * 4).sum()
        } else {
            self.key.iter().map(|k| k.width()).sum()
        }
    }
}

/// nft's data types, as set keys declare them (they decide how `nft list` prints elements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// `ipv4_addr`.
    Ipv4Addr,
    /// `ipv6_addr`.
    Ipv6Addr,
    /// `inet_proto`: a transport protocol number.
    InetProto,
    /// `inet_service`: a port.
    InetService,
}

impl KeyType {
    /// The address type of a family.
    pub fn addr(family: Family) -> KeyType {
        match family {
            Family::Ipv4 => KeyType::Ipv4Addr,
            Family::Ipv6 => KeyType::Ipv6Addr,
        }
    }

    /// nft's number for the type.
    pub fn id(self) -> u32 {
        match self {
            KeyType::Ipv4Addr => 7,
            KeyType::Ipv6Addr => 8,
            KeyType::InetProto => 12,
            KeyType::InetService => 13,
        }
    }

    /// The value's width in bytes.
    pub fn width(self) -> u32 {
        match self {
            KeyType::Ipv4Addr => 4,
            KeyType::Ipv6Addr => 16,
            KeyType::InetProto => 1,
            KeyType::InetService => 2,
        }
    }

    /// nft's name for the type.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ipv4Addr => "ipv4_addr",
            KeyType::Ipv6Addr => "ipv6_addr",
            KeyType::InetProto => "inet_proto",
            KeyType::InetService => "inet_service",
        }
    }
}

/// The type number of a concatenated key: the first field in the highest bits, 6 bits each.
pub fn concat_type(fields: &[KeyType]) -> u32 {
    fields.iter().fold(0, |acc, t| (acc << 6) | t.id())
}

/// One element: a range per key field (a single value is a range of one), and its verdict
/// in a verdict map. Ordered by key, which is numeric order: values are big-endian.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Element {
    /// One per key field; inline up to three (address, protocol, port), so the tens of
    /// thousands of elements of a node's table are not as many allocations.
    pub key: SmallVec<[Interval; 3]>,
    /// A verdict map's data.
    pub verdict: Option<Verdict>,
}

impl Element {
    /// A single address.
    pub fn addr(ip: IpAddr) -> Element {
        Element::new([Interval::addr(ip)])
    }

    /// An element of these fields.
    pub fn new(key: impl IntoIterator<Item = Interval>) -> Element {
        Element {
            key: key.into_iter().collect(),
            verdict: None,
        }
    }

    /// The same key, jumping to `chain` (a verdict map's element).
    pub fn jump(mut self, chain: impl Into<std::sync::Arc<str>>) -> Element {
        self.verdict = Some(Verdict::Jump(chain.into()));
        self
    }
}

/// An inclusive range of one key field, as raw big-endian bytes of the field's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    /// The first value.
    pub first: Value,
    /// The last value (equal to `first` for a single value).
    pub last: Value,
}

/// One key field's value: up to 16 big-endian bytes, held inline. A node's table has tens of
/// thousands of them; as heap vectors they made building its model cost milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Value {
    bytes: [u8; 16],
    len: u8,
}

impl Value {
    /// The value of these bytes; more than 16 are cut to the first 16 (no key field is wider).
    pub fn new(from: &[u8]) -> Value {
        let len = from.len().min(16);
        let mut bytes = [0; 16];
        bytes[..len].copy_from_slice(&from[..len]);
        Value {
            bytes,
            // At most 16: fits.
            len: len as u8,
        }
    }

    /// The bytes, as wide as the field.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::ops::Deref for Value {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// As the bytes compare: the same order a byte vector would have.
impl Ord for Value {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_bytes().fmt(f)
    }
}

impl Interval {
    /// One address.
    pub fn addr(ip: IpAddr) -> Interval {
        let value = match ip {
            IpAddr::V4(ip) => Value::new(&ip.octets()),
            IpAddr::V6(ip) => Value::new(&ip.octets()),
        };
        Interval {
            first: value,
            last: value,
        }
    }

    /// Addresses of `family` from `first` to `last`, as numbers.
    pub fn addrs(family: Family, first: u128, last: u128) -> Interval {
        Interval::numbers(first, last, family.addr_len())
    }

    /// One transport protocol.
    pub fn proto(number: u8) -> Interval {
        Interval::numbers(number.into(), number.into(), 1)
    }

    /// Ports from `first` to `last`.
    pub fn ports(first: u16, last: u16) -> Interval {
        Interval::numbers(first.into(), last.into(), 2)
    }

    /// Numbers `width` bytes wide.
    pub fn numbers(first: u128, last: u128, width: u32) -> Interval {
        let low = |n: u128| {
            let width = (width as usize).min(16);
            Value::new(&n.to_be_bytes()[16 - width..])
        };
        Interval {
            first: low(first),
            last: low(last),
        }
    }

    /// A single value.
    pub fn is_single(&self) -> bool {
        self.first == self.last
    }
}

/// The low `width` bytes of `n`, big-endian.
pub(crate) fn low_bytes(n: u128, width: u32) -> Vec<u8> {
    let width = (width as usize).min(16);
    n.to_be_bytes()[16 - width..].to_vec()
}

/// Big-endian bytes (at most 16) as a number.
pub(crate) fn number(bytes: &[u8]) -> u128 {
    bytes.iter().fold(0, |acc, b| (acc << 8) | u128::from(*b))
}
