//! The network configuration the runtime passes on stdin, in the reference `bridge` +
//! `host-local` plugins' shape, turned into validated types once. Every error names the field.

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;

use crate::error::{CniError, ErrorCode};
use crate::ipam::{Range, RangeSet};
use crate::version::{CniVersion, SUPPORTED};

/// Where `host-local` keeps its records unless `ipam.dataDir` says otherwise.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

/// The bridge the reference plugin uses unless `bridge` says otherwise.
pub const DEFAULT_BRIDGE: &str = "cni0";

/// A validated bridge network configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// `cniVersion`.
    pub cni_version: CniVersion,
    /// `name`: the network's name (also the IPAM directory's).
    pub name: String,
    /// `bridge`: the bridge device on the host.
    pub bridge: String,
    /// `isGateway`: the bridge gets each range's gateway address.
    pub is_gateway: bool,
    /// `isDefaultGateway`: pods get a default route via the gateway (implies `isGateway`).
    pub is_default_gateway: bool,
    /// `ipMasq`: masquerade traffic leaving the pod network.
    pub ip_masq: bool,
    /// `mtu` of the bridge and veths; the kernel default if unset.
    pub mtu: Option<u32>,
    /// `hairpinMode`: a pod can reach itself through a Service.
    pub hairpin_mode: bool,
    /// `ipam`.
    pub ipam: IpamConfig,
}

/// The validated `ipam` section (type `host-local`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpamConfig {
    /// One address is taken from each set.
    pub range_sets: Vec<RangeSet>,
    /// `routes` to install in the pod.
    pub routes: Vec<RouteConfig>,
    /// `dataDir`.
    pub data_dir: PathBuf,
}

/// One entry of `ipam.routes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    /// `dst`.
    pub dst: IpNet,
    /// `gw`; the range's gateway if unset.
    pub gw: Option<IpAddr>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    cni_version: String,
    name: String,
    #[serde(rename = "type")]
    plugin: String,
    bridge: Option<String>,
    #[serde(default)]
    is_gateway: bool,
    #[serde(default)]
    is_default_gateway: bool,
    #[serde(default)]
    ip_masq: bool,
    mtu: Option<u32>,
    #[serde(default)]
    hairpin_mode: bool,
    ipam: Option<RawIpam>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawIpam {
    #[serde(rename = "type")]
    plugin: Option<String>,
    subnet: Option<String>,
    range_start: Option<String>,
    range_end: Option<String>,
    gateway: Option<String>,
    ranges: Option<Vec<Vec<RawRange>>>,
    #[serde(default)]
    routes: Vec<RawRoute>,
    data_dir: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRange {
    subnet: String,
    range_start: Option<String>,
    range_end: Option<String>,
    gateway: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawRoute {
    dst: String,
    gw: Option<String>,
}

/// The `cniVersion` of a configuration, read before anything else so that even an error about
/// the rest can be answered in the runtime's version. Falls back to the newest supported when
/// there is none (no text, or an empty one: an answer must name some version).
pub fn cni_version_of(stdin: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(stdin)
        .ok()
        .and_then(|v| v.get("cniVersion")?.as_str().map(str::to_string))
        .filter(|version| !version.is_empty())
        .unwrap_or_else(|| SUPPORTED[SUPPORTED.len() - 1].to_string())
}

/// Parses and validates a bridge configuration.
pub fn parse_bridge_config(stdin: &[u8]) -> Result<BridgeConfig, CniError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(stdin);
    let raw: RawConfig = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        CniError::new(
            ErrorCode::DecodingFailure,
            format!("network configuration: {at}{}", error.inner()),
        )
    })?;
    let cni_version = CniVersion::parse(&raw.cni_version).ok_or_else(|| {
        CniError::new(
            ErrorCode::IncompatibleVersion,
            format!(
                "cniVersion {:?} is not supported (supported: {})",
                raw.cni_version,
                SUPPORTED.join(", ")
            ),
        )
    })?;
    if raw.name.is_empty() {
        return Err(invalid("name: must not be empty".into()));
    }
    if raw.name.contains('/') || raw.name == "." || raw.name == ".." {
        return Err(invalid(format!(
            "name: {:?} cannot name a directory",
            raw.name
        )));
    }
    let bridge = raw.bridge.unwrap_or_else(|| DEFAULT_BRIDGE.to_string());
    if let Err(problem) = check_interface_name(&bridge) {
        return Err(invalid(format!("bridge: {problem}")));
    }
    if let Some(mtu) = raw.mtu
        && !(68..=65535).contains(&mtu)
    {
        return Err(invalid(format!("mtu: {mtu} is outside 68..=65535")));
    }
    let _ = raw.plugin; // Any `type` name: the runtime chose this binary by it.
    let ipam = raw
        .ipam
        .ok_or_else(|| invalid("ipam: missing; this plugin needs an address range".into()))?;
    Ok(BridgeConfig {
        cni_version,
        name: raw.name,
        bridge,
        is_gateway: raw.is_gateway || raw.is_default_gateway,
        is_default_gateway: raw.is_default_gateway,
        ip_masq: raw.ip_masq,
        mtu: raw.mtu,
        hairpin_mode: raw.hairpin_mode,
        ipam: ipam_config(ipam)?,
    })
}

