//! The Kubernetes API source: one watch per kind, feeding the same store as the manifests. The
//! ingress controller and the node agent each pick their own kinds with [`Watches`].
//!
//! Each kind is its own source (`api/Ingress`, ...). A watch's initial list (and every relist
//! after a lost connection) is buffered and sent whole as a `Replace`, so objects deleted while
//! the watch was down disappear too, and readers never see half a list. `Synced` goes out once
//! every kind has completed its first list. Errors are retried with backoff forever: while the
//! API server is unreachable, the proxy keeps serving the last good table.

use std::collections::HashSet;
use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::{self, UnboundedSender};
use tracing::{info, warn};

use crate::objects::Object;
use crate::store::{SourceId, StoreEvent};

/// Why the API source cannot start: configuration the user must fix; a retry will not help.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeSourceError {
    /// `--kubeconfig` cannot be read or used.
    #[error("--kubeconfig {path}: {reason}")]
    Kubeconfig {
        /// The file given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No in-cluster service account and no kubeconfig (`KUBECONFIG`, `~/.kube/config`).
    #[error(
        "no Kubernetes configuration found ({0}); run in a cluster, pass --kubeconfig, \
         or pass --manifests DIR to run without a cluster"
    )]
    NoConfiguration(String),
    /// The client could not be built from the configuration.
    #[error("cannot build a Kubernetes client: {0}")]
    Client(String),
}

/// A client from `--kubeconfig`, else `KUBECONFIG` / `~/.kube/config`, else in-cluster.
pub async fn connect(kubeconfig: Option<&Path>) -> Result<Client, KubeSourceError> {
    let config = match kubeconfig {
        Some(path) => {
            let failed = |reason: String| KubeSourceError::Kubeconfig {
                path: path.display().to_string(),
                reason,
            };
            let file =
                kube::config::Kubeconfig::read_from(path).map_err(|e| failed(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| failed(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| KubeSourceError::NoConfiguration(e.to_string()))?,
    };
    Client::try_from(config).map_err(|e| KubeSourceError::Client(e.to_string()))
}

/// A set of per-kind watches feeding one store, which reports `Synced` once each has listed.
pub struct Watches {
    running: tokio::task::JoinSet<()>,
    events: UnboundedSender<StoreEvent>,
    listed: UnboundedSender<String>,
    first_lists: mpsc::UnboundedReceiver<String>,
}

impl Watches {
    /// No watches yet; each added one sends its events to `events`.
    pub fn new(events: UnboundedSender<StoreEvent>) -> Watches {
        let (listed, first_lists) = mpsc::unbounded_channel();
        Watches {
            running: tokio::task::JoinSet::new(),
            events,
            listed,
            first_lists,
        }
    }

    /// Starts watching one kind; `wrap` turns what the API returns into an [`Object`].
    pub fn add<K>(&mut self, api: Api<K>, config: watcher::Config, wrap: fn(Arc<K>) -> Object)
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        K::DynamicType: Default,
    {
        let kind = K::kind(&K::DynamicType::default()).into_owned();
        self.add_named(kind, api, config, wrap);
    }

    /// Like [`Watches::add`], for kinds without a static type (`DynamicObject`).
    pub fn add_named<K>(
        &mut self,
        kind: String,
        api: Api<K>,
        config: watcher::Config,
        wrap: fn(Arc<K>) -> Object,
    ) where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        self.running.spawn(watch_kind(
            kind,
            api,
            config,
            wrap,
            self.events.clone(),
            self.listed.clone(),
        ));
    }

    /// Watches a custom resource that may not be installed: while its CRD serves none of
    /// `resource.versions` the kind counts as listed and empty (a log line says so), and the
    /// API is asked again every [`CRD_POLL`]; once served, its newest listed version is watched.
    /// `namespace` limits a namespaced kind to one namespace.
    pub fn add_custom(
        &mut self,
        client: Client,
        resource: CustomResource,
        namespace: Option<String>,
        wrap: fn(Arc<DynamicObject>) -> Object,
    ) {
        self.running.spawn(watch_custom_kind(
            client,
            resource,
            namespace,
            wrap,
            self.events.clone(),
            self.listed.clone(),
        ));
    }

    /// Sends `Synced` once every kind has completed its first list, then runs until the
    /// watches end (the receiver is gone).
    pub async fn run(mut self) {
        // Only the watches may keep the list channel open: if they all end early, stop.
        drop(self.listed);
        let kinds = self.running.len();
        let mut done = HashSet::new();
        while done.len() < kinds {
            match self.first_lists.recv().await {
                Some(kind) => {
                    done.insert(kind);
                }
                None => return,
            }
        }
        info!(kinds, "initial lists complete");
        if self.events.send(StoreEvent::Synced).is_err() {
            return;
        }
        while self.running.join_next().await.is_some() {}
    }
}

/// How often the API is asked whether a missing custom resource is installed yet.
pub const CRD_POLL: Duration = Duration::from_secs(5);

/// A custom resource kind, by group, the versions read (preferred first) and plural.
#[derive(Debug, Clone, Copy)]
pub struct CustomResource {
    /// API group.
    pub group: &'static str,
    /// Versions the decoding reads, preferred first.
    pub versions: &'static [&'static str],
    /// `kind`.
    pub kind: &'static str,
    /// Plural resource name.
    pub plural: &'static str,
    /// Namespaced (else cluster-scoped).
    pub namespaced: bool,
}

/// The first of `resource.versions` the API server serves the resource in, if any.
async fn served_version(
    client: &Client,
    resource: &CustomResource,
) -> Result<Option<&'static str>, kube::Error> {
    for version in resource.versions {
        match client
            .list_api_group_resources(&format!("{}/{version}", resource.group))
            .await
        {
            Ok(list) if list.resources.iter().any(|r| r.name == resource.plural) => {
                return Ok(Some(version));
            }
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error),
        }
    }
    Ok(None)
}

