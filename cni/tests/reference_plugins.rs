//! Side by side with the reference `bridge` + `host-local` plugins (Debian's
//! `containernetworking-plugins`, which `.ci/run` installs): the same conflist gives a result of
//! the same shape, and both plugins can share one IPAM directory without handing out an address
//! twice. Needs root.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

const REFERENCE: &str = "/usr/lib/cni/bridge";

fn reference_plugin() -> &'static Path {
    let path = Path::new(REFERENCE);
    assert!(
        path.exists(),
        "{REFERENCE} is missing: apt-get install containernetworking-plugins (.ci/run does)"
    );
    path
}

struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("pcr{}{tag}", std::process::id() % 100_000);
        assert!(
            Command::new("ip")
                .args(["netns", "add", &name])
                .status()
                .unwrap()
                .success()
        );
        Netns(name)
    }

    fn path(&self) -> String {
        format!("/var/run/netns/{}", self.0)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn call(plugin: &Path, command: &str, config: &str, container: &str, netns: &str) -> Value {
    let mut child = Command::new(plugin)
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", container)
        .env("CNI_NETNS", netns)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(config.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{} {command}: {}",
        plugin.display(),
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

/// The result with addresses, names and MACs blanked: what must match is the shape.
fn shape(result: &Value) -> Value {
    let mut shape = result.clone();
    for interface in shape["interfaces"].as_array_mut().unwrap() {
        interface["mac"] = Value::Null;
        interface["name"] = Value::Null;
        if interface.get("sandbox").is_some() {
            interface["sandbox"] = Value::Null;
        }
    }
    for ip in shape["ips"].as_array_mut().unwrap() {
        ip["address"] = Value::Null;
        ip["gateway"] = Value::Null;
    }
    for route in shape["routes"].as_array_mut().unwrap() {
        route["gw"] = Value::Null;
    }
    shape
}

#[test]
fn same_conflist_same_result_shape_and_a_shared_ipam_directory() {
    let reference = reference_plugin();
    let ours = Path::new(env!("CARGO_BIN_EXE_portcullis-cni"));
    let data = tempfile::tempdir().unwrap();
    let bridge = format!("pcrb{}", std::process::id() % 100_000);
    let config = format!(
        r#"{{"cniVersion": "1.0.0", "name": "shared", "type": "bridge", "bridge": "{bridge}",
            "isGateway": true, "isDefaultGateway": true,
            "ipam": {{"type": "host-local", "subnet": "10.254.0.0/24", "dataDir": "{}"}}}}"#,
        data.path().display()
    );
    let (a, b) = (Netns::new("a"), Netns::new("b"));
    let theirs = call(reference, "ADD", &config, "ref-pod", &a.path());
    let mine = call(ours, "ADD", &config, "our-pod", &b.path());
    assert_eq!(
        shape(&mine),
        shape(&theirs),
        "ours: {mine}\nreference: {theirs}"
    );
    // One directory, two plugins: ours resumed after the reference's address.
    assert_eq!(theirs["ips"][0]["address"], "10.254.0.2/24");
    assert_eq!(mine["ips"][0]["address"], "10.254.0.3/24");
    assert_eq!(mine["interfaces"][0]["name"], bridge.as_str());

    call(ours, "DEL", &config, "our-pod", &b.path());
    call(reference, "DEL", &config, "ref-pod", &a.path());
    let left: Vec<String> = std::fs::read_dir(data.path().join("shared"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = Command::new("ip").args(["link", "del", &bridge]).status();
}
