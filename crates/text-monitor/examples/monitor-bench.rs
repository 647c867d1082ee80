//! `make bench` for the monitor: capture throughput and peak memory, the ground-truth join of a million labelled
//! records, and the statistics' measured false-alarm and detection rates on synthetic data.
//!
//! `monitor-bench` runs everything and prints the tables; it runs the throughput and join measurements in child
//! processes of itself (`monitor-bench throughput FILE` and `monitor-bench join N`), so each peak RSS is that
//! measurement's alone. `BENCH_CAPTURE_MB` sets the capture sizes (default "10 100"; add 1000 for a gigabyte).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use dataset_check::profile::{Profile, Profiler};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;
use text_monitor::drift::{InputDrift, Limits};
use text_monitor::join::Joiner;
use text_monitor::monitor::{Monitor, Settings};
use text_monitor::quality::{Confusion, REPLICATES};

const LABELS: [&str; 3] = ["facturacion", "soporte", "ventas"];
/// Windows per statistical measurement.
const WINDOWS: u64 = 200;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("throughput") => throughput(Path::new(&args[2]), Path::new(&args[3])),
        Some("join") => join(args[2].parse().unwrap()),
        _ => all(),
    }
}

/// Peak resident memory of this process so far, in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A vocabulary of `n` made-up words, drawn Zipf-like (word `i` about 1/(i+1) as often as the first).
struct Words {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Words {
    fn new(n: usize, prefix: &str) -> Self {
        let words = (0..n).map(|i| format!("{prefix}{i:03}")).collect();
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|i| {
                total += 1.0 / (i as f64 + 1.0);
                total
            })
            .collect();
        Words { words, cumulative }
    }

    fn draw(&self, rng: &mut StdRng) -> &str {
        let x = rng.random_range(0.0..*self.cumulative.last().unwrap());
        let i = self.cumulative.partition_point(|&c| c < x);
        &self.words[i.min(self.words.len() - 1)]
    }
}

/// A text of `length` words, each from `new` with probability `novelty`, else from `known`.
fn text(
    rng: &mut StdRng,
    known: &Words,
    new: &Words,
    length: std::ops::Range<usize>,
    novelty: f64,
) -> String {
    let n = rng.random_range(length);
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        let from = if rng.random_bool(novelty) { new } else { known };
        out.push_str(from.draw(rng));
    }
    out
}

fn profile_of(texts: impl Iterator<Item = String>) -> Profile {
    let mut profiler = Profiler::default();
    for t in texts {
        profiler.text(&t, t.chars().count() as u64);
    }
    profiler.finish(BTreeMap::new())
}

fn all() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data/monitor");
    std::fs::create_dir_all(&data).unwrap();
    let known = Words::new(400, "w");
    let new = Words::new(400, "n");
    let mut rng = StdRng::seed_from_u64(1);
    let baseline = profile_of((0..20_000).map(|_| text(&mut rng, &known, &new, 4..20, 0.0)));
    let baseline_path = data.join("baseline.json");
    std::fs::write(&baseline_path, serde_json::to_vec(&baseline).unwrap()).unwrap();

    println!("## Capture throughput (one core, release)\n");
    println!("| capture | lines | seconds | MB/s | peak RSS MB |\n| --- | --- | --- | --- | --- |");
    let sizes = std::env::var("BENCH_CAPTURE_MB").unwrap_or_else(|_| "10 100".into());
    for mb in sizes.split_whitespace().map(|s| s.parse::<u64>().unwrap()) {
        let file = data.join(format!("capture-{mb}mb.jsonl"));
        if !file.exists() {
            generate_capture(&file, mb * 1_000_000, &known, &new);
        }
        let out = child(&[
            "throughput",
            file.to_str().unwrap(),
            baseline_path.to_str().unwrap(),
        ]);
        println!(
            "| {mb} MB | {} | {:.2} | {:.0} | {:.0} |",
            out["lines"],
            out["seconds"].as_f64().unwrap(),
            mb as f64 / out["seconds"].as_f64().unwrap(),
            out["peakRssMb"].as_f64().unwrap()
        );
    }

    println!("\n## Ground-truth join\n");
    println!("| labelled records | seconds | peak RSS MB |\n| --- | --- | --- |");
    let out = child(&["join", "1000000"]);
    println!(
        "| 1,000,000 | {:.2} | {:.0} |",
        out["seconds"].as_f64().unwrap(),
        out["peakRssMb"].as_f64().unwrap()
    );

    println!(
        "\n## Input drift: false alarms and detection over {WINDOWS} windows (default limits)\n"
    );
    println!(
        "| texts per window | none (false alarms) | length ×1.5 | 10% new words | 25% new words |\n| --- | --- | --- | --- | --- |"
    );
    for n in [1_000usize, 10_000] {
        let rate = |length: std::ops::Range<usize>, novelty: f64, seed: u64| {
            drift_rate(&baseline, &known, &new, n, length, novelty, seed)
        };
        println!(
            "| {n} | {:.1}% | {:.1}% | {:.1}% | {:.1}% |",
            rate(4..20, 0.0, 10),
            rate(6..30, 0.0, 20),
            rate(4..20, 0.10, 30),
            rate(4..20, 0.25, 40)
        );
    }

    println!(
        "\n## Model quality: a model whose weighted F1 is 0.85 judged against min F1 0.85, over {WINDOWS} windows\n"
    );
    println!(
        "| labelled per window | no drop (false alarms) | 2-point drop | 5-point drop | 10-point drop | smallest drop detected ≥ 90% |\n| --- | --- | --- | --- | --- | --- |"
    );
    for n in [1_000u64, 10_000] {
        let rate = |drop: f64| f1_rate(n, 0.85 - drop, 0.85, 7);
        let smallest = (1..=20)
            .map(|points| f64::from(points) / 100.0)
            .find(|&d| rate(d) >= 90.0)
            .map_or("> 20 points".to_owned(), |d| {
                format!("{:.0} points", d * 100.0)
            });
        println!(
            "| {n} | {:.1}% | {:.1}% | {:.1}% | {:.1}% | {smallest} |",
            rate(0.0),
            rate(0.02),
            rate(0.05),
            rate(0.10)
        );
    }
}

