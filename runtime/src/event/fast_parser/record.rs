//! One record of a `records` list.

use super::{once, Parser};
use crate::event::wire::RawRecord;
use crate::record::{SchemaMetadata, Schemas, TimestampType};

impl<'a> Parser<'a> {
    /// One record. Lambda writes the fields of every record in the same order (`FIELDS`) and
    /// without whitespace, so each member is first compared, separator and colon included
    /// (`,"offset":`), with the one expected next. Only when that fails is the input read as
    /// any JSON object: whitespace, another order, unknown fields, only more slowly.
    /// The record's topic is returned beside it (its partition keeps it, for all its records).
    pub(super) fn record(&mut self) -> Option<(&'a str, RawRecord<'a>)> {
        let (mut topic, mut partition, mut offset) = (None, None, None);
        let (mut timestamp, mut timestamp_type) = (None, None);
        let (mut key, mut value, mut headers) = (None, None, None);
        let (mut key_schema, mut value_schema) = (None, None);
        self.expect(b'{')?;
        // Lambda's layout, straight-line: each member compared, separator and colon included,
        // with the one Lambda writes next. At the first that differs, the loop below goes on
        // from there (`next` is the index in FIELDS of the member expected next).
        let mut next = TOPIC;
        'layout: {
            macro_rules! member {
                ($literal:literal, $slot:ident = $value:expr, $index:ident) => {
                    if self.literal($literal).is_none() {
                        break 'layout;
                    }
                    $slot = Some($value);
                    next = $index + 1;
                };
            }
            member!(b"\"topic\":", topic = self.topic()?, TOPIC);
            member!(
                b",\"partition\":",
                partition = i32::try_from(self.integer()?).ok()?,
                PARTITION
            );
            member!(b",\"offset\":", offset = self.integer()?, OFFSET);
            member!(b",\"timestamp\":", timestamp = self.integer()?, TIMESTAMP);
            member!(
                b",\"timestampType\":",
                timestamp_type = self.timestamp_type()?,
                TIMESTAMP_TYPE
            );
            member!(b",\"key\":", key = self.base64()?, KEY);
            member!(b",\"value\":", value = self.base64()?, VALUE);
            member!(b",\"headers\":", headers = self.headers()?, HEADERS);
        }
        // Every member so far the expected one, and now the end: exactly Lambda's layout.
        let mut in_layout = next > TOPIC;
        let mut field = if next > TOPIC {
            self.next_member(next, &mut in_layout)?
        } else if self.eat(b'}') {
            None
        } else {
            Some(self.any_key()?)
        };
        while let Some(member) = field {
            match member {
                Some(TOPIC) => once(&mut topic, self.topic()?)?,
                Some(PARTITION) => once(&mut partition, i32::try_from(self.integer()?).ok()?)?,
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
            next = member.map_or(next, |f| f + 1);
            field = self.next_member(next, &mut in_layout)?;
        }
        self.lambda_layout_records += usize::from(in_layout);
        let record = RawRecord {
            partition: partition?,
            offset: offset?,
            timestamp: timestamp.unwrap_or_default(),
            timestamp_type: timestamp_type.unwrap_or_default(),
            key: key.flatten(),
            value: value.flatten(),
            headers: headers.unwrap_or_default(),
            schemas: Schemas::boxed(key_schema.flatten(), value_schema.flatten()),
        };
        Some((topic?, record))
    }

    /// After a member's value: the next member's field (`Some(None)` for an unknown one), or
    /// `None` at the record's end. The member expected next is tried first; any other clears
    /// `in_layout`.
    fn next_member(&mut self, next: usize, in_layout: &mut bool) -> Option<Option<Option<usize>>> {
        if self.consume(|rest| expected_member(rest, next)) {
            return Some(Some(Some(next)));
        }
        if self.eat(b'}') {
            return Some(None);
        }
        *in_layout = false;
        self.expect(b',')?;
        Some(Some(self.any_key()?))
    }

    /// A member's key and its colon, read as any JSON: the key's index in `FIELDS`, or `None`
    /// for a field the record does not use (its key still checked as UTF-8, as serde does).
    fn any_key(&mut self) -> Option<Option<usize>> {
        let name = self.raw_string()?;
        let field = match FIELDS.iter().position(|f| *f == name) {
            Some(i) => Some(i),
            None => {
                std::str::from_utf8(name).ok()?;
                None
            }
        };
        self.expect(b':')?;
        Some(field)
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

    pub(super) fn schema(&mut self) -> Option<Option<SchemaMetadata>> {
        if self.null() {
            return Some(None);
        }
        let (mut data_format, mut schema_id) = (None, None);
        self.object(|p, field| match field {
            b"dataFormat" => once(&mut data_format, p.text()?.to_owned()),
            b"schemaId" => once(&mut schema_id, p.text()?.to_owned()),
            other => p.other(other, 2),
        })?;
        Some(Some(SchemaMetadata {
            data_format: data_format.unwrap_or_default(),
            schema_id: schema_id.unwrap_or_default(),
        }))
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

/// The length of `,"<FIELDS[i]>":` if `rest` starts with it. Each arm compares with a constant,
/// which compiles to a few integer comparisons instead of a `memcmp` call.
fn expected_member(rest: &[u8], i: usize) -> Option<usize> {
    fn is(rest: &[u8], member: &'static [u8]) -> Option<usize> {
        rest.starts_with(member).then_some(member.len())
    }
    match i {
        TOPIC => is(rest, b",\"topic\":"),
        PARTITION => is(rest, b",\"partition\":"),
        OFFSET => is(rest, b",\"offset\":"),
        TIMESTAMP => is(rest, b",\"timestamp\":"),
        TIMESTAMP_TYPE => is(rest, b",\"timestampType\":"),
        KEY => is(rest, b",\"key\":"),
        VALUE => is(rest, b",\"value\":"),
        HEADERS => is(rest, b",\"headers\":"),
        KEY_SCHEMA => is(rest, b",\"keySchemaMetadata\":"),
        VALUE_SCHEMA => is(rest, b",\"valueSchemaMetadata\":"),
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
