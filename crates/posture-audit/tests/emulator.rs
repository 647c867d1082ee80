//! The audit on the emulator, through the real SDK: for each check it can seed, a resource with exactly that
//! misconfiguration yields exactly that finding, and a well-configured one yields none. The emulator's account is
//! shared by the tests of this process, so each test judges only the resources it made (by ARN). Access keys
//! cannot be aged on the emulator: their checks are the judge's unit tables.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::types::{BucketCannedAcl, BucketVersioningStatus, VersioningConfiguration};
use guardrails_core::aws;
use posture_audit::{Audit, Check, audit};
use serde_json::json;
use testkit::{KmsBucket, REGION, RUNNER_ACCESS_KEY, emulator, unique_name};

async fn run() -> Audit {
    let sdk = emulator().sdk_config().await;
    let audit = audit::run(&sdk, chrono::Utc::now(), Duration::from_secs(60), &[]).await;
    assert!(audit.unchecked.is_empty(), "{:?}", audit.unchecked);
    audit
}

/// The checks found on each of `arns`.
fn on(audit: &Audit, arns: &[&str]) -> BTreeMap<String, Vec<Check>> {
    arns.iter()
        .map(|arn| {
            let checks = audit
                .findings
                .iter()
                .filter(|f| f.resource == *arn)
                .map(|f| f.check)
                .collect();
            ((*arn).to_owned(), checks)
        })
        .collect()
}

/// A bucket as the project's template makes one: KMS default encryption, all four public access blocks, a TLS-only
/// deny, versioning.
async fn good_bucket(sdk: &aws::SdkConfig) -> String {
    let bucket = KmsBucket::create(sdk, "audit").await;
    bucket.harden(sdk).await;
    bucket.name
}

