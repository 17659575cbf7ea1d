//! What the translation tells users about their objects: which object, which field, what is wrong.

use std::fmt;

use portcullis_kube::objects::ObjectKey;

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
    /// What kind of problem it is: the Kubernetes Event's `reason`.
    pub reason: Reason,
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

/// What kind of problem a [`Diagnostic`] reports, set where it is made: the Event reason users
/// filter on (`kubectl get events --field-selector reason=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Another object (older, or sorting first) already claims the same host, path or
    /// certificate.
    Conflict,
    /// `spec.tls` or a TLS Secret cannot be used as written.
    InvalidTls,
    /// A backend's Service, port or resource cannot be reached.
    BackendUnavailable,
    /// A path or pathType is invalid.
    InvalidPath,
    /// A host is invalid.
    InvalidHost,
    /// The named IngressClass does not exist.
    IngressClassMissing,
    /// A controller annotation is not supported (ignored), or restricts access in a way not
    /// enforced yet (the Ingress is not served).
    UnsupportedAnnotation,
    /// A controller annotation's value cannot be used; its default applies.
    InvalidAnnotation,
    /// Anything else wrong with an Ingress.
    InvalidIngress,
    /// Gateway API: a route's parentRef names a listener whose `allowedRoutes` refuse it.
    NotAllowedByListeners,
    /// Gateway API: none of a route's hostnames meets its listeners' hostnames.
    NoMatchingListenerHostname,
    /// Gateway API: a route's parentRef names no Gateway or listener of ours.
    NoMatchingParent,
    /// Gateway API: a reference to another namespace that no ReferenceGrant permits.
    RefNotPermitted,
    /// Gateway API: a reference to a kind that is not supported.
    InvalidKind,
    /// Gateway API: a referenced backend does not exist (or has no such port).
    BackendNotFound,
    /// Gateway API: a value (filter, match type, protocol) this implementation cannot honour.
    UnsupportedValue,
    /// Gateway API: a listener's certificateRefs cannot be used.
    InvalidCertificateRef,
    /// Gateway API: a BackendTLSPolicy's caCertificateRefs cannot be used.
    InvalidCaCertificateRef,
    /// Gateway API: listeners claim the same port with different protocols, or the same
    /// port and hostname.
    ListenerConflict,
}

impl Reason {
    /// The CamelCase Event reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Conflict => "Conflict",
            Reason::InvalidTls => "InvalidTLS",
            Reason::BackendUnavailable => "BackendUnavailable",
            Reason::InvalidPath => "InvalidPath",
            Reason::InvalidHost => "InvalidHost",
            Reason::IngressClassMissing => "IngressClassMissing",
            Reason::UnsupportedAnnotation => "UnsupportedAnnotation",
            Reason::InvalidAnnotation => "InvalidAnnotation",
            Reason::InvalidIngress => "InvalidIngress",
            Reason::NotAllowedByListeners => "NotAllowedByListeners",
            Reason::NoMatchingListenerHostname => "NoMatchingListenerHostname",
            Reason::NoMatchingParent => "NoMatchingParent",
            Reason::RefNotPermitted => "RefNotPermitted",
            Reason::InvalidKind => "InvalidKind",
            Reason::BackendNotFound => "BackendNotFound",
            Reason::UnsupportedValue => "UnsupportedValue",
            Reason::InvalidCertificateRef => "InvalidCertificateRef",
            Reason::InvalidCaCertificateRef => "InvalidCACertificateRef",
            Reason::ListenerConflict => "ListenerConflict",
        }
    }
}

impl Diagnostic {
    /// An error on one field of one object.
    pub fn error(
        reason: Reason,
        object: &ObjectKey,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            object: object.clone(),
            field: field.into(),
            message: message.into(),
            severity: Severity::Error,
            reason,
        }
    }

    /// A warning on one field of one object.
    pub fn warning(
        reason: Reason,
        object: &ObjectKey,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(reason, object, field, message)
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
