//! Side by side with the reference `bridge` + `host-local` plugins (Debian's
//! `containernetworking-plugins`, which `.ci/run` installs): the same conflist gives a result of
//! the same shape, and both plugins can share one IPAM directory without handing out an address
//! twice. Needs root.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use std::path::Path;
use std::process::Command;

use portcullis_testkit::cni_calls::{Call, invoke};
use portcullis_testkit::netns::{Netns, unique};
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

/// Runs `plugin` for a pod's `eth0` and expects success; returns its output.
fn call(plugin: &Path, command: &str, config: &str, container: &str, netns: &Path) -> Value {
    let call = Call {
        command,
        container,
        netns,
        ifname: "eth0",
        args: "",
    };
    let (ok, out) = invoke(Command::new(plugin), &call, config);
    assert!(ok, "{} {command}: {out}", plugin.display());
    out
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
    let bridge = unique("pcrb");
    let config = format!(
        r#"{{"cniVersion": "1.0.0", "name": "shared", "type": "bridge", "bridge": "{bridge}",
            "isGateway": true, "isDefaultGateway": true,
            "ipam": {{"type": "host-local", "subnet": "10.254.0.0/24", "dataDir": "{}"}}}}"#,
        data.path().display()
    );
    let (a, b) = (Netns::new(), Netns::new());
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
