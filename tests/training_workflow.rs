//! The training workflow (`infra/statemachine/training.asl.json`) executed by the emulator's Step Functions
//! interpreter, started by trigger-training with its real execution input, with model-gate's real verdicts:
//! the success, rejection, fallback and failure branches, asserted on the registry, the jobs the emulator's
//! SageMaker received, and the notice the notifier makes of how the execution ended (the workflow sends none
//! itself).
//!
//! What the emulator cannot do is stood in for, nothing else: `.sync` is stripped (jobs complete at once); a
//! failed job (or gate) is a task pointed at a call that fails ([`fail_state`]); the gate's Lambda
//! answer is model-gate's verdict computed beforehand (the emulator's Lambda returns queued answers), with the
//! job's metrics from `aws-smithy-mocks` and the champion from the emulator's registry.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use aws_sdk_sagemaker::types::TrainingJobStatus;
use aws_sdk_sfn::types::ExecutionStatus;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use chrono::Utc;
use std::collections::{BTreeMap, HashMap};

use guardrails_core::baseline::{self, Baselines};
use guardrails_core::image::ImageGate;
use guardrails_core::ledger::{Copy, Entry, Ledger};
use guardrails_core::lineage::{self, Lineage, LineageError};
use guardrails_core::state::StateStore;
use guardrails_core::{Env, Notifier, ObjectRef};
use model_gate::ModelGate;
use model_gate::registry::Registry;
use serde_json::{Value, json};
use testkit::{
    KmsBucket, TopicProbe, emulator, emulator_definition, fail_state, scanned_image, unique_name,
};
use trigger_training::input::Trigger;
use trigger_training::manifest::Manifests;
use trigger_training::policy::TriggerKind;
use trigger_training::workflow::Workflow;
use trigger_training::{Outcome, TriggerTraining};

const DEFINITION: &str = include_str!("../infra/statemachine/training.asl.json");
/// The image trigger-training registers versions with (`INFERENCE_IMAGE`), which the gate pins in lineage.
const INFERENCE_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-serve:1";

/// The emulator's canned Lambda answers are one queue per process: executions that reach the gate take turns.
static GATE_ANSWERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct World {
    sfn: aws_sdk_sfn::Client,
    sagemaker: aws_sdk_sagemaker::Client,
    group: String,
    trigger: TriggerTraining,
    state: StateStore,
    /// The validated copies in the ledger, as `(key, rows)`.
    validated: Vec<(String, u64)>,
    /// Every valid row of those files, as `(text, label)`.
    rows: Vec<(String, String)>,
    ledger: Ledger,
    manifests: Manifests,
    /// The key that signs lineage records.
    signing_key: String,
    sdk: aws_config::SdkConfig,
}

