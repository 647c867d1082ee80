//! The running loop: every polled queue delivered to where the template wires it, the state machines'
//! executions watched, and the events the emulator never emits sent on command.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::LoopError;
use crate::alarms::{AlarmSpec, Datapoint, Judged, MetricId, State, Transition};
use crate::describe::describe_published;
use crate::emitted::{Emitter, Sink, emitting};
use crate::functions::{BuildError, Handler};
use crate::stack::{Route, Stack};
use crate::template::{ACCOUNT_ID, Names, REGION, text_of};
use crate::timeline::{Fact, Timeline};
use guardrails_core::AwsError;
use guardrails_core::aws_events::{BucketDetail, ObjectCreatedDetail, ObjectDetail};
use guardrails_core::notice::cut;
use testkit::asl::DIRECT;

/// An event as an AWS service puts it on the default bus.
pub struct ServiceEvent {
    /// `aws.s3`, `aws.cloudwatch`…
    pub source: &'static str,
    /// The detail-type.
    pub detail_type: String,
    pub detail: Value,
    /// The resources it concerns.
    pub resources: Vec<String>,
    /// When it happened (now when unknown).
    pub time: Option<chrono::DateTime<Utc>>,
}

/// Attempts at what the runner itself delivers (a publish, an answer to an execution, an S3 notification)
/// before it gives the message up.
const ASYNC_ATTEMPTS: u32 = 3;
/// How often executions are listed.
const EXECUTION_POLL: Duration = Duration::from_millis(250);

/// One period of every alarm, locally: CloudWatch's hours and minutes compressed into ticks of this length.
pub const ALARM_TICK: Duration = Duration::from_secs(2);

/// Tells apart the loops of one process (their handlers' metrics share the process's recorder).
static LOOPS: AtomicU64 = AtomicU64::new(0);

/// The template's resources on the emulator, its functions in this process, and the facts they produce.
pub struct Runtime {
    /// What was provisioned.
    pub stack: Stack,
    /// The story so far.
    pub timeline: Arc<Timeline>,
    functions: BTreeMap<String, Handler>,
    sqs: aws_sdk_sqs::Client,
    sfn: aws_sdk_sfn::Client,
    sns: aws_sdk_sns::Client,
    events: aws_sdk_eventbridge::Client,
    sagemaker: aws_sdk_sagemaker::Client,
    s3: aws_sdk_s3::Client,
    /// This loop, among the process's.
    loop_id: u64,
    /// What the handlers emitted, not yet judged.
    sink: Arc<Sink>,
    /// The template's alarms, judged every [`ALARM_TICK`].
    alarms: Mutex<Vec<Judged>>,
}

impl Runtime {
    /// Builds every function of `stack` over clients from `sdk`, or from its own entry in `acting_as` (its
    /// role's credentials) when it has one.
    ///
    /// # Errors
    /// A function the template does not configure (the error names it and the variable).
    pub fn new(
        stack: Stack,
        sdk: &SdkConfig,
        acting_as: &BTreeMap<String, SdkConfig>,
        timeline: Arc<Timeline>,
        alarms: Vec<AlarmSpec>,
        sink: Arc<Sink>,
    ) -> Result<Self, BuildError> {
        let mut functions = BTreeMap::new();
        for (id, spec) in &stack.functions {
            let own = acting_as.get(id).unwrap_or(sdk);
            functions.insert(id.clone(), Handler::build(spec, own)?);
        }
        Ok(Runtime {
            stack,
            timeline,
            functions,
            sqs: aws_sdk_sqs::Client::new(sdk),
            sfn: aws_sdk_sfn::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
            sagemaker: aws_sdk_sagemaker::Client::new(sdk),
            s3: guardrails_core::aws::s3_client(sdk),
            loop_id: LOOPS.fetch_add(1, Ordering::Relaxed),
            sink,
            alarms: Mutex::new(alarms.into_iter().map(Judged::new).collect()),
        })
    }

    /// The registry client (see [`Runtime::watch_registry`]).
    pub(crate) fn sagemaker(&self) -> &aws_sdk_sagemaker::Client {
        &self.sagemaker
    }

