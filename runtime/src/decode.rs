//! Turning a record's key or value bytes into the handler's types.

use std::fmt;

use bytes::Bytes;

use crate::headers::Headers;
use crate::record::SchemaMetadata;
use crate::schema::framing::{self, FramingError, Sniff, Unframed};
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
/// | [`Json<T>`](crate::Json) | JSON into any `T: serde::Deserialize` |
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

    /// Takes a schema-registry framing off `data`, in this order: Lambda's schema metadata for
    /// this part (the prefix is then already gone), then the `__key_schema_id` /
    /// `__value_schema_id` header, then the leading magic bytes (as `sniff` allows). For your own
    /// [`Decode`] impls of registry formats.
    pub fn unframe<'b>(&self, data: &'b [u8], sniff: Sniff) -> Result<Unframed<'b>, FramingError>
    where
        'a: 'b,
    {
        let name = self.part.schema_id_header();
        let header = self.headers.last(name);
        framing::unframe(data, self.schema_metadata, header, name, self.part.as_str(), sniff)
    }

    /// The schema that [`unframe`](Self::unframe) would name for `data`, found from the
    /// framing alone (the data after it is not read: a zlib-compressed AWS Glue body is not
    /// inflated). What a registry format's [`Decode::writer_schema`] returns; `None` where
    /// `unframe` would fail or finds no schema.
    pub fn schema_ref(&self, data: &[u8], sniff: Sniff) -> Option<SchemaRef> {
        let name = self.part.schema_id_header();
        let header = self.headers.last(name);
        framing::schema_ref(data, self.schema_metadata, header, name, sniff)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes as a value of topic `t` without headers or metadata.
    fn dec<T: Decode>(bytes: Option<&Bytes>) -> Result<T, DecodeError> {
        let headers = Headers::default();
        T::decode(bytes, &DecodeContext::new(Part::Value, "t", &headers))
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn absent_payloads() {
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
    }
}
