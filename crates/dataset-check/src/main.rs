//! `dataset-check`: the ingest stage's check, for data producers to run in their own CI before uploading.
//!
//! Prints the JSON report on stdout (one file: the report; several: an array of them, in order) and a verdict
//! per file on stderr (one line, or a short summary with `--summary`). Exit status: 0 every file valid, 1 a file
//! invalid, 2 the arguments, the contract or a file could not be used (the files that could are still checked
//! and reported).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use dataset_check::{Contract, Format, Report, check, check_profiled};

/// Check text-classification datasets (CSV or JSON Lines, optionally gzip) against their dataset contract.
#[derive(Parser)]
#[command(name = "dataset-check", version, about)]
struct Args {
    /// The dataset files, one verdict each; `-` for standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// The dataset contract (JSON).
    #[arg(long, default_value = "dataset-contract.json")]
    contract: PathBuf,
    /// Override the format the contract or the file name implies.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Also profile the valid texts (labels, lengths, character classes, scripts, vocabulary) in the same pass
    /// and write the profile, as validate-ingest stores it for the baseline, to this file (one FILE only).
    #[arg(long, value_name = "PATH")]
    profile: Option<PathBuf>,
    /// On stderr, a short summary of each file for people (figures, reasons, failed checks, first examples)
    /// instead of one line.
    #[arg(long)]
    summary: bool,
}

/// The formats `--format` takes.
#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// CSV with a header row.
    Csv,
    /// JSON Lines (also `ndjson`).
    #[value(alias = "ndjson")]
    Jsonl,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Csv => Format::Csv,
            FormatArg::Jsonl => Format::Jsonl,
        }
    }
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
        Ok(status) => ExitCode::from(status),
        Err(message) => {
            eprintln!("dataset-check: {message}");
            ExitCode::from(UNUSABLE)
        }
    }
}

/// Checks every file; the exit status: the worst of the files' (0 valid, 1 invalid, 2 unusable).
fn run(args: &Args) -> Result<u8, String> {
    if args.profile.is_some() && args.files.len() > 1 {
        return Err("--profile writes one file's profile: give one FILE".to_owned());
    }
    if args.files.iter().filter(|f| *f == "-").count() > 1 {
        return Err("standard input (-) can be read once".to_owned());
    }
    let contract_json = std::fs::read_to_string(&args.contract)
        .map_err(|e| format!("cannot read the contract {}: {e}", args.contract.display()))?;
    let contract = Contract::from_json(&contract_json)
        .map_err(|e| format!("{}: {e}", args.contract.display()))?;
    let mut reports = Vec::new();
    let mut status = 0;
    for file in &args.files {
        match check_one(args, file, &contract) {
            Ok(report) => {
                if args.summary {
                    eprint!("{}", report.human_summary());
                } else {
                    eprintln!("{file}: {}", report.summary());
                }
                status = status.max(u8::from(!report.is_valid()));
                reports.push(report);
            }
            Err(message) => {
                eprintln!("dataset-check: {message}");
                status = UNUSABLE;
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    let written = if args.files.len() == 1 {
        reports
            .first()
            .map_or(Ok(()), |r| serde_json::to_writer_pretty(&mut stdout, r))
    } else {
        serde_json::to_writer_pretty(&mut stdout, &reports)
    };
    written.map_err(|e| format!("cannot write the report: {e}"))?;
    if !reports.is_empty() {
        let _ = writeln!(stdout);
    }
    Ok(status)
}

/// One file's report (and its profile, with `--profile`).
fn check_one(args: &Args, file: &str, contract: &Contract) -> Result<Report, String> {
    let format = args.format.map(Format::from);
    let input: Box<dyn Read> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(file).map_err(|e| format!("cannot open {file}: {e}"))?)
    };
    let Some(path) = &args.profile else {
        return check(input, file, contract, format).map_err(|e| format!("{file}: {e}"));
    };
    let (report, profile) =
        check_profiled(input, file, contract, format).map_err(|e| format!("{file}: {e}"))?;
    let json =
        serde_json::to_vec(&profile).map_err(|e| format!("cannot write the profile: {e}"))?;
    std::fs::write(path, json)
        .map_err(|e| format!("cannot write the profile {}: {e}", path.display()))?;
    Ok(report)
}
