//! Where a command's objects come from: `--manifests DIR`, or else the Kubernetes API. Shared
//! by every command, so each offers the same two flags with the same errors.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::kube_source::connect;

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
