//! What deserves a notice, how urgent it is and what it says: plain Rust, no AWS types.
//!
//! Only the project's resources notify: alarms named `<project>-…` (but not the drift alarms, which
//! drift-handler announces with what it did), jobs tagged `project=<project>` or named `<project>-…`. The rules'
//! patterns select the same; checking again here keeps a widened pattern from paging the project's on-call for
//! another team's jobs.

use guardrails_core::alarm::{AlarmFacts, AlarmState};
use guardrails_core::domain::DatasetQuarantined;
use guardrails_core::notice::details;
use guardrails_core::{Notice, NoticeKind, Severity};
use serde_json::{Value, json};

use crate::event::{
    Incoming, JobChange, JobService, PackageChange, ParameterChange, WorkflowChange,
};

/// The tag trigger-training puts on every training job of the workflow (its trigger's kind).
const TRIGGER_TAG: &str = "trigger";

/// Whose resources notify.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// The project's name: the prefix of its alarms and jobs, the value of its `project` tag.
    pub name: String,
    /// The drift alarms' name prefix (drift-handler's to announce).
    pub drift_alarm_prefix: Option<String>,
}

/// A notice to send, or why not.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Send this.
    Notify(Notice),
    /// Stay quiet, for this reason.
    Quiet(String),
}

