//! `text-monitor`: the project's model monitor for people, no AWS needed. `baseline` profiles a training file as
//! the training workflow's baseline does; `check` judges captured requests and ground truth against it with the
//! monitoring function's own engine.
//!
//! `check` prints the JSON report on stdout and a one-line verdict on stderr. Exit status: 0 no violation, 1 a
//! violation, 2 the arguments, the baseline or an input could not be used.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dataset_check::profile::Profile;
use dataset_check::{Contract, check_profiled};
use text_monitor::capture::LineDefect;
use text_monitor::monitor::{Monitor, Settings};

/// The project's own model monitor for text classification.
#[derive(Parser)]
#[command(name = "text-monitor", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Profile a training file (CSV or JSON Lines, its dataset contract's fields) into a baseline.
    Baseline {
        /// The training file.
        file: PathBuf,
        /// Its dataset contract (JSON).
        #[arg(long, default_value = "dataset-contract.json")]
        contract: PathBuf,
        /// Where to write the baseline.
        #[arg(short, long, default_value = "baseline.json")]
        output: PathBuf,
    },
    /// Judge capture files and ground truth against a baseline.
    Check {
        /// The baseline: `text-monitor baseline`'s output, a profile from `dataset-check --profile`, or a model
        /// version's stored baseline.
        #[arg(long)]
        baseline: PathBuf,
        /// SageMaker data capture: a file, or a folder read recursively.
        #[arg(long)]
        capture: Vec<PathBuf>,
        /// Model Monitor ground truth: a file, or a folder read recursively.
        #[arg(long = "ground-truth")]
        ground_truth: Vec<PathBuf>,
        /// The weighted F1 the model must keep (0 to 1); without it model quality is measured, not judged.
        #[arg(long, value_parser = unit_interval)]
        min_f1: Option<f64>,
        /// Labelled records under which model quality is not judged.
        #[arg(long, default_value_t = 200)]
        min_labelled: u64,
        /// The text's field in a JSON request.
        #[arg(long, default_value = "text")]
        text_field: String,
        /// The label's field in JSON ground truth.
        #[arg(long, default_value = "label")]
        label_field: String,
        /// A field of JSON ground truth naming each record's segment (channel, language): each class's recall
        /// is compared across its values.
        #[arg(long)]
        segment_field: Option<String>,
        /// The record id's field in batch output joined with its input, and in batch ground truth.
        #[arg(long, default_value = "id")]
        record_id_field: String,
    },
}

const UNUSABLE: u8 = 2;

/// The longest line read (SageMaker caps a request or response at 6 MB; base64 and JSON escaping add a third):
/// a longer one is counted as a defect and skipped, never held whole.
const MAX_LINE: u64 = 16 << 20;

fn unit_interval(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("{value} is not a number from 0 to 1")),
    }
}

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
    let result = match args.command {
        Command::Baseline {
            file,
            contract,
            output,
        } => baseline(&file, &contract, &output).map(|()| true),
        Command::Check {
            baseline,
            capture,
            ground_truth,
            min_f1,
            min_labelled,
            text_field,
            label_field,
            segment_field,
            record_id_field,
        } => {
            let mut settings = Settings {
                min_f1,
                min_labelled,
                ..Settings::default()
            };
            settings.reading.text_field = text_field;
            settings.reading.label_field = label_field;
            settings.reading.segment_field = segment_field;
            settings.reading.record_id_field = record_id_field;
            check(&baseline, &capture, &ground_truth, &settings)
        }
    };
    match result {
        Ok(clean) => ExitCode::from(if clean { 0 } else { 1 }),
        Err(message) => {
            eprintln!("text-monitor: {message}");
            ExitCode::from(UNUSABLE)
        }
    }
}

fn baseline(file: &Path, contract: &Path, output: &Path) -> Result<(), String> {
    let json = std::fs::read_to_string(contract)
        .map_err(|e| format!("cannot read the contract {}: {e}", contract.display()))?;
    let contract =
        Contract::from_json(&json).map_err(|e| format!("{}: {e}", contract.display()))?;
    let input =
        std::fs::File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let name = file.display().to_string();
    let (report, profile) =
        check_profiled(input, &name, &contract, None).map_err(|e| e.to_string())?;
    if !report.is_valid() {
        return Err(format!(
            "{name} does not pass its contract: {}",
            report.summary()
        ));
    }
    let json = serde_json::to_vec(&profile).map_err(|e| e.to_string())?;
    std::fs::write(output, json).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    eprintln!(
        "{name}: baseline of {} texts written to {}",
        profile.texts,
        output.display()
    );
    Ok(())
}

/// The profile in `path`: a profile itself, or a document that holds one under `profile` (a stored baseline).
fn read_baseline(path: &Path) -> Result<Profile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let profile = match value.get("profile") {
        Some(inner) => inner.clone(),
        None => value,
    };
    serde_json::from_value(profile)
        .map_err(|e| format!("{} is not a baseline: {e}", path.display()))
}

fn check(
    baseline: &Path,
    capture: &[PathBuf],
    ground_truth: &[PathBuf],
    settings: &Settings,
) -> Result<bool, String> {
    let profile = read_baseline(baseline)?;
    let mut monitor = Monitor::new(&profile, settings);
    for path in files(capture)? {
        lines(&path, |line| match line {
            Some(line) => monitor.capture_line(line),
            None => monitor.capture_defect(LineDefect::TooLong),
        })?;
    }
    for path in files(ground_truth)? {
        lines(&path, |line| match line {
            Some(line) => monitor.truth_line(line),
            None => monitor.truth_defect(LineDefect::TooLong),
        })?;
    }
    let report = monitor.finish();
    if report.capture.read == 0 {
        let named: Vec<String> = capture.iter().map(|p| p.display().to_string()).collect();
        return Err(format!(
            "no capture line read from {}: nothing to judge",
            named.join(", ")
        ));
    }
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &report).map_err(|e| e.to_string())?;
    let _ = writeln!(stdout);
    eprintln!("{}", report.verdict());
    Ok(report.violations().is_empty())
}

/// The files named, folders read recursively in name order (hourly prefixes sort by time). Inside a folder,
/// hidden entries, symbolic links and special files are passed over (a link could loop); a path named on the
/// command line may be a link.
fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let hidden = p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                    let plain = std::fs::symlink_metadata(p)
                        .is_ok_and(|m| m.file_type().is_dir() || m.file_type().is_file());
                    !hidden && plain
                })
                .collect();
            entries.sort();
            out.extend(files(&entries)?);
        } else if path.is_file() {
            out.push(path.clone());
        } else {
            return Err(format!("{} is neither a file nor a folder", path.display()));
        }
    }
    Ok(out)
}

/// Each non-empty line of `path`; `None` for a line longer than [`MAX_LINE`], which is skipped unread.
fn lines(path: &Path, mut each: impl FnMut(Option<&[u8]>)) -> Result<(), String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut reader = BufReader::new(file);
    let failed = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .map_err(failed)?;
        if read == 0 {
            return Ok(());
        }
        if line.len() as u64 > MAX_LINE && line.last() != Some(&b'\n') {
            // Skip the rest of the line, a megabyte at a time.
            loop {
                line.clear();
                let n = (&mut reader)
                    .take(1 << 20)
                    .read_until(b'\n', &mut line)
                    .map_err(failed)?;
                if n == 0 || line.last() == Some(&b'\n') {
                    break;
                }
            }
            each(None);
        } else if line.iter().any(|b| !b.is_ascii_whitespace()) {
            each(Some(&line));
        }
    }
}
