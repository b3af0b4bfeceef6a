use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

struct Store;

async fn init() -> Result<Store, msk_lambda::Error> {
    Ok(Store)
}

#[msk_handler(state = init)]
fn handle(record: Record<Json<Order>>, store: &Store) -> Result<(), msk_lambda::Error> {
    let _ = (record.value().id, store);
    Ok(())
}