fn child(args: &[&str]) -> serde_json::Value {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A capture file of about `bytes`, requests in JSON bodies (every third base64), answers right 85 times in 100.
fn generate_capture(path: &Path, bytes: u64, known: &Words, new: &Words) {
    use base64::Engine as _;
    let mut rng = StdRng::seed_from_u64(3);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let (mut written, mut i) = (0u64, 0u64);
    while written < bytes {
        let t = text(&mut rng, known, new, 4..20, 0.0);
        let label = LABELS[(i % 3) as usize];
        let input = json!({"text": t}).to_string();
        let output = json!({"label": label, "confidence": 0.9}).to_string();
        let (input, output, encoding) = if i % 3 == 0 {
            let b64 = base64::engine::general_purpose::STANDARD;
            (b64.encode(input), b64.encode(output), "BASE64")
        } else {
            (input, output, "JSON")
        };
        let line = json!({
            "captureData": {
                "endpointInput": {"observedContentType": "application/json", "mode": "INPUT", "data": input, "encoding": encoding},
                "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT", "data": output, "encoding": encoding}
            },
            "eventMetadata": {"eventId": format!("ev-{i}"), "inferenceTime": "2026-12-01T10:00:01Z"},
            "eventVersion": "0"
        })
        .to_string();
        written += line.len() as u64 + 1;
        writeln!(out, "{line}").unwrap();
        i += 1;
    }
}

fn throughput(file: &Path, baseline: &Path) {
    let baseline: Profile = serde_json::from_slice(&std::fs::read(baseline).unwrap()).unwrap();
    let settings = Settings::default();
    let started = Instant::now();
    let mut monitor = Monitor::new(&baseline, &settings);
    let mut reader = BufReader::new(std::fs::File::open(file).unwrap());
    let (mut line, mut lines) = (Vec::new(), 0u64);
    while reader.read_until(b'\n', &mut line).unwrap() > 0 {
        monitor.capture_line(&line);
        line.clear();
        lines += 1;
    }
    let report = monitor.finish();
    assert_eq!(report.capture.read, lines);
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"lines": lines, "seconds": seconds, "peakRssMb": peak_rss_mb()})
    );
}

fn join(n: u64) {
    let started = Instant::now();
    let mut join = Joiner::new(2_000_000);
    let mut rng = StdRng::seed_from_u64(5);
    for i in 0..n {
        join.predicted(&format!("ev-{i}"), &[LABELS[rng.random_range(0..3)]]);
    }
    for i in 0..n {
        join.truth(&format!("ev-{i}"), LABELS[(i % 3) as usize], None);
    }
    let quality = join.confusion().quality(REPLICATES, 1).unwrap();
    assert_eq!(quality.labelled, n);
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"seconds": seconds, "peakRssMb": peak_rss_mb()})
    );
}

/// The share of windows of `n` texts (lengths `length`, `novelty` new words) with any drift violation, percent.
fn drift_rate(
    baseline: &Profile,
    known: &Words,
    new: &Words,
    n: usize,
    length: std::ops::Range<usize>,
    novelty: f64,
    seed: u64,
) -> f64 {
    let limits = Limits::default();
    let mut alarms = 0;
    for w in 0..WINDOWS {
        let mut rng = StdRng::seed_from_u64(seed * 1_000 + w);
        let mut drift = InputDrift::default();
        for _ in 0..n {
            drift.text(
                &text(&mut rng, known, new, length.clone(), novelty),
                baseline,
            );
        }
        if drift
            .finish(baseline, &limits)
            .violations()
            .next()
            .is_some()
        {
            alarms += 1;
        }
    }
    f64::from(alarms) * 100.0 / WINDOWS as f64
}

/// The share of windows of `n` labelled records, each right with probability `accuracy` (three balanced labels,
/// errors spread evenly: weighted F1 equals accuracy), judged under `min_f1` as the monitor judges, percent.
fn f1_rate(n: u64, accuracy: f64, min_f1: f64, seed: u64) -> f64 {
    let mut alarms = 0;
    for w in 0..WINDOWS {
        let mut rng = StdRng::seed_from_u64(seed * 1_000 + w);
        let mut confusion = Confusion::default();
        let index: Vec<u16> = LABELS.iter().map(|l| confusion.label_index(l)).collect();
        for i in 0..n {
            let truth = (i % 3) as usize;
            let predicted = if rng.random_bool(accuracy) {
                truth
            } else {
                (truth + rng.random_range(1..3)) % 3
            };
            confusion.add(index[truth], index[predicted]);
        }
        if confusion.quality(REPLICATES, w).unwrap().weighted_f1_bound < min_f1 {
            alarms += 1;
        }
    }
    f64::from(alarms) * 100.0 / WINDOWS as f64
}
