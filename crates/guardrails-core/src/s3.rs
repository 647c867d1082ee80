//! S3 object references and the two encodings that trip everyone up: notification keys arrive URL-encoded
//! (`+` for a space), and `CopySource` must be URL-encoded again.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::error::AwsError;

/// Characters left as they are in a `CopySource` path: RFC 3986 unreserved characters and the `/` separator.
const COPY_SOURCE_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// One S3 object (a specific version when `version_id` is set).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Object key, decoded.
    pub key: String,
    /// Version id, on versioned buckets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

impl ObjectRef {
    /// A reference to the current version of `bucket/key`.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        ObjectRef {
            bucket: bucket.into(),
            key: key.into(),
            version_id: None,
        }
    }

    /// The object (or prefix) an `s3://bucket/key` URI names; `None` when it is not one. The key may be empty
    /// (the whole bucket).
    pub fn parse_uri(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| ObjectRef::new(bucket, key))
    }

    /// `s3://bucket/key`, for messages and logs.
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The `CopySource` value for copying this object: `bucket/encoded-key[?versionId=…]`.
    pub fn copy_source(&self) -> String {
        let mut source = format!(
            "{}/{}",
            self.bucket,
            utf8_percent_encode(&self.key, COPY_SOURCE_KEEP)
        );
        if let Some(version) = &self.version_id {
            source.push_str("?versionId=");
            source.extend(utf8_percent_encode(version, COPY_SOURCE_KEEP));
        }
        source
    }
}

/// Writes a small JSON object only if the key does not exist yet (`If-None-Match: *`): the idempotency
/// primitive of the project. Returns `false` when it already existed (another delivery or run got there first).
///
/// # Errors
/// The classified S3 error.
pub async fn put_if_absent(
    s3: &aws_sdk_s3::Client,
    at: &ObjectRef,
    json: Vec<u8>,
) -> Result<bool, AwsError> {
    let result = s3
        .put_object()
        .bucket(&at.bucket)
        .key(&at.key)
        .content_type("application/json")
        .if_none_match("*")
        .body(aws_sdk_s3::primitives::ByteStream::from(json))
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) => {
            let error = AwsError::from_sdk("PutObject", at.uri(), e);
            if error.code.as_deref() == Some("PreconditionFailed") {
                Ok(false)
            } else {
                Err(error)
            }
        }
    }
}

/// A notification key that does not decode to UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("S3 key {raw:?} from the notification is not valid URL-encoded UTF-8")]
pub struct KeyDecodeError {
    /// The key as it arrived.
    pub raw: String,
}

/// Decodes an object key from an S3 event notification: `+` is a space, `%XX` escapes are UTF-8 bytes.
///
/// # Errors
/// [`KeyDecodeError`] when the escapes do not form UTF-8.
pub fn decode_notification_key(raw: &str) -> Result<String, KeyDecodeError> {
    let plus_as_space = raw.replace('+', " ");
    percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| KeyDecodeError {
            raw: raw.to_owned(),
        })
}

/// Encodes an object key as S3 event notifications carry it (the inverse of [`decode_notification_key`]): a
/// space is `+`, the `/` separators and RFC 3986 unreserved characters stay, anything else is `%XX` of its UTF-8
/// bytes (a literal `+` is `%2B`).
pub fn encode_notification_key(key: &str) -> String {
    key.split(' ')
        .map(|part| utf8_percent_encode(part, COPY_SOURCE_KEEP).to_string())
        .collect::<Vec<_>>()
        .join("+")
}

/// The keys under `prefix` (its key taken as a prefix) with their sizes, in S3's order (UTF-8 binary order: hourly
/// prefixes and SageMaker's timestamped file names sort by time), through the SDK's paginator.
///
/// # Errors
/// The ListObjectsV2 call.
pub async fn list(
    s3: &aws_sdk_s3::Client,
    prefix: &ObjectRef,
) -> Result<Vec<(ObjectRef, u64)>, AwsError> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(&prefix.bucket)
        .prefix(&prefix.key)
        .into_paginator()
        .send();
    let mut objects = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListObjectsV2", prefix.uri(), e))?;
        objects.extend(page.contents().iter().filter_map(|o| {
            let size = u64::try_from(o.size().unwrap_or_default()).unwrap_or_default();
            o.key().map(|k| (ObjectRef::new(&prefix.bucket, k), size))
        }));
    }
    Ok(objects)
}

/// The "folders" right under `prefix` (its key ending with `/`): the common prefixes of a delimited listing.
///
/// # Errors
/// The ListObjectsV2 call.
pub async fn folders(
    s3: &aws_sdk_s3::Client,
    prefix: &ObjectRef,
) -> Result<Vec<ObjectRef>, AwsError> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(&prefix.bucket)
        .prefix(&prefix.key)
        .delimiter("/")
        .into_paginator()
        .send();
    let mut folders = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListObjectsV2", prefix.uri(), e))?;
        folders.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix())
                .map(|p| ObjectRef::new(&prefix.bucket, p)),
        );
    }
    Ok(folders)
}

