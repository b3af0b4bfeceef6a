use msk_lambda::msk_handler;

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[msk_handler]
async fn handle() -> Result<(), msk_lambda::Error> {
    Ok(())
}