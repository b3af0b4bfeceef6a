use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

mod handlers {
    use super::*;

    #[msk_handler]
    pub async fn handle(record: Record<Json<Order>>) -> Result<(), msk_lambda::Error> {
        let _ = record.value().id;
        Ok(())
    }
}
