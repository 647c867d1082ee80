//! Budgets and the verdict on a day's costs: plain Rust, the day passed in, no AWS types.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

/// A cost figure and whether Cost Explorer marked any part of it as estimated.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Amount {
    /// US dollars.
    pub usd: f64,
    /// Cost Explorer flagged it as estimated (the day is not final yet).
    pub estimated: bool,
}

impl Amount {
    /// Adds another figure; the sum is estimated if either part is.
    pub fn plus(self, other: Amount) -> Amount {
        Amount {
            usd: self.usd + other.usd,
            estimated: self.estimated || other.estimated,
        }
    }
}

/// What Cost Explorer says about one complete day.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DayCosts {
    /// The day (the last complete one: Cost Explorer lags up to a day).
    pub day: NaiveDate,
    /// That day's cost per service, by Cost Explorer's service name (e.g. "Amazon SageMaker").
    pub by_service: BTreeMap<String, Amount>,
    /// Cost of the day's month from its first day through `day`.
    pub month_to_date: Amount,
    /// That day's cost per job (the job tag's value), most expensive first.
    pub top_jobs: Vec<(String, f64)>,
}

impl DayCosts {
    /// The day's total over all services.
    pub fn day_total(&self) -> Amount {
        self.by_service
            .values()
            .fold(Amount::default(), |sum, a| sum.plus(*a))
    }
}

/// The budgets to hold spend to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Budgets {
    /// All services together, per day.
    pub daily_total: Option<f64>,
    /// All services together, per calendar month (checked against the month-end projection).
    pub monthly: Option<f64>,
    /// Per service per day, by Cost Explorer's service name.
    pub per_service: BTreeMap<String, f64>,
    /// Share of a budget from which spend is "near" it, e.g. 0.8.
    pub warn_fraction: f64,
}

/// How close to a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// At or above the warning share, not over.
    Near,
    /// Above the budget.
    Over,
}

impl Level {
    /// `near` or `over`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Near => "near",
            Level::Over => "over",
        }
    }
}

/// One budget that spend reached or passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    /// `total`, `month`, or a service name.
    pub scope: String,
    /// The day (YYYY-MM-DD) or, for `month`, the month (YYYY-MM).
    pub period: String,
    /// Near or over.
    pub level: Level,
    /// Spend in USD: the day's actual, or the month-end projection for `month`.
    pub actual_usd: f64,
    /// The budget in USD.
    pub budget_usd: f64,
    /// Cost Explorer marked the figure as estimated.
    pub estimated: bool,
}

/// Days in the month of `day`.
pub fn days_in_month(day: NaiveDate) -> u32 {
    let (year, month) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|first_of_next| first_of_next.pred_opt())
        .map_or(30, |last| last.day())
}

/// Month-end spend if the month continues at its month-to-date daily rate.
pub fn month_end_projection(month_to_date: f64, day: NaiveDate) -> f64 {
    month_to_date / f64::from(day.day()) * f64::from(days_in_month(day))
}

/// Every budget the day reached: total and per service against their daily budgets, and the month-end
/// projection against the monthly budget. Ordered total, services (by name), month.
pub fn evaluate(costs: &DayCosts, budgets: &Budgets) -> Vec<Breach> {
    let day = costs.day.format("%Y-%m-%d").to_string();
    let mut breaches = Vec::new();
    let mut check = |scope: &str, period: &str, spend: Amount, budget: f64| {
        let level = if spend.usd > budget {
            Some(Level::Over)
        } else if spend.usd >= budget * budgets.warn_fraction && spend.usd > 0.0 {
            Some(Level::Near)
        } else {
            None
        };
        if let Some(level) = level {
            breaches.push(Breach {
                scope: scope.to_owned(),
                period: period.to_owned(),
                level,
                actual_usd: spend.usd,
                budget_usd: budget,
                estimated: spend.estimated,
            });
        }
    };
    if let Some(budget) = budgets.daily_total {
        check("total", &day, costs.day_total(), budget);
    }
    for (service, budget) in &budgets.per_service {
        let spend = costs.by_service.get(service).copied().unwrap_or_default();
        check(service, &day, spend, *budget);
    }
    if let Some(budget) = budgets.monthly {
        let projection = Amount {
            usd: month_end_projection(costs.month_to_date.usd, costs.day),
            estimated: costs.month_to_date.estimated,
        };
        check(
            "month",
            &costs.day.format("%Y-%m").to_string(),
            projection,
            budget,
        );
    }
    breaches
}

