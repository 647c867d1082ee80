//! One run: yesterday's costs from Cost Explorer, EMF cost metrics, one notice per breach (once per day and
//! scope), Budget Exceeded on the bus, and, when enabled, enforcement above the hard limit.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{Days, NaiveDate, Utc};
use guardrails_core::aws::SdkConfig;
use guardrails_core::domain::BudgetExceeded;
use guardrails_core::state::{Begin, Claim, StateError, StateStore};
use guardrails_core::{
    AwsError, Classify, CommonConfig, ConfigError, Env, ErrorClass, EventPublisher, Function,
    Invocation, Notice, NoticeKind, Notifier, Severity,
};
use serde::{Deserialize, Serialize};

use crate::budget::{Breach, DayCosts, Level, cost_series, evaluate, over_hard_limit};
use crate::config::{Config, Enforce, STAGE};
use crate::enforce::{Enforcer, JobAction};
use crate::explorer::CostExplorer;
use guardrails_core::metric::{COST_USD, dimension};

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum CostGuardError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// An alert's job document could not be claimed or updated.
    #[error(transparent)]
    State(#[from] StateError),
}

impl Classify for CostGuardError {
    fn class(&self) -> ErrorClass {
        match self {
            CostGuardError::Aws(e) => e.class(),
            CostGuardError::State(e) => e.class(),
        }
    }
}

/// The effects of one alert, recorded in its job document as each completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertStep {
    /// The notice went out.
    Notified,
    /// Budget Exceeded is on the bus (breaches over a budget only).
    Announced,
}

/// An alert's job data: the notice, as first composed, so a resumed alert says the same thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertJob {
    /// The notice to send.
    pub notice: Notice,
    /// The event to announce, for breaches over a budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceeded: Option<BudgetExceeded>,
}

/// What a run found and did (the Lambda response).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// The costs evaluated.
    pub costs: DayCosts,
    /// Every budget reached.
    pub breaches: Vec<Breach>,
    /// Scopes notified by this run (the others were notified earlier the same day).
    pub notified: Vec<String>,
    /// Enforcement actions (empty when off or under the hard limit).
    pub enforcement: Vec<JobAction>,
}

/// The cost-guard handler.
pub struct CostGuard {
    explorer: CostExplorer,
    state: StateStore,
    notifier: Notifier,
    events: EventPublisher,
    enforcer: Option<Enforcer>,
    config: Config,
}

impl Function for CostGuard {
    const STAGE: &'static str = STAGE;
    type Config = Config;
    type Event = EventBridgeEvent;
    type Response = RunReport;
    type Error = CostGuardError;

    fn config(env: &Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    fn common(config: &Config) -> &CommonConfig {
        &config.common
    }

    /// Clients from `sdk`; SageMaker for enforcement only when it is on (or a dry run) and a cost tag says which
    /// jobs are the project's.
    fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
        let explorer = CostExplorer::new(
            aws_sdk_costexplorer::Client::new(sdk),
            config.metric.clone(),
            config.cost_tag.clone(),
            config.job_tag_key.clone(),
        );
        let enforcer = match (&config.enforce, &config.cost_tag) {
            (Enforce::Off, _) | (_, None) => None,
            (_, Some((key, value))) => Some(Enforcer::new(
                aws_sdk_sagemaker::Client::new(sdk),
                key.clone(),
                value.clone(),
            )),
        };
        Ok(CostGuard::new(
            explorer,
            StateStore::new(guardrails_core::aws::s3_client(sdk), &config.state_bucket),
            Notifier::from_sdk(sdk, config.common.require_notice_topic()?),
            EventPublisher::from_sdk(sdk, config.common.require_event_bus()?),
            enforcer,
            config,
        ))
    }

    fn describe_metrics() {
        metrics::describe_gauge!(COST_USD.name, metrics::Unit::Count, "USD per day");
    }

