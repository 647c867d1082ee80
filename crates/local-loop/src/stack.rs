//! Provisioning: the template's resources created on the emulator, and the wiring the dispatcher follows.
//!
//! Resources are created in this order, each resolved against those before it: KMS keys, buckets, queues,
//! topics, buses, SSM parameters, state machines, then the functions' environments and the rules (roles,
//! functions and log groups are named first, never created). A property referring to a resource created later
//! fails with an error naming it.
//!
//! Created for real: the KMS keys, buckets (encryption, versioning), queues (with their redrive policies), topics,
//! buses, SSM parameters, state machines and every EventBridge rule with its resolved pattern. Functions are not
//! deployed: their handlers run in this process, configured from their resolved environment. Each rule target
//! that is a function or a topic is stood in for by a queue of the runner, since the emulator delivers rule
//! targets only to queues; a rule that targets a queue of the template delivers to it directly.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_s3::types::{
    BucketVersioningStatus, Event as S3Event, NotificationConfiguration, QueueConfiguration,
    VersioningConfiguration,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value as Json, json};

use crate::template::{ACCOUNT_ID, Names, REGION, Template, TemplateError, text_of};

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
    /// Its logical id.
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
}

impl Names for Stack {
    fn reference(&self, logical_id: &str) -> Option<Json> {
        self.physical.get(logical_id).map(|p| p.reference.clone())
    }
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<Json> {
        self.physical
            .get(logical_id)
            .and_then(|p| p.attributes.get(attribute).cloned())
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

/// Creates the template's resources on the emulator behind `sdk`, with the runner's queues.
///
/// # Errors
/// A resource the template does not let us resolve, or an emulator call that fails.
pub async fn provision(
    template: &Template,
    sdk: &SdkConfig,
    enforce_iam: bool,
) -> Result<Stack, ProvisionError> {
    let mut stack = Stack::default();
    let resources = template.resources()?;
    let of_kind = |kind: &'static str| resources.iter().filter(move |r| r.kind == kind);
    let s3 = guardrails_core::aws::s3_client(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let arn = |service: &str, resource: &str| {
        format!("arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}")
    };

    // Named only: roles, functions and log groups are referenced, never called.
    for r in of_kind("AWS::IAM::Role") {
        let name = name_property(template, &stack, r, "RoleName")?;
        let role_arn = format!("arn:aws:iam::{ACCOUNT_ID}:role/{name}");
        stack.set(&r.logical_id, name, &[("Arn", role_arn.into())]);
    }
    for r in of_kind("AWS::Logs::LogGroup") {
        let name = name_property(template, &stack, r, "LogGroupName")?;
        let group_arn = arn("logs", &format!("log-group:{name}:*"));
        stack.set(&r.logical_id, name, &[("Arn", group_arn.into())]);
    }
    for r in of_kind("AWS::Serverless::Function") {
        let name = name_property(template, &stack, r, "FunctionName")?;
        let function_arn = arn("lambda", &format!("function:{name}"));
        stack.set(&r.logical_id, name, &[("Arn", function_arn.into())]);
    }

    let kms = aws_sdk_kms::Client::new(sdk);
    for r in of_kind("AWS::KMS::Key") {
        let key = kms
            .create_key()
            .description(format!("{} (local loop)", r.logical_id))
            .send()
            .await
            .on(&r.logical_id)?;
        let meta = key.key_metadata();
        let id = meta.map(|m| m.key_id().to_owned()).unwrap_or_default();
        let key_arn = meta.and_then(|m| m.arn()).unwrap_or_default().to_owned();
        stack.set(&r.logical_id, id, &[("Arn", key_arn.into())]);
    }

    for r in of_kind("AWS::S3::Bucket") {
        let name = name_property(template, &stack, r, "BucketName")?;
        let p = template.resolve(&r.properties, &stack)?;
        s3.create_bucket()
            .bucket(&name)
            .send()
            .await
            .on(&r.logical_id)?;
        let default = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
        if let Some(key) = default["ServerSideEncryptionByDefault"]["KMSMasterKeyID"].as_str() {
            let bucket_key = default["BucketKeyEnabled"].as_bool().unwrap_or(false);
            testkit::encrypt_with_kms(&s3, &name, key, bucket_key)
                .await
                .map_err(emulator_error(&r.logical_id))?;
        }
        if p["VersioningConfiguration"]["Status"] == "Enabled" {
            s3.put_bucket_versioning()
                .bucket(&name)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .on(&r.logical_id)?;
        }
        let bucket_arn = format!("arn:aws:s3:::{name}");
        stack.set(&r.logical_id, name.clone(), &[("Arn", bucket_arn.into())]);
        if p["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] == true
        {
            // The emulator's own S3 → EventBridge events differ from AWS's (eTag, a numeric time), so the
            // bucket notifies a queue of the runner, which sends the AWS-shaped event.
            let (queue_url, queue_arn) =
                runner_queue(&sqs, &format!("{name}-object-created")).await?;
            s3.put_bucket_notification_configuration()
                .bucket(&name)
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
            stack.polled.push(Polled {
                queue_url,
                route: Route::ObjectCreated {
                    bucket: r.logical_id.clone(),
                },
            });
            stack.upload_buckets.push(name.clone());
        }
        stack.buckets.insert(r.logical_id.clone(), name);
    }

    // Queues: created first, redrive policies set once every queue exists.
    let mut redrives = Vec::new();
    for r in of_kind("AWS::SQS::Queue") {
        let name = name_property(template, &stack, r, "QueueName")?;
        let p = template.resolve(&r.properties, &stack)?;
        let visibility = p["VisibilityTimeout"]
            .as_u64()
            .unwrap_or(30)
            .min(MAX_LOCAL_VISIBILITY_SECONDS);
        let (url, queue) = testkit::queue_with_arn(&sqs, &name, Some(visibility))
            .await
            .map_err(emulator_error(&r.logical_id))?;
        stack.set(
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
        stack.queues.insert(r.logical_id.clone(), url);
    }
    for (url, policy, id) in redrives {
        sqs.set_queue_attributes()
            .queue_url(url)
            .attributes(QueueAttributeName::RedrivePolicy, policy)
            .send()
            .await
            .on(&id)?;
    }

    let sns = aws_sdk_sns::Client::new(sdk);
    for r in of_kind("AWS::SNS::Topic") {
        let name = name_property(template, &stack, r, "TopicName")?;
        let topic_arn = sns
            .create_topic()
            .name(&name)
            .send()
            .await
            .on(&r.logical_id)?
            .topic_arn()
            .unwrap_or_default()
            .to_owned();
        stack.set(
            &r.logical_id,
            topic_arn.clone(),
            &[
                ("TopicName", name.clone().into()),
                ("TopicArn", topic_arn.clone().into()),
            ],
        );
        // The runner reads every notice to tell the story.
        let (queue_url, endpoint) = runner_queue(&sqs, &format!("{name}-read-by-runner")).await?;
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(endpoint)
            .attributes("RawMessageDelivery", "false")
            .send()
            .await
            .on(&r.logical_id)?;
        stack.polled.push(Polled {
            queue_url,
            route: Route::Notices {
                topic: r.logical_id.clone(),
            },
        });
        stack.topics.insert(r.logical_id.clone(), topic_arn);
    }

    for r in of_kind("AWS::Events::EventBus") {
        let name = name_property(template, &stack, r, "Name")?;
        let bus_arn = events
            .create_event_bus()
            .name(&name)
            .send()
            .await
            .on(&r.logical_id)?
            .event_bus_arn()
            .unwrap_or_default()
            .to_owned();
        stack.set(
            &r.logical_id,
            name.clone(),
            &[("Arn", bus_arn.into()), ("Name", name.clone().into())],
        );
        // The runner's own rule (not the template's): every project event on the bus, to tell the story.
        let (queue_url, target) = runner_queue(&sqs, &format!("{name}-read-by-runner")).await?;
        let observer = format!("{name}-read-by-runner");
        events
            .put_rule()
            .name(&observer)
            .event_bus_name(&name)
            .event_pattern(json!({"source": [guardrails_core::domain::SOURCE]}).to_string())
            .send()
            .await
            .on(&observer)?;
        events
            .put_targets()
            .rule(&observer)
            .event_bus_name(&name)
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
        stack.polled.push(Polled {
            queue_url,
            route: Route::BusEvents {
                bus: r.logical_id.clone(),
            },
        });
        stack.buses.insert(r.logical_id.clone(), name);
    }

    let ssm = aws_sdk_ssm::Client::new(sdk);
    for r in of_kind("AWS::SSM::Parameter") {
        let p = template.resolve(&r.properties, &stack)?;
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
        stack.set(
            &r.logical_id,
            name.clone(),
            &[("Value", p["Value"].clone())],
        );
        stack.parameters.insert(r.logical_id.clone(), name);
    }

    let sfn = aws_sdk_sfn::Client::new(sdk);
    for r in of_kind("AWS::Serverless::StateMachine") {
        let p = template.resolve(&r.properties, &stack)?;
        let uri = p["DefinitionUri"]
            .as_str()
            .ok_or_else(|| shape(r, "no DefinitionUri"))?;
        let path = template.dir().join(uri);
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
        let mut definition =
            testkit::try_emulator_definition(&asl, &pairs).map_err(|e| shape(r, &e))?;
        let name = p["Name"]
            .as_str()
            .map_or_else(|| r.logical_id.clone(), str::to_owned);
        // Lambda tasks wait for the runner, which invokes the function's handler with the same payload.
        let mut tasks = Vec::new();
        for function in of_kind("AWS::Serverless::Function") {
            let id = &function.logical_id;
            let function_arn = text_of(&stack.attribute(id, "Arn").unwrap_or_default());
            let function_name = text_of(&stack.reference(id).unwrap_or_default());
            if !mentions(&definition, &function_arn) && !mentions(&definition, &function_name) {
                continue;
            }
            let (queue_url, _) = runner_queue(&sqs, &format!("{function_name}-tasks")).await?;
            crate::asl::lambda_tasks_to_callbacks(
                &mut definition,
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
        stack.polled.extend(tasks);
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
        stack.set(
            &r.logical_id,
            machine.clone(),
            &[("Name", name.into()), ("Arn", machine.clone().into())],
        );
        stack.state_machines.insert(r.logical_id.clone(), machine);
    }

    // Functions: their environment, and the queues their SQS event sources read.
    let globals = template.resolve(
        &template.function_globals()["Environment"]["Variables"],
        &stack,
    )?;
    for r in of_kind("AWS::Serverless::Function") {
        let p = template.resolve(&r.properties, &stack)?;
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
        for (_, event) in p["Events"].as_object().into_iter().flatten() {
            let kind = event["Type"].as_str().unwrap_or_default();
            if kind != "SQS" {
                *stack
                    .not_emulated
                    .entry(format!("{kind} event of a function"))
                    .or_default() += 1;
                continue;
            }
            let queue = event["Properties"]["Queue"].as_str().unwrap_or_default();
            let (queue, queue_url) = stack
                .logical_id_of(queue)
                .and_then(|id| stack.queues.get(id).map(|url| (id.to_owned(), url.clone())))
                .ok_or_else(|| shape(r, "its SQS event source is not a queue of the template"))?;
            stack.polled.push(Polled {
                queue_url,
                route: Route::QueueToFunction {
                    queue,
                    rules: Vec::new(),
                    function: r.logical_id.clone(),
                },
            });
        }
        let name = text_of(&stack.reference(&r.logical_id).unwrap_or_default());
        stack.functions.insert(
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
    if enforce_iam {
        provision_roles(template, &mut stack, &resources, sdk).await?;
    }
    // Asynchronous invocations: retries and the on-failure destination, when it is a queue of the template.
    for r in of_kind("AWS::Lambda::EventInvokeConfig") {
        let p = template.resolve(&r.properties, &stack)?;
        let function = text_of(&p["FunctionName"]);
        let Some(id) = stack.logical_id_of(&function).map(str::to_owned) else {
            continue;
        };
        let destination = text_of(&p["DestinationConfig"]["OnFailure"]["Destination"]);
        let on_failure = stack
            .logical_id_of(&destination)
            .and_then(|queue| stack.queues.get(queue).cloned());
        if let Some(spec) = stack.functions.get_mut(&id) {
            if let Some(retries) = p["MaximumRetryAttempts"].as_u64() {
                spec.max_retry_attempts = u32::try_from(retries).unwrap_or(DEFAULT_ASYNC_RETRIES);
            }
            spec.on_failure = on_failure;
        }
    }

    let kinds: BTreeMap<String, String> = resources
        .iter()
        .map(|r| (r.logical_id.clone(), r.kind.clone()))
        .collect();
    for r in of_kind("AWS::Events::Rule") {
        provision_rule(template, &mut stack, r, &kinds, &events, &sqs).await?;
    }

    let emulated = [
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
        "AWS::Serverless::Function",
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::SNS::Topic",
        "AWS::Events::EventBus",
        "AWS::SSM::Parameter",
        "AWS::Serverless::StateMachine",
        "AWS::Events::Rule",
        "AWS::Lambda::EventInvokeConfig",
    ];
    for r in &resources {
        if !emulated.contains(&r.kind.as_str()) {
            *stack.not_emulated.entry(r.kind.clone()).or_default() += 1;
        }
    }
    Ok(stack)
}

/// Each function's role, from the template's inline policies, on an emulator that enforces IAM (see
/// [`crate::iam`]). The managed policies a role attaches (the VPC access policy) are not emulated.
async fn provision_roles(
    template: &Template,
    stack: &mut Stack,
    resources: &[crate::template::Resource],
    sdk: &SdkConfig,
) -> Result<(), ProvisionError> {
    let functions: Vec<(String, String)> = resources
        .iter()
        .filter(|r| r.kind == "AWS::Serverless::Function")
        .map(|r| {
            let p = template.resolve(&r.properties["Role"], stack)?;
            Ok((r.logical_id.clone(), text_of(&p)))
        })
        .collect::<Result<_, TemplateError>>()?;
    for (function, role_arn) in functions {
        // A function whose role is not one of the template's would run with the runner's powers: refuse.
        let r = stack
            .logical_id_of(&role_arn)
            .and_then(|role| resources.iter().find(|r| r.logical_id == role))
            .ok_or_else(|| ProvisionError::Shape {
                resource: function.clone(),
                reason: format!("its Role {role_arn:?} is not a role of the template"),
            })?;
        let role = r.logical_id.clone();
        let p = template.resolve(&r.properties, stack)?;
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
        let name = text_of(&stack.reference(&role).unwrap_or_default());
        let arn = crate::iam::create_role(sdk, &name, &policies).await?;
        if let Some(spec) = stack.functions.get_mut(&function) {
            spec.role_arn = Some(arn);
        }
    }
    Ok(())
}

async fn provision_rule(
    template: &Template,
    stack: &mut Stack,
    r: &crate::template::Resource,
    kinds: &BTreeMap<String, String>,
    events: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
) -> Result<(), ProvisionError> {
    let p = template.resolve(&r.properties, stack)?;
    let name = p["Name"]
        .as_str()
        .map_or_else(|| r.logical_id.clone(), str::to_owned);
    let bus = p["EventBusName"].as_str().unwrap_or("default").to_owned();
    let schedule = p["ScheduleExpression"].as_str().map(str::to_owned);
    let mut rule = events
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
    let rule_arn = rule
        .send()
        .await
        .on(&r.logical_id)?
        .rule_arn()
        .unwrap_or_default()
        .to_owned();
    stack.set(
        &r.logical_id,
        name.clone(),
        &[("Arn", rule_arn.clone().into())],
    );
    stack
        .rules
        .insert(r.logical_id.clone(), (name.clone(), bus.clone()));

    for target in p["Targets"].as_array().into_iter().flatten() {
        let arn = target["Arn"].as_str().unwrap_or_default();
        let id = target["Id"].as_str().unwrap_or("target");
        let Some(logical) = stack.logical_id_of(arn).map(str::to_owned) else {
            return Err(shape(
                r,
                &format!("target {id} ({arn}) is not a resource of the template"),
            ));
        };
        let (queue_url, queue_arn, route) = match kinds.get(&logical).map(String::as_str) {
            Some("AWS::SQS::Queue") => {
                // Delivered to the template's own queue, whose consumer is already polled.
                for polled in &mut stack.polled {
                    if let Route::QueueToFunction { queue, rules, .. } = &mut polled.route
                        && *queue == logical
                    {
                        rules.push(r.logical_id.clone());
                    }
                }
                let url = stack.queues.get(&logical).cloned().unwrap_or_default();
                (url, arn.to_owned(), None)
            }
            Some("AWS::Serverless::Function") => {
                let (url, queue_arn) = runner_queue(sqs, &format!("{name}-{id}")).await?;
                let route = Route::RuleToFunction {
                    rule: r.logical_id.clone(),
                    function: logical.clone(),
                };
                (url, queue_arn, Some(route))
            }
            Some("AWS::SNS::Topic") => {
                let (url, queue_arn) = runner_queue(sqs, &format!("{name}-{id}")).await?;
                let route = Route::RuleToTopic {
                    rule: r.logical_id.clone(),
                    topic_arn: arn.to_owned(),
                };
                (url, queue_arn, Some(route))
            }
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
        if let Some(expression) = &schedule {
            // The emulator never fires a schedule, and a target on a rule without a pattern would receive every
            // event it routes: the runner delivers the schedule's event to the target itself.
            stack.schedules.push(Schedule {
                rule: r.logical_id.clone(),
                name: name.clone(),
                arn: rule_arn.clone(),
                expression: expression.clone(),
                target: logical.clone(),
                queue_url: queue_url.clone(),
            });
        } else {
            put_target(events, &name, &bus, id, &queue_arn, target)
                .await
                .on(&r.logical_id)?;
        }
        if let Some(route) = route {
            stack.polled.push(Polled { queue_url, route });
        }
    }
    Ok(())
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

/// The resource's name property, or `<ProjectName>-<logical id>` in lower case when it has none.
fn name_property(
    template: &Template,
    stack: &Stack,
    r: &crate::template::Resource,
    property: &str,
) -> Result<String, ProvisionError> {
    match &r.properties[property] {
        yaml_serde::Value::Null => Ok(format!(
            "{}-{}",
            template
                .parameter("ProjectName")
                .unwrap_or_else(|| "local".into()),
            r.logical_id.to_ascii_lowercase()
        )),
        value => Ok(text_of(&template.resolve(value, stack)?)),
    }
}

fn shape(r: &crate::template::Resource, reason: &str) -> ProvisionError {
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
