//! One model answer → a prediction, or the reason it is not one: a line of batch transform output (joined with
//! its input or not), or a record of a captured endpoint response.

use serde_json::Value;

use crate::batch::{Defect, Prediction};

/// Where a prediction line keeps its fields (configurable: every model answers its own way).
#[derive(Debug, Clone, PartialEq)]
pub struct Fields {
    /// The predicted label (`LABEL_FIELD`, default `label`).
    pub label: String,
    /// Its confidence (`CONFIDENCE_FIELD`, default `confidence`).
    pub confidence: String,
    /// Per-class probabilities, an object of label to probability (`PROBABILITIES_FIELD`, default
    /// `probabilities`); used when the label or the confidence is missing, and checked to sum to about 1.
    pub probabilities: String,
    /// How far from 1 the probabilities may sum (`PROBABILITY_TOLERANCE`, default 0.01).
    pub tolerance: f64,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            label: "label".into(),
            confidence: "confidence".into(),
            probabilities: "probabilities".into(),
            tolerance: 0.01,
        }
    }
}

/// The key under which a batch transform job joined with its input (`JoinSource: Input`, as batch-launcher
/// starts them) puts the model's answer.
pub const JOINED_OUTPUT: &str = "SageMakerOutput";

/// Reads one answer (a JSON object already parsed: an output line, or a record of a captured response): the
/// model's answer itself, or an input record with the answer joined under [`JOINED_OUTPUT`].
///
/// # Errors
/// The [`Defect`] that keeps it from counting.
pub fn parse_value(value: &Value, fields: &Fields) -> Result<Prediction, Defect> {
    let object = value.as_object().ok_or(Defect::Malformed)?;
    let object = match object.get(JOINED_OUTPUT) {
        Some(answer) => answer.as_object().ok_or(Defect::Malformed)?,
        None => object,
    };
    let unit = |v: &Value| match v.as_f64() {
        Some(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(Defect::OutOfRange),
    };

    let mut best: Option<(String, f64)> = None;
    let mut probabilities = None;
    if let Some(raw) = object.get(&fields.probabilities) {
        let map = raw.as_object().ok_or(Defect::OutOfRange)?;
        let mut sum = 0.0;
        for (label, p) in map {
            let p = unit(p)?;
            sum += p;
            if best.as_ref().is_none_or(|(_, b)| p > *b) {
                best = Some((label.clone(), p));
            }
        }
        if (sum - 1.0).abs() > fields.tolerance {
            return Err(Defect::ProbabilitiesNotSummingToOne);
        }
        probabilities = Some(map);
    }

    let label = match object.get(&fields.label) {
        Some(Value::String(label)) => label.clone(),
        // Class ids, as ground truth may carry them too.
        Some(Value::Number(id)) => id.to_string(),
        Some(_) => return Err(Defect::MissingLabel),
        None => best
            .as_ref()
            .map(|(l, _)| l.clone())
            .ok_or(Defect::MissingLabel)?,
    };
    let confidence = match object.get(&fields.confidence) {
        Some(c) => unit(c)?,
        None => match probabilities.and_then(|p| p.get(&label)) {
            Some(p) => unit(p)?,
            None => return Err(Defect::MissingConfidence),
        },
    };
    Ok(Prediction { label, confidence })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One output line: not JSON is malformed, as the monitor counts it.
    fn parse_line(line: &[u8], fields: &Fields) -> Result<Prediction, Defect> {
        let value: Value = serde_json::from_slice(line).map_err(|_| Defect::Malformed)?;
        parse_value(&value, fields)
    }

    #[test]
    fn line_table() {
        let fields = Fields::default();
        let ok = |label: &str, confidence: f64| {
            Ok(Prediction {
                label: label.into(),
                confidence,
            })
        };
        #[rustfmt::skip]
        let table: Vec<(&str, Result<Prediction, Defect>)> = vec![
            (r#"{"label": "ventas", "confidence": 0.91}"#,                              ok("ventas", 0.91)),
            (r#"{"probabilities": {"ventas": 0.7, "soporte": 0.2, "Otros": 0.1}}"#,    ok("ventas", 0.7)),
            (r#"{"label": "soporte", "probabilities": {"ventas": 0.7, "soporte": 0.3}}"#, ok("soporte", 0.3)),
            (r#"{"label": "ventas", "confidence": 1}"#,                                 ok("ventas", 1.0)),
            ("not json",                                                                Err(Defect::Malformed)),
            ("[0.1, 0.9]",                                                              Err(Defect::Malformed)),
            (r#"{"confidence": 0.9}"#,                                                  Err(Defect::MissingLabel)),
            (r#"{"label": 3, "confidence": 0.9}"#,                                      ok("3", 0.9)),
            (r#"{"label": ["ventas"], "confidence": 0.9}"#,                             Err(Defect::MissingLabel)),
            (r#"{"label": "ventas"}"#,                                                  Err(Defect::MissingConfidence)),
            (r#"{"label": "ventas", "confidence": 1.7}"#,                               Err(Defect::OutOfRange)),
            (r#"{"label": "ventas", "confidence": "high"}"#,                            Err(Defect::OutOfRange)),
            (r#"{"probabilities": {"ventas": 0.7, "soporte": 0.7}}"#,                   Err(Defect::ProbabilitiesNotSummingToOne)),
            (r#"{"probabilities": {"ventas": 0.5, "soporte": 0.495}}"#,                 ok("ventas", 0.5)),
            (r#"{"probabilities": {"ventas": -0.1, "soporte": 1.1}}"#,                  Err(Defect::OutOfRange)),
            (r#"{"id": "t-1", "text": "no llega", "SageMakerOutput": {"label": "soporte", "confidence": 0.8}}"#, ok("soporte", 0.8)),
            (r#"{"id": "t-2", "label": "ventas", "SageMakerOutput": {"label": "Otros", "confidence": 0.4}}"#, ok("Otros", 0.4)),
            (r#"{"id": "t-3", "text": "hola", "SageMakerOutput": [0.2, 0.8]}"#,        Err(Defect::Malformed)),
        ];
        for (line, expected) in table {
            assert_eq!(parse_line(line.as_bytes(), &fields), expected, "{line}");
        }
        let custom = Fields {
            label: "predicted_label".into(),
            confidence: "score".into(),
            ..Fields::default()
        };
        assert_eq!(
            parse_line(br#"{"predicted_label": "Otros", "score": 0.4}"#, &custom),
            ok("Otros", 0.4)
        );
    }
}
