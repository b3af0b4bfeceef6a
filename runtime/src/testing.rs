//! Helpers for your own tests: Lambda-format Kafka events built from typed values, and records
//! to pass straight to a handler.
//!
//! ```
//! use msk_lambda::testing::{TestEvent, TestRecord};
//! use msk_lambda::{Consumer, Json, Record};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Order {
//!     id: u32,
//! }
//!
//! async fn handle(record: Record<Json<Order>>) -> Result<(), String> {
//!     if record.value().id == 0 { Err("order id 0".into()) } else { Ok(()) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // A whole event, through the same path as a Lambda invocation:
//! let event = TestEvent::msk()
//!     .record(TestRecord::new("orders", 0, 10).json_value(&Order { id: 1 }))
//!     .record(TestRecord::new("orders", 0, 11).json_value(&Order { id: 0 }));
//! let response = Consumer::new(handle).invoke(&event.to_bytes()).await.unwrap();
//! assert_eq!(
//!     response.to_json(),
//!     r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-0","offset":11}}]}"#
//! );
//!
//! // Or one record, decoded the way the consumer decodes it, into a direct call:
//! let record = TestRecord::new("orders", 0, 12).json_value(&Order { id: 7 }).decode().unwrap();
//! assert!(handle(record).await.is_ok());
//! # }
//! ```

#[cfg(feature = "aws-lambda-events")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws-lambda-events")))]
mod aws_lambda_events;
#[cfg(feature = "aws-lambda-events")]
pub use self::aws_lambda_events::FromKafkaEventError;

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

use crate::context::{EventSource, InvocationContext};
use crate::event::{Base64, RawHeaders, RawRecord, Text};
use crate::record::{Record, SchemaMetadata, TimestampType};
use crate::report::Failure;
use crate::Decode;

/// A Kafka event as Lambda sends it, built record by record.
#[derive(Debug, Clone)]
pub struct TestEvent {
    source: EventSource,
    records: Vec<TestRecord>,
}

impl TestEvent {
    /// An Amazon MSK event (`eventSource: aws:kafka`, with a cluster ARN).
    pub fn msk() -> Self {
        TestEvent { source: EventSource::Msk, records: Vec::new() }
    }

    /// A self-managed Kafka event (`eventSource: SelfManagedKafka`, no ARN).
    pub fn self_managed() -> Self {
        TestEvent { source: EventSource::SelfManagedKafka, records: Vec::new() }
    }

    /// Adds a record. Records are grouped under `"<topic>-<partition>"` in the order added.
    pub fn record(mut self, record: TestRecord) -> Self {
        self.records.push(record);
        self
    }

    /// Adds several records.
    pub fn records(mut self, records: impl IntoIterator<Item = TestRecord>) -> Self {
        self.records.extend(records);
        self
    }

    /// The event as a JSON value (a `Value` keeps its keys sorted: [`TestEvent::to_json`] has
    /// Lambda's field order).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self.wire()).expect("a test event serializes to JSON")
    }

    /// The event as JSON text, exactly as Lambda writes it: compact, fields in Lambda's order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.wire()).expect("a test event serializes to JSON")
    }

    /// The event in Lambda's field order, records grouped by partition in the order added.
    fn wire(&self) -> WireEvent<'_> {
        let mut partitions: Vec<(String, Vec<WireRecord<'_>>)> = Vec::new();
        for r in &self.records {
            let key = format!("{}-{}", r.topic, r.partition);
            match partitions.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(r.wire()),
                None => partitions.push((key, vec![r.wire()])),
            }
        }
        WireEvent {
            event_source: self.source.as_str(),
            event_source_arn: (self.source == EventSource::Msk).then_some(
                "arn:aws:kafka:us-east-1:123456789012:cluster/test/00000000-0000-0000-0000-000000000000-1",
            ),
            bootstrap_servers: "b-1.test.kafka.us-east-1.amazonaws.com:9098,b-2.test.kafka.us-east-1.amazonaws.com:9098",
            records: WirePartitions(partitions),
        }
    }

    /// The event as the bytes of an invocation body.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_json().into_bytes()
    }
}

