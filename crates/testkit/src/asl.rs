//! State machine definitions from `infra/statemachine/` made runnable on the emulator.

use serde_json::{Value, json};

/// The definition as the emulator can run it: `${Name}` placeholders replaced as the template's
/// `DefinitionSubstitutions` would, and `.sync` stripped from every Resource (the emulator cannot wait for a
/// job; without `.sync` it creates the job, which completes at once). Panics if a placeholder is left.
pub fn emulator_definition(asl: &str, substitutions: &[(&str, &str)]) -> Value {
    try_emulator_definition(asl, substitutions).unwrap_or_else(|why| panic!("{why}"))
}

/// As [`emulator_definition`], for a program that reports the failure itself.
///
/// # Errors
/// A placeholder left without a substitution, or a definition that is not JSON.
pub fn try_emulator_definition(asl: &str, substitutions: &[(&str, &str)]) -> Result<Value, String> {
    let mut text = asl.to_owned();
    for (name, value) in substitutions {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    if let Some(rest) = text.split("${").nth(1) {
        let name = rest.split('}').next().unwrap_or("?");
        return Err(format!("a placeholder is not substituted: {name}"));
    }
    let mut definition: Value =
        serde_json::from_str(&text).map_err(|e| format!("the definition is not JSON: {e}"))?;
    strip_sync(&mut definition);
    Ok(definition)
}

fn strip_sync(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(s) if key == "Resource" => {
                        if let Some(base) = s.strip_suffix(".sync") {
                            *s = base.to_owned();
                        }
                    }
                    other => strip_sync(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_sync),
        _ => {}
    }
}

/// Makes the task `state` fail on the emulator the way a failed job or a failed Lambda fails its task: it calls
/// DescribeTrainingJob for a job that does not exist, which SageMaker answers with an error. The state's Retry,
/// Catch and transitions stay the definition's own.
pub fn fail_state(definition: &mut Value, state: &str) {
    let task = definition["States"]
        .get_mut(state)
        .unwrap_or_else(|| panic!("no state {state}"));
    assert_eq!(task["Type"], "Task", "{state} is not a Task");
    task["Resource"] = json!("arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob");
    task["Parameters"] = json!({ "TrainingJobName": "emulator-injected-failure" });
    if let Some(map) = task.as_object_mut() {
        // Selectors of the real result would not apply to the error.
        map.remove("ResultSelector");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASL: &str = r#"{"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
              "Parameters": {"TrainingJobName.$": "$.job", "RoleArn": "${Role}"}, "Next": "N"},
        "N": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
              "Parameters": {"TopicArn": "${Topic}", "Message": "m"}, "End": true}}}"#;

    #[test]
    fn substitutes_and_strips_sync() {
        let d = emulator_definition(ASL, &[("Role", "arn:role"), ("Topic", "arn:topic")]);
        assert_eq!(
            d["States"]["T"]["Resource"],
            "arn:aws:states:::sagemaker:createTrainingJob"
        );
        assert_eq!(d["States"]["T"]["Parameters"]["RoleArn"], "arn:role");
        assert_eq!(d["States"]["N"]["Parameters"]["TopicArn"], "arn:topic");
    }

    #[test]
    #[should_panic(expected = "a placeholder is not substituted: Topic")]
    fn a_missing_substitution_is_an_error() {
        emulator_definition(ASL, &[("Role", "arn:role")]);
    }

    #[test]
    fn a_failing_state_keeps_its_transitions() {
        let mut d = emulator_definition(ASL, &[("Role", "r"), ("Topic", "t")]);
        fail_state(&mut d, "T");
        assert_eq!(
            d["States"]["T"]["Resource"],
            "arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob"
        );
        assert_eq!(d["States"]["T"]["Next"], "N");
    }
}
