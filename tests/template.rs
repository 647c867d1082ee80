//! The template's wiring that no validator checks: every alarm named with the drift prefix reaches drift-handler
//! (the rule's pattern uses the same prefix) and drift-handler classifies it as a kind it acts on.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use drift_handler::classify::{AlarmFacts, AlarmState, DriftKind, classify};
use text_monitor::drift::CheckName;
use yaml_serde::Value;

fn template() -> Value {
    let path = format!("{}/../infra/template.yaml", env!("CARGO_MANIFEST_DIR"));
    yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The text of a `!Sub` (or a plain string).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Tagged(tagged) => text(&tagged.value),
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn drift_alarms_reach_drift_handler_and_are_classified() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let drift_rule = &template["Resources"]["DriftAlarmsRule"]["Properties"]["EventPattern"];
    let prefix_ref = &drift_rule["detail"]["alarmName"][0]["prefix"];
    assert_eq!(
        text(prefix_ref),
        "DriftAlarmPrefix",
        "the rule matches the DriftAlarmPrefix parameter"
    );
    let own_namespace =
        text(&template["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"]);

    let mut drift_alarms = BTreeMap::new();
    for (name, resource) in resources {
        if resource["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        let alarm_name = text(&resource["Properties"]["AlarmName"]);
        if !alarm_name.starts_with("${DriftAlarmPrefix}") {
            continue;
        }
        let p = &resource["Properties"];
        let facts = AlarmFacts {
            name: alarm_name,
            state: AlarmState::Alarm,
            previous: Some(AlarmState::Ok),
            since: "2026-11-22T00:00:00Z".parse().unwrap(),
            reason: String::new(),
            description: None,
            namespace: Some(text(&p["Namespace"])),
            metric: Some(text(&p["MetricName"])),
            dimensions: BTreeMap::new(),
            threshold: None,
            value: None,
        };
        drift_alarms.insert(
            name.as_str().unwrap().to_owned(),
            classify(&facts, &[], &own_namespace),
        );
    }
    let mut expected: BTreeMap<String, DriftKind> = [
        ("LabelMixDriftAlarm", DriftKind::PredictionQuality),
        ("LowConfidenceDriftAlarm", DriftKind::PredictionQuality),
        ("OtherShareDriftAlarm", DriftKind::PredictionQuality),
        ("ModelQualityAlarm", DriftKind::ModelQuality),
        ("BiasAlarm", DriftKind::Bias),
    ]
    .into_iter()
    .map(|(name, kind)| (name.to_owned(), kind))
    .collect();
    // One alarm per input-drift check of the monitor, on the check's own `Check` dimension value.
    for check in CheckName::ALL {
        let resource = format!("InputDrift{check:?}Alarm");
        expected.insert(resource.clone(), DriftKind::DataDrift);
        let dimensions = resources[resource.as_str()]["Properties"]["Dimensions"]
            .as_sequence()
            .unwrap_or_else(|| panic!("no {resource}"));
        let value = dimensions
            .iter()
            .find(|d| d["Name"] == "Check")
            .map(|d| text(&d["Value"]));
        assert_eq!(value.as_deref(), Some(check.as_str()), "{resource}");
    }
    assert_eq!(drift_alarms, expected);
}

/// A scalar of the template as a number (YAML numbers and numeric strings alike).
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Of `names`, the numeric variables the template sets on `function`, as an environment's pairs (a variable it
/// leaves unset keeps the function's default).
fn numeric_settings(
    template: &Value,
    function: &str,
    names: &[&'static str],
) -> Vec<(&'static str, String)> {
    let own = &template["Resources"][function]["Properties"]["Environment"]["Variables"];
    names
        .iter()
        .filter_map(|&name| number(&own[name]).map(|n| (name, n.to_string())))
        .collect()
}

#[test]
fn every_function_claim_outlives_its_timeout() {
    // A claim must not lapse while its delivery still runs (two deliveries would act), and should lapse soon
    // after a crash (the retry waits for it).
    let template = template();
    let globals = &template["Globals"]["Function"];
    let mut checked = 0;
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let p = &resource["Properties"];
        let timeout = number(&p["Timeout"])
            .or_else(|| number(&globals["Timeout"]))
            .unwrap();
        let lease = number(&p["Environment"]["Variables"]["CLAIM_LEASE_SECONDS"])
            .or_else(|| number(&globals["Environment"]["Variables"]["CLAIM_LEASE_SECONDS"]))
            .unwrap_or_else(|| panic!("{name:?} has no CLAIM_LEASE_SECONDS"));
        assert!(
            lease > timeout && lease <= timeout * 2,
            "{name:?}: lease {lease} s for a {timeout} s timeout"
        );
        checked += 1;
    }
    assert!(checked >= 6, "{checked} functions");
}

/// A metric in the project's namespace that the template names: where, the stage it filters on (when it does),
/// the metric name, and the dimensions besides `Stage` it expects.
#[derive(Debug)]
struct Named {
    place: String,
    stage: Option<String>,
    name: String,
    dimensions: Vec<String>,
}

/// Every metric of `namespace` named by an alarm (`MetricName` or `Metrics[].MetricStat`) or by a dashboard
/// (`SEARCH('{namespace,dims…} …')` expressions and `[namespace, name, dim, value…]` rows).
fn named_metrics(template: &Value, namespace: &str) -> Vec<Named> {
    let mut named = Vec::new();
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        let id = id.as_str().unwrap();
        let p = &resource["Properties"];
        match resource["Type"].as_str().unwrap_or_default() {
            "AWS::CloudWatch::Alarm" => {
                let stats = p["Metrics"].as_sequence().into_iter().flatten();
                let metrics = std::iter::once(p).chain(stats.map(|m| &m["MetricStat"]["Metric"]));
                for metric in metrics.filter(|m| m["Namespace"].as_str() == Some(namespace)) {
                    named.push(alarm_metric(id, metric));
                }
            }
            "AWS::CloudWatch::Dashboard" => {
                let body: serde_json::Value =
                    serde_json::from_str(&text(&p["DashboardBody"])).unwrap();
                dashboard_metrics(id, &body, namespace, &mut named);
            }
            _ => {}
        }
    }
    named
}

