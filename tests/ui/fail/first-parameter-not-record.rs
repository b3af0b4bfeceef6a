use msk_lambda::{msk_handler, Json};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[msk_handler]
async fn handle(order: Json<Order>) -> Result<(), msk_lambda::Error> {
    let _ = order.id;
    Ok(())
}