    async fn invoke(
        &self,
        event: EventBridgeEvent,
        _: Invocation<'_>,
    ) -> Result<RunReport, CostGuardError> {
        self.handle(event).await
    }

    /// The verdict, then the day's total and its most expensive jobs (the job tag's values).
    fn describe(report: &RunReport) -> String {
        let mut day = format!(
            "; {} cost USD {:.2}",
            report.costs.day,
            report.costs.day_total().usd
        );
        if !report.costs.top_jobs.is_empty() {
            let jobs: Vec<String> = report
                .costs
                .top_jobs
                .iter()
                .map(|(job, usd)| format!("{job} {usd:.2}"))
                .collect();
            day.push_str(&format!(", top jobs: {}", jobs.join(", ")));
        }
        if report.breaches.is_empty() {
            return format!("within every budget{day}");
        }
        let breaches: Vec<String> = report
            .breaches
            .iter()
            .map(|b| {
                format!(
                    "{} {} USD {:.2} of {:.2}",
                    b.scope,
                    b.level.as_str(),
                    b.actual_usd,
                    b.budget_usd
                )
            })
            .collect();
        format!("over budget: {}{day}", breaches.join("; "))
    }
}

impl CostGuard {
    /// A handler over these clients and settings; `enforcer` is needed only when enforcement is on or dry-run.
    pub fn new(
        explorer: CostExplorer,
        state: StateStore,
        notifier: Notifier,
        events: EventPublisher,
        enforcer: Option<Enforcer>,
        config: Config,
    ) -> Self {
        CostGuard {
            explorer,
            state,
            notifier,
            events,
            enforcer,
            config,
        }
    }

