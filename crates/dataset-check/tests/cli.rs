//! The `dataset-check` binary's contract with CI scripts: report on stdout, verdict on stderr, exit 0 valid,
//! 1 invalid, 2 unusable arguments, contract or file.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_dataset-check");

fn corpus(name: &str) -> String {
    format!("{}/tests/corpus/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        input.write_all(data).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

#[test]
fn valid_file_exits_0_with_the_report_on_stdout() {
    let out = run(
        &["--contract", &corpus("contract.json"), &corpus("valid.csv")],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "valid");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr
            .trim_end()
            .ends_with("valid: 20 rows, 4 labels, 0.00% null, 0.00% duplicate"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
}

#[test]
fn invalid_file_exits_1_and_names_the_reason() {
    let out = run(
        &[
            "--contract",
            &corpus("contract.json"),
            &corpus("latin1.csv"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "invalid");
    assert!(String::from_utf8(out.stderr).unwrap().contains("not_utf8"));
}

#[test]
fn stdin_with_an_explicit_format() {
    let data = std::fs::read(corpus("valid.jsonl")).unwrap();
    let out = run(
        &[
            "--contract",
            &corpus("contract.json"),
            "--format",
            "jsonl",
            "-",
        ],
        Some(&data),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unusable_arguments_contract_or_file_exit_2() {
    let contract = corpus("contract.json");
    let cases: [&[&str]; 4] = [
        &["--contract", &contract, "/no/such/file.csv"],
        &["--contract", "/no/such/contract.json", "x.csv"],
        &["--contract", &contract, "--format", "parquet", "x.csv"],
        &["--bogus"],
    ];
    for args in cases {
        let out = run(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn several_files_get_one_report_each_in_order_and_the_worst_status() {
    let contract = corpus("contract.json");
    let (valid, latin1) = (corpus("valid.csv"), corpus("latin1.csv"));
    let out = run(&["--contract", &contract, &valid, &latin1], None);
    assert_eq!(out.status.code(), Some(1));
    let reports: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts: Vec<(&str, &str)> = reports
        .iter()
        .map(|r| {
            (
                r["object"].as_str().unwrap(),
                r["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [(valid.as_str(), "valid"), (latin1.as_str(), "invalid")]
    );
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 2);

    // A file that cannot be read makes the run unusable, and the others are still checked and reported.
    let out = run(
        &["--contract", &contract, &valid, "/no/such/file.csv"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let reports: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports.len(), 1);
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("/no/such/file.csv")
    );
}

#[test]
fn the_summary_is_for_people_and_the_report_unchanged() {
    let contract = corpus("contract.json");
    let plain = run(&["--contract", &contract, &corpus("latin1.csv")], None);
    let summarized = run(
        &["--contract", &contract, "--summary", &corpus("latin1.csv")],
        None,
    );
    assert_eq!(summarized.status.code(), Some(1));
    assert_eq!(summarized.stdout, plain.stdout);
    let stderr = String::from_utf8(summarized.stderr).unwrap();
    assert!(
        stderr.lines().next().unwrap().ends_with(": INVALID"),
        "{stderr}"
    );
    assert!(stderr.contains("not_utf8: "), "{stderr}");
    assert!(stderr.lines().count() > 3, "{stderr}");
}

#[test]
fn the_format_is_a_typed_choice_and_the_profile_takes_one_file() {
    let contract = corpus("contract.json");
    let data = std::fs::read(corpus("valid.jsonl")).unwrap();
    let out = run(
        &["--contract", &contract, "--format", "ndjson", "-"],
        Some(&data),
    );
    assert_eq!(out.status.code(), Some(0));
    let out = run(&["--contract", &contract, "--format", "xml", "-"], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("csv") && stderr.contains("jsonl"),
        "{stderr}"
    );
    let out = run(
        &[
            "--contract",
            &contract,
            "--profile",
            "/tmp/p.json",
            &corpus("valid.csv"),
            &corpus("valid.jsonl"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("one FILE"));
}
