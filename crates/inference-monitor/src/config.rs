//! inference-monitor settings, read once at cold start.

use guardrails_core::{CommonConfig, ConfigError, Env, ObjectRef};

use text_monitor::capture::Reading;
use text_monitor::drift::Limits;
use text_monitor::monitor::Settings;
use text_monitor::prediction::Fields;

use crate::window::MAX_LABEL_WINDOW_HOURS;

/// The metric `Stage` dimension and log name of this function.
pub const STAGE: &str = guardrails_core::metric::stage::INFERENCE_MONITOR;

/// inference-monitor configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Shared settings.
    pub common: CommonConfig,
    /// The model package group whose serving version (the newest Approved) the batches come from
    /// (`MODEL_PACKAGE_GROUP`).
    pub model_package_group: String,
    /// The `Model` metric dimension (`MODEL_NAME`, default the group): one value per deployment, so bounded.
    pub model: String,
    /// The state bucket, where each version's lineage record and baseline are kept (`STATE_BUCKET`).
    pub state_bucket: String,
    /// The KMS key lineage records are signed with, to verify them (`LINEAGE_KEY_ID`).
    pub lineage_key_id: String,
    /// Where lineage records are in the state bucket (`LINEAGE_PREFIX`, default `lineage/`).
    pub lineage_prefix: String,
    /// Output files are the keys ending with this (`OUTPUT_SUFFIX`, default `.out`, SageMaker's).
    pub output_suffix: String,
    /// The engine's settings, for batches and hours alike: how answers, texts and ground truth are read
    /// (`LABEL_FIELD`, `CONFIDENCE_FIELD`, `PROBABILITIES_FIELD`, `PROBABILITY_TOLERANCE`, `TEXT_FIELD`,
    /// `GROUND_TRUTH_LABEL_FIELD`, `SEGMENT_FIELD`, `RECORD_ID_FIELD`), the catch-all label (`OTHER_LABEL`,
    /// `Otros`), the low-confidence threshold (`LOW_CONFIDENCE`, 0.5), the input-drift limits and the minimum
    /// samples; `min_f1` is the serving version's, per hour.
    pub settings: Settings,
    /// The hourly run over real-time capture, when `CAPTURE_URI` is set.
    pub hourly: Option<Hourly>,
    /// Model quality in batch serving, when `GROUND_TRUTH_URI` is set without `CAPTURE_URI`.
    pub batch_truth: Option<BatchTruth>,
}

/// The F1 a serving version must keep against ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct F1Limit {
    /// The serving version's validation F1 in its lineage record (`F1_METRIC`, `validation:weighted_f1`).
    pub metric: String,
    /// How far under that F1 the weighted F1 against ground truth may fall, significantly, before it is a
    /// violation (`MAX_F1_DROP`, 0.05).
    pub max_drop: f64,
}

/// Model quality in batch serving: each completed batch's answers are kept by record id, and each ground-truth
/// upload joins the label window's labels with the kept answers of the version serving now.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchTruth {
    /// Ground truth, with Model Monitor's `yyyy/mm/dd/hh/` below (`GROUND_TRUTH_URI`).
    pub ground_truth: ObjectRef,
    /// Hours a label may arrive after its batch (`LABEL_WINDOW_HOURS`, 24, at most 168).
    pub label_window_hours: u32,
    /// The F1 to keep.
    pub f1: F1Limit,
}

/// The hourly run's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Hourly {
    /// The endpoint's data capture: `s3://bucket/prefix/<endpoint>/` as SageMaker writes it, with its variants'
    /// `<variant>/yyyy/mm/dd/hh/` below (`CAPTURE_URI`).
    pub capture: ObjectRef,
    /// Ground truth in Model Monitor's format, with `yyyy/mm/dd/hh/` below (`GROUND_TRUTH_URI`); none: model
    /// quality is not measured.
    pub ground_truth: Option<ObjectRef>,
    /// Hours of capture a label may arrive after (`LABEL_WINDOW_HOURS`, 24, at most 168).
    pub label_window_hours: u32,
    /// The F1 to keep.
    pub f1: F1Limit,
    /// Hours whose capture is larger than one invocation should read are fanned out; `None`: every hour is read
    /// by the run that judges it.
    pub fan_out: Option<FanOut>,
}

