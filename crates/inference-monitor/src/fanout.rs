//! An hour of capture larger than one invocation should read, read in parts: the hourly run writes a plan (the
//! hour's capture files in parts of about `PART_BYTES`) and starts the fan-out state machine
//! (`infra/statemachine/monitor-hour.asl.json`), a Step Functions Distributed Map whose items invoke this function
//! to read one part each and store its statistics (`Monitor::into_part`); its last state invokes it to merge the
//! parts (`Monitor::add_part`: the same report as one invocation reading the hour whole), join the label window's
//! ground truth and judge the hour as the hourly run does. Every step can be retried: the plan and each part are
//! created once, the execution is named after the hour, and the judge finds a report already written.

use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Utc};
use dataset_check::profile::Profile;
use guardrails_core::monitor_report::{part_key, plan_key};
use guardrails_core::{AwsError, ObjectRef};
use serde::{Deserialize, Serialize};
use text_monitor::monitor::{self, Monitor};

use crate::config::{FanOut, Hourly};
use crate::handler::{InferenceMonitor, MonitorError, Outcome, Serving};
use crate::hourly::{FilesRead, Part};
use crate::window::{MAX_PARTS, Parts, Window, plan_parts};

/// What the fan-out state machine asks of the function: its items' and its last state's payloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "kebab-case")]
pub enum Task {
    /// Read part `part` of the plan of the hour starting at `hour`.
    ReadPart { hour: DateTime<Utc>, part: usize },
    /// Merge the hour's parts and judge it.
    Judge { hour: DateTime<Utc> },
}

/// A fanned-out hour, as the run that fanned it out planned it: the serving version the parts are judged
/// against, and the capture files (key and size) of each part, all in the capture bucket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The model package serving when the hour was planned.
    pub serving: String,
    /// The capture bucket.
    pub bucket: String,
    /// The parts.
    pub parts: Parts,
}

/// One part as read, for the judge to merge.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartRead {
    /// The model package whose baseline the part's texts were profiled against.
    pub serving: String,
    /// What was read.
    pub files: FilesRead,
    /// The engine's statistics.
    pub part: monitor::Part,
}

/// The execution's input: the Map's items and the judge's payload.
#[derive(Serialize)]
struct ExecutionInput {
    hour: DateTime<Utc>,
    parts: Vec<Task>,
    judge: Task,
}

impl InferenceMonitor {
    /// Runs one task of the fan-out state machine.
    ///
    /// # Errors
    /// [`MonitorError`]; [`MonitorError::FanOut`] (not retried) when the plan or a part is missing or the
    /// serving version changed since the hour was planned.
    pub async fn task(&self, task: Task) -> Result<Outcome, MonitorError> {
        match task {
            Task::ReadPart { hour, part } => self.read_part(hour, part).await,
            Task::Judge { hour } => self.judge(hour).await,
        }
    }

    /// Plans `window`'s hour in parts and starts the execution that reads them. A repeated delivery reuses the
    /// plan already written and finds the execution already started.
    pub(crate) async fn fan_out(
        &self,
        fan_out: &FanOut,
        window: &Window,
        serving: &Serving,
        capture: Vec<(ObjectRef, u64)>,
    ) -> Result<Outcome, MonitorError> {
        let bucket = capture
            .first()
            .map(|(o, _)| o.bucket.clone())
            .unwrap_or_default();
        let keys: Vec<(String, u64)> = capture.into_iter().map(|(o, s)| (o.key, s)).collect();
        let parts = plan_parts(&keys, fan_out.part_bytes).ok_or_else(|| {
            MonitorError::FanOut(format!(
                "hour {}: {} bytes of capture need more than {MAX_PARTS} parts of PART_BYTES={}; raise PART_BYTES",
                window.hour,
                keys.iter().map(|(_, s)| s).sum::<u64>(),
                fan_out.part_bytes
            ))
        })?;
        let plan = Plan {
            serving: serving.package.clone(),
            bucket,
            parts,
        };
        let key = plan_key(&self.config.model, window.hour);
        let count = if self.state.create(&key, &plan).await?.is_some() {
            plan.parts.len()
        } else {
            // Planned by an earlier delivery: its parts, whatever was listed since, are the ones started. A
            // concurrent delivery still writing it: retried.
            match self.state.read::<Plan>(&key).await? {
                Some(stored) => stored.value.parts.len(),
                None => {
                    return Err(MonitorError::Contended(format!(
                        "hour {}: another delivery is writing the plan",
                        window.hour
                    )));
                }
            }
        };
        let input = ExecutionInput {
            hour: window.hour,
            parts: (0..count)
                .map(|part| Task::ReadPart {
                    hour: window.hour,
                    part,
                })
                .collect(),
            judge: Task::Judge { hour: window.hour },
        };
        let name = window.execution_name();
        let execution = self
            .start(&fan_out.state_machine_arn, &name, &input)
            .await?;
        tracing::info!(hour = %window.hour, parts = count, execution, "hour fanned out");
        Ok(Outcome::FannedOut {
            hour: window.hour,
            parts: count,
            execution,
        })
    }

