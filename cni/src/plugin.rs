//! One CNI call, from checked environment and stdin to the JSON to print: the plugin binary's
//! whole logic, callable from tests.

use std::net::IpAddr;
use std::path::Path;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use serde_json::Value;

use crate::attach::{attach, detach, host_veth_name};
use crate::config::{BridgeConfig, cni_version_of, parse_bridge_config};
use crate::env::{CallEnv, Command};
use crate::error::{CniError, ErrorCode};
use crate::gc::{collect_garbage, valid_attachments};
use crate::ipam::{
    Allocated, DiskStore, LockedDiskStore, Store, allocate_requested, store_failure,
};
use crate::masquerade::{ApplyError, apply_masquerade, plan_masquerade};
use crate::netlink::{failed, in_netns, link_by_name, with_netlink};
use crate::result::add_result;
use crate::status::check_status;
use crate::version::version_info;

/// Carries out one call. `Ok(Some(json))` is printed on stdout; `Ok(None)` prints nothing.
pub fn run(env: &CallEnv, stdin: &[u8]) -> Result<Option<Value>, CniError> {
    if env.command == Command::Version {
        return Ok(Some(version_info(&cni_version_of(stdin))));
    }
    let config = parse_bridge_config(stdin)?;
    match env.command {
        Command::Add => add(&config, env).map(Some),
        Command::Del => del(&config, env).map(|()| None),
        Command::Check => check(&config, env).map(|()| None),
        Command::Status => check_status(&lock(&config)?, &config.ipam.range_sets).map(|()| None),
        Command::Gc => {
            let valid = valid_attachments(stdin)?;
            let mut store = lock(&config)?;
            collect_garbage(&mut store, &valid).map_err(store_failure)?;
            refresh_masquerade(&config, &store)?;
            Ok(None)
        }
        Command::Version => Ok(None),
    }
}

fn lock(config: &BridgeConfig) -> Result<LockedDiskStore, CniError> {
    DiskStore::open(&config.ipam.data_dir, &config.name)
        .and_then(|store| store.lock())
        .map_err(|e| {
            failed(
                format!(
                    "ipam.dataDir: cannot use {}",
                    config.ipam.data_dir.join(&config.name).display()
                ),
                e,
            )
        })
}

fn netns_of(env: &CallEnv) -> Result<&Path, CniError> {
    env.netns
        .as_deref()
        .ok_or_else(|| CniError::new(ErrorCode::InvalidEnvironment, "CNI_NETNS: not set"))
}

fn add(config: &BridgeConfig, env: &CallEnv) -> Result<Value, CniError> {
    let netns = netns_of(env)?;
    // The lock is held while choosing addresses, not while configuring links, so concurrent
    // ADDs only queue for the part that must be serialized.
    let mut store = lock(config)?;
    let allocated = allocate_requested(
        &mut store,
        &config.ipam.range_sets,
        &env.container_id,
        &env.ifname,
        &requested_ips(env)?,
    )?;
    if let Err(error) = refresh_masquerade(config, &store) {
        let _ = free_fresh(&mut store, &allocated);
        return Err(error);
    }
    drop(store);
    match attach(config, &env.container_id, &env.ifname, netns, &allocated) {
        Ok(attachment) => Ok(add_result(
            config.cni_version,
            &env.ifname,
            &netns.display().to_string(),
            &attachment,
            &allocated,
        )),
        Err(error) => {
            // Nothing half-created: the addresses this ADD took go back too. Those a live
            // attachment already held (a refused repeated ADD) stay with it.
            let _ = lock(config).and_then(|mut store| {
                free_fresh(&mut store, &allocated)?;
                refresh_masquerade(config, &store)
            });
            Err(error)
        }
    }
}

/// Frees the addresses this ADD took (not those a live attachment already held).
fn free_fresh(store: &mut LockedDiskStore, allocated: &[Allocated]) -> Result<(), CniError> {
    allocated
        .iter()
        .filter(|a| a.fresh)
        .try_for_each(|a| store.free(a.ip).map_err(store_failure))
}

