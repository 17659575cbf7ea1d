//! Logging a rebuild's problems: each is logged once when it appears and once when it is
//! fixed, not on every rebuild.

use tracing::{error, info, warn};

use crate::translate::{Diagnostic, Severity};
use portcullis_kube::lasting::Lasting;

/// What was already logged, by kind of problem.
#[derive(Debug, Default)]
pub(super) struct Reported {
    diagnostics: Lasting<Diagnostic>,
    other: Lasting<String>,
    certificates: Lasting<String>,
}

impl Reported {
    /// Logs what changed since the last rebuild: certificate problems (errors), diagnostics
    /// (errors or warnings by severity) and, for both, their resolution; other problems
    /// (warnings) only when they appear.
    pub(super) fn report(
        &mut self,
        diagnostics: &[Diagnostic],
        other: Vec<String>,
        certificates: Vec<String>,
    ) {
        let (new, gone) = self.certificates.update(certificates);
        new.iter().for_each(|new| error!("{new}"));
        gone.iter().for_each(|gone| info!("resolved: {gone}"));
        let (new, gone) = self.diagnostics.update(diagnostics.iter().cloned());
        for new in new {
            match new.severity {
                Severity::Error => error!("{new}"),
                _ => warn!("{new}"),
            }
        }
        gone.iter().for_each(|gone| info!("resolved: {gone}"));
        let (new, _) = self.other.update(other);
        new.iter().for_each(|new| warn!("{new}"));
    }
}