    /// Starts the execution `name`; an execution of that name already there (started by an earlier delivery) is
    /// the one wanted. Its ARN.
    async fn start(
        &self,
        machine: &str,
        name: &str,
        input: &ExecutionInput,
    ) -> Result<String, MonitorError> {
        let input =
            serde_json::to_string(input).map_err(|e| MonitorError::FanOut(e.to_string()))?;
        let started = self
            .sfn
            .start_execution()
            .state_machine_arn(machine)
            .name(name)
            .input(input)
            .send()
            .await;
        match started {
            Ok(output) => Ok(output.execution_arn().to_owned()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_execution_already_exists()) =>
            {
                // Execution ARNs are the machine's with `execution` for `stateMachine`, and the name.
                let arn = format!(
                    "{}:{name}",
                    machine.replacen(":stateMachine:", ":execution:", 1)
                );
                self.started_before(&arn).await?;
                Ok(arn)
            }
            Err(e) => Err(AwsError::from_sdk("StartExecution", machine, e).into()),
        }
    }

    /// The execution `arn` an earlier delivery started: fine while it runs or once it succeeded; one that
    /// failed, timed out or was stopped left the hour unjudged, which this delivery says rather than hides.
    async fn started_before(&self, arn: &str) -> Result<(), MonitorError> {
        let described = self
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeExecution", arn, e))?;
        match described.status() {
            ExecutionStatus::Running | ExecutionStatus::Succeeded => Ok(()),
            status => Err(MonitorError::FanOut(format!(
                "{arn} ended {}: the hour is not judged (runbook: monitor-hour-failures)",
                status.as_str()
            ))),
        }
    }

    /// Reads part `part` of `hour`'s plan and stores its statistics.
    async fn read_part(&self, hour: DateTime<Utc>, part: usize) -> Result<Outcome, MonitorError> {
        // Read already (a retry whose first attempt wrote the part): not read again.
        if let Some(read) = self.part_read(hour, part).await? {
            return Ok(Outcome::PartRead {
                hour,
                part,
                files: read.files,
            });
        }
        let (hourly, plan, serving) = self.planned(hour).await?;
        let key = part_key(&self.config.model, hour, part);
        let listed: Vec<(ObjectRef, u64)> = plan
            .parts
            .get(part)
            .ok_or_else(|| {
                MonitorError::FanOut(format!(
                    "hour {hour}: part {part} of a plan of {}",
                    plan.parts.len()
                ))
            })?
            .iter()
            .map(|(k, size)| (ObjectRef::new(&plan.bucket, k), *size))
            .collect();
        let empty = Profile::empty();
        let (settings, profile) = self.judging(hourly, &serving, &empty);
        let mut monitor = Monitor::new(profile, &settings);
        let mut files = FilesRead::default();
        self.read_files(&listed, Part::Capture, &mut monitor, &mut files)
            .await?;
        let read = PartRead {
            serving: serving.package.clone(),
            files,
            part: monitor.into_part(),
        };
        // Created once: a retry after the write has nothing left to do.
        self.state.create(&key, &read).await?;
        Ok(Outcome::PartRead { hour, part, files })
    }

