//! The JSON Schemas generated from the Rust types (schemars), which `schemas/` holds for other teams:
//! - each domain event as EventBridge delivers it to a target, envelope and detail, in `schemas/events/`, in JSON
//!   Schema draft 4, the dialect the EventBridge schema registry takes (the template registers them);
//! - the dataset contract and the validation report, in `schemas/`, in draft 2020-12 like the others there.
//!
//! `tests/event_schemas.rs` checks that the files are these, and every sample and published event against them.

use std::path::PathBuf;

use dataset_check::{Contract, Report};
use guardrails_core::domain::{
    BudgetExceeded, DatasetQuarantined, DatasetValidated, DeployRequested, DomainEvent,
    ModelRolledBack, Published, RetrainingRequested, SOURCE,
};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// Draft 4's meta-schema URI.
const DRAFT4: &str = "http://json-schema.org/draft-04/schema#";
/// Where the project's schemas say they live (`$id`), as the hand-written ones do.
const ID_BASE: &str = "https://github.com/mlops-guardrails/mlops-guardrails/schemas/";

/// One generated schema: its file under `schemas/`, and, for an event, its detail-type.
pub struct Generated {
    /// Relative to `schemas/`.
    pub file: String,
    /// The schema.
    pub schema: Value,
    /// The event's detail-type; none for a document that is not an event.
    pub detail_type: Option<&'static str>,
    /// The registry's name for it (the detail type's name, e.g. `DatasetValidated`).
    pub name: &'static str,
}

/// `schemas/`.
pub fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

/// Every schema generated from the types, in a fixed order.
pub fn generated() -> Vec<Generated> {
    vec![
        event::<DatasetValidated>("DatasetValidated"),
        event::<DatasetQuarantined>("DatasetQuarantined"),
        event::<RetrainingRequested>("RetrainingRequested"),
        event::<ModelRolledBack>("ModelRolledBack"),
        event::<DeployRequested>("DeployRequested"),
        event::<BudgetExceeded>("BudgetExceeded"),
        document::<Contract>("dataset-contract.schema.json", "DatasetContract"),
        document::<Report>("validation-report.schema.json", "ValidationReport"),
    ]
}

/// The schema of the event whose detail-type is `detail_type`.
pub fn of_event(detail_type: &str) -> Option<Generated> {
    generated()
        .into_iter()
        .find(|g| g.detail_type == Some(detail_type))
}

/// A document's schema in draft 2020-12, with the `$id` the other schemas of `schemas/` have.
fn document<T: JsonSchema>(file: &str, name: &'static str) -> Generated {
    let mut schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    let object = schema.as_object_mut().expect("a root schema is an object");
    let mut ordered = Map::new();
    ordered.insert(
        "$schema".into(),
        object.remove("$schema").unwrap_or(Value::Null),
    );
    ordered.insert("$id".into(), Value::String(format!("{ID_BASE}{file}")));
    ordered.append(object);
    Generated {
        file: file.to_owned(),
        schema: Value::Object(ordered),
        detail_type: None,
        name,
    }
}

/// The event carrying `E` as EventBridge delivers it to a target: the envelope, `detail` the published detail
/// (its fields and `version`).
fn event<E: DomainEvent + JsonSchema + 'static>(name: &'static str) -> Generated {
    let generate = || SchemaSettings::draft07().into_generator();
    let mut detail = draft4(
        generate()
            .into_root_schema_for::<Published<'static, E>>()
            .to_value(),
    );
    let described = generate().into_root_schema_for::<E>().to_value();
    let detail_object = detail.as_object_mut().expect("a root schema is an object");
    let mut definitions = match detail_object.remove("definitions") {
        Some(Value::Object(definitions)) => definitions,
        _ => Map::new(),
    };
    detail_object.remove("$schema");
    detail_object.insert("title".into(), Value::String(name.to_owned()));
    if let Some(description) = described.get("description") {
        detail_object.insert("description".into(), description.clone());
    }
    definitions.insert(name.to_owned(), detail);
    let schema = json!({
        "$schema": DRAFT4,
        "title": format!("{name}Event"),
        "description": format!(
            "The {:?} event (source {SOURCE}) on the project's bus, as EventBridge delivers it to a target.",
            E::DETAIL_TYPE
        ),
        "type": "object",
        "required": ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"],
        "properties": {
            "version": {"type": "string"},
            "id": {"type": "string"},
            "detail-type": {"type": "string", "enum": [E::DETAIL_TYPE]},
            "source": {"type": "string", "enum": [SOURCE]},
            "account": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "region": {"type": "string"},
            "resources": {"type": "array", "items": {"type": "string"}},
            "detail": {"$ref": format!("#/definitions/{name}")}
        },
        "definitions": definitions
    });
    Generated {
        file: format!("events/{}.schema.json", kebab(E::DETAIL_TYPE)),
        schema,
        detail_type: Some(E::DETAIL_TYPE),
        name,
    }
}

/// `Dataset Validated` → `dataset-validated`.
fn kebab(detail_type: &str) -> String {
    detail_type.to_ascii_lowercase().replace(' ', "-")
}

/// A draft 7 schema in draft 4's words: `const` (draft 6) becomes a one-value `enum`; a numeric
/// `exclusiveMinimum`/`exclusiveMaximum` (draft 6) becomes the bound with draft 4's boolean.
fn draft4(schema: Value) -> Value {
    match schema {
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("const", value) => {
                        out.insert("enum".into(), Value::Array(vec![value]));
                    }
                    ("exclusiveMinimum", Value::Number(n)) => {
                        out.insert("minimum".into(), Value::Number(n));
                        out.insert("exclusiveMinimum".into(), Value::Bool(true));
                    }
                    ("exclusiveMaximum", Value::Number(n)) => {
                        out.insert("maximum".into(), Value::Number(n));
                        out.insert("exclusiveMaximum".into(), Value::Bool(true));
                    }
                    (_, value) => {
                        out.insert(key, draft4(value));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(draft4).collect()),
        other => other,
    }
}

/// The schema's verdict on `instance`: `Ok`, or each error after the JSON path it is about.
pub fn validate(generated: &Generated, instance: &Value) -> Result<(), String> {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&generated.schema)
        .map_err(|e| format!("{} is not a schema: {e}", generated.file))?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}
