//! The whole pipeline on the local emulator, wired from `infra/template.yaml`.
//!
//! [`Local::start`] reads the template, starts the emulator (moto), creates the template's buckets, keys,
//! queues, topic, buses, parameter, state machine and every EventBridge rule with its resolved pattern, and runs
//! each function's handler in this process on what the rules deliver. The template is the single source of truth:
//! a changed pattern, name or environment variable changes the local loop with it. [`story::tell`] is
//! `make demo`; the `guardrails-local` binary is `make demo` and `make up`.

pub mod alarms;
pub mod describe;
pub mod emitted;
pub mod functions;
pub mod iam;
pub mod registry;
pub mod runtime;
pub mod spans;
pub mod stack;
pub mod story;
pub mod template;
pub mod timeline;
pub mod transform;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_config::SdkConfig;
use guardrails_core::AwsError;
use tokio::task::JoinHandle;

use crate::runtime::Runtime;
use crate::template::Template;
use crate::timeline::{Fact, Timeline};

/// Parameters the local loop sets unless told otherwise: the template requires a training image and a signing
/// profile, and the sample datasets are small.
pub const LOCAL_DEFAULTS: [(&str, &str); 7] = [
    // In the stack's own repository: the loop pushes it (a placeholder) and the emulator scans it.
    (
        "TrainingImage",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-guardrails-images:train-1",
    ),
    // The functions run as local processes: their code is not signed, and the configuration is not emulated.
    (
        "SigningProfileVersionArn",
        "arn:aws:signer:us-east-1:123456789012:/signing-profiles/local/1",
    ),
    ("MinNewRows", "10"),
    // The story's batches are 60 texts; 500 (the default) is for real traffic, where PSI on fewer is biased.
    ("MinMonitoredTexts", "40"),
    // The story's ground truth labels 60 records; 200 (the default) is for real traffic.
    ("MinLabelledRecords", "40"),
    // The loop's alarms are judged every 2 s, and its story takes a minute: digests gather over seconds here.
    ("QuarantineDigestSeconds", "2"),
    ("AlarmDigestSeconds", "6"),
];

/// The template shipped with the project.
pub fn default_template() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
    std::fs::canonicalize(&path).unwrap_or(path)
}

