//! BackendTLSPolicies settled: which policy verifies each Service (or Service port), with what
//! CA certificates and names, or why its backends must fail (never fall back to unverified or
//! plain connections), and each policy's own conditions.

use std::collections::BTreeMap;
use std::sync::Arc;

use portcullis_kube::objects::gateway_api::BackendTlsPolicy;
use portcullis_kube::objects::{Kind, ObjectKey};
use portcullis_kube::slim::CA_CERTIFICATE_KEY;
use portcullis_kube::store::Snapshot;
use portcullis_route::spec::BackendTls;
use portcullis_translation::{Diagnostic, Reason};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::Condition;
use crate::hostname::Hostname;

/// What a policy does to the backends it targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyUse {
    /// Verified TLS.
    Verify(Arc<BackendTls>),
    /// The policy cannot be honoured: its backends answer 500 for this reason.
    Refused(String),
}

/// One policy's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyState {
    /// The policy.
    pub policy: ObjectKey,
    /// `metadata.generation`.
    pub generation: i64,
    /// `Accepted`.
    pub accepted: Condition,
    /// `ResolvedRefs`.
    pub resolved_refs: Condition,
    /// The Gateways (namespace, name) whose attached routes reach a Service it targets: its
    /// `status.ancestors`.
    pub ancestors: Vec<(String, String)>,
    /// The Services (namespace, name) it targets.
    pub targets: Vec<(String, String)>,
}

/// A winning policy for one Service: the port it names (`None`: all), the policy, its use.
type PortPolicy = (Option<String>, ObjectKey, PolicyUse);

/// Every policy, settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendTlsBook {
    /// By (namespace, Service): the winning policy per `sectionName` (`None`: every port).
    targets: BTreeMap<(String, String), Vec<PortPolicy>>,
    /// Each policy's conditions, by key.
    pub states: Vec<PolicyState>,
    /// Problems found, naming policy and field.
    pub diagnostics: Vec<Diagnostic>,
    /// The ConfigMaps (namespace, name) the policies read.
    pub config_maps: Vec<(String, String)>,
}

impl BackendTlsBook {
    /// The policy for Service `name` in `namespace` reached on the port named `port_name`:
    /// a policy naming that port wins over one for the whole Service.
    pub fn for_backend(
        &self,
        namespace: &str,
        name: &str,
        port_name: &str,
    ) -> Option<(&ObjectKey, &PolicyUse)> {
        let entries = self
            .targets
            .get(&(namespace.to_string(), name.to_string()))?;
        let named = entries
            .iter()
            .find(|(section, _, _)| section.as_deref() == Some(port_name) && !port_name.is_empty());
        named
            .or_else(|| entries.iter().find(|(section, _, _)| section.is_none()))
            .map(|(_, key, used)| (key, used))
    }

    /// True when a change to ConfigMap `namespace`/`name` changes what a policy does.
    pub fn reads_config_map(&self, namespace: &str, name: &str) -> bool {
        self.config_maps
            .iter()
            .any(|(n, m)| n == namespace && m == name)
    }
}

