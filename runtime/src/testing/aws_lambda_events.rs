//! `TestEvent` from `aws_lambda_events`' `KafkaEvent` (feature `aws-lambda-events`), for tests
//! written against that crate's types and for migrating from it.

use std::fmt;

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine as _;

use super::{TestEvent, TestRecord};
use crate::record::TimestampType;

/// A `KafkaEvent` that cannot be a [`TestEvent`]: the message names the record and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromKafkaEventError {
    message: String,
}

impl fmt::Display for FromKafkaEventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FromKafkaEventError {}

impl TryFrom<KafkaEvent> for TestEvent {
    type Error = FromKafkaEventError;

    /// The same event as a [`TestEvent`]: source, records, keys and values (base64-decoded),
    /// headers (signed bytes), timestamps and their types.
    ///
    /// `KafkaEvent::records` is a `HashMap`, so the order of the partitions in the event is
    /// lost; they are taken in key order. Records keep their order within a partition. Its
    /// records have no schema-registry metadata to carry over, and its timestamps are what
    /// aws_lambda_events read, which can be a millisecond off what Lambda sent (1.2 reads
    /// `1595035749701` as `…700`).
    fn try_from(event: KafkaEvent) -> Result<Self, FromKafkaEventError> {
        let mut test = match event.event_source.as_deref() {
            Some("SelfManagedKafka" | "aws:SelfManagedKafka") => TestEvent::self_managed(),
            _ => TestEvent::msk(),
        };
        let mut partitions: Vec<(String, Vec<KafkaRecord>)> = event.records.into_iter().collect();
        partitions.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, records) in partitions {
            for record in records {
                test = test.record(test_record(&key, record)?);
            }
        }
        Ok(test)
    }
}

fn test_record(key: &str, r: KafkaRecord) -> Result<TestRecord, FromKafkaEventError> {
    let at = |what: &str| FromKafkaEventError {
        message: format!("records[\"{key}\"] offset {}: {what}", r.offset),
    };
    let topic = r.topic.clone().ok_or_else(|| at("the record has no topic"))?;
    let partition = i32::try_from(r.partition)
        .map_err(|_| at(&format!("partition {} is not a Kafka partition number", r.partition)))?;
    let mut test = TestRecord::new(topic, partition, r.offset)
        .timestamp_millis(r.timestamp.0.timestamp_millis())
        .timestamp_type(match r.timestamp_type.as_deref() {
            Some("CREATE_TIME") => TimestampType::CreateTime,
            Some("LOG_APPEND_TIME") => TimestampType::LogAppendTime,
            _ => TimestampType::NoTimestampType,
        });
    let base64 = |field: &str, text: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| at(&format!("the {field} is not base64: {e}")))
    };
    if let Some(k) = &r.key {
        test = test.key(base64("key", k)?);
    }
    if let Some(v) = &r.value {
        test = test.value(base64("value", v)?);
    }
    for header in &r.headers {
        // One name per object as Lambda writes them; several are taken in name order.
        let mut names: Vec<_> = header.iter().collect();
        names.sort_by(|a, b| a.0.cmp(b.0));
        for (name, bytes) in names {
            test = test.header(name, bytes.iter().map(|&b| b as u8).collect::<Vec<u8>>());
        }
    }
    Ok(test)
}
