//! The export to Security Hub (`BatchImportFindings`), when the stack turns it on: the ledger's findings in the
//! format `asff.rs` builds, 100 per call, each import updating the findings in place by their ids.

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Recommendation, RecordState, Remediation, Resource, Severity, SeverityLabel,
};
use guardrails_core::AwsError;

use crate::asff::{AsffFinding, Record, TYPE};

/// Security Hub takes at most this many findings per call.
const BATCH: usize = 100;

/// The product ARN of an account's own findings.
pub fn product_arn(region: &str, account: &str) -> String {
    format!("arn:aws:securityhub:{region}:{account}:product/{account}/default")
}

fn finding(f: &AsffFinding, region: &str, account: &str) -> AwsSecurityFinding {
    let label = SeverityLabel::from(f.severity);
    let record = match f.record {
        Record::Active => RecordState::Active,
        Record::Archived => RecordState::Archived,
    };
    let time =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    AwsSecurityFinding::builder()
        .schema_version("2018-10-08")
        .id(&f.id)
        .product_arn(product_arn(region, account))
        .generator_id(&f.generator)
        .aws_account_id(account)
        .region(region)
        .types(TYPE)
        .created_at(time(f.created))
        .updated_at(time(f.updated))
        .severity(Severity::builder().label(label).build())
        .title(&f.title)
        .description(&f.description)
        .remediation(
            Remediation::builder()
                .recommendation(Recommendation::builder().text(&f.remediation).build())
                .build(),
        )
        .resources(
            Resource::builder()
                .r#type(f.resource_type)
                .id(&f.resource)
                .build(),
        )
        .record_state(record)
        .build()
}

/// Imports `findings` into the account's Security Hub.
///
/// # Errors
/// A call that failed, or findings Security Hub refused (the first one's reason).
pub async fn import(
    hub: &aws_sdk_securityhub::Client,
    region: &str,
    account: &str,
    findings: &[AsffFinding],
) -> Result<(), AwsError> {
    for batch in findings.chunks(BATCH) {
        let built = batch.iter().map(|f| finding(f, region, account)).collect();
        let out = hub
            .batch_import_findings()
            .set_findings(Some(built))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("BatchImportFindings", "securityhub", e))?;
        if out.failed_count().unwrap_or(0) > 0 {
            let first = out.failed_findings().first();
            return Err(AwsError::from_code(
                "BatchImportFindings",
                first.and_then(|f| f.id()).unwrap_or("securityhub"),
                first.and_then(|f| f.error_code()),
                first.and_then(|f| f.error_message()).unwrap_or("refused"),
            ));
        }
    }
    Ok(())
}
