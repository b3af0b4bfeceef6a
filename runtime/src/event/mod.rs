//! Parsing the Lambda Kafka event: one pass over the raw bytes, borrowing every string it can.
//!
//! Only the envelope is parsed here. Keys and values stay base64 text borrowed from the event
//! until their record is about to run (see `record_decode.rs`), so a record that is never run
//! (its partition already failed, or the deadline came) costs nothing but this pass.
//!
//! - [`wire`]: the types Lambda's JSON is read into, and their serde impls (the general parser);
//! - [`fast_parser`]: a parser for the plain form Lambda writes, which may only decline;
//! - [`headers`]: header decoding on the general path;
//! - this file: which parser runs, and the checks every event must pass.

mod fast_parser;
mod headers;
mod wire;

#[cfg(any(test, feature = "__differential"))]
pub mod differential;

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::de::IgnoredAny;

use crate::context::EventSource;
use crate::json_path::json_error;

pub(crate) use headers::decode_headers;
pub(crate) use wire::{Base64, PartitionBatch, RawHeaders, RawRecord, Text};
use wire::{PartitionMap, Wire};

/// A parsed event: the envelope and its records, grouped by partition in event order.
#[derive(Debug)]
pub(crate) struct Envelope<'a> {
    pub event_source: Option<EventSource>,
    pub event_source_arn: Option<Text<'a>>,
    pub bootstrap_servers: Option<Text<'a>>,
    pub partitions: Vec<PartitionBatch<'a>>,
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
        #[cfg(feature = "__differential")]
        let fast = differential::fast_parser_on().then(|| fast_parser::parse(bytes)).flatten();
        #[cfg(not(feature = "__differential"))]
        let fast = fast_parser::parse(bytes);
        let wire: Wire<'a> = match fast {
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
        let mut renamed = Vec::new();
        for (i, batch) in partitions.iter_mut().enumerate() {
            if let Some(key) = check_partition(batch)? {
                renamed.push((i, key));
            }
        }
        if !renamed.is_empty() {
            // Hand-made and sample events (aws-lambda-java-libs' has `mytopic-01` for partition 0
            // of `mytopic`); Lambda itself always writes `<topic>-<partition>`.
            let keys: Vec<&str> = renamed.iter().map(|(_, key)| key.as_str()).collect();
            tracing::warn!(
                ?keys,
                "records-map keys are not \"<topic>-<partition>\" of their records: the response names each record's own topic and partition, as Lambda documents"
            );
        }
        let mut keys = std::collections::HashMap::with_capacity(partitions.len());
        for (i, batch) in partitions.iter().enumerate() {
            if let Some(first) = keys.insert(&*batch.key.0, i) {
                let was =
                    |i: usize| renamed.iter().find(|(at, _)| *at == i).map(|(_, key)| key.as_str());
                return Err(EventError::new(match (was(first), was(i)) {
                    (None, None) => format!(
                        "`records` has the key \"{}\" more than once; each partition must appear once",
                        &*batch.key
                    ),
                    (a, b) => format!(
                        "`records` holds partition \"{}\" under two keys (\"{}\" and \"{}\"); each partition must appear once",
                        &*batch.key,
                        a.unwrap_or(&batch.key),
                        b.unwrap_or(&batch.key)
                    ),
                }));
            }
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

/// Every record of a map entry must be of one topic and partition; offsets are put in order.
///
/// A key that is not `"<topic>-<partition>"` of its records is replaced by that (the response
/// names the records' own topic and partition, as Lambda documents); the key it had is returned.
fn check_partition(batch: &mut PartitionBatch<'_>) -> Result<Option<String>, EventError> {
    let key: &str = &batch.key;
    let topic: &str = &batch.topic;
    let Some(first) = batch.records.first() else { return Ok(None) };
    for (i, r) in batch.records.iter().enumerate() {
        if r.partition < 0 || r.offset < 0 {
            return Err(EventError::new(format!(
                "records[\"{key}\"] has a record with partition {} and offset {}: neither may be negative",
                r.partition, r.offset
            )));
        }
        let own_topic = match &batch.other_topic {
            Some((at, other)) if *at == i => other,
            _ => &batch.topic,
        };
        if r.partition != first.partition || **own_topic != *topic {
            return Err(EventError::new(format!(
                "records[\"{key}\"] holds records of two partitions (topic `{topic}` partition {} at offset {}, topic `{}` partition {} at offset {}): each key holds one partition",
                first.partition, first.offset, &**own_topic, r.partition, r.offset
            )));
        }
    }
    let renamed = (!key_matches(key, topic, first.partition)).then(|| {
        let own = Text(Cow::Owned(format!("{topic}-{}", first.partition)));
        std::mem::replace(&mut batch.key, own).0.into_owned()
    });
    let key: &str = &batch.key;
    if !batch.records.is_sorted_by_key(|r| r.offset) {
        // Lambda delivers a partition in offset order; if a hand-made event does not, running
        // it in offset order is still what "in order" must mean for the response to be right.
        tracing::warn!(partition = key, "records are not in offset order; running them sorted");
        batch.records.sort_by_key(|r| r.offset);
    }
    Ok(renamed)
}

/// `key == format!("{topic}-{partition}")`, without allocating: the partition's digits only, as
/// Kafka writes them (no sign, no leading zero), so a key names one topic and partition only.
fn key_matches(key: &str, topic: &str, partition: i32) -> bool {
    key.strip_prefix(topic).and_then(|rest| rest.strip_prefix('-')).is_some_and(|digits| {
        !digits.is_empty()
            && digits.bytes().all(|d| d.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'))
            && digits.parse::<i32>().ok() == Some(partition)
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
    use std::borrow::Cow;

    use super::*;
    use crate::record::TimestampType;

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
        assert_eq!(tombstone.schemas.as_ref().unwrap().value.as_ref().unwrap().data_format, "AVRO");
        assert_eq!(env.record_count(), 2);
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
        // A record or schema metadata written as an array of its fields is not one.
        let array = err(r#"{"records":{"t-0":[["t",0,5]]}}"#);
        assert_eq!(array, "the event's field `records.t-0[0]` is wrong: JSON of the wrong shape: invalid type: sequence, expected a record object ({\"topic\": …, \"partition\": …, \"offset\": …}) at line 1 column 19");
        let array = err(
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":5,"valueSchemaMetadata":["AVRO","s"]}]}}"#,
        );
        assert!(array.starts_with("the event's field `records.t-0[0].valueSchemaMetadata` is wrong: JSON of the wrong shape: invalid type: sequence, expected a schema metadata object"), "{array}");
        for event in [&br#"{"records":{"t-0":[["t",0,5]]}}"#[..], br#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":5,"keySchemaMetadata":["AVRO","s"]}]}}"#] {
            assert!(fast_parser::parse(event).is_none(), "the fast parser declines it too");
        }
        let not_obj = err(r#"{"records":[]}"#);
        assert!(not_obj.starts_with("the event's field `records` is wrong"), "{not_obj}");
    }

    #[test]
    fn keys_name_their_records_partition() {
        // A key that is not "<topic>-<partition>" of its records (sample events have them): the
        // records' own topic and partition name the partition, as in the response.
        for key in ["t-1", "t-02", "t", "t--2", "anything"] {
            let event =
                format!(r#"{{"records":{{"{key}":[{{"topic":"t","partition":2,"offset":1}}]}}}}"#);
            let env = Envelope::parse(event.as_bytes()).unwrap();
            assert_eq!(&*env.partitions[0].key, "t-2", "{key}");
        }
        let e = err(
            r#"{"records":{"t-1":[{"topic":"t","partition":1,"offset":1},{"topic":"t","partition":2,"offset":2}]}}"#,
        );
        assert_eq!(e, "records[\"t-1\"] holds records of two partitions (topic `t` partition 1 at offset 1, topic `t` partition 2 at offset 2): each key holds one partition");
        // Two topics: the first record of another topic is named, whichever parser read it.
        let e = err(
            r#"{"records":{"t-1":[{"topic":"t","partition":1,"offset":1},{"topic":"u","partition":1,"offset":2},{"topic":"v","partition":1,"offset":3}]}}"#,
        );
        assert_eq!(e, "records[\"t-1\"] holds records of two partitions (topic `t` partition 1 at offset 1, topic `u` partition 1 at offset 2): each key holds one partition");
        let e = err(
            r#"{"records":{"t-01":[{"topic":"t","partition":1,"offset":1}],"t-1":[{"topic":"t","partition":1,"offset":2}]}}"#,
        );
        assert_eq!(e, "`records` holds partition \"t-1\" under two keys (\"t-01\" and \"t-1\"); each partition must appear once");
        let e = err(r#"{"records":{"t--1":[{"topic":"t","partition":-1,"offset":1}]}}"#);
        assert!(e.contains("neither may be negative"), "{e}");
        assert!(key_matches("a-b.c-10", "a-b.c", 10));
        assert!(!key_matches("a-b.c-+10", "a-b.c", 10));
        // A sign would let `t--0` hold records of topic `t` and of topic `t-`.
        assert!(!key_matches("t--0", "t", 0));
        assert!(key_matches("t--0", "t-", 0));
        assert!(!key_matches("t-010", "t", 10));
        assert!(!key_matches("t-", "t", 0));
        let env =
            Envelope::parse(br#"{"records":{"t--0":[{"topic":"t","partition":0,"offset":1}]}}"#);
        assert_eq!(&*env.unwrap().partitions[0].key, "t-0");
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
