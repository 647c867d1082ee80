//! The bad-input corpus: every file under `tests/corpus/` gets the verdict and the specific reason
//! `expected.json` names, without a panic. `make_corpus.py` regenerates the files.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use dataset_check::check::check;
use dataset_check::contract::Contract;
use dataset_check::report::Verdict;
use serde::Deserialize;

#[derive(Deserialize)]
struct Expected {
    verdict: Verdict,
    rows: Option<u64>,
    reason: Option<String>,
    failure: Option<String>,
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

#[test]
fn every_corpus_file_gets_its_specific_verdict() {
    let dir = corpus_dir();
    let contract =
        Contract::from_json(&std::fs::read_to_string(dir.join("contract.json")).unwrap()).unwrap();
    let expected: BTreeMap<String, Expected> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();

    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            !matches!(
                n.as_str(),
                "contract.json" | "expected.json" | "make_corpus.py"
            )
        })
        .collect();
    files.sort();
    assert_eq!(
        files,
        expected.keys().cloned().collect::<Vec<_>>(),
        "every corpus file needs an expectation"
    );

    let mut problems = Vec::new();
    for (file, want) in &expected {
        let input = std::fs::File::open(dir.join(file)).unwrap();
        let report = check(input, file, &contract, None).unwrap();
        let json = serde_json::to_string_pretty(&report).unwrap();
        if report.verdict != want.verdict {
            problems.push(format!("{file}: verdict {:?}\n{json}", report.verdict));
            continue;
        }
        if let Some(rows) = want.rows
            && report.rows != rows
        {
            problems.push(format!("{file}: {} rows, expected {rows}", report.rows));
        }
        if let Some(reason) = &want.reason
            && !report.reasons.iter().any(|r| r.contains(reason.as_str()))
        {
            problems.push(format!("{file}: no reason containing {reason:?}\n{json}"));
        }
        if let Some(failure) = &want.failure {
            let examples = report.failures.get(failure).map(|f| f.examples.len());
            if !matches!(examples, Some(n) if n > 0)
                || !report.reasons.iter().any(|r| r.contains(failure.as_str()))
            {
                problems.push(format!(
                    "{file}: no {failure:?} failure with examples\n{json}"
                ));
            }
        }
        if report.verdict == Verdict::Invalid && report.reasons.is_empty() {
            problems.push(format!("{file}: invalid without a reason"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
