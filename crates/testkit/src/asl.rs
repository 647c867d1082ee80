//! State machine definitions from `infra/statemachine/` made runnable on the emulator.

use serde_json::{Map, Value, json};

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

// Lambda tasks of a state machine, made to wait for a runner: the emulator's Lambda only returns canned answers,
// so each task invoking one of the functions under test becomes an SQS "send and wait for the task token" to a
// queue of the runner, which invokes the function's handler with the same payload and answers the execution with
// the handler's result or error. States, paths, Retry and Catch stay the definition's own.
/// The task's integration, carried in the message so the answer has the shape the state expects.
pub const INVOKE: &str = "lambda:invoke";
/// A task whose `Resource` is the function's ARN: the state gets the bare result.
pub const DIRECT: &str = "direct";

/// Rewrites every Lambda task calling one of `functions` (ARN or name) to send its payload to `queue_url` and
/// wait for the token. Returns how many tasks were rewritten.
pub fn lambda_tasks_to_callbacks(
    definition: &mut Value,
    functions: &[&str],
    queue_url: &str,
) -> usize {
    let mut rewritten = 0;
    visit_states(definition, &mut |state| {
        if state["Type"] != "Task" {
            return;
        }
        let resource = state["Resource"].as_str().unwrap_or_default().to_owned();
        let (integration, function, payload) =
            if resource.starts_with("arn:aws:states:::lambda:invoke") {
                let function = state["Parameters"]["FunctionName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let payload = match state["Parameters"].as_object() {
                    Some(p) if p.contains_key("Payload.$") => ("Payload.$", p["Payload.$"].clone()),
                    Some(p) if p.contains_key("Payload") => ("Payload", p["Payload"].clone()),
                    _ => ("Payload.$", json!("$")),
                };
                (INVOKE, function, payload)
            } else if resource.starts_with("arn:aws:lambda:") {
                let payload = match state["Parameters"].as_object() {
                    Some(p) => ("Payload", Value::Object(p.clone())),
                    None => ("Payload.$", json!("$")),
                };
                (DIRECT, resource.clone(), payload)
            } else {
                return;
            };
        if !functions.iter().any(|f| !f.is_empty() && *f == function) {
            return;
        }
        let mut body = Map::new();
        body.insert("Integration".into(), json!(integration));
        body.insert("FunctionName".into(), json!(function));
        body.insert(payload.0.into(), payload.1);
        body.insert("TaskToken.$".into(), json!("$$.Task.Token"));
        state["Resource"] = json!("arn:aws:states:::sqs:sendMessage.waitForTaskToken");
        state["Parameters"] = json!({"QueueUrl": queue_url, "MessageBody": Value::Object(body)});
        rewritten += 1;
    });
    rewritten
}

/// Calls `f` on every state, including those inside Parallel branches and Map iterators.
fn visit_states(definition: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    let Some(states) = definition.get_mut("States").and_then(Value::as_object_mut) else {
        return;
    };
    for state in states.values_mut() {
        f(state);
        // `get_mut`, not indexing: indexing a missing key of a mutable object inserts it.
        if let Some(branches) = state.get_mut("Branches").and_then(Value::as_array_mut) {
            for branch in branches {
                visit_states(branch, f);
            }
        }
        for key in ["Iterator", "ItemProcessor"] {
            if let Some(inner) = state.get_mut(key).filter(|v| v.is_object()) {
                visit_states(inner, f);
            }
        }
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

    const GATE: &str = "arn:aws:lambda:us-east-1:123456789012:function:gate";

    #[test]
    fn the_gate_task_waits_for_the_runner_with_its_payload() {
        let mut definition = json!({"StartAt": "Gate", "States": {
            "Gate": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Parameters": {"FunctionName": GATE, "Payload": {"job.$": "$.job"}},
                     "ResultSelector": {"verdict.$": "$.Payload"}, "Retry": [{"ErrorEquals": ["Retryable"]}],
                     "Next": "Other"},
            "Other": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:other"},
                      "End": true}
        }});
        assert_eq!(
            lambda_tasks_to_callbacks(&mut definition, &[GATE], "http://q"),
            1
        );
        let gate = &definition["States"]["Gate"];
        assert_eq!(
            gate["Resource"],
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        );
        assert_eq!(
            gate["Parameters"],
            json!({"QueueUrl": "http://q", "MessageBody": {
                "Integration": INVOKE, "FunctionName": GATE, "Payload": {"job.$": "$.job"},
                "TaskToken.$": "$$.Task.Token"}})
        );
        // What the state does with the answer is unchanged.
        assert_eq!(gate["ResultSelector"], json!({"verdict.$": "$.Payload"}));
        assert_eq!(gate["Retry"][0]["ErrorEquals"][0], "Retryable");
        assert_eq!(
            definition["States"]["Other"]["Resource"],
            "arn:aws:states:::lambda:invoke"
        );
        // Nothing else is added to the states.
        assert!(definition["States"]["Other"].get("Branches").is_none());
    }

    #[test]
    fn direct_arn_tasks_inside_parallel_branches_are_found() {
        let mut definition = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Branches": [{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": GATE, "End": true}}}]}}});
        assert_eq!(
            lambda_tasks_to_callbacks(&mut definition, &[GATE], "http://q"),
            1
        );
        let task = &definition["States"]["P"]["Branches"][0]["States"]["T"];
        assert_eq!(task["Parameters"]["MessageBody"]["Integration"], DIRECT);
        assert_eq!(task["Parameters"]["MessageBody"]["Payload.$"], "$");
    }
}
