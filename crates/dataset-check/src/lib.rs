//! The dataset check: one streaming pass over a text-classification dataset (CSV or JSON Lines, optionally
//! gzip), every rule of its [`contract`] at once, in memory bounded by the contract, never by the file.
//!
//! Pure and synchronous, with no AWS in it: validate-ingest feeds it the S3 object stream, the `dataset-check`
//! binary a file or stdin, so data producers run exactly the Lambda's check in their own CI — and install it
//! without the AWS SDK.

#![warn(missing_docs)]

pub mod check;
pub mod contract;
pub mod profile;
pub mod report;

pub use check::{Format, SourceError, check, check_profiled, parse_only};
pub use contract::Contract;
pub use profile::Profile;
pub use report::{Report, Verdict};
