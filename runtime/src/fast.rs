//! The fast path of event parsing: a single pass over the bytes, specialised for the Kafka event
//! layout, that borrows every string and decodes headers as it goes.
//!
//! It accepts only plain forms: strings without escapes, integers without fractions or
//! exponents, no duplicate fields. For anything else it returns `None` and the event is parsed
//! by serde_json instead (`Envelope::parse`), which also writes every error message. So this
//! parser never needs to be right about an error, only never to accept what serde_json would
//! reject or read differently; `tests/tests/fuzz_smoke.rs` and the unit tests below compare the
//! two on random and mutated events.

use std::borrow::Cow;

use serde::de::IgnoredAny;

use crate::event::{Base64, PartitionBatch, PartitionMap, RawHeaders, RawRecord, Text, Wire};
use crate::headers::HeaderWriter;
use crate::record::{SchemaMetadata, TimestampType};

/// Nesting deeper than this goes to serde_json (which stops at 128).
const MAX_DEPTH: u32 = 64;

/// Parses the event, or `None` if it is not in the plain form this parser takes.
pub(crate) fn parse(json: &[u8]) -> Option<Wire<'_>> {
    let mut p =
        Parser { json, at: 0, last_topic: None, header_names: Vec::new(), headers: Vec::new() };
    let wire = p.envelope()?;
    p.ws();
    (p.at == json.len()).then_some(wire)
}

struct Parser<'a> {
    json: &'a [u8],
    at: usize,
    /// The previous record's topic (records of a partition share one).
    last_topic: Option<&'a str>,
    /// Header names seen so far (most records carry the same few).
    header_names: Vec<&'a str>,
    /// The decoded headers of all records (see [`RawHeaders::Decoded`]).
    headers: Vec<u8>,
}

