//! Verdicts on hostile input that must not pass: quotes left open or followed by text, bytes that are not UTF-8
//! anywhere in the file, an ambiguous header, texts that only look long enough.

#![allow(clippy::unwrap_used)]

use dataset_check::check::check;
use dataset_check::contract::Contract;
use dataset_check::report::Report;

fn contract() -> Contract {
    Contract::from_json(
        r#"{"labels": ["facturacion", "soporte", "ventas", "Otros"], "min_text_chars": 3,
            "max_text_chars": 200, "max_null_fraction": 0.5, "max_duplicate_fraction": 0.5, "min_rows": 1}"#,
    )
    .unwrap()
}

fn csv(body: &[u8]) -> Report {
    check(body, "tickets.csv", &contract(), None).unwrap()
}

fn rows(n: usize) -> String {
    let labels = ["facturacion", "soporte", "ventas", "Otros"];
    (0..n)
        .map(|i| format!("\"Consulta número {i}\",{}\n", labels[i % 4]))
        .collect()
}

#[test]
fn a_quote_left_open_mid_file_does_not_merge_rows_silently() {
    let mut body = String::from("text,label\n");
    body.push_str(&rows(10));
    body.push_str("\"Consulta sin cerrar,soporte\n");
    body.push_str(&rows(89));
    let report = csv(body.as_bytes());
    assert!(!report.is_valid(), "{:?}", report.reasons);
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.starts_with("unparsable") && r.contains("closing quote")),
        "{:?}",
        report.reasons
    );
}

#[test]
fn text_after_a_closing_quote_makes_the_row_unparsable() {
    let body = format!("text,label\n{}\"Consulta\" y más,soporte\n", rows(5));
    let report = csv(body.as_bytes());
    assert_eq!(report.rows, 6);
    assert_eq!(report.invalid_rows, 1, "{:?}", report.reasons);
    // An escaped quote and a quote inside an unquoted field are fine.
    let body = format!(
        "text,label\n{}\"Dice \"\"hola\"\" y se va\",soporte\npantalla de 5\" rota,ventas\n",
        rows(5)
    );
    let report = csv(body.as_bytes());
    assert!(report.is_valid(), "{:?}", report.reasons);
}

#[test]
fn utf8_is_required_of_every_column() {
    let mut body = b"text,label,notes\n".to_vec();
    body.extend_from_slice(rows(4).replace('\n', ",ok\n").as_bytes());
    body.extend_from_slice(b"\"Consulta buena\",soporte,caf\xE9\n");
    let report = csv(&body);
    assert_eq!(report.invalid_rows, 1, "{:?}", report.reasons);
    assert!(
        report.reasons.iter().any(|r| r.starts_with("not_utf8")),
        "{:?}",
        report.reasons
    );
}

#[test]
fn a_header_naming_the_text_or_label_column_twice_is_refused() {
    for header in ["text,label,text", "label,text,label"] {
        let body = format!("{header}\n\"a b c\",soporte,\"d e f\"\n");
        let report = csv(body.as_bytes());
        assert!(!report.is_valid(), "{header}");
        assert!(
            report.reasons.iter().any(|r| r.contains("more than once")),
            "{header}: {:?}",
            report.reasons
        );
    }
}

#[test]
fn length_emptiness_and_duplicates_are_judged_on_the_same_trimmed_text() {
    // "  ab  " is two characters: too short, though six bytes long.
    let report = csv(b"text,label\n\"  ab  \",soporte\n\"una consulta\",ventas\n");
    assert_eq!(report.invalid_rows, 1, "{:?}", report.reasons);
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.starts_with("text_too_short")),
        "{:?}",
        report.reasons
    );
    // Control characters only: an empty text.
    let report =
        csv("text,label\n\"\u{1}\u{2}\u{7f}\",soporte\n\"una consulta\",ventas\n".as_bytes());
    assert_eq!(report.null_texts, 1, "{:?}", report.reasons);
    // The same text with control characters around it is a duplicate.
    let report = csv(
        "text,label\n\"una consulta\",soporte\n\"\u{1}una consulta\u{1}\",soporte\n".as_bytes(),
    );
    assert_eq!(report.duplicate_rows, 1, "{:?}", report.reasons);
}
