//! Parsing the Lambda Kafka event: one pass over the raw bytes, borrowing every string it can.
//!
//! Only the envelope is parsed here. Keys and values stay base64 text borrowed from the event
//! until their record is about to run (see `batch.rs`), so a record that is never run (its
//! partition already failed, or the deadline came) costs nothing but this pass.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::context::EventSource;
use crate::decode::json_error;
use crate::headers::{HeaderWriter, Headers};
use crate::record::{SchemaMetadata, TimestampType};

/// A parsed event: the envelope and its records, grouped by partition in event order.
#[derive(Debug)]
pub(crate) struct Envelope<'a> {
    pub event_source: Option<EventSource>,
    pub event_source_arn: Option<Text<'a>>,
    pub bootstrap_servers: Option<Text<'a>>,
    pub partitions: Vec<PartitionBatch<'a>>,
}

/// The records of one `records` map entry, sorted by offset.
#[derive(Debug)]
pub(crate) struct PartitionBatch<'a> {
    /// The records-map key, `"<topic>-<partition>"`, used verbatim in the response.
    pub key: Text<'a>,
    pub records: Vec<RawRecord<'a>>,
    /// The decoded headers of the event's records, shared (see [`RawHeaders::Decoded`]).
    pub headers: Bytes,
}

/// One record as Lambda sent it: payloads still base64 text.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawRecord<'a> {
    #[serde(borrow)]
    pub topic: Text<'a>,
    pub partition: i32,
    pub offset: i64,
    #[serde(default)]
    pub timestamp: i64,
    #[serde(default)]
    pub timestamp_type: TimestampType,
    #[serde(borrow, default)]
    pub key: Option<Base64<'a>>,
    #[serde(borrow, default)]
    pub value: Option<Base64<'a>>,
    /// Decoded only when the record runs (see [`decode_headers`]).
    #[serde(borrow, default)]
    pub headers: RawHeaders<'a>,
    #[serde(default)]
    pub key_schema_metadata: Option<Box<SchemaMetadata>>,
    #[serde(default)]
    pub value_schema_metadata: Option<Box<SchemaMetadata>>,
}

/// A JSON string, borrowed from the event unless it contained escapes.
///
/// (serde's own `Cow<str>` borrows only as a direct field, not inside `Option`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// A JSON string holding base64, as bytes: borrowed unless it had escapes, and not checked
/// for UTF-8 (base64 decoding checks every character anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Base64<'a>(pub Cow<'a, [u8]>);

impl<'de: 'a, 'a> Deserialize<'de> for Base64<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Base64<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
                Ok(Base64(Cow::Borrowed(v)))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(Base64(Cow::Owned(v.to_vec())))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Base64(Cow::Borrowed(v.as_bytes())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Base64(Cow::Owned(v.as_bytes().to_vec())))
            }
        }
        d.deserialize_bytes(V(std::marker::PhantomData))
    }
}

/// A record's headers as the parser left them.
#[derive(Debug, Default, Clone)]
pub(crate) enum RawHeaders<'a> {
    /// Absent or `null`: no headers.
    #[default]
    Absent,
    /// The JSON text, decoded when the record runs (the serde path).
    Json(&'a RawValue),
    /// Already decoded by the fast path, which writes the headers of all records into one
    /// buffer (the partition's `headers`): this record's part and header count.
    Decoded { start: u32, end: u32, count: u32 },
}

impl<'de: 'a, 'a> Deserialize<'de> for RawHeaders<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<&'a RawValue>::deserialize(d)? {
            Some(raw) => RawHeaders::Json(raw),
            None => RawHeaders::Absent,
        })
    }
}