/// Settles every BackendTLSPolicy in `snapshot`: the oldest policy for a target wins (then
/// namespace/name), the others are `Conflicted`.
pub fn settle_policies(snapshot: &Snapshot) -> BackendTlsBook {
    let mut book = BackendTlsBook::default();
    let mut policies: Vec<&Arc<BackendTlsPolicy>> =
        snapshot.backend_tls_policies.values().collect();
    policies.sort_by_key(|p| {
        let m = &p.metadata;
        (
            m.creation_timestamp.is_none(),
            m.creation_timestamp.clone(),
            m.namespace.clone(),
            m.name.clone(),
        )
    });
    for policy in policies {
        let key = ObjectKey {
            kind: Kind::BackendTLSPolicy,
            namespace: policy.metadata.namespace.clone(),
            name: policy.metadata.name.clone(),
        };
        let (used, resolved, accepted) = policy_use(snapshot, &key, policy, &mut book);
        let mut conflicted = false;
        let mut targets = 0;
        let mut services = Vec::new();
        for (index, target) in policy.spec.target_refs.iter().enumerate() {
            if !(target.group.is_empty() || target.group == "core") || target.kind != "Service" {
                book.diagnostics.push(Diagnostic::error(
                    Reason::InvalidKind,
                    &key,
                    format!("spec.targetRefs[{index}]"),
                    format!(
                        "target kind {}/{} is not supported (Service is); this target is ignored",
                        target.group, target.kind
                    ),
                ));
                continue;
            }
            targets += 1;
            services.push((key.namespace.clone(), target.name.clone()));
            let entries = book
                .targets
                .entry((key.namespace.clone(), target.name.clone()))
                .or_default();
            if entries
                .iter()
                .any(|(section, _, _)| *section == target.section_name)
            {
                conflicted = true;
                book.diagnostics.push(Diagnostic::error(
                    Reason::Conflict,
                    &key,
                    format!("spec.targetRefs[{index}]"),
                    format!(
                        "an older BackendTLSPolicy already applies to Service {}{}; this one does not",
                        target.name,
                        target
                            .section_name
                            .as_ref()
                            .map(|s| format!(" port {s}"))
                            .unwrap_or_default()
                    ),
                ));
                continue;
            }
            entries.push((target.section_name.clone(), key.clone(), used.clone()));
        }
        let accepted = if conflicted && targets <= 1 {
            Condition::no(
                "Conflicted",
                "an older BackendTLSPolicy applies to the same target",
            )
        } else if targets == 0 {
            Condition::no("Invalid", "no targetRef names a Service")
        } else {
            accepted
        };
        book.states.push(PolicyState {
            policy: key,
            generation: policy.metadata.generation,
            accepted,
            resolved_refs: resolved,
            ancestors: Vec::new(),
            targets: services,
        });
    }
    book.config_maps.sort();
    book.config_maps.dedup();
    book
}