fn alarm_metric(id: &str, metric: &Value) -> Named {
    let mut stage = None;
    let mut dimensions = Vec::new();
    for dimension in metric["Dimensions"].as_sequence().into_iter().flatten() {
        let name = text(&dimension["Name"]);
        if name == guardrails_core::telemetry::STAGE_DIMENSION {
            stage = Some(text(&dimension["Value"]));
        } else {
            dimensions.push(name);
        }
    }
    Named {
        place: id.to_owned(),
        stage,
        name: text(&metric["MetricName"]),
        dimensions,
    }
}

fn dashboard_metrics(id: &str, node: &serde_json::Value, namespace: &str, named: &mut Vec<Named>) {
    match node {
        serde_json::Value::Array(row)
            if row.first().and_then(|v| v.as_str()) == Some(namespace) =>
        {
            let parts: Vec<String> = row
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            let pairs: Vec<&[String]> = parts[2..].chunks(2).collect();
            let stage = pairs.iter().find(|p| p[0] == "Stage").map(|p| p[1].clone());
            named.push(Named {
                place: format!("{id} row"),
                stage,
                name: parts[1].clone(),
                dimensions: pairs
                    .iter()
                    .filter(|p| p[0] != "Stage")
                    .map(|p| p[0].clone())
                    .collect(),
            });
        }
        serde_json::Value::String(expression) if expression.starts_with("SEARCH(") => {
            named.extend(search_metrics(id, expression, namespace));
        }
        serde_json::Value::Array(items) => items
            .iter()
            .for_each(|v| dashboard_metrics(id, v, namespace, named)),
        serde_json::Value::Object(fields) => {
            fields
                .values()
                .for_each(|v| dashboard_metrics(id, v, namespace, named));
        }
        _ => {}
    }
}

/// `SEARCH('{Namespace,Dim1,Stage} Stage="s" (MetricName="A" OR MetricName="B")', …)`.
fn search_metrics(id: &str, expression: &str, namespace: &str) -> Vec<Named> {
    let schema = expression
        .split_once('{')
        .unwrap()
        .1
        .split_once('}')
        .unwrap()
        .0;
    let mut keys = schema.split(',').map(str::trim);
    if keys.next() != Some(namespace) {
        return Vec::new();
    }
    let dimensions: Vec<String> = keys.filter(|k| *k != "Stage").map(str::to_owned).collect();
    let quoted = |key: &str| quoted(expression, key);
    let stage = quoted("Stage").into_iter().next();
    quoted("MetricName")
        .into_iter()
        .map(|name| Named {
            place: format!("{id} SEARCH"),
            stage: stage.clone(),
            name,
            dimensions: dimensions.clone(),
        })
        .collect()
}

