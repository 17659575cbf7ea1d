//! Kubernetes objects → routing table: one pure function, no IO, no clock, no tokio.
//!
//! [`translate`] reads a [`Snapshot`] and returns the [`TableSpec`] the proxy will serve plus
//! every problem found, each naming the object and the field. A broken object never stops the
//! rest of the table from being built: the broken part is skipped or answers 503.

mod annotations;
mod class;
mod fragment;
mod host_name;
mod merge;
mod small_set;
mod status;
mod tls;
mod translator;

pub use annotations::ANNOTATION_PREFIXES;
pub use annotations::catalogue::{Support, support as annotation_support};
pub use class::{ClassIdentity, DEFAULT_CLASS_ANNOTATION, LEGACY_CLASS_ANNOTATION};
pub use portcullis_translation::{BackendProblem, PortRef};
pub use portcullis_translation::{Diagnostic, Reason, Severity};
pub use status::{StatusSource, StatusUpdate, published_addresses, status_updates};
pub use tls::{NGINX_SSL_REDIRECT_ANNOTATION, SSL_REDIRECT_ANNOTATION};
pub use translator::Translator;

use std::sync::Arc;

use portcullis_route::spec::{TableSpec, TlsSpec};

use portcullis_kube::objects::ObjectKey;
use portcullis_kube::store::Snapshot;

/// What the translation needs besides the objects: who we are and the fallback Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateConfig {
    /// Our class name and controller value.
    pub class: ClassIdentity,
    /// `--default-backend-service`: answers what no Ingress claims, instead of the built-in 404.
    pub default_backend_service: Option<ServiceRef>,
    /// Set when an HTTPS listener runs: read `spec.tls`, redirect plain HTTP on TLS hosts.
    pub tls: Option<TlsConfig>,
    /// Request bodies longer than this get 413 where no `proxy-body-size` says otherwise
    /// (`--default-body-size`; 1 MiB, ingress-nginx's default, when serving the `nginx`
    /// class); `None` is no limit.
    pub default_body_size: Option<u64>,
}

/// TLS settings of the translation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// `--default-ssl-certificate`: the Secret for no SNI or an unknown name.
    pub default_certificate: Option<NamespacedName>,
}

/// An object named on the command line as `NAMESPACE/NAME` (a Secret, a Service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacedName {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// A Service (and optionally a port) named on the command line as `NS/NAME` or `NS/NAME:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Port number or name; `None` means the Service's first port.
    pub port: Option<PortRef>,
}

/// The result of one translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// The table to serve.
    pub spec: TableSpec,
    /// Certificates by SNI name (empty without an HTTPS listener). Shared: it is rebuilt
    /// only when a Secret or an Ingress with `spec.tls` changes.
    pub tls: Arc<TlsSpec>,
    /// Problems found, sorted, each naming the object and field.
    pub diagnostics: Vec<Diagnostic>,
    /// The Ingresses of our class in precedence order (oldest first, then namespace/name):
    /// the ones whose status this controller owns.
    pub ingresses: Arc<[ObjectKey]>,
}

/// Parses an nginx size (`8m`, `512k`, `1g`, bytes); `0` is `None`, no limit.
pub fn parse_size(text: &str) -> Result<Option<u64>, String> {
    annotations::parse_size(text)
}

/// Builds the routing table for a snapshot. Pure and deterministic: the same snapshot and
/// config always give the same table and the same diagnostics. A long-running caller keeps a
/// [`Translator`] instead and pays only for what changed.
pub fn translate(snapshot: &Snapshot, config: &TranslateConfig) -> Translation {
    Translator::new(config.clone()).update(snapshot, &[])
}

impl std::str::FromStr for ServiceRef {
    type Err = String;

    /// Parses `NS/NAME` or `NS/NAME:PORT` (PORT a number or a port name).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (namespace, rest) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?}: expected NAMESPACE/NAME or NAMESPACE/NAME:PORT"))?;
        let (name, port) = match rest.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (rest, None),
        };
        if namespace.is_empty() || name.is_empty() || port == Some("") {
            return Err(format!(
                "{text:?}: expected NAMESPACE/NAME or NAMESPACE/NAME:PORT"
            ));
        }
        Ok(ServiceRef {
            namespace: namespace.to_string(),
            name: name.to_string(),
            port: port.map(|p| match p.parse::<i32>() {
                Ok(number) => PortRef::Number(number),
                Err(_) => PortRef::Name(p.to_string()),
            }),
        })
    }
}

impl std::str::FromStr for NamespacedName {
    type Err = String;

    /// Parses `NAMESPACE/NAME`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('/') {
            Some((namespace, name))
                if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
            {
                Ok(NamespacedName {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                })
            }
            _ => Err(format!("{text:?}: expected NAMESPACE/NAME")),
        }
    }
}
