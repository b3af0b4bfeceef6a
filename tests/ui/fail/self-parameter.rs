use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

struct Consumer;

impl Consumer {
    #[msk_handler]
    async fn handle(&self, record: Record<Json<Order>>) -> Result<(), msk_lambda::Error> {
        let _ = record.value().id;
        Ok(())
    }
}

fn main() {
    let _ = Consumer;
}