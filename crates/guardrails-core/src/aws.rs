//! The shared AWS SDK configuration and the clients built from it, once per cold start.

use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;

/// Loads the SDK configuration from the environment (region, credentials, and `AWS_ENDPOINT_URL` when set, which
/// points every client at an emulator such as the local loop's).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// An S3 client. With a custom endpoint (an emulator) it uses path-style addressing, since
/// `bucket.127.0.0.1` does not resolve; against AWS it keeps virtual-hosted style.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_config(sdk).build())
}

/// The configuration [`s3_client`] builds on, for callers that add to it (the test kit's fault injection).
pub fn s3_config(sdk: &SdkConfig) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some())
}
