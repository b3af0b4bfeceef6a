use msk_lambda::{msk_handler, Record};

#[msk_handler]
async fn handle(record: Record<impl msk_lambda::Decode>) -> Result<(), msk_lambda::Error> {
    let _ = record;
    Ok(())
}
