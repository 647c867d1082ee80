//! A verdict must not depend on how the bytes arrive: every file of the bad-input corpus, and the cases below,
//! gets the same report whether it is read whole, byte by byte, or in any other slice size (a file, a pipe and
//! an S3 stream hand out different read sizes).

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::path::PathBuf;

use dataset_check::check::check;
use dataset_check::contract::Contract;
use dataset_check::report::Report;

use common::{Trickle, essence};

const SLICES: [usize; 9] = [1, 2, 3, 5, 7, 64, 4096, 65_537, usize::MAX];

fn assert_same_everywhere(name: &str, data: &[u8], contract: &Contract) -> Report {
    let whole = check(data, name, contract, None).unwrap();
    for max in SLICES {
        let sliced = check(Trickle { data, max }, name, contract, None).unwrap();
        assert_eq!(
            essence(&sliced),
            essence(&whole),
            "{name}: read {max} bytes at a time gives another report"
        );
    }
    whole
}

fn contract() -> Contract {
    Contract::from_json(
        r#"{"labels": ["facturacion", "soporte", "ventas", "Otros"], "min_text_chars": 3,
            "max_text_chars": 200, "max_null_fraction": 0.2, "max_duplicate_fraction": 0.5, "min_rows": 2}"#,
    )
    .unwrap()
}

fn gzip(members: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for member in members {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(member).unwrap();
        out.extend(gz.finish().unwrap());
    }
    out
}

#[test]
fn every_corpus_file_gets_the_same_report_at_every_read_size() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let contract =
        Contract::from_json(&std::fs::read_to_string(dir.join("contract.json")).unwrap()).unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if matches!(
            name.as_str(),
            "contract.json" | "expected.json" | "make_corpus.py"
        ) {
            continue;
        }
        assert_same_everywhere(&name, &std::fs::read(&path).unwrap(), &contract);
        checked += 1;
    }
    assert!(checked >= 10, "{checked} corpus files");
}

#[test]
fn a_line_longer_than_any_valid_row_is_refused_wherever_it_falls() {
    let contract = contract();
    let blob = "x".repeat(contract.max_record_bytes() + 10);
    let jsonl = format!(
        "{{\"text\": \"consulta uno\", \"label\": \"soporte\"}}\n\
         {{\"text\": \"consulta dos\", \"label\": \"ventas\", \"extra\": \"{blob}\"}}\n\
         {{\"text\": \"consulta tres\", \"label\": \"Otros\"}}\n"
    );
    let report = assert_same_everywhere("long.jsonl", jsonl.as_bytes(), &contract);
    assert_eq!(report.invalid_rows, 1, "{:?}", report.reasons);
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.starts_with("record_too_long")),
        "{:?}",
        report.reasons
    );
}

#[test]
fn a_gzip_whose_first_member_is_the_byte_order_mark_is_read_whole() {
    let contract = contract();
    let csv = b"text,label\nconsulta uno,soporte\nconsulta dos,ventas\nconsulta tres,Otros\n";
    let data = gzip(&[b"\xEF\xBB\xBF", csv]);
    let report = assert_same_everywhere("tickets.csv.gz", &data, &contract);
    assert_eq!(report.rows, 3, "{:?}", report.reasons);
    assert!(report.is_valid(), "{:?}", report.reasons);
    let jsonl = gzip(&[
        b"\xEF\xBB\xBF",
        b"{\"text\": \"consulta uno\", \"label\": \"soporte\"}\n{\"text\": \"consulta dos\", \"label\": \"ventas\"}\n",
    ]);
    let report = assert_same_everywhere("tickets.jsonl.gz", &jsonl, &contract);
    assert_eq!(report.rows, 2, "{:?}", report.reasons);
}
