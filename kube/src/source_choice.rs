//! Where a command's objects come from: `--manifests DIR`, or else the Kubernetes API. Shared
//! by every command, so each offers the same two flags with the same errors.

use std::future::Future;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tokio::sync::mpsc::UnboundedSender;
use tracing::error;

use crate::kube_source::connect;
use crate::manifests::run_manifests_source;
use crate::store::StoreEvent;

/// The chosen source, checked: the folder is readable, or the API client is built.
pub enum Source {
    /// `--manifests DIR`.
    Manifests(PathBuf),
    /// The Kubernetes API.
    Kubernetes(kube::Client),
}

impl Source {
    /// The folder if `manifests` is given, else a client from `kubeconfig` or the usual places.
    pub async fn from_flags(
        manifests: Option<&Path>,
        kubeconfig: Option<&Path>,
    ) -> anyhow::Result<Source> {
        match manifests {
            Some(dir) => {
                let metadata = std::fs::metadata(dir)
                    .with_context(|| format!("--manifests {}: cannot read", dir.display()))?;
                if !metadata.is_dir() {
                    bail!("--manifests {}: not a directory", dir.display());
                }
                Ok(Source::Manifests(dir.to_path_buf()))
            }
            None => Ok(Source::Kubernetes(connect(kubeconfig).await?)),
        }
    }

    /// Starts the source on the runtime, sending into `events`: the folder's watcher, or the
    /// command's own `watch_api` with the client. Returns the source's name for the command's
    /// start line: `manifests DIR`, or `Kubernetes API` followed by `api_scope` if given. If
    /// the folder source stops, its error line ends with `keeping` (what the command goes on
    /// doing).
    pub fn spawn<W, F>(
        self,
        events: UnboundedSender<StoreEvent>,
        watch_api: W,
        api_scope: Option<&str>,
        keeping: &'static str,
    ) -> String
    where
        W: FnOnce(kube::Client, UnboundedSender<StoreEvent>) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        match self {
            Source::Manifests(dir) => {
                let name = format!("manifests {}", dir.display());
                tokio::spawn(async move {
                    if let Err(problem) = run_manifests_source(dir, events).await {
                        error!("manifests source stopped: {problem}; {keeping}");
                    }
                });
                name
            }
            Source::Kubernetes(client) => {
                tokio::spawn(watch_api(client, events));
                match api_scope {
                    Some(scope) => format!("Kubernetes API, {scope}"),
                    None => "Kubernetes API".to_string(),
                }
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}