/// Checks a Linux interface name: 1 to 15 bytes, no `/`, whitespace or `:`, not `.` or `..`.
pub fn check_interface_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 15 {
        return Err(format!("{name:?} must be 1 to 15 bytes long"));
    }
    if name == "."
        || name == ".."
        || name.contains(['/', ':'])
        || name.contains(char::is_whitespace)
    {
        return Err(format!("{name:?} is not a valid interface name"));
    }
    Ok(())
}

fn ipam_config(raw: RawIpam) -> Result<IpamConfig, CniError> {
    match raw.plugin.as_deref() {
        None | Some("host-local") => {}
        Some(other) => {
            return Err(CniError::new(
                ErrorCode::UnsupportedField,
                format!("ipam.type: {other:?} is not supported; IPAM is built in (host-local)"),
            ));
        }
    }
    let sets: Vec<Vec<(String, RawRange)>> = match (raw.subnet, raw.ranges) {
        (Some(_), Some(_)) => {
            return Err(invalid("ipam: give subnet or ranges, not both".into()));
        }
        (Some(subnet), None) => vec![vec![(
            "ipam".to_string(),
            RawRange {
                subnet,
                range_start: raw.range_start,
                range_end: raw.range_end,
                gateway: raw.gateway,
            },
        )]],
        (None, Some(ranges)) => ranges
            .into_iter()
            .enumerate()
            .map(|(i, set)| {
                set.into_iter()
                    .enumerate()
                    .map(|(j, range)| (format!("ipam.ranges[{i}][{j}]"), range))
                    .collect()
            })
            .collect(),
        (None, None) => return Err(invalid("ipam: needs subnet or ranges".into())),
    };
    let mut range_sets: Vec<RangeSet> = Vec::new();
    for (i, set) in sets.into_iter().enumerate() {
        if set.is_empty() {
            return Err(invalid(format!("ipam.ranges[{i}]: an empty range set")));
        }
        let mut ranges: RangeSet = Vec::new();
        for (field, raw) in set {
            let range = parse_range(&field, raw)?;
            if let Some(first) = ranges.first()
                && first.start.is_ipv4() != range.start.is_ipv4()
            {
                return Err(invalid(format!(
                    "{field}.subnet: {} mixes address families within one range set",
                    range.subnet
                )));
            }
            if let Some(other) = ranges.iter().find(|r| r.overlaps(&range)) {
                return Err(invalid(format!(
                    "{field}: overlaps {}-{} in the same set",
                    other.start, other.end
                )));
            }
            ranges.push(range);
        }
        for earlier in &range_sets {
            let overlapping = earlier
                .iter()
                .flat_map(|a: &Range| ranges.iter().map(move |b| (a, b)))
                .find(|(a, b)| a.overlaps(b));
            if let Some((a, _)) = overlapping {
                return Err(invalid(format!(
                    "ipam.ranges[{i}]: overlaps another range set ({}-{})",
                    a.start, a.end
                )));
            }
        }
        range_sets.push(ranges);
    }
    let mut routes = Vec::new();
    for (i, route) in raw.routes.into_iter().enumerate() {
        let dst = route.dst.parse::<IpNet>().map_err(|e| {
            invalid(format!(
                "ipam.routes[{i}].dst: {:?} is not a CIDR ({e})",
                route.dst
            ))
        })?;
        let gw = route
            .gw
            .map(|gw| {
                gw.parse::<IpAddr>().map_err(|e| {
                    invalid(format!(
                        "ipam.routes[{i}].gw: {gw:?} is not an IP address ({e})"
                    ))
                })
            })
            .transpose()?;
        routes.push(RouteConfig { dst, gw });
    }
    let data_dir = PathBuf::from(raw.data_dir.unwrap_or_else(|| DEFAULT_DATA_DIR.to_string()));
    if !data_dir.is_absolute() {
        return Err(invalid(format!(
            "ipam.dataDir: {} must be an absolute path",
            data_dir.display()
        )));
    }
    Ok(IpamConfig {
        range_sets,
        routes,
        data_dir,
    })
}

fn parse_range(field: &str, raw: RawRange) -> Result<Range, CniError> {
    let subnet = raw.subnet.parse::<IpNet>().map_err(|e| {
        invalid(format!(
            "{field}.subnet: {:?} is not a CIDR ({e})",
            raw.subnet
        ))
    })?;
    let address = |name: &str, text: Option<String>| -> Result<Option<IpAddr>, CniError> {
        text.map(|text| {
            text.parse::<IpAddr>().map_err(|e| {
                invalid(format!(
                    "{field}.{name}: {text:?} is not an IP address ({e})"
                ))
            })
        })
        .transpose()
    };
    let start = address("rangeStart", raw.range_start)?;
    let end = address("rangeEnd", raw.range_end)?;
    let gateway = address("gateway", raw.gateway)?;
    Range::new(subnet, start, end, gateway)
        .map_err(|problem| invalid(format!("{field}: {problem}")))
}

/// A configuration that decodes but holds an invalid value (code 7); `msg` names the field.
fn invalid(msg: String) -> CniError {
    CniError::new(ErrorCode::InvalidNetworkConfig, msg)
}

#[cfg(test)]
mod tests;
