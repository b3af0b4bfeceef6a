use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[msk_handler(deadline_margin_ms = 2s)]
async fn handle(record: Record<Json<Order>>) -> Result<(), msk_lambda::Error> {
    let _ = record.value().id;
    Ok(())
}
