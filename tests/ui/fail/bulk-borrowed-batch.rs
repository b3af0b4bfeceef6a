use msk_lambda::{msk_handler, Batch, BatchError};

#[msk_handler]
async fn handle(batch: &Batch<String>) -> Result<(), BatchError> {
    let _ = batch.len();
    Ok(())
}
