//! SageMaker real-time data capture and Model Monitor's ground truth, one JSON line at a time: what a team that
//! leaves Model Monitor already has under its capture and ground-truth prefixes, read unchanged.
//!
//! A capture line is one request: `captureData.endpointInput` and `endpointOutput`, each with its
//! `observedContentType`, `data` and `encoding` (`JSON` and `CSV` keep the body as text, `BASE64` encodes it,
//! SageMaker's default for a content type it was not told about), and `eventMetadata.eventId`. A ground-truth line
//! is `groundTruthData` (`data`, `encoding`) and the `eventMetadata.eventId` of the request it labels.
//!
//! Batch inference reads the same way: a line of transform output joined with its input record (what
//! batch-launcher starts) is a request, its record id the event id; batch ground truth is one labelled record per
//! line. Each line says which it is.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::batch::{Defect, Prediction};
use crate::prediction::{Fields, JOINED_OUTPUT, parse_value};

/// Why a line was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineDefect {
    /// Not JSON, or not a capture (ground-truth) line: a field the format requires is missing.
    Malformed,
    /// `BASE64` data that does not decode, or a body that is not UTF-8.
    Undecodable,
    /// A line longer than a reader takes (a file without line breaks, or not JSON Lines at all).
    TooLong,
    /// A body that does not read as its content type says (JSON that does not parse, no text in a record).
    UnreadableBody,
}

/// How the bodies are read: where the text is in a request record, where the answer is in a response record.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The text's field in a JSON request record (`TEXT_FIELD`, the dataset contract's text field); a CSV request
    /// record's text is its first column.
    pub text_field: String,
    /// Where a JSON response record keeps its label and confidence; a CSV response record is `label,confidence`.
    pub fields: Fields,
    /// The label's field in JSON ground truth (`LABEL_FIELD` of the contract); CSV ground truth is the label.
    pub label_field: String,
    /// A field of JSON ground truth that names the record's segment (a channel, a language): per-class recall is
    /// compared across its values (`SEGMENT_FIELD`; none by default).
    pub segment_field: Option<String>,
    /// The record id's field in batch inference: in each joined output line (its input record) and in each
    /// labelled record of batch ground truth (`RECORD_ID_FIELD`, `id`).
    pub record_id_field: String,
}

impl Default for Reading {
    fn default() -> Self {
        Reading {
            text_field: "text".into(),
            fields: Fields::default(),
            label_field: "label".into(),
            segment_field: None,
            record_id_field: "id".into(),
        }
    }
}

/// One captured request: its texts and the model's answers, record by record.
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    /// What ground truth names: `eventMetadata.inferenceId` when the caller set one (`InferenceId` on the
    /// request; Model Monitor then joins on it), else `eventMetadata.eventId`.
    pub event_id: String,
    /// `eventMetadata.inferenceTime`, as SageMaker wrote it.
    pub inference_time: Option<String>,
    /// The request's texts (several when the request carried several records).
    pub texts: Vec<String>,
    /// The response's predictions, or why each is not one.
    pub predictions: Vec<Result<Prediction, Defect>>,
}

/// One ground-truth label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truth {
    /// The request it labels.
    pub event_id: String,
    /// The true label.
    pub label: String,
    /// Its segment, when the ground truth names one in [`Reading::segment_field`].
    pub segment: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CaptureLine {
    capture_data: CaptureData,
    event_metadata: EventMetadata,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CaptureData {
    endpoint_input: Option<Body>,
    endpoint_output: Option<Body>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    #[serde(default)]
    observed_content_type: Option<String>,
    data: String,
    encoding: Encoding,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "UPPERCASE")]
enum Encoding {
    Json,
    Csv,
    Base64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventMetadata {
    event_id: String,
    #[serde(default)]
    inference_id: Option<String>,
    #[serde(default)]
    inference_time: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TruthLine {
    ground_truth_data: TruthData,
    event_metadata: EventMetadata,
}

#[derive(Deserialize)]
struct TruthData {
    data: String,
    encoding: Encoding,
}

/// How a body's records are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One JSON value: an object, an array of records, or `{"instances": [...]}`.
    Json,
    /// One JSON value per line.
    JsonLines,
    /// One CSV row per line.
    Csv,
}

impl Layout {
    fn of(content_type: Option<&str>, encoding: Encoding) -> Self {
        let content_type = content_type.unwrap_or_default().to_ascii_lowercase();
        if content_type.contains("jsonlines") || content_type.contains("ndjson") {
            Layout::JsonLines
        } else if content_type.contains("json") {
            Layout::Json
        } else if content_type.contains("csv") {
            Layout::Csv
        } else {
            match encoding {
                Encoding::Csv => Layout::Csv,
                Encoding::Json | Encoding::Base64 => Layout::Json,
            }
        }
    }
}

/// A record of a body.
enum Record {
    Json(Value),
    Csv(Vec<String>),
}

/// A line of batch transform output.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputLine {
    /// Joined with its input record (`JoinSource: Input`, as batch-launcher starts jobs): its text, id and answer.
    Joined(Captured),
    /// The model's answer alone.
    Bare(Result<Prediction, Defect>),
}

