use msk_lambda::{msk_handler, Record};

#[msk_handler(workers = 0)]
async fn handle(record: Record<String>) -> Result<(), msk_lambda::Error> {
    let _ = record;
    Ok(())
}