/// How a large hour is read in parts: a Step Functions Distributed Map over the parts of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct FanOut {
    /// The state machine (`FAN_OUT_STATE_MACHINE_ARN`: `infra/statemachine/monitor-hour.asl.json`).
    pub state_machine_arn: String,
    /// The capture one invocation reads, in bytes (`PART_BYTES`, [`DEFAULT_PART_BYTES`]): an hour with more is
    /// read in parts of about this size.
    pub part_bytes: u64,
}

/// Default of `PART_BYTES`: 4 GiB, about 70 s at the 60 MB/s a 1 GB function parses (about 0.6 of a vCPU), far
/// inside Lambda's 15 minutes, with room for the label window's ground truth.
pub const DEFAULT_PART_BYTES: u64 = 4 << 30;

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        let state_bucket = common.require_state_bucket()?.to_owned();
        let model_package_group = env.required("MODEL_PACKAGE_GROUP")?;
        let model = env.optional_or("MODEL_NAME", &model_package_group);
        // It names the hour reports' keys: one model's may not reach into another's (`x/answers`).
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if model.is_empty() || model.len() > 255 || !model.chars().all(plain) {
            return Err(ConfigError::invalid(
                "MODEL_NAME",
                model,
                "1 to 255 letters, digits, '-', '_' or '.'",
            ));
        }
        Ok(Config {
            common,
            model,
            model_package_group,
            state_bucket,
            lineage_key_id: env.required("LINEAGE_KEY_ID")?,
            lineage_prefix: env
                .prefix_or("LINEAGE_PREFIX", guardrails_core::lineage::DEFAULT_PREFIX),
            output_suffix: env.optional_or("OUTPUT_SUFFIX", ".out"),
            settings: settings(env)?,
            hourly: Hourly::from_env(env)?,
            batch_truth: BatchTruth::from_env(env)?,
        })
    }
}

/// The engine's settings.
fn settings(env: &Env) -> Result<Settings, ConfigError> {
    let defaults = Settings::default();
    let limits = Limits {
        psi: env.parse_or("MAX_TEXT_PSI", defaults.limits.psi)?,
        empty_share: env.fraction_or("MAX_EMPTY_SHARE_SHIFT", defaults.limits.empty_share)?,
        out_of_vocabulary: env.fraction_or("MAX_OOV_RATE", defaults.limits.out_of_vocabulary)?,
        min_texts: env.parse_or("MIN_TEXTS", defaults.limits.min_texts)?,
    };
    let reading = Reading {
        text_field: env.optional_or("TEXT_FIELD", "text"),
        fields: Fields {
            label: env.optional_or("LABEL_FIELD", "label"),
            confidence: env.optional_or("CONFIDENCE_FIELD", "confidence"),
            probabilities: env.optional_or("PROBABILITIES_FIELD", "probabilities"),
            tolerance: env.fraction_or("PROBABILITY_TOLERANCE", 0.01)?,
        },
        label_field: env.optional_or("GROUND_TRUTH_LABEL_FIELD", "label"),
        segment_field: env.optional("SEGMENT_FIELD"),
        record_id_field: env.optional_or("RECORD_ID_FIELD", "id"),
    };
    Ok(Settings {
        reading,
        limits,
        low_confidence: env.fraction_or("LOW_CONFIDENCE", 0.5)?,
        other_label: env.optional_or("OTHER_LABEL", "Otros"),
        min_f1: None,
        min_labelled: env.parse_or("MIN_LABELLED", defaults.min_labelled)?,
        max_waiting: env.parse_or("MAX_WAITING", defaults.max_waiting)?,
        max_recall_gap: env.fraction_or("MAX_RECALL_GAP", defaults.max_recall_gap)?,
        min_segment_support: env.parse_or("MIN_SEGMENT_SUPPORT", defaults.min_segment_support)?,
    })
}

