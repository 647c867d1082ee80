//! The stage report contract, version [`REPORT_VERSION`]: what a job writes (`schemas/stage-report.schema.json`),
//! read and validated here. The schema is the contract producers read and the one this module enforces, byte for
//! byte (embedded at build time); what a schema cannot say (a vector's length is the dimension, quantiles in
//! order, a run that ends before it starts) is checked after it, and each refusal names the JSON path it is about.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The report format version this function reads.
pub const REPORT_VERSION: u32 = 1;

/// A report larger than this is refused unread: the contract's bounds (8192 dimensions, 4096 clusters, 50 log
/// lines) keep a real one far below it.
pub const MAX_REPORT_BYTES: u64 = 1 << 20;

/// At most this many errors are listed for one report (the first ones, in the validator's order).
const MAX_ERRORS: usize = 20;

/// Each error is cut to this many characters: a validator's message quotes the offending value, which may be a
/// vector of thousands of numbers.
const MAX_ERROR_CHARS: usize = 300;

/// The schema, as producers read it.
pub const SCHEMA: &str = include_str!("../../../schemas/stage-report.schema.json");

/// A pipeline stage the guardrails hold to the contract: the `PipelineStage` dimension of its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Text to embeddings (and their null shares, batches).
    FeatureEngineering,
    /// Embeddings to clusters (pseudo-labels).
    Clustering,
}

impl Stage {
    /// Every stage.
    pub const ALL: [Stage; 2] = [Stage::FeatureEngineering, Stage::Clustering];

    /// The name in reports, keys and the metric dimension.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::FeatureEngineering => "feature-engineering",
            Stage::Clustering => "clustering",
        }
    }
}

/// One run's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Report {
    /// Always [`REPORT_VERSION`].
    pub report_version: u32,
    /// The stage.
    pub stage: Stage,
    /// The job run that wrote it.
    pub job_id: String,
    /// When the job started.
    pub started_at: DateTime<Utc>,
    /// When it finished: orders runs.
    pub finished_at: DateTime<Utc>,
    /// Processing time.
    pub seconds: f64,
    /// Rows read.
    pub rows_in: u64,
    /// Rows written.
    pub rows_out: u64,
    /// Per field, the share of null or empty values.
    pub null_share: BTreeMap<String, f64>,
    /// Batches run, if the job runs in batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batches: Option<u64>,
    /// Batches that failed.
    pub failed_batches: u64,
    /// The embeddings' distribution (feature engineering).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<Embeddings>,
    /// The clusters (clustering).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clustering: Option<Clustering>,
    /// Summary log lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<String>,
}

impl Report {
    /// The largest null share of any field, 0 when none is reported.
    pub fn max_null_share(&self) -> f64 {
        self.null_share.values().copied().fold(0.0, f64::max)
    }
}

/// The distribution of the embeddings a run wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Embeddings {
    /// Their dimension.
    pub dimension: usize,
    /// The mean vector.
    pub mean: Vec<f64>,
    /// The per-dimension variance.
    pub variance: Vec<f64>,
    /// Quantiles of their norms.
    pub norm_quantiles: NormQuantiles,
}

impl Embeddings {
    /// The total variance: the mean squared distance of an embedding to the mean.
    pub fn total_variance(&self) -> f64 {
        self.variance.iter().sum()
    }
}

/// Quantiles of the embeddings' Euclidean norms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormQuantiles {
    /// 5th percentile.
    pub p05: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
}

/// The clusters a run found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Clustering {
    /// How many.
    pub clusters: usize,
    /// Rows per cluster.
    pub sizes: Vec<u64>,
    /// Per cluster, the mean squared distance to its centroid.
    pub intra_variance: Vec<f64>,
    /// The within-cluster sum of squares over the rows clustered.
    pub total_intra_variance: f64,
    /// Rows in no cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<u64>,
    /// The silhouette score, if computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silhouette: Option<f64>,
}

/// Why a report was refused: each error after the JSON path it is about (`/embeddings/mean: …`), or the whole
/// document's (`: …`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalid {
    /// The errors, at most [`MAX_ERRORS`].
    pub errors: Vec<String>,
}

impl Invalid {
    fn one(error: impl Into<String>) -> Self {
        Invalid {
            errors: vec![error.into()],
        }
    }
}

/// [`SCHEMA`] as code, generated when this crate is built (jsonschema's `validator` macro), with `format` checked (a
/// `startedAt` that is not a date-time is refused). Compiled at run time instead (and checked against its
/// meta-schema, which the crate offers no way to skip), it took 1.9 ms of every cold start.
#[jsonschema::validator(
    path = "../../schemas/stage-report.schema.json",
    draft = Draft202012,
    validate_formats = true
)]
struct Schema;

/// Reads reports against [`SCHEMA`], compiled into the binary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reader;

