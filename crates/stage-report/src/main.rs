//! Lambda entry point: the one shape every function has (`guardrails_core::function::run`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    guardrails_core::function::run::<stage_report::StageReport>().await
}
