//! `posture-audit`: on Lambda, the daily audit function (`guardrails_core::function::run`, the one shape every
//! function has); in a shell, the CLI that audits the account and region of the current credentials. Exit 0 with
//! no finding, 1 with findings, 2 when a service or a resource could not be read (its findings unknown) or the
//! audit could not start.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use posture_audit::{audit, report};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Audits an AWS account's security posture in one region: S3, IAM, KMS, SNS, SQS, Secrets Manager, SageMaker,
/// CloudTrail, Lambda, ECR, EC2.
#[derive(Debug, Parser)]
#[command(name = "posture-audit", version)]
struct Cli {
    /// The named profile to use (else the default credential chain).
    #[arg(long)]
    profile: Option<String>,
    /// The region to audit (else the profile's or AWS_REGION).
    #[arg(long)]
    region: Option<String>,
    /// How to print the findings.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// The longest one service may take, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// An image URI the pipeline runs, whose last scan is judged (repeat for each; the training and inference
    /// images of the stack).
    #[arg(long = "image")]
    images: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    // One binary for both: Lambda's runtime sets AWS_LAMBDA_RUNTIME_API, a person's shell does not.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return match guardrails_core::function::run::<posture_audit::PostureAudit>().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("posture-audit: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = &cli.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = cli.region.clone() {
        loader = loader.region(aws_config::Region::new(region));
    }
    // AWS_ENDPOINT_URL (an emulator) is honoured by the loader, as by every function of the project.
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        eprintln!("posture-audit: no region: pass --region or set AWS_REGION");
        return ExitCode::from(2);
    }
    let audit = audit::run(
        &sdk,
        chrono::Utc::now(),
        Duration::from_secs(cli.timeout),
        &cli.images,
    )
    .await;
    match cli.format {
        Format::Table => print!("{}", report::table(&audit)),
        Format::Json => match report::json(&audit) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("posture-audit: {e}");
                return ExitCode::from(2);
            }
        },
    }
    for u in &audit.unchecked {
        eprintln!("posture-audit: {:?} not checked: {}", u.service, u.reason);
    }
    for u in &audit.unread {
        eprintln!("posture-audit: {} not read: {}", u.resource, u.reason);
    }
    if !audit.unchecked.is_empty() || !audit.unread.is_empty() {
        ExitCode::from(2)
    } else if audit.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
