//! The JSON Schemas in `schemas/` hold what the code writes: a lineage record as model-gate serializes it, a
//! profile as the dataset check takes it and a baseline as model-gate builds it validate (with the `jsonschema`
//! validator of the project's tools), and ones altered the ways a forger or a careless change would do not — each
//! for the reason the alteration is about.

#![allow(clippy::unwrap_used)]

mod schema_check;

use std::process::Command;

use schema_check::validate;

use dataset_check::{Contract, Profile};
use guardrails_core::ObjectRef;
use guardrails_core::baseline::{BASELINE_VERSION, Baseline, Summary};
use serde_json::{Value, json};

/// An alteration of a valid instance: what it is, the change, and a fragment of the validator's message that
/// says it was refused for that.
type Alteration = (&'static str, fn(&mut Value), &'static str);

/// Each alteration of `written` is refused by `schema`, with a message containing its fragment.
fn assert_refused(schema: &str, written: &Value, alterations: &[Alteration]) {
    for (what, change, expected) in alterations {
        let mut instance = written.clone();
        change(&mut instance);
        assert_ne!(&instance, written, "{what}: the alteration changed nothing");
        let Err(errors) = validate(schema, &instance) else {
            panic!("{schema} accepts {what}");
        };
        assert!(
            errors.contains(expected),
            "{what}: refused, but not for it ({expected:?}): {errors}"
        );
    }
}

/// The value at `pointer`, which must be there (so an alteration cannot miss its target and add a field).
fn at<'v>(instance: &'v mut Value, pointer: &str) -> &'v mut Value {
    instance
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} is not in the instance"))
}

/// The object at `pointer`.
fn object<'v>(instance: &'v mut Value, pointer: &str) -> &'v mut serde_json::Map<String, Value> {
    at(instance, pointer)
        .as_object_mut()
        .unwrap_or_else(|| panic!("{pointer} is not an object"))
}

/// Removes `field` of the object at `pointer`, which must have it.
fn remove(instance: &mut Value, pointer: &str, field: &str) {
    object(instance, pointer)
        .remove(field)
        .unwrap_or_else(|| panic!("{pointer} has no {field}"));
}

/// The schema file `schemas/<name>`, parsed.
fn schema_file(name: &str) -> Value {
    let path = format!("{}/../schemas/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn a_lineage_record_as_written_validates_and_altered_ones_do_not() {
    let record = testkit::lineage_record("tickets-classifier-20261201100000-abcdef");
    assert!(record.baseline.is_some(), "the record names its baseline");
    let written = serde_json::to_value(&record).unwrap();
    validate("lineage-record.schema.json", &written).unwrap();

    // A record written before baselines were kept has none, and still validates.
    let mut older = written.clone();
    remove(&mut older, "", "baseline");
    validate("lineage-record.schema.json", &older).unwrap();

    assert_refused(
        "lineage-record.schema.json",
        &written,
        &[
            (
                "an unknown field",
                |r| {
                    object(r, "/training").insert("notes".into(), json!("x"));
                },
                "'notes' was unexpected",
            ),
            (
                "a digest that is not SHA-256",
                |r| *at(r, "/data/pinsSha256") = json!("abc"),
                "$.data.pinsSha256: 'abc' does not match",
            ),
            (
                "a decision the registry does not know",
                |r| *at(r, "/verdict/decision") = json!("Maybe"),
                "'Maybe' is not one of",
            ),
            (
                "no data",
                |r| remove(r, "", "data"),
                "'data' is a required property",
            ),
            (
                "another format version",
                |r| *at(r, "/schemaVersion") = json!(2),
                "1 was expected",
            ),
            (
                "a baseline digest that is not 64 hex characters",
                |r| *at(r, "/baseline/sha256") = json!("abc"),
                "$.baseline.sha256: 'abc' does not match",
            ),
            (
                "a baseline digest in upper case",
                |r| *at(r, "/baseline/sha256") = json!("AB".repeat(32)),
                "$.baseline.sha256",
            ),
            (
                "a baseline without its object",
                |r| remove(r, "/baseline", "object"),
                "'object' is a required property",
            ),
            (
                "a baseline object without a key",
                |r| remove(r, "/baseline/object", "key"),
                "'key' is a required property",
            ),
            (
                "a baseline with an unknown field",
                |r| {
                    object(r, "/baseline").insert("url".into(), json!("s3://x/y"));
                },
                "'url' was unexpected",
            ),
        ],
    );
}

/// Valid rows in Latin, Cyrillic, Kana and Han script, with digits, punctuation and a symbol; an invalid row
/// (unknown label) and two rows with an empty text.
const CSV: &str = "text,label\n\
    Hola Mundo,a\n\
    \"¿Dónde está el pedido 123?\",b\n\
    Привет мир!,a\n\
    こんにちは 東京 ✓,b\n\
    no cuenta,zzz\n\
    ,a\n\
    \x20 ,b\n";

/// The profile of `csv` as the dataset check takes it (valid rows only).
fn profile_of(csv: &str) -> Profile {
    let contract = Contract::from_json(
        r#"{"labels": ["a", "b"], "min_rows": 1, "max_text_chars": 100, "max_invalid_row_fraction": 0.5,
            "max_null_fraction": 0.5}"#,
    )
    .unwrap();
    let (report, profile) =
        dataset_check::check_profiled(csv.as_bytes(), "tickets.csv", &contract, None).unwrap();
    assert!(report.is_valid(), "{:?}", report.reasons);
    profile
}

