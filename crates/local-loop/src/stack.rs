//! Provisioning: the template's resources created on the emulator, and the wiring the dispatcher follows.
//!
//! One table, `RESOURCES`, says what becomes of each resource type: the step that creates it, the steps in the
//! order they run, each resolving its properties against the resources created before it; or, for a type the
//! local loop does not emulate, what the provisioning summary calls it. Roles, functions and log groups are only
//! named, never created. A property referring to a resource created later fails with an error naming it.
//!
//! Functions are not deployed: their handlers run in this process, configured from their resolved environment.
//! Each rule target that is a function or a topic is stood in for by a queue of the runner, since the emulator
//! delivers rule targets only to queues; a rule that targets a queue of the template delivers to it directly.

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use std::collections::BTreeMap;
use std::pin::Pin;

use aws_config::SdkConfig;
use aws_sdk_s3::types::{
    BucketVersioningStatus, Event as S3Event, NotificationConfiguration, QueueConfiguration,
    VersioningConfiguration,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value as Json, json};

use crate::template::{ACCOUNT_ID, Names, REGION, Resource, Template, TemplateError, text_of};
use Handling::{Emulated, NamedOnly, NotEmulated};
use guardrails_core::image::EcrImage;

/// Lambda's retries of a failed asynchronous invocation when the template does not say.
const DEFAULT_ASYNC_RETRIES: u32 = 2;

/// Longest time a message stays invisible after a failed delivery here: the template's timeouts are sized for
/// Lambda; locally a retry should show within the session.
const MAX_LOCAL_VISIBILITY_SECONDS: u64 = 5;

/// A failure to provision; the message names the resource.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The template could not be read or resolved.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// An emulator call failed.
    #[error("creating {resource} on the emulator failed: {reason}")]
    Emulator {
        /// The logical id (or the runner's own resource).
        resource: String,
        /// The SDK error.
        reason: String,
    },
    /// A resource is declared in a shape the local loop does not read.
    #[error("{resource}: {reason}")]
    Shape {
        /// The logical id.
        resource: String,
        /// What is missing or wrong.
        reason: String,
    },
}

fn emulator_error(resource: &str) -> impl FnOnce(String) -> ProvisionError + '_ {
    move |reason| ProvisionError::Emulator {
        resource: resource.to_owned(),
        reason,
    }
}

trait Context<T> {
    fn on(self, resource: &str) -> Result<T, ProvisionError>;
}

impl<T, E: std::error::Error> Context<T> for Result<T, E> {
    fn on(self, resource: &str) -> Result<T, ProvisionError> {
        // The whole context names the cause; the raw response it ends with is cut.
        self.map_err(|e| {
            let text = aws_sdk_s3::error::DisplayErrorContext(e).to_string();
            emulator_error(resource)(guardrails_core::notice::cut(&text, 400))
        })
    }
}

/// What a resource is called on the emulator.
#[derive(Debug, Clone, Default)]
struct Physical {
    reference: Json,
    attributes: BTreeMap<String, Json>,
}

/// One of the template's functions, to be run in-process.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// The binary its `CodeUri` points at (e.g. `validate-ingest`).
    pub binary: String,
    /// Its deployed name.
    pub name: String,
    /// Its environment: the globals, then its own variables, resolved.
    pub environment: Vec<(String, String)>,
    /// Retries of a failed asynchronous invocation (its `EventInvokeConfig`, else Lambda's 2).
    pub max_retry_attempts: u32,
    /// The queue a given-up asynchronous invocation goes to (its on-failure destination), if one.
    pub on_failure: Option<String>,
    /// Its role on the emulator, created from the template's policies, when the emulator enforces IAM.
    pub role_arn: Option<String>,
}

/// Where a polled queue's messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A rule's stand-in queue for a function target: one invocation per event, as EventBridge invokes it.
    RuleToFunction {
        /// The rule's logical id.
        rule: String,
        /// The function's logical id.
        function: String,
    },
    /// A queue of the template read by a function's SQS event source: batches, partial failures reported.
    QueueToFunction {
        /// The queue's logical id.
        queue: String,
        /// The rules that deliver into it.
        rules: Vec<String>,
        /// The function's logical id.
        function: String,
    },
    /// A rule's stand-in queue for a topic target: the (transformed) event is published to the topic.
    RuleToTopic {
        /// The rule's logical id.
        rule: String,
        /// The topic's ARN.
        topic_arn: String,
    },
    /// Lambda tasks of the state machines, sent here with a task token; the answer goes back to the execution.
    Task {
        /// The function's logical id.
        function: String,
    },
    /// S3 notifications of a bucket with EventBridge enabled, turned into "Object Created" on the default bus.
    ObjectCreated {
        /// The bucket's logical id.
        bucket: String,
    },
    /// A topic's subscription by a function: one asynchronous invocation per message, with the SNS event Lambda
    /// receives.
    TopicToFunction {
        /// The subscription's logical id.
        subscription: String,
        /// The function's logical id.
        function: String,
    },
    /// What a topic sends (read by the runner to tell the story).
    Notices {
        /// The topic's logical id.
        topic: String,
    },
    /// The project's events on a bus (read by the runner to tell the story).
    BusEvents {
        /// The bus's logical id.
        bus: String,
    },
}

/// A queue the dispatcher polls.
#[derive(Debug, Clone)]
pub struct Polled {
    /// The queue URL.
    pub queue_url: String,
    /// Where its messages go.
    pub route: Route,
}

/// One target of a scheduled rule: the emulator never fires schedules, so the runner delivers the event on
/// command.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The rule's logical id.
    pub rule: String,
    /// The rule's name.
    pub name: String,
    /// Its ARN (the scheduled event's `resources`).
    pub arn: String,
    /// Its expression, e.g. `cron(0 6 * * ? *)`.
    pub expression: String,
    /// The target's logical id (a function, a topic or a queue).
    pub target: String,
    /// The queue the event goes to: the target's stand-in, or the target itself when it is a queue.
    pub queue_url: String,
}

