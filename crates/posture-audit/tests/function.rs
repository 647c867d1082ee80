//! The audit as a function, on the emulator: a weakness is told once as new, stays quiet while open, and is told
//! once as resolved; the ledger and each run's report are in the state bucket. A CloudTrail record re-checks its
//! resource alone and tells only what is critical at once. The tests run one after the other on one emulator
//! (they share the account's ledger of findings).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, TimeDelta, Utc};
use guardrails_core::function::{Function, Invocation};
use guardrails_core::state::StateStore;
use guardrails_core::{CommonConfig, Notifier, aws};
use posture_audit::handler::{LEDGER, Summary};
use posture_audit::lifecycle::Ledger;
use posture_audit::{Config, PostureAudit};
use serde_json::{Value, json};
use testkit::{KmsBucket, TopicProbe, emulator, unique_name};
use tokio::sync::Mutex;

/// One test at a time: both audit the one account of this process's emulator.
static ACCOUNT: Mutex<()> = Mutex::const_new(());

/// Each test's own suppressions path.
fn unique_suppressions() -> String {
    format!("/{}/posture-audit/suppressions", unique_name("test"))
}

fn message(notice: &Value) -> Value {
    serde_json::from_str(notice["Message"].as_str().unwrap()).unwrap()
}

fn description(notice: &Value) -> String {
    message(notice)["content"]["description"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn function(
    sdk: &aws::SdkConfig,
    state: &KmsBucket,
    topic: &TopicProbe,
    suppressions: &str,
) -> PostureAudit {
    PostureAudit::new(
        sdk.clone(),
        StateStore::new(aws::s3_client(sdk), &state.name),
        Notifier::from_sdk(sdk, &topic.topic_arn),
        Config {
            common: CommonConfig {
                metrics_namespace: "GuardrailsTest".into(),
                event_bus_name: None,
                notice_topic_arn: Some(topic.topic_arn.clone()),
                state_bucket: Some(state.name.clone()),
                claim_lease: Duration::from_secs(90),
            },
            state_bucket: state.name.clone(),
            bound: Duration::from_secs(60),
            suppressions: Some(suppressions.to_owned()),
            images: Vec::new(),
            security_hub: true,
        },
    )
}

#[tokio::test]
async fn a_weakness_is_told_once_as_new_and_once_as_resolved() {
    let _account = ACCOUNT.lock().await;
    let sdk = emulator().sdk_config().await;
    let state = KmsBucket::create(&sdk, "state").await;
    let topic = TopicProbe::create(&sdk).await;
    let s3 = aws::s3_client(&sdk);
    let weak = KmsBucket::create(&sdk, "weak").await;
    let arn = format!("arn:aws:s3:::{}", weak.name);
    let function = function(&sdk, &state, &topic, &unique_suppressions());
    let t0: DateTime<Utc> = "2026-12-03T05:30:00Z".parse().unwrap();

    let first = function.run_at(t0).await.unwrap();
    assert!(first.new >= 3, "{first:?}");
    let notices = topic.notices(1, Duration::from_secs(5)).await;
    assert_eq!(notices.len(), 1, "one notice per run: {notices:?}");
    assert_eq!(
        notices[0]["MessageAttributes"]["kind"]["Value"],
        "posture-finding"
    );
    let text = description(&notices[0]);
    assert!(
        text.contains(&format!("s3-public-access-block-off {arn}")),
        "{text}"
    );
    let ledger: Ledger = state_json(&s3, &state.name, LEDGER).await;
    let mine: Vec<_> = ledger
        .open
        .values()
        .filter(|o| o.finding.resource == arn)
        .collect();
    assert_eq!(mine.len(), 3, "{mine:?}");
    assert!(mine.iter().all(|o| o.told && o.first_seen == t0));
    let report: Value = state_json(&s3, &state.name, first.report.as_deref().unwrap()).await;
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["resource"] == arn)
    );

    // Still open the next day: nothing to tell.
    let second = function.run_at(t0 + TimeDelta::days(1)).await.unwrap();
    assert_eq!((second.new, second.resolved), (0, 0), "{second:?}");
    assert!(topic.notices(1, Duration::from_secs(2)).await.is_empty());

    // Fixed: told once as resolved.
    weak.harden(&sdk).await;
    let third = function.run_at(t0 + TimeDelta::days(2)).await.unwrap();
    assert_eq!((third.new, third.resolved), (0, 3), "{third:?}");
    let resolved = topic.notices(1, Duration::from_secs(5)).await;
    assert_eq!(resolved.len(), 1);
    assert_eq!(
        resolved[0]["MessageAttributes"]["severity"]["Value"],
        "info"
    );
    let text = description(&resolved[0]);
    assert!(text.contains("3 resolved"), "{text}");
    let ledger: Ledger = state_json(&s3, &state.name, LEDGER).await;
    assert!(ledger.open.values().all(|o| o.finding.resource != arn));
    assert!(ledger.resolved.is_empty(), "told and exported, so dropped");

    // Security Hub holds the three, each updated in place: archived now.
    let mine = hub_findings(&sdk, &arn);
    assert_eq!(mine.len(), 3, "{mine:?}");
    for (id, record, workflow) in &mine {
        assert_eq!(record, "ARCHIVED", "{id} (workflow {workflow:?})");
        assert!(id.starts_with("posture-audit/s3-"), "{id}");
    }
}

