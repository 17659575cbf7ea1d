//! The report as a table for people and as JSON for tools.

use std::fmt;

use serde_json::{Value, json};

use super::{Finding, MigrationReport};

impl MigrationReport {
    /// The report as one JSON object: `{"passes", "ingresses": [...], "settings": [...]}`.
    pub fn to_json(&self) -> Value {
        let finding = |f: &Finding| json!({"name": f.name, "value": f.value, "verdict": f.verdict.as_str(), "note": f.note});
        json!({
            "passes": self.passes(),
            "ingresses": self.ingresses.iter().map(|i| json!({
                "namespace": i.ingress.namespace,
                "name": i.ingress.name,
                "served": i.served,
                "annotations": i.annotations.iter().map(finding).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "settings": self.settings.iter().map(finding).collect::<Vec<_>>(),
        })
    }
}

/// One line per finding, grouped by Ingress, then the settings and a verdict line.
impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for ingress in &self.ingresses {
            let key = &ingress.ingress;
            if !ingress.served {
                writeln!(
                    f,
                    "Ingress {}/{}: not of the class these flags serve; skipped",
                    key.namespace, key.name
                )?;
                continue;
            }
            writeln!(f, "Ingress {}/{}", key.namespace, key.name)?;
            if ingress.annotations.is_empty() {
                writeln!(f, "  (no controller annotations)")?;
            }
            for finding in &ingress.annotations {
                line(f, finding)?;
            }
        }
        if !self.settings.is_empty() {
            writeln!(f, "ConfigMap")?;
            for finding in &self.settings {
                line(f, finding)?;
            }
        }
        let blocking = self
            .ingresses
            .iter()
            .filter(|i| i.served)
            .flat_map(|i| &i.annotations)
            .chain(&self.settings)
            .filter(|finding| !finding.verdict.passes())
            .count();
        if blocking == 0 {
            writeln!(f, "result: ready to migrate (differences are listed above)")
        } else {
            writeln!(
                f,
                "result: {blocking} annotation(s) or setting(s) unsupported, invalid or failing closed"
            )
        }
    }
}

fn line(f: &mut fmt::Formatter<'_>, finding: &Finding) -> fmt::Result {
    write!(
        f,
        "  {:<12} {}: {:?}",
        finding.verdict.as_str(),
        finding.name,
        finding.value
    )?;
    if finding.note.is_empty() {
        writeln!(f)
    } else {
        writeln!(f, " ({})", finding.note)
    }
}
