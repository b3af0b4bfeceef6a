use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[msk_handler(schema_registry = "schema-registry.internal:8081")]
async fn handle(record: Record<Json<Order>>) -> Result<(), msk_lambda::Error> {
    let _ = record.value().id;
    Ok(())
}
