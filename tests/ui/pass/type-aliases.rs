//! Pass case: the record and result types written through aliases.
#![deny(warnings, unused_qualifications, dead_code, missing_docs)]

use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

type OrderRecord = Record<Json<Order>, Option<String>>;
type HandlerResult = Result<(), msk_lambda::Error>;

#[msk_handler(concurrency = 4)]
async fn handle(record: OrderRecord) -> HandlerResult {
    let _ = (record.value().id, record.key());
    Ok(())
}