/// The values of `key="value"` in a SEARCH expression, where key is a whole word (`Stage=` is not the end of
/// `PipelineStage=`).
fn quoted(expression: &str, key: &str) -> Vec<String> {
    let needle = format!("{key}=\"");
    expression
        .match_indices(&needle)
        .filter(|(at, _)| {
            !expression[..*at]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
        })
        .map(|(at, _)| {
            let rest = &expression[at + needle.len()..];
            rest.split('"').next().unwrap().to_owned()
        })
        .collect()
}

/// What the template names that the code does not emit under that name, stage and dimensions.
fn not_emitted(named: &[Named]) -> Vec<String> {
    use guardrails_core::metric::CATALOG;
    let mut wrong = Vec::new();
    for n in named {
        let candidates: Vec<_> = CATALOG
            .iter()
            .filter(|m| m.name == n.name && n.stage.as_deref().is_none_or(|s| s == m.stage))
            .collect();
        let mut expected = n.dimensions.clone();
        expected.sort();
        let fits = candidates.iter().any(|m| {
            let mut emitted: Vec<String> = m.dimensions.iter().map(|d| (*d).to_owned()).collect();
            emitted.sort();
            emitted == expected
        });
        if !fits {
            wrong.push(format!(
                "{}: {} (stage {:?}, dimensions {:?}) is not emitted so (emitted: {:?})",
                n.place, n.name, n.stage, n.dimensions, candidates
            ));
        }
    }
    wrong
}

#[test]
fn alarms_and_dashboard_name_only_metrics_the_code_emits() {
    let template = template();
    let namespace =
        text(&template["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"]);
    let named = named_metrics(&template, &namespace);
    let alarms = named
        .iter()
        .filter(|n| !n.place.starts_with("Dashboard"))
        .count();
    assert!(
        alarms >= 6 && named.len() - alarms >= 10,
        "too few found: {named:#?}"
    );
    assert_eq!(not_emitted(&named), Vec::<String>::new());

    // The check sees a renamed metric and a renamed dimension, in an alarm and in the dashboard.
    let source = std::fs::read_to_string(format!(
        "{}/../infra/template.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    for (from, to) in [
        ("MetricName: AvgConfidence", "MetricName: AverageConfidence"),
        (
            "{ Name: Service, Value: Total }",
            "{ Name: Services, Value: Total }",
        ),
        (
            "MetricName=\\\"LatencyMs\\\"",
            "MetricName=\\\"LatencyMillis\\\"",
        ),
        (
            "{MlopsGuardrails,Kind,Stage}",
            "{MlopsGuardrails,DriftKind,Stage}",
        ),
    ] {
        assert!(source.contains(from), "{from}");
        let broken: Value = yaml_serde::from_str(&source.replacen(from, to, 1)).unwrap();
        let wrong = not_emitted(&named_metrics(&broken, &namespace));
        assert_eq!(wrong.len(), 1, "{to}: {wrong:?}");
    }
}

/// The words of the Makefile variable `name` (`NAME := a b \` continued on the lines that end with `\`).
fn makefile_list(makefile: &str, name: &str) -> Vec<String> {
    let assignment = format!("\n{name} :=");
    let start = makefile
        .find(&assignment)
        .unwrap_or_else(|| panic!("the Makefile sets {name}"));
    let mut listed = Vec::new();
    for line in makefile[start + assignment.len()..].lines() {
        listed.extend(
            line.trim_end_matches('\\')
                .split_whitespace()
                .map(str::to_owned),
        );
        if !line.trim_end().ends_with('\\') {
            break;
        }
    }
    listed
}

#[test]
fn make_package_builds_every_function_the_template_deploys() {
    let makefile =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Makefile")).unwrap();
    let package = makefile
        .lines()
        .find(|l| l.contains("cargo-lambda lambda build"))
        .expect("make package builds with cargo-lambda");
    assert!(
        package.contains("$(foreach f,$(LAMBDA_BINS),--bin $(f))"),
        "make package builds LAMBDA_BINS: {package}"
    );
    let built = makefile_list(&makefile, "LAMBDA_BINS");
    let template = template();
    let mut deployed = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let code = text(&resource["Properties"]["CodeUri"]);
        let binary = code
            .strip_prefix("../target/lambda/")
            .and_then(|rest| rest.strip_suffix("/bootstrap.zip"))
            .unwrap_or_else(|| panic!("{name:?}: CodeUri {code}"));
        deployed.push(binary.to_owned());
    }
    deployed.sort();
    let mut built = built;
    built.sort();
    assert_eq!(built, deployed, "make package and the template's CodeUris");
}

