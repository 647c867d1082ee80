//! `guardrails-local up`: the loop left running, with a few commands typed on stdin (parsed by clap, like the
//! command line).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use clap::{CommandFactory, Parser, Subcommand};
use guardrails_core::AwsError;
use local_loop::story::{self, TRAINING_METRICS};
use local_loop::{Local, LoopError};

/// The loop left running: what to type, then one command per line until Ctrl-C or `quit`.
pub async fn up(local: &Local) -> ExitCode {
    let raw = local
        .runtime
        .stack
        .upload_bucket()
        .unwrap_or("?")
        .to_owned();
    let endpoint = local.emulator.endpoint();
    if let Err(e) = local.create_registry().await {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = local.emulator.set_training_metrics(&TRAINING_METRICS) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    println!(
        "\nThe loop is up. Endpoint {endpoint} (region us-east-1, any credentials).\n\
         Buckets: {buckets}\n\
         Model package group {group} (empty); training jobs report {metrics}.\n\
         Upload a dataset with the AWS CLI (boto3 and the other SDKs read the same variables):\n\
         \n  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1\n\
         \x20 aws s3 cp crates/local-loop/data/tickets-good.csv \"s3://{raw}/{key}\"\n\
         \nor type a command here (help lists them):\n{commands}\nCtrl-C stops everything.\n",
        buckets = local
            .runtime
            .stack
            .buckets
            .values()
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        group = local.parameter("ModelPackageGroupName"),
        metrics = TRAINING_METRICS
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        key = local.upload_key("my-upload.csv"),
        commands = help(),
    );
    // Lines are read on a thread of their own: a blocking read of tokio's stdin would keep the runtime (and so
    // the process and its emulator) alive after Ctrl-C.
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let mut stdin_open = true;
    loop {
        tokio::select! {
            _ = &mut interrupted => break,
            line = lines.recv(), if stdin_open => match line {
                Some(line) => match command(local, &line).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => println!("  {}", e.to_string().trim_end()),
                },
                // Stdin closed (e.g. run in the background): only Ctrl-C / SIGINT stops it.
                None => stdin_open = false,
            },
        }
    }
    println!("\nstopped: the emulator and every queue go with this process");
    ExitCode::SUCCESS
}

/// A command typed while the loop is up.
#[derive(Parser)]
#[command(
    no_binary_name = true,
    disable_help_flag = true,
    help_template = "{subcommands}"
)]
struct Line {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Put FILE into the raw bucket (KEY defaults to tickets/<file name>).
    Upload {
        /// The dataset file.
        file: PathBuf,
        /// The object key.
        key: Option<String>,
    },
    /// A model-quality drift alarm enters ALARM.
    Alarm,
    /// The drift alarm goes back to OK.
    Recover,
    /// Approve the newest model version waiting for a person.
    Approve,
    /// Cost Explorer answers USD of SageMaker for yesterday, then the daily schedule fires.
    Cost {
        /// Yesterday's SageMaker spend.
        usd: f64,
    },
    /// Stop the loop.
    Quit,
}

/// The commands, as `help` lists them.
fn help() -> String {
    Line::command().render_help().to_string()
}

/// What a typed line could not do.
#[derive(Debug, thiserror::Error)]
enum CommandError {
    /// Not a command, or not its arguments (clap's message, with usage).
    #[error("{0}")]
    Usage(String),
    /// The command failed.
    #[error(transparent)]
    Failed(#[from] LoopError),
}

/// Runs one typed line; `Ok(false)` asks to stop.
async fn command(local: &Local, line: &str) -> Result<bool, CommandError> {
    let words = line.split_whitespace();
    if words.clone().next().is_none() {
        return Ok(true);
    }
    let line =
        Line::try_parse_from(words).map_err(|e| CommandError::Usage(e.render().to_string()))?;
    match line.command {
        Command::Upload { file, key } => upload(local, &file, key).await?,
        Command::Alarm | Command::Recover => {
            let recovered = matches!(line.command, Command::Recover);
            if !local
                .runtime
                .alarm(&local.drift_alarm_name(), recovered)
                .await
            {
                let why = "the alarm event was not put on the bus (see the line above)";
                return Err(LoopError::NothingToDo(why.into()).into());
            }
        }
        Command::Approve => approve(local).await?,
        Command::Cost { usd } => {
            story::inject_costs(local, &[("Amazon SageMaker", usd)])?;
            let schedule = local
                .cost_schedule()
                .ok_or_else(|| LoopError::NotInTemplate("scheduled cost-guard run".into()))?;
            local.runtime.fire_schedule(&schedule).await?;
        }
        Command::Quit => return Ok(false),
    }
    Ok(true)
}

async fn upload(local: &Local, file: &Path, key: Option<String>) -> Result<(), LoopError> {
    let body = std::fs::read(file).map_err(|source| LoopError::File {
        path: file.to_owned(),
        source,
    })?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("upload");
    let key = key.unwrap_or_else(|| local.upload_key(name));
    let raw = local.runtime.stack.upload_bucket().ok_or_else(|| {
        LoopError::NotInTemplate("bucket that sends its events to EventBridge".into())
    })?;
    guardrails_core::aws::s3_client(&local.sdk)
        .put_object()
        .bucket(raw)
        .key(&key)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutObject", format!("s3://{raw}/{key}"), e))?;
    println!("  uploaded s3://{raw}/{key}");
    Ok(())
}

async fn approve(local: &Local) -> Result<(), LoopError> {
    let sagemaker = aws_sdk_sagemaker::Client::new(&local.sdk);
    let group = local.parameter("ModelPackageGroupName");
    let waiting = sagemaker
        .list_model_packages()
        .model_package_group_name(&group)
        .model_approval_status(ModelApprovalStatus::PendingManualApproval)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ListModelPackages", &group, e))?;
    let arn = waiting
        .model_package_summary_list()
        .iter()
        .filter_map(|p| p.model_package_arn())
        .max_by_key(|arn| arn.rsplit('/').next().and_then(|v| v.parse::<u32>().ok()))
        .ok_or_else(|| {
            LoopError::NothingToDo(format!("no version of {group} is waiting for approval"))
        })?
        .to_owned();
    local_loop::registry::approve(&sagemaker, &arn, "Approved from the local loop.").await?;
    println!("  approved {arn}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command, String> {
        Line::try_parse_from(line.split_whitespace())
            .map(|l| l.command)
            .map_err(|e| e.render().to_string())
    }

    #[test]
    fn typed_lines_become_commands_or_say_what_is_wrong() {
        assert!(matches!(
            parse("upload data/a.csv tickets/a.csv"),
            Ok(Command::Upload { key: Some(k), .. }) if k == "tickets/a.csv"
        ));
        assert!(matches!(parse("cost 12.5"), Ok(Command::Cost { usd }) if usd == 12.5));
        assert!(matches!(parse("quit"), Ok(Command::Quit)));
        let wrong = parse("cost lots").err().unwrap();
        assert!(wrong.contains("lots"), "{wrong}");
        let unknown = parse("deploy").err().unwrap();
        assert!(unknown.contains("deploy"), "{unknown}");
        for listed in ["upload", "alarm", "recover", "approve", "cost", "quit"] {
            assert!(help().contains(listed), "{listed} missing from {}", help());
        }
    }
}
