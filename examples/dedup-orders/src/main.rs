//! Shared state: an order store created once per execution environment by `init`, and
//! borrowed by every record of every invocation that environment serves.
//!
//! Lambda redelivers records after a failure, so handlers see some records twice; this one
//! remembers the order ids it has applied and skips repeats.
//!
//! Run it: `cargo run -p dedup-orders -- examples/dedup-orders/events/sample.json`

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::sync::Mutex;

use msk_lambda::{msk_handler, Json, Record};
use serde::Deserialize;

/// An order as the shop publishes it.
#[derive(Debug, Deserialize)]
pub struct Order {
    /// Unique per order; the dedup key.
    pub id: String,
    /// Total in cents; must not be negative.
    pub total_cents: i64,
}

/// What every invocation shares: in a real function, database or HTTP clients.
#[derive(Debug, Default)]
pub struct Store {
    applied: Mutex<HashSet<String>>,
}

impl Store {
    /// Records the order; false when it was applied before.
    pub fn apply(&self, order: &Order) -> bool {
        self.applied.lock().unwrap_or_else(|e| e.into_inner()).insert(order.id.clone())
    }
}

/// Builds the shared state once per execution environment.
async fn init() -> Result<Store, std::io::Error> {
    tracing::info!("creating the order store (once per execution environment)");
    Ok(Store::default())
}

/// Applies one order exactly once per execution environment.
#[msk_handler(state = init, concurrency = 4)]
async fn handle(record: Record<Json<Order>>, store: &Store) -> Result<(), msk_lambda::Error> {
    let order = record.value();
    if order.total_cents < 0 {
        return Err(format!("order {} has a negative total", order.id).into());
    }
    if !store.apply(order) {
        tracing::info!(order = %order.id, offset = record.offset(), "duplicate order skipped");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use msk_lambda::testing::TestRecord;

    fn order(offset: i64, id: &str, total: i64) -> Record<Json<Order>> {
        let value = format!(r#"{{"id":"{id}","total_cents":{total}}}"#);
        TestRecord::new("orders", 0, offset).value(value).decode().unwrap()
    }

    #[tokio::test]
    async fn repeats_are_applied_once() {
        let store = init().await.unwrap();
        handle(order(1, "o-1", 500), &store).await.unwrap();
        handle(order(2, "o-1", 500), &store).await.unwrap();
        handle(order(3, "o-2", 0), &store).await.unwrap();
        assert_eq!(store.applied.lock().unwrap().len(), 2);
        let err = handle(order(4, "o-3", -1), &store).await.unwrap_err();
        assert_eq!(err.to_string(), "order o-3 has a negative total");
    }

    /// The whole event through the consumer the attribute configures (state, concurrency 4):
    /// `handle_consumer()` is generated next to `handle` for tests.
    #[tokio::test]
    async fn a_whole_event_through_the_deployed_configuration() {
        use msk_lambda::testing::TestEvent;
        let consumer = handle_consumer();
        assert!(format!("{consumer:?}").contains("concurrency: 4"), "{consumer:?}");
        let event = TestEvent::msk().records([
            TestRecord::new("orders", 0, 1).value(r#"{"id":"o-1","total_cents":500}"#),
            TestRecord::new("orders", 0, 2).value(r#"{"id":"o-1","total_cents":500}"#),
            TestRecord::new("orders", 1, 7).value(r#"{"id":"o-2","total_cents":-5}"#),
        ]);
        let response = consumer.invoke(&event.to_bytes()).await.unwrap();
        assert_eq!(
            response.to_json(),
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-1","offset":7}}]}"#
        );
        // The state was built once, by `init`, and kept the first order.
        assert_eq!(consumer.state().await.unwrap().applied.lock().unwrap().len(), 1);
    }
}