/// The template on the emulator.
#[derive(Debug, Default)]
pub struct Stack {
    physical: BTreeMap<String, Physical>,
    /// Functions by logical id.
    pub functions: BTreeMap<String, FunctionSpec>,
    /// Queues the dispatcher polls.
    pub polled: Vec<Polled>,
    /// Scheduled rules.
    pub schedules: Vec<Schedule>,
    /// Rule logical id → (name, bus name).
    pub rules: BTreeMap<String, (String, String)>,
    /// Bucket logical id → name.
    pub buckets: BTreeMap<String, String>,
    /// Buckets that send their events to EventBridge (where datasets are uploaded), in template order.
    pub upload_buckets: Vec<String>,
    /// State machine logical id → ARN.
    pub state_machines: BTreeMap<String, String>,
    /// Topic logical id → ARN.
    pub topics: BTreeMap<String, String>,
    /// Bus logical id → name.
    pub buses: BTreeMap<String, String>,
    /// Queue logical id → URL.
    pub queues: BTreeMap<String, String>,
    /// SSM parameter logical id → name.
    pub parameters: BTreeMap<String, String>,
    /// Resource types the local loop does not create, with how many of each.
    pub not_emulated: BTreeMap<String, usize>,
    /// Logical id → the placeholder id of a resource that is only named ([`Handling::NamedOnly`]).
    placeholders: BTreeMap<String, String>,
    /// The template's alarms, judged by the runtime on the handlers' metrics.
    pub alarms: usize,
}

impl Names for Stack {
    fn reference(&self, logical_id: &str) -> Option<Json> {
        self.physical
            .get(logical_id)
            .map(|p| p.reference.clone())
            .or_else(|| self.placeholders.get(logical_id).map(|p| p.as_str().into()))
    }
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<Json> {
        self.physical
            .get(logical_id)
            .and_then(|p| p.attributes.get(attribute).cloned())
            .or_else(|| self.placeholders.get(logical_id).map(|p| p.as_str().into()))
    }
}

impl Stack {
    /// The resource with this ARN (or `Ref` value), if the stack has one.
    pub fn logical_id_of(&self, value: &str) -> Option<&str> {
        self.physical.iter().find_map(|(id, p)| {
            let matches = p.reference.as_str() == Some(value)
                || p.attributes.values().any(|v| v.as_str() == Some(value));
            matches.then_some(id.as_str())
        })
    }

    /// The bucket datasets are uploaded to: the first that sends its events to EventBridge.
    pub fn upload_bucket(&self) -> Option<&str> {
        self.upload_buckets.first().map(String::as_str)
    }

    /// The schedules whose target is `function` (a logical id).
    pub fn schedules_of(&self, function: &str) -> Vec<&Schedule> {
        self.schedules
            .iter()
            .filter(|s| s.target == function)
            .collect()
    }