/// Reads one line of batch transform output, parsed once: joined with its input, or the answer alone.
///
/// # Errors
/// [`LineDefect::Malformed`]: not JSON.
pub fn read_output(line: &[u8], reading: &Reading) -> Result<OutputLine, LineDefect> {
    let value: Value = serde_json::from_slice(line).map_err(|_| LineDefect::Malformed)?;
    Ok(if value.get(JOINED_OUTPUT).is_some() {
        OutputLine::Joined(read_batch_record(&value, reading))
    } else {
        OutputLine::Bare(parse_value(&value, &reading.fields))
    })
}

/// Reads one capture line.
///
/// # Errors
/// The [`LineDefect`] that keeps the whole line from counting (a record that does not read is a [`Defect`] in
/// [`Captured::predictions`] instead, or a text missing from [`Captured::texts`]).
pub fn read_capture(line: &[u8], reading: &Reading) -> Result<Captured, LineDefect> {
    let value: Value = serde_json::from_slice(line).map_err(|_| LineDefect::Malformed)?;
    if value.get(JOINED_OUTPUT).is_some() {
        return Ok(read_batch_record(&value, reading));
    }
    let line: CaptureLine = serde_json::from_value(value).map_err(|_| LineDefect::Malformed)?;
    let texts = match &line.capture_data.endpoint_input {
        Some(body) => records(body)?
            .iter()
            .map(|r| text_of(r, &reading.text_field))
            .collect::<Option<Vec<_>>>()
            .ok_or(LineDefect::UnreadableBody)?,
        None => Vec::new(),
    };
    let predictions = match &line.capture_data.endpoint_output {
        Some(body) => records(body)?
            .iter()
            .map(|r| prediction_of(r, &reading.fields))
            .collect(),
        None => Vec::new(),
    };
    let metadata = line.event_metadata;
    Ok(Captured {
        event_id: metadata
            .inference_id
            .filter(|id| !id.is_empty())
            .unwrap_or(metadata.event_id),
        inference_time: metadata.inference_time,
        texts,
        predictions,
    })
}

/// Reads one ground-truth line.
///
/// # Errors
/// The [`LineDefect`] that keeps it from counting.
pub fn read_truth(line: &[u8], reading: &Reading) -> Result<Truth, LineDefect> {
    let value: Value = serde_json::from_slice(line).map_err(|_| LineDefect::Malformed)?;
    if value.get("groundTruthData").is_none() {
        return read_labelled_record(&value, reading);
    }
    let line: TruthLine = serde_json::from_value(value).map_err(|_| LineDefect::Malformed)?;
    let data = decode(
        &line.ground_truth_data.data,
        line.ground_truth_data.encoding,
    )?;
    let layout = match line.ground_truth_data.encoding {
        Encoding::Csv => Layout::Csv,
        Encoding::Json | Encoding::Base64 => Layout::Json,
    };
    let (label, segment) = match layout {
        Layout::Csv => (
            csv_records(&data)
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next()),
            None,
        ),
        Layout::Json | Layout::JsonLines => {
            match serde_json::from_str::<Value>(&data).map_err(|_| LineDefect::UnreadableBody)? {
                Value::String(label) => (Some(label), None),
                Value::Object(o) => (
                    o.get(&reading.label_field).and_then(label_text),
                    reading
                        .segment_field
                        .as_ref()
                        .and_then(|field| o.get(field))
                        .and_then(label_text),
                ),
                other => (label_text(&other), None),
            }
        }
    };
    match label {
        Some(label) if !label.is_empty() => Ok(Truth {
            event_id: line.event_metadata.event_id,
            label,
            segment,
        }),
        _ => Err(LineDefect::UnreadableBody),
    }
}

/// A line of batch transform output joined with its input record (`JoinSource: Input`, as batch-launcher starts
/// jobs): the record's id and text, and the answer under [`JOINED_OUTPUT`]. Without an id it still counts for
/// drift and prediction quality, and is not joined (an empty [`Captured::event_id`]).
fn read_batch_record(value: &Value, reading: &Reading) -> Captured {
    let field = |name: &str| value.get(name).and_then(label_text);
    Captured {
        event_id: field(&reading.record_id_field).unwrap_or_default(),
        inference_time: None,
        texts: field(&reading.text_field).into_iter().collect(),
        predictions: vec![parse_value(value, &reading.fields)],
    }
}

