use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

struct State;

async fn init() -> State {
    State
}

#[msk_handler(state = init)]
async fn handle(record: Record<Json<Order>>, state: &State) -> Result<(), msk_lambda::Error> {
    let _ = (record.value().id, state);
    Ok(())
}
