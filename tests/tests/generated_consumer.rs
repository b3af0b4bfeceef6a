//! `#[msk_handler]` also gives test builds `<handler>_consumer()`: the consumer its `main` runs,
//! with the attribute's options, so that a test checks the configuration that is deployed. Here
//! through a type alias of the record, with state and every option.

// Under `cargo test` the test harness's `main` runs, not the one the attribute writes.
#![allow(dead_code)]

use msk_lambda::testing::{TestEvent, TestRecord};
use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u32,
}

type OrderRecord = Record<Json<Order>, Option<String>>;

struct Limits {
    max_id: u32,
}

async fn init() -> Result<Limits, msk_lambda::Error> {
    Ok(Limits { max_id: 10 })
}

#[msk_handler(
    state = init,
    concurrency = 3,
    failure = "continue",
    response = "whole_batch",
    deadline_margin_ms = 750,
    schema_registry = "http://127.0.0.1:9/registry"
)]
async fn handle(record: OrderRecord, limits: &Limits) -> Result<(), msk_lambda::Error> {
    if record.value().id > limits.max_id {
        return Err(format!("order {} is over the limit", record.value().id).into());
    }
    Ok(())
}

#[tokio::test]
async fn the_generated_consumer_has_the_attributes_options() {
    let consumer = handle_consumer();
    let config = format!("{consumer:?}");
    for setting in [
        "concurrency: 3",
        "failure_policy: Continue",
        "response_mode: WholeBatch",
        "750ms",
        "Uri(\"http://127.0.0.1:9/registry\")",
    ] {
        assert!(config.contains(setting), "{setting} missing from {config}");
    }
    let event = TestEvent::msk().records([
        TestRecord::new("orders", 0, 1).json_value(&serde_json::json!({"id": 11})),
        TestRecord::new("orders", 0, 2).json_value(&serde_json::json!({"id": 3})),
    ]);
    // Whole-batch mode and the continue policy, as deployed: both records run, the batch fails.
    // (Plain JSON names no schema: the registry is configured but never asked.)
    let event = event.to_bytes();
    let report = consumer.process(&event, msk_lambda::InvocationContext::local()).await.unwrap();
    assert_eq!(report.counts().succeeded, 1);
    let err = consumer.invoke(&event).await.unwrap_err();
    assert_eq!(err.error_type(), "MskLambda.BatchFailed");
    assert!(err.to_string().contains("orders-0@1: handler: order 11 is over the limit"), "{err}");
}
