//! The webhook: the secret's value read into a URL the forwarder may post to, and each answer of the webhook
//! read into what to do next. No AWS or HTTP types here: the handler does the calls.

use std::fmt;
use std::time::Duration;

use reqwest::Url;

/// The template's placeholder value (`https://example.invalid/replace-me`): the webhook is not set yet.
const PLACEHOLDER_HOST: &str = "example.invalid";
/// The longest the forwarder waits before a retry within one invocation; a webhook that asks for longer
/// (`Retry-After`) fails the invocation and Lambda's retries come back later.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// The webhook URL. It is a credential (whoever has it can post to the channel): it is never logged or put in an
/// error message; only its host is.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    /// The URL, to post to.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The host, for messages.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or("?")
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({}/…)", self.host())
    }
}

/// What the secret says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Webhook {
    /// Not set yet (the template's placeholder, or empty): notices are not forwarded, and that is no failure.
    Unset,
    /// Post here.
    Url(WebhookUrl),
}

/// A secret value the forwarder refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Neither a URL nor JSON with a `url` string.
    #[error("the webhook secret holds neither a URL nor JSON with a \"url\" string")]
    NoUrl,
    /// The URL does not parse (its text is not repeated: it is a credential).
    #[error("the webhook secret's url does not parse: {0}")]
    Unparsable(String),
    /// Notices would cross the network in clear text.
    #[error(
        "the webhook secret's url must use https (http only to this machine, for tests); it uses {scheme}:// to {host}"
    )]
    NotHttps {
        /// The scheme found.
        scheme: String,
        /// The host.
        host: String,
    },
}

/// Reads the secret's value: JSON with a `url` string (the template's shape; other keys are ignored), or the URL
/// alone.
///
/// # Errors
/// [`SecretError`] when no usable URL is there.
pub fn parse_secret(value: &str) -> Result<Webhook, SecretError> {
    let value = value.trim();
    let text = if value.starts_with('{') {
        let json: serde_json::Value =
            serde_json::from_str(value).map_err(|_| SecretError::NoUrl)?;
        json["url"]
            .as_str()
            .ok_or(SecretError::NoUrl)?
            .trim()
            .to_owned()
    } else {
        value.to_owned()
    };
    if text.is_empty() {
        return Ok(Webhook::Unset);
    }
    let url = Url::parse(&text).map_err(|e| SecretError::Unparsable(e.to_string()))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    if host == PLACEHOLDER_HOST {
        return Ok(Webhook::Unset);
    }
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
    match url.scheme() {
        "https" => Ok(Webhook::Url(WebhookUrl(url))),
        "http" if loopback => Ok(Webhook::Url(WebhookUrl(url))),
        scheme => Err(SecretError::NotHttps {
            scheme: scheme.to_owned(),
            host,
        }),
    }
}

/// What a post's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Posted.
    Delivered,
    /// Worth another try: a server error, a timeout, a refused connection, or a rate limit (with the wait it
    /// asked for).
    Retry {
        /// `Retry-After`, when the webhook gave one.
        after: Option<Duration>,
    },
    /// The webhook is gone or its token revoked (Slack's 403 `invalid_token`, 404 `no_service`, 410
    /// `channel_is_archived`): after a rotation, the secret holds a new one.
    Revoked,
    /// The webhook refuses this message (400 `invalid_payload`, 413, an unexpected redirect): trying again
    /// changes nothing.
    Refused,
}

