//! An end-to-end test function in whole-batch response mode: any failure fails the invocation.

use msk_lambda::{msk_handler, Record};

#[msk_handler(response = "whole_batch")]
async fn handle(record: Record<String>) -> Result<(), String> {
    match record.value().as_str() {
        "err" => Err(format!("refused offset {}", record.offset())),
        _ => Ok(()),
    }
}
