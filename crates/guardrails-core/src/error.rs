//! Error classification: every failure is either worth retrying with the same input or not, and the Lambda
//! error type says which, so Step Functions `Retry`/`Catch` (`ErrorEquals: ["Retryable"]`) and SQS redrive can
//! tell them apart.

use std::fmt;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use lambda_runtime::Diagnostic;

/// Whether running the same input again may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient: throttling, timeouts, 5xx, a network failure. Retry with backoff.
    Retryable,
    /// Permanent for this input: bad input, missing resource, access denied, bad configuration.
    NonRetryable,
}

impl ErrorClass {
    /// The Lambda `errorType` for this class, matched by `ErrorEquals` in the state machine.
    pub fn error_type(self) -> &'static str {
        match self {
            ErrorClass::Retryable => "Retryable",
            ErrorClass::NonRetryable => "NonRetryable",
        }
    }
}

/// An error that knows whether it is worth retrying.
pub trait Classify: std::error::Error {
    /// The class of this error.
    fn class(&self) -> ErrorClass;
}

/// What a handler returns to the Lambda runtime on failure: `errorType` is `Retryable` or `NonRetryable`,
/// `errorMessage` the error with its whole chain of causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    /// Retry or not.
    pub class: ErrorClass,
    /// Human-readable message including causes.
    pub message: String,
}

impl<E: Classify> From<E> for HandlerError {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            // thiserror messages often already embed their source; do not repeat it.
            if !message.contains(&cause_text) {
                message.push_str(": ");
                message.push_str(&cause_text);
            }
            source = cause.source();
        }
        HandlerError {
            class: error.class(),
            message,
        }
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class.error_type(), self.message)
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic {
            error_type: error.class.error_type().to_owned(),
            error_message: error.message,
        }
    }
}

/// A failed AWS API call, with its class decided from the SDK error.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on {resource} failed: {message}")]
pub struct AwsError {
    /// The API operation, e.g. `CopyObject`.
    pub operation: &'static str,
    /// What it acted on, e.g. `s3://bucket/key`.
    pub resource: String,
    /// Retry or not.
    pub class: ErrorClass,
    /// The service error code when the service answered, e.g. `PreconditionFailed`.
    pub code: Option<String>,
    message: String,
}

impl AwsError {
    /// Wraps an SDK error from any service client.
    pub fn from_sdk<E>(
        operation: &'static str,
        resource: impl Into<String>,
        error: SdkError<E>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = error.code().map(str::to_owned);
        AwsError {
            operation,
            resource: resource.into(),
            class: classify_sdk_error(&error),
            message: DisplayErrorContext(&error).to_string(),
            code,
        }
    }

    /// An error a service reported inside a successful response (e.g. one failed PutEvents entry).
    pub fn from_code(
        operation: &'static str,
        resource: impl Into<String>,
        code: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        let class = match code {
            Some(code) if is_transient_code(code) => ErrorClass::Retryable,
            _ => ErrorClass::NonRetryable,
        };
        AwsError {
            operation,
            resource: resource.into(),
            class,
            code: code.map(str::to_owned),
            message: message.into(),
        }
    }
}

impl Classify for AwsError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

/// Classifies an SDK error after the SDK's own retries gave up: transport failures, timeouts, throttling and
/// 5xx are retryable; other service errors (validation, access, not found, precondition) are not.
pub fn classify_sdk_error<E>(error: &SdkError<E>) -> ErrorClass
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorClass::Retryable
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            if status >= 500 || status == 429 || service.err().code().is_some_and(is_transient_code)
            {
                ErrorClass::Retryable
            } else {
                ErrorClass::NonRetryable
            }
        }
        // ConstructionFailure (a request we built wrong) and future variants: retrying cannot help.
        _ => ErrorClass::NonRetryable,
    }
}

/// Error codes AWS services use for throttling and transient faults.
fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "BandwidthLimitExceeded"
            | "SlowDown"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "InternalError"
            | "InternalFailure"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Sample {
        #[error("bad row")]
        Bad,
        #[error("storage unavailable")]
        Flaky(#[source] std::io::Error),
    }

    impl Classify for Sample {
        fn class(&self) -> ErrorClass {
            match self {
                Sample::Bad => ErrorClass::NonRetryable,
                Sample::Flaky(_) => ErrorClass::Retryable,
            }
        }
    }

    #[test]
    fn diagnostic_error_type_is_the_class_and_message_keeps_the_cause() {
        let diagnostic: Diagnostic =
            HandlerError::from(Sample::Flaky(std::io::Error::other("connection reset"))).into();
        assert_eq!(diagnostic.error_type, "Retryable");
        assert_eq!(
            diagnostic.error_message,
            "storage unavailable: connection reset"
        );
        let diagnostic: Diagnostic = HandlerError::from(Sample::Bad).into();
        assert_eq!(diagnostic.error_type, "NonRetryable");
    }

    #[test]
    fn in_response_failures_are_classified_by_code() {
        let table = [
            (Some("ThrottlingException"), ErrorClass::Retryable),
            (Some("InternalFailure"), ErrorClass::Retryable),
            (Some("MalformedDetail"), ErrorClass::NonRetryable),
            (Some("AccessDeniedException"), ErrorClass::NonRetryable),
            (None, ErrorClass::NonRetryable),
        ];
        for (code, class) in table {
            assert_eq!(
                AwsError::from_code("PutEvents", "bus", code, "x").class,
                class,
                "{code:?}"
            );
        }
    }
}
