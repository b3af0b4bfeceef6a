use msk_lambda::{msk_handler, Batch, Json};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[msk_handler]
async fn handle(batch: Batch<Json<Order>>) -> Result<(), u64> {
    Err(batch.iter().map(|r| r.value().id).sum())
}
