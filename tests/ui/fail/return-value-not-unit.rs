use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[msk_handler]
async fn handle(record: Record<Json<Order>>) -> Result<u64, msk_lambda::Error> {
    Ok(record.value().id)
}