/// One record of a [`TestEvent`]; key, value and headers are given as the producer sent them.
#[derive(Debug, Clone)]
pub struct TestRecord {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: i64,
    timestamp_type: TimestampType,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
    key_schema: Option<SchemaMetadata>,
    value_schema: Option<SchemaMetadata>,
}

impl TestRecord {
    /// A record with no key, no value (a tombstone until one is set) and no headers.
    pub fn new(topic: impl Into<String>, partition: i32, offset: i64) -> Self {
        TestRecord {
            topic: topic.into(),
            partition,
            offset,
            timestamp: 1_735_689_600_000,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: None,
            headers: Vec::new(),
            key_schema: None,
            value_schema: None,
        }
    }

    /// Sets the value to `value` encoded as JSON.
    pub fn json_value(self, value: &impl Serialize) -> Self {
        self.value(serde_json::to_vec(value).expect("test value serializes to JSON"))
    }

    /// Sets the value's raw bytes (or text).
    pub fn value(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.value = Some(bytes.as_ref().to_vec());
        self
    }

    /// Makes the record a tombstone (null value).
    pub fn tombstone(mut self) -> Self {
        self.value = None;
        self
    }

    /// Sets the key to `key` encoded as JSON.
    pub fn json_key(self, key: &impl Serialize) -> Self {
        self.key(serde_json::to_vec(key).expect("test key serializes to JSON"))
    }

    /// Sets the key's raw bytes (or text).
    pub fn key(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.key = Some(bytes.as_ref().to_vec());
        self
    }

    /// Adds a header (names may repeat; order is kept).
    pub fn header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.into(), value.as_ref().to_vec()));
        self
    }

    /// Sets the timestamp, in milliseconds since the Unix epoch.
    pub fn timestamp_millis(mut self, millis: i64) -> Self {
        self.timestamp = millis;
        self
    }

    /// Sets who set the timestamp (default `CREATE_TIME`; `NoTimestampType` with
    /// `timestamp_millis(-1)` is a record without a timestamp, as Kafka writes it).
    pub fn timestamp_type(mut self, timestamp_type: TimestampType) -> Self {
        self.timestamp_type = timestamp_type;
        self
    }

    /// Adds schema registry metadata for the key.
    pub fn key_schema(mut self, data_format: &str, schema_id: &str) -> Self {
        self.key_schema = Some(SchemaMetadata {
            data_format: data_format.to_owned(),
            schema_id: schema_id.to_owned(),
        });
        self
    }

    /// Adds schema registry metadata for the value.
    pub fn value_schema(mut self, data_format: &str, schema_id: &str) -> Self {
        self.value_schema = Some(SchemaMetadata {
            data_format: data_format.to_owned(),
            schema_id: schema_id.to_owned(),
        });
        self
    }

    /// The record as Lambda encodes it: base64 key and value, headers as signed bytes.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self.wire()).expect("a test record serializes to JSON")
    }

    /// The record in Lambda's field order.
    fn wire(&self) -> WireRecord<'_> {
        WireRecord {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            timestamp_type: self.timestamp_type.as_str(),
            key: self.key.as_deref().map(base64_text),
            value: self.value.as_deref().map(base64_text),
            headers: self.headers.iter().map(|(name, value)| WireHeader(name, value)).collect(),
            key_schema_metadata: self.key_schema.as_ref().map(WireSchema::of),
            value_schema_metadata: self.value_schema.as_ref().map(WireSchema::of),
        }
    }

    /// Decodes the record into the handler's types as a consumer without a schema registry
    /// would, for a direct handler call in a unit test; fails as that consumer would fail the
    /// record. No registry is consulted, whatever the record's schema metadata or
    /// `MSK_LAMBDA_SCHEMA_REGISTRY` say: `Avro<T>` reads with `T`'s schema, `AvroValue` fails,
    /// and `Json<T>` is not validated against a JSON Schema. To test decoding through a
    /// registry, run the record through a consumer given one
    /// (`Consumer::new(handle).schema_registry(SchemaRegistry::new(StaticSchemas::new()...))`)
    /// and its `process` or `invoke`.
    pub fn decode<V: Decode, K: Decode>(&self) -> Result<Record<V, K>, Failure> {
        let b64 = |bytes: &Option<Vec<u8>>| {
            bytes.as_deref().map(|b| Base64(Cow::Owned(base64_text(b).into_bytes())))
        };
        let headers = serde_json::value::RawValue::from_string(
            serde_json::to_string(&self.wire().headers).expect("headers serialize to JSON"),
        )
        .expect("headers serialize to JSON");
        let raw = RawRecord {
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            timestamp_type: self.timestamp_type,
            key: b64(&self.key),
            value: b64(&self.value),
            headers: RawHeaders::Json(&headers),
            schemas: crate::record::Schemas::boxed(
                self.key_schema.clone(),
                self.value_schema.clone(),
            ),
        };
        let batch = crate::event::PartitionBatch {
            key: Text(Cow::Owned(format!("{}-{}", self.topic, self.partition))),
            topic: Text(Cow::Borrowed(&self.topic)),
            other_topic: None,
            records: vec![raw],
            headers: bytes::Bytes::new(),
        };
        let context = Arc::new(InvocationContext::local());
        let mut shared = crate::record_decode::PartitionShared::new(&batch, &context);
        let mut raw = batch.records.into_iter().next().expect("one record");
        crate::record_decode::decode(&mut raw, &mut shared)
    }
}

