//! The orders-avro consumer: one Avro `Order` per record, written through a schema registry
//! (Confluent or AWS Glue) and read into this handler's schema, whatever schema version wrote it.
//!
//! Run it locally on the sample event (Lambda's schema-registry integration in SOURCE mode,
//! no registry needed: the records were written with this handler's schema):
//! `cargo run -p orders-avro -- examples/orders-avro/events/sample.json`
//!
//! Deployed, `MSK_LAMBDA_SCHEMA_REGISTRY` names the registry the writer schemas come from
//! (see this example's README).

#![forbid(unsafe_code)]

use msk_lambda::avro::{parse_schema, Avro, ReaderSchema, Schema};
use msk_lambda::{msk_handler, Record};
use serde::Deserialize;

/// The handler's (reader) schema. Records written with other versions of `shop.Order` are
/// resolved into it: a field it lacks is dropped, a field the writer lacked takes its default.
pub const ORDER_SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"orderId","type":"string"},{"name":"amountCents","type":"long"},{"name":"currency","type":"string"},{"name":"note","type":["null","string"],"default":null}]}"#;

/// An order, as the shop's checkout service publishes it to the `orders` topic.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The order's id.
    pub order_id: String,
    /// The amount in cents of `currency`; never negative for a real order.
    pub amount_cents: i64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// A free-text note, absent in orders written before schema version 2.
    pub note: Option<String>,
}

impl ReaderSchema for Order {
    fn reader_schema() -> Result<Schema, String> {
        parse_schema(ORDER_SCHEMA)
    }
}

/// Handles one order; a negative amount fails the record.
#[msk_handler]
async fn handle(record: Record<Avro<Order>, Option<String>>) -> Result<(), msk_lambda::Error> {
    let order = record.value();
    if order.amount_cents < 0 {
        return Err(format!(
            "order {} has a negative amount ({} cents)",
            order.order_id, order.amount_cents
        )
        .into());
    }
    tracing::info!(
        order_id = %order.order_id,
        amount_cents = order.amount_cents,
        currency = %order.currency,
        customer = record.key().as_deref(),
        "order"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample event through the consumer `#[msk_handler]` builds: the negative order fails,
    /// and its partition stops there.
    #[tokio::test]
    async fn the_sample_event_through_the_deployed_consumer() {
        let sample = include_bytes!("../events/sample.json");
        let response = handle_consumer().invoke(sample).await.unwrap();
        assert_eq!(
            response.to_json(),
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-1","offset":7}},{"itemIdentifier":{"partition":"orders-1","offset":8}}]}"#
        );
    }

    #[test]
    fn the_reader_schema_parses() {
        Order::reader_schema().unwrap();
    }
}
