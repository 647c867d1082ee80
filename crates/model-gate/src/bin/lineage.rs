//! `lineage verify <package ARN>`: for auditors (and the deploy step's operators), whether a model version's
//! lineage record is the one its package names, signed by the lineage key, the record of its own job, and of the
//! model the package serves.
//!
//! Prints the verified record as JSON on stdout and a one-line verdict on stderr. Exit status: 0 verified, 1 the
//! lineage is missing or does not verify, 2 the arguments or an AWS call failed. Credentials, region and
//! `AWS_ENDPOINT_URL` come from the environment as for any AWS tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use guardrails_core::lineage::{Lineage, LineageError};
use guardrails_core::state::StateStore;
use guardrails_core::{aws, registry};

/// Verify the lineage of mlops-guardrails model versions.
#[derive(Parser)]
#[command(name = "lineage", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify one model package's lineage record and signature.
    Verify {
        /// The model package (version) ARN.
        package_arn: String,
        /// The stack's state bucket (output StateBucketName).
        #[arg(long)]
        state_bucket: String,
        /// The lineage key (output LineageKeyArn).
        #[arg(long)]
        key_id: String,
        /// Where lineage records are in the state bucket.
        #[arg(long, default_value = "lineage/")]
        prefix: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let Command::Verify {
        package_arn,
        state_bucket,
        key_id,
        prefix,
    } = Args::parse().command;
    let sdk = aws::load_shell_sdk_config().await;
    let sagemaker = aws_sdk_sagemaker::Client::new(&sdk);
    let package = match registry::describe(&sagemaker, &package_arn).await {
        Ok(package) => package,
        Err(e) => {
            eprintln!("lineage: {e}");
            return ExitCode::from(2);
        }
    };
    let state = StateStore::new(aws::s3_client(&sdk), state_bucket);
    let lineage = Lineage::from_sdk(&sdk, state, key_id, prefix);
    match lineage.verify_package_model(&package).await {
        Ok(record) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&record).unwrap_or_default()
            );
            eprintln!(
                "{package_arn}: verified: job {} trained on {} file(s), {} row(s); verdict {}",
                record.training.job_name,
                record.data.files,
                record.data.rows,
                record.verdict.decision
            );
            ExitCode::SUCCESS
        }
        Err(error @ (LineageError::Missing(_) | LineageError::Invalid(_))) => {
            eprintln!("{package_arn}: NOT verified: {error}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("lineage: {error}");
            ExitCode::from(2)
        }
    }
}
