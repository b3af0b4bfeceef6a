use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[msk_handler]
struct Handler {
    order: Json<Order>,
}

fn main() {
    let _ = Handler { order: Json(Order { id: 1 }) }.order.id;
    let _: Option<Record<()>> = None;
}