//! Fault injection for emulator tests: an SDK interceptor that makes chosen calls fail, either before the request
//! leaves (nothing happened) or after the emulator answered (the call took effect, yet the caller sees a failure,
//! as when a process dies right after an effect). The emulator stays real; only the caller's view is broken.
//!
//! Clients built here have the SDK's own retries off, so a scripted failure reaches the handler under test.
//! Hand-written because no maintained crate injects faults into the AWS SDK for Rust's orchestrator; the SDK's
//! interceptor hooks are the supported way in.

use std::sync::{Arc, Mutex, PoisonError};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// When a scripted failure strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Before the request is sent: the call has no effect.
    BeforeSend,
    /// After the emulator answered: the call took effect, the caller sees a failure.
    AfterEffect,
}

#[derive(Debug, Clone)]
struct Fault {
    operation: String,
    uri_contains: Option<String>,
    when: When,
    /// Matching calls let through before the failures start.
    skip: usize,
    remaining: usize,
}

/// A script of failures shared by the clients built from it, and a count of the calls they made.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    plan: Arc<Mutex<Vec<Fault>>>,
    calls: Arc<Mutex<Vec<(String, String)>>>,
}

impl Faults {
    /// No failure scripted yet.
    pub fn new() -> Self {
        Faults::default()
    }

    /// The next `times` calls of `operation` (e.g. `Publish`, `PutEvents`, `PutObject`) fail.
    pub fn fail(&self, operation: &str, when: When, times: usize) {
        self.push(operation, None, when, 0, times);
    }

    /// As [`Faults::fail`], only for calls whose request URI contains `needle` (a bucket name, a key).
    pub fn fail_matching(&self, operation: &str, needle: &str, when: When, times: usize) {
        self.push(operation, Some(needle.to_owned()), when, 0, times);
    }

    /// Only the `nth` (from 1) call of `operation` from now whose request URI contains `needle` fails.
    pub fn fail_nth(&self, operation: &str, needle: &str, nth: usize, when: When) {
        self.push(
            operation,
            Some(needle.to_owned()),
            when,
            nth.saturating_sub(1),
            1,
        );
    }

    /// Drops every failure still scripted.
    pub fn clear(&self) {
        self.plan
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// How many calls of `operation` the clients attempted (failed ones included).
    pub fn calls(&self, operation: &str) -> usize {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(op, _)| op == operation)
            .count()
    }

    /// An S3 client on `sdk` (path-style, as for the emulator) with this script.
    pub fn s3(&self, sdk: &SdkConfig) -> aws_sdk_s3::Client {
        let config = guardrails_core::aws::s3_config(sdk)
            .retry_config(RetryConfig::disabled())
            .interceptor(self.interceptor())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// An SNS client on `sdk` with this script.
    pub fn sns(&self, sdk: &SdkConfig) -> aws_sdk_sns::Client {
        let config = aws_sdk_sns::config::Builder::from(sdk)
            .retry_config(RetryConfig::disabled())
            .interceptor(self.interceptor())
            .build();
        aws_sdk_sns::Client::from_conf(config)
    }

    /// An EventBridge client on `sdk` with this script.
    pub fn events(&self, sdk: &SdkConfig) -> aws_sdk_eventbridge::Client {
        let config = aws_sdk_eventbridge::config::Builder::from(sdk)
            .retry_config(RetryConfig::disabled())
            .interceptor(self.interceptor())
            .build();
        aws_sdk_eventbridge::Client::from_conf(config)
    }

    fn interceptor(&self) -> FaultInterceptor {
        FaultInterceptor {
            faults: self.clone(),
        }
    }

    fn push(
        &self,
        operation: &str,
        uri_contains: Option<String>,
        when: When,
        skip: usize,
        times: usize,
    ) {
        self.plan
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Fault {
                operation: operation.to_owned(),
                uri_contains,
                when,
                skip,
                remaining: times,
            });
    }

    /// Records the call and takes the first scripted failure it matches, if any.
    fn strike(&self, operation: &str, uri: &str) -> Option<When> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((operation.to_owned(), uri.to_owned()));
        let mut plan = self.plan.lock().unwrap_or_else(PoisonError::into_inner);
        let fault = plan.iter_mut().find(|f| {
            f.remaining > 0
                && f.operation == operation
                && f.uri_contains.as_deref().is_none_or(|n| uri.contains(n))
        })?;
        if fault.skip > 0 {
            fault.skip -= 1;
            return None;
        }
        fault.remaining -= 1;
        Some(fault.when)
    }
}

/// Set on a call that is to fail once the emulator has answered.
#[derive(Debug, Clone)]
struct FailAfterEffect;

impl Storable for FailAfterEffect {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug)]
struct FaultInterceptor {
    faults: Faults,
}

impl Intercept for FaultInterceptor {
    fn name(&self) -> &'static str {
        "testkit::FaultInterceptor"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        let uri = context.request().uri().to_owned();
        match self.faults.strike(&operation, &uri) {
            Some(When::BeforeSend) => {
                Err(format!("injected failure: {operation} {uri} before it was sent").into())
            }
            Some(When::AfterEffect) => {
                cfg.interceptor_state().store_put(FailAfterEffect);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn read_before_deserialization(
        &self,
        _: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<FailAfterEffect>().is_some() {
            return Err("injected failure: the call took effect but its answer was lost".into());
        }
        Ok(())
    }
}