/// Waits for a custom resource to be served (counting it as listed and empty meanwhile),
/// then watches it.
async fn watch_custom_kind(
    client: Client,
    resource: CustomResource,
    namespace: Option<String>,
    wrap: fn(Arc<DynamicObject>) -> Object,
    events: UnboundedSender<StoreEvent>,
    listed: UnboundedSender<String>,
) {
    let kind = resource.kind.to_string();
    let mut reported_missing = false;
    loop {
        match served_version(&client, &resource).await {
            Ok(Some(version)) => {
                if reported_missing {
                    info!(kind = %kind, version, "custom resource installed; watching it");
                }
                let api_resource = ApiResource {
                    group: resource.group.to_string(),
                    version: version.to_string(),
                    api_version: format!("{}/{version}", resource.group),
                    kind: kind.clone(),
                    plural: resource.plural.to_string(),
                };
                let api = match (&namespace, resource.namespaced) {
                    (Some(namespace), true) => Api::<DynamicObject>::namespaced_with(
                        client.clone(),
                        namespace,
                        &api_resource,
                    ),
                    _ => Api::<DynamicObject>::all_with(client.clone(), &api_resource),
                };
                watch_kind(kind, api, watcher::Config::default(), wrap, events, listed).await;
                return;
            }
            Ok(None) => {
                if !reported_missing {
                    info!(
                        kind = %kind,
                        group = resource.group,
                        "custom resource not installed; none are served until its CRD is installed (checked every {}s)",
                        CRD_POLL.as_secs()
                    );
                    let source = SourceId(format!("api/{kind}").into());
                    let replaced = events.send(StoreEvent::Replace {
                        source,
                        objects: Vec::new(),
                    });
                    if replaced.is_err() {
                        return;
                    }
                    let _ = listed.send(kind.clone());
                    reported_missing = true;
                }
            }
            Err(error) => {
                warn!(kind = %kind, "cannot ask the API server whether the custom resource is installed: {error}; retrying");
            }
        }
        tokio::time::sleep(CRD_POLL).await;
        if events.is_closed() {
            return;
        }
    }
}

/// An API over all namespaces, or one.
pub fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// One kind's watch, translated into store events.
async fn watch_kind<K>(
    kind: String,
    api: Api<K>,
    config: watcher::Config,
    wrap: fn(Arc<K>) -> Object,
    events: UnboundedSender<StoreEvent>,
    listed: UnboundedSender<String>,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let source = SourceId(format!("api/{kind}").into());
    let mut stream = watcher(api, config).default_backoff().boxed();
    let mut buffer = Vec::new();
    let mut first = true;
    while let Some(event) = stream.next().await {
        let sent = match event {
            Ok(Event::Init) => {
                buffer.clear();
                Ok(())
            }
            Ok(Event::InitApply(object)) => {
                buffer.push(wrap(Arc::new(object)));
                Ok(())
            }
            Ok(Event::InitDone) => {
                let objects = std::mem::take(&mut buffer);
                let count = objects.len();
                let sent = events.send(StoreEvent::Replace {
                    source: source.clone(),
                    objects,
                });
                if first {
                    info!(kind = %kind, count, "listed");
                    let _ = listed.send(kind.clone());
                    first = false;
                }
                sent
            }
            Ok(Event::Apply(object)) => events.send(StoreEvent::Apply {
                source: source.clone(),
                object: wrap(Arc::new(object)),
            }),
            Ok(Event::Delete(object)) => events.send(StoreEvent::Delete {
                source: source.clone(),
                key: wrap(Arc::new(object)).key(),
            }),
            Err(error) => {
                warn!(kind = %kind, "watch failed: {error}; retrying with backoff, serving the last good table");
                Ok(())
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

impl portcullis_fault::Classified for KubeSourceError {
    /// The client configuration is the deployment's.
    fn fault(&self) -> portcullis_fault::Fault {
        portcullis_fault::Fault::Operator
    }

    /// The same configuration fails the same way.
    fn retryable(&self) -> bool {
        false
    }
}
