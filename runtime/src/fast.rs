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
use crate::record::{Headers, SchemaMetadata, TimestampType};

/// Nesting deeper than this goes to serde_json (which stops at 128).
const MAX_DEPTH: u32 = 64;

/// Parses the event, or `None` if it is not in the plain form this parser takes.
pub(crate) fn parse(json: &[u8]) -> Option<Wire<'_>> {
    let mut p = Parser { json, at: 0 };
    let wire = p.envelope()?;
    p.ws();
    (p.at == json.len()).then_some(wire)
}

struct Parser<'a> {
    json: &'a [u8],
    at: usize,
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

    /// The bytes of a string without escapes. `control` allows control characters (serde
    /// allows them in strings it reads as bytes, not in others).
    fn raw_string(&mut self, control: bool) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        let rest = &self.json[start..];
        let len = string_end(rest, !control)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        Some(&rest[..len])
    }

    /// A UTF-8 string without escapes or control characters.
    fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw_string(false)?).ok()
    }

    /// An integer: no fraction, no exponent, no leading zeros; `None` outside `i64`.
    fn integer(&mut self) -> Option<i64> {
        self.ws();
        let negative = self.json.get(self.at) == Some(&b'-');
        let start = self.at + usize::from(negative);
        let mut at = start;
        // Magnitudes up to 2^63 fit (i64::MIN's); checked as they grow.
        let mut magnitude: u64 = 0;
        while let Some(&d) = self.json.get(at) {
            if !d.is_ascii_digit() {
                break;
            }
            magnitude = magnitude.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            at += 1;
        }
        let digits = at - start;
        if digits == 0
            || (digits > 1 && self.json[start] == b'0')
            || matches!(self.json.get(at), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let value = if negative {
            0i64.checked_sub_unsigned(magnitude)?
        } else {
            i64::try_from(magnitude).ok()?
        };
        self.at = at;
        Some(value)
    }

    /// The rest of a non-empty array of signed bytes (after its `[`), appended to `out`: the
    /// hot loop of header decoding, so it works on the bytes directly.
    fn byte_array(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let json = self.json;
        let mut at = self.at;
        let digit =
            |at: usize| json.get(at).filter(|d| d.is_ascii_digit()).map(|d| u32::from(d - b'0'));
        let skip_ws = |at: &mut usize| {
            while let Some(b' ' | b'\n' | b'\r' | b'\t') = json.get(*at) {
                *at += 1;
            }
        };
        loop {
            skip_ws(&mut at);
            let negative = json.get(at) == Some(&b'-');
            at += usize::from(negative);
            let first = digit(at)?;
            at += 1;
            let mut value = first;
            if first != 0 {
                for _ in 0..2 {
                    match digit(at) {
                        Some(d) => {
                            value = value * 10 + d;
                            at += 1;
                        }
                        None => break,
                    }
                }
            }
            // More digits, a fraction or an exponent: not a plain byte (serde decides).
            if let Some(b'0'..=b'9' | b'.' | b'e' | b'E') = json.get(at) {
                return None;
            }
            let signed = if negative { -(value as i32) } else { value as i32 };
            out.push(i8::try_from(signed).ok()? as u8);
            skip_ws(&mut at);
            match json.get(at) {
                Some(b',') => at += 1,
                Some(b']') => {
                    self.at = at + 1;
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
            b'"' => self.raw_string(false).map(drop),
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
            let key = self.raw_string(false)?;
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
        })
    }

    fn partitions(&mut self) -> Option<PartitionMap<'a>> {
        let mut partitions = Vec::new();
        self.object(|p, key| {
            let key = std::str::from_utf8(key).ok()?;
            p.expect(b'[')?;
            let mut records = Vec::with_capacity(64);
            if !p.eat(b']') {
                loop {
                    records.push(p.record()?);
                    if p.eat(b']') {
                        break;
                    }
                    p.expect(b',')?;
                }
            }
            partitions.push(PartitionBatch { key: Text(Cow::Borrowed(key)), records });
            Some(())
        })?;
        Some(PartitionMap(partitions))
    }

    fn record(&mut self) -> Option<RawRecord<'a>> {
        let (mut topic, mut partition, mut offset) = (None, None, None);
        let (mut timestamp, mut timestamp_type) = (None, None);
        let (mut key, mut value, mut headers) = (None, None, None);
        let (mut key_schema, mut value_schema) = (None, None);
        self.object(|p, field| match field {
            b"topic" => once(&mut topic, p.text()?),
            b"partition" => once(&mut partition, i32::try_from(p.integer()?).ok()?),
            b"offset" => once(&mut offset, p.integer()?),
            b"timestamp" => once(&mut timestamp, p.integer()?),
            b"timestampType" => once(&mut timestamp_type, timestamp_type_of(p.text()?)),
            b"key" => once(&mut key, p.base64()?),
            b"value" => once(&mut value, p.base64()?),
            b"headers" => once(&mut headers, p.headers()?),
            b"keySchemaMetadata" => once(&mut key_schema, p.schema()?),
            b"valueSchemaMetadata" => once(&mut value_schema, p.schema()?),
            other => p.other(other, 1),
        })?;
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

    fn base64(&mut self) -> Option<Option<Base64<'a>>> {
        if self.null() {
            return Some(None);
        }
        Some(Some(Base64(Cow::Borrowed(self.raw_string(true)?))))
    }

    fn schema(&mut self) -> Option<Option<SchemaMetadata>> {
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

    /// `[{"name": [signed bytes]}, …]` decoded as it is read; bytes out of range go to serde,
    /// which words the record's failure.
    fn headers(&mut self) -> Option<RawHeaders<'a>> {
        if self.null() {
            return Some(RawHeaders::Absent);
        }
        // One allocation each for the common case (a few short headers).
        let mut headers = Headers { buf: Vec::with_capacity(64), entries: Vec::with_capacity(2) };
        self.expect(b'[')?;
        if self.eat(b']') {
            return Some(RawHeaders::Decoded(headers));
        }
        loop {
            self.object(|p, name| {
                headers.push_name(std::str::from_utf8(name).ok()?);
                p.expect(b'[')?;
                if !p.eat(b']') {
                    p.byte_array(&mut headers.buf)?;
                }
                headers.end_value();
                Some(())
            })?;
            if self.eat(b']') {
                return Some(RawHeaders::Decoded(headers));
            }
            self.expect(b',')?;
        }
    }
}

