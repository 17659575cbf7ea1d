//! A real Kubernetes control plane for a test binary: etcd, kube-apiserver (RBAC on) and
//! kube-controller-manager (EndpointSlices, service accounts, namespaces, node CIDRs), built from
//! Go modules by `tests/control-plane/build.sh`, with certificates made here and an admin
//! kubeconfig.
//!
//! Every instance listens on a loopback address of its own, `127.x.y.z` from the test
//! process's PID and an instance number, so two test binaries running at once can never pick
//! the same address and their fixed ports cannot collide. [`ControlPlane::shared`] starts one
//! per test binary (each test works in namespaces of its own); [`ControlPlane::start`] one for a
//! test that stops or restarts parts of it. Dropping an instance stops it and removes its files;
//! a watchdog process does the same when the test process ends (the shared instance is never
//! dropped, and a panicking test may not drop its own).

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};

/// The kube-apiserver's port on the instance's own address.
const APISERVER_PORT: u16 = 6443;
/// A second kube-apiserver's, on the same etcd (see [`ControlPlane::start_second_apiserver`]).
const SECOND_APISERVER_PORT: u16 = 6444;
const ETCD_CLIENT_PORT: u16 = 2379;
const ETCD_PEER_PORT: u16 = 2380;
const CONTROLLER_MANAGER_PORT: u16 = 10257;
/// The Service and Pod ranges the controllers hand out.
pub const SERVICE_CIDR: &str = "10.96.0.0/16";
/// Node pod CIDRs are /24s of this.
pub const CLUSTER_CIDR: &str = "10.244.0.0/16";

/// How long a component may take to become ready.
const READY_WITHIN: Duration = Duration::from_secs(90);

/// A running control plane; stopped and removed on drop.
pub struct ControlPlane {
    address: Ipv4Addr,
    dir: tempfile::TempDir,
    bin: PathBuf,
    etcd: Running,
    apiserver: Running,
    second_apiserver: Running,
    controller_manager: Running,
    watchdog: Running,
}

/// A component's process, while it runs; tests stop and restart some through `&self`.
type Running = Mutex<Option<Child>>;

/// Instances started by this process so far: the low bits of each one's address.
static INSTANCES: AtomicU32 = AtomicU32::new(0);