#[test]
fn a_profile_as_taken_validates_and_altered_ones_do_not() {
    let profile = profile_of(CSV);
    assert_eq!((profile.texts, profile.empty), (4, 2));
    let written = serde_json::to_value(&profile).unwrap();
    validate("text-profile.schema.json", &written).unwrap();

    // The profile merging starts from (empty histograms, no labels, no tokens), and a merged one.
    let empty = serde_json::to_value(Profile::empty()).unwrap();
    assert_eq!(empty["chars"], json!([]));
    validate("text-profile.schema.json", &empty).unwrap();
    let mut merged = profile.clone();
    merged
        .merge(&profile_of("text,label\nOtra cosa,a\n"))
        .unwrap();
    validate(
        "text-profile.schema.json",
        &serde_json::to_value(&merged).unwrap(),
    )
    .unwrap();

    // The schema's classes and scripts are exactly those the profiler writes (it writes every one).
    let schema = schema_file("text-profile.schema.json");
    for (def, field) in [("charClass", "charClasses"), ("script", "scripts")] {
        let mut allowed: Vec<&str> = schema["$defs"][def]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let mut keys: Vec<&str> = written[field]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        allowed.sort_unstable();
        keys.sort_unstable();
        assert_eq!(allowed, keys, "{def}");
    }

    let mut too_many = written.clone();
    let top = at(&mut too_many, "/vocabulary/top").as_array_mut().unwrap();
    *top = (0..1001)
        .map(|i| json!({"token": format!("t{i}"), "count": 1}))
        .collect();
    let errors = validate("text-profile.schema.json", &too_many).expect_err("1001 frequent tokens");
    assert!(errors.contains("$.vocabulary.top: "), "{errors}");

    assert_refused(
        "text-profile.schema.json",
        &written,
        &[
            (
                "an unknown character class",
                |r| {
                    object(r, "/charClasses").insert("emoji".into(), json!(1));
                },
                "'emoji' is not one of",
            ),
            (
                "an unknown script",
                |r| {
                    object(r, "/scripts").insert("klingon".into(), json!(1));
                },
                "'klingon' is not one of",
            ),
            (
                "a class in another case",
                |r| {
                    object(r, "/charClasses").insert("Letter".into(), json!(1));
                },
                "'Letter' is not one of",
            ),
            (
                "a negative count",
                |r| *at(r, "/texts") = json!(-1),
                "$.texts: -1 is less than the minimum of 0",
            ),
            (
                "a negative histogram bucket",
                |r| *at(r, "/chars/0") = json!(-1),
                "$.chars[0]: -1 is less than the minimum of 0",
            ),
            (
                "a fractional label count",
                |r| *at(r, "/labels/a") = json!(1.5),
                "$.labels.a: 1.5 is not of type 'integer'",
            ),
            (
                "a histogram that is not an array of counts",
                |r| *at(r, "/tokens") = json!({"1": 2}),
                "$.tokens",
            ),
            (
                "a sketch of 2^20 bits",
                |r| *at(r, "/vocabulary/sketch/bitsLog2") = json!(20),
                "$.vocabulary.sketch.bitsLog2: 21 was expected",
            ),
            (
                "a sketch of three hashes",
                |r| *at(r, "/vocabulary/sketch/hashes") = json!(3),
                "$.vocabulary.sketch.hashes: 4 was expected",
            ),
            (
                "a sketch that is not base64",
                |r| *at(r, "/vocabulary/sketch/gzipBase64") = json!("not base64!"),
                "$.vocabulary.sketch.gzipBase64",
            ),
            (
                "a sketch without its bits",
                |r| remove(r, "/vocabulary/sketch", "gzipBase64"),
                "'gzipBase64' is a required property",
            ),
            (
                "no vocabulary",
                |r| remove(r, "", "vocabulary"),
                "'vocabulary' is a required property",
            ),
            (
                "a frequent token without its count",
                |r| remove(r, "/vocabulary/top/0", "count"),
                "'count' is a required property",
            ),
            (
                "an unknown vocabulary field",
                |r| {
                    object(r, "/vocabulary").insert("distinct".into(), json!(7));
                },
                "'distinct' was unexpected",
            ),
            (
                "another profile version",
                |r| *at(r, "/profileVersion") = json!(2),
                "$.profileVersion: 1 was expected",
            ),
        ],
    );
}

