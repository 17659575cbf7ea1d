//! ADD and DEL at the kernel: the bridge, a veth pair with one end in the pod's namespace, its
//! addresses and routes. The host end's name is derived from the container and interface, so DEL
//! finds it even when the pod's namespace is already gone.

use std::fs;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::Path;

use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

use crate::config::BridgeConfig;
use crate::error::{CniError, ErrorCode};
use crate::ipam::Allocated;
use crate::netlink::{errno, failed, in_netns, link_by_name, mac_of, with_netlink};

/// What ADD made, for the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The bridge and its MAC.
    pub bridge: (String, String),
    /// The host end of the veth and its MAC.
    pub host_veth: (String, String),
    /// The MAC of the pod's interface.
    pub pod_mac: String,
    /// Routes installed in the pod: destination and gateway.
    pub routes: Vec<(ipnet::IpNet, IpAddr)>,
}

/// The host end's name: `veth` and 11 hex digits of a hash of container and interface.
pub fn host_veth_name(container_id: &str, ifname: &str) -> String {
    // FNV-1a: stable across releases, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in container_id.bytes().chain([0]).chain(ifname.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("veth{:011x}", hash & 0xfff_ffff_ffff)
}

/// Creates the bridge if needed, the veth pair, and configures the pod's end. On failure,
/// whatever was created for this pod is removed again (the bridge stays: others use it).
pub fn attach(
    config: &BridgeConfig,
    container_id: &str,
    ifname: &str,
    netns: &Path,
    allocated: &[Allocated],
) -> Result<Attachment, CniError> {
    let host_veth = host_veth_name(container_id, ifname);
    let host = with_netlink(async |handle| {
        host_side(&handle, config, &host_veth, ifname, netns, allocated).await
    });
    let host = match host {
        Ok(host) => host,
        // Not ours to remove: the names belong to what was there before.
        Err(error) if error.code == ErrorCode::InterfaceExists => return Err(error),
        Err(error) => {
            let _ = delete_host_veth(&host_veth);
            return Err(error);
        }
    };
    let pod = in_netns(netns, || {
        with_netlink(async |handle| pod_side(&handle, config, ifname, allocated).await)
    });
    match pod {
        Ok((pod_mac, routes)) => Ok(Attachment {
            bridge: host.0,
            host_veth: (host_veth, host.1),
            pod_mac,
            routes,
        }),
        Err(error) => {
            let _ = delete_host_veth(&host_veth);
            Err(error)
        }
    }
}

/// Removes the pod's interface (in its namespace, if given and still there) and the host end.
/// Missing pieces are not errors: DEL may be repeated, or follow a failed ADD.
pub fn detach(container_id: &str, ifname: &str, netns: Option<&Path>) -> Result<(), CniError> {
    if let Some(netns) = netns.filter(|path| path.exists()) {
        in_netns(netns, || {
            with_netlink(async |handle| delete_link(&handle, ifname).await)
        })?;
    }
    delete_host_veth(&host_veth_name(container_id, ifname))
}

fn delete_host_veth(name: &str) -> Result<(), CniError> {
    with_netlink(async |handle| delete_link(&handle, name).await)
}

async fn delete_link(handle: &Handle, name: &str) -> Result<(), CniError> {
    let Some(link) = link_by_name(handle, name).await? else {
        return Ok(());
    };
    match handle.link().del(link.header.index).execute().await {
        Err(error) if errno(&error) != Some(nix::libc::ENODEV) => {
            Err(failed(format!("cannot delete link {name}"), error))
        }
        _ => Ok(()),
    }
}

/// Bridge (created if missing), gateway addresses, the veth pair (its pod end created directly
/// in the pod's namespace under its final name: moving a device between namespaces afterwards
/// costs the kernel about 18 ms), host end on the bridge. Returns the bridge (name, MAC) and
/// the host end's MAC.
async fn host_side(
    handle: &Handle,
    config: &BridgeConfig,
    host_veth: &str,
    ifname: &str,
    netns: &Path,
    allocated: &[Allocated],
) -> Result<((String, String), String), CniError> {
    let bridge = match link_by_name(handle, &config.bridge).await? {
        Some(bridge) => bridge,
        None => {
            let mut builder = LinkBridge::new(&config.bridge).up();
            if let Some(mtu) = config.mtu {
                builder = builder.mtu(mtu);
            }
            match handle.link().add(builder.build()).execute().await {
                Err(error) if errno(&error) != Some(nix::libc::EEXIST) => {
                    return Err(failed(
                        format!("bridge: cannot create {}", config.bridge),
                        error,
                    ));
                }
                _ => {}
            }
            link_by_name(handle, &config.bridge).await?.ok_or_else(|| {
                failed(
                    format!("bridge: {} vanished", config.bridge),
                    "after creation",
                )
            })?
        }
    };
    let bridge_index = bridge.header.index;
    handle
        .link()
        .set(LinkUnspec::new_with_index(bridge_index).up().build())
        .execute()
        .await
        .map_err(|e| failed(format!("bridge: cannot bring {} up", config.bridge), e))?;
    if config.is_gateway {
        for allocated in allocated {
            let range = &allocated.range;
            let added = handle
                .address()
                .add(bridge_index, range.gateway, range.subnet.prefix_len())
                .execute()
                .await;
            match added {
                Err(error) if errno(&error) != Some(nix::libc::EEXIST) => {
                    return Err(failed(
                        format!(
                            "bridge: cannot add gateway {} to {}",
                            range.gateway, config.bridge
                        ),
                        error,
                    ));
                }
                _ => {}
            }
        }
        enable_forwarding(allocated)?;
    }
    let netns_file = fs::File::open(netns).map_err(|e| {
        CniError::new(
            ErrorCode::InvalidEnvironment,
            format!("CNI_NETNS: cannot open {}", netns.display()),
        )
        .with_details(e)
    })?;
    let mut pod_end = LinkUnspec::new_with_name(ifname).setns_by_fd(netns_file.as_raw_fd());
    let mut veth =
        LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth).name(host_veth);
    if let Some(mtu) = config.mtu {
        pod_end = pod_end.mtu(mtu);
        veth = veth.mtu(mtu);
    }
    let veth = veth.set_info_data(InfoData::Veth(InfoVeth::Peer(pod_end.build())));
    match handle.link().add(veth.build()).execute().await {
        Ok(()) => {}
        Err(error) if errno(&error) == Some(nix::libc::EEXIST) => {
            // Either name may be taken. A host end of ours means this container's interface is
            // attached already (a veth pair lives and dies whole): the runtime must DEL first.
            let message = if link_by_name(handle, host_veth).await?.is_some() {
                format!(
                    "CNI_IFNAME: {ifname} is attached already (host end {host_veth}); DEL it first"
                )
            } else {
                format!("CNI_IFNAME: {ifname} already exists in {}", netns.display())
            };
            return Err(CniError::new(ErrorCode::InterfaceExists, message));
        }
        Err(error) => {
            return Err(failed(
                format!("cannot create veth pair {host_veth}/{ifname}"),
                error,
            ));
        }
    }
    handle
        .link()
        .set(
            LinkUnspec::new_with_name(host_veth)
                .controller(bridge_index)
                .up()
                .build(),
        )
        .execute()
        .await
        .map_err(|e| failed(format!("cannot attach {host_veth} to {}", config.bridge), e))?;
    if config.hairpin_mode {
        let path = format!("/sys/class/net/{host_veth}/brport/hairpin_mode");
        fs::write(&path, "1")
            .map_err(|e| failed(format!("hairpinMode: cannot write {path}"), e))?;
    }
    let host_mac = link_by_name(handle, host_veth)
        .await?
        .map(|l| mac_of(&l))
        .unwrap_or_default();
    Ok(((config.bridge.clone(), mac_of(&bridge)), host_mac))
}

