//! Turning a record's key or value bytes into the handler's types.

use std::fmt;
use std::ops::{Deref, DerefMut};

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::headers::Headers;
use crate::record::SchemaMetadata;
use crate::schema::{RegisteredSchema, SchemaRef};

/// A type that a record's key or value can be decoded into.
///
/// `bytes` is the base64-decoded payload, or `None` when Lambda sent the field as absent or
/// `null` (for a value: a tombstone); [`DecodeContext`] says whether it is the key or the value,
/// where the record is, and gives its headers, the schema metadata Lambda attached and, for
/// schema-registry formats, the writer schema. Implemented for:
///
/// | type | decodes |
/// |---|---|
/// | [`Json<T>`] | JSON into any `T: serde::Deserialize` |
/// | `String` | UTF-8 text |
/// | `Vec<u8>`, [`bytes::Bytes`] | the raw bytes (`Bytes` without a copy) |
/// | `Option<X>` | `None` for absent or null, else `X` |
/// | `()` | nothing: the payload is ignored and never fails |
///
/// and, with cargo features, `Avro<T>`, `AvroDatum<T>`, `AvroValue` (`avro`) and `Protobuf<M>`
/// (`protobuf`). Implement it for your own formats; an error fails only that record:
///
/// ```
/// use msk_lambda::{bytes::Bytes, Decode, DecodeContext, DecodeError};
///
/// /// `celsius,place` lines.
/// struct Reading { celsius: f64, place: String }
///
/// impl Decode for Reading {
///     fn decode(bytes: Option<&Bytes>, _cx: &DecodeContext<'_>) -> Result<Self, DecodeError> {
///         let bytes = bytes.ok_or_else(DecodeError::missing)?;
///         let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::invalid("not UTF-8"))?;
///         let (celsius, place) = text.split_once(',').ok_or_else(|| DecodeError::invalid("no comma"))?;
///         let celsius = celsius.parse().map_err(|e| DecodeError::invalid(format_args!("celsius: {e}")))?;
///         Ok(Reading { celsius, place: place.to_owned() })
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded from a Kafka record's key or value",
    label = "no `msk_lambda::Decode` for this type",
    note = "use `msk_lambda::Json<T>` for a serde type `T` (a `Json` of another crate, such as axum's, is not it), `String` for UTF-8 text, `Vec<u8>` or `bytes::Bytes` for raw bytes, `Option<_>` to accept absent or null payloads, or `()` to ignore the field",
    note = "or implement `msk_lambda::Decode` for `{Self}` to plug in your own format"
)]
pub trait Decode: Sized {
    /// Decodes the payload; `None` means the field was absent or `null`.
    fn decode(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Result<Self, DecodeError>;

    /// The writer schema this payload needs from the schema registry before [`Decode::decode`]
    /// can run, if any. Called only when a registry is configured; the consumer fetches the
    /// schema (once per id for the life of the execution environment) and hands it to `decode`
    /// as [`DecodeContext::writer_schema`]. The default needs none.
    fn writer_schema(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Option<SchemaRef> {
        let _ = (bytes, cx);
        None
    }
}

/// Whether a [`Decode`] impl is decoding the record's key or its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The record's key.
    Key,
    /// The record's value.
    Value,
}

impl Part {
    /// `key` or `value`.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Key => "key",
            Part::Value => "value",
        }
    }

    /// The header a Confluent serializer in header mode writes this part's schema id to:
    /// `__key_schema_id` or `__value_schema_id`.
    pub fn schema_id_header(self) -> &'static str {
        match self {
            Part::Key => "__key_schema_id",
            Part::Value => "__value_schema_id",
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a [`Decode`] impl may know about the payload it decodes.
#[derive(Debug, Clone, Copy)]
pub struct DecodeContext<'a> {
    pub(crate) part: Part,
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) headers: &'a Headers,
    pub(crate) schema_metadata: Option<&'a SchemaMetadata>,
    pub(crate) writer_schema: Option<&'a RegisteredSchema>,
}

