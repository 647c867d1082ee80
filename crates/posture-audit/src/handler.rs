//! The audit as a Lambda: on a daily schedule, the account audited, the ledger of findings updated, the new and
//! the resolved told in one notice, the report kept, the open findings counted; on a CloudTrail record of a change
//! that matters, that resource alone re-checked and its critical findings told at once (the rest wait for the
//! daily notice).

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use guardrails_core::function::{Function, Invocation};
use guardrails_core::metric::{OPEN_FINDINGS, dimension};
use guardrails_core::state::{Change, StateError, StateStore};
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, Notice, NoticeKind, Notifier,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::audit::{self, Audit, Service, Unchecked};
use crate::change::{self, ApiCall, Scope, Target};
use crate::check::Severity;
use crate::config::{Config, STAGE};
use crate::lifecycle::{self, Ledger, Open, Resolved, Telling};
use crate::recheck;
use crate::suppress::{self, Ignored, Suppression};
use crate::{asff, export};

/// Where the ledger of findings lives in the state bucket.
pub const LEDGER: &str = "posture-audit/ledger.json";
/// Where each run's report goes.
pub const REPORTS: &str = "posture-audit/reports/";

/// The audit function, built once per cold start.
#[derive(Debug)]
pub struct PostureAudit {
    sdk: SdkConfig,
    ssm: aws_sdk_ssm::Client,
    hub: aws_sdk_securityhub::Client,
    state: StateStore,
    notifier: Notifier,
    config: Config,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// What was checked: `account`, or the changed resource.
    pub checked: String,
    /// Findings open now.
    pub open: usize,
    /// Findings told as new in this run's notice.
    pub new: usize,
    /// Findings told as resolved.
    pub resolved: usize,
    /// Open findings a suppression silences.
    pub suppressed: usize,
    /// Suppression parameters that do not read as one (named in the report).
    pub ignored_suppressions: usize,
    /// The report's key in the state bucket (none when a record named nothing the checks judge).
    pub report: Option<String>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Some services could not be read: their findings are unknown (the rest were recorded and told).
    #[error("not checked: {0}")]
    Unchecked(String),
    /// The state bucket.
    #[error(transparent)]
    State(#[from] StateError),
    /// SNS.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl Classify for AuditError {
    fn class(&self) -> ErrorClass {
        match self {
            AuditError::Unchecked(_) => ErrorClass::Retryable,
            AuditError::State(e) => e.class(),
            AuditError::Aws(e) => e.class(),
        }
    }
}

impl PostureAudit {
    /// An audit function over these clients.
    pub fn new(sdk: SdkConfig, state: StateStore, notifier: Notifier, config: Config) -> Self {
        PostureAudit {
            ssm: aws_sdk_ssm::Client::new(&sdk),
            hub: aws_sdk_securityhub::Client::new(&sdk),
            sdk,
            state,
            notifier,
            config,
        }
    }

    /// One run at `now`: audit, record, tell, report, count.
    ///
    /// # Errors
    /// The state bucket or SNS failing; [`AuditError::Unchecked`] after everything else was done when a service
    /// could not be read (the errors alarm says so; its findings stay as they were).
    #[tracing::instrument(skip_all)]
    pub async fn run_at(&self, now: DateTime<Utc>) -> Result<Summary, AuditError> {
        let audit = audit::run(&self.sdk, now, self.config.bound, &self.config.images).await;
        let read: Vec<Service> = Service::ALL
            .into_iter()
            .filter(|s| !audit.unchecked.iter().any(|u| u.service == *s))
            .collect();
        let report = format!("{REPORTS}{}.json", now.format("%Y/%m/%d/%H%M%S"));
        // A resource that could not be read keeps its findings as they were, as an unread service does.
        let unread = audit.unread.iter().map(|u| u.resource.clone()).collect();
        self.record(
            &Scope::Except(Box::new(Scope::Services(read)), unread),
            &audit,
            Telling::All,
            now,
            "account",
            report,
        )
        .await
    }

