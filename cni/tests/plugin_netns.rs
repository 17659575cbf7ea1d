//! The real `portcullis-cni` binary, run the way a runtime runs it, against real network
//! namespaces: pods get addresses, reach each other and the host without NAT, and DEL, failures
//! and concurrent ADD/DEL cycles leave nothing behind. Needs root (CI runs as root).

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;

use portcullis_testkit::cni_calls::{Call, invoke, pod_ip};
use portcullis_testkit::netns::{Netns, echo, unique};
use serde_json::Value;

/// A bridge network with its own data directory; removes the bridge on drop.
struct Network {
    bridge: String,
    name: String,
    data: tempfile::TempDir,
    subnet: String,
}

impl Network {
    fn new(subnet: &str) -> Network {
        Network {
            bridge: unique("pcb"),
            name: unique("net"),
            data: tempfile::tempdir().unwrap(),
            subnet: subnet.to_string(),
        }
    }

    fn config(&self, version: &str) -> String {
        format!(
            r#"{{"cniVersion": "{version}", "name": "{}", "type": "portcullis-cni", "bridge": "{}",
                "isGateway": true, "isDefaultGateway": true,
                "ipam": {{"type": "host-local", "subnet": "{}", "dataDir": "{}"}}}}"#,
            self.name,
            self.bridge,
            self.subnet,
            self.data.path().display()
        )
    }

    /// Addresses recorded as held.
    fn held(&self) -> Vec<String> {
        let dir = self.data.path().join(&self.name);
        let mut held: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().into_string().unwrap())
                    .filter(|n| n.parse::<IpAddr>().is_ok())
                    .collect()
            })
            .unwrap_or_default();
        held.sort();
        held
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}

/// Runs the plugin; returns (exit success, stdout JSON or Null).
fn cni(command: &str, config: &str, container: &str, netns: &Path, ifname: &str) -> (bool, Value) {
    cni_with_args(command, config, container, netns, ifname, "")
}

/// Like [`cni`], with `CNI_ARGS`.
fn cni_with_args(
    command: &str,
    config: &str,
    container: &str,
    netns: &Path,
    ifname: &str,
    args: &str,
) -> (bool, Value) {
    let call = Call {
        command,
        container,
        netns,
        ifname,
        args,
    };
    invoke(
        Command::new(env!("CARGO_BIN_EXE_portcullis-cni")),
        &call,
        config,
    )
}

