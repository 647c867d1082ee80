//! SageMaker Batch Transform as the loop plays it. The emulator records a transform job as Completed the moment it
//! is created and writes nothing, so the loop does the rest: each input line joined with the stand-in model's answer
//! under `SageMakerOutput` (what batch-launcher's `JoinSource: Input` asks of SageMaker), one `.out` file per input
//! file, then the job's "SageMaker Transform Job State Change" on the default bus, shaped like the sample under
//! `events/`. The answers come from a stand-in for the story's trained model: the emulator trains nothing.

use serde_json::{Map, Value, json};

/// The sample the state change is shaped like.
const SAMPLE: &str = include_str!("../../../events/sagemaker-transform-job-completed.json");

/// Where the joined answer goes, as SageMaker names it.
const JOINED: &str = "SageMakerOutput";

/// The stand-in model: a label when the text has one of its words, with high confidence; the catch-all label with
/// low confidence otherwise, as a trained classifier answers texts unlike anything it learned.
const KEYWORDS: [(&str, &[&str]); 3] = [
    ("facturacion", &["factura", "cobraron", "fiscales"]),
    ("soporte", &["aplicación", "sesión", "código", "historial"]),
    (
        "ventas",
        &[
            "plan",
            "contratar",
            "demostraciones",
            "usuarios",
            "empresas",
        ],
    ),
];
/// The stand-in's catch-all label (the template's `OTHER_LABEL` default).
const OTHER: &str = "Otros";
/// Its confidence when a word of a label is in the text, and when none is.
const SURE: f64 = 0.9;
const UNSURE: f64 = 0.5;

/// The stand-in model's label and confidence for `text`.
pub fn answer(text: &str) -> (&'static str, f64) {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    KEYWORDS
        .iter()
        .map(|(label, keys)| (*label, keys.iter().filter(|k| words.contains(k)).count()))
        .filter(|(_, hits)| *hits > 0)
        .max_by_key(|(_, hits)| *hits)
        .map_or((OTHER, UNSURE), |(label, _)| (label, SURE))
}

/// One output line: the input record (a JSON object with its text under `text_field`) with the answer joined. A line
/// that is not a JSON object is passed through unanswered: the monitor counts it as a defect.
pub fn joined(line: &str, text_field: &str) -> String {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(mut record)) => {
            let text = record
                .get(text_field)
                .and_then(Value::as_str)
                .unwrap_or_default();
            let (label, confidence) = answer(text);
            record.insert(
                JOINED.to_owned(),
                json!({"label": label, "confidence": confidence}),
            );
            Value::Object(record).to_string()
        }
        _ => line.to_owned(),
    }
}

/// The key SageMaker writes an input object's output to: the output path, then the input key relative to the input
/// prefix's folder, then `.out`.
pub fn output_key(input_prefix: &str, input_key: &str, output_prefix: &str) -> String {
    let folder = input_prefix.rfind('/').map_or("", |i| &input_prefix[..=i]);
    let relative = input_key.strip_prefix(folder).unwrap_or(input_key);
    let separator = if output_prefix.is_empty() || output_prefix.ends_with('/') {
        ""
    } else {
        "/"
    };
    format!("{output_prefix}{separator}{relative}.out")
}

/// What the state change tells of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub name: String,
    pub arn: String,
    pub model: String,
    pub input_uri: String,
    pub output_uri: String,
    pub kms_key_id: Option<String>,
    /// Creation, start and end, epoch milliseconds.
    pub times: [i64; 3],
    pub tags: Vec<(String, String)>,
}