impl<'a> DecodeContext<'a> {
    /// A context for decoding outside a consumer (tests, tools): the given part of a record of
    /// `topic`, partition 0, offset 0, without headers, metadata or writer schema.
    pub fn new(part: Part, topic: &'a str, headers: &'a Headers) -> Self {
        DecodeContext {
            part,
            topic,
            partition: 0,
            offset: 0,
            headers,
            schema_metadata: None,
            writer_schema: None,
        }
    }

    /// With the schema metadata Lambda attached to this part.
    pub fn with_schema_metadata(mut self, metadata: Option<&'a SchemaMetadata>) -> Self {
        self.schema_metadata = metadata;
        self
    }

    /// With the writer schema the registry gave for this payload.
    pub fn with_writer_schema(mut self, schema: Option<&'a RegisteredSchema>) -> Self {
        self.writer_schema = schema;
        self
    }

    /// Whether this is the key or the value.
    pub fn part(&self) -> Part {
        self.part
    }

    /// The record's topic.
    pub fn topic(&self) -> &'a str {
        self.topic
    }

    /// The record's partition.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The record's offset.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// The record's headers.
    pub fn headers(&self) -> &'a Headers {
        self.headers
    }

    /// `keySchemaMetadata` or `valueSchemaMetadata` (for this part), present when the event
    /// source mapping's schema-registry integration is on: the registry prefix is then already
    /// removed from the payload.
    pub fn schema_metadata(&self) -> Option<&'a SchemaMetadata> {
        self.schema_metadata
    }

    /// The writer schema fetched from the registry for what [`Decode::writer_schema`] asked,
    /// or `None` when no registry is configured or nothing was asked.
    pub fn writer_schema(&self) -> Option<&'a RegisteredSchema> {
        self.writer_schema
    }
}

/// Why a key or value could not be decoded. Never contains the payload itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DecodeErrorKind {
    Missing,
    Invalid,
}

impl DecodeError {
    /// The field was absent or `null` but the type needs a payload.
    pub fn missing() -> Self {
        DecodeError { kind: DecodeErrorKind::Missing, message: String::new() }
    }

    /// The payload is present but not valid for the type. Do not put payload bytes in `message`:
    /// it is logged and may be returned to Lambda.
    pub fn invalid(message: impl fmt::Display) -> Self {
        DecodeError { kind: DecodeErrorKind::Invalid, message: message.to_string() }
    }

    /// True when the field was absent or `null` (a tombstone, for a value).
    pub fn is_missing(&self) -> bool {
        self.kind == DecodeErrorKind::Missing
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DecodeErrorKind::Missing => f.write_str("absent or null"),
            DecodeErrorKind::Invalid => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DecodeError {}

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
            return crate::json_schema::decode_validated(bytes, cx, writer);
        }
        let _ = cx;
        if crate::schema::framing::starts_with_magic(bytes) {
            let unframed = crate::schema::framing::unframe_prefix(bytes)
                .map_err(|e| DecodeError::invalid(format_args!("registry-framed JSON: {e}")))?;
            return parse_json(&unframed.data);
        }
        parse_json(bytes)
    }

    #[cfg(feature = "json-schema")]
    fn writer_schema(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Option<SchemaRef> {
        crate::schema::unframe(bytes?, cx, crate::schema::Sniff::Safe).ok()?.schema
    }
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<Json<T>, DecodeError> {
    // Read as bytes, serde_json checks each string it meets for UTF-8; one check of the whole
    // payload lets it read text instead, which is ~20% faster on typical small documents.
    // Invalid UTF-8 takes the byte path, which says where the bad string is.
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    };
    // The path of the failing field is found by a second, tracking parse of the same bytes,
    // so that the successful parse is not slowed by it.
    parsed.map(Json).map_err(|e| DecodeError::invalid(crate::json_path::describe::<T>(bytes, &e)))
}

impl Decode for String {
    fn decode(bytes: Option<&Bytes>, _cx: &DecodeContext<'_>) -> Result<Self, DecodeError> {
        let bytes = bytes.ok_or_else(DecodeError::missing)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(e) => Err(DecodeError::invalid(format_args!(
                "not valid UTF-8 text (first invalid byte at index {}); use Vec<u8> or bytes::Bytes for binary data",
                e.valid_up_to()
            ))),
        }
    }
}

