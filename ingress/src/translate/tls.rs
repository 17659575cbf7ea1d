//! `spec.tls` → which Secret's certificate answers which SNI name, and which hosts redirect
//! plain HTTP to HTTPS.
//!
//! Ingresses are visited in precedence order (oldest first), so when two of them put different
//! Secrets on one host the older one wins. A `tls` entry without `hosts` covers the hosts of
//! the Ingress's rules. Whether a certificate parses, matches its key and is still valid is
//! checked when the proxy compiles the store; here only the Secret's presence and keys are.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::{Ingress, IngressTLS};
use portcullis_route::host::wildcard_suffix;
use portcullis_route::spec::{CertificateSpec, HostMatch, TlsSpec};

use super::host_name::parse_host;
use portcullis_kube::objects::{Kind, ObjectKey, secret_value};
use portcullis_translation::{Diagnostic, Reason};

/// Turns plain-HTTP redirects off for one Ingress when `"false"`.
pub const SSL_REDIRECT_ANNOTATION: &str = "portcullis.dev/ssl-redirect";
/// The ingress-nginx spelling of the same switch, honoured so migrated Ingresses keep working.
pub const NGINX_SSL_REDIRECT_ANNOTATION: &str = "nginx.ingress.kubernetes.io/ssl-redirect";

/// The certificate chain key of a `kubernetes.io/tls` Secret.
const CERT_KEY: &str = "tls.crt";
/// The private key key of a `kubernetes.io/tls` Secret.
const KEY_KEY: &str = "tls.key";

/// Collects TLS hosts and certificates across Ingresses.
pub(super) struct TlsBuilder<'s> {
    secrets: &'s BTreeMap<(String, String), Arc<Secret>>,
    certificates: Vec<CertificateSpec>,
    by_secret: HashMap<(String, String), Option<usize>>,
    hosts: BTreeMap<HostMatch, (usize, Arc<ObjectKey>)>,
}

impl<'s> TlsBuilder<'s> {
    pub(super) fn new(secrets: &'s BTreeMap<(String, String), Arc<Secret>>) -> Self {
        TlsBuilder {
            secrets,
            certificates: Vec::new(),
            by_secret: HashMap::new(),
            hosts: BTreeMap::new(),
        }
    }

