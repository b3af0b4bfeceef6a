//! Pass case: a handler with `Sync` state on several workers.
#![deny(warnings, unused_qualifications, dead_code, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};

use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

struct State {
    seen: AtomicU64,
}

async fn init() -> Result<State, msk_lambda::Error> {
    Ok(State { seen: AtomicU64::new(0) })
}

#[msk_handler(state = init, workers = "auto", concurrency = 4)]
async fn handle(record: Record<Json<Order>>, state: &State) -> Result<(), msk_lambda::Error> {
    state.seen.fetch_add(record.value().id, Ordering::Relaxed);
    Ok(())
}
