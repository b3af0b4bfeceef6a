use msk_lambda::{msk_handler, Record};

#[msk_handler]
async fn handle(record: Record<String>) -> Result<(), msk_lambda::Error> {
    let _ = record.value();
    Ok(())
}

fn main() {
    println!("starting");
}
