//! deploy against the emulator, driven by the registry's own events: the gate's and a person's approvals serve in
//! turn (the person's approval signed once); late, duplicate and hand-made requests never make an older version
//! serve; a rejection rolls back; a tampered, borrowed or gate-rejected version is refused with a critical notice
//! and what serves is unchanged; a deploy interrupted before its notice is finished by the next event.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use deploy::{Config, Deploy, Outcome, Trigger};
use guardrails_core::domain::DeployRequested;
use guardrails_core::function::Function;
use guardrails_core::lineage::{self, Lineage};
use guardrails_core::serving::{Reason, Replaced, Serving, ServingRecord};
use guardrails_core::state::StateStore;
use guardrails_core::{Env, aws};
use serde_json::{Value, json};
use testkit::{KmsBucket, TopicProbe, emulator, fixture, unique_name};

const ANA: &str = "arn:aws:sts::123456789012:assumed-role/MLEngineer/ana.garcia";

struct World {
    sdk: aws::SdkConfig,
    sagemaker: aws_sdk_sagemaker::Client,
    state: StateStore,
    key: String,
    group: String,
    topic: TopicProbe,
    deploy: Deploy,
    /// Each version's customer metadata (the emulator drops it on UpdateModelPackage: sent again on each change).
    metadata: std::sync::Mutex<BTreeMap<String, BTreeMap<String, String>>>,
}

impl World {
    async fn new() -> Self {
        World::with(&[]).await
    }

    /// Serving the real-time endpoint `endpoint`.
    async fn realtime(endpoint: &str) -> Self {
        World::with(&[
            ("SERVING", "realtime"),
            ("ENDPOINT_NAME", endpoint),
            ("CAPTURE_URI", "s3://artifacts/data-capture/"),
            ("ROLLBACK_ALARMS", "tickets-5xx,tickets-latency"),
        ])
        .await
    }

    async fn with(extra: &[(&str, &str)]) -> Self {
        let sdk = emulator().sdk_config().await;
        // The versions' image, pushed and scanned: one LOW finding, under the default limit (CRITICAL).
        testkit::scanned_image(&sdk, "nlp-serve", "1", &[("CVE-2026-0042", "LOW", "zlib")]).await;
        let bucket = KmsBucket::create(&sdk, "state").await;
        let key = testkit::signing_key(&sdk).await;
        let topic = TopicProbe::create(&sdk).await;
        let group = unique_name("tickets");
        let sagemaker = aws_sdk_sagemaker::Client::new(&sdk);
        sagemaker
            .create_model_package_group()
            .model_package_group_name(&group)
            .send()
            .await
            .unwrap();
        let base = [
            ("NOTICE_TOPIC_ARN", topic.topic_arn.as_str()),
            ("STATE_BUCKET", bucket.name.as_str()),
            ("MODEL_PACKAGE_GROUP", group.as_str()),
            ("LINEAGE_KEY_ID", key.as_str()),
            (
                "SAGEMAKER_ROLE_ARN",
                "arn:aws:iam::123456789012:role/sagemaker-execution",
            ),
        ];
        let config = Config::from_env(&Env::from_pairs(base.iter().chain(extra).copied())).unwrap();
        let deploy = Deploy::from_sdk(&sdk, config).unwrap();
        let state = StateStore::new(aws::s3_client(&sdk), &bucket.name);
        World {
            sdk,
            sagemaker,
            state,
            key,
            group,
            topic,
            deploy,
            metadata: std::sync::Mutex::default(),
        }
    }

    fn lineage(&self) -> Lineage {
        Lineage::from_sdk(
            &self.sdk,
            self.state.clone(),
            &self.key,
            lineage::DEFAULT_PREFIX,
        )
    }

    /// A version trained by `job`, the gate's `decision` in its signed lineage record, registered `status` with
    /// the model at `model` (the job's own when `None`); its record pins `pinned` as its image when given (the
    /// image the package is registered with otherwise).
    async fn version_of(
        &self,
        job: &str,
        decision: &str,
        status: ModelApprovalStatus,
        (model, pinned): (Option<&str>, Option<&str>),
    ) -> String {
        let mut record = testkit::lineage_record(job);
        if let Some(image) = pinned {
            record.training.inference_image = Some(image.to_owned());
        }
        record.training.model_data_url = format!("s3://artifacts/models/{job}/output/model.tar.gz");
        record.verdict.decision = decision.to_owned();
        record.baseline = None;
        let signed = self.lineage().record(&record).await.unwrap();
        let metadata = BTreeMap::from([
            (lineage::PACKAGE_RECORD.to_owned(), signed.record.uri()),
            (lineage::PACKAGE_DIGEST.to_owned(), signed.sha256),
            (lineage::PACKAGE_JOB.to_owned(), job.to_owned()),
        ]);
        let model = model.unwrap_or(&record.training.model_data_url);
        let arn = testkit::register_package(&self.sdk, &self.group, status, model, &metadata).await;
        self.metadata.lock().unwrap().insert(arn.clone(), metadata);
        arn
    }

