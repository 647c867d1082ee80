//! Configuration from environment variables, read once at cold start.
//!
//! Every function parses its variables into a typed struct through [`Env`]; a missing or malformed variable
//! fails the cold start with a [`ConfigError`] that names it.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

/// Default CloudWatch namespace for every metric the project emits.
pub const DEFAULT_METRICS_NAMESPACE: &str = "MlopsGuardrails";

/// A configuration variable that is missing or cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set (or is empty).
    #[error("environment variable {name} is required but not set")]
    Missing {
        /// Variable name.
        name: &'static str,
    },
    /// A variable is set to a value that does not parse.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// The offending value.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
}

impl ConfigError {
    /// A [`ConfigError::Invalid`]: the variable, the value it was refused with, and why.
    pub fn invalid(
        name: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            name,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// The template's default project name, the `project` tag's value when `PROJECT` is unset.
pub const DEFAULT_PROJECT: &str = "mlops-guardrails";

/// Where configuration variables come from: the process environment in Lambda, a map in tests (so tests never
/// mutate the process environment, which is shared between test threads).
pub struct Env {
    vars: HashMap<String, String>,
}

/// Private subnets and security groups for what SageMaker runs (jobs, models).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Subnet ids.
    pub subnets: Vec<String>,
    /// Security group ids.
    pub security_groups: Vec<String>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    /// A fixed set of variables.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// The variable's value, if set and not blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// The `project` tag of what a function creates, which cost-guard attributes cost by (`PROJECT`, default
    /// [`DEFAULT_PROJECT`]).
    pub fn project(&self) -> String {
        self.optional_or("PROJECT", DEFAULT_PROJECT)
    }

    /// The variable's value, or `default` when unset or blank.
    pub fn optional_or(&self, name: &str, default: &str) -> String {
        self.optional(name).unwrap_or_else(|| default.to_owned())
    }

    /// An S3 key prefix (or `default`), always ending in `/`: `tickets` and `tickets/` name the same folder,
    /// and a prefix without the slash would also match `tickets-old/`.
    pub fn prefix_or(&self, name: &str, default: &str) -> String {
        let prefix = self.optional_or(name, default);
        if prefix.ends_with('/') {
            prefix
        } else {
            format!("{prefix}/")
        }
    }

    /// The variable's value.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] when it is unset or blank.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing { name })
    }

    /// The variable parsed as `T`, or `default` when unset.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when it is set but does not parse.
    pub fn parse_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.parse_with(name, str::parse)?.unwrap_or(default))
    }

    /// The variable passed through `parse`, or `None` when unset; `parse` says why it refuses a value, the error
    /// adds the variable and the value.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when `parse` refuses the value.
    pub fn parse_with<T, E: Display>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, ConfigError> {
        match self.optional(name) {
            None => Ok(None),
            Some(value) => match parse(&value) {
                Ok(parsed) => Ok(Some(parsed)),
                Err(reason) => Err(ConfigError::invalid(name, value, reason.to_string())),
            },
        }
    }

    /// The variable passed through `parse`, as [`Env::parse_with`], when it is required.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] when unset, [`ConfigError::Invalid`] when `parse` refuses the value.
    pub fn parse_required_with<T, E: Display>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        self.parse_with(name, parse)?
            .ok_or(ConfigError::Missing { name })
    }

    /// The variable as a number between 0 and 1 (a threshold, a share), or `default` when unset.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when it does not parse or lies outside 0..=1.
    pub fn fraction_or(&self, name: &'static str, default: f64) -> Result<f64, ConfigError> {
        let value: f64 = self.parse_or(name, default)?;
        if (0.0..=1.0).contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError::invalid(
                name,
                value.to_string(),
                "must be between 0 and 1",
            ))
        }
    }

    /// The variable parsed as `T`.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] when unset, [`ConfigError::Invalid`] when it does not parse.
    pub fn parse_required<T>(&self, name: &'static str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.parse_required_with(name, str::parse)
    }

    /// A comma-separated list (`a, b,,c` is `[a, b, c]`), empty when unset.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.optional(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `SUBNETS` and `SECURITY_GROUPS` (comma-separated): both or neither, as SageMaker needs both to place a job
    /// or a model in a VPC. `None` when neither is set.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] naming the one missing when only one is set.
    pub fn network(&self) -> Result<Option<Network>, ConfigError> {
        let subnets = self.list("SUBNETS");
        let security_groups = self.list("SECURITY_GROUPS");
        match (subnets.is_empty(), security_groups.is_empty()) {
            (true, true) => Ok(None),
            (false, false) => Ok(Some(Network {
                subnets,
                security_groups,
            })),
            (true, false) => Err(ConfigError::Missing {
                name: "SUBNETS (SECURITY_GROUPS is set)",
            }),
            (false, true) => Err(ConfigError::Missing {
                name: "SECURITY_GROUPS (SUBNETS is set)",
            }),
        }
    }
}

