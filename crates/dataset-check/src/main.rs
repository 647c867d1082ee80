//! `dataset-check`: the ingest stage's check, for data producers to run in their own CI before uploading.
//!
//! Prints the JSON report on stdout and a one-line verdict on stderr. Exit status: 0 valid, 1 invalid, 2 the
//! arguments, the contract or the file could not be used.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dataset_check::{Contract, Format, check, check_profiled};

/// Check a text-classification dataset (CSV or JSON Lines, optionally gzip) against its dataset contract.
#[derive(Parser)]
#[command(name = "dataset-check", version, about)]
struct Args {
    /// The dataset file, or `-` for standard input.
    file: String,
    /// The dataset contract (JSON).
    #[arg(long, default_value = "dataset-contract.json")]
    contract: PathBuf,
    /// Override the format the contract or the file name implies.
    #[arg(long, value_parser = ["csv", "jsonl"])]
    format: Option<String>,
    /// Also profile the valid texts (labels, lengths, character classes, scripts, vocabulary) in the same pass
    /// and write the profile, as validate-ingest stores it for the baseline, to this file.
    #[arg(long, value_name = "PATH")]
    profile: Option<PathBuf>,
}

const UNUSABLE: u8 = 2;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(UNUSABLE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(&args) {
        Ok(valid) => ExitCode::from(if valid { 0 } else { 1 }),
        Err(message) => {
            eprintln!("dataset-check: {message}");
            ExitCode::from(UNUSABLE)
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let contract_json = std::fs::read_to_string(&args.contract)
        .map_err(|e| format!("cannot read the contract {}: {e}", args.contract.display()))?;
    let contract = Contract::from_json(&contract_json)
        .map_err(|e| format!("{}: {e}", args.contract.display()))?;
    let format = args.format.as_deref().and_then(Format::parse);

    let input: Box<dyn Read> = if args.file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&args.file)
                .map_err(|e| format!("cannot open {}: {e}", args.file))?,
        )
    };
    let report = match &args.profile {
        None => check(input, &args.file, &contract, format).map_err(|e| e.to_string())?,
        Some(path) => {
            let (report, profile) =
                check_profiled(input, &args.file, &contract, format).map_err(|e| e.to_string())?;
            let json = serde_json::to_vec(&profile)
                .map_err(|e| format!("cannot write the profile: {e}"))?;
            std::fs::write(path, json)
                .map_err(|e| format!("cannot write the profile {}: {e}", path.display()))?;
            report
        }
    };

    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &report)
        .map_err(|e| format!("cannot write the report: {e}"))?;
    let _ = writeln!(stdout);
    eprintln!("{}: {}", args.file, report.summary());
    Ok(report.is_valid())
}
