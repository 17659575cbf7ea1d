//! What the translation tells users about their objects: which object, which field, what is wrong.

use std::fmt;

use crate::objects::ObjectKey;

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

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.object, self.message)
        } else {
            write!(f, "{}: {}: {}", self.object, self.field, self.message)
        }
    }
}
