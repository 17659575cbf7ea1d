//! `portcullis migrate-check`: reads the Ingresses (from `--manifests DIR` or the cluster) and
//! optionally an ingress-nginx ConfigMap, and prints what Portcullis would do with every
//! annotation and setting. Exit code 0 when nothing is unsupported, invalid or failing closed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use k8s_openapi::api::core::v1::ConfigMap;
use portcullis_kube::event_batches::next_batch;
use portcullis_kube::source_choice::Source;
use portcullis_kube::store::Store;

use crate::api_watches::run_kube_source;
use crate::migration::migration_report;
use crate::translate::{ClassIdentity, TranslateConfig};

/// Flags of `portcullis migrate-check`.
#[derive(Debug, Clone, Args)]
pub struct MigrateCheckArgs {
    /// Read Kubernetes objects from the YAML/JSON files in DIR instead of the cluster.
    #[arg(long, value_name = "DIR")]
    pub manifests: Option<PathBuf>,

    /// Kubernetes client configuration when reading the cluster.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// An ingress-nginx ConfigMap as YAML (`kubectl get configmap -n ingress-nginx
    /// ingress-nginx-controller -o yaml`): its keys are checked too.
    #[arg(long, value_name = "FILE")]
    pub configmap: Option<PathBuf>,

    /// The class whose Ingresses are checked (legacy annotation value).
    #[arg(long, default_value = "nginx")]
    pub ingress_class: String,

    /// The IngressClass controller whose Ingresses are checked.
    #[arg(long, default_value = "k8s.io/ingress-nginx")]
    pub controller_name: String,

    /// `table` for people, `json` for tools.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// One line per annotation, grouped by Ingress.
    Table,
    /// One JSON object.
    Json,
}

/// Runs the check; `Ok(true)` when the migration can go ahead.
pub async fn run_migrate_check(args: MigrateCheckArgs) -> anyhow::Result<bool> {
    let configmap = match &args.configmap {
        Some(path) => Some(read_configmap(path)?),
        None => None,
    };
    let snapshot = load(&args).await?;
    let config = TranslateConfig {
        class: ClassIdentity {
            ingress_class: args.ingress_class.clone(),
            controller_name: args.controller_name.clone(),
        },
        default_backend_service: None,
        default_body_size: None,
        tls: None,
    };
    let report = migration_report(&snapshot, &config, configmap.as_ref());
    match args.output {
        Output::Table => print!("{report}"),
        Output::Json => println!("{:#}", report.to_json()),
    }
    Ok(report.passes())
}

/// Every object of the source, once its initial state is complete.
async fn load(args: &MigrateCheckArgs) -> anyhow::Result<portcullis_kube::store::Snapshot> {
    let source = Source::from_flags(args.manifests.as_deref(), args.kubeconfig.as_deref()).await?;
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    source.spawn(
        events,
        |client, events| run_kube_source(client, None, events),
        None,
        "the report is incomplete",
    );
    let mut store = Store::default();
    let loaded = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(batch) = next_batch(&mut received, &mut store).await {
            if batch.synced {
                return true;
            }
        }
        false
    })
    .await;
    match loaded {
        Ok(true) => Ok(store.snapshot().0.clone()),
        Ok(false) => bail!("the source stopped before listing everything (see the log above)"),
        Err(_) => bail!("listing the objects took longer than 60 s; is the API server reachable?"),
    }
}

fn read_configmap(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--configmap {}: cannot read", path.display()))?;
    let configmap: ConfigMap = serde_yaml_ng::from_str(&text)
        .with_context(|| format!("--configmap {}: not a ConfigMap", path.display()))?;
    Ok(configmap.data.unwrap_or_default())
}