/// How an alarm's name (after `<project>-`) is matched.
#[derive(Debug, Clone, Copy)]
enum Name {
    /// The whole rest of the name.
    Is(&'static str),
    /// Its end.
    EndsWith(&'static str),
    /// Its start.
    StartsWith(&'static str),
}

impl Name {
    fn matches(self, rest: &str) -> bool {
        match self {
            Name::Is(name) => rest == name,
            Name::EndsWith(end) => rest.ends_with(end),
            Name::StartsWith(start) => rest.starts_with(start),
        }
    }
}

/// The project's alarms: what each kind of name is about, how urgent its ALARM is, and what it means. The first
/// match wins; `tests/local_loop.rs` (`every_alarm_and_notifying_rule_reaches_the_topic_as_a_notice`) shows every
/// alarm of the template matches one.
const ALARMS: &[(Name, NoticeKind, Severity, &str)] = &[
    (
        Name::StartsWith("silent-"),
        NoticeKind::PipelineSilent,
        Severity::Critical,
        "A stage that should have run has not",
    ),
    (
        Name::EndsWith("-errors"),
        NoticeKind::FunctionFailing,
        Severity::Critical,
        "A function fails",
    ),
    (
        Name::EndsWith("-throttles"),
        NoticeKind::FunctionFailing,
        Severity::Warning,
        "A function is throttled",
    ),
    (
        Name::EndsWith("-dlq-depth"),
        NoticeKind::DeadLetters,
        Severity::Critical,
        "Messages wait in a dead-letter queue",
    ),
    (
        Name::Is("endpoint-5xx"),
        NoticeKind::EndpointUnhealthy,
        Severity::Critical,
        "The endpoint answers with errors",
    ),
    (
        Name::Is("endpoint-latency"),
        NoticeKind::EndpointUnhealthy,
        Severity::Warning,
        "The endpoint is slow",
    ),
    (
        Name::Is("training-failures"),
        NoticeKind::WorkflowFailing,
        Severity::Critical,
        "Training workflow executions fail",
    ),
    (
        Name::Is("monitor-hour-failures"),
        NoticeKind::WorkflowFailing,
        Severity::Critical,
        "The hourly monitor's executions fail",
    ),
    (
        Name::Is("quarantine-rate"),
        NoticeKind::QuarantineRate,
        Severity::Warning,
        "Many uploads are quarantined",
    ),
    (
        Name::Is("cost-over-budget"),
        NoticeKind::CostOverBudget,
        Severity::Critical,
        "The day's cost is over budget",
    ),
    (
        Name::EndsWith("-memory-saturated"),
        NoticeKind::JobSaturated,
        Severity::Warning,
        "Jobs have used nearly all their memory for a while",
    ),
    (
        Name::Is("posture-critical"),
        NoticeKind::PostureFinding,
        Severity::Critical,
        "Critical posture findings are open in the account",
    ),
];

/// The notice `incoming` deserves, if any. `region` names the console links.
pub fn decide(incoming: &Incoming, project: &Project, region: &str) -> Decision {
    match incoming {
        Incoming::Alarm(facts) => alarm(facts, project, region),
        Incoming::Job(job) => job_failed(job, project),
        Incoming::Workflow(workflow) => workflow_ended(workflow),
        Incoming::Package(package) => package_status(package),
        Incoming::Parameter(parameter) => parameter_changed(parameter),
        Incoming::Quarantined(detail) => Decision::Notify(quarantined(detail)),
    }
}

fn alarm(facts: &AlarmFacts, project: &Project, region: &str) -> Decision {
    if let Some(prefix) = project
        .drift_alarm_prefix
        .as_deref()
        .filter(|p| !p.is_empty())
        && facts.name.starts_with(prefix)
    {
        return Decision::Quiet(format!(
            "{} is a drift alarm: drift-handler announces it",
            facts.name
        ));
    }
    let Some(rest) = facts.name.strip_prefix(&format!("{}-", project.name)) else {
        return Decision::Quiet(format!(
            "{} is not one of {}'s alarms",
            facts.name, project.name
        ));
    };
    let (kind, severity, what) = ALARMS
        .iter()
        .find(|(name, ..)| name.matches(rest))
        .map(|&(_, kind, severity, what)| (kind, severity, what))
        .unwrap_or((
            NoticeKind::AlarmUnclassified,
            Severity::Warning,
            "An alarm of the project",
        ));
    let (severity, title) = match (facts.previous, facts.state) {
        (_, AlarmState::Alarm) => (
            severity,
            format!("{what}: {}{}", facts.name, figures(facts)),
        ),
        (Some(AlarmState::Alarm), _) => (Severity::Info, format!("Recovered: {}", facts.name)),
        (previous, state) => {
            return Decision::Quiet(format!(
                "{} went {previous:?} → {state:?}: nothing to act on",
                facts.name
            ));
        }
    };
    let link = format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{}",
        facts.name
    );
    let body = format!(
        "Alarm {} went {} → {} at {}.\nWhy: {}\n{}\n\nThe alarm: {link}",
        facts.name,
        facts.previous.map_or("(none)", state_name),
        state_name(facts.state),
        facts.since.to_rfc3339(),
        facts.reason,
        facts.description.as_deref().unwrap_or_default(),
    );
    Decision::Notify(Notice {
        severity,
        kind,
        title,
        body,
        details: details(&json!({"alarm": facts, "console": link})),
    })
}

/// ` (value vs threshold)` when the reason data gives both.
fn figures(facts: &AlarmFacts) -> String {
    match (facts.value, facts.threshold) {
        (Some(value), Some(threshold)) => format!(" ({value} vs {threshold})"),
        _ => String::new(),
    }
}

fn state_name(state: AlarmState) -> &'static str {
    match state {
        AlarmState::Ok => "OK",
        AlarmState::Alarm => "ALARM",
        AlarmState::InsufficientData => "INSUFFICIENT_DATA",
    }
}

/// Whether the job is the project's. The tag decides when there is one: a job named `<project>-…` but tagged for
/// another project (whose name this one's is a prefix of, say) is theirs.
fn ours(job: &JobChange, project: &Project) -> bool {
    match job.tags.get("project") {
        Some(tag) => *tag == project.name,
        None => job.name.starts_with(&format!("{}-", project.name)),
    }
}

/// How a job ended: the `Result` dimension of the job metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobResult {
    /// SageMaker `Completed`, Glue and Batch `SUCCEEDED`.
    Succeeded,
    /// `Failed`, `FAILED`, Glue's `TIMEOUT` and `ERROR`.
    Failed,
    /// Stopped by someone (or by cost-guard).
    Stopped,
}

impl JobResult {
    /// The dimension value.
    pub fn as_str(self) -> &'static str {
        match self {
            JobResult::Succeeded => "succeeded",
            JobResult::Failed => "failed",
            JobResult::Stopped => "stopped",
        }
    }
}