impl Decode for Vec<u8> {
    fn decode(bytes: Option<&Bytes>, _cx: &DecodeContext<'_>) -> Result<Self, DecodeError> {
        bytes.map(|b| b.to_vec()).ok_or_else(DecodeError::missing)
    }
}

impl Decode for Bytes {
    fn decode(bytes: Option<&Bytes>, _cx: &DecodeContext<'_>) -> Result<Self, DecodeError> {
        bytes.cloned().ok_or_else(DecodeError::missing)
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Result<Self, DecodeError> {
        match bytes {
            None => Ok(None),
            Some(_) => T::decode(bytes, cx).map(Some),
        }
    }

    fn writer_schema(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Option<SchemaRef> {
        bytes.and_then(|_| T::writer_schema(bytes, cx))
    }
}

impl Decode for () {
    fn decode(_: Option<&Bytes>, _cx: &DecodeContext<'_>) -> Result<Self, DecodeError> {
        Ok(())
    }
}

/// Describes a serde_json error without quoting the payload.
///
/// serde's messages quote offending input (`invalid type: string "4111…", expected u64`); the
/// quoted part is cut so that card numbers and the like never reach logs or Lambda.
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax | Category::Io => "not valid JSON".to_owned(),
        Category::Eof => "not valid JSON (it ends early)".to_owned(),
        Category::Data => {
            let full = e.to_string();
            let msg = full.rsplit_once(" at line ").map_or(full.as_str(), |(m, _)| m);
            format!("JSON of the wrong shape: {}", redact_unexpected(msg))
        }
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// `invalid type: string "secret", expected u32` → `invalid type: string, expected u32`;
/// `unknown variant `secret`, expected ...` → `unknown variant, expected ...`;
/// `unknown field `secret`, expected ...` → `unknown field, expected ...` (with
/// `deny_unknown_fields`: a key the struct does not declare is data).
pub(crate) fn redact_unexpected(msg: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            // The quoted input may itself hold ", expected ": serde's own is the last one.
            if let Some((unexpected, expected)) = rest.rsplit_once(", expected ") {
                let kind = unexpected.split([' ', '`', '"']).next().unwrap_or("");
                return format!("{prefix}{kind}, expected {expected}");
            }
        }
    }
    for prefix in ["unknown variant", "unknown field"] {
        if let Some(rest) = msg.strip_prefix(prefix).and_then(|rest| rest.strip_prefix(' ')) {
            if let Some((_, expected)) = rest.rsplit_once(", expected ") {
                return format!("{prefix}, expected {expected}");
            }
            // serde's message when nothing is accepted: "unknown field `x`, there are no fields".
            if let Some((_, none)) = rest.rsplit_once(", there are no ") {
                return format!("{prefix}, there are no {none}");
            }
        }
    }
    msg.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn absent_payloads() {
        assert!(dec::<Json<Card>>(None).unwrap_err().is_missing());
        assert!(dec::<String>(None).unwrap_err().is_missing());
        assert!(dec::<Vec<u8>>(None).unwrap_err().is_missing());
        assert!(dec::<Bytes>(None).unwrap_err().is_missing());
        assert_eq!(dec::<Option<String>>(None).unwrap(), None);
        assert_eq!(dec::<()>(None), Ok(()));
        assert_eq!(dec::<()>(Some(&b("\u{0}\u{ff}"))), Ok(()));
    }

    #[test]
    fn text_and_bytes() {
        assert_eq!(dec::<String>(Some(&b("café"))).unwrap(), "café");
        let bad = Bytes::from_static(&[0x61, 0xff]);
        let err = dec::<String>(Some(&bad)).unwrap_err().to_string();
        assert!(err.contains("index 1"), "{err}");
        assert_eq!(dec::<Vec<u8>>(Some(&bad)).unwrap(), vec![0x61, 0xff]);
        assert_eq!(dec::<Bytes>(Some(&bad)).unwrap(), bad);
        assert_eq!(dec::<Option<String>>(Some(&b("x"))).unwrap(), Some("x".to_owned()));
        assert_eq!(dec::<Json<Card>>(Some(&b(r#"{"number":7}"#))).unwrap().number, 7);
    }
}
