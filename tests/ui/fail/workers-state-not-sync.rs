use std::cell::Cell;

use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

struct State {
    seen: Cell<u64>,
}

async fn init() -> Result<State, msk_lambda::Error> {
    Ok(State { seen: Cell::new(0) })
}

#[msk_handler(state = init, workers = 2)]
async fn handle(record: Record<Json<Order>>, state: &State) -> Result<(), msk_lambda::Error> {
    state.seen.set(state.seen.get() + record.value().id);
    Ok(())
}