impl Reader {
    /// The report in `bytes`, or why it is refused: not JSON, the schema's errors, or the checks after it.
    ///
    /// # Errors
    /// [`Invalid`], with every error found (up to a bound).
    pub fn read(&self, bytes: &[u8]) -> Result<Report, Invalid> {
        if bytes.len() as u64 > MAX_REPORT_BYTES {
            return Err(too_large(bytes.len() as u64));
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            // Python's json.dumps writes NaN and Infinity unless told not to; say so when they are there.
            let nan = memchr_any(bytes, &[b"NaN", b"Infinity"]);
            let hint = if e.is_syntax() && nan {
                " (NaN and Infinity are not JSON: write with allow_nan=False)"
            } else {
                ""
            };
            Invalid::one(format!(": not JSON: {e}{hint}"))
        })?;
        let errors: Vec<String> = Schema::iter_errors(&value)
            .take(MAX_ERRORS)
            .map(|e| cut(format!("{}: {e}", e.instance_path())))
            .collect();
        if !errors.is_empty() {
            return Err(Invalid { errors });
        }
        let report: Report = serde_json::from_value(value)
            .map_err(|e| Invalid::one(format!(": does not read as a report: {e}")))?;
        let errors = inconsistencies(&report);
        if errors.is_empty() {
            Ok(report)
        } else {
            Err(Invalid { errors })
        }
    }
}

/// Whether `bytes` contains any of `needles`.
fn memchr_any(bytes: &[u8], needles: &[&[u8]]) -> bool {
    needles
        .iter()
        .any(|needle| bytes.windows(needle.len()).any(|w| w == *needle))
}

/// `error`, cut to [`MAX_ERROR_CHARS`] characters.
fn cut(error: String) -> String {
    match error.char_indices().nth(MAX_ERROR_CHARS) {
        Some((end, _)) => format!("{}…", &error[..end]),
        None => error,
    }
}

/// A report of `size` bytes is refused without reading it.
pub fn too_large(size: u64) -> Invalid {
    Invalid::one(format!(
        ": {size} bytes, over the {MAX_REPORT_BYTES}-byte limit of a stage report"
    ))
}