/// Settings every function shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonConfig {
    /// CloudWatch namespace of the EMF metrics (`METRICS_NAMESPACE`, default [`DEFAULT_METRICS_NAMESPACE`]).
    pub metrics_namespace: String,
    /// The custom EventBridge bus domain events go to (`EVENT_BUS_NAME`), when the function publishes.
    pub event_bus_name: Option<String>,
    /// The SNS topic that carries every notice (`NOTICE_TOPIC_ARN`), when the function sends notices.
    pub notice_topic_arn: Option<String>,
    /// The bucket of the guardrails' own state (`STATE_BUCKET`), which only the functions' roles can write,
    /// when the function keeps state.
    pub state_bucket: Option<String>,
    /// How long a claim on a unit of work holds if its delivery dies without letting go
    /// (`CLAIM_LEASE_SECONDS`, default [`DEFAULT_CLAIM_LEASE_SECONDS`]); set it a little above the function's
    /// timeout, so a retry after a crash waits no longer than needed.
    pub claim_lease: Duration,
}

/// `CLAIM_LEASE_SECONDS`: at least a second (a zero lease would let a second delivery act beside the first).
fn claim_lease(env: &Env) -> Result<Duration, ConfigError> {
    let seconds: u64 = env.parse_or("CLAIM_LEASE_SECONDS", DEFAULT_CLAIM_LEASE_SECONDS)?;
    if seconds == 0 {
        return Err(ConfigError::invalid(
            "CLAIM_LEASE_SECONDS",
            "0",
            "must be at least 1 (a little above the function's timeout)",
        ));
    }
    Ok(Duration::from_secs(seconds))
}

/// Default of `CLAIM_LEASE_SECONDS`: Lambda's longest timeout.
pub const DEFAULT_CLAIM_LEASE_SECONDS: u64 = 900;

