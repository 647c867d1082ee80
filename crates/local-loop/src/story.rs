//! `make demo`: a scripted story through the whole loop. Each step waits for a fact the loop really produced
//! (a rule's delivery, a handler's answer, an event on the bus, a notice, an execution's status, the registry's
//! state); the story fails, naming the step, when one does not come in time.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use chrono::{Days, Utc};
use serde_json::{Value, json};

use crate::describe::version;
use crate::timeline::Fact;
use crate::{Local, LoopError};
use guardrails_core::AwsError;
use guardrails_core::baseline::Baselines;
use guardrails_core::image::EcrImage;
use guardrails_core::lineage::{self, Lineage};
use guardrails_core::registry;
use guardrails_core::state::StateStore;

const GOOD: &str = include_str!("../data/tickets-good.csv");
const BAD: &str = include_str!("../data/tickets-bad.csv");
/// Today's tickets: the training file's texts again, so nothing drifts (see `transform.rs`'s tests).
const BATCH: &str = include_str!("../data/batch-tickets.jsonl");
/// A batch unlike training: spam in Cyrillic and English, links, codes.
const DRIFTED: &str = include_str!("../data/batch-drifted.jsonl");
/// The agents' labels for today's tickets: the billing questions were account problems, the greetings billing.
const TRUTH: &str = include_str!("../data/ground-truth-today.jsonl");
/// What the training jobs on the emulator report (a training container's metric definitions would).
pub const TRAINING_METRICS: [(&str, f64); 4] = [
    ("validation:weighted_f1", 0.91),
    ("validation:accuracy", 0.93),
    ("train:weighted_f1", 0.93),
    ("epoch", 3.0),
];
/// The F1 recorded for the model serving before the story starts.
const CHAMPION_F1: &str = "0.88";
/// A feature-engineering job's stage report, as `tools/stage_report.py` writes it.
const FEATURES_REPORT: &str = include_str!("../../../events/stage-report-feature-engineering.json");
/// A clustering job's stage report.
const CLUSTERS_REPORT: &str = include_str!("../../../events/stage-report-clustering.json");
/// Yesterday's spend the emulator's Cost Explorer answers with, by service.
const SPEND: [(&str, f64); 2] = [
    ("Amazon SageMaker", 180.0),
    ("Amazon Simple Storage Service", 4.2),
];

/// The title of the chapter that makes a handler fail on purpose: what comes before it runs clean.
pub const FAILS_ON_PURPOSE: &str = "8. The serving version's lineage record altered: the monitor refuses it, its error alarm goes off";

/// The step that did not happen.
#[derive(Debug, thiserror::Error)]
#[error("step failed: {step}")]
pub struct StoryFailure {
    /// What was expected, in words.
    pub step: String,
}

/// What the story showed, for the closing line.
#[derive(Debug, Default)]
pub struct Told {
    /// The gate's verdict on the model trained from the good dataset.
    pub verdict: String,
    /// The version rolled back from and to.
    pub rolled_back: (String, String),
    /// The quarantine reasons.
    pub reasons: Vec<String>,
    /// The budgets breached.
    pub breaches: usize,
    /// The input-drift checks the drifted batch breached.
    pub drifted: Vec<String>,
    /// The error alarm the failing handler raised.
    pub error_alarm: String,
}

/// The story being told: the loop, what it showed so far, and where the current chapter's facts start.
struct Story<'a> {
    local: &'a Local,
    timeout: Duration,
    mark: usize,
    told: Told,
    /// The model package group the template names.
    group: String,
    /// The bucket datasets are uploaded to.
    raw: String,
    sagemaker: aws_sdk_sagemaker::Client,
    s3: aws_sdk_s3::Client,
    /// Version 1's signed lineage record.
    record_v1: Option<guardrails_core::ObjectRef>,
}

