//! Every metric the functions emit, in one list: the code emits each under the name given here, and the
//! template's alarms and dashboard may name only what [`CATALOG`] lists (`tests/template.rs` checks it, so a
//! renamed metric or dimension fails a test instead of silently blinding an alarm).
//!
//! Every metric also carries the `Stage` dimension ([`crate::telemetry::STAGE_DIMENSION`]).

/// One metric: the stage that emits it, its name, and its dimensions besides `Stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The emitting function's stage.
    pub stage: &'static str,
    /// The metric name.
    pub name: &'static str,
    /// Its labels besides `Stage`, in the order the dashboard's SEARCH schemas name them.
    pub dimensions: &'static [&'static str],
}

/// The stages: each function's `Stage` dimension, log name and binary name.
pub mod stage {
    /// validate-ingest (the ingest stage).
    pub const VALIDATE_INGEST: &str = "validate-ingest";
    /// trigger-training.
    pub const TRIGGER_TRAINING: &str = "trigger-training";
    /// model-gate (the training stage's verdict).
    pub const MODEL_GATE: &str = "model-gate";
    /// drift-handler.
    pub const DRIFT_HANDLER: &str = "drift-handler";
    /// inference-monitor (batch inference).
    pub const INFERENCE_MONITOR: &str = "inference-monitor";
    /// cost-guard.
    pub const COST_GUARD: &str = "cost-guard";
    /// deploy.
    pub const DEPLOY: &str = "deploy";
    /// batch-launcher.
    pub const BATCH_LAUNCHER: &str = "batch-launcher";
    /// notifier.
    pub const NOTIFIER: &str = "notifier";
    /// slack-forwarder.
    pub const SLACK_FORWARDER: &str = "slack-forwarder";
    /// posture-audit.
    pub const POSTURE_AUDIT: &str = "posture-audit";
    /// stage-report (the feature-engineering and clustering stages' reports).
    pub const STAGE_REPORT: &str = "stage-report";
}

/// The bounded labels metrics carry besides `Stage`.
pub mod dimension {
    /// The dataset a file belongs to.
    pub const DATASET: &str = "Dataset";
    /// The deployment's model name.
    pub const MODEL: &str = "Model";
    /// The model package group.
    pub const MODEL_PACKAGE_GROUP: &str = "ModelPackageGroup";
    /// A trigger's outcome.
    pub const OUTCOME: &str = "Outcome";
    /// A cost's service (`Total`, `Other`, or a budgeted service).
    pub const SERVICE: &str = "Service";
    /// A drift kind.
    pub const KIND: &str = "Kind";
    /// A rollback's or a deploy's result.
    pub const RESULT: &str = "Result";
    /// A gate decision.
    pub const DECISION: &str = "Decision";
    /// An input-drift check of the monitor (six values, `text_monitor::drift::CheckName`).
    pub const CHECK: &str = "Check";
    /// A notice's severity (`info`, `warning`, `critical`).
    pub const SEVERITY: &str = "Severity";
    /// The pipeline stage a stage report is about (`feature-engineering`, `clustering`; `unknown` for a report
    /// too broken to say).
    pub const PIPELINE_STAGE: &str = "PipelineStage";
    /// A job's service and kind (`training`, `processing`, `transform`, `glue`, `batch`).
    pub const JOB_TYPE: &str = "JobType";
}

use dimension::*;
use stage::*;

const fn metric(
    stage: &'static str,
    name: &'static str,
    dimensions: &'static [&'static str],
) -> Metric {
    Metric {
        stage,
        name,
        dimensions,
    }
}

/// Files checked (counter).
pub const FILES_PROCESSED: Metric = metric(VALIDATE_INGEST, "FilesProcessed", &[DATASET]);
/// Files quarantined (counter).
pub const FILES_QUARANTINED: Metric = metric(VALIDATE_INGEST, "FilesQuarantined", &[DATASET]);
/// Rows breaking a rule (counter).
pub const VALIDATION_ERRORS: Metric = metric(VALIDATE_INGEST, "ValidationErrors", &[DATASET]);
/// Rows of valid files (counter).
pub const ROWS_INGESTED: Metric = metric(VALIDATE_INGEST, "RowsIngested", &[DATASET]);
/// Bytes of valid files (counter).
pub const BYTES_INGESTED: Metric = metric(VALIDATE_INGEST, "BytesIngested", &[DATASET]);
/// Check and placement time, milliseconds (histogram).
pub const LATENCY_MS: Metric = metric(VALIDATE_INGEST, "LatencyMs", &[DATASET]);
/// Null texts, percent of rows (histogram).
pub const NULL_PCT: Metric = metric(VALIDATE_INGEST, "NullPct", &[DATASET]);
/// Duplicate rows, percent (histogram).
pub const DUPLICATE_PCT: Metric = metric(VALIDATE_INGEST, "DuplicatePct", &[DATASET]);

