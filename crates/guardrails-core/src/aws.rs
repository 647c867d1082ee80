//! The shared AWS SDK configuration and the clients built from it, once per cold start.

use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;
use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, HttpClientError};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::{ConfigError, Env};

/// The roots every AWS endpoint's certificate chains to: the five of Amazon Trust Services, which it recommends a
/// custom trust store hold (<https://www.amazontrust.com/repository/>; a test checks their key hashes against the
/// ones published there). Embedded, so that a cold start parses five certificates instead of reading and parsing
/// the platform's whole store from disk (about 3–4 ms of every function's init, measured), and so that no other
/// authority's certificate can stand in for an AWS endpoint.
pub const AMAZON_ROOTS: &[u8] = include_bytes!("tls/amazon-roots.pem");

/// The variable naming a PEM file of further roots to trust, the OpenSSL convention: for an HTTPS emulator or a
/// TLS-inspecting proxy in front of the AWS endpoints.
pub const EXTRA_ROOTS_VAR: &str = "SSL_CERT_FILE";

/// The certificates the SDK's clients trust: Amazon's roots, and the ones in `SSL_CERT_FILE` when it is set.
#[derive(Debug, Clone)]
pub struct TrustRoots {
    extra: Option<Vec<u8>>,
}

impl TrustRoots {
    /// Amazon's roots only.
    pub fn amazon() -> Self {
        TrustRoots { extra: None }
    }

    /// Amazon's roots and the PEM certificates in `pem`.
    ///
    /// # Errors
    /// `pem` holds no certificate, or one that is not valid PEM (checked here: the SDK's connector would panic on
    /// it at the first request).
    pub fn with_extra(pem: Vec<u8>) -> Result<Self, String> {
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("not a PEM certificate file: {e}"))?;
        if certificates.is_empty() {
            return Err("holds no PEM certificate".to_owned());
        }
        Ok(TrustRoots { extra: Some(pem) })
    }

    /// The roots the environment asks for: Amazon's, and those of the file `SSL_CERT_FILE` names.
    ///
    /// # Errors
    /// `SSL_CERT_FILE` names a file that cannot be read or holds no valid certificate.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let Some(path) = env.optional(EXTRA_ROOTS_VAR) else {
            return Ok(Self::amazon());
        };
        std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(Self::with_extra)
            .map_err(|reason| ConfigError::invalid(EXTRA_ROOTS_VAR, path, reason))
    }

    fn trust_store(&self) -> TrustStore {
        let store = TrustStore::empty().with_pem_certificate(AMAZON_ROOTS);
        match &self.extra {
            Some(pem) => store.with_pem_certificate(pem.clone()),
            None => store,
        }
    }
}

/// The HTTPS client every SDK client shares: the SDK's own (rustls on aws-lc-rs), trusting `roots` only, never
/// the platform's certificate store.
///
/// # Errors
/// The SDK refuses the TLS context (it checks nothing today).
pub fn https_client(roots: &TrustRoots) -> Result<SharedHttpClient, HttpClientError> {
    let context = TlsContext::builder()
        .with_trust_store(roots.trust_store())
        .build()?;
    Ok(Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https())
}

/// Loads the SDK configuration from `env`'s process: region, credentials, and `AWS_ENDPOINT_URL` when set (which
/// points every client at an emulator such as the local loop's), over [`https_client`] with the roots `env` asks
/// for.
///
/// # Errors
/// `SSL_CERT_FILE` is set but unusable ([`TrustRoots::from_env`]), or the SDK refuses the roots.
pub async fn load_sdk_config(env: &Env) -> Result<SdkConfig, ConfigError> {
    let roots = TrustRoots::from_env(env)?;
    let http = https_client(&roots).map_err(|e| {
        let file = env.optional(EXTRA_ROOTS_VAR).unwrap_or_default();
        ConfigError::invalid(EXTRA_ROOTS_VAR, file, e.to_string())
    })?;
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await)
}

/// The SDK configuration for a command a person runs from a shell (the lineage CLI): the platform's certificate
/// store, where an organisation's proxy root lives, rather than [`load_sdk_config`]'s embedded roots; a shell
/// does not pay a cold start.
pub async fn load_shell_sdk_config() -> SdkConfig {
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

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    /// The SHA-256 of each root's SubjectPublicKeyInfo, as <https://www.amazontrust.com/repository/> lists them.
    const PUBLISHED_KEY_HASHES: [&str; 5] = [
        "fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2", // Amazon Root CA 1
        "7f4296fc5b6a4e3b35d3c369623e364ab1af381d8fa7121533c9d6c633ea2461", // Amazon Root CA 2
        "36abc32656acfc645c61b71613c4bf21c787f5cabbee48348d58597803d7abc9", // Amazon Root CA 3
        "f7ecded5c66047d28ed6466b543c40e0743abe81d109254dcf845d4c2c7853c5", // Amazon Root CA 4
        "2b071c59a0a0ae76b0eadb2bad23bad4580b69c3601b630c2eaf0613afa83f92", // Starfield Services Root CA - G2
    ];

    /// A DER SEQUENCE around `contents`: webpki gives a trust anchor's SubjectPublicKeyInfo without its outer tag.
    fn der_sequence(contents: &[u8]) -> Vec<u8> {
        let length = contents.len();
        let mut der = vec![0x30];
        match length {
            0..=0x7f => der.push(u8::try_from(length).unwrap()),
            0x80..=0xff => der.extend([0x81, u8::try_from(length).unwrap()]),
            _ => der.extend([
                0x82,
                u8::try_from(length >> 8).unwrap(),
                u8::try_from(length & 0xff).unwrap(),
            ]),
        }
        der.extend_from_slice(contents);
        der
    }

    #[test]
    fn the_embedded_roots_are_the_five_amazon_publishes() {
        let hashes: Vec<String> = CertificateDer::pem_slice_iter(AMAZON_ROOTS)
            .map(|certificate| {
                let certificate = certificate.unwrap();
                let anchor = webpki::anchor_from_trusted_cert(&certificate).unwrap();
                let key = der_sequence(anchor.subject_public_key_info.as_ref());
                Sha256::digest(key)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect();
        assert_eq!(hashes, PUBLISHED_KEY_HASHES);
    }

    #[test]
    fn extra_roots_must_be_pem_certificates_and_the_variable_is_named_when_they_are_not() {
        let amazon = AMAZON_ROOTS.to_vec();
        assert!(TrustRoots::with_extra(amazon).is_ok());
        for bad in [
            &b""[..],
            b"not a certificate",
            b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        ] {
            assert!(
                TrustRoots::with_extra(bad.to_vec()).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }

        let missing = Env::from_pairs([(EXTRA_ROOTS_VAR, "/nonexistent/roots.pem")]);
        let refused = TrustRoots::from_env(&missing).unwrap_err();
        assert!(
            matches!(&refused, ConfigError::Invalid { name, .. } if *name == EXTRA_ROOTS_VAR),
            "{refused}"
        );
        assert!(
            TrustRoots::from_env(&Env::from_pairs([]))
                .unwrap()
                .extra
                .is_none()
        );
    }
}
