//! The function the end-to-end tests run under the Runtime API emulator, shared by the
//! binaries that serve it: `e2e-consumer` (`#[msk_handler]`: `Consumer::run`, msk-lambda's own
//! Runtime API client) and `e2e-into-runtime` (`Consumer::into_runtime`: `lambda_runtime`).
//!
//! Each value is a command: `ok`, `err` (handler error), `panic`, or anything else (decode as
//! text, succeed). Shared state counts inits and invocations so the tests can check that init
//! runs once per process.

use std::sync::atomic::{AtomicUsize, Ordering};

use msk_lambda::Record;

/// Built once per execution environment.
pub struct State {
    inits: usize,
    records: AtomicUsize,
}

/// Inits in this process.
static INITS: AtomicUsize = AtomicUsize::new(0);

/// Counts the init and logs it.
pub async fn init() -> Result<State, std::io::Error> {
    let inits = INITS.fetch_add(1, Ordering::SeqCst) + 1;
    tracing::info!(inits, "e2e state initialised");
    log::info!("e2e state initialised, through the log crate");
    Ok(State { inits, records: AtomicUsize::new(0) })
}

/// Logs the record and does what its value says.
pub async fn handle(record: Record<String>, state: &State) -> Result<(), String> {
    let seen = state.records.fetch_add(1, Ordering::SeqCst) + 1;
    tracing::info!(inits = state.inits, records_seen = seen, "record");
    match record.value().as_str() {
        "err" => Err(format!("refused offset {}", record.offset())),
        "panic" => panic!("e2e panic at offset {}", record.offset()),
        _ => Ok(()),
    }
}