/// Triggers by outcome (counter).
pub const TRAINING_TRIGGERS: Metric = metric(TRIGGER_TRAINING, "TrainingTriggers", &[OUTCOME]);

/// The candidate's validation F1 (gauge).
pub const F1: Metric = metric(MODEL_GATE, "F1", &[MODEL_PACKAGE_GROUP]);
/// The candidate's validation accuracy (gauge).
pub const ACCURACY: Metric = metric(MODEL_GATE, "Accuracy", &[MODEL_PACKAGE_GROUP]);
/// Training F1 minus validation F1 (gauge).
pub const OVERFIT_GAP: Metric = metric(MODEL_GATE, "OverfitGap", &[MODEL_PACKAGE_GROUP]);
/// The training job's seconds (gauge).
pub const TRAINING_SECONDS: Metric = metric(MODEL_GATE, "TrainingSeconds", &[MODEL_PACKAGE_GROUP]);
/// The epochs the job reported (gauge).
pub const EPOCHS: Metric = metric(MODEL_GATE, "Epochs", &[MODEL_PACKAGE_GROUP]);
/// Verdicts by decision (counter).
pub const GATE_VERDICTS: Metric =
    metric(MODEL_GATE, "GateVerdicts", &[MODEL_PACKAGE_GROUP, DECISION]);

/// Drift alarms entering ALARM, by kind (counter).
pub const DRIFT_ALARMS: Metric = metric(DRIFT_HANDLER, "DriftAlarms", &[KIND]);
/// Rollbacks by result (counter).
pub const ROLLBACKS: Metric = metric(DRIFT_HANDLER, "Rollbacks", &[RESULT]);

/// A batch's mean top-label confidence (one value per run).
pub const AVG_CONFIDENCE: Metric = metric(INFERENCE_MONITOR, "AvgConfidence", &[MODEL]);
/// A batch's 10th-percentile confidence (one value per run).
pub const P10_CONFIDENCE: Metric = metric(INFERENCE_MONITOR, "P10Confidence", &[MODEL]);
/// Predictions under the low-confidence threshold, percent (one value per run).
pub const LOW_CONFIDENCE_PCT: Metric = metric(INFERENCE_MONITOR, "LowConfidencePct", &[MODEL]);
/// Predictions of the catch-all label, percent (one value per run).
pub const OTHER_PCT: Metric = metric(INFERENCE_MONITOR, "OtherPct", &[MODEL]);
/// PSI of the batch's label mix against training (one value per run).
pub const LABEL_PSI: Metric = metric(INFERENCE_MONITOR, "LabelPSI", &[MODEL]);
/// The transform job's duration, seconds (one value per run).
pub const BATCH_SECONDS: Metric = metric(INFERENCE_MONITOR, "BatchSeconds", &[MODEL]);
/// Predictions read (counter).
pub const PREDICTIONS: Metric = metric(INFERENCE_MONITOR, "Predictions", &[MODEL]);
/// Output lines that are not a usable prediction (counter).
pub const BAD_PREDICTIONS: Metric = metric(INFERENCE_MONITOR, "BadPredictions", &[MODEL]);

/// An input-drift check's observed value over the hour's texts (a PSI or a share), when enough texts were read
/// to judge (one value per run).
pub const INPUT_DRIFT: Metric = metric(INFERENCE_MONITOR, "InputDrift", &[MODEL, CHECK]);
/// 1 when the check breached its limit over the hour's texts, else 0; only when judged (one value per run).
pub const INPUT_DRIFT_VIOLATION: Metric =
    metric(INFERENCE_MONITOR, "InputDriftViolation", &[MODEL, CHECK]);