fn uri(env: &Env, name: &'static str) -> Result<Option<ObjectRef>, ConfigError> {
    env.optional(name)
        .map(|value| {
            ObjectRef::parse_uri(&value)
                .ok_or_else(|| ConfigError::invalid(name, &value, "not an s3://bucket/prefix/ URI"))
        })
        .transpose()
}

impl Hourly {
    /// The hourly run's settings; `None` without `CAPTURE_URI`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the malformed variable.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(capture) = uri(env, "CAPTURE_URI")? else {
            return Ok(None);
        };
        Ok(Some(Hourly {
            capture,
            ground_truth: uri(env, "GROUND_TRUTH_URI")?,
            label_window_hours: label_window_hours(env)?,
            f1: F1Limit::from_env(env)?,
            fan_out: FanOut::from_env(env)?,
        }))
    }
}

impl BatchTruth {
    /// `None` with `CAPTURE_URI` (the hourly run joins the ground truth) or without `GROUND_TRUTH_URI`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the malformed variable.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        if env.optional("CAPTURE_URI").is_some() {
            return Ok(None);
        }
        let Some(ground_truth) = uri(env, "GROUND_TRUTH_URI")? else {
            return Ok(None);
        };
        Ok(Some(BatchTruth {
            ground_truth,
            label_window_hours: label_window_hours(env)?,
            f1: F1Limit::from_env(env)?,
        }))
    }
}

impl F1Limit {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(F1Limit {
            metric: env.optional_or("F1_METRIC", "validation:weighted_f1"),
            max_drop: env.fraction_or("MAX_F1_DROP", 0.05)?,
        })
    }

    /// The weighted F1 `metrics` (a lineage record's) call for: the validation F1 less the allowed drop.
    pub fn min_f1(&self, metrics: &std::collections::BTreeMap<String, f64>) -> Option<f64> {
        metrics
            .get(&self.metric)
            .map(|f1| (f1 - self.max_drop).max(0.0))
    }
}

/// `LABEL_WINDOW_HOURS`: 24 by default, 1 to 168.
fn label_window_hours(env: &Env) -> Result<u32, ConfigError> {
    let hours: u32 = env.parse_or("LABEL_WINDOW_HOURS", 24)?;
    if !(1..=MAX_LABEL_WINDOW_HOURS).contains(&hours) {
        return Err(ConfigError::invalid(
            "LABEL_WINDOW_HOURS",
            hours.to_string(),
            "hours from 1 to 168",
        ));
    }
    Ok(hours)
}