    /// The re-check at `now` of what one API call changed (record `id`): its findings replace the resource's in
    /// the ledger; only critical ones are told now.
    ///
    /// # Errors
    /// As [`PostureAudit::run_at`]; [`AuditError::Unchecked`] when the resource could not be read.
    #[tracing::instrument(skip_all)]
    pub async fn recheck_at(
        &self,
        target: &Target,
        now: DateTime<Utc>,
        id: &str,
    ) -> Result<Summary, AuditError> {
        let region = self.sdk.region().map_or("us-east-1", |r| r.as_ref());
        let read = recheck::run(&self.sdk, region, now, target);
        let (scope, audit) = match tokio::time::timeout(self.config.bound, read).await {
            Ok(Ok(r)) => (
                r.scope,
                Audit {
                    findings: r.findings,
                    unchecked: Vec::new(),
                    unread: Vec::new(),
                },
            ),
            failed => {
                let reason = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("not read within {} s", self.config.bound.as_secs()),
                };
                let unchecked = vec![Unchecked {
                    service: target.service(),
                    reason,
                }];
                (
                    Scope::Resources(Vec::new()),
                    Audit {
                        findings: Vec::new(),
                        unchecked,
                        unread: Vec::new(),
                    },
                )
            }
        };
        // Event ids are AWS's UUIDs; kept to safe characters all the same, as they name an object.
        let id: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(64)
            .collect();
        let report = format!("{REPORTS}{}-{id}.json", now.format("%Y/%m/%d/%H%M%S"));
        let checked = target.to_string();
        self.record(&scope, &audit, Telling::Critical, now, &checked, report)
            .await
    }

    /// Records what a run read in `scope`, counts, reports, and tells what `telling` says.
    #[tracing::instrument(skip_all)]
    async fn record(
        &self,
        scope: &Scope,
        audit: &Audit,
        telling: Telling,
        now: DateTime<Utc>,
        checked: &str,
        report: String,
    ) -> Result<Summary, AuditError> {
        // Read before the ledger is touched: a run that cannot know what is accepted must not tell it, nor end it.
        let (suppressions, ignored) = self.suppressions(now).await?;
        let exporting = self.config.security_hub;
        let ledger = self
            .state
            .update::<Ledger, _>(LEDGER, |current| {
                let merged = lifecycle::merge(
                    &current.cloned().unwrap_or_default(),
                    &audit.findings,
                    scope,
                    &suppressions,
                    now,
                );
                // Without an export, a resolved finding waits only for its notice.
                Change::Write(if exporting {
                    merged
                } else {
                    lifecycle::exported(&merged, None)
                })
            })
            .await?
            .unwrap_or_default();
        // Counted first: a notice or report that fails later must not leave the critical alarm without its figure.
        for (severity, count) in lifecycle::open_by_severity(&ledger) {
            metrics::histogram!(OPEN_FINDINGS.name, dimension::SEVERITY => severity.as_str())
                .record(count as f64);
        }
        self.state
            .create(&report, &report_of(audit, &ledger, &ignored, checked, now))
            .await?;
        // Before the notice, but a Security Hub that fails does not hold a page back: the run fails after telling,
        // and its retry exports again (a resolved finding stays in the ledger until both are done).
        let export_failed = if exporting {
            self.export(&ledger, scope, now).await.err()
        } else {
            None
        };
        let (new, resolved) = lifecycle::untold(&ledger, telling);
        let (new_keys, resolved_keys): (Vec<String>, Vec<String>) = (
            new.iter().map(|o| lifecycle::key(&o.finding)).collect(),
            resolved
                .iter()
                .map(|r| lifecycle::key(&r.finding))
                .collect(),
        );
        // A suppression that does not read is said each day until it is fixed; a change's page does not carry it.
        let nagged = if telling == Telling::All {
            &ignored[..]
        } else {
            &[]
        };
        if let Some(notice) = notice(&new, &resolved, nagged, &report) {
            // Told first, marked after: a run that dies between tells again rather than never.
            self.notifier.send(&notice).await?;
            self.state
                .update::<Ledger, _>(LEDGER, |current| {
                    Change::Write(lifecycle::told(
                        &current.cloned().unwrap_or_default(),
                        &new_keys,
                        &resolved_keys,
                    ))
                })
                .await?;
        }
        if !audit.unchecked.is_empty() || !audit.unread.is_empty() {
            let list: Vec<String> = audit
                .unchecked
                .iter()
                .map(|u| format!("{:?}: {}", u.service, u.reason))
                .chain(
                    audit
                        .unread
                        .iter()
                        .map(|u| format!("{}: {}", u.resource, u.reason)),
                )
                .collect();
            return Err(AuditError::Unchecked(list.join("; ")));
        }
        if let Some(error) = export_failed {
            return Err(error);
        }
        Ok(Summary {
            checked: checked.to_owned(),
            open: ledger.open.len(),
            new: new_keys.len(),
            resolved: resolved_keys.len(),
            suppressed: ledger
                .open
                .values()
                .filter(|o| o.suppressed.is_some())
                .count(),
            ignored_suppressions: ignored.len(),
            report: Some(report),
        })
    }

