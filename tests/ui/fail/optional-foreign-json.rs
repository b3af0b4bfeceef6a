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
async fn handle(record: Record<Option<other::Json<Order>>>) -> Result<(), msk_lambda::Error> {
    let _ = record.value().as_ref().map(|o| o.0.id);
    Ok(())
}
