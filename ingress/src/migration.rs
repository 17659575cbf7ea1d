//! `portcullis migrate-check`, the pure part: what Portcullis would do with every annotation
//! of every Ingress (and every key of an ingress-nginx ConfigMap), found by running the real
//! translation, so the report cannot disagree with what would be served.

use std::collections::BTreeMap;

use portcullis_kube::objects::{Kind, ObjectKey};
use portcullis_kube::store::Snapshot;

use crate::translate::{
    ANNOTATION_PREFIXES, Diagnostic, Reason, Severity, Support, TranslateConfig,
    annotation_support, translate,
};

mod render;
mod settings;

pub use settings::{SettingSupport, setting_support};

/// The verdict on one annotation or setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Honoured as ingress-nginx does it.
    Honoured,
    /// Honoured, with a difference the note names.
    Different,
    /// Not supported: served without it.
    Unsupported,
    /// The value cannot be used: its default applies.
    Invalid,
    /// The Ingress is not served because of it.
    FailsClosed,
}

impl Verdict {
    /// Whether a migration can go ahead with this verdict (CI's exit code).
    pub fn passes(self) -> bool {
        matches!(self, Verdict::Honoured | Verdict::Different)
    }

    /// The word in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Honoured => "honoured",
            Verdict::Different => "different",
            Verdict::Unsupported => "unsupported",
            Verdict::Invalid => "invalid",
            Verdict::FailsClosed => "fails-closed",
        }
    }
}

/// One annotation of one Ingress, or one ConfigMap key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The annotation's full name, or the ConfigMap key.
    pub name: String,
    /// Its value as written.
    pub value: String,
    /// What Portcullis does with it.
    pub verdict: Verdict,
    /// The difference, the problem, or what to use instead.
    pub note: String,
}

/// One Ingress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressReport {
    /// namespace/name.
    pub ingress: ObjectKey,
    /// Served under the class flags given; annotations of others are not judged.
    pub served: bool,
    /// Its controller annotations, by name.
    pub annotations: Vec<Finding>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Every Ingress, sorted by namespace/name.
    pub ingresses: Vec<IngressReport>,
    /// The ConfigMap's keys, when one was given.
    pub settings: Vec<Finding>,
}

impl MigrationReport {
    /// True when nothing is unsupported, invalid or failing closed (exit code 0).
    pub fn passes(&self) -> bool {
        self.ingresses
            .iter()
            .filter(|i| i.served)
            .flat_map(|i| &i.annotations)
            .chain(&self.settings)
            .all(|f| f.verdict.passes())
    }
}

/// Builds the report for `snapshot` as Portcullis with `config` would serve it, and the
/// ingress-nginx ConfigMap data `configmap` if given.
pub fn migration_report(
    snapshot: &Snapshot,
    config: &TranslateConfig,
    configmap: Option<&BTreeMap<String, String>>,
) -> MigrationReport {
    let translation = translate(snapshot, config);
    let served: std::collections::HashSet<&ObjectKey> = translation.ingresses.iter().collect();
    let mut ingresses: Vec<IngressReport> = snapshot
        .ingresses
        .iter()
        .map(|((namespace, name), ingress)| {
            let key = &ObjectKey {
                kind: Kind::Ingress,
                namespace: namespace.clone(),
                name: name.clone(),
            };
            let is_served = served.contains(key);
            let annotations = ingress
                .metadata
                .annotations
                .iter()
                .flatten()
                .filter_map(|(full, value)| {
                    let name = ANNOTATION_PREFIXES
                        .iter()
                        .find_map(|prefix| full.strip_prefix(prefix))?;
                    Some(finding(
                        key,
                        full,
                        name,
                        value,
                        &translation.diagnostics,
                        is_served,
                    ))
                })
                .collect();
            IngressReport {
                ingress: key.clone(),
                served: is_served,
                annotations,
            }
        })
        .collect();
    ingresses.sort_by(|a, b| a.ingress.cmp(&b.ingress));
    let settings = configmap
        .map(|data| {
            data.iter()
                .map(|(key, value)| settings::finding(key, value))
                .collect()
        })
        .unwrap_or_default();
    MigrationReport {
        ingresses,
        settings,
    }
}

/// The verdict on one annotation: a diagnostic the translation made about it decides;
/// without one, the catalogue says honoured (or how it differs).
fn finding(
    key: &ObjectKey,
    full: &str,
    name: &str,
    value: &str,
    diagnostics: &[Diagnostic],
    served: bool,
) -> Finding {
    let field = format!("metadata.annotations[{full}]");
    let said = diagnostics
        .iter()
        .find(|d| d.object == *key && d.object.kind == Kind::Ingress && d.field == field);
    let (verdict, note) = match (said, annotation_support(name)) {
        _ if !served => (
            Verdict::Unsupported,
            "not served under these class flags".to_owned(),
        ),
        (Some(d), _) if d.severity == Severity::Error => (Verdict::FailsClosed, d.message.clone()),
        (Some(d), _) if d.reason == Reason::InvalidAnnotation => {
            (Verdict::Invalid, d.message.clone())
        }
        (_, Support::FailsClosed) => (
            Verdict::FailsClosed,
            "restricts access in a way not enforced yet: the Ingress is not served".to_owned(),
        ),
        (_, Support::Unsupported) => (
            Verdict::Unsupported,
            "not supported: the Ingress is served without it".to_owned(),
        ),
        (Some(d), _) => (Verdict::Different, d.message.clone()),
        (None, Support::HonouredWithDifference(difference)) => {
            (Verdict::Different, difference.to_owned())
        }
        (None, Support::Honoured) => (Verdict::Honoured, String::new()),
    };
    Finding {
        name: full.to_owned(),
        value: value.to_owned(),
        verdict,
        note,
    }
}

#[cfg(test)]
mod tests;