/// The training workflow's `TimeoutSeconds` leaves room for the longest run trigger-training asks for, as the
/// template configures it: the spot attempt's wait, the on-demand fallback's runtime, and half an hour for the
/// gate and the registration. A run stuck past it ends `TIMED_OUT` and is paged (`workflow-failed`); one that
/// could legitimately outlast it would be paged by mistake.
#[test]
fn the_training_workflow_times_out_only_after_its_longest_legitimate_run() {
    let definition: serde_json::Value =
        serde_json::from_str(include_str!("../infra/statemachine/training.asl.json")).unwrap();
    let timeout = definition["TimeoutSeconds"].as_u64().unwrap();
    let template = template();
    let limits = numeric_settings(
        &template,
        "TriggerTrainingFunction",
        &["MAX_RUNTIME_SECONDS", "MAX_WAIT_SECONDS"],
    );
    let mut env: Vec<(&str, &str)> = vec![
        (
            "STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:1:stateMachine:t",
        ),
        ("TRAINING_DATASET", "tickets"),
        ("STATE_BUCKET", "state"),
        ("TRAINING_IMAGE", "i"),
        ("INFERENCE_IMAGE", "i"),
        ("MODEL_PACKAGE_GROUP", "g"),
        ("TRAINING_DATA_URI", "s3://b/p/"),
        ("OUTPUT_URI", "s3://b/o/"),
    ];
    env.extend(limits.iter().map(|(k, v)| (*k, v.as_str())));
    let config =
        trigger_training::Config::from_env(&guardrails_core::Env::from_pairs(env)).unwrap();
    let training = &config.training;
    let longest =
        u64::from(training.max_wait_seconds) + u64::from(training.max_runtime_seconds) + 1800;
    assert!(
        timeout >= longest,
        "TimeoutSeconds {timeout} < {longest}: spot wait {} + fallback {} + 30 min",
        training.max_wait_seconds,
        training.max_runtime_seconds
    );
    assert!(
        timeout <= longest + 3600,
        "TimeoutSeconds {timeout}: a stuck run waits more than an hour past the longest legitimate one ({longest})"
    );
}

/// The Slack forwarder's timeout holds every attempt at one notice its configuration allows (each post up to its
/// timeout, the longest wait between two, one more post after re-reading a rotated secret, the pacing before
/// each): Lambda must not stop it between a post Slack took and the invocation's end.
#[test]
fn the_slack_forwarder_outlives_its_own_retries() {
    let template = template();
    let function = &template["Resources"]["SlackForwarderFunction"]["Properties"];
    let timeout = number(&function["Timeout"])
        .or_else(|| number(&template["Globals"]["Function"]["Timeout"]))
        .unwrap();
    let settings = numeric_settings(
        &template,
        "SlackForwarderFunction",
        &[
            "POST_ATTEMPTS",
            "POST_TIMEOUT_MS",
            "POST_INTERVAL_MS",
            "POST_BACKOFF_MS",
        ],
    );
    let mut env: Vec<(&str, &str)> = vec![("WEBHOOK_SECRET_ID", "s")];
    env.extend(settings.iter().map(|(k, v)| (*k, v.as_str())));
    let config = slack_forwarder::Config::from_env(&guardrails_core::Env::from_pairs(env)).unwrap();
    let posts = config.attempts + 1;
    let longest = config.timeout * posts
        + slack_forwarder::webhook::MAX_WAIT * (config.attempts - 1)
        + config.interval * posts;
    assert!(
        std::time::Duration::from_secs(timeout) > longest,
        "Timeout {timeout} s, but one notice may take {longest:?}"
    );
}

