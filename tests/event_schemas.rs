//! The schemas `schemas/` holds for the domain events, the dataset contract and the validation report are the
//! ones the Rust types generate (`make schemas` writes them); the template registers each event's schema as
//! generated; every sample of `events/`, the contracts the project ships and every report the corpus gives
//! validate against them, and altered ones do not.

#![allow(clippy::unwrap_used)]

mod event_schema;

use std::path::Path;

use event_schema::{Generated, generated, of_event, schemas_dir, validate};
use serde_json::{Value, json};

/// Set (to anything) to write the generated schemas and the template's registry contents instead of checking them.
const WRITE: &str = "GUARDRAILS_WRITE_SCHEMAS";

fn repository() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// What an alteration is, the change, and a fragment of the validator's message that says it was refused for it.
type Alteration = (&'static str, fn(&mut Value), &'static str);

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

#[test]
fn the_schemas_in_the_repository_are_the_ones_the_types_generate() {
    let write = std::env::var_os(WRITE).is_some();
    let mut stale = Vec::new();
    for g in generated() {
        let path = schemas_dir().join(&g.file);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, pretty(&g.schema)).unwrap();
            continue;
        }
        let committed: Option<Value> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
        if committed.as_ref() != Some(&g.schema) {
            stale.push(g.file);
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/{} differ from what the types generate: run `make schemas` and commit the result",
        stale.join(", schemas/")
    );
}

/// The template's `AWS::EventSchemas::Schema` resources: logical id, schema name, its content parsed.
fn registered() -> Vec<(String, String, Value)> {
    let text = std::fs::read_to_string(repository().join("infra/template.yaml")).unwrap();
    let template: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let mut schemas = Vec::new();
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::EventSchemas::Schema") {
            continue;
        }
        let properties = &resource["Properties"];
        assert_eq!(
            properties["Type"].as_str(),
            Some("JSONSchemaDraft4"),
            "{id:?}"
        );
        let content = properties["Content"].as_str().unwrap();
        schemas.push((
            id.as_str().unwrap().to_owned(),
            properties["SchemaName"].as_str().unwrap().to_owned(),
            serde_json::from_str(content).unwrap(),
        ));
    }
    schemas
}

/// Writes each event schema, as one JSON string, on the `Content:` line of its resource (`<Name>EventSchema`).
fn write_registry(events: &[Generated]) {
    let path = repository().join("infra/template.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    for g in events {
        let resource = format!("\n  {}EventSchema:\n", g.name);
        let start = text
            .find(&resource)
            .unwrap_or_else(|| panic!("the template has no {}", resource.trim()));
        let line = start + text[start..].find("\n      Content: ").unwrap() + 1;
        let end = line + text[line..].find('\n').unwrap();
        let compact = serde_json::to_string(&g.schema).unwrap();
        let content = format!(
            "      Content: {}",
            serde_json::to_string(&compact).unwrap()
        );
        text.replace_range(line..end, &content);
    }
    std::fs::write(&path, text).unwrap();
}

#[test]
fn the_template_registers_every_event_schema_as_generated() {
    let events: Vec<Generated> = generated()
        .into_iter()
        .filter(|g| g.detail_type.is_some())
        .collect();
    if std::env::var_os(WRITE).is_some() {
        write_registry(&events);
    }
    let registered = registered();
    assert_eq!(
        registered.len(),
        events.len(),
        "one registered schema per domain event"
    );
    for g in &events {
        let (id, _, content) = registered
            .iter()
            .find(|(_, name, _)| *name == format!("{}@{}", guardrails_core::domain::SOURCE, g.name))
            .unwrap_or_else(|| panic!("no registered schema named {}", g.name));
        assert_eq!(id, &format!("{}EventSchema", g.name));
        assert!(
            content == &g.schema,
            "{id}'s Content differs from schemas/{}: run `make schemas`",
            g.file
        );
    }
}

/// Every sample of `events/` whose source is the project's, with its file name.
fn project_samples() -> Vec<(String, Value)> {
    let mut samples = Vec::new();
    for entry in std::fs::read_dir(repository().join("events")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if event["source"] == guardrails_core::domain::SOURCE {
            samples.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                event,
            ));
        }
    }
    samples.sort_by(|a, b| a.0.cmp(&b.0));
    samples
}