#[test]
fn pods_reach_each_other_and_the_host_without_nat_and_del_cleans_up() {
    let network = Network::new("10.251.0.0/24");
    let (a, b) = (Netns::new(), Netns::new());
    let config = network.config("1.1.0");
    let (ok, result_a) = cni("ADD", &config, "ctr-a", &a.path(), "eth0");
    assert!(ok, "{result_a}");
    let (ok, result_b) = cni("ADD", &config, "ctr-b", &b.path(), "eth0");
    assert!(ok, "{result_b}");
    let (ip_a, ip_b) = (pod_ip(&result_a), pod_ip(&result_b));
    assert_eq!(ip_a.to_string(), "10.251.0.2");
    assert_eq!(ip_b.to_string(), "10.251.0.3");
    assert_eq!(result_a["interfaces"][0]["name"], network.bridge.as_str());
    assert_eq!(result_a["routes"][0]["dst"], "0.0.0.0/0");

    // Pod to pod: the server sees the client's own pod address.
    let server = b.accept_one(8080);
    a.run(|| echo(ip_b, 8080));
    assert_eq!(server.join().unwrap(), ip_a);
    // Host to pod, and pod to host (the bridge's gateway address).
    let server = a.accept_one(8081);
    echo(ip_a, 8081);
    assert_eq!(server.join().unwrap().to_string(), "10.251.0.1");
    let listener = TcpListener::bind(("10.251.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let host_side = std::thread::spawn(move || listener.accept().unwrap().1.ip());
    b.run(|| {
        TcpStream::connect(("10.251.0.1", port)).unwrap();
    });
    assert_eq!(host_side.join().unwrap(), ip_b);

    let (ok, _) = cni("CHECK", &config, "ctr-a", &a.path(), "eth0");
    assert!(ok, "CHECK after ADD");
    for _ in 0..2 {
        let (ok, out) = cni("DEL", &config, "ctr-a", &a.path(), "eth0");
        assert!(ok, "DEL is idempotent: {out}");
    }
    let (ok, out) = cni("CHECK", &config, "ctr-a", &a.path(), "eth0");
    assert!(!ok, "CHECK after DEL fails");
    assert_eq!(out["code"], 3);
    assert_eq!(network.held(), ["10.251.0.3"]);
    let missing = a.run(|| {
        Command::new("ip")
            .args(["link", "show", "eth0"])
            .output()
            .unwrap()
            .status
            .success()
    });
    assert!(!missing, "eth0 is gone from the pod");
    // DEL after the namespace is gone still frees the address and the host end.
    drop(b);
    let (ok, out) = cni(
        "DEL",
        &config,
        "ctr-b",
        Path::new("/var/run/netns/gone"),
        "eth0",
    );
    assert!(ok, "{out}");
    assert!(network.held().is_empty());
}

#[test]
fn failures_report_the_right_code_and_leave_nothing_behind() {
    let network = Network::new("10.252.0.0/30"); // One usable address (.2): .1 is the gateway.
    let config = network.config("0.4.0");
    let pod = Netns::new();

    let (ok, out) = cni(
        "ADD",
        &config,
        "c1",
        Path::new("/var/run/netns/no-such-ns"),
        "eth0",
    );
    assert!(!ok);
    assert_eq!(out["code"], 4, "{out}");
    assert!(out["msg"].as_str().unwrap().contains("CNI_NETNS"), "{out}");
    assert_eq!(out["cniVersion"], "0.4.0");
    assert!(
        network.held().is_empty(),
        "no address kept after a failed ADD"
    );

    let (ok, out) = cni("ADD", &config, "c1", &pod.path(), "eth0");
    assert!(ok, "{out}");
    assert_eq!(
        out["ips"][0]["version"], "4",
        "0.4.0 results carry the IP version"
    );
    let (ok, out) = cni("ADD", &config, "c2", &pod.path(), "eth1");
    assert!(!ok);
    assert_eq!(out["code"], 100, "range exhausted: {out}");
    let (ok, out) = cni("ADD", &config, "c1", &pod.path(), "eth0");
    assert!(!ok, "eth0 exists already");
    assert_eq!(out["code"], 101, "{out}");
    let still_there = pod.run(|| {
        let out = Command::new("ip")
            .args(["-br", "addr", "show", "eth0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("10.252.0.2/30")
    });
    assert!(
        still_there,
        "a refused repeated ADD leaves the live attachment alone"
    );
    let (ok, _) = cni("CHECK", &config, "c1", &pod.path(), "eth0");
    assert!(ok, "and CHECK still passes");
    assert!(
        out["msg"].as_str().unwrap().contains("CNI_IFNAME: eth0"),
        "{out}"
    );

    let (ok, out) = cni(
        "ADD",
        "{\"cniVersion\": \"1.0.0\", \"name\": 7}",
        "c1",
        &pod.path(),
        "eth0",
    );
    assert!(!ok);
    assert_eq!(out["code"], 6, "{out}");
    let (ok, out) = cni("STATUS", &network.config("1.1.0"), "", &pod.path(), "");
    assert!(!ok);
    assert_eq!(out["code"], 50, "STATUS says the range is full: {out}");
    assert_eq!(network.held(), ["10.252.0.2"]);
    // GC with no valid attachment frees it; STATUS is then fine.
    let gc = network
        .config("1.1.0")
        .replacen('{', "{\"cni.dev/valid-attachments\": [],", 1);
    let (ok, out) = cni("GC", &gc, "", &pod.path(), "");
    assert!(ok, "{out}");
    assert!(network.held().is_empty());
    let (ok, out) = cni("STATUS", &network.config("1.1.0"), "", &pod.path(), "");
    assert!(ok, "{out}");
    let (ok, out) = cni(
        "VERSION",
        "{\"cniVersion\": \"1.1.0\"}",
        "",
        &pod.path(),
        "",
    );
    assert!(ok);
    assert_eq!(
        out["supportedVersions"],
        serde_json::json!(["0.4.0", "1.0.0", "1.1.0"])
    );
}

#[test]
fn concurrent_add_del_cycles_never_share_an_address_and_leak_nothing() {
    const PODS: usize = 20;
    const CYCLES: usize = 25; // 20 pods x 25 cycles = 500 ADDs and 500 DELs, 20 at a time.
    let network = Network::new("10.253.0.0/24");
    let config = network.config("1.1.0");
    let pods: Vec<Netns> = (0..PODS).map(|_| Netns::new()).collect();
    std::thread::scope(|s| {
        for (n, pod) in pods.iter().enumerate() {
            let config = &config;
            s.spawn(move || {
                for cycle in 0..CYCLES {
                    let id = format!("pod{n}-{cycle}");
                    let (ok, out) = cni("ADD", config, &id, &pod.path(), "eth0");
                    assert!(ok, "{id}: {out}");
                    let ip = pod_ip(&out);
                    let on_link = pod.run(|| {
                        let out = Command::new("ip")
                            .args(["-br", "addr", "show", "eth0"])
                            .output()
                            .unwrap();
                        String::from_utf8_lossy(&out.stdout).contains(&format!("{ip}/24"))
                    });
                    assert!(on_link, "{id}: {ip} not on eth0");
                    let (ok, out) = cni("DEL", config, &id, &pod.path(), "eth0");
                    assert!(ok, "{id}: {out}");
                }
            });
        }
    });
    assert!(network.held().is_empty(), "leaked: {:?}", network.held());
    let links = Command::new("ip").args(["-br", "link"]).output().unwrap();
    let links = String::from_utf8_lossy(&links.stdout).to_string();
    for n in 0..PODS {
        for cycle in 0..CYCLES {
            let veth = portcullis_cni::attach::host_veth_name(&format!("pod{n}-{cycle}"), "eth0");
            assert!(!links.contains(&veth), "{veth} left on the host");
        }
    }
}

#[test]
fn a_requested_address_is_given_and_a_taken_one_refused() {
    let network = Network::new("10.250.0.0/24");
    let config = network.config("1.1.0");
    let (a, b) = (Netns::new(), Netns::new());
    let args = "IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.250.0.77";
    let (ok, out) = cni_with_args("ADD", &config, "ctr-a", &a.path(), "eth0", args);
    assert!(ok, "{out}");
    assert_eq!(out["ips"][0]["address"], "10.250.0.77/24");
    let (ok, out) = cni_with_args("ADD", &config, "ctr-b", &b.path(), "eth0", args);
    assert!(!ok);
    assert_eq!(out["code"], 4, "{out}");
    assert!(
        out["msg"]
            .as_str()
            .unwrap()
            .contains("IP=10.250.0.77 is held"),
        "{out}"
    );
    let (ok, out) = cni_with_args("ADD", &config, "ctr-b", &b.path(), "eth0", "IP=ten");
    assert!(!ok);
    assert!(
        out["msg"].as_str().unwrap().starts_with("CNI_ARGS: IP=ten"),
        "{out}"
    );
    assert_eq!(network.held(), ["10.250.0.77"]);
    cni("DEL", &config, "ctr-a", &a.path(), "eth0");
    assert!(network.held().is_empty());
}