async fn put_policy(sdk: &aws::SdkConfig, bucket: &str, public: bool) {
    let mut statements = vec![
        json!({"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
    ];
    if public {
        statements.push(
            json!({"Sid": "Everyone", "Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}),
        );
    }
    aws::s3_client(sdk)
        .put_bucket_policy()
        .bucket(bucket)
        .policy(json!({"Version": "2012-10-17", "Statement": statements}).to_string())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn each_bucket_misconfiguration_is_exactly_its_finding() {
    let sdk = emulator().sdk_config().await;
    let s3 = aws::s3_client(&sdk);
    let good = good_bucket(&sdk).await;
    let public_acl = good_bucket(&sdk).await;
    s3.delete_public_access_block()
        .bucket(&public_acl)
        .send()
        .await
        .unwrap();
    s3.put_bucket_acl()
        .bucket(&public_acl)
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let public_policy = good_bucket(&sdk).await;
    put_policy(&sdk, &public_policy, true).await;
    let no_block = good_bucket(&sdk).await;
    s3.delete_public_access_block()
        .bucket(&no_block)
        .send()
        .await
        .unwrap();
    let no_encryption = good_bucket(&sdk).await;
    s3.delete_bucket_encryption()
        .bucket(&no_encryption)
        .send()
        .await
        .unwrap();
    let no_tls = good_bucket(&sdk).await;
    s3.delete_bucket_policy()
        .bucket(&no_tls)
        .send()
        .await
        .unwrap();
    let unversioned = good_bucket(&sdk).await;
    s3.put_bucket_versioning()
        .bucket(&unversioned)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let arn = |name: &str| format!("arn:aws:s3:::{name}");
    let arns: Vec<String> = [
        &good,
        &public_acl,
        &public_policy,
        &no_block,
        &no_encryption,
        &no_tls,
        &unversioned,
    ]
    .iter()
    .map(|n| arn(n))
    .collect();
    let refs: Vec<&str> = arns.iter().map(String::as_str).collect();
    let found = on(&run().await, &refs);
    let expected = [
        (arn(&good), vec![]),
        (
            arn(&public_acl),
            vec![Check::S3PublicAcl, Check::S3PublicAccessBlockOff],
        ),
        (arn(&public_policy), vec![Check::S3PublicPolicy]),
        (arn(&no_block), vec![Check::S3PublicAccessBlockOff]),
        (arn(&no_encryption), vec![Check::S3NoDefaultEncryption]),
        (arn(&no_tls), vec![Check::S3NoTlsDeny]),
        (arn(&unversioned), vec![Check::S3NoVersioning]),
    ];
    for (resource, checks) in expected {
        assert_eq!(found[&resource], checks, "{resource}");
    }
}

#[tokio::test]
async fn iam_users_policies_and_trust() {
    let sdk = emulator().sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let user = |name: String| {
        let iam = iam.clone();
        async move {
            let arn = iam
                .create_user()
                .user_name(&name)
                .send()
                .await
                .unwrap()
                .user()
                .unwrap()
                .arn()
                .to_owned();
            iam.create_login_profile()
                .user_name(&name)
                .password("Correct-Horse-1")
                .send()
                .await
                .unwrap();
            arn
        }
    };
    let without_mfa = user(unique_name("nomfa")).await;
    let with_mfa_name = unique_name("mfa");
    let with_mfa = user(with_mfa_name.clone()).await;
    let device = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(unique_name("device"))
        .send()
        .await
        .unwrap();
    iam.enable_mfa_device()
        .user_name(&with_mfa_name)
        .serial_number(device.virtual_mfa_device().unwrap().serial_number())
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();

    let policy = |actions: serde_json::Value, resource: &str| {
        let (iam, resource) = (iam.clone(), resource.to_owned());
        async move {
            iam.create_policy()
                .policy_name(unique_name("policy"))
                .policy_document(
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]})
                        .to_string(),
                )
                .send()
                .await
                .unwrap()
                .policy()
                .unwrap()
                .arn()
                .unwrap()
                .to_owned()
        }
    };
    let admin = policy(json!("*"), "*").await;
    let wildcard = policy(json!(["s3:*"]), "arn:aws:s3:::x/*").await;
    let narrow = policy(json!(["s3:GetObject"]), "arn:aws:s3:::x/*").await;

    let role = |principal: serde_json::Value, condition: Option<serde_json::Value>| {
        let iam = iam.clone();
        async move {
            let mut statement =
                json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"});
            if let Some(condition) = condition {
                statement["Condition"] = condition;
            }
            iam.create_role()
                .role_name(unique_name("role"))
                .assume_role_policy_document(
                    json!({"Version": "2012-10-17", "Statement": [statement]}).to_string(),
                )
                .send()
                .await
                .unwrap()
                .role()
                .unwrap()
                .arn()
                .to_owned()
        }
    };
    let open = role(json!({"AWS": "*"}), None).await;
    let foreign = role(json!({"AWS": "arn:aws:iam::999999999999:root"}), None).await;
    let foreign_with_id = role(
        json!({"AWS": "arn:aws:iam::999999999999:root"}),
        Some(json!({"StringEquals": {"sts:ExternalId": "partner-7"}})),
    )
    .await;
    let service = role(json!({"Service": "lambda.amazonaws.com"}), None).await;

    let found = on(
        &run().await,
        &[
            &without_mfa,
            &with_mfa,
            &admin,
            &wildcard,
            &narrow,
            &open,
            &foreign,
            &foreign_with_id,
            &service,
        ],
    );
    let expected = [
        (without_mfa, vec![Check::IamConsoleUserWithoutMfa]),
        (with_mfa, vec![]),
        (admin, vec![Check::IamAdminPolicy]),
        (wildcard, vec![Check::IamWildcardActionPolicy]),
        (narrow, vec![]),
        (open, vec![Check::IamOpenTrust]),
        (foreign, vec![Check::IamCrossAccountTrustWithoutExternalId]),
        (foreign_with_id, vec![]),
        (service, vec![]),
    ];
    for (resource, checks) in expected {
        assert_eq!(found[&resource], checks, "{resource}");
    }
}

#[tokio::test]
async fn keys_topics_queues_and_secrets() {
    let sdk = emulator().sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = |rotate: bool| {
        let kms = kms.clone();
        async move {
            let meta = kms
                .create_key()
                .send()
                .await
                .unwrap()
                .key_metadata()
                .unwrap()
                .clone();
            if rotate {
                kms.enable_key_rotation()
                    .key_id(meta.key_id())
                    .send()
                    .await
                    .unwrap();
            }
            (meta.key_id().to_owned(), meta.arn().unwrap().to_owned())
        }
    };
    let (_, rotating) = key(true).await;
    let (_, still) = key(false).await;
    let (open_id, open_key) = key(true).await;
    kms.put_key_policy()
        .key_id(&open_id)
        .policy_name("default")
        .policy(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]}).to_string())
        .send()
        .await
        .unwrap();

    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = |encrypted: bool, public: bool| {
        let (sns, rotating) = (sns.clone(), rotating.clone());
        async move {
            let mut create = sns.create_topic().name(unique_name("topic"));
            if encrypted {
                create = create.attributes("KmsMasterKeyId", rotating);
            }
            let arn = create.send().await.unwrap().topic_arn().unwrap().to_owned();
            if public {
                sns.set_topic_attributes()
                    .topic_arn(&arn)
                    .attribute_name("Policy")
                    .attribute_value(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": arn}]}).to_string())
                    .send()
                    .await
                    .unwrap();
            }
            arn
        }
    };
    let good_topic = topic(true, false).await;
    let plain_topic = topic(false, false).await;
    let public_topic = topic(true, true).await;

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = |encrypted: bool, public: bool| {
        let sqs = sqs.clone();
        async move {
            use aws_sdk_sqs::types::QueueAttributeName as A;
            let name = unique_name("queue");
            let mut create = sqs
                .create_queue()
                .queue_name(&name)
                .attributes(A::SqsManagedSseEnabled, encrypted.to_string());
            if public {
                let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sqs:SendMessage", "Resource": "*"}]});
                create = create.attributes(A::Policy, policy.to_string());
            }
            let url = create.send().await.unwrap().queue_url().unwrap().to_owned();
            sqs.get_queue_attributes()
                .queue_url(url)
                .attribute_names(A::QueueArn)
                .send()
                .await
                .unwrap()
                .attributes()
                .unwrap()[&A::QueueArn]
                .clone()
        }
    };
    let good_queue = queue(true, false).await;
    let plain_queue = queue(false, false).await;
    let public_queue = queue(true, true).await;

    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let secret = |rotate: bool| {
        let secrets = secrets.clone();
        async move {
            let arn = secrets
                .create_secret()
                .name(unique_name("secret"))
                .secret_string("x")
                .send()
                .await
                .unwrap()
                .arn()
                .unwrap()
                .to_owned();
            if rotate {
                // Rules without a function: the emulator marks rotation on without invoking anything.
                secrets
                    .rotate_secret()
                    .secret_id(&arn)
                    .rotation_rules(
                        aws_sdk_secretsmanager::types::RotationRulesType::builder()
                            .automatically_after_days(30)
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
            }
            arn
        }
    };
    let rotated = secret(true).await;
    let unrotated = secret(false).await;

    let found = on(
        &run().await,
        &[
            &rotating,
            &still,
            &open_key,
            &good_topic,
            &plain_topic,
            &public_topic,
            &good_queue,
            &plain_queue,
            &public_queue,
            &rotated,
            &unrotated,
        ],
    );
    let expected = [
        (rotating, vec![]),
        (still, vec![Check::KmsRotationOff]),
        (open_key, vec![Check::KmsOpenKeyPolicy]),
        (good_topic, vec![]),
        (plain_topic, vec![Check::SnsUnencrypted]),
        (public_topic, vec![Check::SnsPublicPolicy]),
        (good_queue, vec![]),
        (plain_queue, vec![Check::SqsUnencrypted]),
        (public_queue, vec![Check::SqsPublicPolicy]),
        (rotated, vec![]),
        (unrotated, vec![Check::SecretRotationOff]),
    ];
    for (resource, checks) in expected {
        assert_eq!(found[&resource], checks, "{resource}");
    }
}

/// The CLI prints the findings the library finds on the same account, as JSON, and exits 1 since there are some.
#[tokio::test]
async fn the_cli_prints_the_same_findings_as_json_and_exits_1() {
    let sdk = emulator().sdk_config().await;
    let name = KmsBucket::create(&sdk, "cli").await.name;
    let resource = format!("arn:aws:s3:::{name}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_posture-audit"))
        .args(["--region", REGION, "--format", "json"])
        .env("AWS_ENDPOINT_URL", emulator().endpoint())
        .env("AWS_ACCESS_KEY_ID", RUNNER_ACCESS_KEY.0)
        .env("AWS_SECRET_ACCESS_KEY", RUNNER_ACCESS_KEY.1)
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mine: Vec<&serde_json::Value> = printed
        .iter()
        .filter(|f| f["resource"] == resource)
        .collect();
    let checks: Vec<&str> = mine.iter().map(|f| f["check"].as_str().unwrap()).collect();
    assert_eq!(
        checks,
        [
            "s3-public-access-block-off",
            "s3-no-tls-deny",
            "s3-no-versioning"
        ]
    );
    for f in mine {
        for field in ["severity", "evidence", "remediation"] {
            assert!(f[field].as_str().is_some_and(|v| !v.is_empty()), "{f}");
        }
    }
    let library = on(&run().await, &[&resource]);
    assert_eq!(
        library[&resource],
        [
            Check::S3PublicAccessBlockOff,
            Check::S3NoTlsDeny,
            Check::S3NoVersioning
        ]
    );
}