/// What one policy does, its `ResolvedRefs` and `Accepted` (before conflicts).
fn policy_use(
    snapshot: &Snapshot,
    key: &ObjectKey,
    policy: &BackendTlsPolicy,
    book: &mut BackendTlsBook,
) -> (PolicyUse, Condition, Condition) {
    let validation = &policy.spec.validation;
    let accepted = Condition::yes("Accepted", "policy accepted");
    let refuse = |book: &mut BackendTlsBook, reason: Reason, field: &str, why: String| {
        book.diagnostics.push(Diagnostic::error(
            reason,
            key,
            field,
            format!("{why}; requests to its backends answer 500"),
        ));
        PolicyUse::Refused(why)
    };
    if let Err(why) = Hostname::parse(&validation.hostname).and_then(|h| match h {
        Hostname::Exact(_) => Ok(()),
        Hostname::Wildcard(_) => Err("a wildcard is not a server name".to_string()),
    }) {
        let used = refuse(
            book,
            Reason::UnsupportedValue,
            "spec.validation.hostname",
            why.clone(),
        );
        return (
            used,
            Condition::yes("ResolvedRefs", "references resolved"),
            Condition::no("Invalid", &why),
        );
    }
    let mut names = Vec::new();
    for (index, san) in validation.subject_alt_names.iter().enumerate() {
        match (san.name_type.as_str(), &san.hostname) {
            ("Hostname", Some(hostname))
                if matches!(Hostname::parse(hostname), Ok(Hostname::Exact(_))) =>
            {
                names.push(hostname.to_ascii_lowercase());
            }
            _ => {
                let why = format!(
                    "subjectAltNames[{index}]: only exact Hostname names are supported ({:?} {:?} given)",
                    san.name_type,
                    san.hostname.as_deref().or(san.uri.as_deref()).unwrap_or("")
                );
                let used = refuse(
                    book,
                    Reason::UnsupportedValue,
                    &format!("spec.validation.subjectAltNames[{index}]"),
                    why.clone(),
                );
                return (
                    used,
                    Condition::yes("ResolvedRefs", "references resolved"),
                    Condition::no("Invalid", &why),
                );
            }
        }
    }
    if validation.ca_certificate_refs.is_empty() {
        let why = match &validation.well_known_ca_certificates {
            Some(set) => {
                format!("wellKnownCACertificates {set:?} is not supported (caCertificateRefs are)")
            }
            None => "neither caCertificateRefs nor wellKnownCACertificates is set".to_string(),
        };
        let used = refuse(
            book,
            Reason::UnsupportedValue,
            "spec.validation.wellKnownCACertificates",
            why.clone(),
        );
        return (
            used,
            Condition::yes("ResolvedRefs", "references resolved"),
            Condition::no("Invalid", &why),
        );
    }
    let mut pem = String::new();
    let mut resolved = Condition::yes("ResolvedRefs", "references resolved");
    for (index, reference) in validation.ca_certificate_refs.iter().enumerate() {
        let field = format!("spec.validation.caCertificateRefs[{index}]");
        if !(reference.group.is_empty() || reference.group == "core")
            || reference.kind != "ConfigMap"
        {
            let why = format!(
                "kind {}/{} is not supported (ConfigMap is)",
                reference.group, reference.kind
            );
            book.diagnostics.push(Diagnostic::error(
                Reason::InvalidKind,
                key,
                &field,
                why.clone(),
            ));
            if resolved.status {
                resolved = Condition::no("InvalidKind", &format!("{field}: {why}"));
            }
            continue;
        }
        book.config_maps
            .push((key.namespace.clone(), reference.name.clone()));
        let text = snapshot
            .config_maps
            .get(&(key.namespace.clone(), reference.name.clone()))
            .and_then(|c| c.data.as_ref())
            .and_then(|d| d.get(CA_CERTIFICATE_KEY));
        let problem = match text {
            None => Some(format!(
                "ConfigMap {}/{} with key {CA_CERTIFICATE_KEY} not found",
                key.namespace, reference.name
            )),
            Some(text) => {
                let certificates: Result<Vec<CertificateDer<'_>>, _> =
                    CertificateDer::pem_slice_iter(text.as_bytes()).collect();
                match certificates {
                    Ok(list)
                        if list.iter().any(|der| {
                            x509_parser::parse_x509_certificate(der.as_ref()).is_err()
                        }) =>
                    {
                        Some(format!(
                            "ConfigMap {}/{} key {CA_CERTIFICATE_KEY}: a PEM block is not an X.509 certificate",
                            key.namespace, reference.name
                        ))
                    }
                    Ok(list) if !list.is_empty() => {
                        pem.push_str(text);
                        if !text.ends_with('\n') {
                            pem.push('\n');
                        }
                        None
                    }
                    Ok(_) => Some(format!(
                        "ConfigMap {}/{} key {CA_CERTIFICATE_KEY} holds no PEM certificate",
                        key.namespace, reference.name
                    )),
                    Err(e) => Some(format!(
                        "ConfigMap {}/{} key {CA_CERTIFICATE_KEY}: {e}",
                        key.namespace, reference.name
                    )),
                }
            }
        };
        if let Some(why) = problem {
            book.diagnostics.push(Diagnostic::error(
                Reason::InvalidCaCertificateRef,
                key,
                &field,
                why.clone(),
            ));
            if resolved.status {
                resolved = Condition::no("InvalidCACertificateRef", &format!("{field}: {why}"));
            }
        }
    }
    if pem.is_empty() {
        let why = "no caCertificateRef can be used".to_string();
        book.diagnostics.push(Diagnostic::error(
            Reason::InvalidCaCertificateRef,
            key,
            "spec.validation.caCertificateRefs",
            format!("{why}; requests to its backends answer 500"),
        ));
        return (
            PolicyUse::Refused(why.clone()),
            resolved,
            Condition::no("NoValidCACertificate", &why),
        );
    }
    let tls = BackendTls {
        server_name: validation.hostname.to_ascii_lowercase(),
        subject_alt_names: names,
        ca_pem: pem.into(),
        source: format!("BackendTLSPolicy {}/{}", key.namespace, key.name),
    };
    (PolicyUse::Verify(Arc::new(tls)), resolved, accepted)
}
