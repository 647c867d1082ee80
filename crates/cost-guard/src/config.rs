//! cost-guard settings, read once at cold start.

use std::collections::BTreeMap;

use guardrails_core::{CommonConfig, ConfigError, Env};

use crate::budget::Budgets;

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::COST_GUARD;

/// Cost Explorer metrics a budget can be held against.
const METRICS: [&str; 5] = [
    "UnblendedCost",
    "BlendedCost",
    "AmortizedCost",
    "NetUnblendedCost",
    "NetAmortizedCost",
];

/// What to do above the hard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforce {
    /// Alert only (the default).
    Off,
    /// Report which jobs would be stopped, stop none.
    DryRun,
    /// Stop the project's in-progress jobs.
    On,
}

/// cost-guard configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings (bus, metrics namespace, notice topic).
    pub common: CommonConfig,
    /// The budgets (`DAILY_BUDGET_USD`, `MONTHLY_BUDGET_USD`, `SERVICE_BUDGETS_USD` as a JSON object of Cost
    /// Explorer service names to daily USD, `WARN_PERCENT` default 80).
    pub budgets: Budgets,
    /// The Cost Explorer metric (`COST_METRIC`, default `UnblendedCost`).
    pub metric: String,
    /// The project's cost-allocation tag, `key=value` (`COST_TAG`): filters every figure, and marks the jobs
    /// enforcement may stop.
    pub cost_tag: Option<(String, String)>,
    /// The tag that names a job (`JOB_TAG_KEY`), for the per-job breakdown.
    pub job_tag_key: Option<String>,
    /// The state bucket (`STATE_BUCKET`), where each alert's job document lives.
    pub state_bucket: String,
    /// Key prefix of those documents (`MARKER_PREFIX`, default `cost-guard/`).
    pub marker_prefix: String,
    /// `ENFORCE`: `off` (default), `dry-run` or `on`.
    pub enforce: Enforce,
    /// Day total above which enforcement acts (`HARD_LIMIT_USD`), required unless `ENFORCE=off`.
    pub hard_limit_usd: Option<f64>,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        common.require_notice_topic()?;
        let state_bucket = common.require_state_bucket()?.to_owned();
        let per_service: BTreeMap<String, f64> = env
            .parse_with("SERVICE_BUDGETS_USD", |json| {
                serde_json::from_str(json).map_err(|e| {
                    format!("expected a JSON object of service name to USD per day: {e}")
                })
            })?
            .unwrap_or_default();
        let daily_total = optional_usd(env, "DAILY_BUDGET_USD")?;
        let monthly = optional_usd(env, "MONTHLY_BUDGET_USD")?;
        if daily_total.is_none() && monthly.is_none() && per_service.is_empty() {
            return Err(ConfigError::Missing {
                name: "DAILY_BUDGET_USD (or MONTHLY_BUDGET_USD or SERVICE_BUDGETS_USD)",
            });
        }
        let warn_percent = parse_warn_percent(env)?;
        let metric = env
            .parse_with("COST_METRIC", parse_cost_metric)?
            .unwrap_or_else(|| "UnblendedCost".to_owned());
        let cost_tag = env.parse_with("COST_TAG", parse_cost_tag)?;
        let enforce = env
            .parse_with("ENFORCE", parse_enforce)?
            .unwrap_or(Enforce::Off);
        let hard_limit_usd = optional_usd(env, "HARD_LIMIT_USD")?;
        if enforce != Enforce::Off {
            if hard_limit_usd.is_none() {
                return Err(ConfigError::Missing {
                    name: "HARD_LIMIT_USD",
                });
            }
            if cost_tag.is_none() {
                return Err(ConfigError::Missing { name: "COST_TAG" });
            }
        }
        Ok(Config {
            common,
            budgets: Budgets {
                daily_total,
                monthly,
                per_service,
                warn_fraction: warn_percent / 100.0,
            },
            metric,
            cost_tag,
            job_tag_key: env.optional("JOB_TAG_KEY"),
            state_bucket,
            marker_prefix: env.prefix_or("MARKER_PREFIX", "cost-guard/"),
            enforce,
            hard_limit_usd,
        })
    }
}

