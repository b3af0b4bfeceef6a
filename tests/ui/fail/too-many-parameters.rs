use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

struct State;

async fn init() -> Result<State, msk_lambda::Error> {
    Ok(State)
}

#[msk_handler(state = init)]
async fn handle(record: Record<Json<Order>>, state: &State, extra: u32) -> Result<(), msk_lambda::Error> {
    let _ = (record.value().id, state, extra);
    Ok(())
}