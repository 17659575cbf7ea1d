//! Replaces one network's masquerade table in the kernel in a single nftables transaction:
//! the old table (if any) and the new one swap atomically, and a failure changes nothing.

use std::ffi::CString;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use nftnl::nftnl_sys::libc;
use nftnl::set::{Set, SetKey};
use nftnl::{Batch, Chain, ChainType, FinalizedBatch, Hook, MsgType, Policy, ProtoFamily, Rule};
use nftnl::{Table, nft_expr};

use super::plan::MasqueradePlan;

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
        if !plan.v4.pods.is_empty() {
            let mut set: Set<Ipv4Addr> = Set::new_named(c"pods4", 1, &table, ProtoFamily::Inet);
            plan.v4.pods.iter().for_each(|ip| set.add(ip));
            batch.add(&set, MsgType::Add);
            batch.add_iter(set.elems_iter(), MsgType::Add);
            for net in &plan.v4.exempt {
                let rule = from_pods(&chain, libc::NFPROTO_IPV4, &set, |rule| {
                    rule.add_expr(&nft_expr!(payload ipv4 daddr));
                    rule.add_expr(&nft_expr!(bitwise mask net.netmask(), xor 0u32));
                    rule.add_expr(&nft_expr!(cmp == net.network()));
                    rule.add_expr(&nft_expr!(verdict return));
                });
                batch.add(&rule, MsgType::Add);
            }
            let rule = from_pods(&chain, libc::NFPROTO_IPV4, &set, |rule| {
                rule.add_expr(&nft_expr!(masquerade));
            });
            batch.add(&rule, MsgType::Add);
        }
        if !plan.v6.pods.is_empty() {
            let mut set: Set<Ipv6Addr> = Set::new_named(c"pods6", 2, &table, ProtoFamily::Inet);
            plan.v6.pods.iter().for_each(|ip| set.add(ip));
            batch.add(&set, MsgType::Add);
            batch.add_iter(set.elems_iter(), MsgType::Add);
            for net in &plan.v6.exempt {
                let rule = from_pods(&chain, libc::NFPROTO_IPV6, &set, |rule| {
                    rule.add_expr(&nft_expr!(payload ipv6 daddr));
                    rule.add_expr(
                        &nft_expr!(bitwise mask net.netmask(), xor Ipv6Addr::UNSPECIFIED),
                    );
                    rule.add_expr(&nft_expr!(cmp == net.network()));
                    rule.add_expr(&nft_expr!(verdict return));
                });
                batch.add(&rule, MsgType::Add);
            }
            let rule = from_pods(&chain, libc::NFPROTO_IPV6, &set, |rule| {
                rule.add_expr(&nft_expr!(masquerade));
            });
            batch.add(&rule, MsgType::Add);
        }
    }
    send(&batch.finalize()).map_err(|source| ApplyError::Netlink {
        table: plan.table.clone(),
        source,
    })
}

/// A rule matching packets of `family` whose source is in `set`, finished by `rest`.
fn from_pods<'a, K: SetKey>(
    chain: &'a Chain<'a>,
    family: i32,
    set: &Set<'_, K>,
    rest: impl FnOnce(&mut Rule<'a>),
) -> Rule<'a> {
    let mut rule = Rule::new(chain);
    rule.add_expr(&nft_expr!(meta nfproto));
    // NFPROTO_* are small constants (2 and 10): the byte is exact.
    rule.add_expr(&nft_expr!(cmp == family as u8));
    if family == libc::NFPROTO_IPV4 {
        rule.add_expr(&nft_expr!(payload ipv4 saddr));
    } else {
        rule.add_expr(&nft_expr!(payload ipv6 saddr));
    }
    rule.add_expr(&nft_expr!(lookup set));
    rest(&mut rule);
    rule
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
