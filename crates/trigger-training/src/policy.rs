//! Whether a trigger starts training: plain Rust, the clock passed in, no AWS types.

use chrono::{DateTime, Duration, Utc};
use guardrails_core::image::Refusal;
use serde::Serialize;

/// What asked for training.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerKind {
    /// A dataset passed its contract (`Dataset Validated`).
    NewData {
        /// The dataset name.
        dataset: String,
        /// Its data rows.
        rows: u64,
    },
    /// Drift or another guardrail asked for it (`Retraining Requested`).
    Retraining,
    /// A person invoked the function.
    Manual,
}

impl TriggerKind {
    /// A short name for execution names, tags and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            TriggerKind::NewData { .. } => "data",
            TriggerKind::Retraining => "retrain",
            TriggerKind::Manual => "manual",
        }
    }
}

/// The training state machine's recent history, as far as the decision needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// An execution with this trigger's name exists already (any status): the trigger was delivered before.
    pub already_started: bool,
    /// The name of an execution that is still running.
    pub running: Option<String>,
    /// When the newest execution started, whatever its outcome.
    pub last_start: Option<DateTime<Utc>>,
    /// The newest execution failed, timed out or was aborted.
    pub last_failed: bool,
}

/// The thresholds of the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The dataset this pipeline trains on; new data of other datasets does not count.
    pub dataset: String,
    /// New rows needed since the last successful training before new data starts one.
    pub min_new_rows: u64,
    /// Time a retraining request waits after the last start.
    pub cooldown: Duration,
}

/// Why a trigger did not start training. The name is a bounded metric dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum SkipReason {
    /// One execution at a time.
    Running {
        /// The running execution.
        execution: String,
    },
    /// Not enough new rows yet; they stay counted for the next dataset.
    NotEnoughRows {
        /// New rows since the last successful training, this dataset included.
        new_rows: u64,
        /// The minimum.
        min_new_rows: u64,
    },
    /// A retraining request inside the cooldown after the last start.
    Cooldown {
        /// When the cooldown ends.
        until: DateTime<Utc>,
    },
    /// New data of a dataset this pipeline does not train on.
    OtherDataset {
        /// The dataset of the event.
        dataset: String,
    },
    /// The ledger has no validated file of the dataset to train on.
    NoValidatedData {
        /// The dataset.
        dataset: String,
    },
    /// An image the run would use is refused by the image-scan gate (a notice names the findings).
    ImageRefused {
        /// Why.
        #[serde(flatten)]
        refusal: Refusal,
    },
}

