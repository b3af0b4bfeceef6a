use msk_lambda::{msk_handler, Json};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

type OrderRecord = Json<Order>;

#[msk_handler]
async fn handle(record: OrderRecord) -> Result<(), msk_lambda::Error> {
    let _ = record.id;
    Ok(())
}
