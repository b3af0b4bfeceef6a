//! Hints that bring a record's bytes into the CPU's cache before it runs.
//!
//! An event is parsed whole before any record runs (a handler must not run on an event that
//! turns out to be invalid), so by the time a record is decoded its key, value and headers were
//! last read several megabytes earlier and have left the cache. Without a hint, decoding each
//! record begins by waiting for main memory: on the 10,000-record event that was about a tenth
//! of a local run's whole time, most of it on the first read of each base64 value. The next
//! record's bytes are therefore requested while the current record runs, which takes far
//! longer than fetching them.
//!
//! A prefetch is only a hint: it reads nothing, cannot fault and does not change what the
//! program computes. On x86-64 it is SSE's `prefetcht0` (every x86-64 CPU has SSE), through
//! `safe_arch`'s safe wrapper; elsewhere (arm64, whose prefetch intrinsic is not yet stable)
//! these functions do nothing and the hardware's own prefetchers are all there is.

use crate::event::{Base64, RawHeaders, RawRecord};

/// A cache line on every CPU Lambda runs on (x86-64 and Graviton).
const LINE: usize = 64;

/// Asks for every cache line of `bytes`.
fn bytes(bytes: &[u8]) {
    for line in bytes.chunks(LINE) {
        line_of(&line[0]);
    }
    // The lines of the first byte and of each one 64 bytes on hold every byte but possibly the
    // last few.
    if let Some(last) = bytes.last() {
        line_of(last);
    }
}

#[cfg(target_arch = "x86_64")]
fn line_of(byte: &u8) {
    safe_arch::prefetch_t0(byte);
}

#[cfg(not(target_arch = "x86_64"))]
fn line_of(_: &u8) {}

/// Asks for what decoding `record` reads: its key and value text in the event, and its part of
/// the partition's decoded `headers`. A key (short, and just before the value in Lambda's
/// order) and the headers (a few dozen bytes) get the line of their first byte only.
pub(crate) fn record(record: &RawRecord<'_>, headers: &[u8]) {
    if let Some(first) = record.key.as_ref().and_then(|Base64(key)| key.first()) {
        line_of(first);
    }
    if let Some(Base64(value)) = &record.value {
        bytes(value);
    }
    let first_header = match record.headers {
        RawHeaders::Json(json) => json.get().as_bytes().first(),
        RawHeaders::Decoded { start, .. } => headers.get(start as usize),
    };
    if let Some(first) = first_header {
        line_of(first);
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::record::TimestampType;

    fn raw<'a>(
        key: Option<&'a [u8]>,
        value: Option<&'a [u8]>,
        headers: RawHeaders<'a>,
    ) -> RawRecord<'a> {
        RawRecord {
            partition: 0,
            offset: 0,
            timestamp: 0,
            timestamp_type: TimestampType::CreateTime,
            key: key.map(|k| Base64(Cow::Borrowed(k))),
            value: value.map(|v| Base64(Cow::Borrowed(v))),
            headers,
            schemas: None,
        }
    }

    /// Every shape a record's parts can have, lengths around a cache line included: a hint
    /// must never index out of bounds (the headers' part is taken from the partition's buffer
    /// by the record's own range, which is checked, not trusted).
    #[test]
    fn every_shape_of_record_is_hinted_without_reading_out_of_bounds() {
        let text = vec![b'A'; 4 * LINE + 1];
        let headers = vec![0u8; 10];
        let json = serde_json::value::RawValue::from_string("[]".to_owned()).unwrap();
        for len in [0, 1, LINE - 1, LINE, LINE + 1, 4 * LINE + 1] {
            let part = &text[..len];
            for decoded in [(0, 0), (0, 10), (10, 10), (5, 20), (30, 40), (8, 2)] {
                let (start, end) = decoded;
                record(&raw(Some(part), Some(part), RawHeaders::Decoded { start, end }), &headers);
            }
            record(&raw(None, Some(part), RawHeaders::Json(&json)), &headers);
            record(&raw(Some(part), None, RawHeaders::default()), &[]);
            bytes(part);
        }
    }
}
