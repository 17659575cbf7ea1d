//! Whose fault an error is, and whether retrying can help: one small vocabulary that every
//! crate's errors answer in, so a log line, an Event or a retry loop can act on any of them
//! the same way (Pingora's error types carry the same two facts).
#![forbid(unsafe_code)]

use std::fmt;

/// Who has to act before the failed thing can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// A user's object or file is wrong (an Ingress, a manifest, a NetworkPolicy): they fix it.
    User,
    /// How Portcullis was deployed: flags, permissions, a missing capability or directory.
    Operator,
    /// The kernel (or the API server) refused or failed: it may pass, or need the host fixed.
    Kernel,
    /// Ours: Portcullis built something wrong. Retrying does the same thing again.
    Bug,
}

impl Fault {
    /// The lower-case name, for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::User => "user",
            Fault::Operator => "operator",
            Fault::Kernel => "kernel",
            Fault::Bug => "bug",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that says whose fault it is and whether the same attempt can succeed later.
pub trait Classified {
    /// Who has to act.
    fn fault(&self) -> Fault;

    /// Whether trying the same thing again, with nobody acting, may succeed.
    fn retryable(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_lower_case() {
        let all = [Fault::User, Fault::Operator, Fault::Kernel, Fault::Bug];
        let mut names: Vec<&str> = all.iter().map(|fault| fault.as_str()).collect();
        assert!(names.iter().all(|name| *name == name.to_lowercase()));
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(Fault::Kernel.to_string(), "kernel");
    }
}
