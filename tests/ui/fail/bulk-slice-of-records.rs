use msk_lambda::{msk_handler, Record};

#[msk_handler]
async fn handle(records: &[Record<String>]) -> Result<(), msk_lambda::Error> {
    let _ = records.len();
    Ok(())
}