#[test]
fn the_posture_change_rule_listens_for_exactly_the_calls_the_auditor_rechecks() {
    use posture_audit::change::{DETAIL_TYPE, WATCHED};
    let template = template();
    let pattern = &template["Resources"]["PostureAuditChangeRule"]["Properties"]["EventPattern"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|item| match item {
                Value::String(s) => s.clone(),
                prefix => format!("{}*", text(&prefix["prefix"])),
            })
            .collect()
    };
    assert_eq!(strings(&pattern["detail-type"]), [DETAIL_TYPE]);
    let sources: Vec<String> = WATCHED.iter().map(|(s, _)| (*s).to_owned()).collect();
    assert_eq!(strings(&pattern["detail"]["eventSource"]), sources);
    let buses: Vec<String> = WATCHED
        .iter()
        .map(|(s, _)| format!("aws.{}", s.split('.').next().unwrap()))
        .collect();
    assert_eq!(strings(&pattern["source"]), buses);
    let mut expected: Vec<String> = WATCHED
        .iter()
        .flat_map(|(source, names)| {
            names.iter().map(move |n| {
                if *source == "lambda.amazonaws.com" {
                    format!("{n}*")
                } else {
                    (*n).to_owned()
                }
            })
        })
        .collect();
    expected.sort();
    expected.dedup();
    let mut listed = strings(&pattern["detail"]["eventName"]);
    listed.sort();
    assert_eq!(listed, expected);
}

#[test]
fn the_dashboard_shows_the_cost_of_each_service_cost_guard_names() {
    let template = template();
    let namespace =
        text(&template["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"]);
    let per_service: Vec<Named> = named_metrics(&template, &namespace)
        .into_iter()
        .filter(|n| n.place.starts_with("Dashboard") && n.name == "CostUsd")
        .filter(|n| n.dimensions == ["Service"])
        .collect();
    assert!(
        !per_service.is_empty(),
        "a dashboard widget searches CostUsd by its Service dimension, so every named service is a line of it"
    );
    // Cost per job has no metric (a stream per job would be unbounded): a Logs Insights table reads the line
    // cost-guard writes per job, from its own log group.
    let body: serde_json::Value = serde_json::from_str(&text(
        &template["Resources"]["Dashboard"]["Properties"]["DashboardBody"],
    ))
    .unwrap();
    let queries: Vec<&str> = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["type"] == "log")
        .filter_map(|w| w["properties"]["query"].as_str())
        .collect();
    let message = format!("fields.message = \"{}\"", cost_guard::handler::JOB_COST_LOG);
    assert!(
        queries.iter().any(
            |q| q.starts_with("SOURCE '/aws/lambda/${ProjectName}-cost-guard'")
                && q.contains(&message)
                && q.contains("fields.job")
                && q.contains("fields.usd")
        ),
        "no per-job cost table reading cost-guard's {message:?} lines: {queries:?}"
    );
}

/// The texts in `value`: a string, a tagged string (`!Sub`, `!GetAtt`), or a list of them.
fn texts(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().flat_map(texts).collect(),
        Value::String(s) => vec![s.clone()],
        Value::Tagged(tagged) => texts(&tagged.value),
        _ => Vec::new(),
    }
}

