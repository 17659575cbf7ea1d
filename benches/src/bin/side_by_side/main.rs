//! Side-by-side proxy benchmark: Portcullis (`--manifests`), nginx, HAProxy and Envoy with
//! equivalent configuration in front of the same backend, plus a "direct" row (load generator
//! straight to the backend) as the ceiling. Proxies run one at a time, pinned to one core;
//! the backend and the load generators share the other.
//!
//! Measures, per proxy: maximum requests/s (closed loop), latency p50/p99/p99.9 at fixed rates
//! (open loop, corrected for coordinated omission), CPU seconds per request, peak RSS; for
//! HTTP/1.1, HTTPS (TLS 1.3) and HTTP/2, bodies of 0 B, 1 KiB and 64 KiB, 1 and 10,000 routes;
//! then Portcullis under route churn. Writes `side-by-side.md` and PNG charts.
//!
//! Run: `cargo run --release -p portcullis-benches --bin side-by-side -- --install` (root, a
//! quiet machine; about 20 minutes; `--quick` checks the harness in about 8).

mod charts;
mod churn;
mod configs;
mod load;
mod report;
mod running;
mod tools;

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Parser;

use configs::{Setup, request_path};
use running::Running;
use tools::Tool;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "Portcullis vs nginx, HAProxy and Envoy on this machine")]
struct Args {
    /// Seconds per measured run.
    #[arg(long, default_value_t = 5)]
    seconds: u32,
    /// Measured runs per point; the report gives medians.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Short runs (1 of 2 s), to check the harness rather than to measure.
    #[arg(long)]
    quick: bool,
    /// Install missing peers and load generators (apt-get, pip, cargo install).
    #[arg(long)]
    install: bool,
    /// Core the proxy runs on.
    #[arg(long, default_value_t = 0)]
    proxy_core: usize,
    /// Core the backend and the load generators run on.
    #[arg(long, default_value_t = 1)]
    load_core: usize,
    /// Folder for the report and charts.
    #[arg(long, default_value = "benches/results")]
    out: PathBuf,
}

/// What runs in front of the backend.
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
    /// As the report names it.
    pub fn name(self) -> &'static str {
        match self {
            Proxy::Direct => "direct",
            Proxy::Portcullis => "Portcullis",
            Proxy::Nginx => "nginx",
            Proxy::Haproxy => "HAProxy",
            Proxy::Envoy => "Envoy",
        }
    }

    /// Its plain and TLS listeners.
    fn ports(self) -> (u16, u16) {
        match self {
            Proxy::Direct => (BACKEND_PORT, 0),
            Proxy::Portcullis => (19210, 19211),
            Proxy::Nginx => (19220, 19221),
            Proxy::Haproxy => (19230, 19231),
            Proxy::Envoy => (19240, 19241),
        }
    }
}

const BACKEND_PORT: u16 = 19200;

/// How requests travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 keep-alive, plain.
    H1,
    /// HTTP/1.1 keep-alive over TLS 1.3.
    Https,
    /// HTTP/2 over TLS 1.3 (ALPN).
    H2,
}

/// One measured situation.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Its row in the report.
    pub name: &'static str,
    /// Its label in charts.
    pub short: &'static str,
    /// Protocol.
    pub protocol: Protocol,
    /// Response body size.
    pub body: usize,
    /// Routes configured.
    pub routes: usize,
}

/// The scenarios, grouped so the backend (body size) and the proxies (routes) restart rarely.
pub const SCENARIOS: [Scenario; 7] = [
    Scenario {
        name: "HTTP/1.1, 0 B",
        short: "h1 0 B",
        protocol: Protocol::H1,
        body: 0,
        routes: 1,
    },
    Scenario {
        name: "HTTPS, 0 B",
        short: "https 0 B",
        protocol: Protocol::Https,
        body: 0,
        routes: 1,
    },
    Scenario {
        name: "HTTP/2, 0 B",
        short: "h2 0 B",
        protocol: Protocol::H2,
        body: 0,
        routes: 1,
    },
    Scenario {
        name: "HTTP/1.1, 0 B, 10,000 routes",
        short: "h1 10k routes",
        protocol: Protocol::H1,
        body: 0,
        routes: 10_000,
    },
    Scenario {
        name: "HTTP/1.1, 1 KiB",
        short: "h1 1 KiB",
        protocol: Protocol::H1,
        body: 1024,
        routes: 1,
    },
    Scenario {
        name: "HTTP/1.1, 64 KiB",
        short: "h1 64 KiB",
        protocol: Protocol::H1,
        body: 65_536,
        routes: 1,
    },
    Scenario {
        name: "HTTPS, 64 KiB",
        short: "https 64 KiB",
        protocol: Protocol::Https,
        body: 65_536,
        routes: 1,
    },
];