impl FanOut {
    /// `None` without `FAN_OUT_STATE_MACHINE_ARN`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the malformed variable.
    fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(state_machine_arn) = env.optional("FAN_OUT_STATE_MACHINE_ARN") else {
            return Ok(None);
        };
        if !state_machine_arn.starts_with("arn:") || !state_machine_arn.contains(":stateMachine:") {
            return Err(ConfigError::invalid(
                "FAN_OUT_STATE_MACHINE_ARN",
                state_machine_arn,
                "not a state machine ARN",
            ));
        }
        let part_bytes: u64 = env.parse_or("PART_BYTES", DEFAULT_PART_BYTES)?;
        if part_bytes == 0 {
            return Err(ConfigError::invalid(
                "PART_BYTES",
                part_bytes.to_string(),
                "a positive number of bytes",
            ));
        }
        Ok(Some(FanOut {
            state_machine_arn,
            part_bytes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_named_errors() {
        let base = [
            ("EVENT_BUS_NAME", "bus"),
            ("MODEL_PACKAGE_GROUP", "tickets-classifier"),
            ("LINEAGE_KEY_ID", "alias/lineage"),
            ("STATE_BUCKET", "b"),
        ];
        let config = Config::from_env(&Env::from_pairs(base)).unwrap();
        assert_eq!(config.settings, Settings::default());
        assert_eq!(
            config.model, "tickets-classifier",
            "the metric dimension defaults to the group"
        );
        let mut bad = base.to_vec();
        bad.push(("LOW_CONFIDENCE", "50"));
        let error = Config::from_env(&Env::from_pairs(bad))
            .unwrap_err()
            .to_string();
        assert!(error.contains("LOW_CONFIDENCE"), "{error}");
        let error = Config::from_env(&Env::from_pairs(base[..3].to_vec()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("STATE_BUCKET"), "{error}");
        let error = Config::from_env(&Env::from_pairs([base[0], base[1], base[3]]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("LINEAGE_KEY_ID"), "{error}");
        assert_eq!(config.hourly, None, "no capture, no hourly run");
        assert_eq!(
            config.batch_truth, None,
            "no ground truth, no batch quality"
        );
        let mut batch = base.to_vec();
        batch.push(("GROUND_TRUTH_URI", "s3://artifacts/ground-truth/"));
        let truth = Config::from_env(&Env::from_pairs(batch.clone()))
            .unwrap()
            .batch_truth
            .unwrap();
        assert_eq!(
            (
                truth.ground_truth,
                truth.label_window_hours,
                truth.f1.max_drop
            ),
            (ObjectRef::new("artifacts", "ground-truth/"), 24, 0.05)
        );
        batch.push(("CAPTURE_URI", "s3://artifacts/data-capture/tickets/"));
        let both = Config::from_env(&Env::from_pairs(batch)).unwrap();
        assert!(
            both.batch_truth.is_none() && both.hourly.is_some(),
            "real-time: the hourly run joins"
        );
    }

    #[test]
    fn the_hourly_run_reads_its_prefixes_and_limits() {
        let base = [
            ("EVENT_BUS_NAME", "bus"),
            ("MODEL_PACKAGE_GROUP", "tickets-classifier"),
            ("LINEAGE_KEY_ID", "alias/lineage"),
            ("STATE_BUCKET", "b"),
            ("CAPTURE_URI", "s3://artifacts/data-capture/tickets/"),
        ];
        let hourly = Config::from_env(&Env::from_pairs(base))
            .unwrap()
            .hourly
            .unwrap();
        assert_eq!(
            hourly.capture,
            ObjectRef::new("artifacts", "data-capture/tickets/")
        );
        assert_eq!((hourly.ground_truth, hourly.label_window_hours), (None, 24));
        assert_eq!(hourly.fan_out, None, "no state machine, no fan-out");
        let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:guardrails-monitor-hour";
        let with_machine = |part_bytes: Option<&'static str>| {
            let mut env = base.to_vec();
            env.push(("FAN_OUT_STATE_MACHINE_ARN", machine));
            env.extend(part_bytes.map(|b| ("PART_BYTES", b)));
            Config::from_env(&Env::from_pairs(env)).map(|c| c.hourly.unwrap().fan_out)
        };
        assert_eq!(
            with_machine(None).unwrap(),
            Some(FanOut {
                state_machine_arn: machine.into(),
                part_bytes: DEFAULT_PART_BYTES
            })
        );
        let error = with_machine(Some("0")).unwrap_err().to_string();
        assert!(error.contains("PART_BYTES"), "{error}");
        let table = [
            (
                "GROUND_TRUTH_URI",
                "artifacts/ground-truth/",
                "GROUND_TRUTH_URI",
            ),
            ("CAPTURE_URI", "https://artifacts/x", "CAPTURE_URI"),
            ("LABEL_WINDOW_HOURS", "0", "LABEL_WINDOW_HOURS"),
            ("LABEL_WINDOW_HOURS", "169", "LABEL_WINDOW_HOURS"),
            ("MAX_F1_DROP", "5", "MAX_F1_DROP"),
            ("MIN_TEXTS", "-1", "MIN_TEXTS"),
            ("MODEL_NAME", "tickets/answers", "MODEL_NAME"),
            (
                "FAN_OUT_STATE_MACHINE_ARN",
                "monitor-hour",
                "FAN_OUT_STATE_MACHINE_ARN",
            ),
        ];
        for (name, value, named) in table {
            let mut env = base.to_vec();
            env.retain(|(n, _)| *n != name);
            env.push((name, value));
            let error = Config::from_env(&Env::from_pairs(env))
                .unwrap_err()
                .to_string();
            assert!(error.contains(named), "{name}={value}: {error}");
        }
    }
}