/// Texts the hourly run judged (one value per run).
pub const MONITORED_TEXTS: Metric = metric(INFERENCE_MONITOR, "MonitoredTexts", &[MODEL]);
/// Predictions joined with their ground truth over the label window (one value per run).
pub const LABELLED_RECORDS: Metric = metric(INFERENCE_MONITOR, "LabelledRecords", &[MODEL]);
/// Weighted F1 against ground truth, when enough records are labelled (one value per run).
pub const WEIGHTED_F1: Metric = metric(INFERENCE_MONITOR, "WeightedF1", &[MODEL]);
/// The 99th percentile of the weighted F1's bootstrap: under the serving version's threshold, the drop is
/// significant (one value per run).
pub const WEIGHTED_F1_UPPER_BOUND: Metric =
    metric(INFERENCE_MONITOR, "WeightedF1UpperBound", &[MODEL]);
/// 1 when the weighted F1 fell significantly under the serving version's threshold, else 0; only when judged
/// (one value per run).
pub const MODEL_QUALITY_VIOLATION: Metric =
    metric(INFERENCE_MONITOR, "ModelQualityViolation", &[MODEL]);
/// The largest per-class recall gap between segments, when ground truth names segments (one value per run).
pub const RECALL_GAP: Metric = metric(INFERENCE_MONITOR, "RecallGap", &[MODEL]);
/// 1 when a class's recall differs across segments by more than the limit, significantly, else 0 (one value per run).
pub const BIAS_VIOLATION: Metric = metric(INFERENCE_MONITOR, "BiasViolation", &[MODEL]);

/// Changes of what serves, and refusals, by result: `deployed`, `rolled-back`, `refused`, `stranded` (counter).
pub const DEPLOYS: Metric = metric(DEPLOY, "Deploys", &[RESULT]);

/// Batch transform jobs started and batch inputs refused, by result: `started`, `refused` (counter).
pub const BATCH_JOBS: Metric = metric(BATCH_LAUNCHER, "BatchJobs", &[RESULT]);

/// A day's cost in USD by service (gauge).
pub const COST_USD: Metric = metric(COST_GUARD, "CostUsd", &[SERVICE]);

/// Notices the notifier published, by severity (counter).
pub const NOTICES: Metric = metric(NOTIFIER, "Notices", &[SEVERITY]);

/// Notices kept to leave with others of their group (a storm of quarantines, a flapping alarm), by kind
/// (counter).
pub const NOTICES_HELD: Metric = metric(NOTIFIER, "NoticesHeld", &[KIND]);

/// Notices the Slack forwarder handled, by outcome: `posted`, `unconfigured` (no webhook set), `failed`
/// (counter).
pub const CHAT_POSTS: Metric = metric(SLACK_FORWARDER, "ChatPosts", &[OUTCOME]);

/// Open posture findings after each audit, by severity: `critical`, `high`, `medium`, `low` (histogram).
pub const OPEN_FINDINGS: Metric = metric(POSTURE_AUDIT, "OpenFindings", &[SEVERITY]);

/// The project's jobs that ended, by type and result: `succeeded`, `failed`, `stopped` (counter; the notifier, on
/// each job's state change).
pub const JOB_RUNS: Metric = metric(NOTIFIER, "JobRuns", &[JOB_TYPE, RESULT]);
/// How long each of the project's jobs ran, by type, when its event says (SageMaker and Batch; histogram).
pub const JOB_SECONDS: Metric = metric(NOTIFIER, "JobSeconds", &[JOB_TYPE]);
/// Stage reports handled, by stage and result: `accepted`, `breached` (a limit passed), `invalid` (counter).
pub const STAGE_REPORTS: Metric = metric(STAGE_REPORT, "StageReports", &[PIPELINE_STAGE, RESULT]);
/// Limits a stage's run passed, by check (`stage_report::judge::Check`) (counter).
pub const STAGE_BREACHES: Metric = metric(STAGE_REPORT, "StageBreaches", &[PIPELINE_STAGE, CHECK]);
/// A stage run's processing time (histogram).
pub const STAGE_SECONDS: Metric = metric(STAGE_REPORT, "StageSeconds", &[PIPELINE_STAGE]);
/// Rows a stage run read (counter).
pub const STAGE_ROWS_IN: Metric = metric(STAGE_REPORT, "StageRowsIn", &[PIPELINE_STAGE]);
/// Rows a stage run wrote (counter).
pub const STAGE_ROWS_OUT: Metric = metric(STAGE_REPORT, "StageRowsOut", &[PIPELINE_STAGE]);
/// Batches that failed in a stage run (counter).
pub const STAGE_FAILED_BATCHES: Metric =
    metric(STAGE_REPORT, "StageFailedBatches", &[PIPELINE_STAGE]);
