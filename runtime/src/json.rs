//! [`Json<T>`]: keys and values decoded as JSON (registry-framed JSON too, validated against its
//! JSON Schema with the `json-schema` feature).

use std::ops::{Deref, DerefMut};

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::decode::{Decode, DecodeContext, DecodeError};
use crate::json_fast;
use crate::json_path::describe;
use crate::schema::framing;
#[cfg(feature = "json-schema")]
use crate::schema::{framing::Sniff, RegisteredSchema, SchemaFormat, SchemaRef};

/// A key or value decoded as JSON into `T`, the way axum's `Json<T>` extracts a body.
///
/// `Record<Json<MyEvent>>` is the common handler argument. `Json<T>` derefs to `T`, so
/// `record.value().user_id` reads a field directly; `.0` or [`Json::into_inner`] takes it out.
///
/// A payload that is not JSON, or not a `T`, fails its record with a message that names where:
/// ``JSON of the wrong shape at `items[2].quantity`: invalid type: string, expected i64 (line 1
/// column 35)``. The path holds only what `T` declares (field names as in the JSON, enum variants,
/// indexes); map keys are data and show as `[…]`, and no value is ever quoted. Where serde
/// buffers (`#[serde(flatten)]`, untagged enums) the path ends at the buffered field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// Takes the decoded value out.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned> Decode for Json<T> {
    /// Reads JSON text. Registry-framed JSON Schema data (Confluent `0x00` + id or `0x01` + GUID,
    /// AWS Glue `0x03` + compression + UUID, zlib inflated) has its prefix taken off first: JSON
    /// text never starts with those bytes, so this cannot misread a payload. With the
    /// `json-schema` feature and a schema registry, such data is also validated against its
    /// writer's JSON Schema.
    fn decode(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Result<Self, DecodeError> {
        let bytes = bytes.ok_or_else(DecodeError::missing)?;
        #[cfg(feature = "json-schema")]
        if let Some(writer) = cx.writer_schema() {
            return decode_validated(bytes, cx, writer);
        }
        let _ = cx;
        if framing::starts_with_magic(bytes) {
            let unframed = framing::unframe_prefix(bytes)
                .map_err(|e| DecodeError::invalid(format_args!("registry-framed JSON: {e}")))?;
            return parse_json(&unframed.data);
        }
        parse_json(bytes)
    }

    #[cfg(feature = "json-schema")]
    fn writer_schema(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Option<SchemaRef> {
        // Lambda's JSON mode (EventRecordFormat JSON) hands over Avro and Protobuf records as
        // JSON text, with their schema metadata: Lambda has validated them, and their writer
        // schema is no JSON Schema to validate against. Read as plain JSON, nothing fetched.
        if cx.schema_metadata().is_some_and(|m| {
            m.data_format.eq_ignore_ascii_case("AVRO")
                || m.data_format.eq_ignore_ascii_case("PROTOBUF")
        }) {
            return None;
        }
        cx.schema_ref(bytes?, Sniff::Safe)
    }
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<Json<T>, DecodeError> {
    // The fast path reads plain JSON as serde_json would (see `json_fast`). What it declines
    // (anything unusual, any error) serde_json reads, and words the error.
    if let Some(value) = json_fast::from_slice(bytes) {
        return Ok(Json(value));
    }
    // Read as bytes, serde_json checks each string it meets for UTF-8; one check of the whole
    // payload lets it read text instead, which is ~20% faster on typical small documents.
    // Invalid UTF-8 takes the byte path, which says where the bad string is.
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    };
    // The path of the failing field is found by a second, tracking parse of the same bytes,
    // so that the successful parse is not slowed by it.
    parsed.map(Json).map_err(|e| DecodeError::invalid(describe::<T>(bytes, &e)))
}

#[cfg(feature = "json-schema")]
/// Unframes, validates against `writer` and deserializes a registry-written JSON payload.
fn decode_validated<T: DeserializeOwned>(
    bytes: &[u8],
    cx: &DecodeContext<'_>,
    writer: &RegisteredSchema,
) -> Result<Json<T>, DecodeError> {
    let unframed = cx
        .unframe(bytes, Sniff::Safe)
        .map_err(|e| DecodeError::invalid(format_args!("registry-framed JSON: {e}")))?;
    if !matches!(writer.format(), SchemaFormat::Json) {
        return Err(DecodeError::invalid(format_args!(
            "the writer schema {} is {}, not a JSON Schema",
            writer.reference(),
            writer.format()
        )));
    }
    let validator = writer.parsed(compile).map_err(|e| {
        DecodeError::invalid(format_args!("the JSON Schema {}: {e}", writer.reference()))
    })?;
    let value: serde_json::Value = match serde_json::from_slice(&unframed.data) {
        Ok(value) => value,
        // Not JSON at all: the usual message says where.
        Err(_) => return parse_json(&unframed.data),
    };
    // The schema path (`/properties/amountCents/type`) is schema, never payload: the instance
    // path could hold map keys, and the error's own message quotes the value.
    let violations: Vec<String> = validator
        .iter_errors(&value)
        .take(3)
        .map(|e| format!("{} ({})", e.schema_path(), e.kind().keyword()))
        .collect();
    if !violations.is_empty() {
        return Err(DecodeError::invalid(format_args!(
            "the JSON does not match its JSON Schema ({}): {}",
            writer.reference(),
            violations.join("; ")
        )));
    }
    // From the text again (not the `Value`): its errors then name the field and the position.
    parse_json(&unframed.data)
}

#[cfg(feature = "json-schema")]
fn compile(definition: &str) -> Result<jsonschema::Validator, String> {
    let schema: serde_json::Value =
        serde_json::from_str(definition).map_err(|e| format!("not JSON ({e})"))?;
    jsonschema::validator_for(&schema).map_err(|e| format!("not a valid JSON Schema: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Part;
    use crate::headers::Headers;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Card {
        number: u64,
    }

    /// Decodes as a value of topic `t` without headers or metadata.
    fn dec<T: Decode>(bytes: Option<&Bytes>) -> Result<T, DecodeError> {
        let headers = Headers::default();
        T::decode(bytes, &DecodeContext::new(Part::Value, "t", &headers))
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn json_errors_never_quote_the_payload() {
        let err = dec::<Json<Card>>(Some(&b(r#"{"number":"4111111111111111"}"#))).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("4111"), "{text}");
        assert_eq!(
            text,
            "JSON of the wrong shape at `number`: invalid type: string, expected u64 (line 1 column 28)"
        );
        let err = dec::<Json<Card>>(Some(&b("secret-token"))).unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
        assert_eq!(err, "not valid JSON: expected value (line 1 column 1)");
    }

    #[test]
    fn missing_fields_are_named() {
        let err = dec::<Json<Card>>(Some(&b("{}"))).unwrap_err().to_string();
        assert_eq!(err, "JSON of the wrong shape: missing field `number` (line 1 column 2)");
    }

    #[test]
    fn registry_framed_json_is_unframed() {
        let mut confluent = vec![0x00, 0, 0, 0, 9];
        confluent.extend_from_slice(br#"{"number":7}"#);
        assert_eq!(dec::<Json<Card>>(Some(&Bytes::from(confluent))).unwrap().number, 7);
        let mut glue = vec![0x03, 0x05];
        glue.extend([0xab; 16]);
        glue.extend(miniz_oxide::deflate::compress_to_vec_zlib(br#"{"number":8}"#, 6));
        assert_eq!(dec::<Json<Card>>(Some(&Bytes::from(glue))).unwrap().number, 8);
        let err = dec::<Json<Card>>(Some(&Bytes::from_static(&[0x00, 1]))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "registry-framed JSON: Confluent framing needs at least 5 bytes, the payload has 2"
        );
    }

    #[test]
    fn json_reads_and_absent_payloads_are_missing() {
        assert!(dec::<Json<Card>>(None).unwrap_err().is_missing());
        assert_eq!(dec::<Json<Card>>(Some(&b(r#"{"number":7}"#))).unwrap().number, 7);
    }
}
