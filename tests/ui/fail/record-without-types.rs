use msk_lambda::{msk_handler, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[msk_handler]
async fn handle(record: Record) -> Result<(), msk_lambda::Error> {
    let _ = record;
    Ok(())
}