//! One record of a `records` list.

use std::borrow::Cow;

use super::{once, Parser};
use crate::event::wire::{RawHeaders, RawRecord, Text};
use crate::record::{SchemaMetadata, TimestampType};

impl<'a> Parser<'a> {
    /// One record. Lambda writes the fields of every record in the same order (`FIELDS`), so
    /// each key is first compared with the one expected next; any other key is read and
    /// looked up, so order and unknown fields still work, only more slowly.
    pub(super) fn record(&mut self) -> Option<RawRecord<'a>> {
        let (start, decoded) = (self.at, self.headers.len());
        if let Some(record) = self.lambda_record() {
            return Some(record);
        }
        // Read again from the start, and the headers the straight-line reader may have decoded
        // dropped, so they are not left in the shared buffer as garbage.
        self.at = start;
        self.headers.truncate(decoded);
        self.any_record()
    }

    /// A record exactly as Lambda writes it: every field, in order, no whitespace. Straight-line
    /// code for the common case; anything else is left to [`Parser::any_record`].
    pub(super) fn lambda_record(&mut self) -> Option<RawRecord<'a>> {
        self.literal(b"{\"topic\":")?;
        let topic = self.topic()?;
        self.literal(b",\"partition\":")?;
        let partition = i32::try_from(self.integer()?).ok()?;
        self.literal(b",\"offset\":")?;
        let offset = self.integer()?;
        self.literal(b",\"timestamp\":")?;
        let timestamp = self.integer()?;
        self.literal(b",\"timestampType\":")?;
        let timestamp_type = self.timestamp_type()?;
        self.literal(b",\"key\":")?;
        let key = self.base64()?;
        self.literal(b",\"value\":")?;
        let value = self.base64()?;
        self.literal(b",\"headers\":")?;
        let headers = self.headers()?;
        self.literal(b"}")?;
        self.lambda_layout_records += 1;
        Some(RawRecord {
            topic: Text(Cow::Borrowed(topic)),
            partition,
            offset,
            timestamp,
            timestamp_type,
            key,
            value,
            headers,
            key_schema_metadata: None,
            value_schema_metadata: None,
        })
    }

    /// A record in any field order, with whitespace, unknown fields, schema metadata.
    pub(super) fn any_record(&mut self) -> Option<RawRecord<'a>> {
        let (mut topic, mut partition, mut offset) = (None, None, None);
        let (mut timestamp, mut timestamp_type) = (None, None);
        let (mut key, mut value, mut headers) = (None, None, None);
        let (mut key_schema, mut value_schema) = (None, None);
        self.expect(b'{')?;
        let mut next = 0;
        if !self.eat(b'}') {
            loop {
                self.ws();
                let field = match expected_field(&self.json[self.at..], next) {
                    Some(len) => {
                        self.at += len;
                        Some(next)
                    }
                    None => {
                        let name = self.raw_string()?;
                        match FIELDS.iter().position(|f| *f == name) {
                            Some(i) => Some(i),
                            None => {
                                std::str::from_utf8(name).ok()?;
                                None
                            }
                        }
                    }
                };
                self.expect(b':')?;
                match field {
                    Some(TOPIC) => once(&mut topic, self.topic()?)?,
                    Some(PARTITION) => {
                        once(&mut partition, i32::try_from(self.integer()?).ok()?)?;
                    }
                    Some(OFFSET) => once(&mut offset, self.integer()?)?,
                    Some(TIMESTAMP) => once(&mut timestamp, self.integer()?)?,
                    Some(TIMESTAMP_TYPE) => once(&mut timestamp_type, self.timestamp_type()?)?,
                    Some(KEY) => once(&mut key, self.base64()?)?,
                    Some(VALUE) => once(&mut value, self.base64()?)?,
                    Some(HEADERS) => once(&mut headers, self.headers()?)?,
                    Some(KEY_SCHEMA) => once(&mut key_schema, self.schema()?)?,
                    Some(VALUE_SCHEMA) => once(&mut value_schema, self.schema()?)?,
                    _ => self.skip(1)?,
                }
                next = field.map_or(next, |f| f + 1);
                if self.eat(b'}') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        Some(RawRecord {
            topic: Text(Cow::Borrowed(topic?)),
            partition: partition?,
            offset: offset?,
            timestamp: timestamp.unwrap_or_default(),
            timestamp_type: timestamp_type.unwrap_or_default(),
            key: key.flatten(),
            value: value.flatten(),
            headers: headers.unwrap_or(RawHeaders::Absent),
            key_schema_metadata: key_schema.flatten(),
            value_schema_metadata: value_schema.flatten(),
        })
    }

    /// The topic: all records of a partition share it, so it is compared with the previous
    /// record's before being read (and UTF-8 checked) anew.
    pub(super) fn topic(&mut self) -> Option<&'a str> {
        self.ws();
        if let Some(last) = self.last_topic {
            if self.quoted(last) {
                return Some(last);
            }
        }
        let topic = self.text()?;
        self.last_topic = Some(topic);
        Some(topic)
    }

    pub(super) fn timestamp_type(&mut self) -> Option<TimestampType> {
        self.ws();
        let rest = &self.json[self.at..];
        let (ty, len) = if rest.starts_with(b"\"CREATE_TIME\"") {
            (TimestampType::CreateTime, 13)
        } else if rest.starts_with(b"\"LOG_APPEND_TIME\"") {
            (TimestampType::LogAppendTime, 17)
        } else {
            return self.text().map(timestamp_type_of);
        };
        self.at += len;
        Some(ty)
    }

    pub(super) fn schema(&mut self) -> Option<Option<Box<SchemaMetadata>>> {
        if self.null() {
            return Some(None);
        }
        let (mut data_format, mut schema_id) = (None, None);
        self.object(|p, field| match field {
            b"dataFormat" => once(&mut data_format, p.text()?.to_owned()),
            b"schemaId" => once(&mut schema_id, p.text()?.to_owned()),
            other => p.other(other, 2),
        })?;
        Some(Some(Box::new(SchemaMetadata {
            data_format: data_format.unwrap_or_default(),
            schema_id: schema_id.unwrap_or_default(),
        })))
    }
}