/// The longest line a reader of model traffic holds ([`for_each_line`]'s usual `max_line`): SageMaker caps a request or a response at 6 MB, and base64 and JSON
/// escaping add a third. A longer line (a file without line breaks, or not JSON Lines at all) is skipped unread.
pub const MAX_LINE: u64 = 16 << 20;

/// A line of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A non-blank line, its line break included.
    Text(&'a [u8]),
    /// A line longer than the reader's limit, skipped a megabyte at a time, never held whole.
    TooLong,
}

/// Why an object could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// GetObject failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The body broke off part-way.
    #[error("reading {uri} failed: {source}")]
    Read {
        /// The object.
        uri: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl crate::error::Classify for ReadError {
    fn class(&self) -> crate::error::ErrorClass {
        match self {
            ReadError::Aws(e) => e.class(),
            ReadError::Read { .. } => crate::error::ErrorClass::Retryable,
        }
    }
}

/// Streams `object` line by line, in memory bounded by `max_line` (usually [`MAX_LINE`]): each non-blank line,
/// or [`Line::TooLong`].
///
/// # Errors
/// [`ReadError`]: the GetObject call, or the body breaking off.
pub async fn for_each_line(
    s3: &aws_sdk_s3::Client,
    object: &ObjectRef,
    max_line: u64,
    mut each: impl FnMut(Line<'_>),
) -> Result<(), ReadError> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let output = s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .set_version_id(object.version_id.clone())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetObject", object.uri(), e))?;
    let mut reader = BufReader::new(output.body.into_async_read());
    let failed = |source| ReadError::Read {
        uri: object.uri(),
        source,
    };
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(max_line + 1)
            .read_until(b'\n', &mut line)
            .await
            .map_err(failed)?;
        if read == 0 {
            return Ok(());
        }
        if line.len() as u64 > max_line && line.last() != Some(&b'\n') {
            loop {
                line.clear();
                let n = (&mut reader)
                    .take(1 << 20)
                    .read_until(b'\n', &mut line)
                    .await
                    .map_err(failed)?;
                if n == 0 || line.last() == Some(&b'\n') {
                    break;
                }
            }
            each(Line::TooLong);
        } else if !line.iter().all(u8::is_ascii_whitespace) {
            each(Line::Text(&line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_uris_parse_to_bucket_and_key() {
        let table = [
            ("s3://b/data-capture/ep/", Some(("b", "data-capture/ep/"))),
            ("s3://b/", Some(("b", ""))),
            ("s3://b", Some(("b", ""))),
            ("s3:///key", None),
            ("https://b/key", None),
        ];
        for (uri, expected) in table {
            let parsed = ObjectRef::parse_uri(uri);
            assert_eq!(
                parsed.as_ref().map(|o| (o.bucket.as_str(), o.key.as_str())),
                expected,
                "{uri}"
            );
        }
    }

    #[test]
    fn notification_keys_encode_as_s3_sends_them_and_decode_back() {
        let table = [
            (
                "tickets/datos de facturación 2026-11.csv",
                "tickets/datos+de+facturaci%C3%B3n+2026-11.csv",
            ),
            (
                "batch-input/2026-12-02/a+b.jsonl",
                "batch-input/2026-12-02/a%2Bb.jsonl",
            ),
            ("plain/key.jsonl.gz", "plain/key.jsonl.gz"),
        ];
        for (key, encoded) in table {
            assert_eq!(encode_notification_key(key), encoded);
            assert_eq!(decode_notification_key(encoded).as_deref(), Ok(key));
        }
    }

    #[test]
    fn notification_keys_decode_plus_and_percent_escapes() {
        let table = [
            ("Happy%20Face.jpg", "Happy Face.jpg"),
            (
                "incoming/tickets+2026/datos+de+facturaci%C3%B3n.csv",
                "incoming/tickets 2026/datos de facturación.csv",
            ),
            // A literal plus sign is sent as %2B.
            ("a%2Bb.csv", "a+b.csv"),
            ("plain/key.jsonl.gz", "plain/key.jsonl.gz"),
        ];
        for (raw, decoded) in table {
            assert_eq!(
                decode_notification_key(raw).as_deref(),
                Ok(decoded),
                "{raw}"
            );
        }
        assert!(decode_notification_key("bad%FF.csv").is_err());
    }

    #[test]
    fn copy_source_encodes_key_but_keeps_slashes() {
        let mut object = ObjectRef::new("raw", "in/datos de facturación+1.csv");
        assert_eq!(
            object.copy_source(),
            "raw/in/datos%20de%20facturaci%C3%B3n%2B1.csv"
        );
        object.version_id = Some("3/L4kqtJl".into());
        assert_eq!(
            object.copy_source(),
            "raw/in/datos%20de%20facturaci%C3%B3n%2B1.csv?versionId=3/L4kqtJl"
        );
    }
}
