//! The `text-monitor` binary on real-shaped files: a baseline from a training file, then SageMaker capture (JSON,
//! base64 and CSV bodies) and Model Monitor ground truth judged against it. Report on stdout, verdict on stderr,
//! exit 0 no violation, 1 a violation, 2 unusable input.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use text_monitor::samples::WORDS;

const BIN: &str = env!("CARGO_BIN_EXE_text-monitor");
const LABELS: [&str; 3] = ["facturacion", "soporte", "ventas"];

/// A fresh folder for one test.
fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("text-monitor-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(rng: &mut StdRng, words: std::ops::Range<usize>) -> String {
    let n = rng.random_range(words);
    (0..n)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A contract and a training file of 2,000 rows; returns the baseline written by `text-monitor baseline`.
fn baseline(dir: &Path) -> PathBuf {
    let contract = dir.join("contract.json");
    std::fs::write(
        &contract,
        json!({
            "version": 1, "name": "tickets", "format": "auto", "text_field": "text", "label_field": "label",
            "labels": LABELS, "min_text_chars": 3, "max_text_chars": 400, "max_null_fraction": 0.05,
            "max_duplicate_fraction": 0.2, "max_invalid_row_fraction": 0, "min_rows": 10, "max_bytes": 10485760
        })
        .to_string(),
    )
    .unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let mut train = String::from("text,label\n");
    for i in 0..2_000 {
        train.push_str(&format!(
            "{} {i},{}\n",
            text(&mut rng, 4..12),
            LABELS[i % 3]
        ));
    }
    let file = dir.join("train.csv");
    std::fs::write(&file, train).unwrap();
    let out = dir.join("baseline.json");
    let run = run(&[
        "baseline",
        file.to_str().unwrap(),
        "--contract",
        contract.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

/// `n` captured requests (texts of `words` words) whose answers are right `right` times in a hundred, and their
/// ground truth, in an hourly layout; the bodies cycle through JSON, base64 and CSV, and one capture line is
/// malformed.
fn traffic(
    dir: &Path,
    n: usize,
    words: std::ops::Range<usize>,
    right: usize,
) -> (PathBuf, PathBuf) {
    let mut rng = StdRng::seed_from_u64(2);
    let (mut capture, mut truth) = (String::new(), String::new());
    for i in 0..n {
        let truly = LABELS[i % 3];
        let predicted = if i % 100 < right {
            truly
        } else {
            LABELS[(i + 1) % 3]
        };
        // A number in each text, as the training file has (its rows are numbered): the same character classes.
        let t = format!("{} {i}", text(&mut rng, words.clone()));
        let (input, output) = match i % 3 {
            0 => (
                json!({"observedContentType": "application/json", "mode": "INPUT", "data": json!({"text": t}).to_string(), "encoding": "JSON"}),
                json!({"observedContentType": "application/json", "mode": "OUTPUT", "data": json!({"label": predicted, "confidence": 0.9}).to_string(), "encoding": "JSON"}),
            ),
            1 => {
                let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
                (
                    json!({"observedContentType": "application/json", "mode": "INPUT", "data": b64(json!({"text": t}).to_string()), "encoding": "BASE64"}),
                    json!({"observedContentType": "application/json", "mode": "OUTPUT", "data": b64(json!({"label": predicted, "confidence": 0.8}).to_string()), "encoding": "BASE64"}),
                )
            }
            _ => (
                json!({"observedContentType": "text/csv", "mode": "INPUT", "data": format!("\"{t}\""), "encoding": "CSV"}),
                json!({"observedContentType": "text/csv", "mode": "OUTPUT", "data": format!("{predicted},0.7"), "encoding": "CSV"}),
            ),
        };
        let event = format!("ev-{i}");
        capture.push_str(
            &json!({
                "captureData": {"endpointInput": input, "endpointOutput": output},
                "eventMetadata": {"eventId": event, "inferenceTime": "2026-12-01T10:00:01Z"},
                "eventVersion": "0"
            })
            .to_string(),
        );
        capture.push('\n');
        truth.push_str(
            &json!({
                "groundTruthData": {"data": truly, "encoding": "CSV"},
                "eventMetadata": {"eventId": event},
                "eventVersion": "0"
            })
            .to_string(),
        );
        truth.push('\n');
    }
    capture.push_str("{\"captureData\": \n");
    let hour = |root: &str| dir.join(root).join("tickets/AllTraffic/2026/12/01/10");
    for (root, body) in [("capture", &capture), ("ground-truth", &truth)] {
        std::fs::create_dir_all(hour(root)).unwrap();
        std::fs::write(hour(root).join("part-0.jsonl"), body).unwrap();
    }
    (dir.join("capture"), dir.join("ground-truth"))
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn check(
    baseline: &Path,
    capture: &Path,
    truth: &Path,
    extra: &[&str],
) -> (Option<i32>, Value, String) {
    let mut args = vec![
        "check",
        "--baseline",
        baseline.to_str().unwrap(),
        "--capture",
        capture.to_str().unwrap(),
        "--ground-truth",
        truth.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        report,
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_same_traffic_with_a_good_model_passes_and_every_encoding_is_read() {
    let dir = folder("clean");
    let baseline = baseline(&dir);
    let (capture, truth) = traffic(&dir, 900, 4..12, 92);
    let (code, report, verdict) = check(&baseline, &capture, &truth, &["--min-f1", "0.85"]);
    assert_eq!(code, Some(0), "{verdict}\n{report}");
    assert_eq!(report["capture"]["read"], 900);
    assert_eq!(
        report["capture"]["defects"]["malformed"], 1,
        "a malformed line is counted, not fatal"
    );
    assert_eq!(
        report["modelQuality"]["join"]["matched"], 900,
        "JSON, base64 and CSV answers all joined"
    );
    assert_eq!(report["modelQuality"]["judged"], true);
    assert!(verdict.starts_with("no violation"), "{verdict}");
}

#[test]
fn drifted_texts_and_a_significant_f1_drop_are_violations_a_small_sample_is_not() {
    let dir = folder("drift");
    let baseline = baseline(&dir);
    let (capture, truth) = traffic(&dir, 900, 25..40, 70);
    let (code, _, verdict) = check(&baseline, &capture, &truth, &["--min-f1", "0.85"]);
    assert_eq!(code, Some(1), "{verdict}");
    for named in ["text-length-chars", "text-length-tokens", "model-quality"] {
        assert!(verdict.contains(named), "{verdict}");
    }
    // Forty labelled records at 70 %: measured, not judged.
    let small = folder("small");
    let (capture, truth) = traffic(&small, 40, 4..12, 70);
    let (code, report, verdict) = check(&baseline, &capture, &truth, &["--min-f1", "0.85"]);
    assert_eq!(code, Some(0), "{verdict}");
    assert_eq!(report["modelQuality"]["judged"], false);
}

#[test]
fn unusable_input_exits_2_with_a_reason() {
    let dir = folder("unusable");
    let baseline = baseline(&dir);
    let missing = dir.join("no-such-folder");
    let (code, _, verdict) = check(&baseline, &missing, &missing, &[]);
    assert_eq!(code, Some(2));
    assert!(verdict.contains("neither a file nor a folder"), "{verdict}");
    let empty = dir.join("empty-hour");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, verdict) = check(&baseline, &empty, &empty, &[]);
    assert_eq!(code, Some(2), "nothing read is not a clean bill");
    assert!(verdict.contains("nothing to judge"), "{verdict}");
    let (code, _, _) = check(&baseline, &empty, &empty, &["--min-f1", "NaN"]);
    assert_eq!(
        code,
        Some(2),
        "a threshold that can never breach is refused"
    );
    std::fs::write(dir.join("not-a-baseline.json"), "{\"rows\": 3}").unwrap();
    let (code, _, verdict) = check(&dir.join("not-a-baseline.json"), &dir, &dir, &[]);
    assert_eq!(code, Some(2));
    assert!(verdict.contains("is not a baseline"), "{verdict}");
}