/// `WARN_PERCENT` (default 80): the share of a budget at which a warning goes out, 0 to 100.
fn parse_warn_percent(env: &Env) -> Result<f64, ConfigError> {
    let warn_percent: f64 = env.parse_or("WARN_PERCENT", 80.0)?;
    if !(0.0..=100.0).contains(&warn_percent) {
        return Err(ConfigError::invalid(
            "WARN_PERCENT",
            warn_percent.to_string(),
            "must be between 0 and 100",
        ));
    }
    Ok(warn_percent)
}

/// A Cost Explorer metric a budget can be held against.
fn parse_cost_metric(metric: &str) -> Result<String, String> {
    if METRICS.contains(&metric) {
        Ok(metric.to_owned())
    } else {
        Err(format!("must be one of {}", METRICS.join(", ")))
    }
}

/// A `key=value` tag, trimmed; the key must not be empty.
fn parse_cost_tag(pair: &str) -> Result<(String, String), &'static str> {
    match pair.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err("expected key=value"),
    }
}

/// `off`, `dry-run` or `on`.
fn parse_enforce(value: &str) -> Result<Enforce, &'static str> {
    match value {
        "off" => Ok(Enforce::Off),
        "dry-run" => Ok(Enforce::DryRun),
        "on" => Ok(Enforce::On),
        _ => Err("expected off, dry-run or on"),
    }
}

fn optional_usd(env: &Env, name: &'static str) -> Result<Option<f64>, ConfigError> {
    match env.optional(name) {
        None => Ok(None),
        Some(_) => {
            let usd: f64 = env.parse_required(name)?;
            if usd.is_finite() && usd > 0.0 {
                Ok(Some(usd))
            } else {
                Err(ConfigError::invalid(
                    name,
                    usd.to_string(),
                    "must be a positive amount of USD",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 4] = [
        ("EVENT_BUS_NAME", "bus"),
        (
            "NOTICE_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:notices",
        ),
        ("STATE_BUCKET", "state"),
        ("DAILY_BUDGET_USD", "100"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        Config::from_env(&Env::from_pairs(pairs))
    }

    #[test]
    fn defaults() {
        let config = with(&[]).unwrap();
        assert_eq!(config.budgets.daily_total, Some(100.0));
        assert_eq!(config.budgets.warn_fraction, 0.8);
        assert_eq!(config.metric, "UnblendedCost");
        assert_eq!(config.enforce, Enforce::Off);
    }

    #[test]
    fn service_budgets_and_tags_parse() {
        let config = with(&[
            (
                "SERVICE_BUDGETS_USD",
                r#"{"Amazon SageMaker": 60, "AWS Lambda": 2.5}"#,
            ),
            ("COST_TAG", "project=mlops-guardrails"),
            ("ENFORCE", "dry-run"),
            ("HARD_LIMIT_USD", "250"),
        ])
        .unwrap();
        assert_eq!(config.budgets.per_service["Amazon SageMaker"], 60.0);
        assert_eq!(
            config.cost_tag,
            Some(("project".to_owned(), "mlops-guardrails".to_owned()))
        );
        assert_eq!(config.enforce, Enforce::DryRun);
    }

    #[test]
    fn bad_settings_are_named() {
        let table: [(&[(&'static str, &'static str)], &str); 6] = [
            (&[("SERVICE_BUDGETS_USD", "[1, 2]")], "SERVICE_BUDGETS_USD"),
            (&[("DAILY_BUDGET_USD", "-5")], "DAILY_BUDGET_USD"),
            (&[("COST_METRIC", "Cheapest")], "COST_METRIC"),
            (&[("COST_TAG", "project")], "COST_TAG"),
            (&[("ENFORCE", "yes")], "ENFORCE"),
            (
                &[("ENFORCE", "on"), ("COST_TAG", "project=x")],
                "HARD_LIMIT_USD",
            ),
        ];
        for (extra, name) in table {
            let error = with(extra).unwrap_err().to_string();
            assert!(error.contains(name), "{extra:?}: {error}");
        }
        let no_budget = Config::from_env(&Env::from_pairs(BASE[..3].iter().copied())).unwrap_err();
        assert!(
            no_budget.to_string().contains("DAILY_BUDGET_USD"),
            "{no_budget}"
        );
    }
}