/// What the schema cannot say: each vector as long as its count, quantiles in order, a run that ends after it
/// starts, no more failed batches than batches.
fn inconsistencies(report: &Report) -> Vec<String> {
    let mut errors = Vec::new();
    let mut expect = |ok: bool, error: String| {
        if !ok {
            errors.push(error);
        }
    };
    expect(
        report.finished_at >= report.started_at,
        format!(
            "/finishedAt: {} is before startedAt {}",
            report.finished_at, report.started_at
        ),
    );
    if let Some(batches) = report.batches {
        expect(
            report.failed_batches <= batches,
            format!(
                "/failedBatches: {} failed of {batches} batches",
                report.failed_batches
            ),
        );
    }
    if let Some(e) = &report.embeddings {
        for (field, len) in [("mean", e.mean.len()), ("variance", e.variance.len())] {
            expect(
                len == e.dimension,
                format!(
                    "/embeddings/{field}: {len} values for dimension {}",
                    e.dimension
                ),
            );
        }
        let q = e.norm_quantiles;
        expect(
            q.p05 <= q.p50 && q.p50 <= q.p95,
            format!(
                "/embeddings/normQuantiles: not in order (p05 {}, p50 {}, p95 {})",
                q.p05, q.p50, q.p95
            ),
        );
    }
    if let Some(c) = &report.clustering {
        for (field, len) in [
            ("sizes", c.sizes.len()),
            ("intraVariance", c.intra_variance.len()),
        ] {
            expect(
                len == c.clusters,
                format!(
                    "/clustering/{field}: {len} values for {} clusters",
                    c.clusters
                ),
            );
        }
    }
    errors.truncate(MAX_ERRORS);
    errors
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn feature_engineering() -> Value {
        json!({
            "reportVersion": 1,
            "stage": "feature-engineering",
            "jobId": "fe-2026-12-01",
            "startedAt": "2026-12-01T02:00:00Z",
            "finishedAt": "2026-12-01T02:10:00Z",
            "seconds": 600.0,
            "rowsIn": 1000,
            "rowsOut": 990,
            "nullShare": {"text": 0.01, "label": 0.0},
            "batches": 10,
            "failedBatches": 0,
            "embeddings": {
                "dimension": 3,
                "mean": [0.5, 0.1, -0.2],
                "variance": [0.1, 0.2, 0.3],
                "normQuantiles": {"p05": 0.8, "p50": 1.0, "p95": 1.2}
            },
            "log": ["990 rows embedded"]
        })
    }

    fn clustering() -> Value {
        json!({
            "reportVersion": 1,
            "stage": "clustering",
            "jobId": "cl-2026-12-01",
            "startedAt": "2026-12-01T03:00:00Z",
            "finishedAt": "2026-12-01T03:01:00Z",
            "seconds": 60,
            "rowsIn": 990,
            "rowsOut": 980,
            "nullShare": {},
            "failedBatches": 0,
            "clustering": {
                "clusters": 2,
                "sizes": [500, 480],
                "intraVariance": [0.4, 0.5],
                "totalIntraVariance": 0.45,
                "noise": 10,
                "silhouette": 0.31
            }
        })
    }

    fn read(value: &Value) -> Result<Report, Invalid> {
        Reader.read(&serde_json::to_vec(value).unwrap())
    }

    #[test]
    fn a_report_of_each_stage_reads_and_writes_back_as_it_came() {
        for value in [feature_engineering(), clustering()] {
            let report = read(&value).unwrap();
            let back = serde_json::to_value(&report).unwrap();
            assert_eq!(read(&back).unwrap(), report);
        }
        let report = read(&feature_engineering()).unwrap();
        assert_eq!(report.stage, Stage::FeatureEngineering);
        assert_eq!(report.max_null_share(), 0.01);
        assert!((report.embeddings.unwrap().total_variance() - 0.6).abs() < 1e-12);
    }

    /// Each alteration is refused with an error that names its path and says why.
    #[test]
    fn each_breach_of_the_contract_is_refused_with_its_path() {
        type Change = fn(&mut Value);
        let cases: &[(&str, Value, Change, &str)] = &[
            (
                "another version",
                feature_engineering(),
                |v| v["reportVersion"] = json!(2),
                "/reportVersion",
            ),
            (
                "an unknown stage",
                feature_engineering(),
                |v| v["stage"] = json!("training"),
                "/stage",
            ),
            (
                "no job id",
                feature_engineering(),
                |v| v["jobId"] = json!(""),
                "/jobId",
            ),
            (
                "a date that is not one",
                feature_engineering(),
                |v| v["startedAt"] = json!("yesterday"),
                "/startedAt",
            ),
            (
                "negative rows",
                feature_engineering(),
                |v| v["rowsOut"] = json!(-1),
                "/rowsOut",
            ),
            (
                "a share over 1",
                feature_engineering(),
                |v| v["nullShare"]["text"] = json!(1.5),
                "/nullShare/text",
            ),
            (
                "an unknown field",
                feature_engineering(),
                |v| v["extra"] = json!(1),
                "extra",
            ),
            (
                "feature engineering without embeddings",
                feature_engineering(),
                |v| {
                    v.as_object_mut().unwrap().remove("embeddings");
                },
                "embeddings",
            ),
            (
                "clustering without clusters",
                clustering(),
                |v| {
                    v.as_object_mut().unwrap().remove("clustering");
                },
                "clustering",
            ),
            (
                "a mean shorter than the dimension",
                feature_engineering(),
                |v| {
                    v["embeddings"]["mean"] = json!([0.5, 0.1]);
                },
                "/embeddings/mean: 2 values for dimension 3",
            ),
            (
                "quantiles out of order",
                feature_engineering(),
                |v| {
                    v["embeddings"]["normQuantiles"]["p05"] = json!(2.0);
                },
                "/embeddings/normQuantiles: not in order",
            ),
            (
                "a run ending before it starts",
                feature_engineering(),
                |v| {
                    v["finishedAt"] = json!("2026-12-01T01:00:00Z");
                },
                "/finishedAt",
            ),
            (
                "more failed batches than batches",
                feature_engineering(),
                |v| v["failedBatches"] = json!(11),
                "/failedBatches: 11 failed of 10",
            ),
            (
                "sizes not one per cluster",
                clustering(),
                |v| v["clustering"]["sizes"] = json!([980]),
                "/clustering/sizes: 1 values for 2 clusters",
            ),
            (
                "a silhouette out of range",
                clustering(),
                |v| v["clustering"]["silhouette"] = json!(1.5),
                "/clustering/silhouette",
            ),
        ];
        for (what, valid, change, expected) in cases {
            let mut value = valid.clone();
            change(&mut value);
            let invalid = read(&value).expect_err(what);
            assert!(
                invalid.errors.iter().any(|e| e.contains(expected)),
                "{what}: {:?} names no {expected:?}",
                invalid.errors
            );
        }
    }

    #[test]
    fn not_json_too_large_and_nan_are_refused_with_the_reason() {
        let reader = Reader;
        let nan = br#"{"reportVersion": 1, "seconds": NaN}"#;
        let invalid = reader.read(nan).unwrap_err();
        assert!(invalid.errors[0].contains("allow_nan=False"), "{invalid:?}");
        let huge = vec![b' '; MAX_REPORT_BYTES as usize + 1];
        let invalid = reader.read(&huge).unwrap_err();
        assert!(
            invalid.errors[0].contains("over the 1048576-byte limit"),
            "{invalid:?}"
        );
        // A trailing comma is not blamed on NaN; a long vector quoted in an error is cut.
        let invalid = reader.read(br#"{"reportVersion": 1,}"#).unwrap_err();
        assert!(!invalid.errors[0].contains("allow_nan"), "{invalid:?}");
        let mut value = feature_engineering();
        value["embeddings"]["mean"] = json!(vec!["x"; 5000]);
        let invalid = read(&value).unwrap_err();
        assert!(
            invalid
                .errors
                .iter()
                .all(|e| e.chars().count() <= MAX_ERROR_CHARS + 1),
            "{invalid:?}"
        );
        // Many errors are bounded.
        let mut value = feature_engineering();
        for i in 0..100 {
            value["nullShare"][format!("f{i}")] = json!(2.0);
        }
        assert_eq!(read(&value).unwrap_err().errors.len(), MAX_ERRORS);
    }
}