/// A state machine from the definition (with `failing` training states), a topic, a model package group, and
/// trigger-training configured for them (plus `extra` settings).
async fn world(failing: &[&str], extra: &[(&'static str, &'static str)]) -> World {
    let sdk = emulator().sdk_config().await;
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let sagemaker = aws_sdk_sagemaker::Client::new(&sdk);
    let group = unique_name("tickets");
    sagemaker
        .create_model_package_group()
        .model_package_group_name(&group)
        .send()
        .await
        .unwrap();
    let mut definition = emulator_definition(
        DEFINITION,
        &[
            (
                "SageMakerRoleArn",
                "arn:aws:iam::123456789012:role/sagemaker-training",
            ),
            (
                "ModelGateFunctionArn",
                "arn:aws:lambda:us-east-1:123456789012:function:model-gate",
            ),
        ],
    );
    for state in failing {
        fail_state(&mut definition, state);
    }
    let machine = sfn
        .create_state_machine()
        .name(unique_name("training"))
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/training-workflow")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let bucket = KmsBucket::create(&sdk, "state").await;
    let state_bucket = bucket.name.as_str();
    // Both images pushed and scanned clean: the image-scan gate lets the run start.
    scanned_image(&sdk, "nlp-train", "1", &[]).await;
    scanned_image(&sdk, "nlp-serve", "1", &[]).await;
    let notices = TopicProbe::create(&sdk).await;
    let mut pairs = vec![
        ("NOTICE_TOPIC_ARN", notices.topic_arn.as_str()),
        ("EVENT_BUS_NAME", "unused"),
        ("STATE_MACHINE_ARN", machine.as_str()),
        ("TRAINING_DATASET", "tickets"),
        ("STATE_BUCKET", state_bucket),
        (
            "TRAINING_IMAGE",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-train:1",
        ),
        ("INFERENCE_IMAGE", INFERENCE_IMAGE),
        ("MODEL_PACKAGE_GROUP", group.as_str()),
        ("TRAINING_DATA_URI", "s3://ingested/tickets/"),
        ("OUTPUT_URI", "s3://artifacts/models/"),
        (
            "HYPERPARAMETERS",
            r#"{"epochs": 3, "model": "xlm-roberta-base"}"#,
        ),
    ];
    pairs.extend_from_slice(extra);
    let config = trigger_training::Config::from_env(&Env::from_pairs(pairs)).unwrap();
    let s3 = guardrails_core::aws::s3_client(&sdk);
    let state = StateStore::new(s3.clone(), state_bucket);
    let ledger = Ledger::new(s3, state_bucket, &config.ledger_prefix);
    let (mut validated, mut rows) = (Vec::new(), Vec::new());
    for (i, (key, body)) in TRAINING_FILES.iter().enumerate() {
        let rows_of_file = validate_into_ledger(
            &ledger,
            &state,
            i,
            key,
            body,
            Utc::now() - chrono::Duration::minutes(10),
        )
        .await;
        validated.push(((*key).to_owned(), rows_of_file.len() as u64));
        rows.extend(rows_of_file);
    }
    let manifests = Manifests::new(state.clone(), &config.manifest_prefix);
    let trigger = TriggerTraining::new(
        Workflow::new(sfn.clone(), &machine),
        ledger.clone(),
        manifests.clone(),
        ImageGate::from_sdk(&sdk, config.image_scan_block),
        Notifier::from_sdk(&sdk, notices.topic_arn.clone()),
        config,
    );
    World {
        sfn,
        sagemaker,
        group,
        trigger,
        state,
        validated,
        rows,
        ledger,
        manifests,
        signing_key: testkit::signing_key(&sdk).await,
        sdk,
    }
}

/// The validated files of the ledger: `(copy key, body)`.
const TRAINING_FILES: [(&str, &str); 2] = [
    (
        "tickets/0f1e2d3c4b5a6978/2026/a.csv",
        "text,label\nMi factura está duplicada,facturacion\nNo puedo entrar en mi cuenta,soporte\n\
         La factura llegó sin IVA,facturacion\nQuiero la versión anual,ventas\n",
    ),
    (
        "tickets/8796a5b4c3d2e1f0/b.jsonl",
        "{\"text\": \"¿Dónde está mi pedido?\", \"label\": \"soporte\"}\n\
         {\"text\": \"Mi pedido llegó roto\", \"label\": \"soporte\"}\n\
         {\"text\": \"Precio de la versión anual\", \"label\": \"ventas\"}\n",
    ),
];

/// A file as validate-ingest leaves it: checked and profiled in one pass, its profile in the state bucket,
/// its entry in the ledger naming the copy and the profile. Returns its valid rows as `(text, label)`.
async fn validate_into_ledger(
    ledger: &Ledger,
    state: &StateStore,
    i: usize,
    key: &str,
    body: &str,
    time: chrono::DateTime<Utc>,
) -> Vec<(String, String)> {
    let contract = dataset_check::Contract::from_json(
        r#"{"labels": ["facturacion", "soporte", "ventas", "Otros"], "min_rows": 1}"#,
    )
    .unwrap();
    let (report, profile) =
        dataset_check::check_profiled(body.as_bytes(), key, &contract, None).unwrap();
    assert!(report.is_valid(), "{:?}", report.reasons);
    let id = format!("upload-{i}");
    let profile_key = baseline::profile_key("tickets", &id);
    state
        .create_bytes(&profile_key, serde_json::to_vec(&profile).unwrap())
        .await
        .unwrap();
    let entry = Entry {
        id,
        time: time + chrono::Duration::seconds(i as i64),
        dataset: "tickets".to_owned(),
        rows: report.rows,
        copy: Some(Copy {
            object: ObjectRef::new("ingested", key),
            bytes: body.len() as u64,
            sha256: None,
            contract: None,
            profile: Some(profile_key),
        }),
    };
    ledger.record(&entry).await.unwrap();
    rows_of(key, body)
}