/// Whether the day's total passed the hard limit that allows stopping jobs.
pub fn over_hard_limit(costs: &DayCosts, hard_limit_usd: f64) -> bool {
    costs.day_total().usd > hard_limit_usd
}

/// The services the `CostUsd` metric names (Cost Explorer's names): what an NLP pipeline on AWS spends on. With
/// the budgeted services, `Other` and `Total`, they bound the metric's streams: each is a billed custom metric, so
/// a service outside the list, however expensive one day, is summed into `Other` (the notices and the run's report
/// name it).
pub const NAMED_SERVICES: [&str; 15] = [
    "Amazon SageMaker",
    "Amazon Simple Storage Service",
    // Fargate is billed under the container service that runs it.
    "Amazon Elastic Container Service",
    "Amazon Elastic Container Service for Kubernetes",
    "AWS Glue",
    "AWS Lambda",
    "Amazon Elastic Compute Cloud - Compute",
    "EC2 - Other",
    "Amazon Virtual Private Cloud",
    "AWS Key Management Service",
    "AmazonCloudWatch",
    "AWS Step Functions",
    "Amazon EC2 Container Registry (ECR)",
    "AWS CloudTrail",
    "AWS Security Hub",
];

/// The day's cost as metric series: each named or budgeted service by name, every other service summed as
/// `Other`, and `Total`.
pub fn cost_series(costs: &DayCosts, budgeted: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    let mut series = Vec::new();
    let mut other = 0.0;
    for (service, amount) in &costs.by_service {
        if NAMED_SERVICES.contains(&service.as_str()) || budgeted.contains_key(service) {
            series.push((service.clone(), amount.usd));
        } else {
            other += amount.usd;
        }
    }
    series.push(("Other".to_owned(), other));
    series.push(("Total".to_owned(), costs.day_total().usd));
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn costs(services: &[(&str, f64, bool)], month_to_date: f64) -> DayCosts {
        DayCosts {
            day: day("2026-11-10"),
            by_service: services
                .iter()
                .map(|(s, usd, estimated)| {
                    (
                        s.to_string(),
                        Amount {
                            usd: *usd,
                            estimated: *estimated,
                        },
                    )
                })
                .collect(),
            month_to_date: Amount {
                usd: month_to_date,
                estimated: false,
            },
            top_jobs: vec![],
        }
    }

    fn budgets() -> Budgets {
        Budgets {
            daily_total: Some(100.0),
            monthly: Some(2400.0),
            per_service: [("Amazon SageMaker".to_string(), 60.0)].into(),
            warn_fraction: 0.8,
        }
    }

    #[test]
    fn month_projection_uses_the_run_rate_and_month_length() {
        assert_eq!(days_in_month(day("2026-11-10")), 30);
        assert_eq!(days_in_month(day("2026-12-31")), 31);
        assert_eq!(days_in_month(day("2028-02-03")), 29);
        assert_eq!(month_end_projection(500.0, day("2026-11-10")), 1500.0);
    }

    #[test]
    fn verdicts() {
        // (services' costs, month to date) -> [(scope, level, actual)]
        type Case = (
            &'static [(&'static str, f64, bool)],
            f64,
            &'static [(&'static str, Level, f64)],
        );
        let table: &[Case] = &[
            // Well under every budget.
            (
                &[
                    ("Amazon SageMaker", 20.0, false),
                    ("AWS Lambda", 1.0, false),
                ],
                300.0,
                &[],
            ),
            // SageMaker near its 60 (>= 48), total under 80.
            (
                &[("Amazon SageMaker", 50.0, false)],
                300.0,
                &[("Amazon SageMaker", Level::Near, 50.0)],
            ),
            // SageMaker over, total near.
            (
                &[
                    ("Amazon SageMaker", 70.0, false),
                    ("Amazon Simple Storage Service", 15.0, false),
                ],
                300.0,
                &[
                    ("total", Level::Near, 85.0),
                    ("Amazon SageMaker", Level::Over, 70.0),
                ],
            ),
            // Total over without any service budget broken; the month projection (900/10*30) over 2400.
            (
                &[("Amazon Elastic Container Service", 101.0, false)],
                900.0,
                &[
                    ("total", Level::Over, 101.0),
                    ("month", Level::Over, 2700.0),
                ],
            ),
            // Month projection near (700/10*30 = 2100 >= 1920).
            (
                &[("AWS Lambda", 1.0, false)],
                700.0,
                &[("month", Level::Near, 2100.0)],
            ),
        ];
        for (services, mtd, expected) in table {
            let got: Vec<(String, Level, f64)> = evaluate(&costs(services, *mtd), &budgets())
                .into_iter()
                .map(|b| (b.scope, b.level, b.actual_usd))
                .collect();
            let expected: Vec<(String, Level, f64)> = expected
                .iter()
                .map(|(s, l, a)| (s.to_string(), *l, *a))
                .collect();
            assert_eq!(got, expected, "{services:?} mtd {mtd}");
        }
    }

    #[test]
    fn estimated_figures_stay_marked() {
        let breaches = evaluate(
            &costs(
                &[
                    ("Amazon SageMaker", 70.0, true),
                    ("AWS Lambda", 40.0, false),
                ],
                0.0,
            ),
            &budgets(),
        );
        assert!(breaches.iter().all(|b| b.estimated), "{breaches:?}");
        assert_eq!(breaches[0].period, "2026-11-10");
    }

    #[test]
    fn hard_limit_is_on_the_day_total() {
        let c = costs(
            &[
                ("Amazon SageMaker", 70.0, false),
                ("AWS Lambda", 40.0, false),
            ],
            0.0,
        );
        assert!(over_hard_limit(&c, 100.0));
        assert!(!over_hard_limit(&c, 110.0));
    }

    #[test]
    fn named_and_budgeted_services_are_their_own_series_the_rest_is_other() {
        let amount = |usd| Amount {
            usd,
            estimated: false,
        };
        let costs = DayCosts {
            by_service: [
                ("Amazon SageMaker", 40.0),
                ("Amazon Simple Storage Service", 3.0),
                ("Amazon Elastic Container Service", 7.0),
                ("Amazon Route 53", 1.5),
                ("Amazon Comprehend", 2.5),
            ]
            .into_iter()
            .map(|(s, usd)| (s.to_owned(), amount(usd)))
            .collect(),
            ..DayCosts::default()
        };
        // (budgeted services, expected series)
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, f64)]);
        let cases: [Case; 2] = [
            (
                &[],
                &[
                    ("Amazon Elastic Container Service", 7.0),
                    ("Amazon SageMaker", 40.0),
                    ("Amazon Simple Storage Service", 3.0),
                    ("Other", 4.0),
                    ("Total", 54.0),
                ],
            ),
            (
                &["Amazon Comprehend"],
                &[
                    ("Amazon Comprehend", 2.5),
                    ("Amazon Elastic Container Service", 7.0),
                    ("Amazon SageMaker", 40.0),
                    ("Amazon Simple Storage Service", 3.0),
                    ("Other", 1.5),
                    ("Total", 54.0),
                ],
            ),
        ];
        for (budgeted, expected) in cases {
            let budgeted: BTreeMap<String, f64> =
                budgeted.iter().map(|s| ((*s).to_owned(), 10.0)).collect();
            let series = cost_series(&costs, &budgeted);
            let expected: Vec<(String, f64)> = expected
                .iter()
                .map(|(s, v)| ((*s).to_owned(), *v))
                .collect();
            assert_eq!(series, expected, "budgeted {budgeted:?}");
        }
    }
}
