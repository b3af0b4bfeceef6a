//! Pass case: `Record` imported under another name, with shared state.
#![deny(warnings, unused_qualifications, dead_code, missing_docs)]

use msk_lambda::{msk_handler, Json, Record as KafkaRecord};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

struct State;

async fn init() -> Result<State, msk_lambda::Error> {
    Ok(State)
}

#[msk_handler(state = init, concurrency = 2usize)]
async fn handle(record: KafkaRecord<Json<Order>>, _state: &State) -> Result<(), String> {
    let _ = record.value().id;
    Ok(())
}
