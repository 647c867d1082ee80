//! slack-forwarder: subscribed to the notice topic, it posts each notice to a Slack incoming webhook as Block
//! Kit blocks (severity, what happened, the runbook and dashboard links). The webhook URL lives in a Secrets
//! Manager secret, read at most every few minutes and again at once when the webhook answers "revoked", so a
//! rotation needs no redeploy. A post that fails is retried with backoff (honouring `Retry-After`), then the
//! invocation fails: Lambda retries it and finally sends it to the on-failure destination. Posts are paced to
//! Slack's rate (and the function runs one at a time), so a storm of notices arrives late rather than dropped.
//!
//! `main.rs` runs it; [`message`] reads a topic message, [`slack`] writes the blocks, [`webhook`] reads the
//! secret and the webhook's answers (none of them with AWS or HTTP types); [`handler`] does the calls.

pub mod config;
pub mod handler;
pub mod message;
pub mod slack;
pub mod webhook;

pub use config::{Config, STAGE};
pub use handler::{Forward, ForwardError, Outcome};