    /// Merges `hour`'s parts, joins the label window's ground truth and judges the hour.
    async fn judge(&self, hour: DateTime<Utc>) -> Result<Outcome, MonitorError> {
        // The report first: a judge retried after it wrote the report (or re-run after a release) has nothing to
        // do, whatever serves now.
        let hourly = self.hourly_settings()?;
        let window = Window::at(hour, hourly.label_window_hours);
        if let Some(outcome) = self.already_judged(&window).await? {
            return Ok(outcome);
        }
        let (hourly, plan, serving) = self.planned(hour).await?;
        let empty = Profile::empty();
        let (settings, profile) = self.judging(hourly, &serving, &empty);
        let mut monitor = Monitor::new(profile, &settings);
        let mut files = self
            .read_earlier(&window, &serving.package, &mut monitor)
            .await?;
        for part in 0..plan.parts.len() {
            let read = self.part_read(hour, part).await?.ok_or_else(|| {
                MonitorError::FanOut(format!(
                    "hour {hour}: part {part} was not read ({} is missing)",
                    self.state
                        .at(&part_key(&self.config.model, hour, part))
                        .uri()
                ))
            })?;
            if read.serving != plan.serving {
                return Err(MonitorError::FanOut(format!(
                    "hour {hour}: part {part} was read against {}, the plan is for {}",
                    read.serving, plan.serving
                )));
            }
            monitor.add_part(&read.part).map_err(|e| {
                MonitorError::FanOut(format!("hour {hour}: part {part} does not merge: {e}"))
            })?;
            files.add(&read.files);
        }
        self.read_truth(hourly, &window, &mut monitor, &mut files)
            .await?;
        self.finish_hour(&window, &serving, &settings, monitor, files)
            .await
    }

    /// The hourly settings, `hour`'s plan and the serving version it was planned for, which must still serve:
    /// the parts are profiled against its baseline, and a release since then judges its own hours.
    async fn planned(&self, hour: DateTime<Utc>) -> Result<(&Hourly, Plan, Serving), MonitorError> {
        let hourly =
            self.config.hourly.as_ref().ok_or_else(|| {
                MonitorError::FanOut("no CAPTURE_URI: the hourly run is off".into())
            })?;
        let plan = self.plan(hour).await?;
        let serving = self.serving().await?.ok_or_else(|| {
            MonitorError::FanOut(format!(
                "hour {hour}: no serving version with a lineage record to judge against"
            ))
        })?;
        if serving.package != plan.serving {
            return Err(MonitorError::FanOut(format!(
                "hour {hour}: planned for {}, {} serves now; its hours are judged from the next run",
                plan.serving, serving.package
            )));
        }
        Ok((hourly, plan, serving))
    }

    /// `hour`'s plan.
    async fn plan(&self, hour: DateTime<Utc>) -> Result<Plan, MonitorError> {
        let key = plan_key(&self.config.model, hour);
        self.state
            .read::<Plan>(&key)
            .await?
            .map(|stored| stored.value)
            .ok_or_else(|| {
                MonitorError::FanOut(format!(
                    "hour {hour}: no plan at {}",
                    self.state.at(&key).uri()
                ))
            })
    }

    /// Part `part` of `hour` as read, if it was.
    async fn part_read(
        &self,
        hour: DateTime<Utc>,
        part: usize,
    ) -> Result<Option<PartRead>, MonitorError> {
        let key = part_key(&self.config.model, hour, part);
        Ok(self
            .state
            .read::<PartRead>(&key)
            .await?
            .map(|stored| stored.value))
    }

    /// The hourly run's settings; a task without them cannot run.
    fn hourly_settings(&self) -> Result<&Hourly, MonitorError> {
        self.config
            .hourly
            .as_ref()
            .ok_or_else(|| MonitorError::FanOut("no CAPTURE_URI: the hourly run is off".into()))
    }
}
