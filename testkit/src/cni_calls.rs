//! CNI plugin binaries (ours and the reference ones) run the way a container runtime runs
//! them. Needs root.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// One plugin call's `CNI_*` variables.
pub struct Call<'a> {
    /// `CNI_COMMAND`.
    pub command: &'a str,
    /// `CNI_CONTAINERID`.
    pub container: &'a str,
    /// `CNI_NETNS`.
    pub netns: &'a Path,
    /// `CNI_IFNAME`.
    pub ifname: &'a str,
    /// `CNI_ARGS`.
    pub args: &'a str,
}

/// Runs a plugin binary (`plugin`, possibly wrapped in `ip netns exec`) with `config` on stdin;
/// returns whether it succeeded and its stdout as JSON (`Null` if none).
pub fn invoke(mut plugin: Command, call: &Call<'_>, config: &str) -> (bool, Value) {
    let mut child = plugin
        .env("CNI_COMMAND", call.command)
        .env("CNI_CONTAINERID", call.container)
        .env("CNI_NETNS", call.netns)
        .env("CNI_IFNAME", call.ifname)
        .env("CNI_ARGS", call.args)
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(config.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.success(), json)
}

/// The pod's first address in an ADD result.
pub fn pod_ip(result: &Value) -> IpAddr {
    let address = result["ips"][0]["address"].as_str().unwrap();
    address.split('/').next().unwrap().parse().unwrap()
}