/// Sets a field once; a duplicate sends the event to serde (which reports it).
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.json.get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.json.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        self.at += usize::from(hit);
        hit
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    fn null(&mut self) -> bool {
        self.ws();
        let hit = self.json[self.at..].starts_with(b"null");
        self.at += if hit { 4 } else { 0 };
        hit
    }

    /// The bytes of a string without escapes or control characters (base64 payloads, which
    /// may hold control characters for the decoder to reject, are read by [`Parser::base64`]).
    fn raw_string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        let rest = &self.json[start..];
        let len = string_end(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        Some(&rest[..len])
    }

    /// A UTF-8 string without escapes or control characters.
    fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw_string()?).ok()
    }

    /// An integer: no fraction, no exponent, no leading zeros; `None` outside `i64`.
    fn integer(&mut self) -> Option<i64> {
        self.ws();
        let rest = &self.json[self.at..];
        let negative = rest.first() == Some(&b'-');
        let digits = &rest[usize::from(negative)..];
        // Up to 18 digits cannot overflow a u64: one pass, no checks.
        let (mut n, mut magnitude) = (0, 0u64);
        while n < 18 {
            match digits.get(n) {
                Some(&d @ b'0'..=b'9') => magnitude = magnitude * 10 + u64::from(d - b'0'),
                _ => break,
            }
            n += 1;
        }
        if n == 18 && digits.get(18).is_some_and(u8::is_ascii_digit) {
            // Longer: checked as it grows (2^63, i64::MIN's magnitude, still fits).
            n = digits.iter().take_while(|d| d.is_ascii_digit()).count();
            magnitude = digits[..n]
                .iter()
                .try_fold(0u64, |m, &d| m.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
        }
        // serde_json reads `-0` as a float, which an integer field rejects.
        if n == 0
            || (digits[0] == b'0' && (n > 1 || negative))
            || matches!(digits.get(n), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let value = if negative {
            0i64.checked_sub_unsigned(magnitude)?
        } else {
            i64::try_from(magnitude).ok()?
        };
        self.at += usize::from(negative) + n;
        Some(value)
    }

    /// The rest of a non-empty array of signed bytes (after its `[`), appended to `out`: the
    /// hot loop of header decoding, so it matches each number as a slice pattern.
    fn byte_array(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let json = self.json;
        let mut at = self.at;
        let digit = |d: u8| u32::from(d - b'0');
        loop {
            while let Some(b' ' | b'\n' | b'\r' | b'\t') = json.get(at) {
                at += 1;
            }
            let rest = json.get(at..)?;
            let (negative, digits) = match rest {
                [b'-', tail @ ..] => (true, tail),
                _ => (false, rest),
            };
            // -?(0|[1-9][0-9]{0,2}); a longer number, a leading zero, a fraction or an
            // exponent is caught by the check of the byte after it below.
            let (magnitude, len) = match *digits {
                [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
                    (digit(a) * 100 + digit(b) * 10 + digit(c), 3)
                }
                [a @ b'1'..=b'9', b @ b'0'..=b'9', ..] => (digit(a) * 10 + digit(b), 2),
                // `-0` is a float to serde_json, not a byte.
                [a @ b'0'..=b'9', ..] if !(negative && a == b'0') => (digit(a), 1),
                _ => return None,
            };
            at += usize::from(negative) + len;
            let signed = if negative { -(magnitude as i32) } else { magnitude as i32 };
            let byte = i8::try_from(signed).ok()? as u8;
            while let Some(b' ' | b'\n' | b'\r' | b'\t') = json.get(at) {
                at += 1;
            }
            match json.get(at) {
                Some(b',') => {
                    out.push(byte);
                    at += 1;
                }
                Some(b']') => {
                    out.push(byte);
                    self.at = at + 1;
                    return Some(());
                }
                // More digits, a fraction, an exponent or anything else: serde decides.
                _ => return None,
            }
        }
    }

    /// [`Parser::byte_array`] without whitespace (`104,-61,0]`); `None` for anything else.
    fn compact_byte_array(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let json = self.json;
        let digit = |d: u8| u32::from(d - b'0');
        let mut at = self.at;
        loop {
            let rest = json.get(at..)?;
            let (negative, digits) = match rest {
                [b'-', tail @ ..] => (true, tail),
                _ => (false, rest),
            };
            // The number and the byte after it: `,` or `]` (anything else, including more
            // digits, a leading zero's next digit, a fraction or whitespace, is not compact).
            let (magnitude, len, after) = match *digits {
                [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9', after, ..] => {
                    (digit(a) * 100 + digit(b) * 10 + digit(c), 3, after)
                }
                [a @ b'1'..=b'9', b @ b'0'..=b'9', after, ..] => {
                    (digit(a) * 10 + digit(b), 2, after)
                }
                [a @ b'0'..=b'9', after, ..] => (digit(a), 1, after),
                _ => return None,
            };
            // `-0` is a float to serde_json, not a byte.
            if negative && magnitude == 0 {
                return None;
            }
            let signed = if negative { -(magnitude as i32) } else { magnitude as i32 };
            let byte = i8::try_from(signed).ok()? as u8;
            at += usize::from(negative) + len + 1;
            match after {
                b',' => out.push(byte),
                b']' => {
                    out.push(byte);
                    self.at = at;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Skips any JSON value, checking it as serde_json's `IgnoredAny` would.
    fn skip(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.raw_string().map(drop),
            b'{' => {
                self.at += 1;
                if self.eat(b'}') {
                    return Some(());
                }
                loop {
                    self.text()?;
                    self.expect(b':')?;
                    self.skip(depth + 1)?;
                    if self.eat(b'}') {
                        return Some(());
                    }
                    self.expect(b',')?;
                }
            }
            b'[' => {
                self.at += 1;
                if self.eat(b']') {
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if self.eat(b']') {
                        return Some(());
                    }
                    self.expect(b',')?;
                }
            }
            b't' | b'f' | b'n' => {
                let rest = &self.json[self.at..];
                let len =
                    [&b"true"[..], b"false", b"null"].iter().find(|l| rest.starts_with(l))?.len();
                self.at += len;
                Some(())
            }
            _ => self.number(),
        }
    }

    /// Any JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    fn number(&mut self) -> Option<()> {
        let digits = |p: &mut Self| {
            let n = p.json[p.at..].iter().take_while(|b| b.is_ascii_digit()).count();
            p.at += n;
            n
        };
        self.at += usize::from(self.json.get(self.at) == Some(&b'-'));
        let first = self.json.get(self.at).copied();
        let n = digits(self);
        if n == 0 || (n > 1 && first == Some(b'0')) {
            return None;
        }
        if self.json.get(self.at) == Some(&b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.json.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.json.get(self.at) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return None;
            }
        }
        // serde_json reads huge exponents as infinity and fails; leave those to it.
        Some(())
    }

    /// An optional string field (`null` or a plain string).
    fn opt_text(&mut self) -> Option<Option<Text<'a>>> {
        if self.null() {
            return Some(None);
        }
        Some(Some(Text(Cow::Borrowed(self.text()?))))
    }

    /// Walks an object's members: `member` is called with each key's bytes (a key that is
    /// matched against known names needs no UTF-8 check; others are checked by [`Self::other`]).
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.raw_string()?;
            self.expect(b':')?;
            member(self, key)?;
            if self.eat(b'}') {
                return Some(());
            }
            self.expect(b',')?;
        }
    }

    /// An unknown member: its key must still be UTF-8 (serde reads keys as text); its value is
    /// skipped.
    fn other(&mut self, key: &[u8], depth: u32) -> Option<()> {
        std::str::from_utf8(key).ok()?;
        self.skip(depth)
    }

    fn envelope(&mut self) -> Option<Wire<'a>> {
        let (mut source, mut arn, mut servers) = (None, None, None);
        let mut records = None;
        let mut upper = None;
        self.object(|p, key| match key {
            b"eventSource" => once(&mut source, p.opt_text()?),
            b"eventSourceArn" => once(&mut arn, p.opt_text()?),
            b"bootstrapServers" => once(&mut servers, p.opt_text()?),
            b"records" => {
                let map = if p.null() { None } else { Some(p.partitions()?) };
                once(&mut records, map)
            }
            b"Records" => {
                let value = if p.null() {
                    None
                } else {
                    p.skip(1)?;
                    Some(IgnoredAny)
                };
                once(&mut upper, value)
            }
            _ => p.other(key, 1),
        })?;
        Some(Wire {
            event_source: source.flatten(),
            event_source_arn: arn.flatten(),
            bootstrap_servers: servers.flatten(),
            records: records.flatten(),
            upper_records: upper.flatten(),
            headers: std::mem::take(&mut self.headers),
        })
    }

    fn partitions(&mut self) -> Option<PartitionMap<'a>> {
        let mut partitions = Vec::new();
        self.object(|p, key| {
            let key = std::str::from_utf8(key).ok()?;
            p.expect(b'[')?;
            let mut records = Vec::new();
            if !p.eat(b']') {
                // Sized for the records the rest of the event can hold, judging by the size of
                // the first, so the list is not copied again and again as it grows; what this
                // partition does not use is given back (in place, no copy).
                let start = p.at;
                let first = p.record()?;
                records.reserve_exact((p.json.len() - p.at) / (p.at - start).max(40) + 1);
                records.push(first);
                loop {
                    if p.eat(b']') {
                        break;
                    }
                    p.expect(b',')?;
                    records.push(p.record()?);
                }
                if records.capacity() > records.len() + records.len() / 4 {
                    records.shrink_to_fit();
                }
            }
            partitions.push(PartitionBatch {
                key: Text(Cow::Borrowed(key)),
                records,
                headers: bytes::Bytes::new(),
            });
            Some(())
        })?;
        Some(PartitionMap(partitions))
    }

    /// One record. Lambda writes the fields of every record in the same order (`FIELDS`), so
    /// each key is first compared with the one expected next; any other key is read and
    /// looked up, so order and unknown fields still work, only more slowly.
    fn record(&mut self) -> Option<RawRecord<'a>> {
        let start = self.at;
        if let Some(record) = self.lambda_record() {
            return Some(record);
        }
        self.at = start;
        self.any_record()
    }

    /// A record exactly as Lambda writes it: every field, in order, no whitespace. Straight-line
    /// code for the common case; anything else is left to [`Parser::any_record`].
    fn lambda_record(&mut self) -> Option<RawRecord<'a>> {
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

    /// Consumes `literal` if the input continues with it.
    #[inline(always)]
    fn literal(&mut self, literal: &'static [u8]) -> Option<()> {
        let hit = self.json[self.at..].starts_with(literal);
        self.at += if hit { literal.len() } else { 0 };
        hit.then_some(())
    }

    /// A record in any field order, with whitespace, unknown fields, schema metadata.
    fn any_record(&mut self) -> Option<RawRecord<'a>> {
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
    fn topic(&mut self) -> Option<&'a str> {
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

    /// Consumes `"<text>"` if the input continues with it (a string already read and checked).
    fn quoted(&mut self, text: &str) -> bool {
        let rest = &self.json[self.at..];
        let len = text.len();
        let hit = rest.len() > len + 1
            && rest[0] == b'"'
            && rest[len + 1] == b'"'
            && &rest[1..=len] == text.as_bytes();
        self.at += if hit { len + 2 } else { 0 };
        hit
    }

    fn timestamp_type(&mut self) -> Option<TimestampType> {
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

    fn base64(&mut self) -> Option<Option<Base64<'a>>> {
        if self.null() {
            return Some(None);
        }
        self.expect(b'"')?;
        // Base64 payloads are long and plain: a SIMD search for the closing quote (or an escape,
        // which sends the event to serde). Control characters are left to the base64 decoder.
        let rest = &self.json[self.at..];
        let len = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at += len + 1;
        Some(Some(Base64(Cow::Borrowed(&rest[..len]))))
    }

    fn schema(&mut self) -> Option<Option<Box<SchemaMetadata>>> {
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

    /// `[{"name": [signed bytes]}, …]` decoded as it is read; bytes out of range go to serde,
    /// which words the record's failure.
    fn headers(&mut self) -> Option<RawHeaders<'a>> {
        if self.null() {
            return Some(RawHeaders::Absent);
        }
        // Taken out while it is written to; put back as it was if the headers are not plain.
        let mut buf = std::mem::take(&mut self.headers);
        let (start, at) = (buf.len(), self.at);
        let mut count = self.compact_header_list(&mut buf);
        if count.is_none() {
            // Not in the compact form: read again, whitespace and all.
            buf.truncate(start);
            self.at = at;
            count = self.header_list(&mut buf);
        }
        if count.is_none() {
            buf.truncate(start);
        }
        let end = buf.len();
        self.headers = buf;
        Some(RawHeaders::Decoded {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
            count: count?,
        })
    }

    /// `[{"name":[bytes]},…]` exactly as Lambda writes it (no whitespace, one header an
    /// object), written to `buf`; the number of headers. `None` for any other form.
    fn compact_header_list(&mut self, buf: &mut Vec<u8>) -> Option<u32> {
        self.literal(b"[")?;
        if self.literal(b"]").is_some() {
            return Some(0);
        }
        let mut count = 0u32;
        loop {
            self.literal(b"{")?;
            let header = HeaderWriter::begin(buf, self.header_name()?);
            self.literal(b":[")?;
            if self.literal(b"]").is_none() {
                self.compact_byte_array(buf)?;
            }
            header.end(buf);
            count += 1;
            self.literal(b"}")?;
            if self.literal(b"]").is_some() {
                return Some(count);
            }
            self.literal(b",")?;
        }
    }

    /// `[{"name": [bytes]}, …]`, written to `buf`; the number of headers.
    fn header_list(&mut self, buf: &mut Vec<u8>) -> Option<u32> {
        let mut count = 0u32;
        self.expect(b'[')?;
        if self.eat(b']') {
            return Some(0);
        }
        loop {
            self.expect(b'{')?;
            if !self.eat(b'}') {
                loop {
                    let header = HeaderWriter::begin(buf, self.header_name()?);
                    self.expect(b':')?;
                    self.expect(b'[')?;
                    if !self.eat(b']') {
                        self.byte_array(buf)?;
                    }
                    header.end(buf);
                    count += 1;
                    if self.eat(b'}') {
                        break;
                    }
                    self.expect(b',')?;
                }
            }
            if self.eat(b']') {
                return Some(count);
            }
            self.expect(b',')?;
        }
    }

    /// A header name, compared with the names of earlier records before being read (and UTF-8
    /// checked) anew.
    fn header_name(&mut self) -> Option<&'a str> {
        self.ws();
        for i in 0..self.header_names.len() {
            let name = self.header_names[i];
            if self.quoted(name) {
                return Some(name);
            }
        }
        let name = self.text()?;
        if self.header_names.len() < MAX_CACHED_NAMES {
            self.header_names.push(name);
        }
        Some(name)
    }
}