fn timestamp_type_of(text: &str) -> TimestampType {
    match text {
        "CREATE_TIME" => TimestampType::CreateTime,
        "LOG_APPEND_TIME" => TimestampType::LogAppendTime,
        _ => TimestampType::NoTimestampType,
    }
}

/// Where a string's content ends: the first `"` or `\\` (or, with `forbid_control`, control
/// character), eight bytes at a time (base64 payloads are long).
fn string_end(haystack: &[u8], forbid_control: bool) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const QUOTE: u64 = LO * b'"' as u64;
    const BACKSLASH: u64 = LO * b'\\' as u64;
    const SPACE: u64 = LO * 0x20;
    let stops = |c: u8| c == b'"' || c == b'\\' || (forbid_control && c < 0x20);
    let mut i = 0;
    while let Some(chunk) = haystack.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let (q, b) = (word ^ QUOTE, word ^ BACKSLASH);
        // A zero byte in q or b (a quote or backslash), or a byte below 0x20 (a control
        // character), sets that byte's high bit. Bytes of 0x80 and above never count: they
        // are cleared by `!word`.
        let mut found = (q.wrapping_sub(LO) & !q) | (b.wrapping_sub(LO) & !b);
        if forbid_control {
            found |= word.wrapping_sub(SPACE) & !word;
        }
        if found & HI != 0 {
            break;
        }
        i += 8;
    }
    haystack[i..].iter().position(|&c| stops(c)).map(|p| i + p)
}

/// Panics when the fast path accepts `json` but serde_json rejects it or reads it differently.
/// For the fuzz target and the fuzz smoke test (through `__private`).
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

fn normalize(wire: Wire<'_>) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{:?} {:?} {:?} {}\n",
        wire.event_source,
        wire.event_source_arn,
        wire.bootstrap_servers,
        wire.upper_records.is_some()
    );
    for batch in wire.records.map(|m| m.0).into_iter().flatten() {
        let _ = writeln!(out, "{:?}", batch.key);
        for r in batch.records {
            let headers = crate::event::decode_headers(r.headers);
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
        for forbid in [false, true] {
            assert_eq!(string_end(text, forbid), Some(36));
            assert_eq!(string_end(b"ab\\c\"", forbid), Some(2));
            assert_eq!(string_end(b"abcdefghijklmnop", forbid), None);
            assert_eq!(string_end(b"", forbid), None);
            assert_eq!(string_end("caf\u{e9} \u{1F600} more text\"".as_bytes(), forbid), Some(20));
        }
        assert_eq!(string_end(b"abcdefgh\tij\"", true), Some(8));
        assert_eq!(string_end(b"abcdefgh\tij\"", false), Some(11));
        assert_eq!(string_end(b"\x7f\x00\"", true), Some(1));
        // Every position of a stop byte, with and without control characters forbidden.
        for len in 0..20 {
            for at in 0..len {
                for stop in [b'"', b'\\', 0x01] {
                    let mut text = vec![b'a'; len];
                    text[at] = stop;
                    let expect = (stop != 0x01).then_some(at);
                    assert_eq!(string_end(&text, false), expect);
                    assert_eq!(string_end(&text, true), Some(at));
                }
            }
        }
    }

    #[test]
    fn plain_events_take_the_fast_path() {
        let event = br#"{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","partition":0,"offset":5,"timestamp":1,"timestampType":"CREATE_TIME","key":null,"value":"QUJD","headers":[{"a":[1,-1]}],"x":[{"y":1.5e3,"z":[true,false,null]}]}]},"other":{}}"#;
        let wire = parse(event).unwrap();
        let records = &wire.records.unwrap().0[0].records;
        assert_eq!(records[0].offset, 5);
        assert!(
            matches!(&records[0].headers, RawHeaders::Decoded(h) if h.get("a") == Some(&[1, 255][..]))
        );
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