impl Story<'_> {
    fn chapter(&mut self, title: &str) {
        self.local
            .runtime
            .timeline
            .record("story", title, Fact::Story);
        self.mark = self.local.runtime.timeline.len();
    }

    fn say(&self, actor: &str, text: impl Into<String>) {
        self.local.runtime.timeline.record(actor, text, Fact::Acted);
    }

    /// Waits for a fact of this chapter that `select` picks.
    async fn expect<T>(
        &self,
        step: &str,
        select: impl FnMut(&Fact) -> Option<T>,
    ) -> Result<T, StoryFailure> {
        self.local
            .runtime
            .timeline
            .wait_for(self.mark, self.timeout, select)
            .await
            .ok_or_else(|| StoryFailure {
                step: format!("{step} (nothing within {} s)", self.timeout.as_secs()),
            })
    }

    async fn delivered(&self, rule: &str, detail_type: &str) -> Result<(), StoryFailure> {
        self.expect(
            &format!("rule {rule} delivers {detail_type}"),
            |f| match f {
                Fact::Delivered {
                    rule: r,
                    detail_type: d,
                } if r.contains(rule) && d == detail_type => Some(()),
                _ => None,
            },
        )
        .await
    }

    async fn published(&self, detail_type: &str) -> Result<Value, StoryFailure> {
        self.expect(&format!("{detail_type} on the project bus"), |f| match f {
            Fact::Published {
                detail_type: d,
                detail,
            } if d == detail_type => Some(detail.clone()),
            _ => None,
        })
        .await
    }

    async fn answered(
        &self,
        function: &str,
        step: &str,
        mut accept: impl FnMut(&Value) -> bool,
    ) -> Result<Value, StoryFailure> {
        let id = self.local.function_id(function);
        self.expect(step, |f| match f {
            Fact::Invoked {
                function: f,
                result: Ok(v),
            } if *f == id && accept(v) => Some(v.clone()),
            _ => None,
        })
        .await
    }

    /// The alarm whose name ends with `suffix` goes to ALARM, judged on what the handlers emitted.
    async fn alarmed(&self, suffix: &str) -> Result<String, StoryFailure> {
        self.alarmed_where(&format!("…{suffix}"), |name| name.ends_with(suffix))
            .await
    }

    /// An alarm whose name `matches` (described as `alarm`) goes to ALARM, judged on what the handlers emitted.
    async fn alarmed_where(
        &self,
        alarm: &str,
        matches: impl Fn(&str) -> bool,
    ) -> Result<String, StoryFailure> {
        self.expect(
            &format!("the alarm {alarm} goes to ALARM on the metrics the handlers emitted"),
            |f| match f {
                Fact::Alarm { name, state } if matches(name) && state == "ALARM" => {
                    Some(name.clone())
                }
                _ => None,
            },
        )
        .await
    }

    async fn notice(&self, kind_prefix: &str) -> Result<String, StoryFailure> {
        self.notice_about(kind_prefix, "").await
    }

    /// A notice whose kind starts with `kind_prefix` and whose subject mentions `mentioning`.
    async fn notice_about(
        &self,
        kind_prefix: &str,
        mentioning: &str,
    ) -> Result<String, StoryFailure> {
        self.expect(
            &format!("a {kind_prefix}… notice on the topic mentioning {mentioning:?}"),
            |f| match f {
                Fact::Notice { kind, subject, .. }
                    if kind.starts_with(kind_prefix) && subject.contains(mentioning) =>
                {
                    Some(subject.clone())
                }
                _ => None,
            },
        )
        .await
    }
}

/// Tells the story on a started loop, each step waiting at most `timeout`.
///
/// # Errors
/// The first step that did not happen.
pub async fn tell(local: &Local, timeout: Duration) -> Result<Told, StoryFailure> {
    let mut story = Story::new(local, timeout)?;
    story.registry().await?;
    story.good_dataset().await?;
    story.bad_dataset().await?;
    story.drifted_batch().await?;
    story.ground_truth().await?;
    story.cost_run().await?;
    story.console_change().await?;
    story.stage_reports().await?;
    story.altered_record().await?;
    Ok(story.told)
}

/// The step named `step` did not happen.
fn failed(step: impl std::fmt::Display) -> StoryFailure {
    StoryFailure {
        step: step.to_string(),
    }
}

impl<'a> Story<'a> {
    /// A story on `local`, before its first chapter; the template must have a bucket to upload datasets to.
    fn new(local: &'a Local, timeout: Duration) -> Result<Self, StoryFailure> {
        let group = local.parameter("ModelPackageGroupName");
        let raw = local
            .runtime
            .stack
            .upload_bucket()
            .ok_or_else(|| {
                failed("the template has a bucket that sends its events to EventBridge")
            })?
            .to_owned();
        Ok(Story {
            local,
            timeout,
            mark: 0,
            told: Told::default(),
            group,
            raw,
            sagemaker: aws_sdk_sagemaker::Client::new(&local.sdk),
            s3: guardrails_core::aws::s3_client(&local.sdk),
            record_v1: None,
        })
    }