/// A closed-loop point: medians over the repeats.
#[derive(Debug, Clone)]
pub struct Throughput {
    /// Requests per second.
    pub rps: f64,
    /// Proxy CPU per request, microseconds (`None` for direct).
    pub cpu_us: Option<f64>,
    /// Failed requests over all repeats.
    pub failed: u64,
}

/// An open-loop point: medians over the repeats.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// The rate, requests/s.
    pub rate: u32,
    /// Percentiles, ms.
    pub p50: f64,
    /// 99th.
    pub p99: f64,
    /// 99.9th.
    pub p999: f64,
    /// Failed requests over all repeats.
    pub failed: u64,
}

/// A proxy's resident memory, bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// After the runs, while still serving.
    pub serving: u64,
    /// The high-water mark.
    pub peak: u64,
}

impl Memory {
    /// Takes in what `running` holds now.
    fn update(&mut self, running: &Running) {
        self.serving = self.serving.max(running.rss());
        self.peak = self.peak.max(running.peak_rss());
    }
}

/// Everything measured.
#[derive(Debug, Default)]
pub struct Results {
    /// (scenario index, proxy) → throughput.
    pub throughput: BTreeMap<(usize, Proxy), Throughput>,
    /// (proxy, routes) → resident memory in bytes after its runs, and its peak (VmHWM,
    /// start-up included).
    pub rss: BTreeMap<(Proxy, usize), Memory>,
    /// proxy → latency at each rate.
    pub latency: BTreeMap<Proxy, Vec<Latency>>,
    /// Portcullis under route churn.
    pub churn: Option<churn::Churn>,
    /// Proxies that could not be measured, and why.
    pub missing: Vec<String>,
    /// Tool → version line.
    pub versions: BTreeMap<String, String>,
}

/// Paths of everything the run needs.
struct Kit {
    root: PathBuf,
    work: tempfile::TempDir,
    tools: BTreeMap<&'static str, PathBuf>,
    portcullis: PathBuf,
    backend: PathBuf,
    cert: Vec<u8>,
    key: Vec<u8>,
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.quick {
        args.seconds = 2;
        args.repeats = 1;
    }
    let kit = prepare(&args)?;
    let mut results = Results::default();
    for tool in Tool::ALL {
        if let Some(path) = kit.tools.get(tool.command()) {
            results
                .versions
                .insert(tool.command().to_string(), tool.version(path));
        }
    }
    let proxies: Vec<Proxy> = [
        Proxy::Portcullis,
        Proxy::Nginx,
        Proxy::Haproxy,
        Proxy::Envoy,
    ]
    .into_iter()
    .filter(|proxy| {
        let needed = match proxy {
            Proxy::Nginx => Some(Tool::Nginx),
            Proxy::Haproxy => Some(Tool::Haproxy),
            Proxy::Envoy => Some(Tool::Envoy),
            _ => None,
        };
        match needed {
            Some(tool) if !kit.tools.contains_key(tool.command()) => {
                results.missing.push(format!(
                    "{}: `{}` not found (install: `{}`, or run with --install)",
                    proxy.name(),
                    tool.command(),
                    tool.install_command()
                ));
                false
            }
            _ => true,
        }
    })
    .collect();
    for missing in &results.missing {
        eprintln!("MISSING {missing}");
    }

    // Closed loop, grouped by backend body size, then routes.
    let mut bodies: Vec<usize> = SCENARIOS.iter().map(|s| s.body).collect();
    bodies.dedup();
    for body in bodies {
        // Runs until the end of this body size's scenarios.
        let _backend = start_backend(&kit, &args, body)?;
        let mut route_counts: Vec<usize> = SCENARIOS
            .iter()
            .filter(|s| s.body == body)
            .map(|s| s.routes)
            .collect();
        route_counts.dedup();
        for routes in route_counts {
            let scenarios: Vec<usize> = (0..SCENARIOS.len())
                .filter(|i| SCENARIOS[*i].body == body && SCENARIOS[*i].routes == routes)
                .collect();
            for index in &scenarios {
                if SCENARIOS[*index].protocol == Protocol::H1 {
                    let point = closed_point(&kit, &args, None, Proxy::Direct, &SCENARIOS[*index])?;
                    results.throughput.insert((*index, Proxy::Direct), point);
                }
            }
            for proxy in &proxies {
                let running = start_proxy(&kit, &args, *proxy, routes)?;
                for index in &scenarios {
                    let scenario = &SCENARIOS[*index];
                    eprintln!("{} / {}", proxy.name(), scenario.name);
                    let point = closed_point(&kit, &args, Some(&running), *proxy, scenario)?;
                    results.throughput.insert((*index, *proxy), point);
                }
                results
                    .rss
                    .entry((*proxy, routes))
                    .or_default()
                    .update(&running);
            }
        }
    }