/// Decodes a record's `headers` JSON: `[{"name": [signed bytes]}, …]`.
///
/// Runs when the record is about to run. Events in the plain form are parsed by `fast.rs`,
/// which decodes headers as it reads them; this is the path for the others (escapes in names,
/// odd numbers, wrong types, bytes out of range), through serde for exact handling and a
/// precise reason. An error fails only the record.
pub(crate) fn decode_headers(raw: RawHeaders<'_>, decoded: &Bytes) -> Result<Headers, String> {
    let raw = match raw {
        RawHeaders::Absent => return Ok(Headers::default()),
        RawHeaders::Decoded { start, end, count } => {
            let buf = decoded.slice(start as usize..end as usize);
            return Ok(Headers { buf, count: count as usize });
        }
        RawHeaders::Json(raw) => raw,
    };
    match serde_json::from_str::<HeaderList>(raw.get()) {
        Ok(HeaderList { problem: Some(problem), .. }) => Err(problem),
        Ok(list) => Ok(Headers { buf: Bytes::from(list.buf), count: list.count }),
        Err(e) => Err(format!(
            "the headers are not a list of {{\"name\": [signed bytes]}} objects: {}",
            json_error(&e)
        )),
    }
}

/// Headers decoded by serde (the slow path), or the reason they could not be.
#[derive(Debug, Default)]
pub(crate) struct HeaderList {
    /// In the layout [`Headers`] reads.
    pub buf: Vec<u8>,
    pub count: usize,
    pub problem: Option<String>,
}

impl<'de> Deserialize<'de> for HeaderList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_option(HeaderListVisitor)
    }
}

struct HeaderListVisitor;

impl<'de> Visitor<'de> for HeaderListVisitor {
    type Value = HeaderList;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of {\"name\": [signed bytes]} objects")
    }
    fn visit_none<E: de::Error>(self) -> Result<HeaderList, E> {
        Ok(HeaderList::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<HeaderList, E> {
        Ok(HeaderList::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<HeaderList, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeaderList, A::Error> {
        let mut list = HeaderList::default();
        while seq.next_element_seed(HeaderObject(&mut list))?.is_some() {}
        Ok(list)
    }
}

/// One `{"name": [bytes]}` object, appended to the list.
struct HeaderObject<'l>(&'l mut HeaderList);

impl<'de> DeserializeSeed<'de> for HeaderObject<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderObject<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a {\"name\": [signed bytes]} object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<Text<'de>>()? {
            let header = HeaderWriter::begin(&mut self.0.buf, &name);
            map.next_value_seed(ByteArray { list: self.0, name: &name })?;
            header.end(&mut self.0.buf);
            self.0.count += 1;
        }
        Ok(())
    }
}

/// An array of Java (signed) bytes, appended to the header buffer.
struct ByteArray<'l, 'n> {
    list: &'l mut HeaderList,
    name: &'n str,
}

impl<'de> DeserializeSeed<'de> for ByteArray<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ByteArray<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of signed bytes (-128..127)")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        while let Some(n) = seq.next_element::<i64>()? {
            match i8::try_from(n) {
                Ok(byte) => self.list.buf.push(byte as u8),
                Err(_) => {
                    if self.list.problem.is_none() {
                        self.list.problem = Some(format!(
                            "header `{}` has byte {n} at index {index}, outside the signed byte range -128..127",
                            self.name
                        ));
                    }
                }
            }
            index += 1;
        }
        Ok(())
    }
}

/// The envelope's fields; everything else (`Records`, unknown fields) is skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Wire<'a> {
    #[serde(borrow, default)]
    pub event_source: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub event_source_arn: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub bootstrap_servers: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub records: Option<PartitionMap<'a>>,
    #[serde(rename = "Records", default)]
    pub upper_records: Option<IgnoredAny>,
    /// The headers the fast parser decoded, of all records (see [`RawHeaders::Decoded`]).
    #[serde(skip)]
    pub headers: Vec<u8>,
}

/// The `records` object, entries kept in event order.
pub(crate) struct PartitionMap<'a>(pub Vec<PartitionBatch<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for PartitionMap<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = PartitionMap<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of \"<topic>-<partition>\": [records]")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut partitions = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(key) = map.next_key::<Text<'a>>()? {
                    let records = map.next_value::<Vec<RawRecord<'a>>>()?;
                    partitions.push(PartitionBatch { key, records, headers: Bytes::new() });
                }
                Ok(PartitionMap(partitions))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The event could not be used at all: the whole invocation fails with this message.