    async fn version(&self, job: &str, decision: &str, status: ModelApprovalStatus) -> String {
        self.version_of(job, decision, status, (None, None)).await
    }

    /// A person changes `package`'s status in the registry.
    async fn set_status(&self, package: &str, status: ModelApprovalStatus, description: &str) {
        let metadata = self.metadata.lock().unwrap().get(package).cloned();
        let mut update = self
            .sagemaker
            .update_model_package()
            .model_package_arn(package)
            .model_approval_status(status)
            .approval_description(description);
        for (key, value) in metadata.iter().flatten() {
            update = update.customer_metadata_properties(key, value);
        }
        update.send().await.unwrap();
    }

    /// SageMaker's state change of `package`, as EventBridge delivers it.
    async fn changed(&self, package: &str) -> Outcome {
        let mut event = fixture("sagemaker-model-package-approved.json");
        event["detail"]["ModelPackageGroupName"] = json!(self.group);
        event["detail"]["ModelPackageArn"] = json!(package);
        let event: EventBridgeEvent<Value> = serde_json::from_value(event).unwrap();
        self.deploy
            .handle(Trigger::read(event).unwrap())
            .await
            .unwrap()
    }

    /// SageMaker's state change of `endpoint`, as EventBridge delivers it.
    async fn endpoint_changed(&self, endpoint: &str) -> Result<Outcome, deploy::DeployError> {
        let mut event = fixture("sagemaker-endpoint-in-service.json");
        event["detail"]["EndpointName"] = json!(endpoint);
        let event: EventBridgeEvent<Value> = serde_json::from_value(event).unwrap();
        self.deploy.handle(Trigger::read(event).unwrap()).await
    }

    /// Someone other than deploy (SageMaker rolling back, a person) puts `endpoint` on `config`: the emulator has
    /// no UpdateEndpoint, so the endpoint is made again, changed since.
    async fn repoint(&self, endpoint: &str, config: &str) {
        self.sagemaker
            .delete_endpoint()
            .endpoint_name(endpoint)
            .send()
            .await
            .unwrap();
        self.sagemaker
            .create_endpoint()
            .endpoint_name(endpoint)
            .endpoint_config_name(config)
            .send()
            .await
            .unwrap();
    }

    /// SageMaker's state change of `package` is refused, for a reason that says `why`.
    async fn refused(&self, package: &str, why: &str) {
        let outcome = self.changed(package).await;
        assert!(
            matches!(&outcome, Outcome::Refused { reason, .. } if reason.contains(why)),
            "{outcome:?}"
        );
    }

    async fn requested(&self, package: &str) -> Outcome {
        let request = DeployRequested {
            model_package_arn: Some(package.to_owned()),
            requested_by: Some("luis".to_owned()),
        };
        self.deploy
            .handle(Trigger::Requested(request))
            .await
            .unwrap()
    }

    async fn serving(&self) -> Option<ServingRecord> {
        Serving::new(self.state.clone())
            .current(&self.group)
            .await
            .unwrap()
    }

    async fn serving_arn(&self) -> Option<String> {
        self.serving().await.map(|s| s.package_arn)
    }

