//! Pass case: a bulk handler, given each partition's records at once.
#![deny(warnings, unused_qualifications, dead_code, missing_docs)]

use msk_lambda::{msk_handler, Batch, BatchError, Json};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[msk_handler(concurrency = 4, failure = "continue")]
async fn handle(batch: Batch<Json<Order>, Option<String>>) -> Result<(), BatchError> {
    let mut failed = BatchError::none();
    for record in &batch {
        if record.value().id == 0 {
            failed = failed.record(record.offset(), "order id 0");
        }
    }
    failed.into_result()
}
