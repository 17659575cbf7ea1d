//! What the translation tells users about their objects: which object, which field, what is wrong.

use std::fmt;

use crate::objects::{Kind, ObjectKey};

/// One problem found in a user's object. Translation goes on: the rest of the table is built.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// The object at fault.
    pub object: ObjectKey,
    /// The field at fault, as a path: `spec.rules[0].http.paths[1].backend.service.port`.
    pub field: String,
    /// What is wrong and what happens because of it.
    pub message: String,
    /// Whether part of the object is not served as written.
    pub severity: Severity,
}

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// Part of the object is ignored or answers 503: the user must fix it.
    Error,
    /// The object is served, but not entirely as the user may think (a lost conflict, ...).
    Warning,
}

impl Diagnostic {
    /// An error on one field of one object.
    pub fn error(object: &ObjectKey, field: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            object: object.clone(),
            field: field.into(),
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// A warning on one field of one object.
    pub fn warning(
        object: &ObjectKey,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(object, field, message)
        }
    }
}

impl Diagnostic {
    /// A short CamelCase reason for a Kubernetes Event about this problem.
    pub fn reason(&self) -> &'static str {
        let field = self.field.as_str();
        if self.message.contains("already claimed")
            || self.message.contains("already gets its certificate")
        {
            "Conflict"
        } else if self.object.kind == Kind::Secret || field.starts_with("spec.tls") {
            "InvalidTLS"
        } else if field.contains(".backend") || field == "spec.defaultBackend" {
            "BackendUnavailable"
        } else if field.ends_with(".path") || field.ends_with(".pathType") {
            "InvalidPath"
        } else if field.ends_with(".host") {
            "InvalidHost"
        } else if field == "spec.ingressClassName" {
            "IngressClassMissing"
        } else {
            "InvalidIngress"
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.object, self.message)
        } else {
            write!(f, "{}: {}: {}", self.object, self.field, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_the_kind_of_problem() {
        let ingress = ObjectKey {
            kind: Kind::Ingress,
            namespace: "n".into(),
            name: "i".into(),
        };
        let secret = ObjectKey {
            kind: Kind::Secret,
            namespace: "n".into(),
            name: "s".into(),
        };
        let cases = [
            (
                Diagnostic::error(
                    &ingress,
                    "spec.rules[0].http.paths[1].backend.service.name",
                    "Service n/x not found",
                ),
                "BackendUnavailable",
            ),
            (
                Diagnostic::error(&ingress, "spec.rules[0].http.paths[1].pathType", "bad"),
                "InvalidPath",
            ),
            (
                Diagnostic::error(&ingress, "spec.rules[0].http.paths[1].path", "bad"),
                "InvalidPath",
            ),
            (
                Diagnostic::error(&ingress, "spec.rules[1].host", "bad"),
                "InvalidHost",
            ),
            (
                Diagnostic::warning(
                    &ingress,
                    "spec.rules[0].http.paths[0]",
                    "host a path / (Prefix) is already claimed by Ingress n/o",
                ),
                "Conflict",
            ),
            (
                Diagnostic::error(&ingress, "spec.tls[0].secretName", "Secret n/x not found"),
                "InvalidTLS",
            ),
            (
                Diagnostic::error(&secret, "data[tls.key]", "missing"),
                "InvalidTLS",
            ),
            (
                Diagnostic::error(&ingress, "spec.ingressClassName", "missing"),
                "IngressClassMissing",
            ),
            (
                Diagnostic::error(&ingress, "spec", "missing"),
                "InvalidIngress",
            ),
        ];
        for (diagnostic, reason) in cases {
            assert_eq!(diagnostic.reason(), reason, "{diagnostic}");
        }
    }
}