/// A project job that ended: what its metrics record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobEnded {
    /// `training`, `processing`, `transform`, `glue`, `batch`.
    pub job_type: &'static str,
    /// How it ended.
    pub result: JobResult,
    /// How long it ran, when the event says.
    pub seconds: Option<f64>,
}

/// The job's end, if it is the project's and the change is an end (not `InProgress`, `RUNNING` …).
pub fn job_ended(job: &JobChange, project: &Project) -> Option<JobEnded> {
    let result = match job.status.as_str() {
        "Completed" | "SUCCEEDED" => JobResult::Succeeded,
        "Failed" | "FAILED" | "TIMEOUT" | "ERROR" => JobResult::Failed,
        "Stopped" | "STOPPED" => JobResult::Stopped,
        _ => return None,
    };
    ours(job, project).then(|| JobEnded {
        job_type: job.service.job_type(),
        result,
        seconds: job.seconds(),
    })
}

fn job_failed(job: &JobChange, project: &Project) -> Decision {
    if !ours(job, project) {
        return Decision::Quiet(format!(
            "{} is neither tagged nor named for {}",
            job.name, project.name
        ));
    }
    if !matches!(
        job.status.as_str(),
        "Failed" | "FAILED" | "TIMEOUT" | "ERROR"
    ) {
        return Decision::Quiet(format!("{} is {}: not a failure", job.name, job.status));
    }
    let what = job.service.describe();
    // A training job the workflow started (trigger-training tags each with its trigger): the workflow tries its
    // on-demand fallback, and if that fails too its own workflow-failed notice pages. Paging for each job as well
    // would wake on-call three times for one failure, and once for a spot failure the fallback mended.
    let in_workflow = job.service == JobService::Training && job.tags.contains_key(TRIGGER_TAG);
    let (severity, next) = if in_workflow {
        (
            Severity::Warning,
            "The training workflow that started it tries its on-demand fallback; if that fails too, the \
             workflow-failed notice pages. Nothing to do unless it does.",
        )
    } else if job.service == JobService::Transform {
        (
            Severity::Critical,
            "A failed transform job's batch is not judged: upload the input again once fixed.",
        )
    } else {
        (
            Severity::Critical,
            "Its output is missing or partial: look at the job's logs, fix the cause and run it again.",
        )
    };
    Decision::Notify(Notice {
        severity,
        kind: NoticeKind::JobFailed,
        title: format!("{what} {} ended {}", job.name, job.status),
        body: format!(
            "The {what} {} ended {}.\nWhy: {}\n\n{next}",
            job.name,
            job.status,
            job.reason
                .as_deref()
                .unwrap_or("(the service gave no reason)"),
        ),
        details: details(
            &json!({"service": what, "job": job.name, "status": job.status,
            "reason": job.reason, "runId": job.run_id, "tags": job.tags}),
        ),
    })
}

fn workflow_ended(workflow: &WorkflowChange) -> Decision {
    let severity = match workflow.status.as_str() {
        // A run stuck past the workflow's TimeoutSeconds ends TIMED_OUT: paged like a failure.
        "FAILED" | "TIMED_OUT" => Severity::Critical,
        // Someone stopped it by hand: worth knowing, not worth a page.
        "ABORTED" => Severity::Warning,
        "SUCCEEDED" => return workflow_succeeded(workflow),
        other => return Decision::Quiet(format!("execution {} is {other}", workflow.name)),
    };
    let machine = workflow
        .state_machine_arn
        .rsplit(':')
        .next()
        .unwrap_or_default();
    Decision::Notify(Notice {
        severity,
        kind: NoticeKind::WorkflowFailed,
        title: format!(
            "Workflow {machine}: execution {} ended {}",
            workflow.name, workflow.status
        ),
        body: format!(
            "Execution {} of {machine} ended {}.\nError: {}\nCause: {}\n\nNo model was registered by it; the \
             dataset stays pinned and a new request starts a new execution.",
            workflow.name,
            workflow.status,
            workflow.error.as_deref().unwrap_or("(none given)"),
            workflow.cause.as_deref().unwrap_or("(none given)"),
        ),
        details: details(
            &json!({"execution": workflow.execution_arn, "stateMachine": workflow.state_machine_arn,
            "status": workflow.status, "error": workflow.error, "cause": workflow.cause}),
        ),
    })
}

