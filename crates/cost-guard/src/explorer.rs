//! Cost Explorer: a day's cost per service, the month to date and the day's cost per job, in at most two
//! GetCostAndUsage requests (each costs $0.01).

use std::collections::BTreeMap;

use aws_sdk_costexplorer::types::{
    DateInterval, Dimension, Expression, Granularity, GroupDefinition, GroupDefinitionType,
    ResultByTime, TagValues,
};
use chrono::{Datelike, Days, NaiveDate};
use guardrails_core::AwsError;

use crate::budget::{Amount, DayCosts};

/// How many jobs a notice lists.
pub const TOP_JOBS: usize = 5;

/// Reads costs from Cost Explorer.
#[derive(Debug, Clone)]
pub struct CostExplorer {
    client: aws_sdk_costexplorer::Client,
    metric: String,
    cost_tag: Option<(String, String)>,
    job_tag_key: Option<String>,
}

impl CostExplorer {
    /// `metric` is the Cost Explorer metric (e.g. `UnblendedCost`); `cost_tag` (key, value) restricts every
    /// figure to the project's cost-allocation tag; `job_tag_key` adds the per-job breakdown.
    pub fn new(
        client: aws_sdk_costexplorer::Client,
        metric: impl Into<String>,
        cost_tag: Option<(String, String)>,
        job_tag_key: Option<String>,
    ) -> Self {
        CostExplorer {
            client,
            metric: metric.into(),
            cost_tag,
            job_tag_key,
        }
    }

    /// The costs of `day`: one request for the month so far by service and day (the day's services and the
    /// month to date both come from it), one for the day by job when a job tag is configured.
    ///
    /// # Errors
    /// The classified Cost Explorer error.
    pub async fn day_costs(&self, day: NaiveDate) -> Result<DayCosts, AwsError> {
        let month_start = day.with_day(1).unwrap_or(day);
        let month = self
            .query(
                month_start,
                day,
                GroupDefinitionType::Dimension,
                Dimension::Service.as_str(),
            )
            .await?;
        let mut costs = DayCosts {
            day,
            ..DayCosts::default()
        };
        let day_start = day.format("%Y-%m-%d").to_string();
        for result in &month {
            let estimated = result.estimated();
            let is_day = result.time_period().map(DateInterval::start) == Some(day_start.as_str());
            for (service, usd) in self.groups(result) {
                let amount = Amount { usd, estimated };
                costs.month_to_date = costs.month_to_date.plus(amount);
                if is_day {
                    let entry = costs.by_service.entry(service).or_default();
                    *entry = entry.plus(amount);
                }
            }
        }

        if let Some(key) = &self.job_tag_key {
            let jobs = self.query(day, day, GroupDefinitionType::Tag, key).await?;
            let mut by_job: BTreeMap<String, f64> = BTreeMap::new();
            for result in &jobs {
                for (tag, usd) in self.groups(result) {
                    // Tag groups come back as "key$value"; an empty value is spend without the tag.
                    let job = tag.split_once('$').map_or(tag.as_str(), |(_, v)| v);
                    let job = if job.is_empty() { "(untagged)" } else { job };
                    *by_job.entry(job.to_owned()).or_default() += usd;
                }
            }
            let mut top: Vec<(String, f64)> =
                by_job.into_iter().filter(|(_, usd)| *usd > 0.0).collect();
            top.sort_by(|a, b| b.1.total_cmp(&a.1));
            top.truncate(TOP_JOBS);
            costs.top_jobs = top;
        }
        Ok(costs)
    }

    /// One GetCostAndUsage request for the days `first..=last`, grouped once, following pagination.
    async fn query(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        group_type: GroupDefinitionType,
        group_key: &str,
    ) -> Result<Vec<ResultByTime>, AwsError> {
        let end = last.checked_add_days(Days::new(1)).unwrap_or(last);
        let period = DateInterval::builder()
            .start(first.format("%Y-%m-%d").to_string())
            .end(end.format("%Y-%m-%d").to_string())
            .build()
            .map_err(|e| {
                AwsError::from_code("GetCostAndUsage", "Cost Explorer", None, e.to_string())
            })?;
        let filter = self.cost_tag.as_ref().map(|(key, value)| {
            Expression::builder()
                .tags(TagValues::builder().key(key).values(value).build())
                .build()
        });
        let mut results = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client
                .get_cost_and_usage()
                .time_period(period.clone())
                .granularity(Granularity::Daily)
                .metrics(&self.metric)
                .group_by(
                    GroupDefinition::builder()
                        .r#type(group_type.clone())
                        .key(group_key)
                        .build(),
                )
                .set_filter(filter.clone())
                .set_next_page_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("GetCostAndUsage", "Cost Explorer", e))?;
            results.extend(output.results_by_time().iter().cloned());
            match output.next_page_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(results),
            }
        }
    }

    /// (group key, USD) of one time period; amounts that do not parse count as zero, with a warning.
    fn groups(&self, result: &ResultByTime) -> Vec<(String, f64)> {
        result
            .groups()
            .iter()
            .map(|group| {
                let key = group.keys().first().cloned().unwrap_or_default();
                let amount = group
                    .metrics()
                    .and_then(|m| m.get(&self.metric))
                    .and_then(|m| m.amount())
                    .unwrap_or("0");
                let usd = amount.parse::<f64>().unwrap_or_else(|_| {
                    tracing::warn!(group = %key, amount, "unparsable cost amount");
                    0.0
                });
                (key, usd)
            })
            .collect()
    }
}