    /// Handles the schedule's event: the run's date is the event's `time` (UTC), so a replayed event evaluates
    /// the same day.
    ///
    /// # Errors
    /// See [`CostGuard::run`].
    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, event: EventBridgeEvent) -> Result<RunReport, CostGuardError> {
        let today = event.time.unwrap_or_else(Utc::now).date_naive();
        self.run(today).await
    }

    /// Evaluates the last complete day before `today`.
    ///
    /// # Errors
    /// A Cost Explorer, S3, SNS or EventBridge failure (classified); enforcement failures are reported, not
    /// raised.
    #[tracing::instrument(skip_all)]
    pub async fn run(&self, today: NaiveDate) -> Result<RunReport, CostGuardError> {
        let day = today.checked_sub_days(Days::new(1)).unwrap_or(today);
        let costs = self.explorer.day_costs(day).await?;
        self.record_metrics(&costs);
        let breaches = evaluate(&costs, &self.config.budgets);

        let mut notified = Vec::new();
        let mut failure = None;
        for breach in &breaches {
            match self.alert_breach(breach, &costs).await {
                Ok(true) => notified.push(breach.scope.clone()),
                Ok(false) => {
                    tracing::info!(scope = %breach.scope, level = breach.level.as_str(), "already notified today");
                }
                Err(error) => {
                    tracing::error!(scope = %breach.scope, %error, "alert failed; the retry completes it");
                    failure.get_or_insert(error);
                }
            }
        }
        // Enforcement never waits on the alerts' bookkeeping: it acts even when an alert failed.
        let enforcement = self.enforce(&costs).await;
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(RunReport {
            costs,
            breaches,
            notified,
            enforcement: enforcement?,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn alert_breach(
        &self,
        breach: &Breach,
        costs: &DayCosts,
    ) -> Result<bool, CostGuardError> {
        let key = format!(
            "{}/{}-{}.json",
            breach.period,
            slug(&breach.scope),
            breach.level.as_str()
        );
        let exceeded = (breach.level == Level::Over).then(|| BudgetExceeded {
            scope: breach.scope.clone(),
            period: breach.period.clone(),
            budget_usd: breach.budget_usd,
            actual_usd: breach.actual_usd,
            estimated: breach.estimated,
        });
        let job = AlertJob {
            notice: breach_notice(breach, costs),
            exceeded,
        };
        self.alert(&key, job).await
    }

    /// Sends an alert once per job document: `false` when an earlier run finished it. A run interrupted after
    /// some of its effects is resumed by the next delivery, which does only the missing ones.
    #[tracing::instrument(skip_all)]
    async fn alert(&self, key: &str, job: AlertJob) -> Result<bool, CostGuardError> {
        let key = format!("{}{key}", self.config.marker_prefix);
        let lease = self.config.common.claim_lease;
        let mut claim = match self.state.begin(&key, job, Utc::now(), lease).await? {
            Begin::Finished(_) => return Ok(false),
            Begin::Claimed(claim) => claim,
        };
        let result = self.alert_effects(&mut claim).await;
        claim.conclude(result).await.map(|()| true)
    }

    #[tracing::instrument(skip_all)]
    async fn alert_effects(
        &self,
        claim: &mut Claim<'_, AlertStep, AlertJob>,
    ) -> Result<(), CostGuardError> {
        let job = claim.data().clone();
        claim
            .step(AlertStep::Notified, async || {
                self.notifier.send(&job.notice).await?;
                Ok::<(), CostGuardError>(())
            })
            .await?;
        if let Some(exceeded) = &job.exceeded {
            claim
                .step(AlertStep::Announced, async || {
                    self.events.publish(exceeded, &[]).await?;
                    Ok::<(), CostGuardError>(())
                })
                .await?;
        }
        Ok(())
    }

    /// Stops (or lists, in a dry run) the project's jobs when the day is over the hard limit. Every run acts
    /// (stopping is idempotent, and a job started after an earlier run is caught); each distinct set of
    /// outcomes is notified once.
    #[tracing::instrument(skip_all)]
    async fn enforce(&self, costs: &DayCosts) -> Result<Vec<JobAction>, CostGuardError> {
        let (Some(enforcer), Some(limit)) = (&self.enforcer, self.config.hard_limit_usd) else {
            return Ok(Vec::new());
        };
        if self.config.enforce == Enforce::Off || !over_hard_limit(costs, limit) {
            return Ok(Vec::new());
        }
        let dry_run = self.config.enforce == Enforce::DryRun;
        let actions = enforcer.stop_project_jobs(dry_run).await;
        if actions.is_empty() {
            return Ok(actions);
        }
        let mut identity: Vec<String> = actions
            .iter()
            .map(|a| format!("{}\0{}\0{}", a.kind, a.name, a.outcome))
            .collect();
        identity.sort();
        let key = format!(
            "{}/enforcement{}-{:016x}.json",
            costs.day.format("%Y-%m-%d"),
            if dry_run { "-dry-run" } else { "" },
            xxhash_rust::xxh3::xxh3_64(identity.join("\n").as_bytes())
        );
        let job = AlertJob {
            notice: enforcement_notice(&actions, costs, limit, dry_run),
            exceeded: None,
        };
        self.alert(&key, job).await?;
        Ok(actions)
    }

    fn record_metrics(&self, costs: &DayCosts) {
        for (service, usd) in cost_series(costs, &self.config.budgets.per_service) {
            let labels = [(dimension::SERVICE, service)];
            metrics::gauge!(COST_USD.name, &labels).set(usd);
        }
        // A job per metric stream would be unbounded: each job's cost is a log line instead, which the
        // dashboard's per-job table reads with Logs Insights.
        for (job, usd) in &costs.top_jobs {
            tracing::info!(day = %costs.day, job = %job, usd, "{JOB_COST_LOG}");
        }
    }
}

/// The message of the log line cost-guard writes per job and day (`day`, `job`, `usd` fields), which the
/// dashboard's "cost per job" table queries.
pub const JOB_COST_LOG: &str = "job cost";

/// A key-safe form of a scope ("Amazon SageMaker" → "amazon-sagemaker").
fn slug(scope: &str) -> String {
    scope
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn usd(amount: f64) -> String {
    format!("${amount:.2}")
}

fn breach_notice(breach: &Breach, costs: &DayCosts) -> Notice {
    let what = match breach.scope.as_str() {
        "total" => "Total spend".to_owned(),
        "month" => "Projected month-end spend".to_owned(),
        service => format!("{service} spend"),
    };
    let verb = match breach.level {
        Level::Over => "is over",
        Level::Near => "is near",
    };
    let estimated = if breach.estimated {
        " (estimated by Cost Explorer)"
    } else {
        ""
    };
    let mut body = format!(
        "{what} for {} {verb} its budget: {} of {} ({:.0}%){estimated}.\n",
        breach.period,
        usd(breach.actual_usd),
        usd(breach.budget_usd),
        breach.actual_usd / breach.budget_usd * 100.0
    );
    body.push_str(&format!(
        "\nDay total {}: {}. Month to date: {}.\n",
        costs.day,
        usd(costs.day_total().usd),
        usd(costs.month_to_date.usd)
    ));
    if !costs.top_jobs.is_empty() {
        body.push_str("\nMost expensive jobs that day:\n");
        for (job, cost) in &costs.top_jobs {
            body.push_str(&format!("  - {job}: {}\n", usd(*cost)));
        }
    }
    body.push_str("\nCost Explorer lags up to a day; figures can still change.");
    Notice {
        severity: match breach.level {
            Level::Over => Severity::Critical,
            Level::Near => Severity::Warning,
        },
        kind: match breach.level {
            Level::Over => NoticeKind::BudgetOver,
            Level::Near => NoticeKind::BudgetNear,
        },
        title: format!(
            "{what} {verb} budget: {} of {} ({})",
            usd(breach.actual_usd),
            usd(breach.budget_usd),
            breach.period
        ),
        body,
        details: guardrails_core::notice::details(
            &serde_json::json!({"breach": breach, "topJobs": costs.top_jobs}),
        ),
    }
}

fn enforcement_notice(
    actions: &[JobAction],
    costs: &DayCosts,
    limit: f64,
    dry_run: bool,
) -> Notice {
    let mut body = format!(
        "Spend on {} was {}, above the hard limit of {}. {}\n\n",
        costs.day,
        usd(costs.day_total().usd),
        usd(limit),
        if dry_run {
            "Dry run: nothing was stopped; these jobs would have been:"
        } else {
            "The project's in-progress SageMaker jobs:"
        }
    );
    for action in actions {
        body.push_str(&format!(
            "  - {} job {}: {}\n",
            action.kind, action.name, action.outcome
        ));
    }
    Notice {
        severity: Severity::Critical,
        kind: NoticeKind::CostEnforcement,
        title: format!(
            "{} {} job(s) over the {} hard limit",
            if dry_run { "Would stop" } else { "Stopping" },
            actions.len(),
            usd(limit)
        ),
        body,
        details: serde_json::json!({"actions": actions, "dryRun": dry_run}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_key_safe() {
        assert_eq!(slug("Amazon SageMaker"), "amazon-sagemaker");
        assert_eq!(slug("total"), "total");
    }

    #[test]
    fn the_run_reads_as_its_verdict_day_total_and_top_jobs() {
        let costs = DayCosts {
            day: "2026-11-12".parse().unwrap(),
            by_service: [(
                "Amazon SageMaker".to_owned(),
                crate::budget::Amount {
                    usd: 14.0,
                    estimated: false,
                },
            )]
            .into(),
            top_jobs: vec![
                ("tickets-1112".to_owned(), 12.0),
                ("(untagged)".to_owned(), 2.0),
            ],
            ..DayCosts::default()
        };
        let report = RunReport {
            costs,
            breaches: vec![],
            notified: vec![],
            enforcement: vec![],
        };
        assert_eq!(
            CostGuard::describe(&report),
            "within every budget; 2026-11-12 cost USD 14.00, top jobs: tickets-1112 12.00, (untagged) 2.00"
        );
    }
}
