//! One decoded Kafka record and what comes with it: headers, schema metadata, invocation context.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::Deserialize;

/// One Kafka record, its key decoded as `K` and its value as `V` (see [`Decode`](crate::Decode)).
///
/// The key type defaults to `()`: the key is not decoded, so a binary key never fails a handler
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
    pub(crate) key_schema: Option<Box<SchemaMetadata>>,
    pub(crate) value_schema: Option<Box<SchemaMetadata>>,
}

/// The part of a record that all records of its partition share.
#[derive(Debug)]
pub(crate) struct RecordShared {
    pub partition_key: String,
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

    /// `"<topic>-<partition>"`: the key of the event's `records` map, as used in the response.
    pub fn partition_key(&self) -> &str {
        &self.shared.partition_key
    }

    /// The record timestamp in milliseconds since the Unix epoch.
    pub fn timestamp_millis(&self) -> i64 {
        self.timestamp
    }

    /// The record timestamp as a [`SystemTime`] (the epoch for negative timestamps).
    pub fn timestamp(&self) -> SystemTime {
        let millis = u64::try_from(self.timestamp).unwrap_or(0);
        SystemTime::UNIX_EPOCH + Duration::from_millis(millis)
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

    /// Takes the decoded key and value out.
    pub fn into_key_value(self) -> (K, V) {
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
        self.key_schema.as_deref()
    }

    /// Schema registry metadata of the value, when the event source mapping uses a registry.
    pub fn value_schema(&self) -> Option<&SchemaMetadata> {
        self.value_schema.as_deref()
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

/// Schema registry metadata Lambda attaches when the mapping uses a schema registry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaMetadata {
    /// `AVRO`, `JSON` or `PROTOBUF`.
    #[serde(default)]
    pub data_format: String,
    /// The schema's id (or ARN) in the registry.
    #[serde(default)]
    pub schema_id: String,
}

/// Where the event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventSource {
    /// Amazon MSK (`aws:kafka`).
    Msk,
    /// A self-managed Apache Kafka cluster (`SelfManagedKafka`).
    SelfManagedKafka,
}

impl EventSource {
    /// The `eventSource` string Lambda sends.
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Msk => "aws:kafka",
            EventSource::SelfManagedKafka => "SelfManagedKafka",
        }
    }
}

/// Facts about one invocation, shared by all its records.
#[derive(Debug, Clone)]
pub struct InvocationContext {
    /// The Lambda request id (`local-…` in local runs).
    pub request_id: String,
    /// When Lambda will stop the invocation.
    pub deadline: SystemTime,
    /// The ARN the function was invoked with (empty in local runs).
    pub invoked_function_arn: String,
    /// MSK or self-managed Kafka; `None` if the event did not say.
    pub event_source: Option<EventSource>,
    /// The cluster ARN (MSK only).
    pub event_source_arn: Option<String>,
    /// The cluster's bootstrap servers, comma-separated, as Lambda sent them.
    pub bootstrap_servers: Option<String>,
}

impl InvocationContext {
    /// A context for tests and local runs: request id `local`, a deadline 15 minutes away
    /// (Lambda's longest timeout).
    pub fn local() -> Self {
        InvocationContext::with_deadline(SystemTime::now() + Duration::from_secs(15 * 60))
    }

    /// A local context with the given deadline.
    pub fn with_deadline(deadline: SystemTime) -> Self {
        InvocationContext {
            request_id: "local".to_owned(),
            deadline,
            invoked_function_arn: String::new(),
            event_source: None,
            event_source_arn: None,
            bootstrap_servers: None,
        }
    }

    /// Time left before Lambda stops the invocation (zero once past the deadline).
    pub fn remaining_time(&self) -> Duration {
        self.deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO)
    }
}

/// A record's headers: name/value pairs in the order the producer wrote them, duplicates kept.
///
/// Lambda sends header values as arrays of signed (Java) bytes; they arrive here as plain bytes.
/// The headers of an event's records share one buffer (like [`Bytes`] slices), so reading them
/// costs no allocation per record.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Each header as `name length · value length · name · value`, the lengths `u32`
    /// little-endian (see [`HeaderWriter`]).
    pub(crate) buf: Bytes,
    pub(crate) count: usize,
}

/// Appends headers to a buffer in the layout [`Headers`] reads.
pub(crate) struct HeaderWriter {
    /// Where the open header's value length goes.
    length_at: usize,
    value_start: usize,
}

