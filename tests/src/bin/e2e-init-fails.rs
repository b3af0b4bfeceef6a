//! An end-to-end test function whose one-time state initialisation fails.

use msk_lambda::{msk_handler, Record};

async fn init() -> Result<String, String> {
    Err("MSK_BOOTSTRAP_SERVERS is not set".to_owned())
}

#[msk_handler(state = init)]
async fn handle(_record: Record<()>, _config: &String) -> Result<(), String> {
    Ok(())
}
