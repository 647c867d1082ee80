//! model-gate's metrics, in a process of their own (the EMF recorder is process-wide): a gate that fails before
//! its verdict is recorded counts nothing, so the workflow's retry of it does not count the verdict twice.

#![allow(clippy::unwrap_used)]

use aws_sdk_sagemaker::types::TrainingJobStatus;
use guardrails_core::telemetry;
use model_gate::STAGE;
use serde_json::{Value, json};
use testkit::emf_documents;

mod common;
use common::*;

#[tokio::test]
async fn a_gate_that_fails_before_recording_its_verdict_emits_nothing() {
    let collector = telemetry::init_metrics("MlopsGuardrails", STAGE).unwrap();
    let (group, _) = group(&[]).await;
    let mut unpinned = job(TrainingJobStatus::Completed, &GOOD);
    unpinned.input_data_config = Some(Vec::new());
    let gate = gate(unpinned, "true").await;
    assert!(gate.handle(request(&group)).await.is_err());
    let documents = emf_documents(collector);
    let ours: Vec<&Value> = documents
        .iter()
        .filter(|d| d["ModelPackageGroup"] == json!(group))
        .collect();
    assert!(ours.is_empty(), "{ours:?}");

    // The same job, pinned, judged: its verdict is counted once.
    let gate = self::gate(job(TrainingJobStatus::Completed, &GOOD), "true").await;
    gate.handle(request(&group)).await.unwrap();
    let documents = emf_documents(collector);
    let verdicts: f64 = documents
        .iter()
        .filter(|d| d["ModelPackageGroup"] == json!(group))
        .filter_map(|d| d.get("GateVerdicts").and_then(Value::as_f64))
        .sum();
    assert_eq!(verdicts, 1.0, "{documents:?}");
}