/// A record's fields, in the order Lambda writes them.
const FIELDS: [&[u8]; 10] = [
    b"topic",
    b"partition",
    b"offset",
    b"timestamp",
    b"timestampType",
    b"key",
    b"value",
    b"headers",
    b"keySchemaMetadata",
    b"valueSchemaMetadata",
];
const TOPIC: usize = 0;
const PARTITION: usize = 1;
const OFFSET: usize = 2;
const TIMESTAMP: usize = 3;
const TIMESTAMP_TYPE: usize = 4;
const KEY: usize = 5;
const VALUE: usize = 6;
const HEADERS: usize = 7;
const KEY_SCHEMA: usize = 8;
const VALUE_SCHEMA: usize = 9;

/// The length of `"<FIELDS[i]>"` if `rest` starts with it. Each arm compares with a constant,
/// which compiles to a few integer comparisons instead of a `memcmp` call.
fn expected_field(rest: &[u8], i: usize) -> Option<usize> {
    pub(super) fn is(rest: &[u8], quoted: &'static [u8]) -> Option<usize> {
        rest.starts_with(quoted).then_some(quoted.len())
    }
    match i {
        TOPIC => is(rest, b"\"topic\""),
        PARTITION => is(rest, b"\"partition\""),
        OFFSET => is(rest, b"\"offset\""),
        TIMESTAMP => is(rest, b"\"timestamp\""),
        TIMESTAMP_TYPE => is(rest, b"\"timestampType\""),
        KEY => is(rest, b"\"key\""),
        VALUE => is(rest, b"\"value\""),
        HEADERS => is(rest, b"\"headers\""),
        KEY_SCHEMA => is(rest, b"\"keySchemaMetadata\""),
        VALUE_SCHEMA => is(rest, b"\"valueSchemaMetadata\""),
        _ => None,
    }
}

fn timestamp_type_of(text: &str) -> TimestampType {
    match text {
        "CREATE_TIME" => TimestampType::CreateTime,
        "LOG_APPEND_TIME" => TimestampType::LogAppendTime,
        _ => TimestampType::NoTimestampType,
    }
}