///
/// The message says what is wrong and where; it never quotes record payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    message: String,
}

impl EventError {
    fn new(message: impl Into<String>) -> Self {
        EventError { message: message.into() }
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EventError {}

impl<'a> Envelope<'a> {
    /// Parses and checks an event. Fails for anything that is not a well-formed Kafka event.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Envelope<'a>, EventError> {
        // serde would also take a JSON array as the struct's fields in order: only objects count.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|&b| b != b'{') && serde_json::from_slice::<IgnoredAny>(bytes).is_ok()
        {
            return Err(EventError::new(
                "not a Kafka event: the event must be a JSON object with a `records` object",
            ));
        }
        let wire: Wire<'a> = match crate::fast::parse(bytes) {
            Some(wire) => wire,
            // Escapes, odd numbers, errors: serde_json reads it, and words any error.
            None => match serde_json::from_slice(bytes) {
                Ok(wire) => wire,
                Err(e) => return Err(describe_parse_error(bytes, &e)),
            },
        };
        let event_source = match wire.event_source.as_deref() {
            None => None,
            Some("aws:kafka") => Some(EventSource::Msk),
            Some("SelfManagedKafka" | "aws:SelfManagedKafka") => Some(EventSource::SelfManagedKafka),
            Some(other) => {
                return Err(EventError::new(format!(
                    "not a Kafka event: `eventSource` is `{other}`, expected `aws:kafka` (Amazon MSK) or `SelfManagedKafka`"
                )))
            }
        };
        let Some(PartitionMap(mut partitions)) = wire.records else {
            let hint = if wire.upper_records.is_some() {
                " (it has `Records`, as SQS, SNS, S3, DynamoDB and Kinesis events do)"
            } else {
                ""
            };
            return Err(EventError::new(format!(
                "not a Kafka event: it has no `records` object{hint}"
            )));
        };
        let headers = Bytes::from(wire.headers);
        for batch in &mut partitions {
            batch.headers = headers.clone();
        }
        let mut keys = std::collections::HashSet::with_capacity(partitions.len());
        for batch in &mut partitions {
            if !keys.insert(&*batch.key.0) {
                return Err(EventError::new(format!(
                    "`records` has the key \"{}\" more than once; each partition must appear once",
                    &*batch.key
                )));
            }
        }
        for batch in &mut partitions {
            check_partition(batch)?;
        }
        Ok(Envelope {
            event_source,
            event_source_arn: wire.event_source_arn,
            bootstrap_servers: wire.bootstrap_servers,
            partitions,
        })
    }

    /// How many records the event holds.
    pub(crate) fn record_count(&self) -> usize {
        self.partitions.iter().map(|p| p.records.len()).sum()
    }
}

/// Every record of a map entry must belong to it; offsets are put in order.
fn check_partition(batch: &mut PartitionBatch<'_>) -> Result<(), EventError> {
    let key: &str = &batch.key;
    for r in &batch.records {
        if r.partition < 0 || r.offset < 0 {
            return Err(EventError::new(format!(
                "records[\"{key}\"] has a record with partition {} and offset {}: neither may be negative",
                r.partition, r.offset
            )));
        }
        if !key_matches(key, &r.topic, r.partition) {
            return Err(EventError::new(format!(
                "records[\"{key}\"] holds a record of topic `{}` partition {} (offset {}): the key must be \"<topic>-<partition>\" of its records",
                &*r.topic, r.partition, r.offset
            )));
        }
    }
    if !batch.records.is_sorted_by_key(|r| r.offset) {
        // Lambda delivers a partition in offset order; if a hand-made event does not, running
        // it in offset order is still what "in order" must mean for the response to be right.
        tracing::warn!(partition = key, "records are not in offset order; running them sorted");
        batch.records.sort_by_key(|r| r.offset);
    }
    Ok(())
}

/// `key == format!("{topic}-{partition}")`, without allocating.
fn key_matches(key: &str, topic: &str, partition: i32) -> bool {
    key.strip_prefix(topic).and_then(|rest| rest.strip_prefix('-')).is_some_and(|digits| {
        digits.parse::<i32>().ok() == Some(partition) && !digits.starts_with('+')
    })
}

