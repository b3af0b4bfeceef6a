//! Pass case: msk-lambda reached under another name with `crate = "..."`.
#![deny(warnings, unused_qualifications, dead_code, missing_docs)]

mod deps {
    pub use msk_lambda as kafka_lambda;
}

use deps::kafka_lambda::{msk_handler, Record};

#[msk_handler(crate = "deps::kafka_lambda", failure = "stop_partition", response = "partial_batch")]
async fn handle(record: Record<bytes::Bytes>) -> Result<(), &'static str> {
    if record.value().is_empty() {
        Err("empty value")
    } else {
        Ok(())
    }
}