#[tokio::test]
async fn sagemaker_notebooks_endpoints_and_training_jobs() {
    use aws_sdk_sagemaker::types::{
        AlgorithmSpecification, ContainerDefinition, DataCaptureConfig, DirectInternetAccess,
        OutputDataConfig, ProductionVariant, ResourceConfig, RootAccess, StoppingCondition,
        TrainingInputMode, TrainingInstanceType,
    };
    let sdk = emulator().sdk_config().await;
    let sm = aws_sdk_sagemaker::Client::new(&sdk);
    let role = "arn:aws:iam::123456789012:role/sagemaker";
    let notebook = |open: bool| {
        let sm = sm.clone();
        async move {
            let (internet, root) = if open {
                (DirectInternetAccess::Enabled, RootAccess::Enabled)
            } else {
                (DirectInternetAccess::Disabled, RootAccess::Disabled)
            };
            sm.create_notebook_instance()
                .notebook_instance_name(unique_name("nb"))
                .instance_type(aws_sdk_sagemaker::types::InstanceType::MlT3Medium)
                .role_arn(role)
                .subnet_id("subnet-1")
                .security_group_ids("sg-1")
                .direct_internet_access(internet)
                .root_access(root)
                .send()
                .await
                .unwrap()
                .notebook_instance_arn()
                .unwrap()
                .to_owned()
        }
    };
    let open_notebook = notebook(true).await;
    let closed_notebook = notebook(false).await;

    let model = unique_name("model");
    sm.create_model()
        .model_name(&model)
        .execution_role_arn(role)
        .primary_container(ContainerDefinition::builder().image("nlp:1").build())
        .send()
        .await
        .unwrap();
    let endpoint = |kms: bool, capture: bool| {
        let (sm, model) = (sm.clone(), model.clone());
        async move {
            let config = unique_name("config");
            let mut create = sm
                .create_endpoint_config()
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
                );
            if kms {
                create = create.kms_key_id("arn:aws:kms:us-east-1:123456789012:key/k");
            }
            if capture {
                create = create.data_capture_config(
                    DataCaptureConfig::builder()
                        .enable_capture(true)
                        .initial_sampling_percentage(100)
                        .destination_s3_uri("s3://capture/")
                        .capture_options(
                            aws_sdk_sagemaker::types::CaptureOption::builder()
                                .capture_mode(aws_sdk_sagemaker::types::CaptureMode::Input)
                                .build(),
                        )
                        .build(),
                );
            }
            create.send().await.unwrap();
            sm.create_endpoint()
                .endpoint_name(unique_name("endpoint"))
                .endpoint_config_name(&config)
                .send()
                .await
                .unwrap()
                .endpoint_arn()
                .unwrap()
                .to_owned()
        }
    };
    let good_endpoint = endpoint(true, true).await;
    let plain_endpoint = endpoint(false, false).await;

    let job = |protected: bool| {
        let sm = sm.clone();
        async move {
            let mut resources = ResourceConfig::builder()
                .instance_type(TrainingInstanceType::MlM5Large)
                .instance_count(1)
                .volume_size_in_gb(10);
            if protected {
                resources = resources.volume_kms_key_id("arn:aws:kms:us-east-1:123456789012:key/k");
            }
            sm.create_training_job()
                .training_job_name(unique_name("job"))
                .algorithm_specification(
                    AlgorithmSpecification::builder()
                        .training_image("nlp-train:1")
                        .training_input_mode(TrainingInputMode::File)
                        .build(),
                )
                .role_arn(role)
                .output_data_config(
                    OutputDataConfig::builder()
                        .s3_output_path("s3://out/")
                        .build(),
                )
                .resource_config(resources.build())
                .stopping_condition(
                    StoppingCondition::builder()
                        .max_runtime_in_seconds(3600)
                        .build(),
                )
                .enable_network_isolation(protected)
                .send()
                .await
                .unwrap()
                .training_job_arn()
                .unwrap()
                .to_owned()
        }
    };
    let protected_job = job(true).await;
    let bare_job = job(false).await;

    let found = on(
        &run().await,
        &[
            &open_notebook,
            &closed_notebook,
            &good_endpoint,
            &plain_endpoint,
            &protected_job,
            &bare_job,
        ],
    );
    let expected = [
        (
            open_notebook,
            vec![
                Check::SageMakerNotebookDirectInternet,
                Check::SageMakerNotebookRootAccess,
            ],
        ),
        (closed_notebook, vec![]),
        (good_endpoint, vec![]),
        (
            plain_endpoint,
            vec![
                Check::SageMakerEndpointWithoutKms,
                Check::SageMakerEndpointWithoutDataCapture,
            ],
        ),
        (protected_job, vec![]),
        (
            bare_job,
            vec![
                Check::SageMakerTrainingVolumeUnencrypted,
                Check::SageMakerTrainingWithoutNetworkIsolation,
            ],
        ),
    ];
    for (resource, checks) in expected {
        assert_eq!(found[&resource], checks, "{resource}");
    }
}