/// The `(text, label)` rows of a CSV or JSON Lines test file.
fn rows_of(key: &str, body: &str) -> Vec<(String, String)> {
    if key.ends_with(".csv") {
        body.lines()
            .skip(1)
            .map(|l| {
                let (text, label) = l.rsplit_once(',').unwrap();
                (text.to_owned(), label.to_owned())
            })
            .collect()
    } else {
        body.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|v| {
                (
                    v["text"].as_str().unwrap().to_owned(),
                    v["label"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// What the baseline of `rows` must hold: label shares, and every token with its exact count (most frequent
/// first, ties by token), as the profile tokenizes.
fn expected_baseline(rows: &[(String, String)]) -> (BTreeMap<String, f64>, Vec<(String, u64)>) {
    let mut labels: BTreeMap<String, u64> = ["facturacion", "soporte", "ventas", "Otros"]
        .iter()
        .map(|l| ((*l).to_owned(), 0))
        .collect();
    let mut tokens: BTreeMap<String, u64> = BTreeMap::new();
    for (text, label) in rows {
        *labels.get_mut(label).unwrap() += 1;
        for token in dataset_check::profile::tokens(text) {
            *tokens.entry(token).or_default() += 1;
        }
    }
    let mut top: Vec<(String, u64)> = tokens.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    (baseline::shares(&labels), top)
}

fn manual(reason: &str) -> Trigger {
    Trigger {
        kind: TriggerKind::Manual,
        id: unique_name("request"),
        time: Utc::now(),
        reason: reason.to_owned(),
    }
}

/// How the finished execution ended: status, output (or error and cause).
#[derive(Debug)]
struct Ended {
    execution_arn: String,
    status: ExecutionStatus,
    output: Value,
    error: Option<String>,
    cause: Option<String>,
    /// What the Gate task sent model-gate, from the execution history, if it was reached.
    gate_payload: Option<Value>,
}

impl World {
    /// model-gate's answer for `job` of `trigger`'s run with these final metrics, against this world's registry.
    /// The run's files are pinned first, as trigger-training pins them (the run then finds them pinned).
    async fn verdict(
        &self,
        trigger: &Trigger,
        job: &str,
        metrics: &[(&str, f32)],
        auto_approve: &str,
    ) -> Value {
        let pinned = self
            .manifests
            .pin(
                &self.ledger,
                &trigger.execution_name(),
                "tickets",
                "s3://ingested/tickets/",
                Utc::now(),
            )
            .await
            .unwrap();
        let manifest = pinned.manifest.uri();
        let described =
            testkit::training_job(job, TrainingJobStatus::Completed, Some(&manifest), metrics);
        let rule = mock!(aws_sdk_sagemaker::Client::describe_training_job)
            .then_output(move || described.clone());
        let gate = ModelGate::new(
            Registry::with_clients(
                mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, [&rule]),
                self.sagemaker.clone(),
            ),
            self.lineage(),
            self.state.clone(),
            model_gate::Config::from_env(&Env::from_pairs([
                ("EVENT_BUS_NAME", "unused"),
                ("AUTO_APPROVE", auto_approve),
                ("STATE_BUCKET", self.state.bucket()),
                ("LINEAGE_KEY_ID", self.signing_key.as_str()),
            ]))
            .unwrap(),
        );
        let request = serde_json::from_value(json!({
            "training_job_name": job,
            "model_package_group": self.group,
            "inference_image": INFERENCE_IMAGE,
        }))
        .unwrap();
        serde_json::to_value(gate.handle(request).await.unwrap()).unwrap()
    }

    /// Starts the workflow through trigger-training, the gate answering `gate_answer` if it is reached, and
    /// waits for the end.
    async fn run(&self, trigger: &Trigger, gate_answer: Option<Value>) -> Ended {
        let _turn = GATE_ANSWERS.lock().await;
        if let Some(answer) = gate_answer {
            emulator()
                .post_json(
                    "/moto-api/static/lambda-simple/response",
                    &json!({"account_id": "123456789012", "region": "us-east-1", "results": [answer.to_string()]}),
                )
                .unwrap();
        }
        let outcome = self.trigger.run(trigger, Utc::now()).await.unwrap();
        let Outcome::Started { execution_arn, .. } = outcome else {
            panic!("expected a start, got {outcome:?}");
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let d = self
                .sfn
                .describe_execution()
                .execution_arn(&execution_arn)
                .send()
                .await
                .unwrap();
            if *d.status() != ExecutionStatus::Running {
                let history = self
                    .sfn
                    .get_execution_history()
                    .execution_arn(&execution_arn)
                    .send()
                    .await
                    .unwrap();
                let gate_payload = history.events().iter().find_map(|e| {
                    let scheduled = e.task_scheduled_event_details()?;
                    (scheduled.resource() == "invoke").then(|| {
                        let parameters: Value =
                            serde_json::from_str(scheduled.parameters()).unwrap();
                        parameters["Payload"].clone()
                    })
                });
                return Ended {
                    execution_arn: execution_arn.clone(),
                    gate_payload,
                    status: d.status().clone(),
                    output: d
                        .output()
                        .map_or(Value::Null, |o| serde_json::from_str(o).unwrap()),
                    error: d.error().map(str::to_owned),
                    cause: d.cause().map(str::to_owned),
                };
            }
            assert!(Instant::now() < deadline, "execution still running");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// (approval status, description, F1 recorded in the metadata) of each package, oldest first.
    async fn packages(&self) -> Vec<(String, String, Option<String>)> {
        let listed = self
            .sagemaker
            .list_model_packages()
            .model_package_group_name(&self.group)
            .send()
            .await
            .unwrap();
        let mut out = Vec::new();
        for summary in listed.model_package_summary_list() {
            let p = self
                .sagemaker
                .describe_model_package()
                .model_package_name(summary.model_package_arn().unwrap())
                .send()
                .await
                .unwrap();
            // SageMaker refuses customer metadata outside this character set (the emulator does not check).
            for (key, value) in p.customer_metadata_properties().into_iter().flatten() {
                assert!(
                    format!("{key}{value}")
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)),
                    "metadata {key:?} = {value:?}"
                );
            }
            out.push((
                p.model_approval_status().unwrap().as_str().to_owned(),
                p.model_package_description().unwrap_or_default().to_owned(),
                p.customer_metadata_properties()
                    .and_then(|m| m.get("validation:weighted_f1").cloned()),
            ));
        }
        out
    }

    /// The notice the notifier makes of how the execution ended (the "Step Functions Execution Status Change"
    /// Step Functions puts on the default bus: status, error, cause, output), as (subject, message, severity,
    /// kind); `None` when it stays quiet.
    fn notice(ended: &Ended) -> Option<(String, String, String, String)> {
        let machine = ended
            .execution_arn
            .replacen(":execution:", ":stateMachine:", 1)
            .rsplit_once(':')
            .map(|(machine, _)| machine.to_owned())
            .unwrap();
        let event = json!({
            "version": "0", "id": "e", "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states", "account": "123456789012", "time": "2026-12-01T00:00:00Z",
            "region": "us-east-1", "resources": [ended.execution_arn],
            "detail": {
                "executionArn": ended.execution_arn,
                "stateMachineArn": machine,
                "name": ended.execution_arn.rsplit(':').next().unwrap(),
                "status": ended.status.as_str(),
                "error": ended.error, "cause": ended.cause,
                "output": (!ended.output.is_null()).then(|| ended.output.to_string()),
            },
        });
        let incoming = notifier::event::read(serde_json::from_value(event).unwrap()).unwrap();
        let project = notifier::decide::Project {
            name: "p".into(),
            drift_alarm_prefix: None,
        };
        match notifier::decide::decide(&incoming, &project, "us-east-1") {
            notifier::decide::Decision::Quiet(_) => None,
            notifier::decide::Decision::Notify(notice) => Some((
                notice.subject(),
                notice.message(),
                notice.severity.as_str().to_owned(),
                notice.kind.as_str().to_owned(),
            )),
        }
    }

    /// The customer metadata of the group's one package.
    async fn package_metadata(&self) -> HashMap<String, String> {
        let listed = self
            .sagemaker
            .list_model_packages()
            .model_package_group_name(&self.group)
            .send()
            .await
            .unwrap();
        let arn = listed.model_package_summary_list()[0]
            .model_package_arn()
            .unwrap();
        let package = self
            .sagemaker
            .describe_model_package()
            .model_package_name(arn)
            .send()
            .await
            .unwrap();
        package.customer_metadata_properties().unwrap().clone()
    }

    /// The lineage reference of the group's one package: (record URI, digest).
    async fn lineage_of_package(&self) -> (String, String) {
        let metadata = self.package_metadata().await;
        (
            metadata[lineage::PACKAGE_RECORD].clone(),
            metadata[lineage::PACKAGE_DIGEST].clone(),
        )
    }

    fn lineage(&self) -> Lineage {
        Lineage::from_sdk(&self.sdk, self.state.clone(), &self.signing_key, "lineage/")
    }

    async fn job(
        &self,
        name: &str,
    ) -> Option<aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput>
    {
        self.sagemaker
            .describe_training_job()
            .training_job_name(name)
            .send()
            .await
            .ok()
    }
}

const GOOD: [(&str, f32); 4] = [
    ("validation:weighted_f1", 0.87),
    ("validation:accuracy", 0.88),
    ("train:weighted_f1", 0.90),
    ("epoch", 3.0),
];

#[tokio::test]
async fn an_approved_model_is_registered_and_a_worse_one_is_rejected() {
    let world = world(
        &[],
        &[
            ("SUBNETS", "subnet-a,subnet-b"),
            ("SECURITY_GROUPS", "sg-1"),
        ],
    )
    .await;

    let first = manual("first model");
    let job = first.job_name(&world.group);
    let ended = world
        .run(
            &first,
            Some(world.verdict(&first, &job, &GOOD, "true").await),
        )
        .await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    assert_eq!(
        ended.gate_payload,
        Some(json!({
            "training_job_name": job,
            "model_package_group": world.group,
            "inference_image": INFERENCE_IMAGE,
        })),
        "the gate is asked about the job that ran, by name, and the image it is registered with (pinned in lineage)"
    );

    // The job the emulator's SageMaker received: spot first, in the configured subnets, with the trigger's tags.
    let trained = world
        .job(&job)
        .await
        .expect("the first attempt's job exists");
    assert_eq!(trained.enable_managed_spot_training(), Some(true));
    assert_eq!(
        trained
            .resource_config()
            .unwrap()
            .instance_type()
            .unwrap()
            .as_str(),
        "ml.g5.xlarge"
    );
    assert_eq!(
        trained.vpc_config().unwrap().subnets(),
        ["subnet-a", "subnet-b"]
    );
    assert_eq!(trained.hyper_parameters().unwrap()["epochs"], "3");
    assert!(
        world.job(&format!("{job}-od")).await.is_none(),
        "no fallback ran"
    );
    // It trained on a manifest listing exactly the validated copies of the ledger: no report, no marker.
    let channel = &trained.input_data_config()[0];
    let source = channel.data_source().unwrap().s3_data_source().unwrap();
    assert_eq!(source.s3_data_type().unwrap().as_str(), "ManifestFile");
    let key = source
        .s3_uri()
        .unwrap()
        .strip_prefix(&format!("s3://{}/", world.state.bucket()))
        .expect("the manifest is in the state bucket");
    let manifest = world.state.read::<Value>(key).await.unwrap().unwrap().value;
    let mut expected = vec![json!({"prefix": "s3://ingested/tickets/"})];
    expected.extend(
        world
            .validated
            .iter()
            .map(|(key, _)| json!(key.strip_prefix("tickets/").unwrap())),
    );
    assert_eq!(manifest, Value::Array(expected));
    let first_manifest = (key.to_owned(), world.state.read_bytes(key).await.unwrap());

    let packages = world.packages().await;
    assert_eq!(packages.len(), 1, "{packages:?}");
    assert_eq!(packages[0].0, "Approved");
    assert!(
        packages[0]
            .1
            .starts_with("Approved: validation:weighted_f1 0.8700"),
        "{}",
        packages[0].1
    );
    let recorded: f64 = packages[0].2.as_deref().unwrap().parse().unwrap();
    assert!((recorded - 0.87).abs() < 1e-6);

    // The package carries its lineage: the signed record verifies, names this job and the files the manifest
    // pinned; a record with one byte changed does not.
    let (record, digest) = world.lineage_of_package().await;
    let key = record
        .strip_prefix(&format!("s3://{}/", world.state.bucket()))
        .unwrap();
    let lineage = world.lineage();
    let verified = lineage.verify(key, &digest).await.unwrap();
    assert_eq!(verified.training.job_name, job);
    let rows: u64 = world.validated.iter().map(|(_, rows)| rows).sum();
    assert_eq!((verified.data.files, verified.data.rows), (2, rows));
    assert_eq!(verified.verdict.decision, "Approved");
    let first_baseline = verified
        .baseline
        .clone()
        .expect("the record names the baseline");

    // The baseline the package names is the one the signed record names, and holds the training files' data.
    let baselines = Baselines::new(world.state.clone());
    let metadata = world.package_metadata().await;
    let named = baseline::BaselineRef {
        object: ObjectRef::new(
            world.state.bucket(),
            metadata[baseline::PACKAGE_BASELINE]
                .strip_prefix(&format!("s3://{}/", world.state.bucket()))
                .unwrap(),
        ),
        sha256: metadata[baseline::PACKAGE_BASELINE_DIGEST].clone(),
    };
    assert_eq!(named, first_baseline);
    let baseline = baselines.load(&first_baseline).await.unwrap();
    let (label_shares, tokens) = expected_baseline(&world.rows);
    assert_eq!(baseline.training_job, job);
    assert_eq!((baseline.files, baseline.unprofiled.len()), (2, 0));
    assert_eq!(baseline.summary.label_shares, label_shares);
    assert_eq!(baseline.profile.vocabulary.count_error, 0);
    let top: Vec<(String, u64)> = baseline
        .profile
        .vocabulary
        .top
        .iter()
        .map(|t| (t.token.clone(), t.count))
        .collect();
    assert_eq!(top, tokens);
    assert!(
        tokens
            .iter()
            .all(|(t, _)| baseline.profile.vocabulary.sketch.contains(t))
    );

    let mut bytes = world.state.read_bytes(key).await.unwrap().unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    guardrails_core::aws::s3_client(&world.sdk)
        .put_object()
        .bucket(world.state.bucket())
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .unwrap();
    assert!(matches!(
        lineage.verify(key, &digest).await,
        Err(LineageError::Invalid(_))
    ));
    // Registered: the package's own state change announces it, not the end of the run.
    assert_eq!(World::notice(&ended), None);

    // A file validated after the first run is in the second run only.
    let (later_key, later_body) = (
        "tickets/1a2b3c4d5e6f7a8b/c.csv",
        "text,label\nCambio de tarifa en la factura,facturacion\n",
    );
    validate_into_ledger(
        &world.ledger,
        &world.state,
        2,
        later_key,
        later_body,
        Utc::now() - chrono::Duration::seconds(3),
    )
    .await;

    // The next model is judged against that one, read back from the registry the workflow wrote.
    let second = manual("second model");
    let job2 = second.job_name(&world.group);
    let worse = [
        ("validation:weighted_f1", 0.84),
        ("validation:accuracy", 0.86),
        ("train:weighted_f1", 0.86),
    ];
    let verdict = world.verdict(&second, &job2, &worse, "true").await;
    assert_eq!(verdict["decision"], "Rejected", "{verdict}");
    let ended = world.run(&second, Some(verdict)).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "a rejected model is a working workflow"
    );
    assert_eq!(world.packages().await.len(), 1, "nothing registered");
    let (subject, message, severity, kind) = World::notice(&ended).unwrap();
    assert_eq!(
        subject,
        format!("[WARNING] The gate rejected the model of {job2}")
    );
    assert_eq!(
        (severity.as_str(), kind.as_str()),
        ("warning", "model-rejected")
    );
    assert!(message.contains("worse than the champion"), "{message}");

    // The second model has its own lineage and baseline (rejected, it is recorded all the same), over the three
    // files; the first model's manifest, baseline and lineage are as they were.
    let second_key = format!("lineage/{job2}.json");
    let signed: Value = world
        .state
        .read(&format!("lineage/{job2}.sig.json"))
        .await
        .unwrap()
        .unwrap()
        .value;
    let record2 = lineage
        .verify(&second_key, signed["sha256"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        (record2.data.files, record2.verdict.decision.as_str()),
        (3, "Rejected")
    );
    assert_ne!(record2.data.manifest.key, first_manifest.0);
    let second_baseline = baselines
        .load(record2.baseline.as_ref().unwrap())
        .await
        .unwrap();
    assert_eq!(second_baseline.files, 3);
    let mut all_rows = world.rows.clone();
    all_rows.extend(rows_of(later_key, later_body));
    assert_eq!(
        second_baseline.summary.label_shares,
        expected_baseline(&all_rows).0
    );
    assert_eq!(
        world.state.read_bytes(&first_manifest.0).await.unwrap(),
        first_manifest.1,
        "the first run's manifest is unchanged"
    );
    assert_eq!(
        baselines.load(&first_baseline).await.unwrap(),
        baseline,
        "the first model's baseline reads back as it was, by the digest its record signed"
    );
}

#[tokio::test]
async fn a_failed_first_attempt_falls_back_to_on_demand() {
    let world = world(&["Train"], &[]).await;
    let trigger = manual("fallback");
    let job = trigger.job_name(&world.group);
    let fallback = format!("{job}-od");
    let verdict = world.verdict(&trigger, &fallback, &GOOD, "false").await;
    let ended = world.run(&trigger, Some(verdict)).await;

    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    assert!(
        ended.output["errors"]["primary"]["Error"].is_string(),
        "{}",
        ended.output
    );
    assert_eq!(
        ended.gate_payload.as_ref().unwrap()["training_job_name"],
        json!(fallback),
        "the gate judges the fallback's job"
    );
    assert!(
        world.job(&job).await.is_none(),
        "the first attempt created nothing"
    );
    let on_demand = world.job(&fallback).await.expect("the fallback job exists");
    assert_eq!(on_demand.enable_managed_spot_training(), Some(false));
    assert_eq!(
        on_demand
            .resource_config()
            .unwrap()
            .instance_type()
            .unwrap()
            .as_str(),
        "ml.g4dn.xlarge"
    );
    assert!(on_demand.vpc_config().is_none(), "no subnets configured");

    let packages = world.packages().await;
    assert_eq!(packages.len(), 1);
    assert_eq!(
        packages[0].0, "PendingManualApproval",
        "auto-approval off: a person decides"
    );
    assert_eq!(
        World::notice(&ended),
        None,
        "the package's state change says it"
    );
}

#[tokio::test]
async fn both_attempts_failing_notifies_and_fails() {
    let world = world(&["Train", "TrainOnDemand"], &[]).await;
    let trigger = manual("doomed");
    let job = trigger.job_name(&world.group);
    let ended = world.run(&trigger, None).await;

    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("TrainingFailed"));
    assert!(
        ended
            .cause
            .as_deref()
            .unwrap_or_default()
            .contains("fallback"),
        "{ended:?}"
    );
    assert!(world.packages().await.is_empty());
    let (subject, message, severity, kind) = World::notice(&ended).unwrap();
    assert!(subject.starts_with("[CRITICAL] Workflow "), "{subject}");
    assert_eq!(
        (severity.as_str(), kind.as_str()),
        ("critical", "workflow-failed")
    );
    // The cause names both jobs and the trigger: what the on-call engineer needs, in the page itself.
    assert!(
        message.contains(&format!("Training job {job} failed"))
            && message.contains(&format!("{job}-od"))
            && message.contains("doomed"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unknown_verdict_fails_the_workflow_with_a_notice() {
    let world = world(&[], &[]).await;
    let ended = world
        .run(&manual("odd gate"), Some(json!({"decision": "Maybe"})))
        .await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("GateFailed"), "{ended:?}");
    assert!(world.packages().await.is_empty());
    let (_, message, severity, kind) = World::notice(&ended).unwrap();
    assert_eq!(
        (severity.as_str(), kind.as_str()),
        ("critical", "workflow-failed")
    );
    assert!(
        message.contains("The model gate answered") && message.contains("Maybe"),
        "{message}"
    );
}

#[tokio::test]
async fn a_failing_gate_fails_the_workflow_with_a_notice() {
    let world = world(&["Gate"], &[]).await;
    let trigger = manual("gate down");
    let job = trigger.job_name(&world.group);
    let ended = world.run(&trigger, None).await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("GateFailed"), "{ended:?}");
    assert!(world.packages().await.is_empty());
    let (_, message, severity, kind) = World::notice(&ended).unwrap();
    assert_eq!(
        (severity.as_str(), kind.as_str()),
        ("critical", "workflow-failed")
    );
    assert!(
        message.contains(&format!("could not judge the model of {job}"))
            && message.contains("nothing was registered"),
        "{message}"
    );
}
