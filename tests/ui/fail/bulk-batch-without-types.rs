use msk_lambda::{msk_handler, Batch, BatchError};

#[msk_handler]
async fn handle(batch: Batch) -> Result<(), BatchError> {
    let _ = batch.len();
    Ok(())
}