/// The sample CloudTrail record of `events/`, made about `bucket` and `call`, perhaps failed.
fn record(bucket: &str, call: &str, error: Option<&str>) -> EventBridgeEvent<Value> {
    let mut event: Value =
        serde_json::from_str(&testkit::fixture_text("cloudtrail-put-bucket-policy.json")).unwrap();
    event["detail"]["requestParameters"]["bucketName"] = json!(bucket);
    event["detail"]["eventName"] = json!(call);
    if let Some(code) = error {
        event["detail"]["errorCode"] = json!(code);
    }
    serde_json::from_value(event).unwrap()
}

async fn invoke(function: &PostureAudit, event: EventBridgeEvent<Value>) -> Summary {
    function
        .invoke(event, Invocation { request_id: "test" })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_change_is_rechecked_alone_and_only_a_critical_finding_is_told_at_once() {
    let _account = ACCOUNT.lock().await;
    let sdk = emulator().sdk_config().await;
    let state = KmsBucket::create(&sdk, "state").await;
    let topic = TopicProbe::create(&sdk).await;
    let s3 = aws::s3_client(&sdk);
    let changed = KmsBucket::create(&sdk, "changed").await.name;
    let function = function(&sdk, &state, &topic, &unique_suppressions());
    function.run_at(Utc::now()).await.unwrap();
    topic.notices(1, Duration::from_secs(5)).await;

    // After the daily audit: one bucket is made public, another is made without a word.
    let quiet = KmsBucket::create(&sdk, "quiet").await.name;
    let changed_arn = format!("arn:aws:s3:::{changed}");
    s3.put_bucket_policy()
        .bucket(&changed)
        .policy(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                "Action": "s3:GetObject", "Resource": format!("{changed_arn}/*")}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    // A call that failed changed nothing; a call no check judges names nothing.
    let failed = invoke(
        &function,
        record(&changed, "PutBucketPolicy", Some("AccessDenied")),
    )
    .await;
    assert_eq!(
        (failed.checked.as_str(), failed.report.as_deref()),
        ("nothing", None)
    );
    let unjudged = invoke(&function, record(&changed, "PutBucketTagging", None)).await;
    assert_eq!(unjudged.checked, "nothing");

    let made_public = invoke(&function, record(&changed, "PutBucketPolicy", None)).await;
    assert_eq!(
        (made_public.new, made_public.resolved),
        (1, 0),
        "{made_public:?}"
    );
    let page = topic.notices(1, Duration::from_secs(5)).await;
    assert_eq!(page.len(), 1, "{page:?}");
    assert_eq!(
        page[0]["MessageAttributes"]["severity"]["Value"],
        "critical"
    );
    let text = description(&page[0]);
    assert!(
        text.contains(&format!("s3-public-policy {changed_arn}")),
        "{text}"
    );
    assert!(
        !text.contains(&quiet),
        "only the changed bucket is re-checked: {text}"
    );
    let ledger: Ledger = state_json(&s3, &state.name, LEDGER).await;
    assert!(
        ledger
            .open
            .values()
            .all(|o| !o.finding.resource.contains(&quiet))
    );

    // A change to the quiet bucket that finds only medium and low findings records them and waits for the day.
    let quiet_change = invoke(&function, record(&quiet, "PutBucketVersioning", None)).await;
    assert_eq!(
        (quiet_change.new, quiet_change.resolved),
        (0, 0),
        "{quiet_change:?}"
    );
    assert!(topic.notices(1, Duration::from_secs(2)).await.is_empty());
    let ledger: Ledger = state_json(&s3, &state.name, LEDGER).await;
    let waiting = ledger
        .open
        .values()
        .filter(|o| o.finding.resource.contains(&quiet) && !o.told)
        .count();
    assert_eq!(waiting, 3);
    let day = function
        .run_at(Utc::now() + TimeDelta::days(1))
        .await
        .unwrap();
    // The three waited; the quiet bucket's KMS key, never re-checked, is new to the daily audit.
    assert_eq!(day.new, 4, "{day:?}");
    let digest = description(&topic.notices(1, Duration::from_secs(5)).await[0]);
    assert_eq!(
        digest.matches(&format!("arn:aws:s3:::{quiet}")).count(),
        3,
        "{digest}"
    );
    assert!(
        !digest.contains("s3-public-policy"),
        "told already: {digest}"
    );

    // The policy removed: the resolution of a critical finding is told at once too.
    s3.delete_bucket_policy()
        .bucket(&changed)
        .send()
        .await
        .unwrap();
    let fixed = invoke(&function, record(&changed, "DeleteBucketPolicy", None)).await;
    assert_eq!((fixed.new, fixed.resolved), (0, 1), "{fixed:?}");
    let told = description(&topic.notices(1, Duration::from_secs(5)).await[0]);
    assert!(
        told.contains("1 resolved") && told.contains(&changed_arn),
        "{told}"
    );
}

#[tokio::test]
async fn a_suppression_silences_its_finding_until_it_expires_and_a_malformed_one_is_said() {
    let _account = ACCOUNT.lock().await;
    let sdk = emulator().sdk_config().await;
    let state = KmsBucket::create(&sdk, "state").await;
    let topic = TopicProbe::create(&sdk).await;
    let s3 = aws::s3_client(&sdk);
    let accepted = KmsBucket::create(&sdk, "accepted").await.name;
    let arn = format!("arn:aws:s3:::{accepted}");
    let path = unique_suppressions();
    let function = function(&sdk, &state, &topic, &path);
    let now = Utc::now();
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    for (name, value) in [
        (
            "team/scratch",
            json!({"check": "s3-no-versioning", "resource": arn, "reason": "scratch copies, rebuilt nightly",
                "expires": (now + TimeDelta::days(2)).to_rfc3339()}),
        ),
        (
            "everything",
            json!({"check": "s3-no-versioning", "resource": "arn:aws:s3:::*", "reason": "noise",
                "expires": (now + TimeDelta::days(2)).to_rfc3339()}),
        ),
    ] {
        ssm.put_parameter()
            .name(format!("{path}/{name}"))
            .value(value.to_string())
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
    }

    let first = function.run_at(now).await.unwrap();
    assert_eq!(
        (first.suppressed, first.ignored_suppressions),
        (1, 1),
        "{first:?}"
    );
    let text = description(&topic.notices(1, Duration::from_secs(5)).await[0]);
    assert!(
        text.contains(&format!("s3-public-access-block-off {arn}")),
        "{text}"
    );
    assert!(
        !text.contains(&format!("s3-no-versioning {arn}")),
        "suppressed: {text}"
    );
    assert!(
        text.contains(&format!("{path}/everything: the resource must be one ARN")),
        "{text}"
    );
    let ledger: Ledger = state_json(&s3, &state.name, LEDGER).await;
    let silent = ledger
        .open
        .values()
        .find(|o| o.finding.resource == arn && o.suppressed.is_some())
        .unwrap();
    assert_eq!(
        silent.suppressed.as_ref().unwrap().by,
        format!("{path}/team/scratch")
    );
    let report: Value = state_json(&s3, &state.name, first.report.as_deref().unwrap()).await;
    assert_eq!(report["suppressed"][0]["finding"]["resource"], arn);

    // Past its expiry the finding is told, as new.
    let later = function.run_at(now + TimeDelta::days(3)).await.unwrap();
    assert_eq!((later.suppressed, later.new), (0, 1), "{later:?}");
    let text = description(&topic.notices(1, Duration::from_secs(5)).await[0]);
    assert!(text.contains(&format!("s3-no-versioning {arn}")), "{text}");
}

/// A resource that cannot be read is that resource unread, not its whole service: an endpoint whose configuration
/// was deleted under it leaves the other endpoints, and SageMaker, judged.
#[tokio::test]
async fn one_unreadable_resource_does_not_blind_its_service() {
    use aws_sdk_sagemaker::types::{ContainerDefinition, ProductionVariant};
    use posture_audit::Check;
    // The broken endpoint would be every other test's unread resource: made and removed under the lock.
    let _account = ACCOUNT.lock().await;
    let sdk = emulator().sdk_config().await;
    let sm = aws_sdk_sagemaker::Client::new(&sdk);
    let model = unique_name("model");
    sm.create_model()
        .model_name(&model)
        .execution_role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .primary_container(ContainerDefinition::builder().image("nlp:1").build())
        .send()
        .await
        .unwrap();
    let mut endpoints = Vec::new();
    let mut configs = Vec::new();
    for _ in 0..2 {
        let config = unique_name("config");
        sm.create_endpoint_config()
            .endpoint_config_name(&config)
            .production_variants(
                ProductionVariant::builder()
                    .variant_name("AllTraffic")
                    .model_name(&model)
                    .initial_instance_count(1)
                    .instance_type(
                        aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlM5Large,
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let arn = sm
            .create_endpoint()
            .endpoint_name(unique_name("endpoint"))
            .endpoint_config_name(&config)
            .send()
            .await
            .unwrap()
            .endpoint_arn()
            .unwrap()
            .to_owned();
        endpoints.push(arn);
        configs.push(config);
    }
    sm.delete_endpoint_config()
        .endpoint_config_name(&configs[0])
        .send()
        .await
        .unwrap();
    let audit = posture_audit::audit::run(&sdk, Utc::now(), Duration::from_secs(60), &[]).await;
    let endpoint_name = endpoints[0].rsplit('/').next().unwrap().to_owned();
    sm.delete_endpoint()
        .endpoint_name(&endpoint_name)
        .send()
        .await
        .unwrap();
    assert!(audit.unchecked.is_empty(), "{:?}", audit.unchecked);
    let unread: Vec<&str> = audit.unread.iter().map(|u| u.resource.as_str()).collect();
    assert_eq!(unread, [endpoints[0].as_str()], "{:?}", audit.unread);
    let judged: Vec<Check> = audit
        .findings
        .iter()
        .filter(|f| f.resource == endpoints[1])
        .map(|f| f.check)
        .collect();
    assert_eq!(
        judged,
        [
            Check::SageMakerEndpointWithoutKms,
            Check::SageMakerEndpointWithoutDataCapture
        ]
    );
}

/// Security Hub's findings on `resource`: (id, record state, workflow status). Read on a thread of its own with a
/// large stack: a finding's `Resource` type is 31 KB, and its unoptimised deserializer outgrows a test thread's 2 MiB.
fn hub_findings(sdk: &aws::SdkConfig, resource: &str) -> Vec<(String, String, String)> {
    let (sdk, resource) = (sdk.clone(), resource.to_owned());
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let hub = aws_sdk_securityhub::Client::new(&sdk);
                let mut pages = hub.get_findings().into_paginator().items().send();
                let mut mine = Vec::new();
                while let Some(f) = pages.next().await {
                    let f = f.unwrap();
                    if f.resources()
                        .iter()
                        .any(|r| r.id() == Some(resource.as_str()))
                    {
                        mine.push((
                            f.id().unwrap_or_default().to_owned(),
                            f.record_state().map_or("", |r| r.as_str()).to_owned(),
                            f.workflow()
                                .and_then(|w| w.status())
                                .map_or("", |s| s.as_str())
                                .to_owned(),
                        ));
                    }
                }
                mine
            })
        })
        .unwrap()
        .join()
        .unwrap()
}

async fn state_json<T: serde::de::DeserializeOwned>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> T {
    serde_json::from_slice(&testkit::object_bytes(s3, bucket, key).await).unwrap()
}