/// How many distinct header names [`Parser::header_name`] remembers.
const MAX_CACHED_NAMES: usize = 8;

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
    fn is(rest: &[u8], quoted: &'static [u8]) -> Option<usize> {
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

/// Where a string's content ends: the first `"`, `\\` or control character, eight bytes at a
/// time.
fn string_end(haystack: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const QUOTE: u64 = LO * b'"' as u64;
    const BACKSLASH: u64 = LO * b'\\' as u64;
    const SPACE: u64 = LO * 0x20;
    let stops = |c: u8| c == b'"' || c == b'\\' || c < 0x20;
    let mut i = 0;
    while let Some(chunk) = haystack.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let (q, b) = (word ^ QUOTE, word ^ BACKSLASH);
        // A zero byte in q or b (a quote or backslash), or a byte below 0x20 (a control
        // character), sets that byte's high bit. Bytes of 0x80 and above never count: they
        // are cleared by `!word`.
        let found = (q.wrapping_sub(LO) & !q)
            | (b.wrapping_sub(LO) & !b)
            | (word.wrapping_sub(SPACE) & !word);
        if found & HI != 0 {
            break;
        }
        i += 8;
    }
    haystack[i..].iter().position(|&c| stops(c)).map(|p| i + p)
}

/// Panics when the fast path accepts `json` but serde_json rejects it or reads it differently.
/// For this module's tests (the fuzz hook moves out of `__private` with the event parser).
#[cfg(test)]
pub(crate) fn check_against_serde(json: &[u8]) {
    let Some(fast) = parse(json) else { return };
    let serde = serde_json::from_slice::<Wire<'_>>(json).unwrap_or_else(|e| {
        panic!(
            "the fast parser accepted an event serde_json rejects ({e}): {:?}",
            String::from_utf8_lossy(json)
        )
    });
    assert_eq!(normalize(fast), normalize(serde), "{:?}", String::from_utf8_lossy(json));
}

