//! One decoded Kafka record: its coordinates, key, value, headers and schema metadata.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::Deserialize;

use crate::context::InvocationContext;
use crate::headers::Headers;

/// One Kafka record, its key decoded as `K` and its value as `V` (see [`Decode`](crate::Decode)).
///
/// The value comes first (Kafka's own order is key, value) so that the key type can default:
/// `K = ()` means the key is not decoded, so a binary key never fails a handler
/// that ignores it. `Record<Json<MyEvent>>` is the common form;
/// `Record<Json<MyEvent>, Option<String>>` also reads a text key that may be absent.
///
/// `Debug` output redacts the key and value: records can be logged without leaking payloads.
pub struct Record<V, K = ()> {
    /// What the records of a partition share (one reference count, not three).
    pub(crate) shared: Arc<RecordShared>,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) timestamp: i64,
    pub(crate) timestamp_type: TimestampType,
    pub(crate) key: K,
    pub(crate) value: V,
    pub(crate) raw_key: Option<Bytes>,
    pub(crate) raw_value: Option<Bytes>,
    pub(crate) headers: Headers,
    // Boxed: rarely present, and records are moved several times on their way to the handler.
    pub(crate) schemas: Option<Box<Schemas>>,
}

/// A record's schema registry metadata, of its key and of its value: boxed together where it
/// is kept, as most records have none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Schemas {
    pub key: Option<SchemaMetadata>,
    pub value: Option<SchemaMetadata>,
}

impl Schemas {
    /// Both, boxed; `None` when neither is there.
    #[inline]
    pub(crate) fn boxed(
        key: Option<SchemaMetadata>,
        value: Option<SchemaMetadata>,
    ) -> Option<Box<Schemas>> {
        (key.is_some() || value.is_some()).then(|| Box::new(Schemas { key, value }))
    }
}

/// The part of a record that all records of its partition share.
#[derive(Debug)]
pub(crate) struct RecordShared {
    pub topic_partition: String,
    pub topic: String,
    pub context: Arc<InvocationContext>,
}

impl<V, K> Record<V, K> {
    /// The topic name.
    pub fn topic(&self) -> &str {
        &self.shared.topic
    }

    /// The partition number.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The record's offset in its partition.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// `"<topic>-<partition>"`: the key of the event's `records` map, which the partial batch
    /// response names (and msk-lambda's logs call `topic_partition`). Not the record's key.
    pub fn topic_partition(&self) -> &str {
        &self.shared.topic_partition
    }

    /// The record timestamp in milliseconds since the Unix epoch; `None` when the record has
    /// none (Kafka's `NO_TIMESTAMP_TYPE`, or a negative timestamp such as Kafka's -1).
    pub fn timestamp_millis(&self) -> Option<i64> {
        timestamp_millis(self.timestamp, self.timestamp_type)
    }

    /// The record timestamp as a [`SystemTime`]; `None` when the record has none.
    pub fn timestamp(&self) -> Option<SystemTime> {
        let millis = u64::try_from(self.timestamp_millis()?).ok()?;
        Some(SystemTime::UNIX_EPOCH + Duration::from_millis(millis))
    }

    /// Whether the timestamp was set by the producer or by the broker.
    pub fn timestamp_type(&self) -> TimestampType {
        self.timestamp_type
    }

    /// The decoded key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The decoded value.
    pub fn value(&self) -> &V {
        &self.value
    }

    /// Takes the decoded value out.
    pub fn into_value(self) -> V {
        self.value
    }

    /// Takes the decoded key and value out, in Kafka's order: `(key, value)`.
    pub fn into_parts(self) -> (K, V) {
        (self.key, self.value)
    }

    /// The key's bytes after base64 decoding, whatever `K` is; `None` when absent or null.
    ///
    /// Keys and values of a partition are decoded into one buffer of at most 64 KiB, reused
    /// once its records are dropped: a `Bytes` kept beyond the handler keeps that buffer alive
    /// (copy it with `Bytes::copy_from_slice` to keep a small part for long).
    pub fn raw_key(&self) -> Option<&Bytes> {
        self.raw_key.as_ref()
    }

    /// The value's bytes after base64 decoding, whatever `V` is; `None` for a tombstone. Shares
    /// its buffer as [`Record::raw_key`] says.
    pub fn raw_value(&self) -> Option<&Bytes> {
        self.raw_value.as_ref()
    }

    /// The record headers, in order, duplicates kept.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Schema registry metadata of the key, when the event source mapping uses a registry.
    pub fn key_schema(&self) -> Option<&SchemaMetadata> {
        self.schemas.as_ref()?.key.as_ref()
    }

    /// Schema registry metadata of the value, when the event source mapping uses a registry.
    pub fn value_schema(&self) -> Option<&SchemaMetadata> {
        self.schemas.as_ref()?.value.as_ref()
    }

    /// The invocation this record arrived in: request id, deadline, event source.
    pub fn context(&self) -> &InvocationContext {
        &self.shared.context
    }
}

impl<V, K> fmt::Debug for Record<V, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("topic", &self.shared.topic)
            .field("partition", &self.partition)
            .field("offset", &self.offset)
            .field("timestamp", &self.timestamp)
            .field("timestamp_type", &self.timestamp_type)
            .field("key", &Redacted(self.raw_key.as_ref()))
            .field("value", &Redacted(self.raw_value.as_ref()))
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// Shows a payload's size, never its bytes.
struct Redacted<'a>(Option<&'a Bytes>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(b) => write!(f, "<redacted {} bytes>", b.len()),
            None => f.write_str("None"),
        }
    }
}

/// A record's timestamp, if it has one: Kafka writes -1 (`NO_TIMESTAMP`) with
/// `NO_TIMESTAMP_TYPE` for records without.
pub(crate) fn timestamp_millis(millis: i64, kind: TimestampType) -> Option<i64> {
    (millis >= 0 && kind != TimestampType::NoTimestampType).then_some(millis)
}

/// Who set a record's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
pub enum TimestampType {
    /// Set by the producer (`CREATE_TIME`).
    #[serde(rename = "CREATE_TIME")]
    CreateTime,
    /// Set by the broker when it appended the record (`LOG_APPEND_TIME`).
    #[serde(rename = "LOG_APPEND_TIME")]
    LogAppendTime,
    /// Absent or not known (`NO_TIMESTAMP_TYPE` or any other string).
    #[default]
    #[serde(other, rename = "NO_TIMESTAMP_TYPE")]
    NoTimestampType,
}

impl TimestampType {
    /// The `timestampType` string Lambda sends.
    pub fn as_str(self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CREATE_TIME",
            TimestampType::LogAppendTime => "LOG_APPEND_TIME",
            TimestampType::NoTimestampType => "NO_TIMESTAMP_TYPE",
        }
    }
}

/// Schema registry metadata Lambda attaches when the mapping uses a schema registry.
///
/// Read only from a JSON object (the derived impl, kept as the inherent
/// `SchemaMetadata::deserialize`, would also take an array of the fields in order).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct SchemaMetadata {
    /// `AVRO`, `JSON` or `PROTOBUF`.
    #[serde(default)]
    pub data_format: String,
    /// The schema's id (or ARN) in the registry.
    #[serde(default)]
    pub schema_id: String,
}

impl<'de> Deserialize<'de> for SchemaMetadata {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = SchemaMetadata;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a schema metadata object ({\"dataFormat\": …, \"schemaId\": …})")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                SchemaMetadata::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(V)
    }
}