/// Turns a serde error into a message with the JSON path at fault, quoting no payload.
///
/// Called only on failure: the event is parsed again with path tracking, which the fast path
/// does not pay for.
fn describe_parse_error(bytes: &[u8], fast: &serde_json::Error) -> EventError {
    use serde_json::error::Category;
    if matches!(fast.classify(), Category::Syntax | Category::Eof | Category::Io) {
        return EventError::new(format!("the event is not valid JSON: {}", json_error(fast)));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let path = match serde_path_to_error::deserialize::<_, Wire<'_>>(&mut de) {
        Err(e) => e.path().to_string(),
        Ok(_) => ".".to_owned(),
    };
    if path == "." {
        return EventError::new(format!(
            "not a Kafka event: the event must be a JSON object with a `records` object ({})",
            json_error(fast)
        ));
    }
    EventError::new(format!("the event's field `{path}` is wrong: {}", json_error(fast)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSK: &str = r#"{
      "eventSource": "aws:kafka",
      "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/c/abc",
      "bootstrapServers": "b-1:9098,b-2:9098",
      "records": {
        "my.topic-name-3": [
          {"topic": "my.topic-name", "partition": 3, "offset": 16, "timestamp": 1545084650988,
           "timestampType": "LOG_APPEND_TIME", "value": null, "headers": [],
           "valueSchemaMetadata": {"dataFormat": "AVRO", "schemaId": "s-1"}},
          {"topic": "my.topic-name", "partition": 3, "offset": 15, "timestamp": 1545084650987,
           "timestampType": "CREATE_TIME", "key": "a2V5", "value": "dmFs\/",
           "headers": [{"h": [104, -61, -87]}, {"h": [50]}, {"empty": []}], "extra": {"x": 1}}
        ]
      }
    }"#;

    #[test]
    fn parses_msk_events_and_sorts_offsets() {
        let env = Envelope::parse(MSK.as_bytes()).unwrap();
        assert_eq!(env.event_source, Some(EventSource::Msk));
        assert_eq!(env.bootstrap_servers.as_deref(), Some("b-1:9098,b-2:9098"));
        assert_eq!(env.partitions.len(), 1);
        let p = &env.partitions[0];
        assert_eq!(&*p.key, "my.topic-name-3");
        assert_eq!(p.records.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![15, 16]);
        let r = &p.records[0];
        assert!(matches!(r.key.as_ref().unwrap().0, Cow::Borrowed(b"a2V5")));
        assert_eq!(&*r.value.as_ref().unwrap().0, b"dmFs/", "escaped strings are unescaped");
        assert_eq!(r.timestamp_type, TimestampType::CreateTime);
        let headers = decode_headers(r.headers.clone(), &p.headers).unwrap();
        let headers: Vec<_> = headers.iter().collect();
        assert_eq!(headers, vec![("h", "hé".as_bytes()), ("h", b"2"), ("empty", b"")]);
        let tombstone = &p.records[1];
        assert!(tombstone.value.is_none() && tombstone.key.is_none());
        assert_eq!(tombstone.value_schema_metadata.as_ref().unwrap().data_format, "AVRO");
        assert_eq!(env.record_count(), 2);
    }

    fn headers(json: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
        let raw = RawValue::from_string(json.to_owned()).unwrap();
        let decoded = decode_headers(RawHeaders::Json(&raw), &Bytes::new())?;
        Ok(decoded.iter().map(|(n, v)| (n.to_owned(), v.to_vec())).collect())
    }

    fn h(name: &str, value: &[u8]) -> (String, Vec<u8>) {
        (name.to_owned(), value.to_vec())
    }

    #[test]
    fn header_forms() {
        assert_eq!(headers("[]"), Ok(vec![]));
        assert_eq!(headers(" [ ] "), Ok(vec![]));
        assert_eq!(headers("[{}]"), Ok(vec![]));
        assert_eq!(
            headers(r#"[{"a":[-128,127,0,-1]},{"a":[]},{"b" : [ 1 , 2 ] , "c":[3]}]"#),
            Ok(vec![h("a", &[0x80, 0x7f, 0, 0xff]), h("a", b""), h("b", &[1, 2]), h("c", &[3])])
        );
        assert_eq!(headers(r#"[{"q\"x\u00e9":[0]}]"#), Ok(vec![h("q\"xé", &[0])]));
    }

    #[test]
    fn bad_headers_are_a_record_problem() {
        assert_eq!(
            headers(r#"[{"ok":[1]},{"bad":[1,2,200]}]"#),
            Err("header `bad` has byte 200 at index 2, outside the signed byte range -128..127"
                .into())
        );
        assert_eq!(
            headers(r#"[{"bad":[-129]}]"#),
            Err("header `bad` has byte -129 at index 0, outside the signed byte range -128..127"
                .into())
        );
        let wrong = headers(r#""secret""#).unwrap_err();
        assert_eq!(wrong, "the headers are not a list of {\"name\": [signed bytes]} objects: JSON of the wrong shape: invalid type: string, expected a list of {\"name\": [signed bytes]} objects at line 1 column 8");
        assert!(headers(r#"[{"a":[1.5]}]"#)
            .unwrap_err()
            .contains("invalid type: floating, expected i64"));
        assert!(headers(r#"[{"a":"x"}]"#).is_err());
    }

    fn err(ev: &str) -> String {
        Envelope::parse(ev.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn bad_envelopes_say_what_is_wrong() {
        assert!(
            err("not json").starts_with("the event is not valid JSON: not valid JSON at line 1")
        );
        assert_eq!(
            err(r#"{"Records":[{"eventSource":"aws:sqs","body":"secret"}]}"#),
            "not a Kafka event: it has no `records` object (it has `Records`, as SQS, SNS, S3, DynamoDB and Kinesis events do)"
        );
        assert_eq!(err("{}"), "not a Kafka event: it has no `records` object");
        let arr = err("[1]");
        assert!(arr.starts_with("not a Kafka event: the event must be a JSON object"), "{arr}");
        assert!(
            err(r#"{"eventSource":"aws:sqs","records":{}}"#).contains("`eventSource` is `aws:sqs`")
        );
        let wrong = err(r#"{"records":{"t-0":[{"topic":"t","partition":"secret","offset":1}]}}"#);
        assert!(wrong.starts_with("the event's field `records.t-0[0].partition` is wrong: JSON of the wrong shape: invalid type: string, expected i32"), "{wrong}");
        assert!(!wrong.contains("secret"));
        let not_obj = err(r#"{"records":[]}"#);
        assert!(not_obj.starts_with("the event's field `records` is wrong"), "{not_obj}");
    }

    #[test]
    fn keys_must_match_their_records() {
        let e = err(r#"{"records":{"t-1":[{"topic":"t","partition":2,"offset":1}]}}"#);
        assert!(
            e.contains("records[\"t-1\"] holds a record of topic `t` partition 2 (offset 1)"),
            "{e}"
        );
        let e = err(r#"{"records":{"t--1":[{"topic":"t","partition":-1,"offset":1}]}}"#);
        assert!(e.contains("neither may be negative"), "{e}");
        assert!(key_matches("a-b.c-10", "a-b.c", 10));
        assert!(!key_matches("a-b.c-+10", "a-b.c", 10));
        assert!(!key_matches("a-b.c10", "a-b.c", 10));
    }

    #[test]
    fn a_partition_appears_once() {
        let e = err(r#"{"records":{"t-0":[],"t-0":[]}}"#);
        assert_eq!(
            e,
            "`records` has the key \"t-0\" more than once; each partition must appear once"
        );
    }

    #[test]
    fn self_managed_and_empty() {
        let env = Envelope::parse(br#"{"eventSource":"SelfManagedKafka","records":{}}"#).unwrap();
        assert_eq!(env.event_source, Some(EventSource::SelfManagedKafka));
        assert!(env.partitions.is_empty());
        assert!(env.event_source_arn.is_none());
    }
}
