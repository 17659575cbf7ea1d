//! The node agent's end-to-end tests: the real `portcullis node` run in a node's namespace,
//! the plugin binary next to it, manifests as the kubelet and users would write them, waiting.

use std::ffi::OsStr;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::binaries::cargo_bin;
use crate::cni_calls::{Call, invoke, pod_ip};
use crate::netns::Netns;

/// The plugin binary, built by the same `cargo test --workspace` run (cni's tests need it) into
/// the folder next to `portcullis`.
pub fn plugin_binary() -> PathBuf {
    cargo_bin("portcullis-cni")
}

/// `portcullis node` running inside a node's namespace, stopped on drop.
pub struct NodeAgent {
    child: Child,
    log: PathBuf,
    conf_dir: PathBuf,
    /// Where the agent installed the plugin.
    pub bin_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl NodeAgent {
    /// Starts the agent for Node `name`; `source` is `--manifests DIR` or `--kubeconfig FILE`.
    pub fn start(node: &Netns, name: &str, source: [&OsStr; 2]) -> NodeAgent {
        Self::start_with(node, name, source, &[])
    }

    /// Like [`NodeAgent::start`], with more flags.
    pub fn start_with(node: &Netns, name: &str, source: [&OsStr; 2], extra: &[&str]) -> NodeAgent {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let conf_dir = dir.path().join("net.d");
        let bin_dir = dir.path().join("bin");
        let child = Command::new("ip")
            .args(["netns", "exec", node.name()])
            .arg(cargo_bin("portcullis"))
            .args(["node", "--node-name", name, "--resync-period", "500ms"])
            .args(source)
            .arg("--cni-conf-dir")
            .arg(&conf_dir)
            .arg("--install-cni-plugin")
            .arg(plugin_binary())
            .arg("--cni-bin-dir")
            .arg(&bin_dir)
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        NodeAgent {
            child,
            log,
            conf_dir,
            bin_dir,
            _dir: dir,
        }
    }

    /// Everything the agent logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The conflist the agent wrote, if it wrote one yet.
    pub fn conflist(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.conf_dir.join("10-portcullis.conflist")).ok()?;
        Some(serde_json::from_str(&text).unwrap())
    }
}

impl Drop for NodeAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 50 ms for up to 10 s.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Node manifest with one pod CIDR and one InternalIP.
pub fn node_yaml(name: &str, cidr: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\nspec:\n  podCIDRs: [\"{cidr}\"]\n\
         status:\n  addresses:\n  - {{type: Hostname, address: {name}}}\n  - {{type: InternalIP, address: \"{ip}\"}}\n"
    )
}

/// A Pod on `node` with the address the plugin gave it, as the kubelet reports it.
pub fn pod_yaml(name: &str, node: &str, ip: IpAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default}}\n\
         spec: {{nodeName: {node}, containers: [{{name: c, image: x}}]}}\n\
         status: {{podIP: \"{ip}\", podIPs: [{{ip: \"{ip}\"}}]}}\n"
    )
}

/// The pod addresses the node's agent has put into its NetworkPolicy table.
pub fn known(node: &Netns) -> String {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            node.name(),
            "nft",
            "list",
            "set",
            "inet",
            "portcullis",
            "known4",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Writes `text` to `dir/file` by rename, as an editor or `kubectl` would leave it whole.
pub fn write(dir: &Path, file: &str, text: &str) {
    let partial = dir.join(format!(".{file}.tmp"));
    std::fs::write(&partial, text).unwrap();
    std::fs::rename(partial, dir.join(file)).unwrap();
}

/// ADDs `pod` using the conflist and the plugin the agent installed, the way a runtime does
/// (each plugin entry gets the list's cniVersion and name), IPAM records kept in `data`.
pub fn attach(node: &Netns, agent: &NodeAgent, pod: &Netns, data: &Path) -> IpAddr {
    let list = agent.conflist().unwrap();
    let mut entry = list["plugins"][0].clone();
    entry["cniVersion"] = list["cniVersion"].clone();
    entry["name"] = list["name"].clone();
    entry["ipam"]["dataDir"] = data.display().to_string().into();
    let mut plugin = Command::new("ip");
    let installed = agent
        .bin_dir
        .join(list["plugins"][0]["type"].as_str().unwrap());
    plugin.args(["netns", "exec", node.name()]).arg(installed);
    let call = Call {
        command: "ADD",
        container: pod.name(),
        netns: &pod.path(),
        ifname: "eth0",
        args: "",
    };
    let (ok, result) = invoke(plugin, &call, &entry.to_string());
    assert!(ok, "{result}");
    pod_ip(&result)
}