/// A training run that ended well: a model the gate rejected is said here (nothing was registered, so no
/// package state change will say it); a registered one is announced by its package's state change.
fn workflow_succeeded(workflow: &WorkflowChange) -> Decision {
    let output: Option<Value> = workflow
        .output
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok());
    let Some(verdict) = output.as_ref().map(|o| &o["gate"]["verdict"]) else {
        return Decision::Quiet(format!(
            "execution {} succeeded; its output is not in the event",
            workflow.name
        ));
    };
    if verdict["decision"] != "Rejected" {
        return Decision::Quiet(format!(
            "execution {} registered a model: its package's state change announces it",
            workflow.name
        ));
    }
    let job = verdict["training_job_name"].as_str().unwrap_or("?");
    let trigger = output.as_ref().map(|o| &o["trigger"]);
    let text =
        |v: Option<&Value>, key: &str| v.and_then(|v| v[key].as_str()).unwrap_or("?").to_owned();
    Decision::Notify(Notice {
        severity: Severity::Warning,
        kind: NoticeKind::ModelRejected,
        title: format!("The gate rejected the model of {job}"),
        body: format!(
            "model-gate rejected the model trained by {job}; nothing was registered and what serves is unchanged.\n\
             {}\nTrigger: {} ({}).\nExecution: {}",
            verdict["summary"].as_str().unwrap_or_default(),
            text(trigger, "kind"),
            text(trigger, "reason"),
            workflow.execution_arn,
        ),
        details: details(&json!({
            "execution": workflow.execution_arn,
            "trainingJob": job,
            "reasons": verdict["reasons"],
            "metrics": verdict["metrics"],
            "champion": verdict["champion_arn"],
        })),
    })
}

fn package_status(package: &PackageChange) -> Decision {
    let version = package
        .model_package_arn
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let group = &package.model_package_group_name;
    let (severity, title, next) = match package.model_approval_status.as_deref() {
        Some("PendingManualApproval") => (
            Severity::Warning,
            format!("Model {group} version {version} waits for your approval"),
            "model-gate left the decision to a person: review its reasons in the package's description, then \
             approve or reject it in the registry. Approving it makes deploy serve it.",
        ),
        Some("Approved") => (
            Severity::Info,
            format!("Model {group} version {version} is Approved"),
            "deploy serves it once its lineage record verifies; its own notice says when.",
        ),
        Some("Rejected") => (
            Severity::Info,
            format!("Model {group} version {version} is Rejected"),
            "If it was serving, deploy serves the approved version before it.",
        ),
        other => {
            return Decision::Quiet(format!(
                "{} changed with approval status {other:?}",
                package.model_package_arn
            ));
        }
    };
    Decision::Notify(Notice {
        severity,
        kind: NoticeKind::ModelPackageStatus,
        title,
        body: format!(
            "{} is now {}.\n{next}",
            package.model_package_arn,
            package.model_approval_status.as_deref().unwrap_or_default()
        ),
        details: details(
            &json!({"modelPackage": package.model_package_arn, "group": group,
            "status": package.model_approval_status}),
        ),
    })
}

/// An upload validate-ingest quarantined: which file, its top reasons, where its report and copy are.
fn quarantined(detail: &DatasetQuarantined) -> Notice {
    let file = detail
        .source
        .key
        .rsplit('/')
        .next()
        .unwrap_or(&detail.source.key);
    let reasons: String = detail
        .reasons
        .iter()
        .map(|r| format!("  - {r}\n"))
        .collect();
    Notice {
        severity: Severity::Warning,
        kind: NoticeKind::DatasetQuarantined,
        title: format!("Dataset quarantined: {} / {file}", detail.dataset),
        body: format!(
            "{} failed its dataset contract and did not reach training.\n\nTop reasons:\n{reasons}\n\
             Report: {}\nQuarantined copy: {}\n\nFix the file and upload it again; the report lists example rows.",
            detail.source.uri(),
            detail.report.uri(),
            detail.quarantined.uri()
        ),
        details: details(detail),
    }
}

