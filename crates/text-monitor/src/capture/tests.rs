use base64::Engine as _;
use serde_json::json;

use super::*;

/// A capture line with the request `input` and the response `output`, each `(content type, data, encoding)`.
fn line(input: Option<(&str, &str, &str)>, output: Option<(&str, &str, &str)>) -> Vec<u8> {
    let body = |(content_type, data, encoding): (&str, &str, &str)| json!({"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": encoding});
    let mut capture = serde_json::Map::new();
    if let Some(i) = input {
        capture.insert("endpointInput".into(), body(i));
    }
    if let Some(o) = output {
        capture.insert("endpointOutput".into(), body(o));
    }
    serde_json::to_vec(&json!({
        "captureData": capture,
        "eventMetadata": {"eventId": "e-1", "inferenceTime": "2026-12-01T10:00:01Z"},
        "eventVersion": "0"
    }))
    .unwrap()
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A case: its name, the line, the texts and the predictions read from it.
type Case = (
    &'static str,
    Vec<u8>,
    Vec<&'static str>,
    Vec<Result<Prediction, Defect>>,
);

fn ok(label: &str, confidence: f64) -> Result<Prediction, Defect> {
    Ok(Prediction {
        label: label.into(),
        confidence,
    })
}

#[test]
fn every_encoding_and_content_type_reads_to_texts_and_predictions() {
    let json_in = r#"{"text": "no llega la factura"}"#;
    let json_out = r#"{"label": "facturación", "confidence": 0.91}"#;
    let lines_in = "{\"text\": \"hola\"}\n{\"text\": \"adiós\"}\n";
    let lines_out = "{\"label\": \"Otros\", \"confidence\": 0.4}\n{\"label\": \"ventas\", \"confidence\": 1.7}\n";
    #[rustfmt::skip]
    let table: Vec<Case> = vec![
        ("JSON as text", line(Some(("application/json", json_in, "JSON")), Some(("application/json", json_out, "JSON"))),
         vec!["no llega la factura"], vec![ok("facturación", 0.91)]),
        ("base64, SageMaker's default", line(Some(("application/json", &b64(json_in), "BASE64")), Some(("application/json", &b64(json_out), "BASE64"))),
         vec!["no llega la factura"], vec![ok("facturación", 0.91)]),
        ("JSON Lines, two records, one answer out of range", line(Some(("application/jsonlines", lines_in, "JSON")), Some(("application/jsonlines", lines_out, "JSON"))),
         vec!["hola", "adiós"], vec![ok("Otros", 0.4), Err(Defect::OutOfRange)]),
        ("CSV: the text is the first column, the answer label,confidence", line(Some(("text/csv", "\"hola, buenas\",es", "CSV")), Some(("text/csv", "soporte,0.8", "CSV"))),
         vec!["hola, buenas"], vec![ok("soporte", 0.8)]),
        ("instances", line(Some(("application/json", r#"{"instances": [{"text": "a"}, {"text": "b"}]}"#, "JSON")), None),
         vec!["a", "b"], vec![]),
        ("a bare string", line(Some(("application/json", r#""solo texto""#, "JSON")), Some(("text/csv", "ventas", "CSV"))),
         vec!["solo texto"], vec![Err(Defect::MissingConfidence)]),
        ("probabilities only", line(None, Some(("application/json", r#"{"probabilities": {"ventas": 0.3, "soporte": 0.7}}"#, "JSON"))),
         vec![], vec![ok("soporte", 0.7)]),
    ];
    for (case, line, texts, predictions) in table {
        let captured =
            read_capture(&line, &Reading::default()).unwrap_or_else(|e| panic!("{case}: {e:?}"));
        assert_eq!(captured.event_id, "e-1", "{case}");
        assert_eq!(captured.texts, texts, "{case}");
        assert_eq!(captured.predictions, predictions, "{case}");
    }
}

#[test]
fn a_line_that_does_not_read_is_named_not_fatal() {
    #[rustfmt::skip]
    let table: Vec<(&str, Vec<u8>, LineDefect)> = vec![
        ("not JSON",                   b"{\"captureData\": ".to_vec(),                                                   LineDefect::Malformed),
        ("no event id",                br#"{"captureData": {}, "eventMetadata": {}}"#.to_vec(),                         LineDefect::Malformed),
        ("an unknown encoding",        line(Some(("application/json", "{}", "GZIP")), None),                             LineDefect::Malformed),
        ("base64 that is not",         line(Some(("application/json", "%%%", "BASE64")), None),                          LineDefect::Undecodable),
        ("base64 of bytes, not UTF-8", line(Some(("application/json", &base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe]), "BASE64")), None), LineDefect::Undecodable),
        ("a JSON body that is not",    line(Some(("application/json", "{\"text\": ", "JSON")), None),                   LineDefect::UnreadableBody),
        ("a record without the text",  line(Some(("application/json", r#"{"body": "hola"}"#, "JSON")), None),          LineDefect::UnreadableBody),
    ];
    for (case, line, defect) in table {
        assert_eq!(
            read_capture(&line, &Reading::default()),
            Err(defect),
            "{case}"
        );
    }
}

#[test]
fn ground_truth_reads_as_model_monitor_writes_it() {
    let truth = |data: &str, encoding: &str| {
        serde_json::to_vec(&json!({
            "groundTruthData": {"data": data, "encoding": encoding},
            "eventMetadata": {"eventId": "e-7"},
            "eventVersion": "0"
        }))
        .unwrap()
    };
    let label = |l: &str| {
        Ok(Truth {
            event_id: "e-7".into(),
            label: l.into(),
            segment: None,
        })
    };
    #[rustfmt::skip]
    let table: Vec<(&str, Vec<u8>, Result<Truth, LineDefect>)> = vec![
        ("CSV",                      truth("soporte", "CSV"),                          label("soporte")),
        ("CSV, quoted",              truth("\"ventas, mayoreo\"", "CSV"),              label("ventas, mayoreo")),
        ("JSON object",              truth(r#"{"label": "Otros", "channel": "email"}"#, "JSON"), label("Otros")),
        ("JSON string",              truth(r#""ventas""#, "JSON"),                     label("ventas")),
        ("a class id",               truth("3", "JSON"),                               label("3")),
        ("base64",                   truth(&b64(r#"{"label": "soporte"}"#), "BASE64"), label("soporte")),
        ("empty",                    truth("", "CSV"),                                 Err(LineDefect::UnreadableBody)),
        ("no label field",           truth(r#"{"class": "x"}"#, "JSON"),               Err(LineDefect::UnreadableBody)),
        ("not a ground-truth line",  b"{\"label\": \"x\"}".to_vec(),                   Err(LineDefect::Malformed)),
    ];
    for (case, line, expected) in table {
        assert_eq!(read_truth(&line, &Reading::default()), expected, "{case}");
    }
}

#[test]
fn the_inference_id_is_what_ground_truth_names_when_the_caller_set_one() {
    let mut line: serde_json::Value = serde_json::from_slice(&line(
        Some(("text/csv", "\"hola,\nadiós\"\n", "CSV")),
        Some(("text/csv", "", "CSV")),
    ))
    .unwrap();
    line["eventMetadata"]["inferenceId"] = json!("ticket-4411");
    let captured = read_capture(&serde_json::to_vec(&line).unwrap(), &Reading::default()).unwrap();
    assert_eq!(captured.event_id, "ticket-4411");
    assert_eq!(
        captured.texts,
        ["hola,\nadiós"],
        "a quoted CSV text keeps its comma and line break"
    );
    assert_eq!(
        captured.predictions,
        [Err(Defect::MissingLabel)],
        "an empty answer is an answer, unreadable"
    );
}

#[test]
fn ground_truth_names_its_segment_when_asked() {
    let line = serde_json::to_vec(&json!({
        "groundTruthData": {"data": r#"{"label": "soporte", "channel": "whatsapp"}"#, "encoding": "JSON"},
        "eventMetadata": {"eventId": "e-9"}
    }))
    .unwrap();
    let reading = Reading {
        segment_field: Some("channel".into()),
        ..Reading::default()
    };
    assert_eq!(
        read_truth(&line, &reading).unwrap().segment.as_deref(),
        Some("whatsapp")
    );
    assert_eq!(
        read_truth(&line, &Reading::default()).unwrap().segment,
        None
    );
}

#[test]
fn batch_output_joined_with_its_input_and_labelled_records_read_too() {
    let joined = br#"{"id": "t-1", "text": "no llega", "SageMakerOutput": {"label": "soporte", "confidence": 0.8}}"#;
    let captured = read_capture(joined, &Reading::default()).unwrap();
    assert_eq!(captured.event_id, "t-1");
    assert_eq!(captured.texts, ["no llega"]);
    assert_eq!(captured.predictions, [ok("soporte", 0.8)]);
    let anonymous = read_capture(
        br#"{"text": "hola", "SageMakerOutput": {"label": "x", "confidence": 2}}"#,
        &Reading::default(),
    )
    .unwrap();
    assert_eq!(
        (
            anonymous.event_id.as_str(),
            anonymous.predictions[0].clone()
        ),
        ("", Err(Defect::OutOfRange))
    );
    let reading = Reading {
        segment_field: Some("channel".into()),
        ..Reading::default()
    };
    assert_eq!(
        read_truth(
            br#"{"id": 7, "label": "ventas", "channel": "email"}"#,
            &reading
        ),
        Ok(Truth {
            event_id: "7".into(),
            label: "ventas".into(),
            segment: Some("email".into())
        })
    );
    assert_eq!(
        read_truth(br#"{"id": "t-1"}"#, &reading),
        Err(LineDefect::Malformed),
        "no label"
    );
}
