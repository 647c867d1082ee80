//! Which approved model to roll back to: plain Rust, no AWS types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A model package version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Its ARN.
    pub arn: String,
    /// When it was registered.
    pub created: DateTime<Utc>,
}

/// The newest of `approved`: the model a batch pipeline serves.
pub fn newest(approved: &[Package]) -> Option<&Package> {
    approved.iter().max_by_key(|p| p.created)
}

/// The rollback target for `degraded`: the newest approved package registered before it.
pub fn target<'a>(approved: &'a [Package], degraded: &Package) -> Option<&'a Package> {
    approved
        .iter()
        .filter(|p| p.arn != degraded.arn && p.created < degraded.created)
        .max_by_key(|p| p.created)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: u32) -> Package {
        Package {
            arn: format!("arn:aws:sagemaker:us-east-1:123456789012:model-package/tickets/{n}"),
            created: format!("2026-11-{n:02}T00:00:00Z").parse().unwrap(),
        }
    }

    #[test]
    fn target_table() {
        #[rustfmt::skip]
        let table: [(&str, Vec<Package>, Package, Option<u32>); 6] = [
            ("previous approved",              vec![v(1), v(2), v(3)], v(3), Some(2)),
            ("order of the listing is irrelevant", vec![v(3), v(1), v(2)], v(3), Some(2)),
            ("gaps (rejected versions) skipped", vec![v(1), v(4)],     v(4), Some(1)),
            ("serving an older one (real-time)", vec![v(1), v(2), v(3)], v(2), Some(1)),
            ("only one version",               vec![v(1)],             v(1), None),
            ("serving one not approved any more", vec![v(1), v(2)],    v(3), Some(2)),
        ];
        for (case, approved, degraded, expected) in table {
            assert_eq!(
                target(&approved, &degraded),
                expected.map(v).as_ref(),
                "{case}"
            );
        }
        assert_eq!(newest(&[v(2), v(5), v(1)]), Some(&v(5)));
        assert_eq!(newest(&[]), None);
    }
}