impl ControlPlane {
    /// The test binary's shared control plane, started on first use.
    pub fn shared() -> &'static ControlPlane {
        static SHARED: OnceLock<ControlPlane> = OnceLock::new();
        SHARED.get_or_init(ControlPlane::start)
    }

    /// A control plane of its own (for tests that stop parts of it), ready to use.
    pub fn start() -> ControlPlane {
        let bin = binaries();
        let instance = INSTANCES.fetch_add(1, Ordering::Relaxed);
        assert!(instance < 4, "at most four control planes per test process");
        let address = own_address(std::process::id(), instance);
        let dir = tempfile::Builder::new()
            .prefix("portcullis-control-plane-")
            .tempdir()
            .expect("temp dir");
        write_certificates(dir.path(), address);
        let plane = ControlPlane {
            address,
            dir,
            bin,
            etcd: Running::default(),
            apiserver: Running::default(),
            second_apiserver: Running::default(),
            controller_manager: Running::default(),
            watchdog: Running::default(),
        };
        plane.start_etcd();
        plane.start_apiserver();
        plane.start_controller_manager();
        set(&plane.watchdog, plane.spawn_watchdog());
        plane
    }

    /// `https://address:6443`.
    pub fn server(&self) -> String {
        format!("https://{}:{APISERVER_PORT}", self.address)
    }

    /// The admin's kubeconfig (`system:masters`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("admin.kubeconfig")
    }

    /// The folder of the built binaries (`kubectl` is there too).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Runs kubectl as the admin with `args`, feeding it `stdin`.
    pub fn kubectl_with_input(&self, args: &[&str], stdin: &str) -> Output {
        self.kubectl_at(&self.kubeconfig(), args, stdin)
    }

    /// Runs kubectl with `kubeconfig` and `args`, feeding it `stdin`.
    pub fn kubectl_at(&self, kubeconfig: &Path, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(self.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child
            .stdin
            .take()
            .expect("stdin piped")
            .write_all(stdin.as_bytes())
            .expect("write kubectl's stdin");
        child.wait_with_output().expect("kubectl ran")
    }

    /// Runs kubectl as the admin with `args`.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with_input(args, "")
    }

    /// Runs kubectl as the admin; panics with its stderr unless it succeeds. Returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let output = self.kubectl(args);
        assert!(
            output.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `kubectl apply --server-side -f -` of `yaml` (one or more objects).
    pub fn apply(&self, yaml: &str) {
        let output = self.kubectl_with_input(
            &["apply", "--server-side", "--force-conflicts", "-f", "-"],
            yaml,
        );
        assert!(
            output.status.success(),
            "kubectl apply: {}\n{yaml}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A fresh namespace named `prefix-N`, unique in this control plane.
    pub fn namespace(&self, prefix: &str) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.kubectl_ok(&["create", "namespace", &name]);
        name
    }

    /// Stops the API server (etcd and the controllers keep running).
    pub fn stop_apiserver(&self) {
        stop(&self.apiserver);
    }

    /// Starts the API server again on the same address, and waits until it is ready.
    pub fn restart_apiserver(&self) {
        self.start_apiserver();
    }

    /// Starts a second API server on the same etcd (another port), for changes made while
    /// the first is down: a client of the first then misses them and must catch up. Returns
    /// the admin kubeconfig for it.
    pub fn start_second_apiserver(&self) -> PathBuf {
        let child = self.spawn_apiserver(SECOND_APISERVER_PORT, "kube-apiserver-2");
        set(&self.second_apiserver, child);
        let kubeconfig = self.dir.path().join("admin-2.kubeconfig");
        let text = std::fs::read_to_string(self.kubeconfig())
            .expect("admin kubeconfig")
            .replace(
                &format!(":{APISERVER_PORT}"),
                &format!(":{SECOND_APISERVER_PORT}"),
            );
        std::fs::write(&kubeconfig, text).expect("write kubeconfig");
        self.wait_ready("kube-apiserver-2", || {
            self.kubectl_at(&kubeconfig, &["get", "--raw", "/readyz"], "")
                .status
                .success()
        });
        kubeconfig
    }

    /// Stops the second API server.
    pub fn stop_second_apiserver(&self) {
        stop(&self.second_apiserver);
    }

    /// Compacts etcd's history up to its current revision, so watches that resume from an
    /// older resourceVersion get 410 Gone (through etcd's JSON gateway, with curl).
    pub fn compact_etcd(&self) {
        let base = format!("http://{}:{ETCD_CLIENT_PORT}/v3", self.address);
        let post = |path: &str, body: &str| {
            let output = Command::new("curl")
                .args(["-sf", "-X", "POST", "-d", body, &format!("{base}/{path}")])
                .output()
                .expect("run curl");
            assert!(output.status.success(), "etcd {path}: {output:?}");
            String::from_utf8_lossy(&output.stdout).into_owned()
        };
        let status = post("maintenance/status", "{}");
        let revision = status
            .split("\"revision\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no revision in etcd's status: {status}"))
            .to_owned();
        post(
            "kv/compaction",
            &format!("{{\"revision\":\"{revision}\",\"physical\":true}}"),
        );
    }

    /// The process ID of a running component (`etcd`, `kube-apiserver`,
    /// `kube-controller-manager`), for reading its cost from /proc.
    pub fn pid(&self, component: &str) -> Option<u32> {
        let slot = match component {
            "etcd" => &self.etcd,
            "kube-apiserver" => &self.apiserver,
            "kube-controller-manager" => &self.controller_manager,
            _ => return None,
        };
        slot.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(Child::id)
    }

    /// The log a component wrote (`etcd`, `kube-apiserver`, `kube-controller-manager`).
    pub fn log(&self, component: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{component}.log")))
            .unwrap_or_default()
    }

    fn start_etcd(&self) {
        let a = self.address;
        let data = self.dir.path().join("etcd-data");
        let child = self.spawn(
            "etcd",
            &[
                "--name=test".into(),
                format!("--data-dir={}", data.display()),
                format!("--listen-client-urls=http://{a}:{ETCD_CLIENT_PORT}"),
                format!("--advertise-client-urls=http://{a}:{ETCD_CLIENT_PORT}"),
                format!("--listen-peer-urls=http://{a}:{ETCD_PEER_PORT}"),
                format!("--initial-advertise-peer-urls=http://{a}:{ETCD_PEER_PORT}"),
                format!("--initial-cluster=test=http://{a}:{ETCD_PEER_PORT}"),
                "--log-level=warn".into(),
                // Tests write little; a small backend and no fsync keep them quick.
                "--unsafe-no-fsync".into(),
                "--quota-backend-bytes=1073741824".into(),
            ],
        );
        set(&self.etcd, child);
        let health = format!("http://{a}:{ETCD_CLIENT_PORT}/health");
        self.wait_ready("etcd", || answers_ok(&health));
    }

    fn start_apiserver(&self) {
        let child = self.spawn_apiserver(APISERVER_PORT, "kube-apiserver");
        set(&self.apiserver, child);
        self.wait_ready("kube-apiserver", || {
            self.kubectl(&["get", "--raw", "/readyz"]).status.success()
        });
    }

    fn spawn_apiserver(&self, port: u16, log: &str) -> Child {
        let a = self.address;
        let d = self.dir.path().display().to_string();
        self.spawn_logged(
            "kube-apiserver",
            log,
            &[
                format!("--etcd-servers=http://{a}:{ETCD_CLIENT_PORT}"),
                format!("--bind-address={a}"),
                format!("--advertise-address={a}"),
                format!("--secure-port={port}"),
                format!("--tls-cert-file={d}/apiserver.crt"),
                format!("--tls-private-key-file={d}/apiserver.key"),
                format!("--client-ca-file={d}/ca.crt"),
                format!("--service-account-key-file={d}/service-account.pub"),
                format!("--service-account-signing-key-file={d}/service-account.key"),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                "--authorization-mode=Node,RBAC".into(),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
                "--allow-privileged=true".into(),
                // No kube-proxy or kubelet: nothing needs the kubernetes Service's endpoints
                // to be reconciled against a real network.
                "--endpoint-reconciler-type=none".into(),
                format!("--cert-dir={d}/apiserver-certs-{port}"),
                "--v=1".into(),
            ],
        )
    }

    fn start_controller_manager(&self) {
        let a = self.address;
        let d = self.dir.path().display().to_string();
        let child = self.spawn(
            "kube-controller-manager",
            &[
                // No --authentication-kubeconfig: with it, the controller manager logs a missing
                // request-header CA bundle over and over; its /healthz answers without.
                format!("--kubeconfig={d}/admin.kubeconfig"),
                format!("--bind-address={a}"),
                format!("--secure-port={CONTROLLER_MANAGER_PORT}"),
                format!("--cert-dir={d}/controller-manager-certs"),
                format!("--service-account-private-key-file={d}/service-account.key"),
                format!("--root-ca-file={d}/ca.crt"),
                "--controllers=endpointslice-controller,endpointslice-mirroring-controller,serviceaccount-controller,serviceaccount-token-controller,namespace-controller,garbage-collector-controller,node-ipam-controller".into(),
                "--allocate-node-cidrs=true".into(),
                format!("--cluster-cidr={CLUSTER_CIDR}"),
                "--node-cidr-mask-size=24".into(),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
                "--leader-elect=false".into(),
                "--v=1".into(),
            ],
        );
        set(&self.controller_manager, child);
        let healthz = format!("https://{a}:{CONTROLLER_MANAGER_PORT}/healthz");
        self.wait_ready("kube-controller-manager", || answers_ok(&healthz));
    }

    fn spawn(&self, component: &str, args: &[String]) -> Child {
        self.spawn_logged(component, component, args)
    }

    /// Starts binary `component`, its output going to `<log>.log`.
    fn spawn_logged(&self, component: &str, log: &str, args: &[String]) -> Child {
        let log = std::fs::File::create(self.dir.path().join(format!("{log}.log")))
            .expect("create a component log");
        Command::new(self.bin.join(component))
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {component}: {e}"))
    }

    fn wait_ready(&self, component: &str, ready: impl Fn() -> bool) {
        let started = Instant::now();
        while started.elapsed() < READY_WITHIN {
            if ready() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{component} was not ready after {READY_WITHIN:?}; its log:\n{}",
            self.log(component)
        );
    }

    /// A shell that waits for this test process to end, then kills every component (each
    /// has `=<dir>/` in its arguments, restarted ones too; the pattern's `[=]` keeps the shell
    /// from matching itself) and removes the files (the path is ours, made by tempfile).
    fn spawn_watchdog(&self) -> Child {
        let script = format!(
            "while kill -0 {parent} 2>/dev/null; do sleep 1; done; pkill -9 -f '[=]{dir}/'; rm -rf '{dir}'",
            parent = std::process::id(),
            dir = self.dir.path().display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the watchdog")
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        stop(&self.controller_manager);
        stop(&self.second_apiserver);
        stop(&self.apiserver);
        stop(&self.etcd);
        stop(&self.watchdog);
    }
}

/// Whether `url` answers 2xx within 2 s (curl; a component's own serving certificate is not
/// checked).
fn answers_ok(url: &str) -> bool {
    Command::new("curl")
        .args(["-skf", "--max-time", "2", url])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn set(slot: &Running, child: Child) {
    let old = slot
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .replace(child);
    assert!(old.is_none(), "a component was started twice");
}

fn stop(slot: &Running) {
    let child = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(mut child) = child {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `127.x.y.z` from `pid` and `instance` (0..4): PIDs are below 2^22 (Linux's `pid_max`
/// limit), so the 24 host bits hold both and no two live processes share an address. A test
/// process never has one of the first PIDs (init, kernel threads), so the address is never
/// 127.0.0.x, which other tests and users of loopback take.
fn own_address(pid: u32, instance: u32) -> Ipv4Addr {
    assert!(
        (64..(1 << 22) - 1).contains(&pid),
        "PID {pid} out of the range addresses are made for"
    );
    Ipv4Addr::from(0x7f00_0000 | (pid << 2) | (instance & 3))
}

/// The folder `tests/control-plane/build.sh` printed (it builds once, then reuses its cache).
fn binaries() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/control-plane/build.sh");
        let output = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .expect("run tests/control-plane/build.sh");
        assert!(
            output.status.success(),
            "tests/control-plane/build.sh failed (it needs Go and the Go module proxy)"
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout
            .lines()
            .last()
            .expect("build.sh prints its folder last");
        PathBuf::from(last.trim())
    })
    .clone()
}

/// The CA, the API server's serving certificate, the service-account key pair, an admin
/// client certificate and its kubeconfig, in `dir`.
fn write_certificates(dir: &Path, address: Ipv4Addr) {
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("write");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "portcullis-test-control-plane");
    let ca_pem = ca.self_signed(&ca_key).expect("CA").pem();
    let issuer = Issuer::new(ca, ca_key);
    write("ca.crt", &ca_pem);

    let serving_key = KeyPair::generate().expect("key");
    let mut serving = CertificateParams::new(vec![
        address.to_string(),
        "127.0.0.1".into(),
        "localhost".into(),
        "kubernetes".into(),
        "kubernetes.default".into(),
        "kubernetes.default.svc".into(),
        "10.96.0.1".into(),
    ])
    .expect("params");
    serving
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving = serving
        .signed_by(&serving_key, &issuer)
        .expect("serving cert");
    write("apiserver.crt", &serving.pem());
    write("apiserver.key", &serving_key.serialize_pem());

    let account_key = KeyPair::generate().expect("key");
    write("service-account.key", &account_key.serialize_pem());
    write("service-account.pub", &account_key.public_key_pem());

    let admin_key = KeyPair::generate().expect("key");
    let mut admin = CertificateParams::new(Vec::<String>::new()).expect("params");
    admin.distinguished_name.push(DnType::CommonName, "admin");
    admin
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin = admin.signed_by(&admin_key, &issuer).expect("admin cert");
    write("admin.crt", &admin.pem());
    write("admin.key", &admin_key.serialize_pem());
    let d = dir.display();
    write(
        "admin.kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: https://{address}:{APISERVER_PORT}\n    certificate-authority: {d}/ca.crt\nusers:\n- name: admin\n  user:\n    client-certificate: {d}/admin.crt\n    client-key: {d}/admin.key\ncontexts:\n- name: test\n  context: {{cluster: test, user: admin}}\ncurrent-context: test\n"
        ),
    );
}

impl ControlPlane {
    /// An admin kubeconfig for reaching the API server from inside network namespace `netns`
    /// (a node's, whose loopback is its own): a forwarder listens on 127.0.0.1 there and
    /// carries each connection, TLS and all, to the API server from this namespace.
    pub fn kubeconfig_inside(&self, netns: &crate::netns::Netns) -> PathBuf {
        self.forward_inside(netns, &self.kubeconfig())
    }

    /// `kubeconfig` (for this control plane) made to work inside `netns`, as
    /// [`ControlPlane::kubeconfig_inside`] does for the admin's.
    pub fn forward_inside(&self, netns: &crate::netns::Netns, kubeconfig: &Path) -> PathBuf {
        let listener = netns.run(|| {
            std::net::TcpListener::bind("127.0.0.1:0").expect("listen inside the namespace")
        });
        let port = listener.local_addr().expect("address").port();
        let upstream = std::net::SocketAddr::from((self.address, APISERVER_PORT));
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = std::net::TcpStream::connect(upstream) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("clone"),
                        server.try_clone().expect("clone"),
                    ),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        let name = kubeconfig
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("kubeconfig");
        let inside = self
            .dir
            .path()
            .join(format!("inside-{}-{name}", netns.name()));
        let text = std::fs::read_to_string(kubeconfig)
            .expect("kubeconfig")
            .replace(
                &format!("https://{}:{APISERVER_PORT}", self.address),
                &format!("https://127.0.0.1:{port}"),
            );
        std::fs::write(&inside, text).expect("write kubeconfig");
        inside
    }
}

