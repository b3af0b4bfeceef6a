use msk_lambda::{msk_handler, Record};

mod other {
    /// A `Json` of another crate (axum's, say), not msk-lambda's.
    pub struct Json<T>(pub T);
}

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[msk_handler]
async fn handle(record: Record<other::Json<Order>>) -> Result<(), msk_lambda::Error> {
    let _ = record.value().0.id;
    Ok(())
}