    // Open loop at 25, 50 and 75% of the slowest proxy's maximum (HTTP/1.1, 0 B, 1 route).
    let slowest = proxies
        .iter()
        .filter_map(|p| results.throughput.get(&(0, *p)))
        .map(|t| t.rps)
        .fold(f64::INFINITY, f64::min);
    if slowest.is_finite() {
        let rates: Vec<u32> = [0.25, 0.5, 0.75]
            .iter()
            .map(|share| (slowest * share).round() as u32)
            .collect();
        let backend = start_backend(&kit, &args, 0)?;
        for proxy in std::iter::once(Proxy::Direct).chain(proxies.iter().copied()) {
            let running = match proxy {
                Proxy::Direct => None,
                _ => Some(start_proxy(&kit, &args, proxy, 1)?),
            };
            let url = url(proxy, Protocol::H1, 1);
            let mut points = Vec::new();
            for rate in &rates {
                eprintln!("{} at {rate} requests/s", proxy.name());
                points.push(open_point(&kit, &args, &url, *rate)?);
            }
            if let Some(running) = running {
                results.rss.entry((proxy, 1)).or_default().update(&running);
            }
            results.latency.insert(proxy, points);
        }
        drop(backend);
    }

    // Route churn under load (Portcullis: changes are files in its manifests folder).
    {
        let backend = start_backend(&kit, &args, 0)?;
        let running = start_proxy(&kit, &args, Proxy::Portcullis, 1)?;
        let seconds = if args.quick { 5 } else { 20 };
        results.churn = Some(churn::measure(
            &kit.tools["wrk"],
            &kit.backend,
            args.load_core,
            &url(Proxy::Portcullis, Protocol::H1, 1),
            &kit.work.path().join("portcullis-1"),
            Proxy::Portcullis.ports().0,
            seconds,
        )?);
        drop(running);
        drop(backend);
    }

    let commit = git(&kit.root, &["rev-parse", "--short", "HEAD"]);
    let dirty = !git(&kit.root, &["status", "--porcelain"]).is_empty();
    results.versions.insert(
        "portcullis".into(),
        format!(
            "{commit}{}",
            if dirty { " (uncommitted changes)" } else { "" }
        ),
    );
    let out = kit.root.join(&args.out);
    fs::create_dir_all(&out)?;
    let configs = example_configs(&kit)?;
    let charts = charts::draw(&results, &out)?;
    let text = report::render(
        &results,
        &report::Method {
            seconds: args.seconds,
            repeats: args.repeats,
            proxy_core: args.proxy_core,
            load_core: args.load_core,
            machine: machine(),
            configs,
            charts,
            quick: args.quick,
        },
    );
    let path = out.join("side-by-side.md");
    fs::write(&path, &text)?;
    println!("{text}");
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Builds the binaries, finds (or installs) the tools, makes the certificate.
fn prepare(args: &Args) -> anyhow::Result<Kit> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the benches crate sits in the workspace")?
        .to_path_buf();
    let status = Command::new("cargo")
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "portcullis-controller",
            "-p",
            "portcullis-examples",
        ])
        .current_dir(&root)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("building portcullis and demo-backend failed");
    }
    let mut tools = BTreeMap::new();
    for tool in Tool::ALL {
        let found = tool.find().or_else(|| {
            (args.install && tool.install())
                .then(|| tool.find())
                .flatten()
        });
        match found {
            Some(path) => {
                tools.insert(tool.command(), path);
            }
            None => eprintln!(
                "{} not found; install with `{}` (or pass --install)",
                tool.command(),
                tool.install_command()
            ),
        }
    }
    for needed in [Tool::Wrk, Tool::H2load, Tool::Oha] {
        if !tools.contains_key(needed.command()) {
            bail!(
                "the load generator {} is missing: install it with `{}` or pass --install",
                needed.command(),
                needed.install_command()
            );
        }
    }
    for command in ["taskset", "curl", "openssl"] {
        if Command::new(command).arg("--version").output().is_err() {
            bail!("{command} is missing (apt-get install util-linux curl openssl)");
        }
    }
    let work = tempfile::tempdir()?;
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "7", "-subj", "/CN=bench.test"])
        .args(["-addext", "subjectAltName=DNS:bench.test"])
        .arg("-keyout")
        .arg(work.path().join("key.pem"))
        .arg("-out")
        .arg(work.path().join("cert.pem"))
        .output()
        .context("cannot run openssl")?
        .status;
    if !status.success() {
        bail!("openssl could not make a certificate");
    }
    let cert = fs::read(work.path().join("cert.pem"))?;
    let key = fs::read(work.path().join("key.pem"))?;
    fs::write(
        work.path().join("cert-and-key.pem"),
        [cert.clone(), key.clone()].concat(),
    )?;
    Ok(Kit {
        portcullis: root.join("target/release/portcullis"),
        backend: root.join("target/release/demo-backend"),
        root,
        work,
        tools,
        cert,
        key,
    })
}

