//! One run: yesterday's costs from Cost Explorer, EMF cost metrics, one notice per breach (once per day and
//! scope), Budget Exceeded on the bus, and, when enabled, enforcement above the hard limit.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{Days, NaiveDate, Utc};
use guardrails_core::aws::SdkConfig;
use guardrails_core::domain::BudgetExceeded;
use guardrails_core::s3::put_if_absent;
use guardrails_core::{
    AwsError, Classify, ConfigError, ErrorClass, EventPublisher, Notice, Notifier, ObjectRef,
    Severity,
};
use serde::Serialize;

use crate::budget::{Breach, DayCosts, Level, evaluate, over_hard_limit};
use crate::config::{Config, Enforce};
use crate::enforce::{Enforcer, JobAction};
use crate::explorer::CostExplorer;

/// Metric: a day's cost in USD, by service (budgeted services by name, the rest as `Other`) and `Total`.
pub const COST_USD: &str = "CostUsd";
/// The label of [`COST_USD`].
pub const SERVICE_DIMENSION: &str = "Service";

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum CostGuardError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl Classify for CostGuardError {
    fn class(&self) -> ErrorClass {
        match self {
            CostGuardError::Aws(e) => e.class(),
        }
    }
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
    s3: aws_sdk_s3::Client,
    notifier: Notifier,
    events: EventPublisher,
    enforcer: Option<Enforcer>,
    config: Config,
}

impl CostGuard {
    /// A handler over these clients and settings; `enforcer` is needed only when enforcement is on or dry-run.
    pub fn new(
        explorer: CostExplorer,
        s3: aws_sdk_s3::Client,
        notifier: Notifier,
        events: EventPublisher,
        enforcer: Option<Enforcer>,
        config: Config,
    ) -> Self {
        CostGuard {
            explorer,
            s3,
            notifier,
            events,
            enforcer,
            config,
        }
    }

    /// The function as Lambda runs it: clients from `sdk`; SageMaker for enforcement only when it is on (or a
    /// dry run) and a cost tag says which jobs are the project's.
    ///
    /// # Errors
    /// No notice topic configured.
    pub fn from_sdk(sdk: &SdkConfig, config: Config) -> Result<Self, ConfigError> {
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
            guardrails_core::aws::s3_client(sdk),
            Notifier::from_sdk(sdk, config.common.require_notice_topic()?),
            EventPublisher::from_sdk(sdk, &config.common.event_bus_name),
            enforcer,
            config,
        ))
    }

    /// Handles the schedule's event: the run's date is the event's `time` (UTC), so a replayed event evaluates
    /// the same day.
    ///
    /// # Errors
    /// See [`CostGuard::run`].
    pub async fn handle(&self, event: EventBridgeEvent) -> Result<RunReport, CostGuardError> {
        let today = event.time.unwrap_or_else(Utc::now).date_naive();
        self.run(today).await
    }

    /// Evaluates the last complete day before `today`.
    ///
    /// # Errors
    /// A Cost Explorer, S3, SNS or EventBridge failure (classified); enforcement failures are reported, not
    /// raised.
    pub async fn run(&self, today: NaiveDate) -> Result<RunReport, CostGuardError> {
        let day = today.checked_sub_days(Days::new(1)).unwrap_or(today);
        let costs = self.explorer.day_costs(day).await?;
        self.record_metrics(&costs);
        let breaches = evaluate(&costs, &self.config.budgets);

        let mut notified = Vec::new();
        for breach in &breaches {
            let marker = self.marker(&format!(
                "{}/{}-{}.json",
                breach.period,
                slug(&breach.scope),
                breach.level.as_str()
            ));
            let body = serde_json::to_vec(breach).unwrap_or_default();
            if !put_if_absent(&self.s3, &marker, body).await? {
                tracing::info!(scope = %breach.scope, level = breach.level.as_str(), "already notified today");
                continue;
            }
            self.notifier.send(&breach_notice(breach, &costs)).await?;
            if breach.level == Level::Over {
                self.events
                    .publish(
                        &BudgetExceeded {
                            scope: breach.scope.clone(),
                            period: breach.period.clone(),
                            budget_usd: breach.budget_usd,
                            actual_usd: breach.actual_usd,
                            estimated: breach.estimated,
                        },
                        &[],
                    )
                    .await?;
            }
            notified.push(breach.scope.clone());
        }

        let enforcement = self.enforce(&costs).await?;
        Ok(RunReport {
            costs,
            breaches,
            notified,
            enforcement,
        })
    }

    async fn enforce(&self, costs: &DayCosts) -> Result<Vec<JobAction>, CostGuardError> {
        let (Some(enforcer), Some(limit)) = (&self.enforcer, self.config.hard_limit_usd) else {
            return Ok(Vec::new());
        };
        if self.config.enforce == Enforce::Off || !over_hard_limit(costs, limit) {
            return Ok(Vec::new());
        }
        let dry_run = self.config.enforce == Enforce::DryRun;
        let actions = enforcer.stop_project_jobs(dry_run).await;
        let marker = self.marker(&format!(
            "{}/enforcement{}.json",
            costs.day.format("%Y-%m-%d"),
            if dry_run { "-dry-run" } else { "" }
        ));
        let body = serde_json::to_vec(&actions).unwrap_or_default();
        if !actions.is_empty() && put_if_absent(&self.s3, &marker, body).await? {
            self.notifier
                .send(&enforcement_notice(&actions, costs, limit, dry_run))
                .await?;
        }
        Ok(actions)
    }

    fn record_metrics(&self, costs: &DayCosts) {
        let mut other = 0.0;
        for (service, amount) in &costs.by_service {
            if self.config.budgets.per_service.contains_key(service) {
                let labels = [(SERVICE_DIMENSION, service.clone())];
                metrics::gauge!(COST_USD, &labels).set(amount.usd);
            } else {
                other += amount.usd;
            }
        }
        metrics::gauge!(COST_USD, SERVICE_DIMENSION => "Other").set(other);
        metrics::gauge!(COST_USD, SERVICE_DIMENSION => "Total").set(costs.day_total().usd);
    }

    fn marker(&self, name: &str) -> ObjectRef {
        ObjectRef::new(
            self.config.marker_bucket.clone(),
            format!("{}{name}", self.config.marker_prefix),
        )
    }
}

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
        kind: format!("budget-{}", breach.level.as_str()),
        title: format!(
            "{what} {verb} budget: {} of {} ({})",
            usd(breach.actual_usd),
            usd(breach.budget_usd),
            breach.period
        ),
        body,
        details: serde_json::json!({"breach": breach, "topJobs": costs.top_jobs}),
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
        kind: "cost-enforcement".to_owned(),
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
}