    /// What was not emulated, in words: the names the table of resource types gives the types it leaves out, in
    /// its order, then any other type (or event of a function) the template has.
    pub fn not_emulated_names(&self) -> Vec<String> {
        let named = RESOURCES
            .iter()
            .filter(|(kind, _)| self.not_emulated.contains_key(*kind))
            .filter_map(|(_, handling)| match handling {
                NotEmulated(name) | NamedOnly(name, _) => Some((*name).to_owned()),
                Emulated(_) => None,
            });
        let others = self
            .not_emulated
            .keys()
            .filter(|kind| not_emulated_name(kind).is_none())
            .cloned();
        let mut names: Vec<String> = Vec::new();
        for name in named.chain(others) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// A resource that is not created, named `<prefix>-local<n>` (EC2's id shapes), every attribute the same id.
    fn name_placeholder(&mut self, id: &str, prefix: &str) {
        let placeholder = format!("{prefix}-local{:09}", self.placeholders.len());
        self.placeholders.insert(id.to_owned(), placeholder);
    }

    fn set(&mut self, id: &str, reference: impl Into<Json>, attributes: &[(&str, Json)]) {
        self.physical.insert(
            id.to_owned(),
            Physical {
                reference: reference.into(),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            },
        );
    }
}

/// How the local loop treats one CloudFormation resource type.
enum Handling {
    /// Created (or only named) on the emulator by this step.
    Emulated(Step),
    /// Not created; what the provisioning summary calls resources of this type.
    NotEmulated(&'static str),
    /// Not created either, but others refer to it (a function's subnets, its code signing configuration): named
    /// with a placeholder id of this prefix, which every attribute also gives.
    NamedOnly(&'static str, &'static str),
}

/// One provisioning step: every resource of one type, in template order.
type Step = for<'s> fn(&'s mut Provisioning<'_>, &'s [&'s Resource]) -> StepRun<'s>;

/// A running [`Step`].
type StepRun<'s> = Pin<Box<dyn Future<Output = Result<(), ProvisionError>> + 's>>;

/// The [`Step`] that is the [`Provisioning`] method of this name.
macro_rules! step {
    ($method:ident) => {
        Emulated(|p, rs| Box::pin(p.$method(rs)))
    };
}

/// Every resource type the local loop knows, its steps in the order they run: each step resolves its properties
/// against what the steps before it created. Functions have two steps: named first, so anything may refer to
/// them, then configured once what their environment refers to exists. A type not here is not emulated either.
const RESOURCES: &[(&str, Handling)] = &[
    ("AWS::IAM::Role", step!(name_roles)),
    ("AWS::Logs::LogGroup", step!(name_log_groups)),
    ("AWS::Serverless::Function", step!(name_functions)),
    ("AWS::KMS::Key", step!(create_keys)),
    ("AWS::S3::Bucket", step!(create_buckets)),
    ("AWS::SQS::Queue", step!(create_queues)),
    ("AWS::SNS::Topic", step!(create_topics)),
    ("AWS::Events::EventBus", step!(create_buses)),
    ("AWS::SSM::Parameter", step!(put_parameters)),
    ("AWS::SecretsManager::Secret", step!(create_secrets)),
    ("AWS::ECR::Repository", step!(create_repositories)),
    ("AWS::Serverless::StateMachine", step!(create_machines)),
    ("AWS::Serverless::Function", step!(configure_functions)),
    ("AWS::Lambda::EventInvokeConfig", step!(configure_async)),
    ("AWS::Events::Rule", step!(create_rules)),
    ("AWS::SNS::Subscription", step!(subscribe_functions)),
    ("AWS::CloudWatch::Alarm", step!(count_alarms)),
    ("AWS::CloudWatch::Dashboard", NotEmulated("dashboard")),
    ("AWS::CloudTrail::Trail", NotEmulated("trail")),
    ("AWS::IAM::ManagedPolicy", NotEmulated("policies")),
    ("AWS::S3::BucketPolicy", NotEmulated("policies")),
    ("AWS::SQS::QueuePolicy", NotEmulated("policies")),
    ("AWS::SNS::TopicPolicy", NotEmulated("policies")),
    ("AWS::Lambda::Permission", NotEmulated("invoke permissions")),
    ("AWS::KMS::Alias", NotEmulated("key alias")),
    // The functions run as local processes, not in a VPC; the SageMaker jobs' VpcConfig names the placeholders.
    ("AWS::EC2::VPC", NamedOnly("network", "vpc")),
    ("AWS::EC2::Subnet", NamedOnly("network", "subnet")),
    ("AWS::EC2::RouteTable", NamedOnly("network", "rtb")),
    (
        "AWS::EC2::SubnetRouteTableAssociation",
        NamedOnly("network", "rtbassoc"),
    ),
    ("AWS::EC2::NetworkAcl", NamedOnly("network", "acl")),
    (
        "AWS::EC2::NetworkAclEntry",
        NamedOnly("network", "aclentry"),
    ),
    (
        "AWS::EC2::SubnetNetworkAclAssociation",
        NamedOnly("network", "aclassoc"),
    ),
    ("AWS::EC2::SecurityGroup", NamedOnly("network", "sg")),
    ("AWS::EC2::VPCEndpoint", NamedOnly("network", "vpce")),
    ("AWS::EC2::FlowLog", NamedOnly("network", "fl")),
    (
        "AWS::Lambda::CodeSigningConfig",
        NamedOnly("code signing", "csc"),
    ),
];

/// Whether some step of [`RESOURCES`] creates or names resources of this type.
fn is_emulated(kind: &str) -> bool {
    RESOURCES
        .iter()
        .any(|(k, handling)| *k == kind && matches!(handling, Emulated(_)))
}

/// What [`RESOURCES`] calls a type it does not emulate, if it names it.
fn not_emulated_name(kind: &str) -> Option<&'static str> {
    RESOURCES.iter().find_map(|(k, handling)| match handling {
        NotEmulated(name) | NamedOnly(name, _) if *k == kind => Some(*name),
        _ => None,
    })
}

/// Creates the template's resources on the emulator behind `sdk`, with the runner's queues.
///
/// # Errors
/// A resource the template does not let us resolve, or an emulator call that fails.
pub async fn provision(
    template: &Template,
    sdk: &SdkConfig,
    enforce_iam: bool,
) -> Result<Stack, ProvisionError> {
    let resources = template.resources()?;
    let mut run = Provisioning::new(template, &resources, sdk, enforce_iam);
    for (kind, handling) in RESOURCES {
        if let NamedOnly(_, prefix) = handling {
            for r in resources.iter().filter(|r| r.kind == *kind) {
                run.stack.name_placeholder(&r.logical_id, prefix);
            }
        }
    }
    for (kind, handling) in RESOURCES {
        if let Emulated(step) = handling {
            let of_kind: Vec<&Resource> = resources.iter().filter(|r| r.kind == *kind).collect();
            step(&mut run, &of_kind).await?;
        }
    }
    for r in &resources {
        if !is_emulated(&r.kind) {
            *run.stack.not_emulated.entry(r.kind.clone()).or_default() += 1;
        }
    }
    Ok(run.stack)
}

/// The stack being provisioned, with what its steps share: the template and the emulator's clients.
struct Provisioning<'p> {
    template: &'p Template,
    resources: &'p [Resource],
    sdk: &'p SdkConfig,
    enforce_iam: bool,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    events: aws_sdk_eventbridge::Client,
    stack: Stack,
}

/// A rule as put on the emulator: what its targets need.
struct PutRule {
    logical_id: String,
    name: String,
    bus: String,
    arn: String,
    schedule: Option<String>,
}

impl<'p> Provisioning<'p> {
    /// A run on the emulator behind `sdk`, nothing created yet.
    fn new(
        template: &'p Template,
        resources: &'p [Resource],
        sdk: &'p SdkConfig,
        enforce_iam: bool,
    ) -> Self {
        Provisioning {
            template,
            resources,
            sdk,
            enforce_iam,
            s3: guardrails_core::aws::s3_client(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
            stack: Stack::default(),
        }
    }

    /// `r`'s properties resolved against what exists so far.
    fn properties(&self, r: &Resource) -> Result<Json, ProvisionError> {
        Ok(self.template.resolve(&r.properties, &self.stack)?)
    }

    /// The resource's name property, or `<ProjectName>-<logical id>` in lower case when it has none.
    fn name(&self, r: &Resource, property: &str) -> Result<String, ProvisionError> {
        match &r.properties[property] {
            yaml_serde::Value::Null => Ok(format!(
                "{}-{}",
                self.template
                    .parameter("ProjectName")
                    .unwrap_or_else(|| "local".into()),
                r.logical_id.to_ascii_lowercase()
            )),
            value => Ok(text_of(&self.template.resolve(value, &self.stack)?)),
        }
    }

    /// An ARN of this region and account.
    fn arn(service: &str, resource: &str) -> String {
        format!("arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}")
    }

    /// The template's resource with this logical id.
    fn resource(&self, logical_id: &str) -> Option<&'p Resource> {
        self.resources.iter().find(|r| r.logical_id == logical_id)
    }

    /// Roles are only named: referred to by ARN, created only on an emulator that enforces IAM.
    async fn name_roles(&mut self, roles: &[&Resource]) -> Result<(), ProvisionError> {
        for r in roles {
            let name = self.name(r, "RoleName")?;
            let role_arn = format!("arn:aws:iam::{ACCOUNT_ID}:role/{name}");
            self.stack
                .set(&r.logical_id, name, &[("Arn", role_arn.into())]);
        }
        Ok(())
    }

    /// Log groups are only named: the handlers log to the runner's output.
    async fn name_log_groups(&mut self, groups: &[&Resource]) -> Result<(), ProvisionError> {
        for r in groups {
            let name = self.name(r, "LogGroupName")?;
            let group_arn = Self::arn("logs", &format!("log-group:{name}:*"));
            self.stack
                .set(&r.logical_id, name, &[("Arn", group_arn.into())]);
        }
        Ok(())
    }

