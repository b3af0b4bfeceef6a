//! Pass case: every option at once, in a module that also uses the names the macro uses.
#![deny(warnings, unused_qualifications, dead_code, missing_docs)]

use std::process::ExitCode;

use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

struct State;

async fn init() -> Result<State, msk_lambda::Error> {
    Ok(State)
}

#[msk_handler(
    concurrency = 4,
    state = init,
    failure = "continue",
    response = "whole_batch",
    deadline_margin_ms = 1500,
    crate = "msk_lambda"
)]
async fn handle(
    record: Record<Option<Json<Order>>, Vec<u8>>,
    _state: &State,
) -> anyhow_like::Result<()> {
    let _ = (record.value().as_ref().map(|o| o.id), record.key().len(), exit_code());
    Ok(())
}

fn exit_code() -> ExitCode {
    ExitCode::SUCCESS
}

mod anyhow_like {
    /// A `Result` alias, as anyhow and others define it.
    pub type Result<T> = std::result::Result<T, msk_lambda::Error>;
}