    /// Imports the part of the ledger the run re-read (`scope`: all of it daily, one resource on a change) into
    /// Security Hub, then marks its resolved findings exported. (Security Hub bills each finding imported.)
    #[tracing::instrument(skip_all)]
    async fn export(
        &self,
        ledger: &Ledger,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<(), AuditError> {
        let region = self.sdk.region().map_or("us-east-1", |r| r.as_ref());
        let account = crate::gather::account(&self.sdk).await?;
        let covered = |f: &crate::check::Finding| scope.covers(f.check, &f.resource);
        let ledger = Ledger {
            open: ledger
                .open
                .iter()
                .filter(|(_, o)| covered(&o.finding))
                .map(|(k, o)| (k.clone(), o.clone()))
                .collect(),
            resolved: ledger
                .resolved
                .iter()
                .filter(|r| covered(&r.finding) || !r.exported)
                .cloned()
                .collect(),
        };
        let ledger = &ledger;
        export::import(&self.hub, region, &account, &asff::findings(ledger, now)).await?;
        let keys: Vec<String> = ledger
            .resolved
            .iter()
            .map(|r| lifecycle::key(&r.finding))
            .collect();
        self.state
            .update::<Ledger, _>(LEDGER, |current| {
                Change::Write(lifecycle::exported(
                    &current.cloned().unwrap_or_default(),
                    Some(&keys),
                ))
            })
            .await?;
        Ok(())
    }

    /// The suppressions under the configured path, and the parameters there that are not one.
    #[tracing::instrument(skip_all)]
    async fn suppressions(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Suppression>, Vec<Ignored>), AuditError> {
        let Some(path) = &self.config.suppressions else {
            return Ok((Vec::new(), Vec::new()));
        };
        let (mut valid, mut ignored) = (Vec::new(), Vec::new());
        let mut pages = self
            .ssm
            .get_parameters_by_path()
            .path(path)
            .recursive(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::from_sdk("GetParametersByPath", path.as_str(), e))?;
            for parameter in page.parameters() {
                let name = parameter.name().unwrap_or_default();
                match suppress::parse(name, parameter.value().unwrap_or_default(), now) {
                    Ok(s) => valid.push(s),
                    Err(i) => {
                        tracing::warn!(parameter = %i.name, why = %i.why, "not a suppression: ignored");
                        ignored.push(i);
                    }
                }
            }
        }
        Ok((valid, ignored))
    }
}

/// The report kept for each run: every finding, what could not be read.
fn report_of(
    audit: &Audit,
    ledger: &Ledger,
    ignored: &[Ignored],
    checked: &str,
    now: DateTime<Utc>,
) -> Value {
    let suppressed: Vec<&Open> = ledger
        .open
        .values()
        .filter(|o| o.suppressed.is_some())
        .collect();
    json!({"at": now, "checked": checked, "findings": audit.findings, "unchecked": audit.unchecked,
        "unread": audit.unread,
        "suppressed": suppressed, "ignoredSuppressions": ignored})
}

