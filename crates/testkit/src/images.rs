//! Images on the emulator's ECR registry, pushed and scanned, for the image-scan gate.

use aws_config::SdkConfig;
use aws_sdk_ecr::error::DisplayErrorContext;
use aws_sdk_ecr::operation::{
    create_repository::CreateRepositoryError, put_image::PutImageError,
    start_image_scan::StartImageScanError,
};
use aws_sdk_ecr::types::ImageIdentifier;
use serde_json::json;

use crate::server::emulator;

/// The account and region of the emulator's registry.
const REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/// Pushes an empty image `repository:tag` (the repository made if missing) and starts its scan; the emulator
/// scans at once. Pushed or scanned already (another test, or another loop on the same emulator) counts as done:
/// the emulator allows one image per tag and one scan per image.
///
/// # Errors
/// Any other emulator error, in words.
pub async fn push_image(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    tag: &str,
) -> Result<(), String> {
    let failed = |what: &str, e: &dyn std::error::Error| {
        format!("{what} {repository}:{tag}: {}", DisplayErrorContext(e))
    };
    if let Err(e) = ecr
        .create_repository()
        .repository_name(repository)
        .send()
        .await
        && !e
            .as_service_error()
            .is_some_and(CreateRepositoryError::is_repository_already_exists_exception)
    {
        return Err(failed("create repository for", &e));
    }
    // One manifest per image (one manifest under two tags would be one image).
    let digest = format!("sha256:{:064x}", fxhash(&format!("{repository}:{tag}")));
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023, "digest": digest},
        "layers": []});
    let pushed = ecr
        .put_image()
        .repository_name(repository)
        .image_tag(tag)
        .image_manifest(manifest.to_string())
        .send()
        .await;
    if let Err(e) = pushed
        && !e
            .as_service_error()
            .is_some_and(PutImageError::is_image_already_exists_exception)
    {
        return Err(failed("put image", &e));
    }
    let scanned = ecr
        .start_image_scan()
        .repository_name(repository)
        .image_id(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await;
    if let Err(e) = scanned
        && !e
            .as_service_error()
            .is_some_and(StartImageScanError::is_limit_exceeded_exception)
    {
        return Err(failed("start image scan of", &e));
    }
    Ok(())
}

/// Pushes an image `repository:tag` to the emulator's registry and scans it ([`push_image`]), and sets the
/// scan's result: `findings` as `(CVE, severity, package)`, counted by severity. Returns its URI. The first
/// result set for an image is the one it keeps: tests sharing an image must give it the same findings.
pub async fn scanned_image(
    sdk: &SdkConfig,
    repository: &str,
    tag: &str,
    findings: &[(&str, &str, &str)],
) -> String {
    let ecr = aws_sdk_ecr::Client::new(sdk);
    push_image(&ecr, repository, tag)
        .await
        .expect("push and scan the image");
    let mut counts = serde_json::Map::new();
    for (_, severity, _) in findings {
        let n = counts
            .get(*severity)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        counts.insert((*severity).to_owned(), json!(n + 1));
    }
    let listed: Vec<_> = findings
        .iter()
        .map(|(name, severity, package)| {
            json!({"name": name, "severity": severity,
                "attributes": [{"key": "package_name", "value": package}]})
        })
        .collect();
    let result = json!({"registryId": "123456789012", "repositoryName": repository, "imageId": {"imageTag": tag},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
        "imageScanFindings": {"findingSeverityCounts": counts, "findings": listed}});
    emulator()
        .post_json(
            "/moto-api/static/ecr/scan-finding-results",
            &json!({"results": [result], "region": crate::REGION}),
        )
        .expect("set the scan's result");
    format!("{REGISTRY}/{repository}:{tag}")
}

/// A stable 64-bit hash of `text` (FxHash's step), for a digest per image.
fn fxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95)
    })
}
