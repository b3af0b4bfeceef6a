use msk_lambda::testing::{TestEvent, TestRecord};
use msk_lambda::{Consumer, Record};

struct Store;

async fn handle(record: Record<String>, store: &Store) -> Result<(), msk_lambda::Error> {
    let _ = (record.value(), store);
    Ok(())
}

// The README's stateless test, for a handler that takes state.
async fn a_whole_event() {
    let event = TestEvent::msk().record(TestRecord::new("orders", 0, 1).value("o-1"));
    let response = Consumer::new(handle).invoke(&event.to_bytes()).await.unwrap();
    assert!(response.is_empty());
}

fn main() {
    let _ = a_whole_event();
}
