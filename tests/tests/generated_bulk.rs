//! `#[msk_handler]` on a bulk handler (`Batch<V, K>` as the first parameter), with state and
//! workers: the generated consumer hands each partition's decoded records over at once, in
//! offset order, and reports per-offset failures exactly.

// Under `cargo test` the test harness's `main` runs, not the one the attribute writes.
#![allow(dead_code)]

use std::sync::Mutex;

use msk_lambda::testing::{TestEvent, TestRecord};
use msk_lambda::{msk_handler, Batch, BatchError, Json};

#[derive(serde::Deserialize)]
struct Order {
    id: u32,
}

/// Stands in for a database: every batch written, as (partition, offsets).
struct Sink {
    batches: Mutex<Vec<(String, Vec<i64>)>>,
}

async fn init() -> Result<Sink, msk_lambda::Error> {
    Ok(Sink { batches: Mutex::new(Vec::new()) })
}

#[msk_handler(state = init, workers = 2, failure = "continue")]
async fn handle(batch: Batch<Json<Order>, Option<String>>, sink: &Sink) -> Result<(), BatchError> {
    let offsets = batch.iter().map(|r| r.offset()).collect();
    sink.batches.lock().unwrap().push((batch.topic_partition().to_owned(), offsets));
    let mut failed = BatchError::none();
    for record in &batch {
        if record.value().id == 0 {
            failed = failed.record(record.offset(), "order id 0 is not valid");
        }
    }
    failed.into_result()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_bulk_consumer_hands_over_partitions() {
    let consumer = handle_consumer();
    let config = format!("{consumer:?}");
    for setting in ["failure_policy: Continue", "workers: 2"] {
        assert!(config.contains(setting), "{setting} missing from {config}");
    }
    let order = |id: u32| serde_json::json!({ "id": id });
    let event = TestEvent::msk()
        .records([
            TestRecord::new("orders", 0, 10).json_value(&order(1)),
            TestRecord::new("orders", 0, 11).json_value(&order(0)),
            TestRecord::new("orders", 0, 12).value(b"not json"),
            TestRecord::new("orders", 0, 13).json_value(&order(2)),
            TestRecord::new("orders", 1, 5).json_value(&order(3)),
        ])
        .to_bytes();
    let response = consumer.invoke(&event).await.unwrap();
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| (f.item_identifier.partition.as_str(), f.item_identifier.offset))
        .collect();
    // Offset 11 failed in the handler, 12 did not decode (and was not handed over).
    assert_eq!(failed, [("orders-0", 11), ("orders-0", 12)]);
    let sink = consumer.state().await.unwrap();
    let mut batches = sink.batches.lock().unwrap().clone();
    batches.sort();
    assert_eq!(
        batches,
        [("orders-0".to_owned(), vec![10, 11, 13]), ("orders-1".to_owned(), vec![5])]
    );
}
