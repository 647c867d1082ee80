//! The SDK's clients trust Amazon's roots and nothing else unless `SSL_CERT_FILE` adds some: a real TLS endpoint
//! whose certificate chains to a test authority (present in no store) is refused, and reached once that
//! authority's root is added.
//!
//! The fixtures in `fixtures/tls/` are a test authority (its key was discarded) and a certificate it issued for
//! 127.0.0.1, valid for a century.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use guardrails_core::aws::{TrustRoots, https_client};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

const TEST_ROOT: &[u8] = include_bytes!("fixtures/tls/ca.pem");
const SERVER_CERTIFICATE: &[u8] = include_bytes!("fixtures/tls/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("fixtures/tls/server.key");

/// An S3 ListBuckets answer with no bucket.
const LIST_BUCKETS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
    <ListAllMyBucketsResult><Owner><ID>test</ID></Owner><Buckets></Buckets></ListAllMyBucketsResult>";

/// An HTTPS endpoint on 127.0.0.1 answering every request with an empty bucket list; counts the handshakes that
/// completed.
async fn endpoint() -> (String, Arc<AtomicUsize>) {
    let certificates = vec![CertificateDer::from_pem_slice(SERVER_CERTIFICATE).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).unwrap();
    let config = ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certificates, key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&handshakes);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let mut request = vec![0; 64 * 1024];
                let _ = tls.read(&mut request).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{LIST_BUCKETS}",
                    LIST_BUCKETS.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (format!("https://127.0.0.1:{}", address.port()), handshakes)
}

async fn s3_trusting(roots: &TrustRoots, endpoint: &str) -> aws_sdk_s3::Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .http_client(https_client(roots).unwrap())
        .load()
        .await;
    guardrails_core::aws::s3_client(&sdk)
}

#[tokio::test]
async fn an_endpoint_outside_amazons_roots_is_refused_unless_ssl_cert_file_adds_its_root() {
    let (url, handshakes) = endpoint().await;

    let amazon_only = s3_trusting(&TrustRoots::amazon(), &url).await;
    let refused = amazon_only.list_buckets().send().await.unwrap_err();
    assert!(
        matches!(refused, aws_sdk_s3::error::SdkError::DispatchFailure(_)),
        "{refused:?}"
    );
    assert_eq!(
        handshakes.load(Ordering::SeqCst),
        0,
        "the handshake must not complete"
    );

    let with_test_root = TrustRoots::with_extra(TEST_ROOT.to_vec()).unwrap();
    let trusting = s3_trusting(&with_test_root, &url).await;
    let listed = trusting.list_buckets().send().await.unwrap();
    assert!(listed.buckets().is_empty());
    assert_eq!(handshakes.load(Ordering::SeqCst), 1);
}