/// Starts the backend answering `body` bytes on the load core; ready when it answers.
fn start_backend(kit: &Kit, args: &Args, body: usize) -> anyhow::Result<Running> {
    let mut backend = Running::start(
        "demo-backend",
        args.load_core,
        &kit.backend,
        &[
            "--listen".into(),
            format!("127.0.0.1:{BACKEND_PORT}"),
            "--body-size".into(),
            body.to_string(),
        ],
        &[],
        &kit.work.path().join("backend.log"),
    )?;
    backend.wait_ready(&format!("http://127.0.0.1:{BACKEND_PORT}/"))?;
    Ok(backend)
}

/// The setup of `proxy` with `routes`, in a folder of its own.
fn setup(kit: &Kit, proxy: Proxy, routes: usize) -> anyhow::Result<Setup> {
    let dir = kit
        .work
        .path()
        .join(format!("{}-{routes}", proxy.name().to_lowercase()));
    fs::create_dir_all(&dir)?;
    let (http, https) = proxy.ports();
    Ok(Setup {
        backend: SocketAddr::from(([127, 0, 0, 1], BACKEND_PORT)),
        http: SocketAddr::from(([127, 0, 0, 1], http)),
        https: SocketAddr::from(([127, 0, 0, 1], https)),
        routes,
        cert: kit.work.path().join("cert.pem"),
        key: kit.work.path().join("key.pem"),
        cert_and_key: kit.work.path().join("cert-and-key.pem"),
        dir,
    })
}

/// Writes the proxy's configuration and starts it on the proxy core; ready when it answers.
fn start_proxy(kit: &Kit, args: &Args, proxy: Proxy, routes: usize) -> anyhow::Result<Running> {
    let setup = setup(kit, proxy, routes)?;
    let dir = &setup.dir;
    let log = dir.join("log");
    let core = args.proxy_core;
    let mut running = match proxy {
        Proxy::Direct => bail!("direct has no proxy"),
        Proxy::Portcullis => {
            let manifests = dir.join("manifests");
            fs::create_dir_all(&manifests)?;
            fs::write(
                manifests.join("bench.yaml"),
                configs::portcullis(&setup, &kit.cert, &kit.key),
            )?;
            Running::start(
                "portcullis",
                core,
                &kit.portcullis,
                &[
                    "ingress".into(),
                    "--manifests".into(),
                    manifests.display().to_string(),
                    "--http-addr".into(),
                    setup.http.to_string(),
                    "--https-addr".into(),
                    setup.https.to_string(),
                    "--admin-addr".into(),
                    "127.0.0.1:19212".into(),
                    "--default-ssl-certificate".into(),
                    "bench/bench-tls".into(),
                ],
                &[("TOKIO_WORKER_THREADS", "1"), ("RUST_LOG", "warn")],
                &log,
            )?
        }
        Proxy::Nginx => {
            let conf = dir.join("nginx.conf");
            fs::write(&conf, configs::nginx(&setup))?;
            Running::start(
                "nginx",
                core,
                &kit.tools["nginx"],
                &[
                    "-c".into(),
                    conf.display().to_string(),
                    "-p".into(),
                    dir.display().to_string(),
                    "-g".into(),
                    "daemon off;".into(),
                ],
                &[],
                &log,
            )?
        }
        Proxy::Haproxy => {
            let cfg = dir.join("haproxy.cfg");
            fs::write(&cfg, configs::haproxy(&setup))?;
            fs::write(
                configs::haproxy_map_path(&setup),
                configs::haproxy_map(&setup),
            )?;
            Running::start(
                "haproxy",
                core,
                &kit.tools["haproxy"],
                &["-f".into(), cfg.display().to_string(), "-db".into()],
                &[],
                &log,
            )?
        }
        Proxy::Envoy => {
            let yaml = dir.join("envoy.yaml");
            fs::write(&yaml, configs::envoy(&setup))?;
            Running::start(
                "envoy",
                core,
                &kit.tools["envoy"],
                &[
                    "-c".into(),
                    yaml.display().to_string(),
                    "--concurrency".into(),
                    "1".into(),
                    "--log-level".into(),
                    "warn".into(),
                    "--base-id".into(),
                    "7".into(),
                ],
                &[],
                &log,
            )?
        }
    };
    running.wait_ready(&url(proxy, Protocol::H1, routes))?;
    running.wait_ready(&url(proxy, Protocol::Https, routes))?;
    Ok(running)
}

