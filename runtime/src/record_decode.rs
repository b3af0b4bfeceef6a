//! Turning a raw record of the event into the handler's typed [`Record`]: base64 payloads into a
//! shared buffer, headers, and the user's `Decode` impls, every failure worded for its record.

use std::any::type_name;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};

use crate::context::InvocationContext;
use crate::decode::{Decode, DecodeContext, Part};
use crate::event::{decode_headers, Base64, PartitionBatch, RawRecord};
use crate::headers::Headers;
use crate::record::{Record, RecordShared};
use crate::report::{Failure, FailureKind};
use crate::schema::{RegisteredSchema, SchemaRef};
use crate::unwind::panic_message;

/// Standard base64 as Lambda writes it; missing padding is tolerated.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// What the records of one partition share while they are decoded.
pub(crate) struct PartitionShared {
    /// Records-map key, topic, invocation context.
    pub record: Arc<RecordShared>,
    /// The headers the fast parser decoded (see [`crate::event::RawHeaders::Decoded`]).
    pub headers: Bytes,
    /// Keys and values are base64-decoded into this buffer and split off per record, so a
    /// record's bytes cost no allocation. Once the records decoded into it are dropped (their
    /// handlers are done), the buffer is reused from its start: decoding stays in a small,
    /// cache-hot region instead of touching fresh memory for every record. A record the handler
    /// keeps holds on to its part, as `Bytes` slices do, and the buffer moves on to a new one.
    pub payloads: BytesMut,
}

/// The most [`PartitionShared::payloads`] holds before it is reused or replaced.
const PAYLOAD_BUFFER: usize = 64 * 1024;

impl PartitionShared {
    pub(crate) fn new(batch: &PartitionBatch<'_>, context: &Arc<InvocationContext>) -> Self {
        // Room for every key and value decoded (3 bytes per 4 characters), up to the cap: the
        // records are counted only until the cap is reached (a large partition's list is not
        // read through from memory just to size this).
        let mut encoded = 0;
        for r in &batch.records {
            let len = |b: &Option<Base64<'_>>| b.as_ref().map_or(0, |b| b.0.len());
            encoded += len(&r.key) + len(&r.value);
            if encoded / 4 * 3 >= PAYLOAD_BUFFER {
                break;
            }
        }
        PartitionShared {
            record: Arc::new(RecordShared {
                topic_partition: batch.key.to_string(),
                topic: batch.topic.to_string(),
                context: Arc::clone(context),
            }),
            headers: batch.headers.clone(),
            payloads: BytesMut::with_capacity((encoded / 4 * 3).min(PAYLOAD_BUFFER)),
        }
    }
}

/// A record's headers and base64-decoded key and value, before they are decoded into types.
pub(crate) struct Payloads {
    pub headers: Headers,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

/// Decodes a record's headers, key and value bytes.
pub(crate) fn decode_payloads(
    raw: &mut RawRecord<'_>,
    shared: &mut PartitionShared,
) -> Result<Payloads, Failure> {
    let decode_error = |message: String| Failure::new(FailureKind::Decode, message);
    let headers =
        decode_headers(std::mem::take(&mut raw.headers), &shared.headers).map_err(decode_error)?;
    let key = base64_field("key", raw.key.as_ref(), &mut shared.payloads).map_err(decode_error)?;
    let value =
        base64_field("value", raw.value.as_ref(), &mut shared.payloads).map_err(decode_error)?;
    Ok(Payloads { headers, key, value })
}

/// The context a key's or value's `Decode` impl gets.
pub(crate) fn context<'a>(
    part: Part,
    raw: &'a RawRecord<'_>,
    shared: &'a PartitionShared,
    headers: &'a Headers,
    writer_schema: Option<&'a RegisteredSchema>,
) -> DecodeContext<'a> {
    let schema_metadata = match part {
        Part::Key => raw.schemas.as_ref().and_then(|s| s.key.as_ref()),
        Part::Value => raw.schemas.as_ref().and_then(|s| s.value.as_ref()),
    };
    DecodeContext {
        part,
        topic: &shared.record.topic,
        partition: raw.partition,
        offset: raw.offset,
        headers,
        schema_metadata,
        writer_schema,
    }
}

/// Builds the typed record, or says which part of it could not be decoded.
pub(crate) fn decode<V: Decode, K: Decode>(
    raw: &mut RawRecord<'_>,
    shared: &mut PartitionShared,
) -> Result<Record<V, K>, Failure> {
    let payloads = decode_payloads(raw, shared)?;
    decode_typed(raw, shared, payloads, [None, None])
}

