//! posture-audit: the live account's security posture, checked continuously (the seed's CloudSploit role). The
//! template's posture rules judge what is deployed; this judges what the account is now, console changes
//! included.
//!
//! [`check`] names each check (id, severity, remediation, nearest CloudSploit plugin); [`policy`] reads policy
//! documents and [`judge`] turns plain facts into findings, both free of AWS types; [`gather`] reads the facts
//! through the SDK (settings and policies only, never object contents or secret values); [`audit`] runs every
//! service within a time bound; [`report`] prints a table or JSON. As a function, [`handler`] runs an audit on
//! a daily schedule, and [`lifecycle`] (no AWS types) keeps the ledger of findings: new, still open, resolved,
//! each told once; a CloudTrail record of a change ([`change`], no AWS types) re-checks that resource alone
//! ([`recheck`]); [`suppress`] reads the team's accepted findings, each with a reason and an expiry; [`asff`] (no AWS types) and
//! [`export`] give the ledger to Security Hub when the stack asks. `main.rs` is both: Lambda's runtime starts the function, a person's shell the CLI.

pub mod asff;
pub mod audit;
pub mod change;
pub mod check;
pub mod config;
pub mod export;
pub mod gather;
pub mod handler;
pub mod judge;
pub mod lifecycle;
pub mod policy;
pub mod recheck;
pub mod report;
pub mod suppress;

pub use audit::{Audit, Service, Unchecked};
pub use check::{Check, Finding, Severity};
pub use config::{Config, STAGE};
pub use handler::PostureAudit;