    /// Functions are named before anything refers to them; they are never deployed.
    async fn name_functions(&mut self, functions: &[&Resource]) -> Result<(), ProvisionError> {
        for r in functions {
            let name = self.name(r, "FunctionName")?;
            let function_arn = Self::arn("lambda", &format!("function:{name}"));
            self.stack
                .set(&r.logical_id, name, &[("Arn", function_arn.into())]);
        }
        Ok(())
    }

    /// KMS keys, created for real: the buckets encrypt with them.
    async fn create_keys(&mut self, keys: &[&Resource]) -> Result<(), ProvisionError> {
        let kms = aws_sdk_kms::Client::new(self.sdk);
        for r in keys {
            // As declared: a signing key (KeySpec, KeyUsage) signs on the emulator too.
            let spec = r.properties["KeySpec"].as_str().map(KeySpec::from);
            let usage = r.properties["KeyUsage"].as_str().map(KeyUsageType::from);
            let key = kms
                .create_key()
                .description(format!("{} (local loop)", r.logical_id))
                .set_key_spec(spec)
                .set_key_usage(usage)
                .send()
                .await
                .on(&r.logical_id)?;
            let meta = key.key_metadata();
            let id = meta.map(|m| m.key_id().to_owned()).unwrap_or_default();
            let key_arn = meta.and_then(|m| m.arn()).unwrap_or_default().to_owned();
            self.stack
                .set(&r.logical_id, id, &[("Arn", key_arn.into())]);
        }
        Ok(())
    }

    /// Buckets with their encryption and versioning; those that send events to EventBridge notify the runner.
    async fn create_buckets(&mut self, buckets: &[&Resource]) -> Result<(), ProvisionError> {
        for r in buckets {
            let name = self.name(r, "BucketName")?;
            let p = self.properties(r)?;
            self.s3
                .create_bucket()
                .bucket(&name)
                .send()
                .await
                .on(&r.logical_id)?;
            let default = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
            if let Some(key) = default["ServerSideEncryptionByDefault"]["KMSMasterKeyID"].as_str() {
                let bucket_key = default["BucketKeyEnabled"].as_bool().unwrap_or(false);
                testkit::encrypt_with_kms(&self.s3, &name, key, bucket_key)
                    .await
                    .map_err(emulator_error(&r.logical_id))?;
            }
            if p["VersioningConfiguration"]["Status"] == "Enabled" {
                self.enable_versioning(r, &name).await?;
            }
            let bucket_arn = format!("arn:aws:s3:::{name}");
            self.stack
                .set(&r.logical_id, name.clone(), &[("Arn", bucket_arn.into())]);
            if p["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"]
                == true
            {
                self.notify_object_created(r, &name).await?;
            }
            self.stack.buckets.insert(r.logical_id.clone(), name);
        }
        Ok(())
    }

    /// Turns on versioning of bucket `r`, named `name`.
    async fn enable_versioning(&self, r: &Resource, name: &str) -> Result<(), ProvisionError> {
        self.s3
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .on(&r.logical_id)?;
        Ok(())
    }

    /// The emulator's own S3 → EventBridge events differ from AWS's (eTag, a numeric time), so the bucket
    /// notifies a queue of the runner, which sends the AWS-shaped event.
    async fn notify_object_created(
        &mut self,
        r: &Resource,
        name: &str,
    ) -> Result<(), ProvisionError> {
        let (queue_url, queue_arn) =
            runner_queue(&self.sqs, &format!("{name}-object-created")).await?;
        self.s3
            .put_bucket_notification_configuration()
            .bucket(name)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(
                        QueueConfiguration::builder()
                            .queue_arn(queue_arn)
                            .events(S3Event::S3ObjectCreated)
                            .build()
                            .on(&r.logical_id)?,
                    )
                    .build(),
            )
            .send()
            .await
            .on(&r.logical_id)?;
        self.stack.polled.push(Polled {
            queue_url,
            route: Route::ObjectCreated {
                bucket: r.logical_id.clone(),
            },
        });
        self.stack.upload_buckets.push(name.to_owned());
        Ok(())
    }

    /// Image repositories; then the template's images (`TrainingImage`, `InferenceImage`) of this account's
    /// registry pushed as placeholders and scanned, as an ML engineer would push them before the first run: the
    /// image-scan gate reads their scans.
    async fn create_repositories(
        &mut self,
        repositories: &[&Resource],
    ) -> Result<(), ProvisionError> {
        let ecr = aws_sdk_ecr::Client::new(self.sdk);
        let images: Vec<EcrImage> = ["TrainingImage", "InferenceImage"]
            .iter()
            .filter_map(|p| self.template.parameter(p))
            .filter_map(|uri| EcrImage::parse(&uri))
            .collect();
        for r in repositories {
            let p = self.properties(r)?;
            let name = self.name(r, "RepositoryName")?;
            ecr.create_repository()
                .repository_name(&name)
                .image_tag_mutability(p["ImageTagMutability"].as_str().unwrap_or("MUTABLE").into())
                .image_scanning_configuration(
                    aws_sdk_ecr::types::ImageScanningConfiguration::builder()
                        .scan_on_push(p["ImageScanningConfiguration"]["ScanOnPush"] == true)
                        .build(),
                )
                .send()
                .await
                .on(&r.logical_id)?;
            let uri = format!("{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{name}");
            self.stack.set(
                &r.logical_id,
                name.clone(),
                &[
                    (
                        "Arn",
                        Self::arn("ecr", &format!("repository/{name}")).into(),
                    ),
                    ("RepositoryUri", uri.into()),
                ],
            );
        }
        let mut pushed: Vec<&EcrImage> = Vec::new();
        for image in images
            .iter()
            .filter(|i| i.account == ACCOUNT_ID && i.region == REGION)
        {
            if !pushed.contains(&image) {
                pushed.push(image);
                push_placeholder(&ecr, image)
                    .await
                    .map_err(emulator_error(&image.resource()))?;
            }
        }
        Ok(())
    }

