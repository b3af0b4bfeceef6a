use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

struct Plain {
    id: u64,
}

#[msk_handler]
async fn handle(record: Record<Json<Plain>>) -> Result<(), msk_lambda::Error> {
    let _ = (record.value().id, Order { id: 1 }.id);
    Ok(())
}