//! `guardrails-local demo | up [--template PATH] [--param Name=Value]... [--timeout SECONDS]`
//!
//! `demo` (`make demo`): the scripted story, exit 0 only if every step happened. `up` (`make up`): the same
//! loop left running for exploration, with a few commands on stdin; Ctrl-C stops it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use local_loop::story::{self, TRAINING_METRICS};
use local_loop::{Local, default_template};

const USAGE: &str =
    "usage: guardrails-local demo|up [--template PATH] [--param Name=Value]... [--timeout SECONDS]";

struct Args {
    command: String,
    template: PathBuf,
    parameters: Vec<(String, String)>,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let command = args.next().ok_or(USAGE)?;
    if command != "demo" && command != "up" {
        return Err(format!("unknown command {command:?}\n{USAGE}"));
    }
    let mut parsed = Args {
        command,
        template: default_template(),
        parameters: Vec::new(),
        timeout: Duration::from_secs(30),
    };
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--template" => parsed.template = PathBuf::from(value),
            "--param" => {
                let (name, value) = value
                    .split_once('=')
                    .ok_or_else(|| format!("--param takes Name=Value, got {value:?}"))?;
                parsed.parameters.push((name.to_owned(), value.to_owned()));
            }
            "--timeout" => {
                let seconds: u64 = value
                    .parse()
                    .map_err(|_| format!("--timeout takes seconds, got {value:?}"))?;
                parsed.timeout = Duration::from_secs(seconds);
            }
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // Shown as the user would type it: relative to where they are.
    let shown = std::env::current_dir()
        .ok()
        .and_then(|dir| args.template.strip_prefix(dir).ok().map(PathBuf::from))
        .unwrap_or_else(|| args.template.clone());
    println!(
        "mlops-guardrails local loop: {} on the emulator, the real handlers in this process (no AWS account)\n",
        shown.display()
    );
    let local = match Local::start(&args.template, &args.parameters, true).await {
        Ok(local) => local,
        Err(e) => {
            eprintln!("the local loop did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.command == "demo" {
        demo(&local, args.timeout).await
    } else {
        up(&local).await
    }
}

async fn demo(local: &Local, timeout: Duration) -> ExitCode {
    match story::tell(local, timeout).await {
        Ok(told) => {
            // Let the last lines (late notices, the retraining decision) print before the summary.
            tokio::time::sleep(Duration::from_millis(500)).await;
            println!(
                "\ndemo passed in {:.1} s: a dataset validated and its model registered ({}), one quarantined with \
                 {} reason(s), {} rolled back to {}, {} budget(s) breached and alerted",
                local.runtime.timeline.elapsed().as_secs_f64(),
                told.verdict,
                told.reasons.len(),
                told.rolled_back.0,
                told.rolled_back.1,
                told.breaches
            );
            ExitCode::SUCCESS
        }
        Err(failure) => {
            println!("\ndemo FAILED: {}", failure.step);
            ExitCode::FAILURE
        }
    }
}

async fn up(local: &Local) -> ExitCode {
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
         \nor type a command here:\n{HELP}\nCtrl-C stops everything.\n",
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
                Some(line) if line.trim() == "quit" => break,
                Some(line) => {
                    if let Err(e) = command(local, line.trim()).await {
                        println!("  {e}");
                    }
                }
                // Stdin closed (e.g. run in the background): only Ctrl-C / SIGINT stops it.
                None => stdin_open = false,
            },
        }
    }
    println!("\nstopped: the emulator and every queue go with this process");
    ExitCode::SUCCESS
}

const HELP: &str = "  upload FILE [KEY]   put FILE into the raw bucket (KEY defaults to tickets/<file name>)
  alarm | recover     a model-quality drift alarm enters ALARM | goes back to OK
  approve             approve the newest model version waiting for a person
  cost USD            Cost Explorer answers USD of SageMaker for yesterday, then the daily schedule fires
  help | quit";

async fn command(local: &Local, line: &str) -> Result<(), String> {
    let mut words = line.split_whitespace();
    match words.next() {
        None => Ok(()),
        Some("help") => {
            println!("{HELP}");
            Ok(())
        }
        Some("upload") => {
            let file = words.next().ok_or("upload FILE [KEY]")?;
            let body = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
            let name = std::path::Path::new(file)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("upload");
            let key = words
                .next()
                .map_or_else(|| local.upload_key(name), str::to_owned);
            let raw = local
                .runtime
                .stack
                .upload_bucket()
                .ok_or("the template has no bucket that sends its events to EventBridge")?;
            guardrails_core::aws::s3_client(&local.sdk)
                .put_object()
                .bucket(raw)
                .key(&key)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "upload failed: {}",
                        aws_sdk_s3::error::DisplayErrorContext(e)
                    )
                })?;
            println!("  uploaded s3://{raw}/{key}");
            Ok(())
        }
        Some("alarm") => {
            local.runtime.alarm(&local.drift_alarm_name(), false).await;
            Ok(())
        }
        Some("recover") => {
            local.runtime.alarm(&local.drift_alarm_name(), true).await;
            Ok(())
        }
        Some("approve") => approve(local).await,
        Some("cost") => {
            let usd: f64 = words
                .next()
                .and_then(|w| w.parse().ok())
                .ok_or("cost USD")?;
            story::inject_costs(local, &[("Amazon SageMaker", usd)])?;
            let schedule = local
                .cost_schedule()
                .ok_or("the template schedules no cost-guard run")?;
            local.runtime.fire_schedule(&schedule).await
        }
        Some(other) => Err(format!("unknown command {other:?}; type help")),
    }
}

async fn approve(local: &Local) -> Result<(), String> {
    let sagemaker = aws_sdk_sagemaker::Client::new(&local.sdk);
    let group = local.parameter("ModelPackageGroupName");
    let waiting = sagemaker
        .list_model_packages()
        .model_package_group_name(&group)
        .model_approval_status(ModelApprovalStatus::PendingManualApproval)
        .send()
        .await
        .map_err(|e| format!("cannot list {group}: {e}"))?;
    let arn = waiting
        .model_package_summary_list()
        .iter()
        .filter_map(|p| p.model_package_arn())
        .max_by_key(|arn| arn.rsplit('/').next().and_then(|v| v.parse::<u32>().ok()))
        .ok_or_else(|| format!("no version of {group} is waiting for approval"))?
        .to_owned();
    sagemaker
        .update_model_package()
        .model_package_arn(&arn)
        .model_approval_status(ModelApprovalStatus::Approved)
        .approval_description("Approved from the local loop.")
        .send()
        .await
        .map_err(|e| format!("cannot approve {arn}: {e}"))?;
    println!("  approved {arn}");
    Ok(())
}