/// The largest null share of any field in a stage run, in percent (histogram).
pub const STAGE_NULL_PCT: Metric = metric(STAGE_REPORT, "StageNullPct", &[PIPELINE_STAGE]);
/// Cosine distance between a run's embedding mean and the previous run's (histogram).
pub const EMBEDDING_MEAN_DISTANCE: Metric =
    metric(STAGE_REPORT, "EmbeddingMeanDistance", &[PIPELINE_STAGE]);
/// A run's total embedding variance over the previous run's (histogram).
pub const EMBEDDING_VARIANCE_RATIO: Metric =
    metric(STAGE_REPORT, "EmbeddingVarianceRatio", &[PIPELINE_STAGE]);
/// The median embedding norm of a run (histogram).
pub const EMBEDDING_NORM_P50: Metric = metric(STAGE_REPORT, "EmbeddingNormP50", &[PIPELINE_STAGE]);
/// Clusters a clustering run generated (histogram).
pub const CLUSTERS: Metric = metric(STAGE_REPORT, "Clusters", &[PIPELINE_STAGE]);
/// A clustering run's total intra-cluster variance (histogram).
pub const INTRA_CLUSTER_VARIANCE: Metric =
    metric(STAGE_REPORT, "IntraClusterVariance", &[PIPELINE_STAGE]);
/// A clustering run's silhouette score, when it computed one (histogram).
pub const SILHOUETTE: Metric = metric(STAGE_REPORT, "Silhouette", &[PIPELINE_STAGE]);

/// Every metric, each once.
pub const CATALOG: &[Metric] = &[
    NOTICES,
    NOTICES_HELD,
    CHAT_POSTS,
    OPEN_FINDINGS,
    FILES_PROCESSED,
    FILES_QUARANTINED,
    VALIDATION_ERRORS,
    ROWS_INGESTED,
    BYTES_INGESTED,
    LATENCY_MS,
    NULL_PCT,
    DUPLICATE_PCT,
    TRAINING_TRIGGERS,
    F1,
    ACCURACY,
    OVERFIT_GAP,
    TRAINING_SECONDS,
    EPOCHS,
    GATE_VERDICTS,
    DRIFT_ALARMS,
    ROLLBACKS,
    AVG_CONFIDENCE,
    P10_CONFIDENCE,
    LOW_CONFIDENCE_PCT,
    OTHER_PCT,
    LABEL_PSI,
    BATCH_SECONDS,
    PREDICTIONS,
    BAD_PREDICTIONS,
    INPUT_DRIFT,
    INPUT_DRIFT_VIOLATION,
    MONITORED_TEXTS,
    LABELLED_RECORDS,
    WEIGHTED_F1,
    WEIGHTED_F1_UPPER_BOUND,
    MODEL_QUALITY_VIOLATION,
    RECALL_GAP,
    BIAS_VIOLATION,
    DEPLOYS,
    BATCH_JOBS,
    COST_USD,
    JOB_RUNS,
    JOB_SECONDS,
    STAGE_REPORTS,
    STAGE_BREACHES,
    STAGE_SECONDS,
    STAGE_ROWS_IN,
    STAGE_ROWS_OUT,
    STAGE_FAILED_BATCHES,
    STAGE_NULL_PCT,
    EMBEDDING_MEAN_DISTANCE,
    EMBEDDING_VARIANCE_RATIO,
    EMBEDDING_NORM_P50,
    CLUSTERS,
    INTRA_CLUSTER_VARIANCE,
    SILHOUETTE,
];

/// The metrics whose alarms mean the predictions themselves degraded (drift-handler's prediction-quality kind).
pub const PREDICTION_QUALITY: &[Metric] = &[
    AVG_CONFIDENCE,
    P10_CONFIDENCE,
    LOW_CONFIDENCE_PCT,
    OTHER_PCT,
    LABEL_PSI,
];

/// The catalogued metric `stage` emits under `name`.
pub fn find(stage: &str, name: &str) -> Option<&'static Metric> {
    CATALOG.iter().find(|m| m.stage == stage && m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_metric_is_catalogued_once_per_stage() {
        for (i, metric) in CATALOG.iter().enumerate() {
            assert_eq!(
                find(metric.stage, metric.name),
                Some(&CATALOG[i]),
                "{} of {} listed twice",
                metric.name,
                metric.stage
            );
            assert!(!metric.dimensions.is_empty() && metric.dimensions.len() <= 2);
        }
        assert!(PREDICTION_QUALITY.iter().all(|m| CATALOG.contains(m)));
    }
}
