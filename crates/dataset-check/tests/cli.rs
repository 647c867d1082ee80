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
