//! The JSON Schema check the schema and local-loop tests share: the tools' Python `jsonschema`, every schema of
//! `schemas/` registered, so a `$ref` between them resolves.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The validator's exit status for an instance that does not validate (any other failure is the script's own).
const INVALID: i32 = 10;

/// The validator's verdict on `instance` against `schemas/<schema>`: `Ok`, or its messages, each after the JSON
/// path it is about. Every schema of `schemas/` is checked and registered under its `$id`, so one schema's `$ref`
/// to another (`text-profile.schema.json`) resolves to the file beside it.
///
/// # Panics
/// When the validator itself fails (no Python, a schema that is not a schema, a `$ref` that does not resolve):
/// that must fail the test, never pass for a rejection.
pub fn validate(schema: &str, instance: &Value) -> Result<(), String> {
    let schema = format!("{}/../schemas/{schema}", env!("CARGO_MANIFEST_DIR"));
    let script = "import json, pathlib, sys, jsonschema, referencing\n\
        from referencing.jsonschema import DRAFT202012\n\
        target = pathlib.Path(sys.argv[1])\n\
        schemas = {}\n\
        for path in sorted(target.parent.glob('*.schema.json')):\n\
        \x20   schema = json.loads(path.read_text())\n\
        \x20   jsonschema.Draft202012Validator.check_schema(schema)\n\
        \x20   assert schema['$id'].endswith('/schemas/' + path.name), f'{path.name} has $id {schema[\"$id\"]}'\n\
        \x20   schemas[path.name] = schema\n\
        registry = referencing.Registry().with_resources(\n\
        \x20   (s['$id'], DRAFT202012.create_resource(s)) for s in schemas.values())\n\
        v = jsonschema.Draft202012Validator(schemas[target.name], registry=registry,\n\
        \x20   format_checker=jsonschema.FormatChecker())\n\
        errors = [f'{e.json_path}: {e.message[:300]}' for e in v.iter_errors(json.loads(sys.stdin.read()))]\n\
        print('; '.join(errors))\n\
        sys.exit(10 if errors else 0)\n";
    let mut child = Command::new(testkit::python_path())
        .args(["-c", script, &schema])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tools' Python (make setup)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(instance.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    match out.status.code() {
        Some(0) => Ok(()),
        Some(INVALID) => Err(String::from_utf8_lossy(&out.stdout).into_owned()),
        _ => panic!(
            "the validator failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
