//! The JSON Schemas in `schemas/` hold what the code writes: a lineage record as model-gate serializes it validates
//! (with the `jsonschema` validator of the project's tools), and one altered the ways a forger or a careless
//! change would does not.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// The validator's verdict on `instance` against `schemas/<schema>`: `Ok`, or its messages.
fn validate(schema: &str, instance: &Value) -> Result<(), String> {
    let schema = format!("{}/../schemas/{schema}", env!("CARGO_MANIFEST_DIR"));
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        jsonschema.Draft202012Validator.check_schema(schema)\n\
        v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())\n\
        errors = [e.message for e in v.iter_errors(json.loads(sys.stdin.read()))]\n\
        print('; '.join(errors))\n\
        sys.exit(1 if errors else 0)\n";
    let mut child = Command::new(testkit::python_path())
        .args(["-c", script, &schema])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the tools' Python (make setup)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(instance.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

#[test]
fn a_lineage_record_as_written_validates_and_altered_ones_do_not() {
    let written = serde_json::to_value(testkit::lineage_record(
        "tickets-classifier-20261201100000-abcdef",
    ))
    .unwrap();
    validate("lineage-record.schema.json", &written).unwrap();

    type Change = fn(&mut Value);
    let altered: [(&str, Change); 5] = [
        ("an unknown field", |r| r["training"]["notes"] = json!("x")),
        ("a digest that is not SHA-256", |r| {
            r["data"]["pinsSha256"] = json!("abc")
        }),
        ("a decision the registry does not know", |r| {
            r["verdict"]["decision"] = json!("Maybe")
        }),
        ("no data", |r| {
            r.as_object_mut().unwrap().remove("data");
        }),
        ("another format version", |r| r["schemaVersion"] = json!(2)),
    ];
    for (what, change) in altered {
        let mut instance = written.clone();
        change(&mut instance);
        assert!(
            validate("lineage-record.schema.json", &instance).is_err(),
            "{what}"
        );
    }
}