fn parameter_changed(parameter: &ParameterChange) -> Decision {
    Decision::Notify(Notice {
        severity: Severity::Warning,
        kind: NoticeKind::ContractChanged,
        title: format!(
            "Dataset contract {} changed ({})",
            parameter.name, parameter.operation
        ),
        body: format!(
            "The dataset contract {} changed ({}). Uploads are checked against the new version from now on; \
             CloudTrail (ssm:PutParameter) says who changed it.",
            parameter.name, parameter.operation
        ),
        details: details(&json!({"parameter": parameter.name, "operation": parameter.operation})),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn project() -> Project {
        Project {
            name: "p".into(),
            drift_alarm_prefix: Some("p-drift-".into()),
        }
    }

    fn facts(name: &str, previous: AlarmState, state: AlarmState) -> Incoming {
        Incoming::Alarm(AlarmFacts {
            name: name.into(),
            state,
            previous: Some(previous),
            since: "2026-11-21T03:10:45.341Z".parse().unwrap(),
            reason: "Threshold Crossed".into(),
            description: None,
            namespace: None,
            metric: None,
            dimensions: BTreeMap::new(),
            threshold: Some(0.0),
            value: Some(2.0),
        })
    }

    fn verdict(decision: Decision) -> Option<(NoticeKind, Severity)> {
        match decision {
            Decision::Notify(n) => Some((n.kind, n.severity)),
            Decision::Quiet(_) => None,
        }
    }

    #[test]
    fn alarms_by_name_and_transition() {
        use AlarmState::{Alarm, InsufficientData as Insufficient, Ok};
        use NoticeKind as K;
        use Severity::{Critical, Info, Warning};
        let table = [
            (
                "p-validate-ingest-errors",
                Ok,
                Alarm,
                Some((K::FunctionFailing, Critical)),
            ),
            (
                "p-deploy-throttles",
                Ok,
                Alarm,
                Some((K::FunctionFailing, Warning)),
            ),
            (
                "p-events-dlq-depth",
                Insufficient,
                Alarm,
                Some((K::DeadLetters, Critical)),
            ),
            (
                "p-endpoint-5xx",
                Ok,
                Alarm,
                Some((K::EndpointUnhealthy, Critical)),
            ),
            (
                "p-endpoint-latency",
                Ok,
                Alarm,
                Some((K::EndpointUnhealthy, Warning)),
            ),
            (
                "p-training-failures",
                Ok,
                Alarm,
                Some((K::WorkflowFailing, Critical)),
            ),
            (
                "p-quarantine-rate",
                Ok,
                Alarm,
                Some((K::QuarantineRate, Warning)),
            ),
            (
                "p-cost-over-budget",
                Ok,
                Alarm,
                Some((K::CostOverBudget, Critical)),
            ),
            (
                "p-silent-uploads",
                Ok,
                Alarm,
                Some((K::PipelineSilent, Critical)),
            ),
            // A silence alarm named "...-errors" is still a silence: the first match wins.
            (
                "p-silent-errors",
                Ok,
                Alarm,
                Some((K::PipelineSilent, Critical)),
            ),
            (
                "p-someone-elses-alarm",
                Ok,
                Alarm,
                Some((K::AlarmUnclassified, Warning)),
            ),
            // Recoveries are for the record.
            (
                "p-validate-ingest-errors",
                Alarm,
                Ok,
                Some((K::FunctionFailing, Info)),
            ),
            (
                "p-quarantine-rate",
                Alarm,
                Insufficient,
                Some((K::QuarantineRate, Info)),
            ),
            // A new alarm settling, or data going missing while fine, is nothing to act on.
            ("p-validate-ingest-errors", Insufficient, Ok, None),
            ("p-validate-ingest-errors", Ok, Insufficient, None),
            // Drift alarms are drift-handler's; other projects' alarms are not ours.
            ("p-drift-model-quality-tickets", Ok, Alarm, None),
            ("q-validate-ingest-errors", Ok, Alarm, None),
            ("pvalidate-ingest-errors", Ok, Alarm, None),
        ];
        for (name, previous, state, expected) in table {
            let got = verdict(decide(
                &facts(name, previous, state),
                &project(),
                "eu-west-1",
            ));
            assert_eq!(got, expected, "{name} {previous:?} → {state:?}");
        }
    }

    #[test]
    fn an_alarm_notice_says_what_why_and_where() {
        let Decision::Notify(notice) = decide(
            &facts("p-model-gate-errors", AlarmState::Ok, AlarmState::Alarm),
            &project(),
            "eu-west-1",
        ) else {
            panic!("quiet");
        };
        assert_eq!(
            notice.title,
            "A function fails: p-model-gate-errors (2 vs 0)"
        );
        assert!(notice.body.contains("went OK → ALARM"), "{}", notice.body);
        assert!(
            notice.body.contains("Why: Threshold Crossed"),
            "{}",
            notice.body
        );
        assert!(
            notice.body.contains("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/p-model-gate-errors"),
            "{}",
            notice.body
        );
        assert_eq!(notice.details["alarm"]["name"], "p-model-gate-errors");
    }

    fn job(service: JobService, name: &str, status: &str, tag: Option<&str>) -> Incoming {
        Incoming::Job(JobChange {
            service,
            name: name.into(),
            status: status.into(),
            reason: Some("AlgorithmError".into()),
            tags: tag
                .map(|t| BTreeMap::from([("project".to_owned(), t.to_owned())]))
                .unwrap_or_default(),
            run_id: None,
            started: None,
            ended: None,
        })
    }

    /// A job of the training workflow: tagged with the project and the run's trigger, as trigger-training tags it.
    fn workflow_job(service: JobService, name: &str) -> Incoming {
        let Incoming::Job(mut job) = job(service, name, "Failed", Some("p")) else {
            unreachable!()
        };
        job.tags.insert("trigger".into(), "data".into());
        Incoming::Job(job)
    }

    #[test]
    fn only_the_projects_failed_jobs_notify() {
        use JobService::{Glue, Processing, Training, Transform};
        let failed = Some((NoticeKind::JobFailed, Severity::Critical));
        let table = [
            (job(Training, "tickets-1", "Failed", Some("p")), failed),
            (job(Transform, "p-batch-1", "Failed", None), failed),
            (job(Glue, "p-prepare", "TIMEOUT", None), failed),
            (job(Glue, "p-prepare", "ERROR", None), failed),
            (job(Processing, "other-team", "Failed", Some("q")), None),
            // Named like ours, tagged for another project (one whose name ours is a prefix of).
            (
                job(Training, "p-staging-train", "Failed", Some("p-staging")),
                None,
            ),
            (job(Glue, "other-team", "FAILED", None), None),
            (job(Training, "tickets-1", "Completed", Some("p")), None),
            (job(Transform, "p-batch-1", "Stopped", None), None),
            // The workflow's own training jobs warn: its workflow-failed notice is the page.
            (
                workflow_job(Training, "p-model-20261203"),
                Some((NoticeKind::JobFailed, Severity::Warning)),
            ),
            // A trigger tag means nothing on another service's job.
            (workflow_job(Transform, "p-batch-2"), failed),
        ];
        for (incoming, expected) in table {
            assert_eq!(
                verdict(decide(&incoming, &project(), "r")),
                expected,
                "{incoming:?}"
            );
        }
    }

    #[test]
    fn each_end_of_a_project_job_is_recorded_and_nothing_else() {
        use JobResult::{Failed, Stopped, Succeeded};
        use JobService::{Batch, Glue, Processing, Training, Transform};
        let table = [
            (
                job(Training, "tickets-1", "Completed", Some("p")),
                Some(("training", Succeeded)),
            ),
            (
                job(Training, "tickets-1", "Failed", Some("p")),
                Some(("training", Failed)),
            ),
            (
                job(Processing, "p-embed", "Stopped", None),
                Some(("processing", Stopped)),
            ),
            (
                job(Transform, "p-batch-1", "Completed", None),
                Some(("transform", Succeeded)),
            ),
            (
                job(Glue, "p-prepare", "TIMEOUT", None),
                Some(("glue", Failed)),
            ),
            (
                job(Glue, "p-prepare", "SUCCEEDED", None),
                Some(("glue", Succeeded)),
            ),
            (
                job(Batch, "p-embed", "FAILED", Some("p")),
                Some(("batch", Failed)),
            ),
            // Not an end.
            (job(Training, "tickets-1", "InProgress", Some("p")), None),
            (job(Glue, "p-prepare", "RUNNING", None), None),
            (job(Batch, "p-embed", "RUNNABLE", Some("p")), None),
            // Not ours.
            (job(Processing, "other-team", "Completed", Some("q")), None),
            (
                job(Training, "p-staging-train", "Completed", Some("p-staging")),
                None,
            ),
        ];
        for (incoming, expected) in table {
            let Incoming::Job(change) = &incoming else {
                unreachable!()
            };
            let got = job_ended(change, &project()).map(|e| (e.job_type, e.result));
            assert_eq!(got, expected, "{incoming:?}");
        }
    }

    #[test]
    fn workflows_packages_and_the_contract() {
        let ended = |status: &str, output: Option<&str>| {
            Incoming::Workflow(WorkflowChange {
                name: "e".into(),
                execution_arn: "arn:aws:states:r:1:execution:p-training:e".into(),
                state_machine_arn: "arn:aws:states:r:1:stateMachine:p-training".into(),
                status: status.into(),
                error: None,
                cause: None,
                output: output.map(str::to_owned),
            })
        };
        let workflow = |status: &str| ended(status, None);
        let rejected =
            r#"{"gate": {"verdict": {"decision": "Rejected", "training_job_name": "j"}}}"#;
        let registered = r#"{"gate": {"verdict": {"decision": "PendingManualApproval"}}}"#;
        let package = |status: Option<&str>| {
            Incoming::Package(PackageChange {
                model_package_arn: "arn:aws:sagemaker:r:1:model-package/tickets/3".into(),
                model_package_group_name: "tickets".into(),
                model_approval_status: status.map(str::to_owned),
            })
        };
        use NoticeKind as K;
        use Severity::{Critical, Info, Warning};
        let table = [
            (workflow("FAILED"), Some((K::WorkflowFailed, Critical))),
            (workflow("TIMED_OUT"), Some((K::WorkflowFailed, Critical))),
            (workflow("ABORTED"), Some((K::WorkflowFailed, Warning))),
            (workflow("SUCCEEDED"), None),
            (
                ended("SUCCEEDED", Some(rejected)),
                Some((K::ModelRejected, Warning)),
            ),
            (ended("SUCCEEDED", Some(registered)), None),
            (ended("SUCCEEDED", Some("not json")), None),
            (
                package(Some("PendingManualApproval")),
                Some((K::ModelPackageStatus, Warning)),
            ),
            (
                package(Some("Approved")),
                Some((K::ModelPackageStatus, Info)),
            ),
            (
                package(Some("Rejected")),
                Some((K::ModelPackageStatus, Info)),
            ),
            (package(None), None),
            (
                Incoming::Parameter(ParameterChange {
                    name: "/p/dataset-contract".into(),
                    operation: "Update".into(),
                }),
                Some((K::ContractChanged, Warning)),
            ),
        ];
        for (incoming, expected) in table {
            assert_eq!(
                verdict(decide(&incoming, &project(), "r")),
                expected,
                "{incoming:?}"
            );
        }
        let Decision::Notify(pending) =
            decide(&package(Some("PendingManualApproval")), &project(), "r")
        else {
            panic!("quiet");
        };
        assert_eq!(
            pending.title,
            "Model tickets version 3 waits for your approval"
        );
    }
}
