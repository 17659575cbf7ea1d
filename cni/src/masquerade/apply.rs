//! Replaces one network's masquerade table in the kernel in a single nftables transaction:
//! the old table (if any) and the new one swap atomically, and a failure changes nothing.

use std::ffi::{CStr, CString};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use nftnl::expr::{Ipv4HeaderField, Ipv6HeaderField, NetworkHeaderField, Payload, ToSlice};
use nftnl::nftnl_sys::libc;
use nftnl::set::{Set, SetKey};
use nftnl::{Batch, Chain, ChainType, FinalizedBatch, Hook, MsgType, Policy, ProtoFamily, Rule};
use nftnl::{Table, nft_expr};

use super::plan::{FamilyRules, MasqueradePlan};

/// The `srcnat` priority of a NAT postrouting chain.
const SRCNAT_PRIORITY: i32 = 100;

/// Why the table could not be replaced; the kernel's state is as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The network's name cannot name an nftables table (the config's fault).
    #[error("name: {0:?} cannot be used in an nftables table name")]
    Name(String),
    /// The kernel refused the transaction, or netlink failed. Without CAP_NET_ADMIN or
    /// nf_tables this keeps failing; otherwise a retry may succeed.
    #[error("nftables: cannot replace table inet {table}: {source}")]
    Netlink {
        /// The table.
        table: String,
        /// What netlink said.
        source: io::Error,
    },
}

/// Makes the kernel's `inet` table `plan.table` equal to the plan (removed when it is empty).
pub fn apply_masquerade(plan: &MasqueradePlan) -> Result<(), ApplyError> {
    let name =
        CString::new(plan.table.as_str()).map_err(|_| ApplyError::Name(plan.table.clone()))?;
    let table = Table::new(&name, ProtoFamily::Inet);
    let mut batch = Batch::new();
    // Add, then delete: the old table goes whether or not it existed, in the same transaction.
    batch.add(&table, MsgType::Add);
    batch.add(&table, MsgType::Del);
    if !plan.is_empty() {
        batch.add(&table, MsgType::Add);
        let mut chain = Chain::new(c"postrouting", &table);
        chain.set_type(ChainType::Nat);
        chain.set_hook(Hook::PostRouting, SRCNAT_PRIORITY);
        chain.set_policy(Policy::Accept);
        batch.add(&chain, MsgType::Add);
        add_family(&mut batch, &table, &chain, &plan.v4);
        add_family(&mut batch, &table, &chain, &plan.v6);
    }
    send(&batch.finalize()).map_err(|source| ApplyError::Netlink {
        table: plan.table.clone(),
        source,
    })
}

/// An address family as the table needs it: its set, its protocol number, its header fields.
trait Family: SetKey + ToSlice + Copy + 'static {
    /// The name of the family's set of pod addresses.
    const SET: &'static CStr;
    /// The set's id within the transaction.
    const SET_ID: u32;
    /// `meta nfproto` of the family.
    const NFPROTO: i32;
    /// All zeroes: the `xor` of a masked compare.
    const ZERO: Self;
    /// The subnet type of the family.
    type Net;
    /// The header field `field` (source or destination address).
    fn address(field: Field) -> Payload;
    /// A subnet's mask and network address, and whether it is a single address.
    fn mask_and_network(net: &Self::Net) -> (Self, Self, bool);
}

/// Which address of the header.
#[derive(Clone, Copy)]
enum Field {
    Source,
    Destination,
}

impl Family for Ipv4Addr {
    const SET: &'static CStr = c"pods4";
    const SET_ID: u32 = 1;
    const NFPROTO: i32 = libc::NFPROTO_IPV4;
    const ZERO: Self = Ipv4Addr::UNSPECIFIED;
    type Net = Ipv4Net;
    fn address(field: Field) -> Payload {
        Payload::Network(NetworkHeaderField::Ipv4(match field {
            Field::Source => Ipv4HeaderField::Saddr,
            Field::Destination => Ipv4HeaderField::Daddr,
        }))
    }
    fn mask_and_network(net: &Ipv4Net) -> (Self, Self, bool) {
        (net.netmask(), net.network(), net.prefix_len() == 32)
    }
}