    /// Queues, created first; their redrive policies are set once every queue exists.
    async fn create_queues(&mut self, queues: &[&Resource]) -> Result<(), ProvisionError> {
        let mut redrives = Vec::new();
        for r in queues {
            let name = self.name(r, "QueueName")?;
            let p = self.properties(r)?;
            let visibility = p["VisibilityTimeout"]
                .as_u64()
                .unwrap_or(30)
                .min(MAX_LOCAL_VISIBILITY_SECONDS);
            let (url, queue) = testkit::queue_with_arn(&self.sqs, &name, Some(visibility))
                .await
                .map_err(emulator_error(&r.logical_id))?;
            self.stack.set(
                &r.logical_id,
                url.clone(),
                &[
                    ("Arn", queue.into()),
                    ("QueueName", name.into()),
                    ("QueueUrl", url.clone().into()),
                ],
            );
            if p["RedrivePolicy"].is_object() {
                redrives.push((
                    url.clone(),
                    p["RedrivePolicy"].to_string(),
                    r.logical_id.clone(),
                ));
            }
            self.stack.queues.insert(r.logical_id.clone(), url);
        }
        for (url, policy, id) in redrives {
            self.sqs
                .set_queue_attributes()
                .queue_url(url)
                .attributes(QueueAttributeName::RedrivePolicy, policy)
                .send()
                .await
                .on(&id)?;
        }
        Ok(())
    }

    /// Topics, each subscribed by a queue of the runner, which reads every notice to tell the story.
    /// Alarms are not created on the emulator (it never evaluates one): the runtime judges them itself.
    async fn count_alarms(&mut self, alarms: &[&Resource]) -> Result<(), ProvisionError> {
        self.stack.alarms = alarms.len();
        Ok(())
    }

    async fn create_topics(&mut self, topics: &[&Resource]) -> Result<(), ProvisionError> {
        let sns = aws_sdk_sns::Client::new(self.sdk);
        for r in topics {
            let name = self.name(r, "TopicName")?;
            let topic_arn = sns
                .create_topic()
                .name(&name)
                .send()
                .await
                .on(&r.logical_id)?
                .topic_arn()
                .unwrap_or_default()
                .to_owned();
            self.stack.set(
                &r.logical_id,
                topic_arn.clone(),
                &[
                    ("TopicName", name.clone().into()),
                    ("TopicArn", topic_arn.clone().into()),
                ],
            );
            let (queue_url, endpoint) =
                runner_queue(&self.sqs, &format!("{name}-read-by-runner")).await?;
            sns.subscribe()
                .topic_arn(&topic_arn)
                .protocol("sqs")
                .endpoint(endpoint)
                .attributes("RawMessageDelivery", "false")
                .send()
                .await
                .on(&r.logical_id)?;
            self.stack.polled.push(Polled {
                queue_url,
                route: Route::Notices {
                    topic: r.logical_id.clone(),
                },
            });
            self.stack.topics.insert(r.logical_id.clone(), topic_arn);
        }
        Ok(())
    }

    /// Event buses, each with the runner's own rule reading the project's events on it.
    async fn create_buses(&mut self, buses: &[&Resource]) -> Result<(), ProvisionError> {
        for r in buses {
            let name = self.name(r, "Name")?;
            let bus_arn = self
                .events
                .create_event_bus()
                .name(&name)
                .send()
                .await
                .on(&r.logical_id)?
                .event_bus_arn()
                .unwrap_or_default()
                .to_owned();
            self.stack.set(
                &r.logical_id,
                name.clone(),
                &[("Arn", bus_arn.into()), ("Name", name.clone().into())],
            );
            let queue_url = self.observe_bus(&name).await?;
            self.stack.polled.push(Polled {
                queue_url,
                route: Route::BusEvents {
                    bus: r.logical_id.clone(),
                },
            });
            self.stack.buses.insert(r.logical_id.clone(), name);
        }
        Ok(())
    }

