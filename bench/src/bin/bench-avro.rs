//! msk-lambda on an Avro event, timed in-process the way bench/powertools_avro.py times
//! Powertools for AWS Lambda (Python) on the same file:
//! `bench-avro EVENT.json REPEATS` prints
//! `msk_lambda_avro records=N failures=F best_ms=T records_per_s=R`, the best of REPEATS whole
//! invocations (event parse, base64, Avro decode of every value into `Order`, a handler touching
//! two fields and the key, the response). The writer schema comes from a registry holding
//! schema id 1 (fetched once, on the first invocation, as in a warm function).

use std::time::Instant;

use msk_lambda::avro::{parse_schema, Avro, ReaderSchema, Schema};
use msk_lambda::schema::{SchemaFormat, SchemaRef, SchemaRegistry, StaticSchemas};
use msk_lambda::{Consumer, Record};
use serde::Deserialize;

/// tests/fixtures/schema-registry/order-v2.avsc, the orders-avro reader schema.
const ORDER_SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"orderId","type":"string"},{"name":"amountCents","type":"long"},{"name":"currency","type":"string"},{"name":"note","type":["null","string"],"default":null}]}"#;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    order_id: String,
    amount_cents: i64,
    #[allow(dead_code)]
    currency: String,
    #[allow(dead_code)]
    note: Option<String>,
}

impl ReaderSchema for Order {
    fn reader_schema() -> Result<Schema, String> {
        parse_schema(ORDER_SCHEMA)
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench-avro EVENT.json REPEATS";
    let event = std::fs::read(args.next().expect(usage)).expect("the event file is readable");
    let repeats: usize = args.next().map_or(5, |r| r.parse().expect(usage));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let schemas =
        StaticSchemas::new().with(SchemaRef::ConfluentId(1), SchemaFormat::Avro, ORDER_SCHEMA);
    let consumer = Consumer::new(async |record: Record<Avro<Order>, Option<String>>| {
        let order = record.value();
        std::hint::black_box((&order.order_id, order.amount_cents, record.key()));
        Ok::<(), msk_lambda::Error>(())
    })
    .schema_registry(SchemaRegistry::new(schemas));
    let mut best = f64::MAX;
    let (mut records, mut failures) = (0, 0);
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        let report = runtime
            .block_on(consumer.process(&event, msk_lambda::InvocationContext::local()))
            .expect("a usable event");
        best = best.min(started.elapsed().as_secs_f64());
        let counts = report.counts();
        (records, failures) = (counts.records, counts.failed);
    }
    println!(
        "msk_lambda_avro records={records} failures={failures} best_ms={:.2} records_per_s={:.0}",
        best * 1e3,
        records as f64 / best
    );
}