/// Batch ground truth: one labelled record per line, `{"<id>": …, "<label>": …}` (and the segment field).
fn read_labelled_record(value: &Value, reading: &Reading) -> Result<Truth, LineDefect> {
    let field = |name: &str| {
        value
            .get(name)
            .and_then(label_text)
            .filter(|v| !v.is_empty())
    };
    match (field(&reading.record_id_field), field(&reading.label_field)) {
        (Some(event_id), Some(label)) => Ok(Truth {
            event_id,
            label,
            segment: reading.segment_field.as_deref().and_then(field),
        }),
        _ => Err(LineDefect::Malformed),
    }
}

/// A label given as a string or a number (class ids).
fn label_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn decode(data: &str, encoding: Encoding) -> Result<String, LineDefect> {
    match encoding {
        Encoding::Json | Encoding::Csv => Ok(data.to_owned()),
        Encoding::Base64 => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|_| LineDefect::Undecodable)?;
            String::from_utf8(bytes).map_err(|_| LineDefect::Undecodable)
        }
    }
}

fn records(body: &Body) -> Result<Vec<Record>, LineDefect> {
    let data = decode(&body.data, body.encoding)?;
    let lines = || data.lines().map(str::trim).filter(|l| !l.is_empty());
    match Layout::of(body.observed_content_type.as_deref(), body.encoding) {
        Layout::Csv => {
            let rows = csv_records(&data);
            // A blank CSV body is one empty record (an empty text), not none.
            if rows.is_empty() {
                return Ok(vec![Record::Csv(vec![String::new()])]);
            }
            Ok(rows.into_iter().map(Record::Csv).collect())
        }
        Layout::JsonLines => lines()
            .map(|l| serde_json::from_str(l).map(Record::Json))
            .collect::<Result<_, _>>()
            .map_err(|_| LineDefect::UnreadableBody),
        Layout::Json => {
            let value: Value =
                serde_json::from_str(&data).map_err(|_| LineDefect::UnreadableBody)?;
            Ok(match value {
                Value::Array(items) => items.into_iter().map(Record::Json).collect(),
                Value::Object(mut o) if o.get("instances").is_some_and(Value::is_array) => {
                    match o.remove("instances") {
                        Some(Value::Array(items)) => items.into_iter().map(Record::Json).collect(),
                        _ => Vec::new(),
                    }
                }
                other => vec![Record::Json(other)],
            })
        }
    }
}

fn text_of(record: &Record, text_field: &str) -> Option<String> {
    match record {
        Record::Json(Value::String(text)) => Some(text.clone()),
        Record::Json(Value::Object(o)) => o.get(text_field)?.as_str().map(str::to_owned),
        Record::Json(_) => None,
        Record::Csv(fields) => fields.first().cloned(),
    }
}

fn prediction_of(record: &Record, fields: &Fields) -> Result<Prediction, Defect> {
    match record {
        Record::Json(value) => parse_value(value, fields),
        Record::Csv(columns) => {
            let label = columns
                .first()
                .filter(|l| !l.is_empty())
                .ok_or(Defect::MissingLabel)?;
            let confidence = columns.get(1).ok_or(Defect::MissingConfidence)?;
            match confidence.trim().parse::<f64>() {
                Ok(c) if (0.0..=1.0).contains(&c) => Ok(Prediction {
                    label: label.clone(),
                    confidence: c,
                }),
                _ => Err(Defect::OutOfRange),
            }
        }
    }
}

/// The records of a CSV body (RFC 4180: a quoted field may hold commas, quotes and line breaks), with `csv-core`'s
/// reader; blank lines are no record. An empty input is the end of the data, which ends the last record.
fn csv_records(body: &str) -> Vec<Vec<String>> {
    let mut reader = csv_core::Reader::new();
    let mut input = body.as_bytes();
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), Vec::new());
    let mut buffer = [0u8; 1024];
    loop {
        let (result, read, written) = reader.read_field(input, &mut buffer);
        input = &input[read..];
        field.extend_from_slice(&buffer[..written]);
        match result {
            csv_core::ReadFieldResult::InputEmpty | csv_core::ReadFieldResult::OutputFull => {}
            csv_core::ReadFieldResult::Field { record_end } => {
                record.push(String::from_utf8_lossy(&field).trim().to_owned());
                field.clear();
                if record_end {
                    let blank = record.len() == 1 && record[0].is_empty();
                    let done = std::mem::take(&mut record);
                    if !blank {
                        records.push(done);
                    }
                }
            }
            csv_core::ReadFieldResult::End => return records,
        }
    }
}

#[cfg(test)]
mod tests;