    /// The runner's own rule (not the template's) sending every project event on bus `name` to a queue of the
    /// runner, to tell the story; the queue's URL.
    async fn observe_bus(&self, name: &str) -> Result<String, ProvisionError> {
        let (queue_url, target) =
            runner_queue(&self.sqs, &format!("{name}-read-by-runner")).await?;
        let observer = format!("{name}-read-by-runner");
        self.events
            .put_rule()
            .name(&observer)
            .event_bus_name(name)
            .event_pattern(json!({"source": [guardrails_core::domain::SOURCE]}).to_string())
            .send()
            .await
            .on(&observer)?;
        self.events
            .put_targets()
            .rule(&observer)
            .event_bus_name(name)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("runner")
                    .arn(target)
                    .build()
                    .on(&observer)?,
            )
            .send()
            .await
            .on(&observer)?;
        Ok(queue_url)
    }

    /// SSM parameters, put with their resolved values.
    async fn put_parameters(&mut self, parameters: &[&Resource]) -> Result<(), ProvisionError> {
        let ssm = aws_sdk_ssm::Client::new(self.sdk);
        for r in parameters {
            let p = self.properties(r)?;
            let name = p["Name"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| shape(r, "no Name"))?;
            ssm.put_parameter()
                .name(&name)
                .value(text_of(&p["Value"]))
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .overwrite(true)
                .send()
                .await
                .on(&r.logical_id)?;
            self.stack.set(
                &r.logical_id,
                name.clone(),
                &[("Value", p["Value"].clone())],
            );
            self.stack.parameters.insert(r.logical_id.clone(), name);
        }
        Ok(())
    }

    /// Secrets, created for real with the value the template gives them (`SecretString`, or
    /// `GenerateSecretString`'s template with a generated key), so that a function reads what it would after the
    /// first deploy.
    async fn create_secrets(&mut self, secrets: &[&Resource]) -> Result<(), ProvisionError> {
        let client = aws_sdk_secretsmanager::Client::new(self.sdk);
        for r in secrets {
            let p = self.properties(r)?;
            let name = self.name(r, "Name")?;
            let value = match (&p["SecretString"], &p["GenerateSecretString"]) {
                (Json::String(value), _) => value.clone(),
                (_, generate) if generate.is_object() => {
                    let mut value: Json = generate["SecretStringTemplate"]
                        .as_str()
                        .map_or(
                            Ok(Json::Object(serde_json::Map::new())),
                            serde_json::from_str,
                        )
                        .map_err(|e| shape(r, &format!("SecretStringTemplate: {e}")))?;
                    if let (Some(key), Some(object)) = (
                        generate["GenerateStringKey"].as_str(),
                        value.as_object_mut(),
                    ) {
                        object.insert(key.to_owned(), testkit::unique_name("local").into());
                    }
                    value.to_string()
                }
                _ => String::new(),
            };
            let secret_arn = client
                .create_secret()
                .name(&name)
                .secret_string(value)
                .send()
                .await
                .on(&r.logical_id)?
                .arn()
                .unwrap_or_default()
                .to_owned();
            self.stack.set(
                &r.logical_id,
                secret_arn.clone(),
                &[("Id", secret_arn.into())],
            );
        }
        Ok(())
    }

    /// A function's subscription to a topic: a runner queue subscribed in its place (with its filter policy),
    /// whose messages the runner hands to the function as SNS would. E-mail and SMS subscriptions reach people,
    /// not the emulator: they are counted as not emulated.
    async fn subscribe_functions(
        &mut self,
        subscriptions: &[&Resource],
    ) -> Result<(), ProvisionError> {
        let sns = aws_sdk_sns::Client::new(self.sdk);
        for r in subscriptions {
            let p = self.properties(r)?;
            let endpoint = text_of(&p["Endpoint"]);
            let function = match p["Protocol"].as_str() {
                Some("lambda") => self.stack.logical_id_of(&endpoint).map(str::to_owned),
                _ => None,
            };
            let Some(function) = function.filter(|f| self.stack.functions.contains_key(f)) else {
                *self
                    .stack
                    .not_emulated
                    .entry(format!("{} subscription", text_of(&p["Protocol"])))
                    .or_default() += 1;
                continue;
            };
            let topic_arn = text_of(&p["TopicArn"]);
            // Named for the project: each loop on a shared emulator polls its own.
            let project = self
                .template
                .parameter("ProjectName")
                .unwrap_or_else(|| "local".into());
            let queue = format!("{project}-{}", r.logical_id.to_ascii_lowercase());
            let (queue_url, queue_arn) = runner_queue(&self.sqs, &queue).await?;
            let mut subscribe = sns
                .subscribe()
                .topic_arn(&topic_arn)
                .protocol("sqs")
                .endpoint(queue_arn)
                .attributes("RawMessageDelivery", "false");
            if p["FilterPolicy"].is_object() {
                subscribe = subscribe.attributes("FilterPolicy", p["FilterPolicy"].to_string());
            }
            if let Some(scope) = p["FilterPolicyScope"].as_str() {
                subscribe = subscribe.attributes("FilterPolicyScope", scope);
            }
            let subscription_arn = subscribe
                .send()
                .await
                .on(&r.logical_id)?
                .subscription_arn()
                .unwrap_or_default()
                .to_owned();
            self.stack.set(&r.logical_id, subscription_arn, &[]);
            self.stack.polled.push(Polled {
                queue_url,
                route: Route::TopicToFunction {
                    subscription: r.logical_id.clone(),
                    function,
                },
            });
        }
        Ok(())
    }

    /// State machines from their definition files, substituted, their Lambda tasks sent to the runner.
    async fn create_machines(&mut self, machines: &[&Resource]) -> Result<(), ProvisionError> {
        let sfn = aws_sdk_sfn::Client::new(self.sdk);
        for r in machines {
            let p = self.properties(r)?;
            let mut definition = self.definition(r, &p)?;
            let name = p["Name"]
                .as_str()
                .map_or_else(|| r.logical_id.clone(), str::to_owned);
            self.tasks_to_runner(&mut definition).await?;
            let role = p["Role"].as_str().map_or_else(
                || format!("arn:aws:iam::{ACCOUNT_ID}:role/local"),
                str::to_owned,
            );
            let machine = sfn
                .create_state_machine()
                .name(&name)
                .definition(definition.to_string())
                .role_arn(&role)
                .send()
                .await
                .on(&r.logical_id)?
                .state_machine_arn()
                .to_owned();
            self.stack.set(
                &r.logical_id,
                machine.clone(),
                &[("Name", name.into()), ("Arn", machine.clone().into())],
            );
            self.stack
                .state_machines
                .insert(r.logical_id.clone(), machine);
        }
        Ok(())
    }

    /// State machine `r`'s definition (properties `p`): its file, with its substitutions, as the emulator runs it.
    fn definition(&self, r: &Resource, p: &Json) -> Result<Json, ProvisionError> {
        let uri = p["DefinitionUri"]
            .as_str()
            .ok_or_else(|| shape(r, "no DefinitionUri"))?;
        let path = self.template.dir().join(uri);
        let asl = std::fs::read_to_string(&path)
            .map_err(|e| shape(r, &format!("cannot read {}: {e}", path.display())))?;
        let substitutions: Vec<(String, String)> = p["DefinitionSubstitutions"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), text_of(v)))
            .collect();
        let pairs: Vec<(&str, &str)> = substitutions
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        testkit::try_emulator_definition(&asl, &pairs).map_err(|e| shape(r, &e))
    }

    /// Lambda tasks of `definition` wait for the runner, which invokes the function's handler with the same
    /// payload: one queue of the runner per function the definition mentions.
    async fn tasks_to_runner(&mut self, definition: &mut Json) -> Result<(), ProvisionError> {
        let functions = self
            .resources
            .iter()
            .filter(|r| r.kind == "AWS::Serverless::Function");
        let mut tasks = Vec::new();
        for function in functions {
            let id = &function.logical_id;
            let function_arn = text_of(&self.stack.attribute(id, "Arn").unwrap_or_default());
            let function_name = text_of(&self.stack.reference(id).unwrap_or_default());
            if !mentions(definition, &function_arn) && !mentions(definition, &function_name) {
                continue;
            }
            let (queue_url, _) = runner_queue(&self.sqs, &format!("{function_name}-tasks")).await?;
            testkit::asl::lambda_tasks_to_callbacks(
                definition,
                &[&function_arn, &function_name],
                &queue_url,
            );
            tasks.push(Polled {
                queue_url,
                route: Route::Task {
                    function: id.clone(),
                },
            });
        }
        self.stack.polled.extend(tasks);
        Ok(())
    }

    /// Functions: their environment, and the queues their SQS event sources read; with IAM enforced, their roles.
    async fn configure_functions(&mut self, functions: &[&Resource]) -> Result<(), ProvisionError> {
        let globals = self.template.resolve(
            &self.template.function_globals()["Environment"]["Variables"],
            &self.stack,
        )?;
        for r in functions {
            let p = self.properties(r)?;
            let code = p["CodeUri"].as_str().unwrap_or_default();
            let binary = code
                .trim_end_matches("/bootstrap.zip")
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let mut environment: Vec<(String, String)> = Vec::new();
            for variables in [&globals, &p["Environment"]["Variables"]] {
                for (k, v) in variables.as_object().into_iter().flatten() {
                    environment.retain(|(name, _)| name != k);
                    environment.push((k.clone(), text_of(v)));
                }
            }
            // What Lambda's logging controls set from LoggingConfig, as Lambda sets them.
            for (variable, key) in [
                ("AWS_LAMBDA_LOG_FORMAT", "LogFormat"),
                ("AWS_LAMBDA_LOG_LEVEL", "ApplicationLogLevel"),
            ] {
                if let Some(value) = p["LoggingConfig"][key].as_str() {
                    environment.push((variable.to_owned(), value.to_owned()));
                }
            }
            self.event_sources(r, &p)?;
            let name = text_of(&self.stack.reference(&r.logical_id).unwrap_or_default());
            self.stack.functions.insert(
                r.logical_id.clone(),
                FunctionSpec {
                    logical_id: r.logical_id.clone(),
                    binary,
                    name,
                    environment,
                    max_retry_attempts: DEFAULT_ASYNC_RETRIES,
                    on_failure: None,
                    role_arn: None,
                },
            );
        }
        if self.enforce_iam {
            self.create_roles().await?;
        }
        Ok(())
    }

    /// Function `r`'s (properties `p`) SQS event sources, polled; its other events are counted as not emulated.
    fn event_sources(&mut self, r: &Resource, p: &Json) -> Result<(), ProvisionError> {
        for (_, event) in p["Events"].as_object().into_iter().flatten() {
            let kind = event["Type"].as_str().unwrap_or_default();
            if kind != "SQS" {
                *self
                    .stack
                    .not_emulated
                    .entry(format!("{kind} event of a function"))
                    .or_default() += 1;
                continue;
            }
            let queue = event["Properties"]["Queue"].as_str().unwrap_or_default();
            let stack = &self.stack;
            let (queue, queue_url) = stack
                .logical_id_of(queue)
                .and_then(|id| stack.queues.get(id).map(|url| (id.to_owned(), url.clone())))
                .ok_or_else(|| shape(r, "its SQS event source is not a queue of the template"))?;
            self.stack.polled.push(Polled {
                queue_url,
                route: Route::QueueToFunction {
                    queue,
                    rules: Vec::new(),
                    function: r.logical_id.clone(),
                },
            });
        }
        Ok(())
    }

    /// Each function's role, from the template's inline policies, on an emulator that enforces IAM (see
    /// [`crate::iam`]). The managed policies a role attaches (the VPC access policy) are not emulated.
    async fn create_roles(&mut self) -> Result<(), ProvisionError> {
        let functions: Vec<(String, String)> = self
            .resources
            .iter()
            .filter(|r| r.kind == "AWS::Serverless::Function")
            .map(|r| {
                let p = self.template.resolve(&r.properties["Role"], &self.stack)?;
                Ok((r.logical_id.clone(), text_of(&p)))
            })
            .collect::<Result<_, TemplateError>>()?;
        for (function, role_arn) in functions {
            // A function whose role is not one of the template's would run with the runner's powers: refuse.
            let r = self
                .stack
                .logical_id_of(&role_arn)
                .and_then(|role| self.resource(role))
                .ok_or_else(|| ProvisionError::Shape {
                    resource: function.clone(),
                    reason: format!("its Role {role_arn:?} is not a role of the template"),
                })?;
            let p = self.properties(r)?;
            let policies: Vec<(String, Json)> = p["Policies"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|policy| {
                    (
                        text_of(&policy["PolicyName"]),
                        policy["PolicyDocument"].clone(),
                    )
                })
                .collect();
            let name = text_of(&self.stack.reference(&r.logical_id).unwrap_or_default());
            let arn = crate::iam::create_role(self.sdk, &name, &policies).await?;
            if let Some(spec) = self.stack.functions.get_mut(&function) {
                spec.role_arn = Some(arn);
            }
        }
        Ok(())
    }

    /// Asynchronous invocations: retries and the on-failure destination, when it is a queue of the template.
    async fn configure_async(&mut self, configs: &[&Resource]) -> Result<(), ProvisionError> {
        for r in configs {
            let p = self.properties(r)?;
            let function = text_of(&p["FunctionName"]);
            let Some(id) = self.stack.logical_id_of(&function).map(str::to_owned) else {
                continue;
            };
            let destination = text_of(&p["DestinationConfig"]["OnFailure"]["Destination"]);
            let on_failure = self
                .stack
                .logical_id_of(&destination)
                .and_then(|queue| self.stack.queues.get(queue).cloned());
            if let Some(spec) = self.stack.functions.get_mut(&id) {
                if let Some(retries) = p["MaximumRetryAttempts"].as_u64() {
                    spec.max_retry_attempts =
                        u32::try_from(retries).unwrap_or(DEFAULT_ASYNC_RETRIES);
                }
                spec.on_failure = on_failure;
            }
        }
        Ok(())
    }

    /// EventBridge rules with their resolved patterns, and where each target's events go.
    async fn create_rules(&mut self, rules: &[&Resource]) -> Result<(), ProvisionError> {
        for r in rules {
            let p = self.properties(r)?;
            let rule = self.put_rule(r, &p).await?;
            for target in p["Targets"].as_array().into_iter().flatten() {
                self.rule_target(r, &rule, target).await?;
            }
        }
        Ok(())
    }

    /// Puts rule `r` (properties `p`) on the emulator, with its pattern or schedule.
    async fn put_rule(&mut self, r: &Resource, p: &Json) -> Result<PutRule, ProvisionError> {
        let name = p["Name"]
            .as_str()
            .map_or_else(|| r.logical_id.clone(), str::to_owned);
        let bus = p["EventBusName"].as_str().unwrap_or("default").to_owned();
        let schedule = p["ScheduleExpression"].as_str().map(str::to_owned);
        let mut rule = self
            .events
            .put_rule()
            .name(&name)
            .event_bus_name(&bus)
            .set_description(p["Description"].as_str().map(str::to_owned));
        if let Some(state) = p["State"].as_str() {
            rule = rule.state(state.into());
        }
        if p["EventPattern"].is_object() {
            rule = rule.event_pattern(p["EventPattern"].to_string());
        }
        if let Some(expression) = &schedule {
            rule = rule.schedule_expression(expression);
        }
        let arn = rule
            .send()
            .await
            .on(&r.logical_id)?
            .rule_arn()
            .unwrap_or_default()
            .to_owned();
        self.stack
            .set(&r.logical_id, name.clone(), &[("Arn", arn.clone().into())]);
        self.stack
            .rules
            .insert(r.logical_id.clone(), (name.clone(), bus.clone()));
        Ok(PutRule {
            logical_id: r.logical_id.clone(),
            name,
            bus,
            arn,
            schedule,
        })
    }

    /// One target of rule `r`: delivered through a queue, by the emulator or, for a schedule, by the runner.
    async fn rule_target(
        &mut self,
        r: &Resource,
        rule: &PutRule,
        target: &Json,
    ) -> Result<(), ProvisionError> {
        let arn = target["Arn"].as_str().unwrap_or_default();
        let id = target["Id"].as_str().unwrap_or("target");
        let Some(logical) = self.stack.logical_id_of(arn).map(str::to_owned) else {
            return Err(shape(
                r,
                &format!("target {id} ({arn}) is not a resource of the template"),
            ));
        };
        let (queue_url, queue_arn, route) = self.target_queue(r, rule, id, &logical, arn).await?;
        if let Some(expression) = &rule.schedule {
            // The emulator never fires a schedule, and a target on a rule without a pattern would receive every
            // event it routes: the runner delivers the schedule's event to the target itself.
            self.stack.schedules.push(Schedule {
                rule: rule.logical_id.clone(),
                name: rule.name.clone(),
                arn: rule.arn.clone(),
                expression: expression.clone(),
                target: logical,
                queue_url: queue_url.clone(),
            });
        } else {
            put_target(&self.events, &rule.name, &rule.bus, id, &queue_arn, target)
                .await
                .on(&r.logical_id)?;
        }
        if let Some(route) = route {
            self.stack.polled.push(Polled { queue_url, route });
        }
        Ok(())
    }

    /// The queue (URL, ARN) a target `logical` (ARN `arn`) of rule `r` is delivered through, and the route its
    /// messages take when it is a stand-in of the runner's.
    async fn target_queue(
        &mut self,
        r: &Resource,
        rule: &PutRule,
        id: &str,
        logical: &str,
        arn: &str,
    ) -> Result<(String, String, Option<Route>), ProvisionError> {
        let route = match self.resource(logical).map(|t| t.kind.as_str()) {
            Some("AWS::SQS::Queue") => {
                // Delivered to the template's own queue, whose consumer is already polled.
                for polled in &mut self.stack.polled {
                    if let Route::QueueToFunction { queue, rules, .. } = &mut polled.route
                        && *queue == logical
                    {
                        rules.push(r.logical_id.clone());
                    }
                }
                let url = self.stack.queues.get(logical).cloned().unwrap_or_default();
                return Ok((url, arn.to_owned(), None));
            }
            Some("AWS::Serverless::Function") => Route::RuleToFunction {
                rule: r.logical_id.clone(),
                function: logical.to_owned(),
            },
            Some("AWS::SNS::Topic") => Route::RuleToTopic {
                rule: r.logical_id.clone(),
                topic_arn: arn.to_owned(),
            },
            other => {
                return Err(shape(
                    r,
                    &format!(
                        "target {id} is a {}, which the local loop does not deliver to",
                        other.unwrap_or("resource it does not know")
                    ),
                ));
            }
        };
        let (url, queue_arn) = runner_queue(&self.sqs, &format!("{}-{id}", rule.name)).await?;
        Ok((url, queue_arn, Some(route)))
    }
}