#[cfg(test)]
fn normalize(wire: Wire<'_>) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{:?} {:?} {:?} {}\n",
        wire.event_source,
        wire.event_source_arn,
        wire.bootstrap_servers,
        wire.upper_records.is_some()
    );
    let decoded = bytes::Bytes::from(wire.headers);
    for batch in wire.records.map(|m| m.0).into_iter().flatten() {
        let _ = writeln!(out, "{:?}", batch.key);
        for r in batch.records {
            let headers = crate::event::decode_headers(r.headers, &decoded);
            let _ = writeln!(
                out,
                "  {:?} {} {} {} {:?} {:?} {:?} {:?} {:?} {:?}",
                r.topic,
                r.partition,
                r.offset,
                r.timestamp,
                r.timestamp_type,
                r.key,
                r.value,
                headers
                    .map(|h| h.iter().map(|(n, v)| (n.to_owned(), v.to_vec())).collect::<Vec<_>>()),
                r.key_schema_metadata,
                r.value_schema_metadata
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_ends() {
        let text = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\"rest";
        assert_eq!(string_end(text), Some(36));
        assert_eq!(string_end(b"ab\\c\""), Some(2));
        assert_eq!(string_end(b"abcdefghijklmnop"), None);
        assert_eq!(string_end(b""), None);
        assert_eq!(string_end("caf\u{e9} \u{1F600} more text\"".as_bytes()), Some(20));
        assert_eq!(string_end(b"abcdefgh\tij\""), Some(8));
        assert_eq!(string_end(b"\x7f\x00\""), Some(1));
        // Every position of a stop byte.
        for len in 0..20 {
            for at in 0..len {
                for stop in [b'"', b'\\', 0x01] {
                    let mut text = vec![b'a'; len];
                    text[at] = stop;
                    assert_eq!(string_end(&text), Some(at));
                }
            }
        }
    }

    #[test]
    fn plain_events_take_the_fast_path() {
        let event = br#"{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","partition":0,"offset":5,"timestamp":1,"timestampType":"CREATE_TIME","key":null,"value":"QUJD","headers":[{"a":[1,-1]}],"x":[{"y":1.5e3,"z":[true,false,null]}]}]},"other":{}}"#;
        let wire = parse(event).unwrap();
        let decoded = bytes::Bytes::from(wire.headers);
        let records = &wire.records.unwrap().0[0].records;
        assert_eq!(records[0].offset, 5);
        assert!(matches!(records[0].headers, RawHeaders::Decoded { count: 1, .. }));
        let headers = crate::event::decode_headers(records[0].headers.clone(), &decoded).unwrap();
        assert_eq!(headers.first("a"), Some(&[1, 255][..]));
    }

    /// The shortcuts (expected field order, remembered topic and header names, byte patterns)
    /// read exactly what serde_json reads, in and out of Lambda's usual layout.
    #[test]
    fn shortcuts_agree_with_serde() {
        let fast = [
            // Lambda's order, then shuffled, then with unknown fields and whitespace.
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"timestamp":2,"timestampType":"CREATE_TIME","key":"QQ==","value":"QUJD","headers":[{"a":[1,-1]},{"ab":[]}]}]}}"#,
            r#"{"records":{"t-0":[{"value":"QUJD","offset":1,"headers":[{"ab":[3]},{"a":[0,127,-128]}],"partition":0,"topic":"t"}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","zz":[1,{"k":"v"}],"partition":0,"offset":1,"timestampType":"LOG_APPEND_TIME"}]}}"#,
            r#"{"records":{"t-0":[ { "topic" : "t" , "partition" : 0 , "offset" : 1 , "headers" : [ { "a" : [ 1 , 2 ] } ] } ]}}"#,
            // Lambda's order up to the headers, then more: read again by the general path.
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"timestamp":2,"timestampType":"CREATE_TIME","key":null,"value":"QUJD","headers":[{"a":[1]}],"valueSchemaMetadata":{"dataFormat":"AVRO","schemaId":"s"}},{"topic":"t","partition":0,"offset":2,"timestamp":2,"timestampType":"CREATE_TIME","key":null,"value":null,"headers":[{"b":[2]}]}]}}"#,
            // A remembered topic or header name that is a prefix of the next one.
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[1]}]},{"topic":"tt","partition":0,"offset":2,"headers":[{"ab":[2]},{"a":[3]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"tt","partition":0,"offset":1},{"topic":"t","partition":0,"offset":2,"timestampType":"OTHER"}]}}"#,
            // Integers at the edges of the unchecked fast path.
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":999999999999999999,"timestamp":-9223372036854775808}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":9223372036854775807,"timestamp":-1}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[0,-9,10,-99,100]}]}]}}"#,
            // Compact up to a point, then whitespace: read again by the general path.
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"timestamp":2,"timestampType":"CREATE_TIME","key":null,"value":null,"headers":[{"a":[-128,127]},{"b":[1, 2]}]}]}}"#,
        ];
        for event in fast {
            assert!(parse(event.as_bytes()).is_some(), "{event}");
            check_against_serde(event.as_bytes());
        }
        let to_serde = [
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":9223372036854775808}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":01}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":-0}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[-0]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[01]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[1000]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[128]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[-129]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[1.0]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[1e1]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[1 2]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a\u0062":[1]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"topic":"t"}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"value":"QU\u004aD"}]}}"#,
        ];
        for event in to_serde {
            assert!(parse(event.as_bytes()).is_none(), "{event}");
        }
    }

    #[test]
    fn other_forms_go_to_serde() {
        for event in [
            &br#"{"records":{"t-0":[{"topic":"t\u0041","partition":0,"offset":5}]}}"#[..],
            br#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":5.0}]}}"#,
            br#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":5,"offset":6}]}}"#,
            br#"{"records":{"t-0":[{"topic":"t","partition":0}]}}"#,
            br#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[300]}]}]}}"#,
            br#"{"records":{}} x"#,
            br#"{"records":{},}"#,
            br#"[]"#,
        ] {
            assert!(parse(event).is_none(), "{}", String::from_utf8_lossy(event));
        }
    }
}
