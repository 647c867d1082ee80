//! Enforcement with `aws-smithy-mocks`: moto reports no SageMaker job as in progress and lacks the Stop* calls.

#![allow(clippy::unwrap_used)]

use aws_sdk_sagemaker::operation::list_processing_jobs::ListProcessingJobsOutput;
use aws_sdk_sagemaker::operation::list_tags::ListTagsOutput;
use aws_sdk_sagemaker::operation::list_training_jobs::ListTrainingJobsOutput;
use aws_sdk_sagemaker::operation::list_transform_jobs::ListTransformJobsOutput;
use aws_sdk_sagemaker::operation::stop_training_job::StopTrainingJobError;
use aws_sdk_sagemaker::operation::stop_transform_job::StopTransformJobOutput;
use aws_sdk_sagemaker::primitives::DateTime;
use aws_sdk_sagemaker::types::error::ResourceNotFound;
use aws_sdk_sagemaker::types::{
    Tag, TrainingJobStatus, TrainingJobSummary, TransformJobStatus, TransformJobSummary,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use cost_guard::enforce::Enforcer;

fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:sagemaker:us-east-1:123456789012:{kind}/{name}")
}

fn training(name: &str) -> TrainingJobSummary {
    TrainingJobSummary::builder()
        .training_job_name(name)
        .training_job_arn(arn("training-job", name))
        .creation_time(DateTime::from_secs(1_795_000_000))
        .training_job_status(TrainingJobStatus::InProgress)
        .build()
}

fn tag(value: &str) -> ListTagsOutput {
    ListTagsOutput::builder()
        .tags(Tag::builder().key("project").value(value).build())
        .build()
}

/// Two in-progress training jobs (one the project's, one another team's), one project transform job.
fn rules() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_sagemaker::Client::list_training_jobs).then_output(|| {
            ListTrainingJobsOutput::builder()
                .training_job_summaries(training("ours-hpo"))
                .training_job_summaries(training("theirs"))
                .build()
        }),
        mock!(aws_sdk_sagemaker::Client::list_processing_jobs)
            .then_output(|| ListProcessingJobsOutput::builder().build()),
        mock!(aws_sdk_sagemaker::Client::list_transform_jobs).then_output(|| {
            ListTransformJobsOutput::builder()
                .transform_job_summaries(
                    TransformJobSummary::builder()
                        .transform_job_name("ours-batch")
                        .transform_job_arn(arn("transform-job", "ours-batch"))
                        .creation_time(DateTime::from_secs(1_795_000_000))
                        .transform_job_status(TransformJobStatus::InProgress)
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_sagemaker::Client::list_tags)
            .match_requests(|r| r.resource_arn().is_some_and(|a| a.ends_with("/theirs")))
            .then_output(|| tag("another-team")),
        mock!(aws_sdk_sagemaker::Client::list_tags).then_output(|| tag("mlops-guardrails")),
        // The training job cannot be stopped; the transform job can.
        mock!(aws_sdk_sagemaker::Client::stop_training_job).then_error(|| {
            StopTrainingJobError::ResourceNotFound(
                ResourceNotFound::builder()
                    .message("job already ended")
                    .build(),
            )
        }),
        mock!(aws_sdk_sagemaker::Client::stop_transform_job)
            .then_output(|| StopTransformJobOutput::builder().build()),
    ]
}

/// Runs enforcement over a client that answers with `rules`.
async fn enforce(rules: &[Rule], dry_run: bool) -> Vec<cost_guard::enforce::JobAction> {
    let client = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &rules.iter().collect::<Vec<_>>()
    );
    Enforcer::new(client, "project".into(), "mlops-guardrails".into())
        .stop_project_jobs(dry_run)
        .await
}

fn outcomes(actions: &[cost_guard::enforce::JobAction]) -> Vec<(String, String)> {
    actions
        .iter()
        .map(|a| (format!("{} {}", a.kind, a.name), a.outcome.clone()))
        .collect()
}

#[tokio::test]
async fn stops_only_project_jobs_and_a_failed_stop_does_not_end_the_run() {
    let rules = rules();
    let actions = enforce(&rules, false).await;

    let got = outcomes(&actions);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "training ours-hpo");
    assert!(
        got[0]
            .1
            .starts_with("failed: StopTrainingJob on ours-hpo failed"),
        "{got:?}"
    );
    assert_eq!(got[1], ("transform ours-batch".into(), "stopped".into()));
    assert_eq!(rules[5].num_calls(), 1);
    assert_eq!(rules[6].num_calls(), 1);
}

#[tokio::test]
async fn dry_run_lists_what_it_would_stop_and_calls_no_stop() {
    let rules = rules();
    let actions = enforce(&rules, true).await;

    assert_eq!(
        outcomes(&actions),
        [
            ("training ours-hpo".to_owned(), "would stop".to_owned()),
            ("transform ours-batch".to_owned(), "would stop".to_owned()),
        ]
    );
    assert_eq!(rules[5].num_calls() + rules[6].num_calls(), 0);
}

#[tokio::test]
async fn a_listing_failure_is_reported_and_the_other_kinds_still_run() {
    let mut rules = rules();
    rules[0] = mock!(aws_sdk_sagemaker::Client::list_training_jobs).then_error(|| {
        aws_sdk_sagemaker::operation::list_training_jobs::ListTrainingJobsError::unhandled(
            "throttled",
        )
    });
    let actions = enforce(&rules, false).await;

    let got = outcomes(&actions);
    assert_eq!(got[0].0, "training (listing)");
    assert!(got[0].1.starts_with("failed: ListTrainingJobs"), "{got:?}");
    assert_eq!(got[1], ("transform ours-batch".into(), "stopped".into()));
}
