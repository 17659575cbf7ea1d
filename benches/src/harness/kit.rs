//! What the run needs before it measures anything: the Portcullis and backend binaries built,
//! every tool found (or installed), a certificate; and the backend started from them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::harness::peers::{PEERS, Peer};
use crate::harness::running::Running;
use crate::harness::tools::Tool;

/// The backend's port (direct's listener).
pub const BACKEND_PORT: u16 = 19200;

/// The port of side-by-side's second backend (its route churn); here so that the peers'
/// table test sees every port the harness binds.
pub const CHURN_BACKEND_PORT: u16 = 19201;

/// Paths of everything the run needs.
pub struct Kit {
    /// The workspace.
    pub root: PathBuf,
    /// Configurations, logs and the certificate; removed at the end.
    pub work: tempfile::TempDir,
    /// Command → path of each tool found.
    pub tools: BTreeMap<&'static str, PathBuf>,
    /// The Portcullis binary (release build).
    pub portcullis: PathBuf,
    /// The demo backend binary (release build).
    pub backend: PathBuf,
    /// The certificate, PEM.
    pub cert: Vec<u8>,
    /// Its key, PEM.
    pub key: Vec<u8>,
}

/// Every tool a run may use: the peers' (in table order), then its `load_generators`.
pub fn all_tools(load_generators: &[Tool]) -> impl Iterator<Item = &Tool> {
    PEERS
        .iter()
        .filter_map(Peer::tool)
        .chain(load_generators.iter())
}

/// Builds the binaries, finds (or, with `install`, installs) the peers' tools and the
/// `load_generators` the run cannot go without, makes the certificate.
pub fn prepare(install: bool, load_generators: &[Tool]) -> anyhow::Result<Kit> {
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
            "portcullis",
            "-p",
            "portcullis-examples",
            // The same packages as the README's build command, so cargo unifies the same
            // features and reuses its artifacts instead of rebuilding for minutes.
            "-p",
            "portcullis-benches",
        ])
        .current_dir(&root)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("building portcullis and demo-backend failed");
    }
    let mut tools = BTreeMap::new();
    for tool in all_tools(load_generators) {
        let found = tool
            .find()
            .or_else(|| (install && tool.install()).then(|| tool.find()).flatten());
        match found {
            Some(path) => {
                tools.insert(tool.command, path);
            }
            None => eprintln!(
                "{} not found; install with `{}` (or pass --install)",
                tool.command, tool.install
            ),
        }
    }
    for needed in load_generators {
        if !tools.contains_key(needed.command) {
            bail!(
                "the load generator {} is missing: install it with `{}` or pass --install",
                needed.command,
                needed.install
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

impl Kit {
    /// Where `tool` is; an error if it was not found.
    pub fn tool(&self, tool: &Tool) -> anyhow::Result<&Path> {
        self.tools
            .get(tool.command)
            .map(PathBuf::as_path)
            .with_context(|| format!("`{}` was not found", tool.command))
    }

    /// Starts the backend answering `body` bytes on `core`; ready when it answers.
    pub fn start_backend(&self, core: usize, body: usize) -> anyhow::Result<Running> {
        let mut backend = Running::start(
            "demo-backend",
            core,
            &self.backend,
            &[
                "--listen".into(),
                format!("127.0.0.1:{BACKEND_PORT}"),
                "--body-size".into(),
                body.to_string(),
            ],
            &[],
            &self.work.path().join("backend.log"),
        )?;
        backend.wait_ready(&format!("http://127.0.0.1:{BACKEND_PORT}/"))?;
        Ok(backend)
    }
}
