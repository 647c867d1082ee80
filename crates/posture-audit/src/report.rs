//! An audit as people read it (a table) or as tools read it (JSON).

use crate::audit::Audit;

/// A table: one finding per line (severity, check, resource, evidence), then what could not be read.
pub fn table(audit: &Audit) -> String {
    let mut out = String::new();
    if audit.findings.is_empty() {
        out.push_str("no finding\n");
    }
    for f in &audit.findings {
        out.push_str(&format!(
            "{:<8} {:<44} {}\n         {}\n         fix: {}\n",
            f.severity.as_str(),
            f.check.meta().id,
            f.resource,
            f.evidence,
            f.remediation
        ));
    }
    for u in &audit.unchecked {
        out.push_str(&format!("not checked: {:?}: {}\n", u.service, u.reason));
    }
    for u in &audit.unread {
        out.push_str(&format!("not read: {}: {}\n", u.resource, u.reason));
    }
    out
}

/// JSON: the list of findings, each with `check`, `severity`, `resource`, `evidence` and `remediation`.
///
/// # Errors
/// Serialization (it cannot fail for these types).
pub fn json(audit: &Audit) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&audit.findings)
}