impl Family for Ipv6Addr {
    const SET: &'static CStr = c"pods6";
    const SET_ID: u32 = 2;
    const NFPROTO: i32 = libc::NFPROTO_IPV6;
    const ZERO: Self = Ipv6Addr::UNSPECIFIED;
    type Net = Ipv6Net;
    fn address(field: Field) -> Payload {
        Payload::Network(NetworkHeaderField::Ipv6(match field {
            Field::Source => Ipv6HeaderField::Saddr,
            Field::Destination => Ipv6HeaderField::Daddr,
        }))
    }
    fn mask_and_network(net: &Ipv6Net) -> (Self, Self, bool) {
        (net.netmask(), net.network(), net.prefix_len() == 128)
    }
}

/// One family's set and rules: for each source (the set of pod addresses, each pod subnet),
/// exempt destinations return and the rest is masqueraded. Nothing when the family is empty.
fn add_family<A: Family>(
    batch: &mut Batch,
    table: &Table,
    chain: &Chain<'_>,
    rules: &FamilyRules<A, A::Net>,
) {
    let mut set: Set<A> = Set::new_named(A::SET, A::SET_ID, table, ProtoFamily::Inet);
    if !rules.pods.is_empty() {
        rules.pods.iter().for_each(|ip| set.add(ip));
        batch.add(&set, MsgType::Add);
        batch.add_iter(set.elems_iter(), MsgType::Add);
    }
    let set_source = (!rules.pods.is_empty()).then_some(Source::Set(&set));
    let subnet_sources = rules.pod_subnets.iter().map(Source::Subnet);
    for source in set_source.into_iter().chain(subnet_sources) {
        let from_source = || {
            let mut rule = Rule::new(chain);
            rule.add_expr(&nft_expr!(meta nfproto));
            // NFPROTO_* are small constants (2 and 10): the byte is exact.
            rule.add_expr(&nft_expr!(cmp == A::NFPROTO as u8));
            match source {
                Source::Set(set) => {
                    rule.add_expr(&A::address(Field::Source));
                    rule.add_expr(&nft_expr!(lookup set));
                }
                Source::Subnet(net) => match_subnet::<A>(&mut rule, Field::Source, net),
            }
            rule
        };
        for net in &rules.exempt {
            let mut rule = from_source();
            match_subnet::<A>(&mut rule, Field::Destination, net);
            rule.add_expr(&nft_expr!(verdict return));
            batch.add(&rule, MsgType::Add);
        }
        let mut rule = from_source();
        rule.add_expr(&nft_expr!(masquerade));
        batch.add(&rule, MsgType::Add);
    }
}

/// Where masqueraded traffic comes from.
#[derive(Clone, Copy)]
enum Source<'s, A: Family> {
    /// An address in the family's set.
    Set(&'s Set<'s, A>),
    /// An address in this subnet.
    Subnet(&'s A::Net),
}

/// Matches the header's `field` against `net`: a compare for one address, a masked compare
/// for a subnet.
fn match_subnet<A: Family>(rule: &mut Rule<'_>, field: Field, net: &A::Net) {
    let (mask, network, whole) = A::mask_and_network(net);
    rule.add_expr(&A::address(field));
    if !whole {
        rule.add_expr(&nft_expr!(bitwise mask mask, xor A::ZERO));
    }
    rule.add_expr(&nft_expr!(cmp == network));
}

/// Sends the transaction and waits for the kernel's answer to each message.
fn send(batch: &FinalizedBatch) -> io::Result<()> {
    let socket = mnl::Socket::new(mnl::Bus::Netfilter)?;
    let port = socket.portid();
    socket.send_all(batch)?;
    let mut buffer = vec![0; nftnl::nft_nlmsg_maxsize() as usize];
    let mut expected = batch.sequence_numbers();
    while !expected.is_empty() {
        for message in socket.recv(&mut buffer[..])? {
            let message = message?;
            let Some(sequence) = expected.next() else {
                return Err(io::Error::other("an answer nobody asked for"));
            };
            mnl::cb_run(message, sequence, port)?;
        }
    }
    Ok(())
}
