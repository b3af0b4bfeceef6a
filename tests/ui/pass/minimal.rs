//! Pass case: the smallest handler. Built by `cargo test` (an example of msk-lambda-tests).
#![deny(warnings, unused_qualifications, dead_code, missing_docs)]

use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[msk_handler]
async fn handle(record: Record<Json<Order>>) -> Result<(), msk_lambda::Error> {
    let _ = record.value().id;
    Ok(())
}
