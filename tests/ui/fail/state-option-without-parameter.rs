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
async fn handle(record: Record<Json<Order>>) -> Result<(), msk_lambda::Error> {
    let _ = record.value().id;
    Ok(())
}