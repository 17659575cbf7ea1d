//! The loads ([`all`]) and how one is measured against each proxy ([`measure`]): the backend
//! started for it, then per proxy: started fresh (limits as an ingress controller ships them),
//! its baseline read, the load put in place while memory is sampled, memory read once it has
//! settled (or over the whole stall), the load closed, memory read again.

use std::net::SocketAddr;
use std::thread::sleep;
use std::time::Duration;

use anyhow::Context;
use portcullis_benches::harness::configs::Tuning;
use portcullis_benches::harness::kit::Kit;
use portcullis_benches::harness::peers::{Peer, Proxy};
use portcullis_benches::harness::running::Running;
use tokio::runtime::Runtime;

use crate::Args;
use crate::h1_clients::{self, Script};
use crate::h2_readers;
use crate::rss::Watch;
use crate::seen::{tally, thousands};

/// What a load does.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Plain HTTP/1.1 connections following a script.
    H1(Script),
    /// Stalled HTTP/2 readers over TLS, each asking for this many streams.
    H2 {
        /// Streams each connection asks for.
        streams: usize,
    },
}

/// One hostile load.
#[derive(Debug, Clone)]
pub struct Load {
    /// Its section title in the report.
    pub title: String,
    /// What the clients do, for the report.
    pub what: String,
    /// Client connections.
    pub connections: usize,
    /// The backend's response body, bytes.
    pub body: usize,
    /// What the clients do.
    pub kind: Kind,
    /// How long the clients may take to put the load in place.
    pub patience: Duration,
    /// How long memory is watched once it is in place.
    pub hold: Duration,
}

/// The loads, in the order they run.
pub fn all(args: &Args) -> Vec<Load> {
    let settle = Duration::from_secs(args.settle);
    let idle = thousands(args.idle as u64);
    let head = args.header_kib * 1024;
    vec![
        Load {
            title: format!("1. {idle} idle connections"),
            what: format!("{idle} TCP connections to the plain HTTP listener that send nothing."),
            connections: args.idle,
            body: 0,
            kind: Kind::H1(Script::Nothing),
            patience: Duration::from_secs(60),
            hold: settle,
        },
        Load {
            title: format!("1b. {idle} idle keep-alive connections"),
            what: format!(
                "{idle} connections that each send one keep-alive `GET /` (0 B answer), read \
                 the answer and go idle."
            ),
            connections: args.idle,
            body: 0,
            kind: Kind::H1(Script::OneRequest),
            patience: Duration::from_secs(60),
            hold: settle,
        },
        Load {
            title: format!(
                "2. {} stalled header writers",
                thousands(args.writers as u64)
            ),
            what: format!(
                "{} connections that each write `GET / HTTP/1.1`, `Host: bench.example` and \
                 `X-Big: ` followed by {} KiB of `a` ({} B of head in all), 16 KiB every \
                 20 ms as far as the kernel takes it, and never end the head. Memory is read \
                 well before any 30 s header timeout.",
                thousands(args.writers as u64),
                args.header_kib,
                thousands(h1_clients::endless_head(head).len() as u64),
            ),
            connections: args.writers,
            body: 0,
            kind: Kind::H1(Script::EndlessHead(h1_clients::endless_head(head))),
            patience: Duration::from_secs(20),
            hold: settle,
        },
        Load {
            title: format!(
                "3. {} stalled HTTP/2 readers",
                thousands(args.h2_connections as u64)
            ),
            what: format!(
                "{} HTTP/2 connections over TLS (h2 by ALPN: nginx 1.22 serves h2c only on a \
                 port without HTTP/1.1, so all peers get TLS) that set their stream and \
                 connection windows to 2^31-1, read the server's SETTINGS, stop reading the \
                 socket and then open up to {} streams each for `GET /` (a {} MiB answer). \
                 Memory is sampled every 250 ms over {} s; \"under load\" is the highest \
                 sample.",
                args.h2_connections, args.streams, args.body_mib, args.h2_seconds
            ),
            connections: args.h2_connections,
            body: args.body_mib * 1024 * 1024,
            kind: Kind::H2 {
                streams: args.streams,
            },
            patience: Duration::from_secs(30),
            hold: Duration::from_secs(args.h2_seconds),
        },
    ]
}

impl Load {
    /// What `--load` names it by: its title's number ("1b").
    pub fn key(&self) -> String {
        self.title
            .split_once('.')
            .map_or(self.title.as_str(), |(key, _)| key)
            .to_string()
    }

    /// Its client connections.
    pub fn connections(&self) -> usize {
        self.connections
    }
}