impl SkipReason {
    /// The metric dimension value.
    pub fn as_str(&self) -> &'static str {
        match self {
            SkipReason::Running { .. } => "running",
            SkipReason::NotEnoughRows { .. } => "not-enough-rows",
            SkipReason::Cooldown { .. } => "cooldown",
            SkipReason::OtherDataset { .. } => "other-dataset",
            SkipReason::NoValidatedData { .. } => "no-validated-data",
            SkipReason::ImageRefused { .. } => "image-refused",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Running { execution } => {
                write!(f, "execution {execution} is still running")
            }
            SkipReason::NotEnoughRows {
                new_rows,
                min_new_rows,
            } => write!(
                f,
                "{new_rows} new rows since the last successful training, {min_new_rows} needed"
            ),
            SkipReason::Cooldown { until } => {
                write!(
                    f,
                    "retraining cooldown runs until {}",
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )
            }
            SkipReason::OtherDataset { dataset } => {
                write!(f, "dataset {dataset:?} is not the one this pipeline trains")
            }
            SkipReason::NoValidatedData { dataset } => {
                write!(f, "no validated file of dataset {dataset:?} to train on")
            }
            SkipReason::ImageRefused { refusal } => write!(f, "image refused: {refusal}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start an execution.
    Start,
    /// This trigger already started one: a redelivery, nothing to do.
    Duplicate,
    /// Do not start, for this reason.
    Skip(SkipReason),
}

/// Decides one trigger. `new_rows` counts rows of valid data that arrived after the last successful training
/// started (this dataset's rows included); it only matters for [`TriggerKind::NewData`].
///
/// Order matters: a redelivered trigger is a duplicate even while its own execution runs; nothing starts while
/// another runs; a person's request skips the row minimum and the cooldown, which guard against automation. The
/// cooldown holds retraining requests after any start, and new data after a failed run.
pub fn decide(
    kind: &TriggerKind,
    history: &History,
    new_rows: u64,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Decision {
    if history.already_started {
        return Decision::Duplicate;
    }
    if let TriggerKind::NewData { dataset, .. } = kind
        && dataset != &policy.dataset
    {
        return Decision::Skip(SkipReason::OtherDataset {
            dataset: dataset.clone(),
        });
    }
    if let Some(execution) = &history.running {
        return Decision::Skip(SkipReason::Running {
            execution: execution.clone(),
        });
    }
    match kind {
        TriggerKind::Manual => Decision::Start,
        TriggerKind::NewData { .. } if new_rows < policy.min_new_rows => {
            Decision::Skip(SkipReason::NotEnoughRows {
                new_rows,
                min_new_rows: policy.min_new_rows,
            })
        }
        // After a failed run, new data waits for the cooldown too: a persistent failure must not burn a GPU
        // job for every upload.
        TriggerKind::NewData { .. } => match history.last_start {
            Some(last) if history.last_failed && now < last + policy.cooldown => {
                Decision::Skip(SkipReason::Cooldown {
                    until: last + policy.cooldown,
                })
            }
            _ => Decision::Start,
        },
        TriggerKind::Retraining => match history.last_start {
            Some(last) if now < last + policy.cooldown => Decision::Skip(SkipReason::Cooldown {
                until: last + policy.cooldown,
            }),
            _ => Decision::Start,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        format!("2026-11-21T{hour:02}:00:00Z").parse().unwrap()
    }

    fn data(dataset: &str) -> TriggerKind {
        TriggerKind::NewData {
            dataset: dataset.to_owned(),
            rows: 10,
        }
    }

    #[test]
    fn decision_table() {
        let policy = Policy {
            dataset: "tickets".to_owned(),
            min_new_rows: 1000,
            cooldown: Duration::hours(6),
        };
        let idle = History::default();
        let started_at_8 = History {
            last_start: Some(at(8)),
            ..History::default()
        };
        let running = History {
            running: Some("data-abc".to_owned()),
            last_start: Some(at(8)),
            ..History::default()
        };
        let redelivered = History {
            already_started: true,
            running: Some("data-abc".to_owned()),
            last_start: Some(at(8)),
            last_failed: false,
        };
        let failed_at_8 = History {
            last_start: Some(at(8)),
            last_failed: true,
            ..History::default()
        };
        let skip = Decision::Skip;
        let rows = |new_rows| {
            skip(SkipReason::NotEnoughRows {
                new_rows,
                min_new_rows: 1000,
            })
        };
        let cooldown = skip(SkipReason::Cooldown { until: at(14) });
        let busy = skip(SkipReason::Running {
            execution: "data-abc".to_owned(),
        });
        let other = skip(SkipReason::OtherDataset {
            dataset: "emails".to_owned(),
        });

        #[rustfmt::skip]
        let table: Vec<(&str, TriggerKind, &History, u64, u32, Decision)> = vec![
            ("enough new rows, idle",            data("tickets"),         &idle,         1000, 9,  Decision::Start),
            ("rows accumulate to the minimum",   data("tickets"),         &started_at_8, 5000, 9,  Decision::Start),
            ("one row short",                    data("tickets"),         &idle,         999,  9,  rows(999)),
            ("nothing new",                      data("tickets"),         &idle,         0,    9,  rows(0)),
            ("no cooldown for new data",         data("tickets"),         &started_at_8, 1000, 9,  Decision::Start),
            ("new data after a failed run",      data("tickets"),         &failed_at_8,  5000, 9,  cooldown.clone()),
            ("new data once that cooldown ends", data("tickets"),         &failed_at_8,  5000, 14, Decision::Start),
            ("another dataset",                  data("emails"),          &idle,         5000, 9,  other.clone()),
            ("another dataset, even if running", data("emails"),          &running,      5000, 9,  other),
            ("data while running",               data("tickets"),         &running,      5000, 9,  busy.clone()),
            ("redelivered data",                 data("tickets"),         &redelivered,  5000, 9,  Decision::Duplicate),
            ("drift, never trained",             TriggerKind::Retraining, &idle,         0,    9,  Decision::Start),
            ("drift inside the cooldown",        TriggerKind::Retraining, &started_at_8, 0,    13, cooldown),
            ("drift when the cooldown ends",     TriggerKind::Retraining, &started_at_8, 0,    14, Decision::Start),
            ("drift while running",              TriggerKind::Retraining, &running,      0,    20, busy.clone()),
            ("redelivered drift",                TriggerKind::Retraining, &redelivered,  0,    20, Decision::Duplicate),
            ("manual ignores rows and cooldown", TriggerKind::Manual,     &started_at_8, 0,    9,  Decision::Start),
            ("manual waits for a running one",   TriggerKind::Manual,     &running,      0,    9,  busy),
            ("manual redelivered",               TriggerKind::Manual,     &redelivered,  0,    9,  Decision::Duplicate),
        ];
        for (case, kind, history, new_rows, hour, expected) in table {
            assert_eq!(
                decide(&kind, history, new_rows, at(hour), &policy),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn skip_reasons_read_well() {
        let reason = SkipReason::NotEnoughRows {
            new_rows: 12,
            min_new_rows: 1000,
        };
        assert_eq!(
            reason.to_string(),
            "12 new rows since the last successful training, 1000 needed"
        );
        assert_eq!(reason.as_str(), "not-enough-rows");
        let json = serde_json::to_value(SkipReason::Cooldown { until: at(14) }).unwrap();
        assert_eq!(json["reason"], "cooldown");
    }
}
