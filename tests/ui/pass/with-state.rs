//! Pass case: shared state built once by an init function.
#![deny(warnings, unused_qualifications, dead_code, missing_docs)]

use msk_lambda::{msk_handler, Record};

struct Clients {
    prefix: String,
}

async fn init() -> Result<Clients, std::io::Error> {
    Ok(Clients { prefix: "audit".to_owned() })
}

#[msk_handler(state = init)]
async fn handle(record: Record<String, Option<String>>, clients: &Clients) -> Result<(), String> {
    if record.value().starts_with(&clients.prefix) {
        Ok(())
    } else {
        Err(format!("offset {} has no {} prefix", record.offset(), clients.prefix))
    }
}