/// Decodes the key and value into `K` and `V`, with the writer schemas the registry gave
/// (`[key, value]`), and builds the record.
pub(crate) fn decode_typed<V: Decode, K: Decode>(
    raw: &mut RawRecord<'_>,
    shared: &PartitionShared,
    payloads: Payloads,
    writer_schemas: [Option<&RegisteredSchema>; 2],
) -> Result<Record<V, K>, Failure> {
    let decode_error = |message: String| Failure::new(FailureKind::Decode, message);
    let Payloads { headers, key: raw_key, value: raw_value } = payloads;
    let key_cx = context(Part::Key, raw, shared, &headers, writer_schemas[0]);
    let decoded_key = catch_decode::<K>(raw_key.as_ref(), &key_cx).map_err(|e| {
        decode_error(if e.is_missing() {
            format!(
                "the key is absent or null, but the key type `{0}` needs one; declare it as `Option<{0}>` to accept records without a key",
                short_type_name::<K>()
            )
        } else {
            format!("the key could not be decoded as `{}`: {e}", short_type_name::<K>())
        })
    })?;
    let value_cx = context(Part::Value, raw, shared, &headers, writer_schemas[1]);
    let value = match catch_decode::<V>(raw_value.as_ref(), &value_cx) {
        Ok(value) => value,
        Err(e) => {
            let mut message = if e.is_missing() {
                format!(
                    "the value is null or absent (a tombstone), but the value type `{0}` needs one; declare it as `Option<{0}>` to accept tombstones",
                    short_type_name::<V>()
                )
            } else {
                format!("the value could not be decoded as `{}`: {e}", short_type_name::<V>())
            };
            // The decoded key's destructor is user code too.
            if let Err(panic) = crate::unwind::drop_guarded(decoded_key) {
                let panic = crate::unwind::panic_message(&*panic);
                message.push_str(&format!(" (and dropping the decoded key panicked: {panic})"));
            }
            return Err(decode_error(message));
        }
    };
    Ok(Record {
        shared: Arc::clone(&shared.record),
        partition: raw.partition,
        offset: raw.offset,
        timestamp: raw.timestamp,
        timestamp_type: raw.timestamp_type,
        key: decoded_key,
        value,
        raw_key,
        raw_value,
        headers,
        schemas: raw.schemas.take(),
    })
}

/// The writer schema a `Decode` impl asks for; a panic in it fails the record like any decode
/// error.
pub(crate) fn writer_schema<T: Decode>(
    bytes: Option<&Bytes>,
    cx: &DecodeContext<'_>,
) -> Result<Option<SchemaRef>, Failure> {
    std::panic::catch_unwind(AssertUnwindSafe(|| T::writer_schema(bytes, cx))).map_err(|panic| {
        Failure::new(
            FailureKind::Decode,
            format!(
                "the {} type `{}` panicked naming its writer schema: {}",
                cx.part(),
                short_type_name::<T>(),
                panic_message(&*panic)
            ),
        )
    })
}

/// Base64-decodes a key or value into `payloads` (see [`PartitionShared::payloads`]).
fn base64_field(
    field: &str,
    text: Option<&Base64<'_>>,
    payloads: &mut BytesMut,
) -> Result<Option<Bytes>, String> {
    let Some(Base64(text)) = text else { return Ok(None) };
    // Fast path: padded standard base64, as Lambda writes it, with SIMD (chosen at run time).
    if let Ok(len) = base64_simd::STANDARD.decoded_length(text) {
        payloads.clear();
        payloads.resize(len, 0);
        let out = base64_simd::Out::from_slice(&mut payloads[..]);
        if base64_simd::STANDARD.decode(text, out).is_ok() {
            return Ok(Some(payloads.split_to(len).freeze()));
        }
        payloads.clear();
    }
    // Anything else (no padding, or an error to describe) takes the scalar decoder.
    match BASE64.decode(text) {
        Ok(buf) => Ok(Some(Bytes::from(buf))),
        Err(e) => Err(format!("the {field} is not valid base64: {}", base64_reason(&e))),
    }
}

/// base64's own messages quote the offending byte; this one gives only its position.
fn base64_reason(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(at, _) => format!("invalid character at index {at}"),
        base64::DecodeError::InvalidLength(len) => format!("invalid length {len}"),
        base64::DecodeError::InvalidLastSymbol(at, _) => {
            format!("invalid last character at index {at}")
        }
        base64::DecodeError::InvalidPadding => "invalid padding".to_owned(),
    }
}

/// A user's `Decode` impl that panics fails its record like any decode error.
fn catch_decode<T: Decode>(
    bytes: Option<&Bytes>,
    cx: &DecodeContext<'_>,
) -> Result<T, crate::DecodeError> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| T::decode(bytes, cx))) {
        Ok(result) => result,
        Err(panic) => Err(crate::DecodeError::invalid(format_args!(
            "the decoder panicked: {}",
            panic_message(&*panic)
        ))),
    }
}

/// `core::option::Option<alloc::string::String>` → `Option<String>`.
pub(crate) fn short_type_name<T>() -> String {
    let full = type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    for (i, c) in full.char_indices() {
        if matches!(c, '<' | '>' | ',' | ' ' | '(' | ')' | '[' | ']' | '&' | ';') {
            out.push_str(last_path_segment(&full[segment_start..i]));
            out.push(c);
            segment_start = i + 1;
        }
    }
    out.push_str(last_path_segment(&full[segment_start..]));
    out
}

fn last_path_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_short() {
        assert_eq!(short_type_name::<Option<String>>(), "Option<String>");
        assert_eq!(short_type_name::<crate::Json<Vec<u8>>>(), "Json<Vec<u8>>");
        assert_eq!(short_type_name::<(u8, bytes::Bytes)>(), "(u8, Bytes)");
    }

    #[test]
    fn base64_errors_quote_no_bytes() {
        let mut payloads = BytesMut::new();
        let mut field = |text: &str| {
            base64_field("value", Some(&Base64(text.as_bytes().into())), &mut payloads)
        };
        assert_eq!(
            field("QUJD*").unwrap_err(),
            "the value is not valid base64: invalid character at index 4"
        );
        for (text, bytes) in
            [("QUJD", "ABC"), ("QUI", "AB"), ("QUI=", "AB"), ("QQ==", "A"), ("QQ", "A"), ("", "")]
        {
            let decoded = field(text).unwrap().unwrap();
            assert_eq!(decoded, bytes, "{text}");
        }
        assert!(field("Q").is_err());
        assert!(field("QUJD=").is_err());
        assert_eq!(base64_field("key", None, &mut BytesMut::new()).unwrap(), None);
    }
}