async fn put_target(
    events: &aws_sdk_eventbridge::Client,
    rule: &str,
    bus: &str,
    id: &str,
    arn: &str,
    target: &Json,
) -> Result<
    (),
    aws_sdk_eventbridge::error::SdkError<
        aws_sdk_eventbridge::operation::put_targets::PutTargetsError,
    >,
> {
    let mut builder = aws_sdk_eventbridge::types::Target::builder()
        .id(id)
        .arn(arn);
    let transformer = &target["InputTransformer"];
    if transformer.is_object() {
        let mut t = aws_sdk_eventbridge::types::InputTransformer::builder()
            .input_template(transformer["InputTemplate"].as_str().unwrap_or_default());
        for (k, v) in transformer["InputPathsMap"]
            .as_object()
            .into_iter()
            .flatten()
        {
            t = t.input_paths_map(k, v.as_str().unwrap_or_default());
        }
        if let Ok(t) = t.build() {
            builder = builder.input_transformer(t);
        }
    }
    let Ok(target) = builder.build() else {
        return Ok(());
    };
    events
        .put_targets()
        .rule(rule)
        .event_bus_name(bus)
        .targets(target)
        .send()
        .await
        .map(|_| ())
}

fn shape(r: &Resource, reason: &str) -> ProvisionError {
    ProvisionError::Shape {
        resource: r.logical_id.clone(),
        reason: reason.to_owned(),
    }
}

fn mentions(definition: &Json, text: &str) -> bool {
    !text.is_empty() && definition.to_string().contains(text)
}

/// A queue of the runner's own (a rule target's stand-in, a notice reader…).
async fn runner_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> Result<(String, String), ProvisionError> {
    // Queue names: 80 characters of letters, digits, '-' and '_'.
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    testkit::queue_with_arn(sqs, &name, Some(MAX_LOCAL_VISIBILITY_SECONDS))
        .await
        .map_err(emulator_error(&name))
}

/// Pushes an empty image as `image` names it and scans it, its repository made if missing
/// ([`testkit::push_image`]). A digest-pinned image cannot be pushed by name: it is left out.
pub(crate) async fn push_placeholder(
    ecr: &aws_sdk_ecr::Client,
    image: &EcrImage,
) -> Result<(), String> {
    match &image.tag {
        Some(tag) => testkit::push_image(ecr, &image.repository, tag).await,
        None => Ok(()),
    }
}
