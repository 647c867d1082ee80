//! The real-time endpoint's part of a deploy: bringing the endpoint onto the version that serves, knowing whether
//! a move took (the release record), and saying so when it did not. Decided by [`endpoint::step`]; the calls are
//! in [`endpoint`].

use chrono::Utc;
use guardrails_core::domain::package_version;
use guardrails_core::serving::Release;
use guardrails_core::{Classify, ErrorClass, Notice, NoticeKind, Severity};
use serde_json::json;

use crate::endpoint::{self, EndpointSettings, Move, Started, Step};
use crate::handler::{Deploy, DeployError, Outcome};

/// The version the endpoint should run, and how it moves there.
pub(crate) struct Wanted<'a> {
    pub(crate) package: &'a str,
    pub(crate) model: &'a str,
    pub(crate) how: Move,
    /// A person asked for it (Deploy Requested): a move the endpoint undid is tried again.
    pub(crate) asked: bool,
    /// The version serving now, when it is no longer Approved (what the endpoint is left on if this waits).
    pub(crate) withdrawn: Option<&'a str>,
}

impl Deploy {
    /// Brings the endpoint onto the wanted version's model: `None` once it runs it, else what happens meanwhile
    /// (it is being created or moved, it is busy, or the move was undone and is not tried again unasked).
    pub(crate) async fn release(
        &self,
        settings: &EndpointSettings,
        wanted: Wanted<'_>,
    ) -> Result<Option<Outcome>, DeployError> {
        let config = endpoint::config_name(wanted.model, settings);
        let marker = match wanted.asked {
            true => None,
            false => self
                .serving
                .release(&self.config.model_package_group, &config)
                .await?
                .filter(|r| r.endpoint == settings.name && !r.settled),
        };
        let stands = endpoint::describe(&self.sagemaker, &settings.name).await?;
        let started = marker
            .as_ref()
            .map_or(Started::Never, |m| Started::Over(m.endpoint_modified));
        let fresh = Release {
            group: self.config.model_package_group.clone(),
            package_arn: wanted.package.to_owned(),
            endpoint: settings.name.clone(),
            endpoint_config: config.clone(),
            started: Utc::now(),
            endpoint_modified: stands.modified,
            undone: None,
            settled: false,
        };
        let undone_before = marker.as_ref().and_then(|m| m.undone.clone());
        let how = match endpoint::step(&stands, &config, started) {
            Step::OnTarget => {
                // Settled: a later change by hand reads as a move never made, and is moved back.
                if let Some(marker) = marker {
                    let settled = Release {
                        settled: true,
                        ..marker
                    };
                    self.serving.record_release(&settled).await?;
                }
                return Ok(None);
            }
            // No endpoint (a failed one deleted by a person): created, whatever happened before.
            Step::Create => Move::Create,
            _ if undone_before.is_some() => {
                let why = undone_before.unwrap_or_default();
                return self.still_undone(&wanted, &why).await.map(Some);
            }
            Step::Busy(status) => {
                return Ok(Some(Outcome::Waiting {
                    reason: format!(
                        "endpoint {} is {status}: its next state change decides",
                        settings.name
                    ),
                }));
            }
            Step::Undone(why) => {
                let record = marker.unwrap_or(fresh);
                return self.record_undone(record, why).await.map(Some);
            }
            Step::Update => wanted.how,
        };
        self.start_move(settings, &wanted, fresh, how)
            .await
            .map(Some)
    }

    /// Moves the endpoint to `record`'s configuration (made first if need be), recorded before the call.
    async fn start_move(
        &self,
        settings: &EndpointSettings,
        wanted: &Wanted<'_>,
        mut record: Release,
        how: Move,
    ) -> Result<Outcome, DeployError> {
        let config = record.endpoint_config.clone();
        if let Err(why) =
            endpoint::ensure_config(&self.sagemaker, settings, &config, wanted.model).await?
        {
            return self.refuse(wanted.package, why).await;
        }
        // Recorded before the call: a deploy that dies after it finds the endpoint changed since and waits for it.
        self.serving.record_release(&record).await?;
        if let Err(error) = endpoint::move_to(&self.sagemaker, settings, &config, how).await {
            // Refused outright, nothing moved: the record must not read a later change as this move undone.
            if error.class() == ErrorClass::NonRetryable {
                record.settled = true;
                self.serving.record_release(&record).await?;
            }
            return Err(error.into());
        }
        tracing::info!(endpoint = %settings.name, endpoint_config = %config, ?how, "endpoint moving");
        Ok(Outcome::Releasing {
            package: wanted.package.to_owned(),
            endpoint: settings.name.clone(),
        })
    }

    /// The endpoint did not take the move `record` describes: said once, then recorded (after the notice, so a
    /// deploy that dies between the two says it again).
    async fn record_undone(&self, record: Release, why: String) -> Result<Outcome, DeployError> {
        self.undone(&record.package_arn, &why).await?;
        let record = Release {
            undone: Some(why.clone()),
            ..record
        };
        self.serving.record_release(&record).await?;
        Ok(Outcome::Refused {
            package: record.package_arn,
            reason: why,
        })
    }

    /// The wanted version's move was undone before: it waits for a person, loudly when the version the endpoint
    /// runs meanwhile is no longer Approved.
    async fn still_undone(&self, wanted: &Wanted<'_>, why: &str) -> Result<Outcome, DeployError> {
        let version = package_version(wanted.package);
        match wanted.withdrawn {
            Some(serving) => {
                let reason = format!(
                    "{} is no longer Approved, and the release of {version} that would replace it was undone \
                     ({why}): the endpoint still runs {}. Reject {version} so the version before serves, or send \
                     Deploy Requested to try {version} again",
                    package_version(serving),
                    package_version(serving)
                );
                self.stranded(serving, reason).await
            }
            None => Ok(Outcome::Waiting {
                reason: format!(
                    "{version}'s release was undone ({why}); a person's Deploy Requested tries it again"
                ),
            }),
        }
    }

    /// A release the endpoint did not take, loudly.
    async fn undone(&self, package: &str, why: &str) -> Result<(), DeployError> {
        tracing::warn!(%package, %why, "release undone");
        let version = package_version(package);
        let notice = Notice {
            severity: Severity::Critical,
            kind: NoticeKind::ReleaseUndone,
            title: format!("Release undone: {version} does not serve"),
            body: format!(
                "The endpoint did not take {package}: {why}.\n\nWhat serves is unchanged. The endpoint's alarms \
                 (5xx errors, latency) roll a canary back; their history and the endpoint's events say which fired. \
                 deploy does not try {version} again on its own: reject it in the registry, or, once the cause is \
                 mended, send Deploy Requested naming it."
            ),
            details: json!({"package": package, "reason": why}),
        };
        self.notifier.send(&notice).await?;
        Ok(())
    }
}