/// Anything that stops the loop from starting, with the resource or variable named.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The template could not be read.
    #[error(transparent)]
    Template(#[from] template::TemplateError),
    /// A resource could not be created.
    #[error(transparent)]
    Provision(#[from] stack::ProvisionError),
    /// A function's handler could not be built.
    #[error(transparent)]
    Function(#[from] functions::BuildError),
    /// The emulator did not start (the message says how to fix it).
    #[error("{0}")]
    Emulator(String),
    /// An alarm of the template the loop cannot judge.
    #[error(transparent)]
    Alarm(#[from] alarms::AlarmError),
    /// The handlers' metrics cannot be captured.
    #[error("{0}")]
    Metrics(String),
}

/// The template's alarms, resolved against what was provisioned.
fn alarms_of(
    template: &Template,
    stack: &stack::Stack,
) -> Result<Vec<alarms::AlarmSpec>, StartError> {
    let mut specs = Vec::new();
    for r in template.resources()? {
        if r.kind == "AWS::CloudWatch::Alarm" {
            let properties = template.resolve(&r.properties, stack)?;
            specs.push(alarms::AlarmSpec::from_properties(
                &r.logical_id,
                &properties,
            )?);
        }
    }
    Ok(specs)
}

/// What an action of the local loop (a command, a story step, a role to act as) could not do, with what it
/// acted on named.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// A call to the emulator failed.
    #[error(transparent)]
    Aws(#[from] guardrails_core::AwsError),
    /// The emulator's own control API refused a setting (injected costs, training metrics).
    #[error("the emulator refused {what}: {message}")]
    Emulator {
        what: &'static str,
        /// Its answer.
        message: String,
    },
    /// The template does not declare what the action needs.
    #[error("the template has no {0}")]
    NotInTemplate(String),
    /// A local file could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Nothing is in the state the action needs (e.g. no model version waits for approval).
    #[error("{0}")]
    NothingToDo(String),
}

/// A running local loop. Dropping it stops the polling; the emulator stops with the process.
pub struct Local {
    pub emulator: &'static testkit::Emulator,
    /// SDK configuration pointing at the emulator.
    pub sdk: SdkConfig,
    /// The template as resolved.
    pub template: Template,
    /// Resources, functions and the timeline.
    pub runtime: Arc<Runtime>,
    tasks: Vec<JoinHandle<()>>,
}

impl Local {
    /// Starts the emulator (or reuses this process's), provisions `template` with `parameters` (on top of
    /// [`LOCAL_DEFAULTS`]) and starts delivering. With `echo`, each fact is printed as it happens.
    ///
    /// # Errors
    /// See [`StartError`].
    pub async fn start(
        template: &Path,
        parameters: &[(String, String)],
        echo: bool,
    ) -> Result<Self, StartError> {
        Self::start_on(template, parameters, echo, false, true).await
    }

    /// As [`Local::start`], but nothing is delivered: the template's resources exist on the emulator and every
    /// handler is built, for one invocation at a time ([`runtime::Runtime::invoke_once`], `make invoke`).
    ///
    /// # Errors
    /// See [`StartError`].
    pub async fn prepare(
        template: &Path,
        parameters: &[(String, String)],
    ) -> Result<Self, StartError> {
        Self::start_on(template, parameters, false, false, false).await
    }

    /// As [`Local::start`], on an emulator that enforces IAM: each function runs with the credentials of its
    /// own role, created from the template's policies (see [`iam`] for what the emulator judges).
    ///
    /// # Errors
    /// See [`StartError`].
    pub async fn start_enforcing_iam(
        template: &Path,
        parameters: &[(String, String)],
        echo: bool,
    ) -> Result<Self, StartError> {
        Self::start_on(template, parameters, echo, true, true).await
    }

    async fn start_on(
        template: &Path,
        parameters: &[(String, String)],
        echo: bool,
        enforce_iam: bool,
        deliver: bool,
    ) -> Result<Self, StartError> {
        let mut overrides: Vec<(String, String)> = LOCAL_DEFAULTS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        overrides.extend_from_slice(parameters);
        let template = Template::load(template, &overrides)?;
        let timeline = Arc::new(Timeline::new(echo));
        let emulator = if enforce_iam {
            testkit::try_iam_emulator()
        } else {
            testkit::try_emulator()
        }
        .map_err(StartError::Emulator)?;
        let sdk = emulator.sdk_config().await;
        timeline.record(
            "emulator",
            format!("moto server at {}", emulator.endpoint()),
            Fact::Acted,
        );
        let stack = stack::provision(&template, &sdk, enforce_iam).await?;
        timeline.record("template", provisioned(&stack), Fact::Acted);
        let mut acting_as = BTreeMap::new();
        for (id, spec) in &stack.functions {
            if let Some(role) = &spec.role_arn {
                let sdk = iam::acting_as(&sdk, role, &spec.name)
                    .await
                    .map_err(|e| StartError::Emulator(e.to_string()))?;
                acting_as.insert(id.clone(), sdk);
            }
        }
        let alarms = alarms_of(&template, &stack)?;
        let sink = emitted::sink().map_err(StartError::Metrics)?;
        let runtime = Arc::new(Runtime::new(
            stack, &sdk, &acting_as, timeline, alarms, sink,
        )?);
        let group = template
            .parameter("ModelPackageGroupName")
            .unwrap_or_default();
        let tasks = if deliver {
            runtime.start(&[group])
        } else {
            Vec::new()
        };
        Ok(Local {
            emulator,
            sdk,
            template,
            runtime,
            tasks,
        })
    }

    /// A template parameter's value (empty when it has none).
    pub fn parameter(&self, name: &str) -> String {
        self.template.parameter(name).unwrap_or_default()
    }

    /// Creates the model package group the template names (`ModelPackageGroupName`), which the README's Deploy
    /// section asks a user to create before deploying; an existing group is kept.
    ///
    /// # Errors
    /// When the emulator refuses it for another reason.
    pub async fn create_registry(&self) -> Result<String, LoopError> {
        let group = self.parameter("ModelPackageGroupName");
        let created = aws_sdk_sagemaker::Client::new(&self.sdk)
            .create_model_package_group()
            .model_package_group_name(&group)
            .send()
            .await;
        match created {
            Ok(_) => Ok(group),
            Err(e) => {
                let error = AwsError::from_sdk("CreateModelPackageGroup", &group, e);
                if error.to_string().contains("already exists") {
                    Ok(group)
                } else {
                    Err(error.into())
                }
            }
        }
    }

    /// The name of a model-quality drift alarm the template's drift rule takes: `DriftAlarmPrefix`, then
    /// `model-quality-` and the model package group.
    pub fn drift_alarm_name(&self) -> String {
        format!(
            "{}model-quality-{}",
            self.parameter("DriftAlarmPrefix"),
            self.parameter("ModelPackageGroupName")
        )
    }

    /// Where a dataset file named `file` is uploaded: under the `DatasetName` prefix of the upload bucket.
    pub fn upload_key(&self, file: &str) -> String {
        format!("{}/{file}", self.parameter("DatasetName"))
    }

    /// The scheduled rule (logical id) whose target is cost-guard.
    pub fn cost_schedule(&self) -> Option<String> {
        let function = self.function_id("cost-guard");
        self.runtime
            .stack
            .schedules_of(&function)
            .first()
            .map(|s| s.rule.clone())
    }

    /// The logical id of the function whose binary is `binary` (the binary itself when none is).
    pub fn function_id(&self, binary: &str) -> String {
        self.runtime
            .stack
            .functions
            .values()
            .find(|f| f.binary == binary)
            .map_or_else(|| binary.to_owned(), |f| f.logical_id.clone())
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// One line: what the template became on the emulator.
fn provisioned(stack: &stack::Stack) -> String {
    let not_emulated: usize = stack.not_emulated.values().sum();
    format!(
        "provisioned {} buckets, {} queues, {} topic(s), {} bus(es), {} parameter(s), {} state machine(s), \
         {} rules ({} scheduled), {} functions in-process, {} alarms judged on their metrics (a period is {} s); \
         {not_emulated} resources not emulated ({})",
        stack.buckets.len(),
        stack.queues.len(),
        stack.topics.len(),
        stack.buses.len(),
        stack.parameters.len(),
        stack.state_machines.len(),
        stack.rules.len(),
        stack.schedules.len(),
        stack.functions.len(),
        stack.alarms,
        runtime::ALARM_TICK.as_secs(),
        stack.not_emulated_names().join(", "),
    )
}