impl HeaderWriter {
    /// Starts a header: writes its name; its value bytes are appended next.
    pub(crate) fn begin(buf: &mut Vec<u8>, name: &str) -> HeaderWriter {
        buf.extend_from_slice(&(name.len() as u32).to_le_bytes());
        let length_at = buf.len();
        buf.extend_from_slice(&[0; 4]);
        buf.extend_from_slice(name.as_bytes());
        HeaderWriter { length_at, value_start: buf.len() }
    }

    /// Ends the header: everything appended since [`HeaderWriter::begin`] is its value.
    pub(crate) fn end(self, buf: &mut [u8]) {
        let len = (buf.len() - self.value_start) as u32;
        buf[self.length_at..self.length_at + 4].copy_from_slice(&len.to_le_bytes());
    }
}

/// A header value that is not UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    name: String,
    valid_up_to: usize,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "header `{}` is not UTF-8 text (first invalid byte at index {}); read it with Headers::get",
            self.name, self.valid_up_to
        )
    }
}

impl std::error::Error for HeaderError {}

impl Headers {
    /// Builds headers from name/value pairs (mostly for tests).
    pub fn from_pairs<N: AsRef<str>, B: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (N, B)>,
    ) -> Self {
        let mut buf = Vec::new();
        let mut count = 0;
        for (name, value) in pairs {
            let header = HeaderWriter::begin(&mut buf, name.as_ref());
            buf.extend_from_slice(value.as_ref());
            header.end(&mut buf);
            count += 1;
        }
        Headers { buf: Bytes::from(buf), count }
    }

    /// The number of headers, duplicates counted.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the record has no headers.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Names as bytes (no UTF-8 check needed to compare them) and values.
    fn raw_iter(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> + '_ {
        let mut rest: &[u8] = &self.buf;
        (0..self.count).map(move |_| {
            let len = |at: usize| {
                let bytes = rest.get(at..at + 4).and_then(|b| b.try_into().ok());
                bytes.map_or(0, |b| u32::from_le_bytes(b) as usize)
            };
            let (name_len, value_len) = (len(0), len(4));
            let (name, tail) = rest[8..].split_at(name_len);
            let (value, tail) = tail.split_at(value_len);
            rest = tail;
            (name, value)
        })
    }

    /// All headers in order as `(name, value bytes)`.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &[u8])> + '_ {
        // Names are written from `&str` only, so they are always valid UTF-8.
        self.raw_iter().map(|(name, value)| (std::str::from_utf8(name).unwrap_or_default(), value))
    }

    /// The value bytes of the first header called `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.raw_iter().find(|(n, _)| *n == name.as_bytes()).map(|(_, v)| v)
    }

    /// The value bytes of the last header called `name` (Kafka's `lastHeader`).
    pub fn get_last(&self, name: &str) -> Option<&[u8]> {
        self.raw_iter().filter(|(n, _)| *n == name.as_bytes()).last().map(|(_, v)| v)
    }

    /// The values of every header called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.raw_iter().filter(move |(n, _)| *n == name.as_bytes()).map(|(_, v)| v)
    }

    /// The first header called `name` as UTF-8 text: `Ok(None)` when there is none, an error
    /// naming the header when its value is not UTF-8 (use `?` in a handler to fail the record).
    pub fn text(&self, name: &str) -> Result<Option<&str>, HeaderError> {
        match self.get(name) {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|e| HeaderError { name: name.to_owned(), valid_up_to: e.valid_up_to() }),
        }
    }
}

impl fmt::Debug for Headers {
    /// Header names and value sizes; values are redacted like record payloads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(name, value)| format!("{name}: <{} bytes>", value.len())))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_keep_order_and_duplicates() {
        let h = Headers::from_pairs([("a", &b"1"[..]), ("b", b""), ("a", b"2"), ("", b"x")]);
        assert_eq!(h.len(), 4);
        let all: Vec<_> = h.iter().collect();
        assert_eq!(all, vec![("a", &b"1"[..]), ("b", b""), ("a", b"2"), ("", b"x")]);
        assert_eq!(h.get("a"), Some(&b"1"[..]));
        assert_eq!(h.get_last("a"), Some(&b"2"[..]));
        assert_eq!(h.get_all("a").count(), 2);
        assert_eq!(h.get("zz"), None);
        assert_eq!(h.text("b"), Ok(Some("")));
        assert_eq!(h.text("zz"), Ok(None));
    }

    #[test]
    fn header_text_errors_name_the_header() {
        let h = Headers::from_pairs([("bin", [0x66u8, 0xc3])]);
        let err = h.text("bin").unwrap_err().to_string();
        assert!(err.contains("`bin`") && err.contains("index 1"), "{err}");
        assert_eq!(format!("{h:?}"), r#"["bin: <2 bytes>"]"#);
    }
}
