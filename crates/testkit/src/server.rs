//! The emulator process: one moto server per test process on a free 127.0.0.1 port.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

/// How long the emulator may take to start before the test fails (it is ready in about a second).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The access key the emulator's clients sign with. In an emulator that enforces IAM it belongs to the runner, an
/// all-powerful user: moto's Step Functions interpreter signs its own service calls with exactly these keys, so
/// the runner's user is given them.
pub const RUNNER_ACCESS_KEY: (&str, &str) = ("ak", "sk");

/// The runner's user, in an emulator that enforces IAM (roles trust it, so it can assume them).
pub const RUNNER_ARN: &str = "arn:aws:iam::123456789012:user/guardrails-runner";

/// A running moto server. It stops when the test process exits: it watches the stdin pipe we hold.
pub struct Emulator {
    endpoint: String,
    log: PathBuf,
    enforces_iam: bool,
    // Held, never written: the pipe closing at process exit is the emulator's signal to stop.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

/// The emulator of this test process, started on first use.
///
/// # Panics
/// When the emulator cannot start, with a message naming the cause and the fix (`make setup`).
pub fn emulator() -> &'static Emulator {
    try_emulator().unwrap_or_else(|why| panic!("{why}"))
}

/// As [`emulator`], for a program that reports the failure itself (the local loop).
///
/// # Errors
/// Why the emulator could not start, naming the fix (`make setup`); the same error on every later call.
pub fn try_emulator() -> Result<&'static Emulator, String> {
    static EMULATOR: OnceLock<Result<Emulator, String>> = OnceLock::new();
    EMULATOR
        .get_or_init(|| Emulator::start(false))
        .as_ref()
        .map_err(Clone::clone)
}

/// A second emulator of this test process that authenticates and authorizes every request with IAM: clients
/// of [`Emulator::sdk_config`] act as the runner, an all-powerful user ([`RUNNER_ARN`]); code under test acts
/// with the credentials of a role it assumed. Started on first use.
///
/// # Errors
/// As [`try_emulator`].
pub fn try_iam_emulator() -> Result<&'static Emulator, String> {
    static EMULATOR: OnceLock<Result<Emulator, String>> = OnceLock::new();
    EMULATOR
        .get_or_init(|| Emulator::start(true))
        .as_ref()
        .map_err(Clone::clone)
}

impl Emulator {
    fn start(enforce_iam: bool) -> Result<Self, String> {
        let python = python_path();
        if !python.exists() {
            return Err(format!(
                "the AWS emulator cannot start: {} does not exist. Run `make setup` at the repository root \
                 (it creates .venv with the pinned moto[server]), or point GUARDRAILS_VENV at a virtualenv that has it.",
                python.display()
            ));
        }
        let log = std::env::temp_dir().join(format!("guardrails-moto-{}.log", std::process::id()));
        let log_file = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create the emulator log {}: {e}", log.display()))?;
        let mut child = Command::new(&python)
            .arg("-c")
            .arg(include_str!("moto_launcher.py"))
            .env(
                "GUARDRAILS_ENFORCE_IAM",
                if enforce_iam { "1" } else { "0" },
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}. Run `make setup`.", python.display()))?;

        let stdout = child.stdout.take().ok_or("emulator stdout missing")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse::<u16>().ok())
            .ok_or_else(|| {
                let _ = child.kill();
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: String = tail.lines().rev().take(15).collect::<Vec<_>>().join("\n");
                format!(
                    "the AWS emulator (moto server) did not start within {START_TIMEOUT:?}. Run `make setup` to \
                     (re)install it into .venv. Its last output (newest first):\n{tail}"
                )
            })?;
        let stdin = child.stdin.take().ok_or("emulator stdin missing")?;
        let emulator = Emulator {
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
            enforces_iam: enforce_iam,
            _stdin: Mutex::new(stdin),
            _child: Mutex::new(child),
        };
        // Step Functions only records executions unless told to interpret the definitions.
        emulator.post_json(
            "/moto-api/config",
            &serde_json::json!({
                "stepfunctions": {"execute_state_machine": true},
                "lambda": {"use_docker": false}
            }),
        )?;
        Ok(emulator)
    }

    /// The emulator's base URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether every request is checked against the caller's IAM policies.
    pub fn enforces_iam(&self) -> bool {
        self.enforces_iam
    }

    /// Where the emulator's request log goes (useful when a test fails).
    pub fn log_path(&self) -> &std::path::Path {
        &self.log
    }

    /// An SDK config pointing every client at the emulator, with dummy credentials and a fixed region, so the
    /// SDK never probes instance metadata. S3 clients built from it must use path-style addressing.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(crate::REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(
                RUNNER_ACCESS_KEY.0,
                RUNNER_ACCESS_KEY.1,
                None,
                None,
                "testkit",
            ))
            .load()
            .await
    }

    /// POSTs a JSON body to one of moto's control endpoints (`/moto-api/...`), e.g. to inject Cost Explorer
    /// results or canned Lambda responses.
    ///
    /// # Errors
    /// When the emulator does not answer 2xx.
    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<(), String> {
        let url = format!("{}{path}", self.endpoint);
        ureq::post(&url)
            .send_json(body)
            .map(|_| ())
            .map_err(|e| format!("POST {url} failed: {e}"))
    }
}

impl Emulator {
    /// Sets the final metrics every training job created from now on reports (besides moto's own
    /// `train:progress`), as a training container's metric definitions would; moto's jobs report nothing else.
    ///
    /// # Errors
    /// When the emulator refuses them.
    pub fn set_training_metrics(&self, metrics: &[(&str, f64)]) -> Result<(), String> {
        let metrics: serde_json::Map<String, serde_json::Value> = metrics
            .iter()
            .map(|(name, value)| ((*name).to_owned(), serde_json::json!(value)))
            .collect();
        self.post_json(
            "/guardrails/training-metrics",
            &serde_json::Value::Object(metrics),
        )
    }
}

/// The Python of the project's tools (`GUARDRAILS_VENV`, default the repository's `.venv`), for tests that use
/// a real validator from it.
pub fn python_path() -> PathBuf {
    let venv = std::env::var_os("GUARDRAILS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    venv.join("bin/python")
}