/// In the pod's namespace: bring the veth end and `lo` up, add the addresses and routes.
/// Returns the interface's MAC and the routes added.
async fn pod_side(
    handle: &Handle,
    config: &BridgeConfig,
    ifname: &str,
    allocated: &[Allocated],
) -> Result<(String, Vec<(ipnet::IpNet, IpAddr)>), CniError> {
    let link = link_by_name(handle, ifname).await?.ok_or_else(|| {
        failed(
            format!("{ifname} is missing in the pod's namespace"),
            "right after ADD created it",
        )
    })?;
    let index = link.header.index;
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(|e| failed(format!("cannot bring {ifname} up"), e))?;
    if let Some(lo) = link_by_name(handle, "lo").await? {
        handle
            .link()
            .set(LinkUnspec::new_with_index(lo.header.index).up().build())
            .execute()
            .await
            .map_err(|e| failed("cannot bring lo up", e))?;
    }
    for allocated in allocated {
        handle
            .address()
            .add(index, allocated.ip, allocated.range.subnet.prefix_len())
            .execute()
            .await
            .map_err(|e| failed(format!("cannot add {} to {ifname}", allocated.ip), e))?;
    }
    let mut routes = Vec::new();
    for allocated in allocated {
        let gateway = allocated.range.gateway;
        if config.is_default_gateway {
            let default: ipnet::IpNet = match gateway {
                IpAddr::V4(_) => ipnet::IpNet::V4(ipnet::Ipv4Net::default()),
                IpAddr::V6(_) => ipnet::IpNet::V6(ipnet::Ipv6Net::default()),
            };
            routes.push((default, gateway));
        }
        for route in &config.ipam.routes {
            if route.dst.addr().is_ipv4() == gateway.is_ipv4() {
                routes.push((route.dst, route.gw.unwrap_or(gateway)));
            }
        }
    }
    routes.dedup();
    for (dst, gw) in &routes {
        let message = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(dst.addr(), dst.prefix_len())
            .and_then(|b| b.gateway(*gw))
            .map_err(|e| failed(format!("route {dst} via {gw}"), e))?
            .output_interface(index)
            .build();
        match handle.route().add(message).execute().await {
            Err(error) if errno(&error) != Some(nix::libc::EEXIST) => {
                return Err(failed(format!("cannot add route {dst} via {gw}"), error));
            }
            _ => {}
        }
    }
    let mac = link_by_name(handle, ifname)
        .await?
        .map(|l| mac_of(&l))
        .unwrap_or_default();
    Ok((mac, routes))
}

/// A gateway forwards: turn on IP forwarding for the families in use (host namespace).
fn enable_forwarding(allocated: &[Allocated]) -> Result<(), CniError> {
    let mut paths = Vec::new();
    if allocated.iter().any(|a| a.ip.is_ipv4()) {
        paths.push("/proc/sys/net/ipv4/ip_forward");
    }
    if allocated.iter().any(|a| a.ip.is_ipv6()) {
        paths.push("/proc/sys/net/ipv6/conf/all/forwarding");
    }
    for path in paths {
        fs::write(path, "1")
            .map_err(|e| failed(format!("cannot enable forwarding ({path})"), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_veth_names_are_stable_distinct_and_fit() {
        let a = host_veth_name("abc", "eth0");
        assert_eq!(a, host_veth_name("abc", "eth0"));
        assert_ne!(a, host_veth_name("abc", "eth1"));
        assert_ne!(a, host_veth_name("abd", "eth0"));
        assert_ne!(host_veth_name("ab", "ceth0"), host_veth_name("abc", "eth0"));
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("veth"));
    }
}