impl CommonConfig {
    /// Reads the shared settings.
    ///
    /// # Errors
    /// A malformed `CLAIM_LEASE_SECONDS`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(CommonConfig {
            metrics_namespace: env
                .optional("METRICS_NAMESPACE")
                .unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.to_owned()),
            event_bus_name: env.optional("EVENT_BUS_NAME"),
            notice_topic_arn: env.optional("NOTICE_TOPIC_ARN"),
            state_bucket: env.optional("STATE_BUCKET"),
            claim_lease: claim_lease(env)?,
        })
    }

    /// The project's bus, for functions that publish domain events.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] naming `EVENT_BUS_NAME`.
    pub fn require_event_bus(&self) -> Result<&str, ConfigError> {
        self.event_bus_name.as_deref().ok_or(ConfigError::Missing {
            name: "EVENT_BUS_NAME",
        })
    }

    /// The state bucket, for functions that keep state.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] naming `STATE_BUCKET`.
    pub fn require_state_bucket(&self) -> Result<&str, ConfigError> {
        self.state_bucket.as_deref().ok_or(ConfigError::Missing {
            name: "STATE_BUCKET",
        })
    }

    /// The notice topic, for functions that cannot work without one.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] naming `NOTICE_TOPIC_ARN`.
    pub fn require_notice_topic(&self) -> Result<&str, ConfigError> {
        self.notice_topic_arn
            .as_deref()
            .ok_or(ConfigError::Missing {
                name: "NOTICE_TOPIC_ARN",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variable_is_named() {
        let env = Env::from_pairs([("OTHER", "x"), ("BLANK", "  ")]);
        let err = env.required("INGESTED_BUCKET").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable INGESTED_BUCKET is required but not set"
        );
        assert_eq!(
            env.required("BLANK"),
            Err(ConfigError::Missing { name: "BLANK" })
        );
    }

    #[test]
    fn malformed_variable_names_variable_value_and_reason() {
        let env = Env::from_pairs([("MAX_ROWS", "ten")]);
        let err = env.parse_or::<u64>("MAX_ROWS", 5).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("MAX_ROWS=\"ten\""), "{text}");
        assert!(text.contains("invalid digit"), "{text}");
    }

    #[test]
    fn defaults_apply_only_when_unset() {
        let env = Env::from_pairs([("SET", " 7 ")]);
        assert_eq!(env.parse_or::<u64>("SET", 5), Ok(7));
        assert_eq!(env.parse_or::<u64>("UNSET", 5), Ok(5));
        assert_eq!(
            env.parse_required::<u64>("UNSET"),
            Err(ConfigError::Missing { name: "UNSET" })
        );
    }

    #[test]
    fn parse_with_names_the_variable_the_value_and_the_parsers_reason() {
        let env = Env::from_pairs([("MODE", " on "), ("BAD", "sideways"), ("BLANK", " ")]);
        let mode = |value: &str| match value {
            "on" => Ok(true),
            "off" => Ok(false),
            _ => Err("expected on or off"),
        };
        let refused = ConfigError::Invalid {
            name: "BAD",
            value: "sideways".to_owned(),
            reason: "expected on or off".to_owned(),
        };
        #[rustfmt::skip]
        let table = [
            ("set, trimmed",   "MODE",  Ok(Some(true)),       Ok(true)),
            ("refused",        "BAD",   Err(refused.clone()), Err(refused)),
            ("blank is unset", "BLANK", Ok(None),             Err(ConfigError::Missing { name: "BLANK" })),
            ("unset",          "UNSET", Ok(None),             Err(ConfigError::Missing { name: "UNSET" })),
        ];
        for (case, name, optional, required) in table {
            assert_eq!(env.parse_with(name, mode), optional, "{case}");
            assert_eq!(env.parse_required_with(name, mode), required, "{case}");
        }
        assert_eq!(
            ConfigError::invalid("BAD", "sideways", "expected on or off").to_string(),
            "environment variable BAD=\"sideways\" is invalid: expected on or off"
        );
    }

    #[test]
    fn a_zero_claim_lease_is_refused() {
        let env = Env::from_pairs([("EVENT_BUS_NAME", "b"), ("CLAIM_LEASE_SECONDS", "0")]);
        let error = CommonConfig::from_env(&env).unwrap_err();
        assert!(error.to_string().contains("CLAIM_LEASE_SECONDS"), "{error}");
        let env = Env::from_pairs([("EVENT_BUS_NAME", "b"), ("CLAIM_LEASE_SECONDS", "330")]);
        assert_eq!(
            CommonConfig::from_env(&env).unwrap().claim_lease,
            Duration::from_secs(330)
        );
    }

    #[test]
    fn common_config_defaults_namespace_and_asks_only_for_what_a_function_uses() {
        let config = CommonConfig::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(config.metrics_namespace, DEFAULT_METRICS_NAMESPACE);
        assert_eq!(config.notice_topic_arn, None);
        let missing = |name| Err(ConfigError::Missing { name });
        assert_eq!(config.require_notice_topic(), missing("NOTICE_TOPIC_ARN"));
        assert_eq!(config.require_event_bus(), missing("EVENT_BUS_NAME"));
        assert_eq!(config.require_state_bucket(), missing("STATE_BUCKET"));
        let config = CommonConfig::from_env(&Env::from_pairs([("EVENT_BUS_NAME", "b")])).unwrap();
        assert_eq!(config.require_event_bus(), Ok("b"));
    }

    #[test]
    fn prefixes_end_in_one_slash() {
        let env = Env::from_pairs([("BARE", "held"), ("SLASHED", "held/"), ("BLANK", " ")]);
        let table = [
            ("BARE", "held/"),
            ("SLASHED", "held/"),
            ("BLANK", "d/"),
            ("UNSET", "d/"),
        ];
        for (name, prefix) in table {
            assert_eq!(env.prefix_or(name, "d"), prefix, "{name}");
        }
    }
}