fn base64_text(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// What Lambda writes, field for field and in its order (serde writes a struct's fields in
// declaration order; a `serde_json::Value` would sort them, `headers` first, and send every test
// event down the parser's general path instead of the one real events take).

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent<'a> {
    event_source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_source_arn: Option<&'a str>,
    bootstrap_servers: &'a str,
    records: WirePartitions<'a>,
}

/// The `records` object, partitions in the order their first record was added.
struct WirePartitions<'a>(Vec<(String, Vec<WireRecord<'a>>)>);

impl Serialize for WirePartitions<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireRecord<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    timestamp: i64,
    timestamp_type: &'static str,
    // Lambda leaves a null key out of the record; a tombstone's value is written `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    value: Option<String>,
    headers: Vec<WireHeader<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_schema_metadata: Option<WireSchema<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_schema_metadata: Option<WireSchema<'a>>,
}

/// `{"name": [signed bytes]}`: Java bytes, so 0xC3 is written -61.
struct WireHeader<'a>(&'a str, &'a [u8]);

impl Serialize for WireHeader<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let signed: Vec<i8> = self.1.iter().map(|&b| b as i8).collect();
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.0, &signed)?;
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireSchema<'a> {
    data_format: &'a str,
    schema_id: &'a str,
}

impl<'a> WireSchema<'a> {
    fn of(schema: &'a SchemaMetadata) -> Self {
        WireSchema { data_format: &schema.data_format, schema_id: &schema.schema_id }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test events are what Lambda sends: compact, fields in Lambda's order.
    #[test]
    fn events_have_lambdas_field_order() {
        let event = TestEvent::msk()
            .record(TestRecord::new("t", 0, 5).key("k").value("v").header("h", [0xC3, 1]))
            .record(TestRecord::new("t", 0, 6).value_schema("AVRO", "s-1"))
            .to_json();
        assert_eq!(
            event,
            concat!(
                r#"{"eventSource":"aws:kafka","eventSourceArn":"arn:aws:kafka:us-east-1:123456789012:cluster/test/00000000-0000-0000-0000-000000000000-1","#,
                r#""bootstrapServers":"b-1.test.kafka.us-east-1.amazonaws.com:9098,b-2.test.kafka.us-east-1.amazonaws.com:9098","#,
                r#""records":{"t-0":["#,
                r#"{"topic":"t","partition":0,"offset":5,"timestamp":1735689600000,"timestampType":"CREATE_TIME","key":"aw==","value":"dg==","headers":[{"h":[-61,1]}]},"#,
                r#"{"topic":"t","partition":0,"offset":6,"timestamp":1735689600000,"timestampType":"CREATE_TIME","value":null,"headers":[],"valueSchemaMetadata":{"dataFormat":"AVRO","schemaId":"s-1"}}"#,
                "]}}"
            )
        );
    }
}
