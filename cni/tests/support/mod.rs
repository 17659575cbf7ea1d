//! Test harness for the CNI tests: network namespaces (`netns.rs`, also used by other crates),
//! the plugin binaries run the way a runtime runs them, and the node-route sync run inside a
//! namespace. Needs root.

#![allow(dead_code, clippy::unwrap_used)] // Shared by several test binaries; a panic is the report.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use portcullis_cni::routes::{NodeRoute, SyncReport, sync_routes};
use serde_json::Value;

#[path = "netns.rs"]
mod namespaces;
#[allow(unused_imports)] // Each test binary uses some of them.
pub use namespaces::{Netns, echo, unique};

/// The node-route sync run inside a namespace (kept here: it needs the cni crate, which the
/// other users of `netns.rs` do not have).
pub trait SyncRoutes {
    /// Makes this namespace's node routes equal to `desired`.
    fn sync_routes(&self, desired: &[NodeRoute]) -> SyncReport;
}

impl SyncRoutes for Netns {
    fn sync_routes(&self, desired: &[NodeRoute]) -> SyncReport {
        self.run(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .unwrap();
            runtime.block_on(async {
                let (connection, handle, _) = rtnetlink::new_connection().unwrap();
                tokio::spawn(connection);
                sync_routes(&handle, desired).await.unwrap()
            })
        })
    }
}

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