/// The one notice of a run: the new findings (critical first) and the resolved ones; none when nothing changed.
fn notice(
    new: &[&Open],
    resolved: &[&Resolved],
    ignored: &[Ignored],
    report: &str,
) -> Option<Notice> {
    if new.is_empty() && resolved.is_empty() && ignored.is_empty() {
        return None;
    }
    let worst = new.iter().map(|o| o.finding.severity).max();
    let severity = match worst {
        Some(Severity::Critical) => guardrails_core::Severity::Critical,
        Some(_) => guardrails_core::Severity::Warning,
        None => guardrails_core::Severity::Info,
    };
    let mut by_severity: BTreeMap<std::cmp::Reverse<Severity>, Vec<&Open>> = BTreeMap::new();
    for open in new {
        by_severity
            .entry(std::cmp::Reverse(open.finding.severity))
            .or_default()
            .push(open);
    }
    let mut body = String::new();
    // First: short, and a notice may be cut at its end.
    if !ignored.is_empty() {
        body.push_str(&format!(
            "{} suppression parameter(s) ignored:\n",
            ignored.len()
        ));
        for i in ignored.iter().take(10) {
            body.push_str(&format!("  - {}: {}\n", i.name, i.why));
        }
        body.push('\n');
    }
    if !new.is_empty() {
        body.push_str(&format!("{} new finding(s):\n", new.len()));
        for open in by_severity.values().flatten().take(30) {
            let f = &open.finding;
            body.push_str(&format!(
                "  - [{}] {} {}: {}\n    fix: {}\n",
                f.severity.as_str(),
                f.check.meta().id,
                f.resource,
                f.evidence,
                f.remediation
            ));
        }
        if new.len() > 30 {
            body.push_str(&format!("  … and {} more in the report\n", new.len() - 30));
        }
    }
    if !resolved.is_empty() {
        body.push_str(&format!("\n{} resolved:\n", resolved.len()));
        for r in resolved.iter().take(30) {
            body.push_str(&format!(
                "  - {} {}\n",
                r.finding.check.meta().id,
                r.finding.resource
            ));
        }
    }
    body.push_str(&format!(
        "\nThe whole report: {report} in the state bucket."
    ));
    let title = match (new.len(), resolved.len()) {
        (0, 0) => format!("Posture: {} suppression(s) ignored", ignored.len()),
        (0, r) => format!("Posture: {r} finding(s) resolved"),
        (n, 0) => format!("Posture: {n} new finding(s)"),
        (n, r) => format!("Posture: {n} new finding(s), {r} resolved"),
    };
    Some(Notice {
        severity,
        kind: NoticeKind::PostureFinding,
        title,
        body,
        details: guardrails_core::notice::details(&json!({
            "new": new.iter().take(10).map(|o| &o.finding).collect::<Vec<_>>(),
            "resolved": resolved.iter().take(10).map(|r| &r.finding).collect::<Vec<_>>(),
            "report": report,
        })),
    })
}

impl Function for PostureAudit {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = EventBridgeEvent<Value>;
    type Response = Summary;
    type Error = AuditError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        Ok(PostureAudit::new(
            sdk.clone(),
            StateStore::new(guardrails_core::aws::s3_client(sdk), &config.state_bucket),
            Notifier::from_sdk(sdk, config.common.require_notice_topic()?),
            config,
        ))
    }

    fn describe_metrics() {
        metrics::describe_histogram!(
            OPEN_FINDINGS.name,
            metrics::Unit::Count,
            "Open posture findings after each audit, by severity"
        );
    }

    /// A CloudTrail record re-checks what it changed; any other event (the schedule, a person's invoke) audits
    /// the account.
    async fn invoke(
        &self,
        event: EventBridgeEvent<Value>,
        _: Invocation<'_>,
    ) -> Result<Summary, AuditError> {
        if event.detail_type != change::DETAIL_TYPE {
            return self.run_at(Utc::now()).await;
        }
        let call: ApiCall = serde_json::from_value(event.detail).unwrap_or_default();
        match change::target(&call) {
            Some(target) => {
                self.recheck_at(&target, Utc::now(), event.id.as_deref().unwrap_or(""))
                    .await
            }
            None => {
                tracing::info!(source = %call.event_source, name = %call.event_name, "a change no check judges");
                Ok(Summary {
                    checked: "nothing".to_owned(),
                    open: 0,
                    new: 0,
                    resolved: 0,
                    suppressed: 0,
                    ignored_suppressions: 0,
                    report: None,
                })
            }
        }
    }

    fn describe(summary: &Summary) -> String {
        format!(
            "{}: {} open, {} new told, {} resolved told; report {}",
            summary.checked,
            summary.open,
            summary.new,
            summary.resolved,
            summary.report.as_deref().unwrap_or("none")
        )
    }
}