/// With `ipMasq`, makes the network's masquerade table hold exactly the addresses recorded in
/// `store`. Called with the IPAM lock held, so concurrent calls apply in allocation order and
/// the last one leaves the complete set.
fn refresh_masquerade(config: &BridgeConfig, store: &LockedDiskStore) -> Result<(), CniError> {
    if !config.ip_masq {
        return Ok(());
    }
    let attachments = store.attachments().map_err(store_failure)?;
    let plan = plan_masquerade(&config.name, &config.ipam.range_sets, &attachments);
    apply_masquerade(&plan).map_err(|e| match e {
        ApplyError::Name(_) => CniError::new(ErrorCode::InvalidNetworkConfig, e.to_string()),
        _ => failed("ipMasq: cannot set up masquerading", e),
    })
}

/// The addresses asked for in `CNI_ARGS` (`IP=10.0.0.5`, or `IP=10.0.0.5,fd00::5` for both
/// families), as `host-local` reads them.
fn requested_ips(env: &CallEnv) -> Result<Vec<IpAddr>, CniError> {
    env.args
        .iter()
        .filter(|(key, _)| key == "IP")
        .flat_map(|(_, value)| value.split(','))
        .map(|text| {
            text.trim().parse::<IpAddr>().map_err(|e| {
                CniError::new(
                    ErrorCode::InvalidEnvironment,
                    format!("CNI_ARGS: IP={text} is not an IP address ({e})"),
                )
            })
        })
        .collect()
}

/// Best effort and idempotent: both halves are attempted; the first failure is reported.
fn del(config: &BridgeConfig, env: &CallEnv) -> Result<(), CniError> {
    let links = detach(&env.container_id, &env.ifname, env.netns.as_deref());
    let addresses = lock(config).and_then(|mut store| {
        store
            .release(&env.container_id, &env.ifname)
            .map_err(store_failure)?;
        refresh_masquerade(config, &store)
    });
    links.and(addresses)
}

/// The attachment is as ADD left it: its addresses are recorded, the host end exists, and the
/// pod's interface exists and carries every recorded address.
fn check(config: &BridgeConfig, env: &CallEnv) -> Result<(), CniError> {
    let netns = netns_of(env)?;
    let recorded: Vec<IpAddr> = lock(config)?
        .attachments()
        .map_err(store_failure)?
        .into_iter()
        .filter(|a| a.container_id == env.container_id && a.ifname == env.ifname)
        .map(|a| a.ip)
        .collect();
    let wrong = |msg: String| CniError::new(ErrorCode::UnknownContainer, msg);
    if recorded.len() != config.ipam.range_sets.len() {
        return Err(wrong(format!(
            "{} holds {} addresses, expected {}",
            env.container_id,
            recorded.len(),
            config.ipam.range_sets.len()
        )));
    }
    let host_veth = host_veth_name(&env.container_id, &env.ifname);
    let host_end =
        with_netlink(async |handle| Ok(link_by_name(&handle, &host_veth).await?.is_some()))?;
    if !host_end {
        return Err(wrong(format!("host end {host_veth} is missing")));
    }
    let present = in_netns(netns, || {
        with_netlink(async |handle| {
            let Some(link) = link_by_name(&handle, &env.ifname).await? else {
                return Ok(None);
            };
            let mut found = Vec::new();
            let mut addresses = handle
                .address()
                .get()
                .set_link_index_filter(link.header.index)
                .execute();
            while let Some(message) = addresses
                .try_next()
                .await
                .map_err(|e| failed("cannot list addresses", e))?
            {
                found.extend(message.attributes.iter().filter_map(|a| match a {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                }));
            }
            Ok(Some(found))
        })
    })?;
    let Some(present) = present else {
        return Err(wrong(format!(
            "CNI_IFNAME: {} is missing in {}",
            env.ifname,
            netns.display()
        )));
    };
    if let Some(missing) = recorded.iter().find(|ip| !present.contains(ip)) {
        return Err(wrong(format!("{} lacks address {missing}", env.ifname)));
    }
    Ok(())
}