/// The sketch is stored as the schema says another tool can read it: base64 of a gzip stream of 2^15 64-bit
/// words (2^18 bytes), with exactly the bits the sketch has set.
#[test]
fn the_sketch_is_stored_as_the_schema_describes() {
    let profile = profile_of(CSV);
    let stored = serde_json::to_value(&profile.vocabulary.sketch).unwrap();
    let script = "import base64, gzip, sys\n\
        words = gzip.decompress(base64.b64decode(sys.argv[1], validate=True))\n\
        print(len(words), int.from_bytes(words, 'little').bit_count())\n";
    let out = Command::new(testkit::python_path())
        .args(["-c", script, stored["gzipBase64"].as_str().unwrap()])
        .output()
        .expect("the tools' Python (make setup)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bits_set = profile.vocabulary.sketch.bits_set();
    assert!(bits_set > 0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{} {bits_set}", 1 << 18)
    );
}

#[test]
fn a_baseline_as_built_validates_and_altered_ones_do_not() {
    let profile = profile_of(CSV);
    let mut unprofiled = ObjectRef::new("data", "tickets/2026/11/old.csv");
    unprofiled.version_id = Some("v3".to_owned());
    let baseline = Baseline {
        baseline_version: BASELINE_VERSION,
        training_job: "tickets-classifier-20261201100000-abcdef".to_owned(),
        dataset: "tickets".to_owned(),
        files: 1,
        unprofiled: vec![guardrails_core::baseline::Unprofiled {
            object: unprofiled,
            reason: "validated before profiles were kept".to_owned(),
        }],
        summary: Summary::of(&profile),
        profile,
    };
    let written = serde_json::to_value(&baseline).unwrap();
    validate("baseline.schema.json", &written).unwrap();

    // A baseline of no profiled files: its figures are empty or null.
    let nothing = Baseline {
        files: 0,
        unprofiled: Vec::new(),
        summary: Summary::of(&Profile::empty()),
        profile: Profile::empty(),
        ..baseline.clone()
    };
    let nothing = serde_json::to_value(&nothing).unwrap();
    assert_eq!(nothing["summary"]["emptyShare"], Value::Null);
    assert_eq!(nothing["summary"]["chars"]["p50"], Value::Null);
    validate("baseline.schema.json", &nothing).unwrap();

    assert_refused(
        "baseline.schema.json",
        &written,
        &[
            (
                "a share above 1",
                |r| *at(r, "/summary/labelShares/a") = json!(1.5),
                "$.summary.labelShares.a: 1.5 is greater than the maximum of 1",
            ),
            (
                "an unknown script",
                |r| {
                    object(r, "/summary/scriptShares").insert("klingon".into(), json!(0.1));
                },
                "'klingon' is not one of",
            ),
            (
                "an unknown character class",
                |r| {
                    object(r, "/summary/charClassShares").insert("emoji".into(), json!(0.1));
                },
                "'emoji' is not one of",
            ),
            (
                "a negative percentile",
                |r| *at(r, "/summary/chars/p50") = json!(-1),
                "$.summary.chars.p50: -1 is less than the minimum of 0",
            ),
            (
                "a missing percentile",
                |r| remove(r, "/summary/tokens", "p95"),
                "'p95' is a required property",
            ),
            (
                "an empty share that is not a number",
                |r| *at(r, "/summary/emptyShare") = json!("0.3"),
                "$.summary.emptyShare",
            ),
            (
                "a false-positive rate above 1",
                |r| *at(r, "/summary/sketchFalsePositiveRate") = json!(2.0),
                "$.summary.sketchFalsePositiveRate",
            ),
            (
                "a profile with a sketch of 2^20 bits",
                |r| *at(r, "/profile/vocabulary/sketch/bitsLog2") = json!(20),
                "$.profile.vocabulary.sketch.bitsLog2: 21 was expected",
            ),
            (
                "a profile without vocabulary",
                |r| remove(r, "/profile", "vocabulary"),
                "'vocabulary' is a required property",
            ),
            (
                "a profile with an unknown character class",
                |r| {
                    object(r, "/profile/charClasses").insert("emoji".into(), json!(1));
                },
                "'emoji' is not one of",
            ),
            (
                "an unprofiled file without its key",
                |r| remove(r, "/unprofiled/0/object", "key"),
                "'key' is a required property",
            ),
            (
                "a negative file count",
                |r| *at(r, "/files") = json!(-1),
                "$.files: -1 is less than the minimum of 0",
            ),
            (
                "no summary",
                |r| remove(r, "", "summary"),
                "'summary' is a required property",
            ),
            (
                "an unknown field",
                |r| {
                    object(r, "").insert("model".into(), json!("x"));
                },
                "'model' was unexpected",
            ),
            (
                "another format version",
                |r| *at(r, "/baselineVersion") = json!(2),
                "$.baselineVersion: 1 was expected",
            ),
        ],
    );
}

#[test]
fn an_approval_record_as_written_validates_and_altered_ones_do_not() {
    let approval = guardrails_core::lineage::Approval {
        schema_version: guardrails_core::lineage::SCHEMA_VERSION,
        package_arn: "arn:aws:sagemaker:us-east-1:123456789012:model-package/tickets-classifier/2"
            .to_owned(),
        training_job: "tickets-classifier-20261201100000-abcdef".to_owned(),
        lineage_sha256: guardrails_core::lineage::sha256_hex(b"record"),
        gate_decision: "PendingManualApproval".to_owned(),
        approved_by: "arn:aws:sts::123456789012:assumed-role/MLEngineer/ana".to_owned(),
        approved_at: "2026-12-01T10:00:00Z".parse().unwrap(),
        description: Some("Reviewed.".to_owned()),
    };
    let written = serde_json::to_value(&approval).unwrap();
    validate("approval-record.schema.json", &written).unwrap();
    let mut without_description = written.clone();
    remove(&mut without_description, "", "description");
    validate("approval-record.schema.json", &without_description).unwrap();
    assert_refused(
        "approval-record.schema.json",
        &written,
        &[
            (
                "no approver",
                |r| remove(r, "", "approvedBy"),
                "'approvedBy' is a required property",
            ),
            (
                "a lineage digest that is not SHA-256",
                |r| *at(r, "/lineageSha256") = json!("abc"),
                "'abc' does not match",
            ),
            (
                "a decision the registry does not know",
                |r| *at(r, "/gateDecision") = json!("Maybe"),
                "'Maybe' is not one of",
            ),
            (
                "a package that is not a model package",
                |r| *at(r, "/packageArn") = json!("arn:aws:s3:::bucket"),
                "does not match",
            ),
            (
                "an unknown field",
                |r| {
                    object(r, "").insert("approvedTwice".into(), json!(true));
                },
                "'approvedTwice' was unexpected",
            ),
        ],
    );
}

#[test]
fn a_serving_record_as_written_validates_and_altered_ones_do_not() {
    use guardrails_core::serving::{Reason, SERVING_VERSION, ServingRecord};
    let sha = guardrails_core::lineage::sha256_hex(b"record");
    let record = ServingRecord {
        serving_version: SERVING_VERSION,
        group: "tickets-classifier".to_owned(),
        package_arn: "arn:aws:sagemaker:us-east-1:123456789012:model-package/tickets-classifier/2"
            .to_owned(),
        training_job: "tickets-classifier-20261201100000-abcdef".to_owned(),
        lineage: guardrails_core::ObjectRef::new(
            "state",
            "lineage/tickets-classifier-20261201100000-abcdef.json",
        ),
        lineage_sha256: sha.clone(),
        model_name: deploy::model::model_name("tickets-classifier", 2, &sha),
        baseline: Some(guardrails_core::baseline::BaselineRef {
            object: guardrails_core::ObjectRef::new("state", "baselines/job.json"),
            sha256: sha.clone(),
        }),
        approved_by: "model-gate".to_owned(),
        since: "2026-12-01T10:00:00Z".parse().unwrap(),
        reason: Reason::Rollback,
        previous: Some(
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/tickets-classifier/3"
                .to_owned(),
        ),
    };
    let written = serde_json::to_value(&record).unwrap();
    validate("serving-record.schema.json", &written).unwrap();
    let mut first = written.clone();
    remove(&mut first, "", "previous");
    remove(&mut first, "", "baseline");
    validate("serving-record.schema.json", &first).unwrap();
    assert_refused(
        "serving-record.schema.json",
        &written,
        &[
            (
                "no model",
                |r| remove(r, "", "modelName"),
                "'modelName' is a required property",
            ),
            (
                "a model name SageMaker refuses",
                |r| *at(r, "/modelName") = json!("tickets_v2"),
                "does not match",
            ),
            (
                "a reason the deploy path does not give",
                |r| *at(r, "/reason") = json!("manual"),
                "'manual' is not one of",
            ),
            (
                "a lineage digest that is not SHA-256",
                |r| *at(r, "/lineageSha256") = json!("abc"),
                "'abc' does not match",
            ),
            (
                "an unknown field",
                |r| {
                    object(r, "").insert("pinned".into(), json!(true));
                },
                "'pinned' was unexpected",
            ),
        ],
    );
}

#[test]
fn a_notice_as_published_validates_and_altered_ones_do_not() {
    use guardrails_core::notice::{Kind, Notice, Severity};
    let notice = Notice {
        severity: Severity::Critical,
        kind: Kind::DriftModelQuality,
        title: "Rolled back: model quality drift, weighted_f1 0.74 vs 0.8".into(),
        body: "Alarm \"x\" went to ALARM.\nVersion 2 is now Rejected.".into(),
        details: json!({"from": "tickets/2", "to": "tickets/1"}),
    };
    let structured: Value = serde_json::from_str(&notice.structured()).unwrap();
    let written: Value = serde_json::from_str(structured["default"].as_str().unwrap()).unwrap();
    validate("notice.schema.json", &written).unwrap();
    assert_refused(
        "notice.schema.json",
        &written,
        &[
            (
                "not Amazon Q Developer's format",
                |n| *at(n, "/version") = json!("2.0"),
                "'1.0' was expected",
            ),
            (
                "a severity a filter policy does not know",
                |n| *at(n, "/metadata/additionalContext/severity") = json!("CRITICAL"),
                "'CRITICAL' is not one of",
            ),
            (
                "no kind",
                |n| remove(n, "/metadata/additionalContext", "kind"),
                "'kind' is a required property",
            ),
            (
                "a kind the project does not send",
                |n| *at(n, "/metadata/eventType") = json!("drift-anything"),
                "'drift-anything' is not one of",
            ),
            (
                "no runbook",
                |n| remove(n, "/metadata/additionalContext", "runbook"),
                "'runbook' is a required property",
            ),
            (
                "a context value that is not a string (the format takes strings only)",
                |n| {
                    object(n, "/metadata/additionalContext").insert("rows".into(), json!(3));
                },
                "3 is not of type 'string'",
            ),
            (
                "a title longer than an SNS subject",
                |n| *at(n, "/content/title") = json!("x".repeat(120)),
                "is too long",
            ),
        ],
    );
}

#[test]
fn the_schema_lists_every_notice_kind_and_no_other() {
    let schema = schema_file("notice.schema.json");
    let listed: Vec<&str> = schema["$defs"]["kind"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let kinds: Vec<&str> = guardrails_core::notice::Kind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(listed, kinds);
}