    /// Starts polling every queue, watching every state machine and the model package `groups`; the tasks run
    /// until aborted.
    pub fn start(self: &Arc<Self>, groups: &[String]) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        for (index, _) in self.stack.polled.iter().enumerate() {
            let runtime = Arc::clone(self);
            tasks.push(tokio::spawn(async move { runtime.poll(index).await }));
        }
        for machine in self.stack.state_machines.values() {
            let runtime = Arc::clone(self);
            let machine = machine.clone();
            tasks.push(tokio::spawn(async move { runtime.watch(&machine).await }));
        }
        {
            let runtime = Arc::clone(self);
            tasks.push(tokio::spawn(async move { runtime.judge_alarms().await }));
        }
        {
            let runtime = Arc::clone(self);
            tasks.push(tokio::spawn(async move { runtime.play_transforms().await }));
        }
        for group in groups.iter().filter(|g| !g.is_empty()) {
            let runtime = Arc::clone(self);
            let group = group.clone();
            tasks.push(tokio::spawn(
                async move { runtime.watch_registry(group).await },
            ));
        }
        tasks
    }

    /// One invocation of `function` (its logical id) on `payload`, as `make invoke` runs it: its answer, and the
    /// datapoints CloudWatch would make of what it emitted (Lambda's own `Invocations` and `Errors` among them).
    pub async fn invoke_once(
        &self,
        function: &str,
        payload: Value,
    ) -> (Result<Value, guardrails_core::HandlerError>, Vec<Datapoint>) {
        let answer = self.invoke(function, payload, "local-invoke").await;
        (answer, self.sink.take(self.loop_id))
    }

    /// The deployed name of a function (its logical id when unknown), for the timeline.
    fn actor(&self, function: &str) -> String {
        self.stack
            .functions
            .get(function)
            .map_or_else(|| function.to_owned(), |f| f.binary.clone())
    }

    async fn poll(&self, index: usize) {
        let polled = &self.stack.polled[index];
        let mut troubled = false;
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&polled.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await;
            let messages = match received {
                Ok(out) => out.messages.unwrap_or_default(),
                Err(e) => {
                    if !troubled {
                        self.timeline.record(
                            "runner",
                            format!(
                                "cannot read {}: {}",
                                polled.queue_url,
                                aws_sdk_sqs::error::DisplayErrorContext(e)
                            ),
                            Fact::Trouble,
                        );
                        troubled = true;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            troubled = false;
            if messages.is_empty() {
                continue;
            }
            // What a route hands back is done with; the rest becomes visible again and is retried.
            let done = match &polled.route {
                Route::RuleToFunction { rule, function } => {
                    self.to_function(rule, function, &messages).await
                }
                Route::QueueToFunction {
                    queue,
                    rules,
                    function,
                } => {
                    self.batch_to_function(queue, rules, function, &messages)
                        .await
                }
                Route::TopicToFunction {
                    subscription,
                    function,
                } => self.to_subscriber(subscription, function, &messages).await,
                Route::RuleToTopic { rule, topic_arn } => {
                    self.to_topic(rule, topic_arn, &messages).await
                }
                Route::Task { function } => self.task(function, &messages).await,
                Route::ObjectCreated { bucket } => self.object_created(bucket, &messages).await,
                Route::Notices { .. } => self.notices(&messages),
                Route::BusEvents { .. } => self.bus_events(&messages),
            };
            for message in done {
                if let Some(handle) = message.receipt_handle() {
                    let _ = self
                        .sqs
                        .delete_message()
                        .queue_url(&polled.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await;
                }
            }
        }
    }

    /// Whether a message that failed this time is given up rather than retried, recording why.
    fn give_up(&self, actor: &str, message: &Message, attempts: u32, what: &str) -> bool {
        let attempt = receive_count(message);
        if attempt < attempts {
            return false;
        }
        self.timeline.record(
            actor,
            format!("{what}: gave up after {attempt} attempts"),
            Fact::Trouble,
        );
        true
    }

    /// EventBridge invoking a function target: one asynchronous invocation per event, retried as the
    /// function's `EventInvokeConfig` says, then sent to its on-failure destination.
    async fn to_function<'m>(
        &self,
        rule: &str,
        function: &str,
        messages: &'m [Message],
    ) -> Vec<&'m Message> {
        let mut done = Vec::new();
        for message in messages {
            let event: Value =
                serde_json::from_str(message.body().unwrap_or_default()).unwrap_or(Value::Null);
            let detail_type = event["detail-type"].as_str().unwrap_or("?").to_owned();
            self.timeline.record(
                rule,
                format!("matched {detail_type} → {}", self.actor(function)),
                Fact::Delivered {
                    rule: rule.to_owned(),
                    detail_type,
                },
            );
            if self.invoke_async(function, event, message).await {
                done.push(message);
            }
        }
        done
    }

    /// SNS invoking a subscribed function: one asynchronous invocation per message, with the event Lambda
    /// receives (the envelope the runner's queue got, as a record), retried and given up as
    /// [`Runtime::to_function`] does.
    async fn to_subscriber<'m>(
        &self,
        subscription: &str,
        function: &str,
        messages: &'m [Message],
    ) -> Vec<&'m Message> {
        let subscription_arn = self
            .stack
            .reference(subscription)
            .map(|r| text_of(&r))
            .unwrap_or_default();
        let mut done = Vec::new();
        for message in messages {
            let envelope: Value =
                serde_json::from_str(message.body().unwrap_or_default()).unwrap_or(Value::Null);
            let event = testkit::sns_event(&envelope, &subscription_arn);
            if self.invoke_async(function, event, message).await {
                done.push(message);
            }
        }
        done
    }

    /// One asynchronous invocation of `function` for `message`: whether the message is done with (handled, or
    /// given up after the function's retries and sent to its on-failure destination).
    async fn invoke_async(&self, function: &str, event: Value, message: &Message) -> bool {
        let retries = self
            .stack
            .functions
            .get(function)
            .map_or(0, |f| f.max_retry_attempts);
        // One request id for every attempt of an invocation, as Lambda keeps it across retries.
        let request_id = message.message_id().unwrap_or("local").to_owned();
        match self.invoke(function, event.clone(), &request_id).await {
            Ok(_) => true,
            Err(error) => {
                let given_up =
                    self.give_up(&self.actor(function), message, retries + 1, "invocation");
                if given_up {
                    self.on_failure(function, &event, &error, receive_count(message))
                        .await;
                }
                given_up
            }
        }
    }

    /// Sends a given-up asynchronous invocation to the function's on-failure destination, shaped as Lambda's
    /// destination record.
    async fn on_failure(
        &self,
        function: &str,
        event: &Value,
        error: &guardrails_core::HandlerError,
        attempts: u32,
    ) {
        let Some(spec) = self.stack.functions.get(function) else {
            return;
        };
        let Some(queue_url) = &spec.on_failure else {
            return;
        };
        let record = json!({
            "version": "1.0",
            "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "requestContext": {
                "requestId": testkit::unique_name("request"),
                "functionArn": format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{}:$LATEST", spec.name),
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": error.class.error_type(), "errorMessage": error.message},
        });
        let sent = self
            .sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(record.to_string())
            .send()
            .await;
        let text = match sent {
            Ok(_) => format!("the failed event went to its on-failure destination {queue_url}"),
            Err(e) => format!(
                "the on-failure destination refused the event: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            ),
        };
        self.timeline
            .record(&self.actor(function), text, Fact::Trouble);
    }

    /// Lambda's SQS event source: a batch; the messages not reported failed are deleted, and a response naming
    /// a message not in the batch fails the whole batch.
    async fn batch_to_function<'m>(
        &self,
        queue: &str,
        rules: &[String],
        function: &str,
        messages: &'m [Message],
    ) -> Vec<&'m Message> {
        let source_arn = self
            .stack
            .attribute(queue, "Arn")
            .map(|arn| text_of(&arn))
            .unwrap_or_default();
        // A queue no rule feeds (one a function schedules its own work on) is named by itself.
        let rule = if rules.is_empty() {
            queue.to_owned()
        } else {
            rules.join(", ")
        };
        let mut records = Vec::new();
        for message in messages {
            let body = message.body().unwrap_or_default();
            let detail_type = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|v| v["detail-type"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "a message".into());
            self.timeline.record(
                &rule,
                format!("matched {detail_type} → {queue} → {}", self.actor(function)),
                Fact::Delivered {
                    rule: rule.clone(),
                    detail_type,
                },
            );
            let attributes: BTreeMap<String, String> = message
                .attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect();
            records.push(json!({
                "messageId": message.message_id(),
                "receiptHandle": message.receipt_handle(),
                "body": body,
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": message.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": source_arn,
                "awsRegion": REGION,
            }));
        }
        let request_id = testkit::unique_name("batch");
        let Ok(response) = self
            .invoke(function, json!({ "Records": records }), &request_id)
            .await
        else {
            return Vec::new();
        };
        let mut failed = Vec::new();
        for failure in response["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let id = failure["itemIdentifier"].as_str().unwrap_or_default();
            if !messages.iter().any(|m| m.message_id() == Some(id)) {
                self.timeline.record(
                    &self.actor(function),
                    format!(
                        "reported a failure of {id:?}, not in the batch: the whole batch is retried"
                    ),
                    Fact::Trouble,
                );
                return Vec::new();
            }
            failed.push(id.to_owned());
        }
        messages
            .iter()
            .filter(|m| !failed.iter().any(|id| Some(id.as_str()) == m.message_id()))
            .collect()
    }

    /// A rule with a topic target: the event, transformed by the target's input transformer, published.
    async fn to_topic<'m>(
        &self,
        rule: &str,
        topic_arn: &str,
        messages: &'m [Message],
    ) -> Vec<&'m Message> {
        let mut done = Vec::new();
        for message in messages {
            let body = message.body().unwrap_or_default();
            // An input template of a quoted string arrives as a JSON string.
            let text = serde_json::from_str::<String>(body).unwrap_or_else(|_| body.to_owned());
            self.timeline.record(
                rule,
                format!("matched → topic: {}", cut(&text, 100)),
                Fact::Delivered {
                    rule: rule.to_owned(),
                    detail_type: String::new(),
                },
            );
            match self
                .sns
                .publish()
                .topic_arn(topic_arn)
                .message(text)
                .send()
                .await
            {
                Ok(_) => done.push(message),
                Err(e) => {
                    let what = format!(
                        "publishing for {rule} failed ({})",
                        aws_sdk_sns::error::DisplayErrorContext(e)
                    );
                    if self.give_up("runner", message, ASYNC_ATTEMPTS, &what) {
                        done.push(message);
                    }
                }
            }
        }
        done
    }

    /// A state machine's Lambda task: the handler's answer (or error) sent back with the task token.
    async fn task<'m>(&self, function: &str, messages: &'m [Message]) -> Vec<&'m Message> {
        let mut done = Vec::new();
        for message in messages {
            let body: Value =
                serde_json::from_str(message.body().unwrap_or_default()).unwrap_or(Value::Null);
            let token = body["TaskToken"].as_str().unwrap_or_default().to_owned();
            let request_id = message.message_id().unwrap_or("local").to_owned();
            let result = self
                .invoke(function, body["Payload"].clone(), &request_id)
                .await
                .map_err(|error| testkit::TaskError {
                    error_type: error.class.error_type().to_owned(),
                    message: error.message,
                });
            let direct = body["Integration"] == DIRECT;
            let answer = testkit::answer_task(&self.sfn, &token, direct, result).await;
            match answer {
                Ok(()) => done.push(message),
                Err(e) => {
                    let what = format!("answering the execution failed ({e})");
                    if self.give_up("runner", message, ASYNC_ATTEMPTS, &what) {
                        done.push(message);
                    }
                }
            }
        }
        done
    }

    /// S3's notification of a new object, sent on the default bus as S3 sends it to EventBridge.
    async fn object_created<'m>(&self, bucket: &str, messages: &'m [Message]) -> Vec<&'m Message> {
        let mut done = Vec::new();
        for message in messages {
            let body: Value =
                serde_json::from_str(message.body().unwrap_or_default()).unwrap_or(Value::Null);
            let mut sent = true;
            for record in body["Records"].as_array().into_iter().flatten() {
                if !record["eventName"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("ObjectCreated:")
                {
                    continue;
                }
                let name = record["s3"]["bucket"]["name"].as_str().unwrap_or(bucket);
                let object = &record["s3"]["object"];
                // The emulator escapes the key's `/` separators too; S3 leaves them, and rules match on it.
                let moto_key = object["key"].as_str().unwrap_or_default();
                let key = guardrails_core::s3::decode_notification_key(moto_key)
                    .unwrap_or_else(|_| moto_key.to_owned());
                let raw_key = &guardrails_core::s3::encode_notification_key(&key);
                let detail = ObjectCreatedDetail {
                    version: Some("0".into()),
                    bucket: BucketDetail { name: name.into() },
                    object: ObjectDetail {
                        key: raw_key.into(),
                        size: object["size"].as_u64(),
                        etag: object["eTag"]
                            .as_str()
                            .map(|e| e.trim_matches('"').to_owned()),
                        version_id: object["versionId"]
                            .as_str()
                            .filter(|v| !v.is_empty() && *v != "null")
                            .map(str::to_owned),
                        sequencer: object["sequencer"].as_str().map(str::to_owned),
                    },
                    request_id: record["responseElements"]["x-amz-request-id"]
                        .as_str()
                        .map(str::to_owned),
                    requester: Some(ACCOUNT_ID.into()),
                    reason: Some("PutObject".into()),
                };
                let mut detail = serde_json::to_value(detail).unwrap_or(Value::Null);
                detail["source-ip-address"] = json!("127.0.0.1");
                let time = record["eventTime"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                let what = format!(
                    "Object Created for s3://{name}/{key} ({} bytes), to the default bus",
                    object["size"]
                );
                let event = ServiceEvent {
                    source: "aws.s3",
                    detail_type: "Object Created".into(),
                    detail,
                    resources: vec![format!("arn:aws:s3:::{name}")],
                    time,
                };
                sent &= self.send("s3", &what, event).await;
            }
            if sent || self.give_up("runner", message, ASYNC_ATTEMPTS, "an S3 notification") {
                done.push(message);
            }
        }
        done
    }

    fn notices<'m>(&self, messages: &'m [Message]) -> Vec<&'m Message> {
        for message in messages {
            let body: Value =
                serde_json::from_str(message.body().unwrap_or_default()).unwrap_or(Value::Null);
            let attribute = |name: &str| {
                body["MessageAttributes"][name]["Value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            // A notice without a subject (a rule's transformed event) is known by its message.
            let subject = body["Subject"]
                .as_str()
                .or_else(|| body["Message"].as_str())
                .unwrap_or_default()
                .to_owned();
            let (severity, kind) = (attribute("severity"), attribute("kind"));
            let tags = if severity.is_empty() {
                String::new()
            } else {
                format!(" ({severity}, {kind})")
            };
            self.timeline.record(
                "sns",
                format!("notice {:?}{tags}", cut(&subject, 120)),
                Fact::Notice {
                    subject,
                    severity,
                    kind,
                },
            );
        }
        messages.iter().collect()
    }

    fn bus_events<'m>(&self, messages: &'m [Message]) -> Vec<&'m Message> {
        for message in messages {
            let event: Value =
                serde_json::from_str(message.body().unwrap_or_default()).unwrap_or(Value::Null);
            let detail_type = event["detail-type"].as_str().unwrap_or("?").to_owned();
            self.timeline.record(
                "bus",
                describe_published(&detail_type, &event["detail"]),
                Fact::Published {
                    detail_type,
                    detail: event["detail"].clone(),
                },
            );
        }
        messages.iter().collect()
    }

    /// Invokes a function's handler and records its answer.
    async fn invoke(
        &self,
        function: &str,
        payload: Value,
        request_id: &str,
    ) -> Result<Value, guardrails_core::HandlerError> {
        let Some(handler) = self.functions.get(function) else {
            return Err(guardrails_core::HandlerError {
                class: guardrails_core::ErrorClass::NonRetryable,
                message: format!("no function {function}"),
            });
        };
        let invocation = handler.invoke(payload, request_id);
        let answer = match self.emitter(function) {
            Some(emitter) => emitting(emitter, &self.sink, invocation).await,
            None => invocation.await,
        };
        self.lambda_metrics(function, answer.is_err());
        let line = match &answer {
            Ok((_, line)) => cut(line, 200),
            Err(error) => format!("failed: {}", cut(&error.to_string(), 160)),
        };
        let result = answer.map(|(response, _)| response);
        let binary = self.actor(function);
        self.timeline.record(
            &binary,
            line,
            Fact::Invoked {
                function: function.to_owned(),
                result: result.clone().map_err(|e| e.to_string()),
            },
        );
        result
    }

    /// Who emits a function's metrics: its stage and its namespace, as its own recorder would set them.
    fn emitter(&self, function: &str) -> Option<Emitter> {
        let spec = self.stack.functions.get(function)?;
        let stage = crate::functions::binaries().find(|b| *b == spec.binary)?;
        let namespace = spec
            .environment
            .iter()
            .find(|(name, _)| name == "METRICS_NAMESPACE")
            .map_or_else(
                || guardrails_core::config::DEFAULT_METRICS_NAMESPACE.to_owned(),
                |(_, v)| v.clone(),
            );
        Some(Emitter {
            loop_id: self.loop_id,
            namespace,
            stage,
        })
    }

    /// What Lambda itself reports of an invocation: `Invocations` and `Errors` by `FunctionName`.
    fn lambda_metrics(&self, function: &str, failed: bool) {
        let Some(spec) = self.stack.functions.get(function) else {
            return;
        };
        let points = [
            ("Invocations", 1.0),
            ("Errors", f64::from(u8::from(failed))),
        ]
        .into_iter()
        .map(|(name, value)| Datapoint {
            metric: MetricId {
                namespace: "AWS/Lambda".into(),
                name: name.into(),
                dimensions: [("FunctionName".to_owned(), spec.name.clone())].into(),
            },
            value,
        })
        .collect();
        self.sink.extend(self.loop_id, points);
    }

    /// Every [`ALARM_TICK`], closes one period of every alarm on what was emitted in it, and acts on each change
    /// of state as CloudWatch does.
    async fn judge_alarms(&self) {
        loop {
            tokio::time::sleep(ALARM_TICK).await;
            let points = self.sink.take(self.loop_id);
            let changed: Vec<(AlarmSpec, Transition)> = self
                .alarms
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter_mut()
                .filter_map(|alarm| {
                    alarm
                        .close_period(&points)
                        .map(|change| (alarm.spec.clone(), change))
                })
                .collect();
            for (spec, change) in changed {
                self.alarm_changed(&spec, &change).await;
            }
        }
    }

    /// A change of `spec`'s state: in the timeline; into or out of ALARM, also a "CloudWatch Alarm State Change"
    /// on the default bus and a message to the alarm's actions. (CloudWatch sends every change; locally the
    /// others, a new alarm's first INSUFFICIENT_DATA → OK among them, stay in the timeline, so thirty quiet alarms
    /// reach no rule and no topic.)
    async fn alarm_changed(&self, spec: &AlarmSpec, change: &Transition) {
        let (from, to) = (change.from.as_str(), change.to.as_str());
        self.timeline.record(
            "cloudwatch",
            format!("alarm {} {from} → {to}: {}", spec.name, change.reason),
            Fact::Alarm {
                name: spec.name.clone(),
                state: to.to_owned(),
            },
        );
        if change.from != State::Alarm && change.to != State::Alarm {
            return;
        }
        let timestamp = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
        // reasonData as CloudWatch writes it for a threshold alarm: the period's values and the threshold.
        let recent: Vec<f64> = change.window.iter().flatten().copied().collect();
        let reason_data = json!({"version": "1.0", "queryDate": timestamp, "period": spec.period_seconds,
            "recentDatapoints": recent, "threshold": spec.threshold});
        let detail = json!({
            "alarmName": spec.name,
            "configuration": {"metrics": spec.event_metrics()},
            "previousState": {"value": from, "reason": change.previous_reason, "timestamp": timestamp},
            "state": {"value": to, "reason": change.reason, "reasonData": reason_data.to_string(),
                "timestamp": timestamp},
        });
        let arn = format!(
            "arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{}",
            spec.name
        );
        let event = ServiceEvent {
            source: "aws.cloudwatch",
            detail_type: "CloudWatch Alarm State Change".into(),
            detail,
            resources: vec![arn],
            time: Some(Utc::now()),
        };
        self.send(
            "cloudwatch",
            &format!(
                "alarm {} → {to}: CloudWatch Alarm State Change to the default bus",
                spec.name
            ),
            event,
        )
        .await;
        let actions = match change.to {
            State::Alarm => &spec.alarm_actions,
            State::Ok => &spec.ok_actions,
            State::InsufficientData => &spec.insufficient_data_actions,
        };
        let message = json!({"AlarmName": spec.name, "NewStateValue": to, "OldStateValue": from,
            "NewStateReason": change.reason, "StateChangeTime": timestamp, "Region": REGION});
        for topic in actions.iter().filter(|a| a.starts_with("arn:aws:sns:")) {
            let published = self
                .sns
                .publish()
                .topic_arn(topic)
                .subject(cut(&format!("{to}: \"{}\" in {REGION}", spec.name), 100))
                .message(message.to_string())
                .send()
                .await;
            if let Err(e) = published {
                let e = AwsError::from_sdk("Publish", topic, e);
                self.timeline.record("runner", e.to_string(), Fact::Trouble);
            }
        }
    }

    /// Watches a state machine's executions and records each change of status.
    async fn watch(&self, machine: &str) {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        loop {
            tokio::time::sleep(EXECUTION_POLL).await;
            let Ok(listed) = self
                .sfn
                .list_executions()
                .state_machine_arn(machine)
                .send()
                .await
            else {
                continue;
            };
            let mut executions = listed.executions().to_vec();
            executions.reverse(); // oldest first
            for execution in executions {
                let status = execution.status().as_str().to_owned();
                let name = execution.name().to_owned();
                if seen.get(&name) == Some(&status) {
                    continue;
                }
                let described = self
                    .sfn
                    .describe_execution()
                    .execution_arn(execution.execution_arn())
                    .send()
                    .await
                    .ok();
                let mut text = format!("execution {name} {status}");
                if let Some(d) = described.as_ref().filter(|_| status == "FAILED") {
                    text.push_str(&format!(
                        ": {} {}",
                        d.error().unwrap_or_default(),
                        d.cause().unwrap_or_default()
                    ));
                }
                // Step Functions announces every status change on the default bus; the emulator does not.
                let millis = |t: Option<&aws_sdk_sfn::primitives::DateTime>| {
                    t.and_then(|t| t.to_millis().ok())
                        .map_or(Value::Null, |m| json!(m))
                };
                let detail = json!({
                    "executionArn": execution.execution_arn(),
                    "stateMachineArn": machine,
                    "name": name,
                    "status": status,
                    "startDate": millis(Some(execution.start_date())),
                    "stopDate": millis(execution.stop_date()),
                    "input": described.as_ref().and_then(|d| d.input()),
                    "output": described.as_ref().and_then(|d| d.output()),
                    "error": described.as_ref().and_then(|d| d.error()),
                    "cause": described.as_ref().and_then(|d| d.cause()),
                });
                let event = ServiceEvent {
                    source: "aws.states",
                    detail_type: "Step Functions Execution Status Change".into(),
                    detail,
                    resources: vec![execution.execution_arn().to_owned()],
                    time: None,
                };
                if let Err(e) = self.put(event).await {
                    // Not marked seen: the next listing tries again.
                    self.timeline.record("runner", e.to_string(), Fact::Trouble);
                    continue;
                }
                seen.insert(name.clone(), status.clone());
                self.timeline
                    .record("step functions", text, Fact::Execution { name, status });
            }
        }
    }

    /// Plays Batch Transform for the transform jobs whose output goes to one of the loop's buckets (see
    /// [`crate::transform`]); a job that cannot be played is tried at the next listings, then given up.
    async fn play_transforms(&self) {
        let mut played: BTreeMap<String, u32> = BTreeMap::new();
        loop {
            tokio::time::sleep(EXECUTION_POLL).await;
            let Ok(listed) = self.sagemaker.list_transform_jobs().send().await else {
                continue;
            };
            for summary in listed.transform_job_summaries() {
                let name = summary.transform_job_name().unwrap_or_default();
                let attempts = played.entry(name.to_owned()).or_default();
                if *attempts >= ASYNC_ATTEMPTS {
                    continue;
                }
                *attempts += 1;
                match self.play_transform(name).await {
                    Ok(()) => *attempts = ASYNC_ATTEMPTS,
                    Err(e) if *attempts >= ASYNC_ATTEMPTS => self.timeline.record(
                        "sagemaker",
                        format!("transform job {name}: gave up after {attempts} attempts: {e}"),
                        Fact::Trouble,
                    ),
                    Err(_) => {}
                }
            }
        }
    }

    /// Writes a transform job's output and sends its state change; nothing for another loop's job.
    async fn play_transform(&self, name: &str) -> Result<(), LoopError> {
        let job = self
            .sagemaker
            .describe_transform_job()
            .transform_job_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeTransformJob", name, e))?;
        let uri = |u: Option<&str>| guardrails_core::ObjectRef::parse_uri(u?);
        let output_config = job.transform_output();
        let (Some(input), Some(output)) = (
            uri(job
                .transform_input()
                .and_then(|i| i.data_source())
                .and_then(|d| d.s3_data_source())
                .and_then(|s| s.s3_uri())),
            uri(output_config.and_then(|o| o.s3_output_path())),
        ) else {
            return Ok(());
        };
        if !self.stack.buckets.values().any(|b| *b == output.bucket) {
            return Ok(());
        }
        let kms_key_id = output_config
            .and_then(|o| o.kms_key_id())
            .filter(|k| !k.is_empty())
            .map(str::to_owned);
        let mut lines = 0;
        let text_field = self.text_field();
        for (object, _) in guardrails_core::s3::list(&self.s3, &input).await? {
            let body = read_text(&self.s3, &object).await?;
            let out: Vec<String> = body
                .lines()
                .map(|line| crate::transform::joined(line, &text_field))
                .collect();
            lines += out.len();
            let key = crate::transform::output_key(&input.key, &object.key, &output.key);
            let mut put = self
                .s3
                .put_object()
                .bucket(&output.bucket)
                .key(&key)
                .body(format!("{}\n", out.join("\n")).into_bytes().into());
            if let Some(key_id) = &kms_key_id {
                put = put
                    .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
                    .ssekms_key_id(key_id);
            }
            put.send()
                .await
                .map_err(|e| AwsError::from_sdk("PutObject", &key, e))?;
        }
        let arn = job.transform_job_arn().unwrap_or_default().to_owned();
        let tags = self
            .sagemaker
            .list_tags()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListTags", &arn, e))?;
        let millis = |t: Option<&aws_sdk_sagemaker::primitives::DateTime>| {
            t.and_then(|t| t.to_millis().ok()).unwrap_or_default()
        };
        let created = millis(job.creation_time());
        let played = crate::transform::Job {
            name: name.to_owned(),
            arn: arn.clone(),
            model: job.model_name().unwrap_or_default().to_owned(),
            input_uri: input.uri(),
            output_uri: output.uri(),
            kms_key_id,
            times: [created, created, Utc::now().timestamp_millis().max(created)],
            tags: tags
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                .collect(),
        };
        let event = ServiceEvent {
            source: "aws.sagemaker",
            detail_type: "SageMaker Transform Job State Change".into(),
            detail: crate::transform::completed(&played),
            resources: vec![arn],
            time: None,
        };
        let what = format!(
            "transform job {name}: {lines} line(s) answered by the stand-in model, written under {}; Completed to the default bus",
            output.uri()
        );
        if self.send("sagemaker", &what, event).await {
            Ok(())
        } else {
            Err(LoopError::NothingToDo(format!(
                "the bus refused transform job {name}'s state change"
            )))
        }
    }

    /// The field of a request record that holds its text: inference-monitor's `TEXT_FIELD`, else `text`.
    fn text_field(&self) -> String {
        self.stack
            .functions
            .values()
            .flat_map(|f| f.environment.iter())
            .find(|(name, _)| name == "TEXT_FIELD")
            .map_or_else(|| "text".to_owned(), |(_, v)| v.clone())
    }

    /// Puts `event` on the default bus as its AWS service would (the emulator lets any source through) and
    /// records it as `what`; false (with the reason recorded) when the bus refuses it.
    pub async fn send(&self, actor: &str, what: &str, event: ServiceEvent) -> bool {
        let detail_type = event.detail_type.clone();
        // Recorded before it is sent: the rule's delivery may be recorded before PutEvents returns.
        self.timeline
            .record(actor, what, Fact::Sent { detail_type });
        match self.put(event).await {
            Ok(()) => true,
            Err(e) => {
                self.timeline.record("runner", e.to_string(), Fact::Trouble);
                false
            }
        }
    }

    async fn put(&self, event: ServiceEvent) -> Result<(), AwsError> {
        let time = event.time.unwrap_or_else(Utc::now);
        let entry = PutEventsRequestEntry::builder()
            .source(event.source)
            .detail_type(&event.detail_type)
            .detail(event.detail.to_string())
            .set_resources(Some(event.resources))
            .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
                time.timestamp(),
            ))
            .build();
        let out = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutEvents", &event.detail_type, e))?;
        match out.entries().iter().find(|e| e.error_code().is_some()) {
            None if out.failed_entry_count() == 0 => Ok(()),
            failed => Err(AwsError::from_code(
                "PutEvents",
                &event.detail_type,
                failed.and_then(|e| e.error_code()),
                failed
                    .and_then(|e| e.error_message())
                    .unwrap_or("the bus refused the event"),
            )),
        }
    }

    /// Fires a scheduled rule now (by logical id or name): its "Scheduled Event" goes to every target.
    ///
    /// # Errors
    /// An unknown rule, or a queue that refuses the message.
    pub async fn fire_schedule(&self, rule: &str) -> Result<(), LoopError> {
        let targets: Vec<_> = self
            .stack
            .schedules
            .iter()
            .filter(|s| s.rule == rule || s.name == rule)
            .collect();
        let Some(schedule) = targets.first() else {
            return Err(LoopError::NotInTemplate(format!("scheduled rule {rule}")));
        };
        let event = json!({
            "version": "0",
            "id": testkit::unique_name("schedule"),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "time": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            "region": REGION,
            "resources": [schedule.arn],
            "detail": {},
        });
        self.timeline.record(
            "schedule",
            format!("{} ({}) fired now", schedule.rule, schedule.expression),
            Fact::Sent {
                detail_type: "Scheduled Event".into(),
            },
        );
        for target in targets {
            self.sqs
                .send_message()
                .queue_url(&target.queue_url)
                .message_body(event.to_string())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("SendMessage", &target.queue_url, e))?;
        }
        Ok(())
    }

    /// The names of the template's alarms, as provisioned.
    pub fn alarm_names(&self) -> Vec<String> {
        self.alarms
            .lock()
            .map(|alarms| alarms.iter().map(|a| a.spec.name.clone()).collect())
            .unwrap_or_default()
    }

    /// Sends a CloudWatch alarm state change for `alarm` (OK → ALARM unless `recovered`), shaped like the sample
    /// under `events/`, as CloudWatch sends it to the default bus.
    pub async fn alarm(&self, alarm: &str, recovered: bool) -> bool {
        let sample: Value =
            serde_json::from_str(include_str!("../../../events/alarm-model-quality.json"))
                .unwrap_or(Value::Null);
        let now = Utc::now();
        // CloudWatch's own timestamp format, as in the sample.
        let timestamp = now.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
        let mut detail = sample["detail"].clone();
        detail["alarmName"] = json!(alarm);
        detail["state"]["timestamp"] = json!(timestamp);
        detail["previousState"]["timestamp"] = json!(timestamp);
        if recovered {
            let previous = detail["state"].clone();
            detail["state"] = detail["previousState"].clone();
            detail["previousState"] = previous;
        }
        let state = detail["state"]["value"].as_str().unwrap_or("?").to_owned();
        let arn = format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{alarm}");
        let what =
            format!("alarm {alarm} → {state}: CloudWatch Alarm State Change to the default bus");
        let event = ServiceEvent {
            source: "aws.cloudwatch",
            detail_type: "CloudWatch Alarm State Change".into(),
            detail,
            resources: vec![arn],
            time: Some(now),
        };
        self.send("cloudwatch", &what, event).await
    }
}

fn receive_count(message: &Message) -> u32 {
    message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// A whole object as text (the loop's batches and records are small).
///
/// # Errors
/// The GetObject call, or reading its body.
pub(crate) async fn read_text(
    s3: &aws_sdk_s3::Client,
    object: &guardrails_core::ObjectRef,
) -> Result<String, LoopError> {
    let got = s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetObject", object.uri(), e))?;
    let bytes = got
        .body
        .collect()
        .await
        .map_err(|e| AwsError::from_code("GetObject", object.uri(), None, e.to_string()))?
        .into_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
