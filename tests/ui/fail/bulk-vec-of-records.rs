use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[msk_handler]
async fn handle(records: Vec<Record<Json<Order>>>) -> Result<(), msk_lambda::Error> {
    let _ = records.iter().map(|r| r.value().id).sum::<u64>();
    Ok(())
}