/// One proxy under one load.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which proxy.
    pub proxy: Proxy,
    /// Its version line (Portcullis: the commit).
    pub version: String,
    /// Its processes while measured.
    pub processes: usize,
    /// VmRSS before the load, bytes.
    pub baseline: u64,
    /// VmRSS with the load in place and settled (stalled HTTP/2: the highest sample), bytes.
    pub under_load: u64,
    /// The higher of VmHWM at the end (the high-water mark of its life, start-up included)
    /// and the highest VmRSS sampled (the kernel's VmHWM can lag behind), bytes.
    pub peak: u64,
    /// VmRSS after the load was closed and had settled, bytes.
    pub after_close: u64,
    /// Connections in place when memory was read, of the load's.
    pub in_place: usize,
    /// What the clients saw.
    pub observed: String,
}

/// A load and each proxy's row.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The load.
    pub load: Load,
    /// One row per proxy, in table order.
    pub rows: Vec<Row>,
}

/// Runs `load` against each of `proxies` in turn, each started fresh; the backend serves the
/// load's body.
pub fn measure(
    kit: &Kit,
    args: &Args,
    runtime: &Runtime,
    load: &Load,
    proxies: &[&Peer],
) -> anyhow::Result<Measured> {
    let _backend = kit.start_backend(args.load_core, load.body)?;
    let tls = h2_readers::connector(&kit.cert)?;
    let mut rows = Vec::new();
    for peer in proxies {
        eprintln!("{} / {}", load.title, peer.name);
        let running = peer
            .start_tuned(kit, args.proxy_core, 1, false, Tuning::IngressDefaults)?
            .with_context(|| format!("{} runs no process", peer.name))?;
        sleep(Duration::from_secs(1));
        let baseline = running.rss();
        let applied = runtime.block_on(apply(load, peer, &running, &tls))?;
        let processes = running.processes();
        sleep(Duration::from_secs(args.settle));
        rows.push(Row {
            proxy: peer.proxy,
            version: peer.version(kit).map(|(_, line)| line).unwrap_or_default(),
            processes,
            baseline,
            under_load: applied.under_load,
            peak: running.peak_rss().max(applied.highest),
            after_close: running.rss(),
            in_place: applied.in_place,
            observed: applied.observed,
        });
    }
    Ok(Measured {
        load: load.clone(),
        rows,
    })
}

/// What putting a load in place showed.
struct Applied {
    /// VmRSS under load, bytes.
    under_load: u64,
    /// The highest VmRSS sampled, bytes.
    highest: u64,
    /// Connections in place when memory was read.
    in_place: usize,
    /// What the clients saw.
    observed: String,
}

/// Puts `load` in place against `peer`, reads memory, closes it.
async fn apply(
    load: &Load,
    peer: &Peer,
    running: &Running,
    tls: &tokio_rustls::TlsConnector,
) -> anyhow::Result<Applied> {
    let mut watch = Watch::new(running);
    match &load.kind {
        Kind::H1(script) => {
            let addr = SocketAddr::from(([127, 0, 0, 1], peer.http));
            let held = watch
                .during(h1_clients::open(
                    addr,
                    load.connections,
                    script.clone(),
                    load.patience,
                ))
                .await;
            watch.over(load.hold).await;
            let under_load = watch.sample();
            let in_place = held.in_place;
            let seen = held.close().await?;
            Ok(Applied {
                under_load,
                highest: watch.highest(),
                in_place,
                observed: tally(&seen),
            })
        }
        Kind::H2 { streams } => {
            let https = peer
                .https()
                .with_context(|| format!("{} has no TLS listener", peer.name))?;
            let addr = SocketAddr::from(([127, 0, 0, 1], https));
            let held = watch
                .during(h2_readers::open(addr, tls, load.connections, *streams, "/"))
                .await;
            watch.over(load.hold).await;
            let in_place = held
                .asked
                .iter()
                .filter(|a| matches!(a, h2_readers::Asked::Opened { .. }))
                .count();
            let observed = h2_readers::tally(&held.asked, *streams);
            held.close();
            // Let the aborted drivers drop their connections.
            tokio::task::yield_now().await;
            Ok(Applied {
                under_load: watch.highest(),
                highest: watch.highest(),
                in_place,
                observed,
            })
        }
    }
}

/// The configurations this benchmark changes from side-by-side's (nginx's and HAProxy's),
/// certificate data elided: (title, text).
pub fn configs(kit: &Kit) -> anyhow::Result<Vec<(String, String)>> {
    [Proxy::Nginx, Proxy::Haproxy]
        .into_iter()
        .map(|proxy| {
            let peer = proxy.peer();
            let process = peer
                .process
                .as_ref()
                .with_context(|| format!("{} runs no process", peer.name))?;
            let setup = peer.setup_tuned(kit, 1, false, Tuning::IngressDefaults)?;
            let plan = (process.plan)(&setup, b"...", b"...");
            let (path, text) = plan
                .files
                .into_iter()
                .next()
                .with_context(|| format!("{} has no configuration file", peer.name))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, text))
        })
        .collect()
}