/// Where requests go.
fn url(proxy: Proxy, protocol: Protocol, routes: usize) -> String {
    let (http, https) = proxy.ports();
    let path = request_path(routes);
    match protocol {
        Protocol::H1 => format!("http://127.0.0.1:{http}{path}"),
        Protocol::Https | Protocol::H2 => format!("https://127.0.0.1:{https}{path}"),
    }
}

/// Warm-up, then `repeats` closed-loop runs; medians.
fn closed_point(
    kit: &Kit,
    args: &Args,
    running: Option<&Running>,
    proxy: Proxy,
    scenario: &Scenario,
) -> anyhow::Result<Throughput> {
    let url = url(proxy, scenario.protocol, scenario.routes);
    let go = |seconds: u32| match scenario.protocol {
        Protocol::H2 => load::h2load(&kit.tools["h2load"], args.load_core, &url, seconds),
        _ => load::wrk(&kit.tools["wrk"], args.load_core, &url, 50, seconds),
    };
    go(args.seconds.min(2))?;
    let (mut rps, mut cpu, mut failed) = (Vec::new(), Vec::new(), 0);
    for _ in 0..args.repeats {
        let before = running.map(Running::cpu_seconds);
        let run = go(args.seconds)?;
        if let (Some(before), Some(running)) = (before, running) {
            let used = running.cpu_seconds() - before;
            cpu.push(used / run.requests.max(1) as f64 * 1e6);
        }
        rps.push(run.rps);
        failed += run.failed;
    }
    Ok(Throughput {
        rps: median(rps),
        cpu_us: (!cpu.is_empty()).then(|| median(cpu)),
        failed,
    })
}

/// `repeats` open-loop runs at `rate` (after a short one to warm up); medians.
fn open_point(kit: &Kit, args: &Args, url: &str, rate: u32) -> anyhow::Result<Latency> {
    load::oha(&kit.tools["oha"], args.load_core, url, rate, 1)?;
    let mut runs = Vec::new();
    for _ in 0..args.repeats {
        runs.push(load::oha(
            &kit.tools["oha"],
            args.load_core,
            url,
            rate,
            args.seconds,
        )?);
    }
    Ok(Latency {
        rate,
        p50: median(runs.iter().map(|r| r.p50_ms).collect()),
        p99: median(runs.iter().map(|r| r.p99_ms).collect()),
        p999: median(runs.iter().map(|r| r.p999_ms).collect()),
        failed: runs.iter().map(|r| r.failed).sum(),
    })
}

/// The 1-route configurations, for the report (certificate data elided).
fn example_configs(kit: &Kit) -> anyhow::Result<Vec<(String, String)>> {
    let setup = |proxy| setup(kit, proxy, 1);
    Ok(vec![
        ("nginx.conf".into(), configs::nginx(&setup(Proxy::Nginx)?)),
        (
            "haproxy.cfg (+ routes.map: `/ app`)".into(),
            configs::haproxy(&setup(Proxy::Haproxy)?),
        ),
        ("envoy.yaml".into(), configs::envoy(&setup(Proxy::Envoy)?)),
        (
            "Portcullis manifests (certificate data elided)".into(),
            configs::portcullis(&setup(Proxy::Portcullis)?, b"...", b"..."),
        ),
    ])
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn git(root: &Path, args: &[&str]) -> String {
    Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}

/// CPU model, cores, kernel, date.
fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{date}, {cores} cores ({cpu}), Linux {}", kernel.trim())
}