/// CloudTrail is judged per region: off with no trail, then a trail's weaknesses, then none. Its own region, so the
/// account-wide answer is this test's alone.
#[tokio::test]
async fn cloudtrail_off_then_weak_then_sound() {
    let region = "eu-west-3";
    let sdk = emulator()
        .sdk_config()
        .await
        .to_builder()
        .region(aws_config::Region::new(region))
        .build();
    let audit = || async {
        let audit = audit::run(&sdk, chrono::Utc::now(), Duration::from_secs(60), &[]).await;
        assert!(audit.unchecked.is_empty(), "{:?}", audit.unchecked);
        audit
            .findings
            .into_iter()
            .filter(|f| {
                f.resource
                    .starts_with(&format!("arn:aws:cloudtrail:{region}:"))
            })
            .map(|f| f.check)
            .collect::<Vec<_>>()
    };
    assert_eq!(audit().await, [Check::CloudTrailOff]);

    let bucket = unique_name("trail");
    aws::s3_client(&sdk)
        .create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ct = aws_sdk_cloudtrail::Client::new(&sdk);
    let name = unique_name("trail");
    ct.create_trail()
        .name(&name)
        .s3_bucket_name(&bucket)
        .send()
        .await
        .unwrap();
    ct.start_logging().name(&name).send().await.unwrap();
    assert_eq!(
        audit().await,
        [
            Check::CloudTrailNotMultiRegion,
            Check::CloudTrailNoLogValidation
        ]
    );
    ct.update_trail()
        .name(&name)
        .is_multi_region_trail(true)
        .enable_log_file_validation(true)
        .send()
        .await
        .unwrap();
    assert_eq!(audit().await, Vec::<Check>::new());
}