    /// Chapter 0: the registry with the model serving before today (trained and signed like any other), which
    /// deploy makes serve, and what training jobs will report.
    async fn registry(&mut self) -> Result<(), StoryFailure> {
        self.chapter(
            "0. The registry, as the Deploy section asks, with the model serving before today",
        );
        let group = &self.group;
        self.local.create_registry().await.map_err(failed)?;
        // Version 1 was trained by the workflow before today: its lineage record is signed as its run signed it.
        let job = "tickets-classifier-before-today";
        let mut record = testkit::lineage_record(job);
        record.recorded_at = Utc::now();
        record.verdict.metrics = [("validation:weighted_f1".to_owned(), 0.88)].into();
        record.baseline = None;
        let signed = self
            .lineage()?
            .record(&record)
            .await
            .map_err(|e| failed(format!("sign version 1's lineage record: {e}")))?;
        self.record_v1 = Some(signed.record.clone());
        let metadata = std::collections::BTreeMap::from([
            ("validation:weighted_f1".to_owned(), CHAMPION_F1.to_owned()),
            (lineage::PACKAGE_RECORD.to_owned(), signed.record.uri()),
            (lineage::PACKAGE_DIGEST.to_owned(), signed.sha256),
            (lineage::PACKAGE_JOB.to_owned(), job.to_owned()),
        ]);
        // Its image was pushed to the team's repository and scanned when it was built.
        let image = EcrImage::parse(testkit::PACKAGE_IMAGE)
            .ok_or_else(|| failed("version 1's image is not an ECR image"))?;
        let ecr = aws_sdk_ecr::Client::new(&self.local.sdk);
        crate::stack::push_placeholder(&ecr, &image)
            .await
            .map_err(|e| failed(format!("push version 1's image: {e}")))?;
        testkit::register_package(
            &self.local.sdk,
            group,
            ModelApprovalStatus::Approved,
            &record.training.model_data_url,
            &metadata,
        )
        .await;
        self.say(
            "sagemaker",
            format!(
                "model package group {group}: version 1 Approved (F1 {CHAMPION_F1}), its lineage record signed"
            ),
        );
        self.served("/1", "deploy makes version 1 serve").await?;
        self.local
            .emulator
            .set_training_metrics(&TRAINING_METRICS)
            .map_err(failed)?;
        self.say(
            "sagemaker",
            format!(
                "training jobs on the emulator complete at once, reporting {}",
                TRAINING_METRICS
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        );
        Ok(())
    }

    /// Chapter 1: a good dataset is validated, trained on, judged by the gate and registered.
    async fn good_dataset(&mut self) -> Result<(), StoryFailure> {
        self.chapter("1. A good dataset: validated, trained, judged by the gate, registered");
        self.upload_dataset("tickets 2026-11.csv", GOOD).await?;
        self.delivered("RawObjectCreatedRule", "Object Created")
            .await?;
        self.published("Dataset Validated").await?;
        self.delivered("TrainingTriggersRule", "Dataset Validated")
            .await?;
        self.trained().await?;
        // The workflow sends no notice itself: the new package's state change reaches the notifier.
        self.notice_about("model-package-status", "version 2")
            .await?;
        self.registered().await
    }

    /// Uploads `body` as the dataset file `file`.
    async fn upload_dataset(&self, file: &str, body: &'static str) -> Result<(), StoryFailure> {
        let (raw, key) = (&self.raw, &self.local.upload_key(file));
        upload(&self.s3, raw, key, body).await.map_err(failed)?;
        self.say(
            "you",
            format!("uploaded s3://{raw}/{key} ({} bytes)", body.len()),
        );
        Ok(())
    }

    /// The training workflow starts, the gate judges its model, and the execution succeeds.
    async fn trained(&mut self) -> Result<(), StoryFailure> {
        let started = self
            .answered(
                "trigger-training",
                "trigger-training starts the training workflow",
                |v| v["outcome"] == "started",
            )
            .await?;
        let execution = started["execution_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let verdict = self
            .answered("model-gate", "model-gate judges the trained model", |v| {
                v["decision"].is_string()
            })
            .await?;
        self.told.verdict = verdict["decision"].as_str().unwrap_or_default().to_owned();
        let ended = self
            .expect(&format!("execution {execution} ends"), |f| match f {
                Fact::Execution { name, status } if *name == execution && status != "RUNNING" => {
                    Some(status.clone())
                }
                _ => None,
            })
            .await?;
        if ended != "SUCCEEDED" {
            return Err(failed(format!(
                "execution {execution} succeeds (it ended {ended})"
            )));
        }
        Ok(())
    }

    /// Version 2 is in the registry with the gate's verdict; a reviewer approves it if the gate held it.
    async fn registered(&self) -> Result<(), StoryFailure> {
        let verdict = &self.told.verdict;
        let registered = packages(&self.sagemaker, &self.group)
            .await
            .map_err(failed)?;
        let Some((v2, status)) = registered
            .iter()
            .find(|(arn, _)| version(&json!(arn)).ends_with("/2"))
        else {
            return Err(failed(
                "the workflow registers version 2 in the model registry",
            ));
        };
        if status != verdict {
            return Err(failed(format!(
                "version 2 is registered {status} (the gate said {verdict})"
            )));
        }
        self.say(
            "sagemaker",
            format!("registry: {} is {status}", version(&json!(v2))),
        );
        self.chain(v2).await?;
        if verdict == "PendingManualApproval" {
            self.approve(v2).await?;
        }
        self.served("/2", "deploy makes version 2 serve").await?;
        self.batch("tickets.jsonl", BATCH, "/2").await?;
        let monitored = self.monitored().await?;
        let drift = monitored["input_drift"].as_array().map_or(0, Vec::len);
        if drift > 0 {
            return Err(failed(format!(
                "today's tickets drift from nothing (the monitor found {})",
                monitored["input_drift"]
            )));
        }
        Ok(())
    }

    /// inference-monitor measures the transform job's output against the serving version's baseline, and says so.
    async fn monitored(&self) -> Result<Value, StoryFailure> {
        let monitored = self
            .answered(
                "inference-monitor",
                "inference-monitor measures the batch's output",
                |v| v["outcome"] == "monitored",
            )
            .await?;
        let summary = &monitored["summary"];
        let drift: Vec<&str> = monitored["input_drift"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        self.say(
            "monitor",
            format!(
                "{} predictions against {}'s baseline: average confidence {:.2}, label PSI {:.3}, input drift: {}",
                summary["predictions"],
                version(&monitored["baseline_of"]),
                summary["avgConfidence"].as_f64().unwrap_or_default(),
                monitored["label_psi"].as_f64().unwrap_or_default(),
                if drift.is_empty() {
                    "none".to_owned()
                } else {
                    drift.join(", ")
                }
            ),
        );
        Ok(monitored)
    }

    /// `body` uploaded as batch input named `file`: batch-launcher starts a transform job with the model of the
    /// version ending in `serving`, and SageMaker (played by the loop) runs it.
    async fn batch(
        &self,
        file: &str,
        body: &'static str,
        serving: &str,
    ) -> Result<(), StoryFailure> {
        let bucket = self.artifacts_bucket()?;
        let key = format!("batch-input/{}/{file}", Utc::now().format("%Y-%m-%d"));
        upload(&self.s3, bucket, &key, body).await.map_err(failed)?;
        self.say(
            "you",
            format!(
                "uploaded s3://{bucket}/{key} ({} texts)",
                body.lines().count()
            ),
        );
        self.delivered("BatchInputRule", "Object Created").await?;
        let started = self
            .answered(
                "batch-launcher",
                "batch-launcher starts a transform job with the serving model",
                |v| v["outcome"] == "started" && version(&v["package"]).ends_with(serving),
            )
            .await?;
        let job = started["job"].as_str().unwrap_or_default();
        self.say(
            "batch",
            format!(
                "transform job {job} runs {} ({}), input and output joined",
                started["model"].as_str().unwrap_or_default(),
                version(&started["package"])
            ),
        );
        self.delivered(
            "InferenceMonitorRule",
            "SageMaker Transform Job State Change",
        )
        .await
    }

    /// The template's artifacts bucket (batch input, the jobs' stage reports).
    fn artifacts_bucket(&self) -> Result<&str, StoryFailure> {
        self.local
            .runtime
            .stack
            .buckets
            .get("ArtifactsBucket")
            .map(String::as_str)
            .ok_or_else(|| failed("the template has the artifacts bucket"))
    }

    /// deploy answers that the version ending in `suffix` serves, and says so.
    async fn served(&self, suffix: &str, step: &str) -> Result<Value, StoryFailure> {
        let deployed = self
            .answered("deploy", step, |v| {
                v["outcome"] == "deployed" && version(&v["package"]).ends_with(suffix)
            })
            .await?;
        let before = match deployed["previous"].as_str() {
            Some(previous) => version(&json!(previous)),
            None => "nothing".to_owned(),
        };
        let line = match deployed["reason"].as_str() {
            Some("rollback") => format!(
                "{} serves again, rolled back from {before}",
                version(&deployed["package"])
            ),
            _ => format!(
                "{} serves, approved by {} (before it: {before}); lineage verified, serving record written",
                version(&deployed["package"]),
                deployed["approved_by"].as_str().unwrap_or("unknown")
            ),
        };
        self.say("deploy", line);
        Ok(deployed)
    }

    /// What version `arn` carries: its signed lineage record verifies with the key model-gate signs with, and its
    /// baseline (the merged profiles of the files it trained on) matches the digest the package names.
    async fn chain(&self, arn: &str) -> Result<(), StoryFailure> {
        let package = registry::describe(&self.sagemaker, arn)
            .await
            .map_err(|e| failed(format!("describe {arn}: {e}")))?;
        let lineage = self.lineage()?;
        let record = lineage
            .verify_package_model(&package)
            .await
            .map_err(|e| failed(format!("the lineage of version 2 verifies ({e})")))?;
        let reference = record
            .baseline
            .as_ref()
            .ok_or_else(|| failed("the lineage of version 2 names its baseline"))?;
        let baseline = Baselines::new(lineage.state().clone())
            .load(reference)
            .await
            .map_err(|e| failed(format!("the baseline of version 2 reads ({e})")))?;
        self.say(
            "lineage",
            format!(
                "version 2: trained by {} on {} pinned file(s), {} rows; record signed and verified",
                record.training.job_name, record.data.files, record.data.rows
            ),
        );
        let top: Vec<&str> = baseline
            .profile
            .vocabulary
            .top
            .iter()
            .take(5)
            .map(|t| t.token.as_str())
            .collect();
        self.say(
            "baseline",
            format!(
                "version 2: {} texts, labels {}, median {} characters, top tokens {}",
                baseline.summary.rows,
                json!(baseline.profile.labels),
                baseline.summary.chars.p50.unwrap_or_default(),
                top.join(", ")
            ),
        );
        Ok(())
    }

    /// The lineage records as model-gate keeps them: its state bucket, key and prefix, from the template.
    fn lineage(&self) -> Result<Lineage, StoryFailure> {
        let gate = self
            .local
            .runtime
            .stack
            .functions
            .values()
            .find(|f| f.binary == "model-gate")
            .ok_or_else(|| failed("the template has model-gate"))?;
        let env = |name: &str| {
            gate.environment
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let (state_bucket, key_id) = env("STATE_BUCKET")
            .zip(env("LINEAGE_KEY_ID"))
            .ok_or_else(|| failed("model-gate has STATE_BUCKET and LINEAGE_KEY_ID"))?;
        let state = StateStore::new(self.s3.clone(), state_bucket);
        let prefix = env("LINEAGE_PREFIX").unwrap_or_else(|| lineage::DEFAULT_PREFIX.to_owned());
        Ok(Lineage::from_sdk(&self.local.sdk, state, key_id, prefix))
    }

    /// A reviewer approves the model package `arn`, as a person would the gate's held model.
    async fn approve(&self, arn: &str) -> Result<(), StoryFailure> {
        crate::registry::approve(&self.sagemaker, arn, "Reviewed: approved (local loop).")
            .await
            .map_err(|e| failed(format!("approve version 2: {e}")))?;
        self.say(
            "reviewer",
            format!(
                "approved {} (the gate holds every model for a person unless AutoApprove=true)",
                version(&json!(arn))
            ),
        );
        Ok(())
    }

    /// Chapter 2: a bad dataset is quarantined with its reasons and a notice, and the quarantine rate's alarm
    /// goes off on validate-ingest's own metrics.
    async fn bad_dataset(&mut self) -> Result<(), StoryFailure> {
        self.chapter(
            "2. A bad dataset: quarantined with its reasons, a notice, the quarantine-rate alarm",
        );
        self.upload_dataset("lote manual 2026-11.csv", BAD).await?;
        self.delivered("RawObjectCreatedRule", "Object Created")
            .await?;
        let quarantined = self.published("Dataset Quarantined").await?;
        self.told.reasons = quarantined["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect();
        for reason in self.told.reasons.iter().take(4) {
            self.say("", format!("  reason: {reason}"));
        }
        if self.told.reasons.is_empty() {
            return Err(failed("the quarantine names its reasons"));
        }
        self.notice("dataset-quarantined").await?;
        self.alarmed("-quarantine-rate").await?;
        Ok(())
    }

    /// Chapter 3: a batch unlike training raises the input-drift alarms on the monitor's own metrics; drift-handler
    /// asks for retraining (data drift rolls nothing back), which the cooldown holds.
    async fn drifted_batch(&mut self) -> Result<(), StoryFailure> {
        self.chapter(
            "3. A batch unlike training: the monitor's input-drift alarms, retraining asked",
        );
        self.batch("drifted.jsonl", DRIFTED, "/2").await?;
        let monitored = self.monitored().await?;
        self.told.drifted = monitored["input_drift"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect();
        if self.told.drifted.is_empty() {
            return Err(failed("the monitor finds input drift in the drifted batch"));
        }
        let input = format!("{}input-", self.local.parameter("DriftAlarmPrefix"));
        self.alarmed_where(&format!("{input}…"), |name| name.starts_with(&input))
            .await?;
        self.delivered("DriftAlarmsRule", "CloudWatch Alarm State Change")
            .await?;
        // One alarm per breached check, each handled once: the chapter ends when all were.
        let (want, handler) = (
            self.told.drifted.len(),
            self.local.function_id("drift-handler"),
        );
        let mut handled = std::collections::BTreeSet::new();
        self.expect(
            &format!("drift-handler asks for retraining on each of the {want} input-drift alarms"),
            |f| match f {
                Fact::Invoked {
                    function,
                    result: Ok(v),
                } if *function == handler && v["retraining_requested"] == true => {
                    let alarm = v["alarm"].as_str().filter(|a| a.starts_with(&input))?;
                    handled.insert(alarm.to_owned());
                    (handled.len() >= want).then_some(())
                }
                _ => None,
            },
        )
        .await?;
        self.published("Retraining Requested").await?;
        self.notice("drift-").await?;
        self.answered(
            "trigger-training",
            "trigger-training decides on the retraining request",
            |v| v["outcome"] == "skipped" || v["outcome"] == "started",
        )
        .await?;
        Ok(())
    }

    /// Chapter 4: the agents' labels for today's tickets arrive; joined with the batch's kept answers they show
    /// the F1 drop, the model-quality alarm goes off on the monitor's metric, and drift-handler rolls the model
    /// back to the previous approved version and asks for retraining.
    async fn ground_truth(&mut self) -> Result<(), StoryFailure> {
        self.chapter("4. Ground truth for today's tickets: the F1 drop, the model-quality alarm, rollback to the previous approved version");
        let bucket = self.artifacts_bucket()?;
        let key = format!(
            "ground-truth/batch/{}/labels.jsonl",
            Utc::now().format("%Y/%m/%d/%H")
        );
        upload(&self.s3, bucket, &key, TRUTH)
            .await
            .map_err(failed)?;
        self.say(
            "you",
            format!(
                "uploaded s3://{bucket}/{key} (the agents' labels for {} of today's tickets)",
                TRUTH.lines().count()
            ),
        );
        self.delivered("BatchGroundTruthRule", "Object Created")
            .await?;
        let judged = self
            .answered(
                "inference-monitor",
                "inference-monitor judges the batches' answers against the ground truth",
                |v| v["outcome"] == "judged",
            )
            .await?;
        self.say(
            "monitor",
            judged["verdict"].as_str().unwrap_or_default().to_owned(),
        );
        let alarm = self.local.drift_alarm_name();
        self.alarmed_where(&alarm, |name| name == alarm).await?;
        self.delivered("DriftAlarmsRule", "CloudWatch Alarm State Change")
            .await?;
        let drifted = self
            .answered("drift-handler", "drift-handler rolls back", |v| {
                v["rollback"]["result"] == "rolled-back"
            })
            .await?;
        self.told.rolled_back = (
            version(&drifted["rollback"]["from"]),
            version(&drifted["rollback"]["to"]),
        );
        self.published("Model Rolled Back").await?;
        self.served("/1", "deploy makes version 1 serve again")
            .await?;
        // This alarm's own request and notice (chapter 3's prediction-quality alarms may still be answered).
        self.expect(
            "Retraining Requested for model quality on the project bus",
            |f| match f {
                Fact::Published {
                    detail_type,
                    detail,
                } if detail_type == "Retraining Requested"
                    && detail["cause"] == "model-quality" =>
                {
                    Some(())
                }
                _ => None,
            },
        )
        .await?;
        self.notice("drift-model-quality").await?;
        self.rejected().await
    }

    /// After the rollback, version 2 is Rejected in the registry.
    async fn rejected(&self) -> Result<(), StoryFailure> {
        let after = packages(&self.sagemaker, &self.group)
            .await
            .map_err(failed)?;
        let statuses: Vec<String> = after
            .iter()
            .map(|(arn, s)| format!("{} {s}", version(&json!(arn))))
            .collect();
        if !statuses.iter().any(|s| s.ends_with("/2 Rejected")) {
            return Err(failed(format!(
                "version 2 is Rejected after the rollback (registry: {})",
                statuses.join(", ")
            )));
        }
        self.say("sagemaker", format!("registry: {}", statuses.join(", ")));
        Ok(())
    }

    /// Chapter 5: the daily cost run finds yesterday over budget and alerts.
    async fn cost_run(&mut self) -> Result<(), StoryFailure> {
        let local = self.local;
        self.chapter(
            "5. The daily cost run, with yesterday over budget: notices and the budget alarm",
        );
        inject_costs(local, &SPEND).map_err(failed)?;
        self.say(
            "cost explorer",
            format!(
                "yesterday on the emulator: {} (daily budget USD {})",
                SPEND
                    .iter()
                    .map(|(s, usd)| format!("{s} USD {usd:.2}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                local.parameter("DailyBudgetUsd")
            ),
        );
        let schedule = local
            .cost_schedule()
            .ok_or_else(|| failed("the template schedules a cost-guard run"))?;
        local
            .runtime
            .fire_schedule(&schedule)
            .await
            .map_err(failed)?;
        let report = self
            .answered("cost-guard", "cost-guard finds a budget breached", |v| {
                v["breaches"].as_array().is_some_and(|b| !b.is_empty())
            })
            .await?;
        self.told.breaches = report["breaches"].as_array().map_or(0, Vec::len);
        self.notice("budget-").await?;
        self.published("Budget Exceeded").await?;
        self.alarmed("-cost-over-budget").await?;
        Ok(())
    }

    /// Chapter 6: someone makes a bucket public in the console. CloudTrail's record of the call (which the
    /// emulator does not make: the story sends it as CloudTrail would) reaches posture-audit, which re-checks that
    /// bucket alone and pages at once; the policy removed, it tells the finding resolved.
    async fn console_change(&mut self) -> Result<(), StoryFailure> {
        self.chapter(
            "6. A bucket made public in the console: the posture audit re-checks it and pages, then tells it fixed",
        );
        let bucket = format!("{}-shared-exports", self.local.parameter("ProjectName"));
        self.s3
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .map_err(|e| failed(format!("create bucket {bucket}: {e}")))?;
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Partners", "Effect": "Allow",
            "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]});
        self.s3
            .put_bucket_policy()
            .bucket(&bucket)
            .policy(policy.to_string())
            .send()
            .await
            .map_err(|e| failed(format!("put the policy of {bucket}: {e}")))?;
        self.api_call(&bucket, "PutBucketPolicy", "lets anyone read its objects")
            .await;
        self.answered("posture-audit", "posture-audit re-checks the bucket", |v| {
            v["checked"].as_str().is_some_and(|c| c.contains(&bucket)) && v["new"] == 1
        })
        .await?;
        self.notice_about("posture-finding", "1 new").await?;
        let mark = self.local.runtime.timeline.len();
        self.s3
            .delete_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .map_err(|e| failed(format!("delete the policy of {bucket}: {e}")))?;
        self.api_call(&bucket, "DeleteBucketPolicy", "is private again")
            .await;
        self.mark = mark;
        self.notice_about("posture-finding", "resolved").await?;
        Ok(())
    }

    /// Chapter 7: the team's feature-engineering and clustering jobs leave their stage reports beside their
    /// output; stage-report validates each and keeps it as its stage's reference. The next clustering run
    /// collapsed to two clusters: its report is judged against the previous run and notifies with the figures.
    async fn stage_reports(&mut self) -> Result<(), StoryFailure> {
        self.chapter(
            "7. Feature engineering and clustering report their runs; the next clustering run collapses and notifies",
        );
        let day = Utc::now().format("%Y-%m-%d");
        let first: Value = serde_json::from_str(CLUSTERS_REPORT).map_err(failed)?;
        let mut collapsed = first.clone();
        collapsed["jobId"] = json!("tickets-cluster-next");
        collapsed["finishedAt"] = json!("2026-12-02T02:18:41Z");
        collapsed["clustering"] = json!({"clusters": 2, "sizes": [45100, 2520],
            "intraVariance": [0.41, 0.37], "totalIntraVariance": 0.408, "noise": 482});
        let reports = [
            (
                format!("features/{day}/stage-report.json"),
                FEATURES_REPORT.to_owned(),
                false,
            ),
            (
                format!("clusters/{day}/stage-report.json"),
                CLUSTERS_REPORT.to_owned(),
                false,
            ),
            (
                format!("clusters/{day}-next/stage-report.json"),
                collapsed.to_string(),
                true,
            ),
        ];
        let bucket = self.artifacts_bucket()?.to_owned();
        for (key, body, breaches) in reports {
            let report: Value = serde_json::from_str(&body).map_err(failed)?;
            upload(&self.s3, &bucket, &key, body)
                .await
                .map_err(failed)?;
            self.say(
                "you",
                format!(
                    "the {} job {} wrote s3://{bucket}/{key}",
                    report["stage"].as_str().unwrap_or_default(),
                    report["jobId"].as_str().unwrap_or_default()
                ),
            );
            self.delivered("StageReportRule", "Object Created").await?;
            let step = if breaches {
                "stage-report finds the run past its limits"
            } else {
                "stage-report judges the run within its limits"
            };
            self.answered("stage-report", step, |v| {
                v["outcome"] == "judged"
                    && v["report"].as_str().is_some_and(|r| r.ends_with(&key))
                    && v["breaches"]
                        .as_array()
                        .is_some_and(|b| b.is_empty() != breaches)
            })
            .await?;
        }
        self.notice_about("stage-breach", "cluster-count").await?;
        Ok(())
    }

    /// CloudTrail's record of a successful call on `bucket`, sent to the default bus as CloudTrail sends it.
    async fn api_call(&self, bucket: &str, name: &str, what: &str) {
        let detail = json!({
            "eventVersion": "1.10",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/ConsoleAdmin/maria"},
            "eventTime": Utc::now().to_rfc3339(),
            "eventSource": "s3.amazonaws.com",
            "eventName": name,
            "awsRegion": testkit::REGION,
            "requestParameters": {"bucketName": bucket},
            "responseElements": null,
            "eventID": testkit::unique_name("trail"),
            "readOnly": false,
            "eventType": "AwsApiCall",
            "managementEvent": true,
        });
        self.local
            .runtime
            .send(
                "console",
                &format!("{name} on {bucket}: it {what}; CloudTrail's record to the default bus"),
                crate::runtime::ServiceEvent {
                    source: "aws.s3",
                    detail_type: "AWS API Call via CloudTrail".to_owned(),
                    detail,
                    resources: Vec::new(),
                    time: None,
                },
            )
            .await;
    }

    /// Chapter 7: someone alters the serving version's signed lineage record (the state bucket's policy lets no
    /// persona write it; the story writes with the emulator's own credentials). The next batch's monitoring fails on
    /// it instead of judging against a forged baseline, and inference-monitor's error alarm goes off on Lambda's
    /// `Errors`.
    async fn altered_record(&mut self) -> Result<(), StoryFailure> {
        self.chapter(FAILS_ON_PURPOSE);
        let record = self
            .record_v1
            .clone()
            .ok_or_else(|| failed("version 1's lineage record was written"))?;
        self.alter(&record).await?;
        self.say(
            "intruder",
            format!(
                "rewrote {} (version 1's validation F1 raised to 0.99)",
                record.uri()
            ),
        );
        self.batch("tickets-evening.jsonl", BATCH, "/1").await?;
        self.expect(
            "inference-monitor refuses version 1's altered lineage record",
            |f| match f {
                Fact::Invoked {
                    function,
                    result: Err(e),
                } if *function == self.local.function_id("inference-monitor")
                    && e.contains("lineage") =>
                {
                    Some(e.clone())
                }
                _ => None,
            },
        )
        .await?;
        self.told.error_alarm = self.alarmed("-inference-monitor-errors").await?;
        Ok(())
    }

    /// Rewrites the lineage record at `record` with a better F1, as someone who wants a weaker gate would.
    async fn alter(&self, record: &guardrails_core::ObjectRef) -> Result<(), StoryFailure> {
        let text = crate::runtime::read_text(&self.s3, record)
            .await
            .map_err(|e| failed(format!("read {}: {e}", record.uri())))?;
        let mut value: Value = serde_json::from_str(&text)
            .map_err(|e| failed(format!("{} is JSON: {e}", record.uri())))?;
        value["verdict"]["metrics"]["validation:weighted_f1"] = json!(0.99);
        self.s3
            .put_object()
            .bucket(&record.bucket)
            .key(&record.key)
            .body(ByteStream::from(value.to_string().into_bytes()))
            .send()
            .await
            .map_err(|e| failed(format!("rewrite {}: {e}", record.uri())))?;
        Ok(())
    }
}

async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: impl Into<Vec<u8>>,
) -> Result<(), LoopError> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.into()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutObject", format!("s3://{bucket}/{key}"), e))?;
    Ok(())
}

/// (ARN, approval status) of every version in the group, oldest first.
async fn packages(
    sagemaker: &aws_sdk_sagemaker::Client,
    group: &str,
) -> Result<Vec<(String, String)>, LoopError> {
    let listed = sagemaker
        .list_model_packages()
        .model_package_group_name(group)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ListModelPackages", group, e))?;
    let mut out: Vec<(String, String)> = listed
        .model_package_summary_list()
        .iter()
        .map(|p| {
            (
                p.model_package_arn().unwrap_or_default().to_owned(),
                p.model_approval_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    out.sort_by_key(|(arn, _)| {
        arn.rsplit('/')
            .next()
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or_default()
    });
    Ok(out)
}

/// Queues the Cost Explorer answers of one cost-guard run: yesterday's `spend` by service (the month so far),
/// then yesterday by the job tag.
///
/// # Errors
/// When the emulator refuses them.
pub fn inject_costs(local: &Local, spend: &[(&str, f64)]) -> Result<(), LoopError> {
    let yesterday = Utc::now()
        .date_naive()
        .checked_sub_days(Days::new(1))
        .ok_or_else(|| LoopError::NothingToDo("today has no yesterday".into()))?;
    let day = yesterday.format("%Y-%m-%d").to_string();
    let next = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    let groups: Vec<Value> = spend
        .iter()
        .map(|(service, usd)| json!({"Keys": [service], "Metrics": {"UnblendedCost": {"Amount": usd.to_string(), "Unit": "USD"}}}))
        .collect();
    let by_service = json!({"ResultsByTime": [{"TimePeriod": {"Start": day, "End": next}, "Total": {},
        "Groups": groups, "Estimated": true}], "DimensionValueAttributes": []});
    let by_job = json!({"ResultsByTime": [{"TimePeriod": {"Start": day, "End": next}, "Total": {},
        "Groups": [{"Keys": ["trigger$new-data"], "Metrics": {"UnblendedCost": {"Amount": spend.first().map_or(0.0, |s| s.1).to_string(), "Unit": "USD"}}}],
        "Estimated": true}], "DimensionValueAttributes": []});
    local
        .emulator
        .post_json(
            "/moto-api/static/ce/cost-and-usage-results",
            &json!({"results": [by_service, by_job]}),
        )
        .map_err(|message| LoopError::Emulator {
            what: "the Cost Explorer results",
            message,
        })
}