/// A role whose policy lets it write the state bucket is one the bucket's policy lets write: otherwise its writes
/// are denied in AWS (the emulator does not enforce bucket policies, so no emulator test would see it).
#[test]
fn every_role_that_writes_state_is_one_the_state_bucket_lets_write() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let statements =
        template["Resources"]["StateBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
            .as_sequence()
            .unwrap();
    let only = statements
        .iter()
        .find(|st| text(&st["Sid"]) == "OnlyTheFunctionsWriteState")
        .expect("the state bucket's writer list");
    let allowed = texts(&only["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]);
    let mut writers = Vec::new();
    for (id, resource) in resources {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        let policies = resource["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten();
        let writes_state = policies
            .flat_map(|p| {
                p["PolicyDocument"]["Statement"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
            })
            .filter(|st| st["Effect"] == "Allow")
            .filter(|st| {
                texts(&st["Action"])
                    .iter()
                    .any(|a| a == "s3:PutObject" || a == "s3:*")
            })
            .any(|st| {
                texts(&st["Resource"])
                    .iter()
                    .any(|r| r.contains("StateBucket"))
            });
        if writes_state {
            writers.push(id.as_str().unwrap().to_owned());
        }
    }
    assert!(writers.len() >= 9, "{writers:?}");
    for writer in writers {
        assert!(
            allowed.contains(&format!("{writer}.Arn")),
            "{writer} may write the state bucket by its policy, but the bucket's OnlyTheFunctionsWriteState denies it"
        );
    }
}

/// Every SEARCH expression of the dashboard.
fn dashboard_searches(node: &serde_json::Value, out: &mut Vec<String>) {
    match node {
        serde_json::Value::String(e) if e.starts_with("SEARCH(") => out.push(e.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| dashboard_searches(v, out)),
        serde_json::Value::Object(fields) => {
            fields.values().for_each(|v| dashboard_searches(v, out))
        }
        _ => {}
    }
}

#[test]
fn the_dashboard_has_a_section_for_each_stage_the_stage_reports_watch() {
    let template = template();
    let body: serde_json::Value = serde_json::from_str(&text(
        &template["Resources"]["Dashboard"]["Properties"]["DashboardBody"],
    ))
    .unwrap();
    let mut searches = Vec::new();
    dashboard_searches(&body, &mut searches);
    let shown = |stage: &str| -> Vec<String> {
        let mut names: Vec<String> = searches
            .iter()
            .filter(|e| quoted(e, "PipelineStage") == [stage])
            .flat_map(|e| quoted(e, "MetricName"))
            .collect();
        names.sort();
        names.dedup();
        names
    };
    // The seed's table: processing time, % nulls, embedding distribution, batch failures; number of clusters,
    // intra-cluster variance. Each stage's report count and limits passed beside them.
    for (stage, expected) in [
        (
            "feature-engineering",
            &[
                "EmbeddingMeanDistance",
                "EmbeddingVarianceRatio",
                "StageFailedBatches",
                "StageNullPct",
                "StageSeconds",
            ][..],
        ),
        (
            "clustering",
            &["Clusters", "IntraClusterVariance", "StageSeconds"][..],
        ),
    ] {
        let names = shown(stage);
        for name in expected.iter().chain(&["StageBreaches", "StageReports"]) {
            assert!(
                names.iter().any(|n| n == name),
                "{stage}: no {name} in {names:?}"
            );
        }
    }
}

/// Every expression of the dashboard (SEARCH and Metrics Insights `SELECT`).
fn dashboard_expressions(node: &serde_json::Value, out: &mut Vec<String>) {
    match node {
        serde_json::Value::Object(fields) => {
            if let Some(e) = fields.get("expression").and_then(|e| e.as_str()) {
                out.push(e.to_owned());
            }
            fields.values().for_each(|v| dashboard_expressions(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| dashboard_expressions(v, out)),
        _ => {}
    }
}

#[test]
fn job_health_is_on_the_dashboard_and_sustained_memory_saturation_alarms() {
    let template = template();
    let body: serde_json::Value = serde_json::from_str(&text(
        &template["Resources"]["Dashboard"]["Properties"]["DashboardBody"],
    ))
    .unwrap();
    let mut expressions = Vec::new();
    dashboard_expressions(&body, &mut expressions);
    for name in ["JobRuns", "JobSeconds"] {
        assert!(
            expressions
                .iter()
                .any(|e| quoted(e, "MetricName") == [name]),
            "no {name} on the dashboard"
        );
    }
    for jobs in ["TrainingJobs", "ProcessingJobs"] {
        for metric in ["CPUUtilization", "MemoryUtilization"] {
            let query =
                format!("SELECT MAX({metric}) FROM \"/aws/sagemaker/{jobs}\" GROUP BY Host");
            assert!(expressions.contains(&query), "no {query}");
        }
        // The alarm: the same hosts' memory, past the limit for three periods in a row.
        let alarm = template["Resources"]
            .as_mapping()
            .unwrap()
            .values()
            .find(|r| {
                r["Properties"]["Metrics"][0]["Expression"].as_str()
                    == Some(&format!(
                        "SELECT MAX(MemoryUtilization) FROM \"/aws/sagemaker/{jobs}\""
                    ))
            })
            .unwrap_or_else(|| panic!("no memory alarm on {jobs}"));
        let p = &alarm["Properties"];
        assert!(
            text(&p["AlarmName"]).ends_with("-memory-saturated"),
            "the notifier names it by this suffix"
        );
        assert_eq!(
            (
                p["EvaluationPeriods"].as_u64(),
                text(&p["ComparisonOperator"]).as_str()
            ),
            (Some(3), "GreaterThanThreshold")
        );
    }
}

#[test]
fn make_deploy_signs_every_function_the_template_deploys() {
    let makefile =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Makefile")).unwrap();
    let mut listed: Vec<String> = makefile_list(&makefile, "FUNCTIONS")
        .iter()
        .map(|stem| format!("{stem}Function"))
        .collect();
    listed.sort();
    let template = template();
    let mut functions: Vec<String> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, _)| id.as_str().unwrap().to_owned())
        .collect();
    functions.sort();
    assert_eq!(
        listed, functions,
        "`make deploy --signing-profiles` and the pipeline sign each function of FUNCTIONS: the code signing \
         configuration refuses any left out"
    );
}