/// Reads a webhook's HTTP status and `Retry-After` header.
pub fn classify(status: u16, retry_after: Option<&str>) -> Reply {
    match status {
        200..=299 => Reply::Delivered,
        // A 503 may say when to come back too (RFC 9110 §10.2.3), as a 429 does.
        429 | 503 => Reply::Retry {
            after: retry_after
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        408 | 500..=599 => Reply::Retry { after: None },
        403 | 404 | 410 => Reply::Revoked,
        _ => Reply::Refused,
    }
}

/// The wait before attempt `attempt + 1` after attempt `attempt` (from 1) failed: what the webhook asked for,
/// else `backoff` doubled per attempt; `None` when that is longer than [`MAX_WAIT`] (fail now, retry later).
pub fn wait(attempt: u32, backoff: Duration, asked: Option<Duration>) -> Option<Duration> {
    let doubled = backoff.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    let wait = asked.unwrap_or(doubled);
    (wait <= MAX_WAIT).then_some(wait)
}

/// How long to wait before posting so that posts are `interval` apart, the last one `since_last` ago.
pub fn pace(since_last: Option<Duration>, interval: Duration) -> Duration {
    since_last.map_or(Duration::ZERO, |since| interval.saturating_sub(since))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Webhook {
        Webhook::Url(WebhookUrl(Url::parse(text).unwrap()))
    }

    #[test]
    fn secret_values() {
        let hook = "https://hooks.slack.com/services/T0/B0/xyz";
        let json = format!("{{\"url\": \"{hook}\", \"token\": \"abc\"}}");
        let placeholder = "{\"url\": \"https://example.invalid/replace-me\", \"token\": \"t\"}";
        let clear = SecretError::NotHttps {
            scheme: "http".into(),
            host: "hooks.slack.com".into(),
        };
        let relative = SecretError::Unparsable("relative URL without a base".into());
        let cases: [(&str, Result<Webhook, SecretError>); 9] = [
            (hook, Ok(url(hook))),
            (&json, Ok(url(hook))),
            (placeholder, Ok(Webhook::Unset)),
            ("  ", Ok(Webhook::Unset)),
            (
                "http://127.0.0.1:8080/h",
                Ok(url("http://127.0.0.1:8080/h")),
            ),
            ("{\"URL\": \"https://x\"}", Err(SecretError::NoUrl)),
            ("{not json", Err(SecretError::NoUrl)),
            ("hooks.slack.com/services/x", Err(relative)),
            ("http://hooks.slack.com/services/x", Err(clear)),
        ];
        for (value, want) in cases {
            assert_eq!(parse_secret(value), want, "{value}");
        }
    }

    #[test]
    fn the_url_never_shows_in_debug_output_or_errors() {
        let Ok(Webhook::Url(hook)) = parse_secret("https://hooks.slack.com/services/T0/B0/secret")
        else {
            panic!("a URL")
        };
        assert_eq!(format!("{hook:?}"), "WebhookUrl(hooks.slack.com/…)");
        let error = parse_secret("ftp://h/secret-token")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("secret-token"), "{error}");
    }

    #[test]
    fn replies() {
        let retry = |after: Option<u64>| Reply::Retry {
            after: after.map(Duration::from_secs),
        };
        let cases = [
            (200, None, Reply::Delivered),
            (204, None, Reply::Delivered),
            (429, Some("7"), retry(Some(7))),
            (429, Some("soon"), retry(None)),
            (500, None, retry(None)),
            (503, Some("1"), retry(Some(1))),
            (503, None, retry(None)),
            (408, None, retry(None)),
            (403, None, Reply::Revoked),
            (404, None, Reply::Revoked),
            (410, None, Reply::Revoked),
            (400, None, Reply::Refused),
            (413, None, Reply::Refused),
            (302, None, Reply::Refused),
        ];
        for (status, retry_after, want) in cases {
            assert_eq!(classify(status, retry_after), want, "{status}");
        }
    }

    #[test]
    fn waits_double_honour_the_webhook_and_stop_at_the_limit() {
        let base = Duration::from_millis(500);
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        assert_eq!(wait(1, base, None), Some(base));
        assert_eq!(wait(2, base, None), Some(s(1)));
        assert_eq!(wait(3, base, None), Some(s(2)));
        assert_eq!(wait(1, base, Some(s(7))), Some(s(7)));
        assert_eq!(wait(1, base, Some(s(31))), None);
        assert_eq!(wait(40, base, None), None);
        assert_eq!(pace(None, s(1)), Duration::ZERO);
        assert_eq!(pace(Some(ms(300)), s(1)), ms(700));
        assert_eq!(pace(Some(s(5)), s(1)), Duration::ZERO);
    }
}