/// The job's "SageMaker Transform Job State Change" detail (Completed), the sample's with this job's fields.
pub fn completed(job: &Job) -> Value {
    let sample: Value = serde_json::from_str(SAMPLE).unwrap_or(Value::Null);
    let mut detail = sample["detail"].clone();
    detail["TransformJobName"] = json!(job.name);
    detail["TransformJobArn"] = json!(job.arn);
    detail["TransformJobStatus"] = json!("Completed");
    detail["ModelName"] = json!(job.model);
    detail["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] = json!(job.input_uri);
    detail["TransformOutput"]["S3OutputPath"] = json!(job.output_uri);
    detail["TransformOutput"]["KmsKeyId"] = json!(job.kms_key_id.clone().unwrap_or_default());
    let [created, started, ended] = job.times;
    detail["CreationTime"] = json!(created);
    detail["TransformStartTime"] = json!(started);
    detail["TransformEndTime"] = json!(ended);
    let tags: Map<String, Value> = job
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    detail["Tags"] = Value::Object(tags);
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    const NORMAL: &str = include_str!("../data/batch-tickets.jsonl");
    const DRIFTED: &str = include_str!("../data/batch-drifted.jsonl");

    #[test]
    fn the_stand_in_answers_by_its_words_and_is_unsure_of_anything_else() {
        let table = [
            ("Me cobraron dos veces la FACTURA", ("facturacion", SURE)),
            ("No puedo iniciar sesión", ("soporte", SURE)),
            ("¿Tienen plan para empresas? La factura…", ("ventas", SURE)),
            ("Hola", (OTHER, UNSURE)),
            ("Поздравляем! Вы выиграли приз", (OTHER, UNSURE)),
            ("", (OTHER, UNSURE)),
            // A word inside another is not the word.
            ("planeta", (OTHER, UNSURE)),
        ];
        for (text, expected) in table {
            assert_eq!(answer(text), expected, "{text}");
        }
    }

    #[test]
    fn each_line_keeps_its_record_and_gets_the_answer_joined() {
        let line = r#"{"id":"t-1","text":"No me llega la factura","channel":"web"}"#;
        let out: Value = serde_json::from_str(&joined(line, "text")).unwrap();
        assert_eq!(out["id"], "t-1");
        assert_eq!(out["channel"], "web");
        assert_eq!(out[JOINED]["label"], "facturacion");
        assert_eq!(out[JOINED]["confidence"], SURE);
        let no_text: Value = serde_json::from_str(&joined(r#"{"id":"t-2"}"#, "text")).unwrap();
        assert_eq!(no_text[JOINED]["label"], OTHER);
        for broken in ["not json", "[1,2]", "\"text\""] {
            assert_eq!(joined(broken, "text"), broken);
        }
    }

    #[test]
    fn output_keys_follow_the_input_keys_as_sagemaker_names_them() {
        let table = [
            (
                "batch-input/2026-12-02/tickets.jsonl",
                "batch-input/2026-12-02/tickets.jsonl",
                "batch-output/job-1/",
                "batch-output/job-1/tickets.jsonl.out",
            ),
            (
                "batch-input/",
                "batch-input/day/a.jsonl",
                "out/job",
                "out/job/day/a.jsonl.out",
            ),
            ("in", "in-x.jsonl", "", "in-x.jsonl.out"),
        ];
        for (prefix, key, output, expected) in table {
            assert_eq!(output_key(prefix, key, output), expected, "{key}");
        }
    }

    #[test]
    fn the_state_change_carries_the_job_as_the_batch_rule_and_the_monitor_read_it() {
        let job = Job {
            name: "tickets-1".into(),
            arn: "arn:aws:sagemaker:us-east-1:123456789012:transform-job/tickets-1".into(),
            model: "m".into(),
            input_uri: "s3://a/in/x.jsonl".into(),
            output_uri: "s3://a/out/tickets-1/".into(),
            kms_key_id: None,
            times: [1_000, 2_000, 5_000],
            tags: vec![("project".into(), "mlops-guardrails".into())],
        };
        let detail = completed(&job);
        let change: guardrails_core::aws_events::TransformJobStateChange =
            serde_json::from_value(detail.clone()).unwrap();
        assert_eq!(change.transform_job_name, "tickets-1");
        assert_eq!(change.transform_job_status, "Completed");
        assert_eq!(change.seconds(), Some(3.0));
        assert_eq!(
            change.transform_output.unwrap().s3_output_path,
            "s3://a/out/tickets-1/"
        );
        assert_eq!(detail["Tags"]["project"], "mlops-guardrails");
    }

    /// The story's batches: today's tickets (the training file's texts again) get the training file's label mix,
    /// a quarter each; the drifted batch is all catch-all and unsure.
    #[test]
    fn the_story_batches_answer_as_the_story_needs() {
        let mix = |batch: &str| {
            let mut labels = std::collections::BTreeMap::<&str, usize>::new();
            let mut confidence = 0.0;
            for line in batch.lines() {
                let record: Value = serde_json::from_str(line).unwrap();
                let (label, c) = answer(record["text"].as_str().unwrap());
                *labels.entry(label).or_default() += 1;
                confidence += c;
            }
            (labels, confidence / batch.lines().count() as f64)
        };
        let (labels, confidence) = mix(NORMAL);
        assert_eq!(
            labels,
            [
                ("Otros", 15),
                ("facturacion", 15),
                ("soporte", 15),
                ("ventas", 15)
            ]
            .into()
        );
        assert!((confidence - 0.8).abs() < 1e-9, "{confidence}");
        let (labels, confidence) = mix(DRIFTED);
        assert_eq!(labels, [("Otros", 60)].into());
        assert!((confidence - UNSURE).abs() < 1e-9);
    }

    /// What inference-monitor finds in each story batch against the baseline of the story's training file, with
    /// the loop's `MinMonitoredTexts`: nothing in today's tickets; input drift in the drifted batch. (Today's
    /// tickets are the training file's texts: the lengths are compared in buckets an eighth of an octave wide,
    /// which a dozen training texts fill too sparsely for any other sample to match.)
    #[test]
    fn the_monitor_judges_the_story_batches_as_the_story_tells() {
        use text_monitor::monitor::{Monitor, Settings};
        let contract = dataset_check::Contract::from_json(
            r#"{"version": 1, "name": "tickets-v1", "format": "auto", "text_field": "text", "label_field": "label",
            "labels": ["facturacion", "soporte", "ventas", "Otros"], "min_text_chars": 1, "min_rows": 10}"#,
        )
        .unwrap();
        let good = include_str!("../data/tickets-good.csv");
        let (_, baseline) =
            dataset_check::check_profiled(good.as_bytes(), "good.csv", &contract, None).unwrap();
        let min_texts: u64 = crate::LOCAL_DEFAULTS
            .iter()
            .find(|(name, _)| *name == "MinMonitoredTexts")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap();
        let judge = |batch: &str| {
            let mut settings = Settings::default();
            settings.limits.min_texts = min_texts;
            settings.max_waiting = 0;
            let mut monitor = Monitor::new(&baseline, &settings);
            for line in batch.lines() {
                monitor.batch_line(joined(line, "text").as_bytes());
            }
            let report = monitor.finish();
            let breached: Vec<&str> = report
                .drift
                .violations()
                .map(|c| c.check.as_str())
                .collect();
            (report.predictions.predictions, breached.join(" "))
        };
        assert_eq!(judge(NORMAL), (60, String::new()));
        let (predictions, breached) = judge(DRIFTED);
        assert_eq!(predictions, 60);
        assert!(breached.contains("scripts"), "{breached}");
        assert!(breached.contains("out-of-vocabulary"), "{breached}");
    }
}