#[tokio::test]
async fn lambda_functions_and_ecr_repositories() {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{FunctionCode, FunctionUrlAuthType, Runtime};
    let sdk = emulator().sdk_config().await;
    let role = aws_sdk_iam::Client::new(&sdk)
        .create_role()
        .role_name(unique_name("fn-role"))
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_owned();
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let function = |runtime: Runtime| {
        let (lambda, role) = (lambda.clone(), role.clone());
        async move {
            let name = unique_name("fn");
            let arn = lambda
                .create_function()
                .function_name(&name)
                .runtime(runtime)
                .role(role)
                .handler("index.handler")
                .code(FunctionCode::builder().zip_file(Blob::new(zip())).build())
                .send()
                .await
                .unwrap()
                .function_arn()
                .unwrap()
                .to_owned();
            (name, arn)
        }
    };
    let (_, current) = function(Runtime::Python313).await;
    let (_, old) = function(Runtime::Python38).await;
    let (open_name, open) = function(Runtime::Python313).await;
    lambda
        .add_permission()
        .function_name(&open_name)
        .statement_id("everyone")
        .action("lambda:InvokeFunction")
        .principal("*")
        .send()
        .await
        .unwrap();
    let (url_name, with_url) = function(Runtime::Python313).await;
    lambda
        .create_function_url_config()
        .function_name(&url_name)
        .auth_type(FunctionUrlAuthType::None)
        .send()
        .await
        .unwrap();

    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let repository = |sound: bool| {
        let ecr = ecr.clone();
        async move {
            use aws_sdk_ecr::types::{ImageScanningConfiguration, ImageTagMutability};
            ecr.create_repository()
                .repository_name(unique_name("images"))
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder()
                        .scan_on_push(sound)
                        .build(),
                )
                .image_tag_mutability(if sound {
                    ImageTagMutability::Immutable
                } else {
                    ImageTagMutability::Mutable
                })
                .send()
                .await
                .unwrap()
                .repository()
                .unwrap()
                .repository_arn()
                .unwrap()
                .to_owned()
        }
    };
    let sound = repository(true).await;
    let loose = repository(false).await;

    let found = on(
        &run().await,
        &[&current, &old, &open, &with_url, &sound, &loose],
    );
    let expected = [
        (current, vec![]),
        (old, vec![Check::LambdaDeprecatedRuntime]),
        (open, vec![Check::LambdaPublicPolicy]),
        (with_url, vec![Check::LambdaUrlWithoutAuth]),
        (sound, vec![]),
        (loose, vec![Check::EcrScanOnPushOff, Check::EcrMutableTags]),
    ];
    for (resource, checks) in expected {
        assert_eq!(found[&resource], checks, "{resource}");
    }
}