/// A kubeconfig for ServiceAccount `account` of `namespace`, with a token the API server
/// issued (`kubectl create token`), written to `path`.
pub fn service_account_kubeconfig(
    plane: &ControlPlane,
    namespace: &str,
    account: &str,
    path: &Path,
) {
    let token = plane.kubectl_ok(&["create", "token", account, "-n", namespace, "--duration=2h"]);
    let ca = plane.dir.path().join("ca.crt");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: {account}\n  user:\n    token: {}\ncontexts:\n- name: test\n  context: {{cluster: test, user: {account}, namespace: {namespace}}}\ncurrent-context: test\n",
        plane.server(),
        ca.display(),
        token.trim()
    );
    std::fs::write(path, text).expect("write kubeconfig");
}

/// The upstream Gateway API v1.6.1 Standard CRDs: `../shared/` beside the checkout where the
/// project keeps them, else the `sigs.k8s.io/gateway-api` Go module (the same files).
pub fn gateway_api_crds() -> std::path::PathBuf {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/gateway-api-v1.6.1-standard");
    if shared.exists() {
        return shared;
    }
    let output = std::process::Command::new("go")
        .args(["mod", "download", "-json", "sigs.k8s.io/gateway-api@v1.6.1"])
        .env("GOFLAGS", "-mod=mod")
        .output()
        .expect("go, for the Gateway API module");
    let text = String::from_utf8_lossy(&output.stdout);
    let dir = text
        .split("\"Dir\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| {
            panic!(
                "go mod download: {text} {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    std::path::Path::new(dir).join("config/crd/standard")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_the_processs_own_and_never_127_0_0_1() {
        assert_eq!(own_address(4_194_302, 1), Ipv4Addr::new(127, 255, 255, 249));
        assert_ne!(own_address(1234, 0), own_address(1234, 1));
        assert_ne!(own_address(1234, 0), own_address(1235, 0));
        assert_eq!(own_address(64, 0), Ipv4Addr::new(127, 0, 1, 0));
    }
}