    /// Registers one Ingress's `spec.tls`: which Secret answers which of its hosts.
    pub(super) fn add_ingress(
        &mut self,
        owner: &Arc<ObjectKey>,
        ingress: &Ingress,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let key: &ObjectKey = owner;
        let Some(spec) = ingress.spec.as_ref() else {
            return;
        };
        for (i, entry) in spec.tls.iter().flatten().enumerate() {
            let hosts = entry_hosts(key, ingress, i, entry, diagnostics);
            let Some(secret_name) = entry.secret_name.as_deref().filter(|n| !n.is_empty()) else {
                diagnostics.push(Diagnostic::warning(
                    Reason::InvalidTls,
                    key,
                    format!("spec.tls[{i}].secretName"),
                    "not set; these hosts get the default certificate",
                ));
                continue;
            };
            let field = format!("spec.tls[{i}].secretName");
            let Some(index) = self.certificate(key, secret_name, &field, diagnostics) else {
                continue;
            };
            for host in hosts {
                match self.hosts.get(&host) {
                    Some((existing, holder)) if *existing != index => {
                        diagnostics.push(Diagnostic::warning(
                            Reason::Conflict,
                            key,
                            field.clone(),
                            format!(
                                "host {host} already gets its certificate from {holder}, which is \
                                 older (or sorts first); this Secret is not used for it"
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        self.hosts.insert(host, (index, Arc::clone(owner)));
                    }
                }
            }
        }
    }

    /// The finished spec; `default` is `--default-ssl-certificate`.
    pub(super) fn finish(
        mut self,
        default: Option<&(String, String)>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> TlsSpec {
        let default_certificate = default.and_then(|(namespace, name)| {
            let key = ObjectKey {
                kind: Kind::Secret,
                namespace: namespace.clone(),
                name: name.clone(),
            };
            let before = diagnostics.len();
            let index = self.secret_certificate(namespace, name, diagnostics);
            for diagnostic in &mut diagnostics[before..] {
                diagnostic.message = format!(
                    "--default-ssl-certificate: {}; the self-signed certificate is served instead",
                    diagnostic.message
                );
            }
            if index.is_none() && before == diagnostics.len() {
                diagnostics.push(Diagnostic::error(
 Reason::InvalidTls,
                    &key,
                    "",
                    "--default-ssl-certificate: Secret not found; the self-signed certificate is served instead",
                ));
            }
            index
        });
        TlsSpec {
            certificates: self.certificates,
            hosts: self
                .hosts
                .into_iter()
                .map(|(host, (index, _))| (host, index))
                .collect(),
            default_certificate,
        }
    }

    /// The certificate index of Secret `name` in the Ingress's namespace, or a diagnostic.
    fn certificate(
        &mut self,
        ingress: &ObjectKey,
        name: &str,
        field: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<usize> {
        let namespace = &ingress.namespace;
        let found = self
            .secrets
            .contains_key(&(namespace.clone(), name.to_string()));
        if !found {
            diagnostics.push(Diagnostic::error(
                Reason::InvalidTls,
                ingress,
                field,
                format!(
                    "Secret {namespace}/{name} not found; these hosts get the default certificate"
                ),
            ));
            return None;
        }
        self.secret_certificate(namespace, name, diagnostics)
    }

    /// Reads a Secret's chain and key once, however many Ingresses use it.
    fn secret_certificate(
        &mut self,
        namespace: &str,
        name: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<usize> {
        let id = (namespace.to_string(), name.to_string());
        if let Some(known) = self.by_secret.get(&id) {
            return *known;
        }
        let secret = self.secrets.get(&id)?;
        let key = ObjectKey {
            kind: Kind::Secret,
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        let chain = secret_value(secret, CERT_KEY);
        let private_key = secret_value(secret, KEY_KEY);
        let index = match (chain, private_key) {
            (Some(chain_pem), Some(key_pem)) => {
                self.certificates.push(CertificateSpec {
                    secret: format!("{namespace}/{name}"),
                    chain_pem,
                    key_pem,
                });
                Some(self.certificates.len() - 1)
            }
            (chain, private_key) => {
                for (missing, field) in [
                    (chain.is_none(), CERT_KEY),
                    (private_key.is_none(), KEY_KEY),
                ] {
                    if missing {
                        diagnostics.push(Diagnostic::error(
                            Reason::InvalidTls,
                            &key,
                            format!("data[{field}]"),
                            "missing or empty; hosts using this Secret get the default certificate",
                        ));
                    }
                }
                None
            }
        };
        self.by_secret.insert(id, index);
        index
    }
}

/// The hosts whose plain-HTTP requests for this Ingress's paths redirect to HTTPS: its TLS
/// hosts, unless an annotation turns redirects off. Depends on the Ingress alone (not on
/// Secrets), so it can be cached with the Ingress.
pub(super) fn redirect_hosts(
    key: &ObjectKey,
    ingress: &Ingress,
    diagnostics: &mut Vec<Diagnostic>,
) -> HashSet<HostMatch> {
    let entries = ingress
        .spec
        .iter()
        .flat_map(|spec| spec.tls.iter().flatten());
    let hosts: HashSet<HostMatch> = entries
        .enumerate()
        .flat_map(|(i, entry)| entry_hosts(key, ingress, i, entry, diagnostics))
        .collect();
    if redirects(key, ingress, diagnostics) {
        hosts
    } else {
        HashSet::new()
    }
}

/// The hosts one `spec.tls[i]` entry covers: its own list, or the rules' hosts if it has none.
fn entry_hosts(
    key: &ObjectKey,
    ingress: &Ingress,
    i: usize,
    entry: &IngressTLS,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<HostMatch> {
    match entry.hosts.as_deref() {
        Some(hosts) if !hosts.is_empty() => hosts
            .iter()
            .enumerate()
            .filter_map(|(j, host)| {
                let problem = match parse_host(Some(host)) {
                    Ok(HostMatch::Any) => "empty host".to_string(),
                    Err(why) => why,
                    Ok(host) => return Some(host),
                };
                diagnostics.push(Diagnostic::error(
                    Reason::InvalidTls,
                    key,
                    format!("spec.tls[{i}].hosts[{j}]"),
                    format!("{problem}; host skipped"),
                ));
                None
            })
            .collect(),
        _ => rule_hosts(ingress),
    }
}

/// The hosts of an Ingress's rules, for a `tls` entry that lists none.
fn rule_hosts(ingress: &Ingress) -> Vec<HostMatch> {
    ingress
        .spec
        .iter()
        .flat_map(|spec| spec.rules.iter().flatten())
        .filter_map(|rule| parse_host(rule.host.as_deref()).ok())
        .filter(|host| *host != HostMatch::Any)
        .collect()
}

/// Whether this Ingress redirects plain HTTP on its TLS hosts (the default).
fn redirects(key: &ObjectKey, ingress: &Ingress, diagnostics: &mut Vec<Diagnostic>) -> bool {
    let annotations = ingress.metadata.annotations.as_ref();
    let (name, value) = match [SSL_REDIRECT_ANNOTATION, NGINX_SSL_REDIRECT_ANNOTATION]
        .into_iter()
        .find_map(|name| annotations.and_then(|a| a.get(name)).map(|v| (name, v)))
    {
        Some(found) => found,
        None => return true,
    };
    match value.to_ascii_lowercase().as_str() {
        "true" => true,
        "false" => false,
        _ => {
            diagnostics.push(Diagnostic::warning(
                Reason::InvalidIngress,
                key,
                format!("metadata.annotations[{name}]"),
                format!("{value:?} is neither \"true\" nor \"false\"; redirecting as by default"),
            ));
            true
        }
    }
}

/// True when `host` is one of `tls_hosts`, or a one-label host under one of its wildcards.
pub(super) fn covered(tls_hosts: &HashSet<HostMatch>, host: &HostMatch) -> bool {
    if tls_hosts.contains(host) {
        return true;
    }
    match host {
        HostMatch::Exact(name) => wildcard_suffix(name)
            .is_some_and(|suffix| tls_hosts.contains(&HostMatch::Wildcard(suffix.to_string()))),
        _ => false,
    }
}