/// A zip archive holding one empty file, enough for the emulator to take a function's code.
fn zip() -> Vec<u8> {
    // The smallest valid archive: one stored entry "index.py" of zero bytes, its central directory and end record.
    let name = b"index.py";
    let mut out = Vec::new();
    let local = [
        &[0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &(name.len() as u16).to_le_bytes(),
        &[0, 0],
        name,
    ]
    .concat();
    out.extend_from_slice(&local);
    let central_at = out.len() as u32;
    let central = [
        &[0x50, 0x4b, 0x01, 0x02, 20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &(name.len() as u16).to_le_bytes(),
        // extra and comment lengths, disk, internal and external attributes
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        // the local header's offset
        &0u32.to_le_bytes(),
        name,
    ]
    .concat();
    out.extend_from_slice(&central);
    let end = [
        &[0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 1, 0, 1, 0][..],
        &(central.len() as u32).to_le_bytes(),
        &central_at.to_le_bytes(),
        &[0, 0],
    ]
    .concat();
    out.extend_from_slice(&end);
    out
}

/// The re-check of one changed resource reads what the audit reads: the same findings on it, in a scope that covers
/// them; once the resource is deleted, no findings in a scope that still covers the old ones, so they resolve.
#[tokio::test]
async fn each_changed_resource_is_rechecked_as_the_audit_sees_it_and_resolved_when_deleted() {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{FunctionCode, Runtime};
    use posture_audit::change::Target;
    use posture_audit::recheck;
    let sdk = emulator().sdk_config().await;
    let account = "123456789012";
    let (s3, iam) = (aws::s3_client(&sdk), aws_sdk_iam::Client::new(&sdk));
    let bucket = KmsBucket::create(&sdk, "recheck").await.name;
    let user = unique_name("rk-user");
    iam.create_user().user_name(&user).send().await.unwrap();
    iam.create_login_profile()
        .user_name(&user)
        .password("Correct-Horse-9")
        .send()
        .await
        .unwrap();
    let open_trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": "sts:AssumeRole"}]});
    let role = unique_name("rk-role");
    let role_arn = iam
        .create_role()
        .role_name(&role)
        .assume_role_policy_document(open_trust.to_string())
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_owned();
    let policy = iam
        .create_policy()
        .policy_name(unique_name("rk-admin"))
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = kms.create_key().send().await.unwrap();
    let (key_id, key_arn) = {
        let meta = key.key_metadata().unwrap();
        (meta.key_id().to_owned(), meta.arn().unwrap().to_owned())
    };
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns
        .create_topic()
        .name(unique_name("rk-topic"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_name = unique_name("rk-queue");
    let queue = sqs
        .create_queue()
        .queue_name(&queue_name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled,
            "false",
        )
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let secret = secrets
        .create_secret()
        .name(unique_name("rk-secret"))
        .secret_string("x")
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let function = unique_name("rk-fn");
    let function_arn = lambda
        .create_function()
        .function_name(&function)
        .runtime(Runtime::Python38)
        .role(&role_arn)
        .handler("index.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(zip())).build())
        .send()
        .await
        .unwrap()
        .function_arn()
        .unwrap()
        .to_owned();
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let repository = unique_name("rk-repo");
    let repository_arn = ecr
        .create_repository()
        .repository_name(&repository)
        .send()
        .await
        .unwrap()
        .repository()
        .unwrap()
        .repository_arn()
        .unwrap()
        .to_owned();
    let targets = [
        (
            Target::Bucket(bucket.clone()),
            format!("arn:aws:s3:::{bucket}"),
        ),
        (
            Target::User(user.clone()),
            format!("arn:aws:iam::{account}:user/{user}"),
        ),
        (Target::Role(role.clone()), role_arn.clone()),
        (Target::Policy(policy.clone()), policy.clone()),
        (Target::Key(key_id.clone()), key_arn.clone()),
        (Target::Topic(topic.clone()), topic.clone()),
        (
            Target::Queue(queue.clone()),
            format!("arn:aws:sqs:{REGION}:{account}:{queue_name}"),
        ),
        (Target::Secret(secret.clone()), secret.clone()),
        (Target::Function(function.clone()), function_arn.clone()),
        (
            Target::Repository(repository.clone()),
            repository_arn.clone(),
        ),
    ];
    let audit = run().await;
    let now = chrono::Utc::now();
    for (target, arn) in &targets {
        let expected = on(&audit, &[arn])[arn].clone();
        assert!(!expected.is_empty(), "{target:?} is seeded with a weakness");
        let again = recheck::run(&sdk, REGION, now, target).await.unwrap();
        let checks: Vec<Check> = again.findings.iter().map(|f| f.check).collect();
        assert_eq!(checks, expected, "{target:?}");
        assert!(
            again
                .findings
                .iter()
                .all(|f| again.scope.covers(f.check, &f.resource)),
            "{target:?}: {:?}",
            again.scope
        );
    }

    s3.delete_bucket().bucket(&bucket).send().await.unwrap();
    iam.delete_login_profile()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    iam.delete_user().user_name(&user).send().await.unwrap();
    iam.delete_role().role_name(&role).send().await.unwrap();
    iam.delete_policy()
        .policy_arn(&policy)
        .send()
        .await
        .unwrap();
    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    sns.delete_topic().topic_arn(&topic).send().await.unwrap();
    sqs.delete_queue().queue_url(&queue).send().await.unwrap();
    secrets
        .delete_secret()
        .secret_id(&secret)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    lambda
        .delete_function()
        .function_name(&function)
        .send()
        .await
        .unwrap();
    ecr.delete_repository()
        .repository_name(&repository)
        .send()
        .await
        .unwrap();
    for (target, arn) in &targets {
        let gone = recheck::run(&sdk, REGION, now, target).await.unwrap();
        assert!(gone.findings.is_empty(), "{target:?}: {:?}", gone.findings);
        for check in &on(&audit, &[arn])[arn] {
            assert!(
                gone.scope.covers(*check, arn),
                "{target:?} resolves {check:?}"
            );
        }
    }
}

#[tokio::test]
async fn security_groups_open_to_the_internet_and_vpcs_without_flow_logs() {
    use aws_sdk_ec2::types::{
        FlowLogsResourceType, IpPermission, IpRange, Ipv6Range, LogDestinationType, TrafficType,
    };
    use posture_audit::change::Target;
    use posture_audit::recheck;
    let sdk = emulator().sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = |cidr: &'static str| {
        let ec2 = ec2.clone();
        async move {
            ec2.create_vpc()
                .cidr_block(cidr)
                .send()
                .await
                .unwrap()
                .vpc()
                .unwrap()
                .vpc_id()
                .unwrap()
                .to_owned()
        }
    };
    let quiet = vpc("10.41.0.0/16").await;
    let logged = vpc("10.42.0.0/16").await;
    ec2.create_flow_logs()
        .resource_ids(&logged)
        .resource_type(FlowLogsResourceType::Vpc)
        .traffic_type(TrafficType::All)
        .log_destination_type(LogDestinationType::CloudWatchLogs)
        .log_group_name(unique_name("flow-logs"))
        .deliver_logs_permission_arn("arn:aws:iam::123456789012:role/flow-logs")
        .send()
        .await
        .unwrap();
    let group = |rule: Option<IpPermission>| {
        let (ec2, vpc) = (ec2.clone(), logged.clone());
        async move {
            let id = ec2
                .create_security_group()
                .group_name(unique_name("sg"))
                .description("posture test")
                .vpc_id(vpc)
                .send()
                .await
                .unwrap()
                .group_id()
                .unwrap()
                .to_owned();
            if let Some(rule) = rule {
                ec2.authorize_security_group_ingress()
                    .group_id(&id)
                    .ip_permissions(rule)
                    .send()
                    .await
                    .unwrap();
            }
            id
        }
    };
    let tcp = |port: i32, range: &str| {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .ip_ranges(IpRange::builder().cidr_ip(range).build())
            .build()
    };
    let closed = group(None).await;
    let https = group(Some(tcp(443, "0.0.0.0/0"))).await;
    let inside = group(Some(tcp(22, "10.0.0.0/8"))).await;
    let ssh = group(Some(tcp(22, "0.0.0.0/0"))).await;
    let all = group(Some(
        IpPermission::builder()
            .ip_protocol("-1")
            .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
            .build(),
    ))
    .await;
    let arn = |kind: &str, id: &str| format!("arn:aws:ec2:{REGION}:123456789012:{kind}/{id}");
    let expected = [
        (arn("vpc", &quiet), vec![Check::Ec2VpcFlowLogsOff]),
        (arn("vpc", &logged), vec![]),
        (arn("security-group", &closed), vec![]),
        (arn("security-group", &https), vec![]),
        (arn("security-group", &inside), vec![]),
        (arn("security-group", &ssh), vec![Check::Ec2OpenAdminPort]),
        (arn("security-group", &all), vec![Check::Ec2OpenAllPorts]),
    ];
    let audit = run().await;
    let arns: Vec<&str> = expected.iter().map(|(a, _)| a.as_str()).collect();
    let found = on(&audit, &arns);
    for (resource, checks) in &expected {
        assert_eq!(&found[resource], checks, "{resource}");
    }

    // The rule revoked: the group's re-check finds it closed; deleted, it covers what the group had.
    let ssh_arn = arn("security-group", &ssh);
    let target = Target::SecurityGroup(ssh.clone());
    let now = chrono::Utc::now();
    let before = recheck::run(&sdk, REGION, now, &target).await.unwrap();
    assert_eq!(before.findings.len(), 1);
    ec2.revoke_security_group_ingress()
        .group_id(&ssh)
        .ip_permissions(tcp(22, "0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    let revoked = recheck::run(&sdk, REGION, now, &target).await.unwrap();
    assert!(revoked.findings.is_empty(), "{:?}", revoked.findings);
    ec2.delete_security_group()
        .group_id(&ssh)
        .send()
        .await
        .unwrap();
    let gone = recheck::run(&sdk, REGION, now, &target).await.unwrap();
    assert!(gone.findings.is_empty());
    assert!(gone.scope.covers(Check::Ec2OpenAdminPort, &ssh_arn));
    let flows = recheck::run(&sdk, REGION, now, &Target::Vpcs)
        .await
        .unwrap();
    assert!(
        flows
            .findings
            .iter()
            .any(|f| f.resource == arn("vpc", &quiet))
    );
    assert!(
        flows
            .findings
            .iter()
            .all(|f| f.resource != arn("vpc", &logged))
    );
}

/// An image the pipeline runs is judged by its last scan (moto answers the findings it is given); a repository a
/// registry scanning rule covers scans on push whatever its own setting.
#[tokio::test]
async fn pipeline_images_by_their_last_scan_and_repositories_a_registry_rule_scans() {
    use aws_sdk_ecr::types::{
        RegistryScanningRule, ScanFrequency, ScanType, ScanningRepositoryFilter,
        ScanningRepositoryFilterType,
    };
    let sdk = emulator().sdk_config().await;
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let repository = unique_name("pipeline-train");
    let repository_arn = ecr
        .create_repository()
        .repository_name(&repository)
        .send()
        .await
        .unwrap()
        .repository()
        .unwrap()
        .repository_arn()
        .unwrap()
        .to_owned();
    // Two images, so each tag is its own (one manifest under two tags would be one image).
    for (tag, config) in [("2026-11", "b5b2"), ("2026-12", "c6c3")] {
        let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                "digest": format!("sha256:{config}b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7")},
            "layers": []});
        ecr.put_image()
            .repository_name(&repository)
            .image_tag(tag)
            .image_manifest(manifest.to_string())
            .send()
            .await
            .unwrap();
    }
    ecr.start_image_scan()
        .repository_name(&repository)
        .image_id(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag("2026-11")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let scan = |tag: &str, critical: u32| {
        json!({"registryId": "123456789012", "repositoryName": repository, "imageId": {"imageTag": tag},
            "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
            "imageScanFindings": {"findingSeverityCounts": {"CRITICAL": critical, "HIGH": 4}, "findings": []}})
    };
    emulator()
        .post_json(
            "/moto-api/static/ecr/scan-finding-results",
            &json!({"results": [scan("2026-11", 2)], "region": REGION}),
        )
        .unwrap();
    let uri = |tag: &str| format!("123456789012.dkr.ecr.{REGION}.amazonaws.com/{repository}:{tag}");
    let images = [
        uri("2026-11"),
        // Never scanned: nothing to judge (the repository's scan-on-push finding says why).
        uri("2026-12"),
        "public.ecr.aws/lambda/provided:al2023".to_owned(),
    ];
    let audit = audit::run(&sdk, chrono::Utc::now(), Duration::from_secs(60), &images).await;
    assert!(audit.unchecked.is_empty(), "{:?}", audit.unchecked);
    let scanned = format!("{repository_arn}:2026-11");
    let found: Vec<_> = audit
        .findings
        .iter()
        .filter(|f| f.resource.starts_with(&repository_arn))
        .map(|f| (f.resource.as_str(), f.check))
        .collect();
    assert_eq!(
        found,
        [
            (scanned.as_str(), Check::EcrImageCriticalVulnerabilities),
            (repository_arn.as_str(), Check::EcrScanOnPushOff),
            (repository_arn.as_str(), Check::EcrMutableTags),
        ]
    );
    let evidence = &audit
        .findings
        .iter()
        .find(|f| f.resource == scanned)
        .unwrap()
        .evidence;
    assert!(evidence.contains("2 critical and 4 high"), "{evidence}");

    // A registry rule that scans this repository on push: its own setting no longer matters.
    ecr.put_registry_scanning_configuration()
        .scan_type(ScanType::Basic)
        .rules(
            RegistryScanningRule::builder()
                .scan_frequency(ScanFrequency::ScanOnPush)
                .repository_filters(
                    ScanningRepositoryFilter::builder()
                        .filter(format!("{}*", &repository[..repository.len() - 2]))
                        .filter_type(ScanningRepositoryFilterType::Wildcard)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let audit = run().await;
    let checks = &on(&audit, &[&repository_arn])[&repository_arn];
    ecr.put_registry_scanning_configuration()
        .scan_type(ScanType::Basic)
        .set_rules(Some(Vec::new()))
        .send()
        .await
        .unwrap();
    assert_eq!(checks, &[Check::EcrMutableTags]);
}

/// A role or user made an administrator by an inline policy is found, by the audit and by the re-check of the
/// change. (The emulator does not load AWS managed policies, so an attached AdministratorAccess is the judge's unit
/// table.)
#[tokio::test]
async fn inline_policies_that_grant_everything_or_a_whole_service() {
    use posture_audit::change::Target;
    use posture_audit::recheck;
    let sdk = emulator().sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let role = unique_name("inline-admin");
    let role_arn = iam
        .create_role()
        .role_name(&role)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_owned();
    let user = unique_name("inline-s3");
    let user_arn = iam
        .create_user()
        .user_name(&user)
        .send()
        .await
        .unwrap()
        .user()
        .unwrap()
        .arn()
        .to_owned();
    let document = |action: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
            .to_string()
    };
    iam.put_user_policy()
        .user_name(&user)
        .policy_name("storage")
        .policy_document(document("s3:*"))
        .send()
        .await
        .unwrap();
    let audit = run().await;
    let found = on(&audit, &[&role_arn, &user_arn]);
    assert_eq!(found[&role_arn], []);
    assert_eq!(found[&user_arn], [Check::IamWildcardActionPolicy]);

    // The role gets an admin inline policy: its re-check finds it; removed, its re-check finds nothing.
    iam.put_role_policy()
        .role_name(&role)
        .policy_name("ops")
        .policy_document(document("*"))
        .send()
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let target = Target::Role(role.clone());
    let again = recheck::run(&sdk, REGION, now, &target).await.unwrap();
    let checks: Vec<Check> = again.findings.iter().map(|f| f.check).collect();
    assert_eq!(checks, [Check::IamAdminPolicy]);
    assert!(
        again.findings[0]
            .evidence
            .starts_with("inline policy ops: ")
    );
    iam.delete_role_policy()
        .role_name(&role)
        .policy_name("ops")
        .send()
        .await
        .unwrap();
    let fixed = recheck::run(&sdk, REGION, now, &target).await.unwrap();
    assert!(fixed.findings.is_empty());
    assert!(fixed.scope.covers(Check::IamAdminPolicy, &role_arn));
}