    /// The notices of the last step: (kind, severity, title).
    async fn notices(&self, at_least: usize) -> Vec<(String, String, String)> {
        let notices = self.topic.notices(at_least, Duration::from_secs(10)).await;
        notices
            .iter()
            .map(|n| {
                let attribute = |name: &str| {
                    n["MessageAttributes"][name]["Value"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                };
                (
                    attribute("kind"),
                    attribute("severity"),
                    n["Subject"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

fn deployed(package: &str, by: &str, reason: Reason, previous: Option<&str>) -> Outcome {
    Outcome::Deployed {
        package: package.to_owned(),
        approved_by: by.to_owned(),
        reason,
        previous: previous.map(str::to_owned),
    }
}

#[tokio::test]
async fn the_gates_and_a_persons_approvals_serve_in_turn() {
    let w = World::new().await;
    let v1 = w
        .version("train-1", "Approved", ModelApprovalStatus::Approved)
        .await;
    assert_eq!(
        w.changed(&v1).await,
        deployed(&v1, "model-gate", Reason::Release, None)
    );
    let serving = w.serving().await.unwrap();
    let model = w
        .sagemaker
        .describe_model()
        .model_name(&serving.model_name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        model.containers()[0].model_package_name(),
        Some(v1.as_str()),
        "batch jobs run the model made from the serving package"
    );

    // Held for a person: registered, not served.
    let v2 = w
        .version(
            "train-2",
            "PendingManualApproval",
            ModelApprovalStatus::PendingManualApproval,
        )
        .await;
    assert_eq!(
        w.changed(&v2).await,
        Outcome::Serving {
            package: v1.clone()
        }
    );
    assert!(w.lineage().approvals("train-2").await.unwrap().is_empty());

    // A person approves it in the registry: the approval is signed (who from the event), then it serves.
    w.set_status(
        &v2,
        ModelApprovalStatus::Approved,
        "Reviewed by the ML lead.",
    )
    .await;
    assert_eq!(
        w.changed(&v2).await,
        deployed(&v2, ANA, Reason::Release, Some(&v1))
    );
    // Delivered again: nothing more is signed, nothing changes.
    assert_eq!(
        w.changed(&v2).await,
        Outcome::Serving {
            package: v2.clone()
        }
    );
    let approvals = w.lineage().approvals("train-2").await.unwrap();
    assert_eq!(approvals.len(), 1, "{approvals:?}");
    assert_eq!(approvals[0].approved_by, ANA);
    assert_eq!(approvals[0].gate_decision, "PendingManualApproval");
    assert_eq!(
        approvals[0].description.as_deref(),
        Some("Reviewed by the ML lead.")
    );
    let serving = w.serving().await.unwrap();
    assert_eq!(
        (serving.approved_by.as_str(), serving.previous.as_deref()),
        (ANA, Some(v1.as_str()))
    );
    let notices = w.notices(2).await;
    assert_eq!(notices.len(), 2, "one notice per change: {notices:?}");
    assert!(
        notices
            .iter()
            .all(|(kind, severity, _)| kind == "model-deployed" && severity == "info"),
        "{notices:?}"
    );
}

#[tokio::test]
async fn late_duplicate_and_hand_made_requests_never_make_an_older_version_serve() {
    let w = World::new().await;
    let v1 = w
        .version("train-1", "Approved", ModelApprovalStatus::Approved)
        .await;
    let v2 = w
        .version("train-2", "Approved", ModelApprovalStatus::Approved)
        .await;
    // Version 2's event arrives first, version 1's late.
    assert_eq!(
        w.changed(&v2).await,
        deployed(&v2, "model-gate", Reason::Release, None)
    );
    assert_eq!(
        w.changed(&v1).await,
        Outcome::Serving {
            package: v2.clone()
        }
    );
    // A person asks for version 1, then for a version nobody approved.
    let v3 = w
        .version(
            "train-3",
            "PendingManualApproval",
            ModelApprovalStatus::PendingManualApproval,
        )
        .await;
    let unknown = format!("{}-9", &v1[..v1.len() - 2]);
    for (asked, why) in [
        (&v1, "only the newest Approved version serves"),
        (&v3, "PendingManualApproval: only Approved versions serve"),
        (&unknown, "cannot be described"),
    ] {
        let outcome = w.requested(asked).await;
        assert!(
            matches!(&outcome, Outcome::Refused { package, reason } if package == asked && reason.contains(why) && reason.contains("luis")),
            "{outcome:?}"
        );
    }
    assert_eq!(w.serving_arn().await.as_deref(), Some(v2.as_str()));
    let notices = w.notices(4).await;
    let kinds: Vec<(&str, &str)> = notices
        .iter()
        .map(|(k, s, _)| (k.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("model-deployed", "info"),
            ("deploy-refused", "critical"),
            ("deploy-refused", "critical"),
            ("deploy-refused", "critical")
        ]
    );
}

#[tokio::test]
async fn a_version_whose_image_scan_is_over_the_limit_does_not_serve() {
    // The limit at LOW: the image's LOW finding refuses it, as a CRITICAL one would by default.
    let w = World::with(&[("IMAGE_SCAN_BLOCK_SEVERITY", "LOW")]).await;
    let v1 = w
        .version("train-1", "Approved", ModelApprovalStatus::Approved)
        .await;
    let outcome = w.changed(&v1).await;
    let Outcome::Refused { package, reason } = &outcome else {
        panic!("expected the image refused, got {outcome:?}");
    };
    assert_eq!(package, &v1);
    assert!(
        reason.contains("1 LOW") && reason.contains("CVE-2026-0042"),
        "{reason}"
    );
    assert_eq!(w.serving().await, None, "nothing serves on a refused image");
    let notices = w.notices(1).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(
        (notices[0].0.as_str(), notices[0].1.as_str()),
        ("image-refused", "critical")
    );
    assert!(
        notices[0]
            .2
            .starts_with("[CRITICAL] Image refused for Deploy"),
        "{notices:?}"
    );
}

#[tokio::test]
async fn a_rejection_rolls_back_to_the_newest_approved_version_before_it() {
    let w = World::new().await;
    let v1 = w
        .version("train-1", "Approved", ModelApprovalStatus::Approved)
        .await;
    let v2 = w
        .version("train-2", "Approved", ModelApprovalStatus::Approved)
        .await;
    w.changed(&v2).await;
    w.set_status(&v2, ModelApprovalStatus::Rejected, "F1 fell below 0.80")
        .await;
    assert_eq!(
        w.changed(&v2).await,
        deployed(&v1, "model-gate", Reason::Rollback, Some(&v2))
    );
    // The last Approved version rejected too: it keeps serving (nothing can replace it), loudly.
    w.set_status(&v1, ModelApprovalStatus::Rejected, "also drifted")
        .await;
    let outcome = w.changed(&v1).await;
    assert!(
        matches!(&outcome, Outcome::Stranded { package, .. } if package == &v1),
        "{outcome:?}"
    );
    let notices = w.notices(3).await;
    let titles: Vec<&str> = notices.iter().map(|(_, _, t)| t.as_str()).collect();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(
        titles[1].contains("Model rolled back") && titles[1].contains(&v1[v1.len() - 2..]),
        "{titles:?}"
    );
    assert_eq!(notices[2].1, "critical");
}

#[tokio::test]
async fn a_tampered_borrowed_or_gate_rejected_version_is_refused_and_what_serves_is_unchanged() {
    let w = World::new().await;
    let v1 = w
        .version("train-1", "Approved", ModelApprovalStatus::Approved)
        .await;
    w.changed(&v1).await;

    // Its lineage record altered after it was signed.
    let v2 = w
        .version("train-2", "Approved", ModelApprovalStatus::Approved)
        .await;
    let key = "lineage/train-2.json";
    let mut bytes = w.state.read_bytes(key).await.unwrap().unwrap();
    bytes[12] ^= 1;
    aws::s3_client(&w.sdk)
        .put_object()
        .bucket(w.state.bucket())
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .unwrap();
    w.refused(&v2, "does not verify").await;
    w.set_status(&v2, ModelApprovalStatus::Rejected, "tampered")
        .await;

    // A genuine record's metadata on a package that serves another model.
    let v3 = w
        .version_of(
            "train-3",
            "Approved",
            ModelApprovalStatus::Approved,
            (Some("s3://elsewhere/model.tar.gz"), None),
        )
        .await;
    w.refused(&v3, "s3://elsewhere/model.tar.gz").await;
    w.set_status(&v3, ModelApprovalStatus::Rejected, "borrowed")
        .await;

    // A job the gate rejected, registered Approved by hand with its metadata.
    let v4 = w
        .version("train-4", "Rejected", ModelApprovalStatus::Approved)
        .await;
    w.refused(&v4, "the gate rejected").await;
    assert!(w.lineage().approvals("train-4").await.unwrap().is_empty());
    w.set_status(&v4, ModelApprovalStatus::Rejected, "gate said no")
        .await;

    // A package registered by hand, naming no lineage record.
    let v5 = testkit::register_package(
        &w.sdk,
        &w.group,
        ModelApprovalStatus::Approved,
        "s3://artifacts/models/by-hand/model.tar.gz",
        &BTreeMap::<String, String>::new(),
    )
    .await;
    w.refused(&v5, "missing").await;
    w.set_status(&v5, ModelApprovalStatus::Rejected, "by hand")
        .await;

    // The right model, with another image than the one its record pins (an image swapped in the registry).
    let v6 = w
        .version_of(
            "train-6",
            "Approved",
            ModelApprovalStatus::Approved,
            (
                None,
                Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-serve@sha256:0a1b"),
            ),
        )
        .await;
    w.refused(&v6, "the lineage record pins").await;

    assert_eq!(
        w.serving_arn().await.as_deref(),
        Some(v1.as_str()),
        "unchanged"
    );
    let notices = w.notices(6).await;
    let refused: Vec<_> = notices
        .iter()
        .filter(|(kind, severity, _)| kind == "deploy-refused" && severity == "critical")
        .collect();
    assert_eq!(refused.len(), 5, "{notices:?}");
}

#[tokio::test]
async fn a_deploy_interrupted_before_its_notice_is_finished_by_the_next_event() {
    let w = World::new().await;
    let v1 = w
        .version("train-1", "Approved", ModelApprovalStatus::Approved)
        .await;
    w.changed(&v1).await;
    w.notices(1).await;
    // The function wrote the record, then died before the notice (and the history entry after it).
    let mut record = w.serving().await.unwrap();
    let seen = record.clone();
    let v2 = w
        .version("train-2", "Approved", ModelApprovalStatus::Approved)
        .await;
    record.package_arn = v2.clone();
    record.since = chrono::Utc::now();
    let Replaced::Now(_) = Serving::new(w.state.clone())
        .replace(Some(&seen), record)
        .await
        .unwrap()
    else {
        panic!("the record must be replaced");
    };
    assert_eq!(
        w.changed(&v2).await,
        Outcome::Serving {
            package: v2.clone()
        }
    );
    let notices = w.notices(1).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].0, "model-deployed");
    // Announced now: another delivery says nothing more.
    w.changed(&v2).await;
    assert!(w.topic.notices(0, Duration::from_secs(1)).await.is_empty());
}

#[tokio::test]
async fn an_approval_stored_but_never_signed_is_signed_by_the_next_delivery() {
    let w = World::new().await;
    let v1 = w
        .version(
            "train-1",
            "PendingManualApproval",
            ModelApprovalStatus::Approved,
        )
        .await;
    // The signer died between storing the approval of this very event and signing it.
    let digest = w.metadata.lock().unwrap()[&v1][lineage::PACKAGE_DIGEST].clone();
    let approval = lineage::Approval {
        schema_version: lineage::SCHEMA_VERSION,
        package_arn: v1.clone(),
        training_job: "train-1".to_owned(),
        lineage_sha256: digest,
        gate_decision: "PendingManualApproval".to_owned(),
        approved_by: ANA.to_owned(),
        approved_at: "2026-11-21T09:12:43Z".parse().unwrap(),
        description: None,
    };
    let key = format!("{}{}.json", lineage::DEFAULT_PREFIX, approval.name());
    w.state
        .create_bytes(&key, serde_json::to_vec_pretty(&approval).unwrap())
        .await
        .unwrap();
    assert!(
        w.lineage().approvals("train-1").await.unwrap().is_empty(),
        "unsigned, not counted, not an error"
    );
    assert_eq!(
        w.changed(&v1).await,
        deployed(&v1, ANA, Reason::Release, None)
    );
    let approvals = w.lineage().approvals("train-1").await.unwrap();
    assert_eq!(approvals, [approval], "the stored approval, signed");
}

#[tokio::test]
async fn realtime_the_endpoint_runs_the_release_before_the_record_names_it_and_an_undone_release_waits_for_a_person()
 {
    let endpoint = unique_name("tickets-endpoint");
    let w = World::realtime(&endpoint).await;
    let v1 = w
        .version("train-1", "Approved", ModelApprovalStatus::Approved)
        .await;
    let releasing = |package: &str| Outcome::Releasing {
        package: package.to_owned(),
        endpoint: endpoint.clone(),
    };
    assert_eq!(w.changed(&v1).await, releasing(&v1));
    assert_eq!(
        w.serving_arn().await,
        None,
        "nothing serves until the endpoint runs it"
    );
    let described = w
        .sagemaker
        .describe_endpoint()
        .endpoint_name(&endpoint)
        .send()
        .await
        .unwrap();
    let config = w
        .sagemaker
        .describe_endpoint_config()
        .endpoint_config_name(described.endpoint_config_name().unwrap())
        .send()
        .await
        .unwrap();
    let capture = config.data_capture_config().unwrap();
    assert_eq!(capture.enable_capture(), Some(true));
    assert_eq!(
        capture.destination_s3_uri(),
        Some("s3://artifacts/data-capture/")
    );
    // The emulator's endpoints are born InService: its state change makes the release the serving record.
    assert_eq!(
        w.endpoint_changed(&endpoint).await.unwrap(),
        deployed(&v1, "model-gate", Reason::Release, None)
    );
    assert_eq!(w.notices(1).await[0].0, "model-deployed");
    let other = w.endpoint_changed("someone-elses-endpoint").await.unwrap();
    assert!(matches!(other, Outcome::Waiting { .. }), "{other:?}");

    // v2's canary: deploy records the release, then calls UpdateEndpoint, which the emulator lacks.
    let v2 = w
        .version("train-2", "Approved", ModelApprovalStatus::Approved)
        .await;
    let event = {
        let mut event = fixture("sagemaker-model-package-approved.json");
        event["detail"]["ModelPackageGroupName"] = json!(w.group);
        event["detail"]["ModelPackageArn"] = json!(v2);
        serde_json::from_value::<EventBridgeEvent<Value>>(event).unwrap()
    };
    let error = w
        .deploy
        .handle(Trigger::read(event).unwrap())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("UpdateEndpoint"), "{error}");
    // SageMaker rolls the canary back on an alarm: the endpoint is on v1's configuration again, changed since.
    w.repoint(&endpoint, described.endpoint_config_name().unwrap())
        .await;
    let undone = w.endpoint_changed(&endpoint).await.unwrap();
    assert!(
        matches!(&undone, Outcome::Refused { package, reason } if package == &v2 && reason.contains("rolled it back")),
        "{undone:?}"
    );
    let notices = w.notices(1).await;
    assert_eq!(
        (notices[0].0.as_str(), notices[0].1.as_str()),
        ("release-undone", "critical")
    );
    assert_eq!(
        w.serving_arn().await.as_deref(),
        Some(v1.as_str()),
        "v1 serves on"
    );
    // Told once; later events wait for a person instead of starting the same canary again.
    let again = w.endpoint_changed(&endpoint).await.unwrap();
    assert!(
        matches!(&again, Outcome::Waiting { reason } if reason.contains("undone")),
        "{again:?}"
    );
    // A person asks for v2 again: the canary is started again (the emulator's UpdateEndpoint refuses it).
    let request = DeployRequested {
        model_package_arn: Some(v2.clone()),
        requested_by: Some("luis".to_owned()),
    };
    let retried = w
        .deploy
        .handle(Trigger::Requested(request))
        .await
        .unwrap_err();
    assert!(retried.to_string().contains("UpdateEndpoint"), "{retried}");
}

#[tokio::test]
async fn realtime_an_endpoint_changed_by_hand_is_moved_back_not_read_as_the_release_undone() {
    let endpoint = unique_name("tickets-endpoint");
    let w = World::realtime(&endpoint).await;
    let v1 = w
        .version("train-1", "Approved", ModelApprovalStatus::Approved)
        .await;
    assert!(matches!(w.changed(&v1).await, Outcome::Releasing { .. }));
    assert_eq!(
        w.endpoint_changed(&endpoint).await.unwrap(),
        deployed(&v1, "model-gate", Reason::Release, None)
    );
    // A person points the endpoint at a configuration of their own (two instances of the same model).
    let model = w.serving().await.unwrap().model_name;
    w.sagemaker
        .create_endpoint_config()
        .endpoint_config_name("by-hand")
        .production_variants(
            aws_sdk_sagemaker::types::ProductionVariant::builder()
                .variant_name("AllTraffic")
                .model_name(&model)
                .instance_type(aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlM5Large)
                .initial_instance_count(2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    w.repoint(&endpoint, "by-hand").await;
    // Moved back (the emulator lacks UpdateEndpoint, so the move is the error), not read as v1's release undone.
    let error = w.endpoint_changed(&endpoint).await.unwrap_err();
    assert!(error.to_string().contains("UpdateEndpoint"), "{error}");
    let kinds: Vec<String> = w.notices(1).await.into_iter().map(|n| n.0).collect();
    assert!(!kinds.iter().any(|k| k == "release-undone"), "{kinds:?}");
}