#[test]
fn every_sample_event_of_the_project_validates_and_carries_the_current_version() {
    let samples = project_samples();
    assert!(samples.len() >= 4, "the project's samples: {samples:?}");
    for (file, event) in &samples {
        let detail_type = event["detail-type"].as_str().unwrap();
        let schema = of_event(detail_type)
            .unwrap_or_else(|| panic!("{file}: no schema for {detail_type:?}"));
        validate(&schema, event).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            event["detail"]["version"],
            json!(guardrails_core::domain::DETAIL_VERSION),
            "{file}"
        );
    }
}

#[test]
fn altered_events_do_not_validate_each_for_its_reason() {
    let (_, sample) = project_samples()
        .into_iter()
        .find(|(file, _)| file == "dataset-validated.json")
        .unwrap();
    let schema = of_event("Dataset Validated").unwrap();
    let alterations: [Alteration; 5] = [
        (
            "no version",
            |e| {
                e["detail"].as_object_mut().unwrap().remove("version");
            },
            "version",
        ),
        (
            "another source",
            |e| e["source"] = json!("someone.else"),
            "someone.else",
        ),
        (
            "another detail type",
            |e| e["detail-type"] = json!("Dataset Quarantined"),
            "Dataset Quarantined",
        ),
        (
            "a negative size",
            |e| e["detail"]["bytes"] = json!(-1),
            "-1",
        ),
        (
            "an object without its bucket",
            |e| {
                e["detail"]["ingested"]
                    .as_object_mut()
                    .unwrap()
                    .remove("bucket");
            },
            "bucket",
        ),
    ];
    for (what, alter, expected) in alterations {
        let mut event = sample.clone();
        alter(&mut event);
        let errors = validate(&schema, &event).expect_err(what);
        assert!(errors.contains(expected), "{what}: {errors}");
    }
}

/// The dataset contract the template ships (the `DatasetContract` parameter's value).
fn template_contract() -> Value {
    let text = std::fs::read_to_string(repository().join("infra/template.yaml")).unwrap();
    let template: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    serde_json::from_str(
        template["Resources"]["DatasetContract"]["Properties"]["Value"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

fn schema_of(file: &str) -> Generated {
    generated().into_iter().find(|g| g.file == file).unwrap()
}

#[test]
fn the_shipped_contracts_validate_and_altered_ones_do_not() {
    let schema = schema_of("dataset-contract.schema.json");
    let corpus = repository().join("crates/dataset-check/tests/corpus/contract.json");
    let corpus: Value = serde_json::from_str(&std::fs::read_to_string(corpus).unwrap()).unwrap();
    for contract in [template_contract(), corpus, json!({"labels": ["a"]})] {
        validate(&schema, &contract).unwrap_or_else(|e| panic!("{contract}: {e}"));
    }
    let alterations: [Alteration; 5] = [
        (
            "a misspelt limit",
            |c| c["max_null_fractoin"] = json!(0.5),
            "max_null_fractoin",
        ),
        (
            "a share above one",
            |c| c["max_duplicate_fraction"] = json!(1.5),
            "1.5",
        ),
        ("no labels", |c| c["labels"] = json!([]), "[]"),
        (
            "a text limit that is a document",
            |c| c["max_text_chars"] = json!(2_000_000),
            "2000000",
        ),
        ("version 2", |c| c["version"] = json!(2), "2"),
    ];
    for (what, alter, expected) in alterations {
        let mut contract = template_contract();
        alter(&mut contract);
        let errors = validate(&schema, &contract).expect_err(what);
        assert!(errors.contains(expected), "{what}: {errors}");
        assert!(
            dataset_check::Contract::from_json(&contract.to_string()).is_err(),
            "{what}: the schema refuses a contract the checker takes"
        );
    }
}

#[test]
fn every_report_of_the_corpus_validates() {
    let schema = schema_of("validation-report.schema.json");
    let corpus = repository().join("crates/dataset-check/tests/corpus");
    let contract = dataset_check::Contract::from_json(
        &std::fs::read_to_string(corpus.join("contract.json")).unwrap(),
    )
    .unwrap();
    let mut reports = 0;
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "contract.json" || name == "expected.json" {
            continue;
        }
        let file = std::fs::File::open(&path).unwrap();
        let Ok(report) = dataset_check::check(file, &name, &contract, None) else {
            continue;
        };
        validate(&schema, &serde_json::to_value(&report).unwrap())
            .unwrap_or_else(|e| panic!("{name}'s report: {e}"));
        reports += 1;
    }
    assert!(reports >= 10, "{reports} reports checked");
}
