use msk_lambda::{Consumer, Record};

struct Store;

async fn init() -> Result<Store, msk_lambda::Error> {
    Ok(Store)
}

async fn handle(record: Record<String>) -> Result<(), msk_lambda::Error> {
    let _ = record.value();
    Ok(())
}

fn main() {
    let _consumer = Consumer::with_state(init, handle);
}
