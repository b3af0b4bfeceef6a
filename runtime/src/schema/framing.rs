//! Schema-registry framing: where a key's or value's writer schema is named, and where its data
//! starts. Byte layouts, with sources:
//!
//! | framing | bytes | source |
//! |---|---|---|
//! | Confluent | `0x00`, schema id (4 bytes, big-endian), data | confluent-kafka-python `schema_registry/common/serde.py` (`SchemaId.from_bytes`); <https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#wire-format> |
//! | Confluent GUID | `0x01`, schema GUID (16 bytes), data | same |
//! | Confluent header | header `__key_schema_id` / `__value_schema_id` holds `0x00`+id or `0x01`+GUID (then, for Protobuf, the message indexes); the payload is the bare data | confluent-kafka-python `schema_registry/__init__.py` (`dual_schema_id_deserializer`) |
//! | AWS Glue | `0x03`, compression (`0x00` none, `0x05` zlib), schema version UUID (16 bytes), data (zlib-deflated when `0x05`) | awslabs/aws-glue-schema-registry `AWSSchemaRegistryConstants.java`, `SerializationDataEncoder.java`, `GlueSchemaRegistryDeserializerDataParser.java` |
//! | Avro single object | `0xC3 0x01`, CRC-64-AVRO (Rabin) fingerprint (8 bytes, little-endian), datum | <https://avro.apache.org/docs/1.11.1/specification/#single-object-encoding> |
//!
//! Protobuf data then starts with message indexes (see [`MessageIndexes`]).
//!
//! When the event source mapping's schema-registry integration is on, Lambda attaches
//! `keySchemaMetadata` / `valueSchemaMetadata` and has already removed the prefix ("Lambda removes
//! all schema metadata, such as the schema ID", <https://docs.aws.amazon.com/lambda/latest/api/API_KafkaSchemaRegistryConfig.html>);
//! the Protobuf message indexes stay (verified on Powertools' captured events, see the README).

use std::borrow::Cow;
use std::fmt;

use crate::record::SchemaMetadata;

/// How a registry names a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SchemaRef {
    /// A Confluent Schema Registry id (`GET /schemas/ids/{id}`).
    ConfluentId(u32),
    /// A Confluent Schema Registry GUID (`GET /schemas/guids/{guid}`).
    ConfluentGuid(Uuid),
    /// An AWS Glue Schema Registry schema version id (`GetSchemaVersion`).
    GlueVersion(Uuid),
    /// The CRC-64-AVRO fingerprint of an Avro single-object encoding's writer schema.
    AvroFingerprint(u64),
}

impl SchemaRef {
    /// The registry family that names schemas this way, for messages: `Confluent`, `AWS Glue`,
    /// `Avro fingerprint`.
    pub fn family(&self) -> &'static str {
        match self {
            SchemaRef::ConfluentId(_) | SchemaRef::ConfluentGuid(_) => "Confluent",
            SchemaRef::GlueVersion(_) => "AWS Glue",
            SchemaRef::AvroFingerprint(_) => "Avro fingerprint",
        }
    }

    /// Reads Lambda's `schemaId`: a decimal number is a Confluent id, a 36-character UUID an AWS
    /// Glue schema version id.
    pub fn from_schema_id(id: &str) -> Option<SchemaRef> {
        if let Ok(n) = id.parse::<u32>() {
            return Some(SchemaRef::ConfluentId(n));
        }
        Uuid::parse(id).map(SchemaRef::GlueVersion)
    }
}

impl fmt::Display for SchemaRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaRef::ConfluentId(id) => write!(f, "Confluent schema id {id}"),
            SchemaRef::ConfluentGuid(guid) => write!(f, "Confluent schema GUID {guid}"),
            SchemaRef::GlueVersion(id) => write!(f, "AWS Glue schema version {id}"),
            SchemaRef::AvroFingerprint(fp) => write!(f, "Avro schema fingerprint {fp:016x}"),
        }
    }
}

/// A 128-bit UUID, as the Confluent GUID and Glue schema version ids are (bytes in network
/// order, written `8-4-4-4-12` in lowercase hex).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// Parses the 36-character `8-4-4-4-12` form (either case).
    pub fn parse(text: &str) -> Option<Uuid> {
        let b = text.as_bytes();
        if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
        let mut out = [0u8; 16];
        let mut digits = b.iter().filter(|&&c| c != b'-');
        for byte in &mut out {
            let hi = (*digits.next()? as char).to_digit(16)?;
            let lo = (*digits.next()? as char).to_digit(16)?;
            *byte = (hi * 16 + lo) as u8;
        }
        Some(Uuid(out))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Where a payload's schema framing was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FramingKind {
    /// Lambda's schema-registry integration attached metadata and removed the prefix.
    EventMetadata,
    /// A `__key_schema_id` / `__value_schema_id` header (Confluent header mode).
    Header,
    /// `0x00` + 4-byte id.
    Confluent,
    /// `0x01` + 16-byte GUID.
    ConfluentGuid,
    /// `0x03` + compression + 16-byte UUID.
    Glue,
    /// `0xC3 0x01` + 8-byte fingerprint.
    AvroSingleObject,
    /// No framing: the bare data.
    None,
}

/// Which message-index layout Protobuf data carries (see [`MessageIndexes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexLayout {
    /// A zigzag varint count, then that many zigzag varint indexes; a lone `0x00` is `[0]`.
    Confluent,
    /// One unsigned varint: a flat position of the message in the schema file.
    Glue,
    /// None: the data is a bare message.
    None,
}

/// A payload with its framing taken off.
#[derive(Debug)]
pub struct Unframed<'a> {
    /// Where the framing was found.
    pub kind: FramingKind,
    /// The writer schema, when the framing names one.
    pub schema: Option<SchemaRef>,
    /// The data after the framing (inflated, for zlib-compressed Glue data).
    pub data: Cow<'a, [u8]>,
    /// Protobuf message indexes that sit in the header rather than the data (Confluent header
    /// mode), not yet read.
    pub(crate) header_indexes: Option<&'a [u8]>,
    pub(crate) index_layout: IndexLayout,
}

/// Framing that could not be read. Says what is wrong, never quotes the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramingError(pub(crate) String);

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FramingError {}

fn err(message: impl Into<String>) -> FramingError {
    FramingError(message.into())
}

/// The most a zlib-compressed Glue payload may inflate to: far above Kafka's default
/// 1 MB message limit and Lambda's 6 MB event, low enough that a zlib bomb cannot exhaust memory.
const INFLATE_LIMIT: usize = 64 * 1024 * 1024;

/// Whether [`DecodeContext::unframe`](crate::DecodeContext::unframe) looks for framing by its
/// leading bytes when neither Lambda's metadata nor
/// a header names the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    /// The format cannot start with a registry magic byte (JSON text, Protobuf), so a leading
    /// magic byte is framing; Avro's single-object marker (`0xC3 0x01`) excepted, which frames
    /// Avro only and which a Protobuf field tag can begin with (field 24, a proto2 group).
    Safe,
    /// The data is known to be registry-framed (`Avro<T>`): a payload without framing is an error.
    Required,
    /// Never: the data is bare (`AvroDatum<T>`).
    Never,
}

/// Takes a key's or value's framing off, in this order: Lambda's schema metadata (the prefix is
/// then already gone), then the value of the schema-id header `header_name`, then the leading magic bytes (as
/// `sniff` allows). Reached through [`DecodeContext::unframe`](crate::DecodeContext::unframe).
pub(crate) fn unframe<'a>(
    data: &'a [u8],
    metadata: Option<&SchemaMetadata>,
    header: Option<&'a [u8]>,
    header_name: &str,
    part: &str,
    sniff: Sniff,
) -> Result<Unframed<'a>, FramingError> {
    if let Some(metadata) = metadata {
        return Ok(from_metadata(data, metadata));
    }
    if let Some(header) = header {
        return from_header(data, header, header_name);
    }
    match sniff {
        Sniff::Never => Ok(bare(data)),
        Sniff::Safe if starts_with_magic(data) && !is_avro_single_object(data) => {
            unframe_prefix(data)
        }
        Sniff::Safe => Ok(bare(data)),
        Sniff::Required => {
            if starts_with_magic(data) {
                unframe_prefix(data)
            } else {
                Err(err(format!(
                    "no schema-registry framing: Lambda attached no schema metadata, there is no `{}` header, and the {} does not start with a registry magic byte (0x00 Confluent, 0x01 Confluent GUID, 0x03 AWS Glue, 0xC3 0x01 Avro single object){}",
                    header_name,
                    part,
                    if data.is_empty() { " (it is empty)" } else { "" }
                )))
            }
        }
    }
}

/// The schema [`unframe`] would name for the same arguments, found without reading the data
/// after the framing: a zlib-compressed AWS Glue body is not inflated (the consumer asks for
/// the schema before decoding, and the decode then inflates the body once).
pub(crate) fn schema_ref(
    data: &[u8],
    metadata: Option<&SchemaMetadata>,
    header: Option<&[u8]>,
    header_name: &str,
    sniff: Sniff,
) -> Option<SchemaRef> {
    if metadata.is_some() || header.is_some() {
        // Neither reads past the framing.
        return unframe(data, metadata, header, header_name, "", sniff).ok()?.schema;
    }
    match sniff {
        Sniff::Never => None,
        Sniff::Safe if is_avro_single_object(data) => None,
        Sniff::Safe | Sniff::Required if starts_with_magic(data) => prefix_schema(data),
        Sniff::Safe | Sniff::Required => None,
    }
}

/// The schema a registry prefix names, from the prefix alone.
fn prefix_schema(data: &[u8]) -> Option<SchemaRef> {
    match data {
        [0x03, 0x05, rest @ ..] => rest.get(..16).map(|id| SchemaRef::GlueVersion(uuid(id))),
        _ => unframe_prefix(data).ok()?.schema,
    }
}

fn bare(data: &[u8]) -> Unframed<'_> {
    Unframed {
        kind: FramingKind::None,
        schema: None,
        data: Cow::Borrowed(data),
        header_indexes: None,
        index_layout: IndexLayout::None,
    }
}

/// Whether `data` starts with a registry magic byte sequence.
pub(crate) fn starts_with_magic(data: &[u8]) -> bool {
    matches!(data, [0x00, ..] | [0x01, ..] | [0x03, 0x00 | 0x05, ..]) || is_avro_single_object(data)
}

/// Whether `data` starts with Avro's single-object marker.
fn is_avro_single_object(data: &[u8]) -> bool {
    data.starts_with(&[0xC3, 0x01])
}

fn from_metadata<'a>(data: &'a [u8], metadata: &SchemaMetadata) -> Unframed<'a> {
    let schema = SchemaRef::from_schema_id(&metadata.schema_id);
    let index_layout = match schema {
        _ if !metadata.data_format.eq_ignore_ascii_case("PROTOBUF") => IndexLayout::None,
        Some(SchemaRef::GlueVersion(_)) => IndexLayout::Glue,
        _ => IndexLayout::Confluent,
    };
    Unframed {
        kind: FramingKind::EventMetadata,
        schema,
        data: Cow::Borrowed(data),
        header_indexes: None,
        index_layout,
    }
}

fn from_header<'a>(
    data: &'a [u8],
    header: &'a [u8],
    name: &str,
) -> Result<Unframed<'a>, FramingError> {
    let (schema, rest) = match header {
        [0x00, id @ ..] if id.len() >= 4 => {
            (SchemaRef::ConfluentId(u32::from_be_bytes([id[0], id[1], id[2], id[3]])), &id[4..])
        }
        [0x01, guid @ ..] if guid.len() >= 16 => (SchemaRef::ConfluentGuid(uuid(guid)), &guid[16..]),
        [] => return Err(err(format!("the `{name}` header is empty"))),
        [magic, ..] => {
            return Err(err(format!(
                "the `{name}` header does not hold a schema id: it starts with 0x{magic:02x}, not 0x00 (id) or 0x01 (GUID), or is too short ({} bytes)",
                header.len()
            )))
        }
    };
    Ok(Unframed {
        kind: FramingKind::Header,
        schema: Some(schema),
        data: Cow::Borrowed(data),
        header_indexes: Some(rest),
        index_layout: IndexLayout::Confluent,
    })
}

fn uuid(bytes: &[u8]) -> Uuid {
    let mut out = [0u8; 16];
    out.copy_from_slice(&bytes[..16]);
    Uuid(out)
}

/// Takes off the framing a payload starts with (bare data when it starts with none).
pub(crate) fn unframe_prefix(data: &[u8]) -> Result<Unframed<'_>, FramingError> {
    let short = |what: &str, need: usize| {
        err(format!("{what} framing needs at least {need} bytes, the payload has {}", data.len()))
    };
    let (kind, schema, rest, layout) = match data {
        [0x00, rest @ ..] => {
            let id = rest.get(..4).ok_or_else(|| short("Confluent", 5))?;
            let id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
            (FramingKind::Confluent, SchemaRef::ConfluentId(id), &rest[4..], IndexLayout::Confluent)
        }
        [0x01, rest @ ..] => {
            let guid = rest.get(..16).ok_or_else(|| short("Confluent GUID", 17))?;
            (
                FramingKind::ConfluentGuid,
                SchemaRef::ConfluentGuid(uuid(guid)),
                &rest[16..],
                IndexLayout::Confluent,
            )
        }
        [0x03, compression, rest @ ..] => {
            let id = rest.get(..16).ok_or_else(|| short("AWS Glue", 18))?;
            let schema = SchemaRef::GlueVersion(uuid(id));
            let body = &rest[16..];
            let data = match compression {
                0x00 => Cow::Borrowed(body),
                0x05 => Cow::Owned(
                    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(body, INFLATE_LIMIT)
                        .map_err(|e| {
                            err(format!(
                                "AWS Glue zlib-compressed data ({schema}) does not inflate: {:?}",
                                e.status
                            ))
                        })?,
                ),
                other => {
                    return Err(err(format!(
                        "AWS Glue framing with unknown compression byte 0x{other:02x} (0x00 none and 0x05 zlib are defined)"
                    )))
                }
            };
            return Ok(Unframed {
                kind: FramingKind::Glue,
                schema: Some(schema),
                data,
                header_indexes: None,
                index_layout: IndexLayout::Glue,
            });
        }
        [0x03] => return Err(short("AWS Glue", 18)),
        [0xC3, 0x01, rest @ ..] => {
            let fp = rest.get(..8).ok_or_else(|| short("Avro single-object", 10))?;
            let fp = u64::from_le_bytes([fp[0], fp[1], fp[2], fp[3], fp[4], fp[5], fp[6], fp[7]]);
            (
                FramingKind::AvroSingleObject,
                SchemaRef::AvroFingerprint(fp),
                &rest[8..],
                IndexLayout::None,
            )
        }
        _ => return Ok(bare(data)),
    };
    Ok(Unframed {
        kind,
        schema: Some(schema),
        data: Cow::Borrowed(rest),
        header_indexes: None,
        index_layout: layout,
    })
}

/// The path of a Protobuf message in its schema file, read from the data's leading message
/// indexes.
///
/// - Confluent: a zigzag varint count, then that many zigzag varints: the top-level message's
///   position in the file, then the nested message's position in it, and so on. A count of 0
///   (the single byte `0x00`) means `[0]`, the first message. Source: confluent-kafka-python
///   `schema_registry/common/serde.py` `_read_index_array` / `_encode_varints(zigzag=True)`.
/// - AWS Glue: one unsigned varint, the message's position in a level-order walk of every message
///   of the file (names sorted at each level). Source: awslabs/aws-glue-schema-registry
///   `ProtobufWireFormatDecoder.java` (`readUInt32`), `MessageIndexFinder.java`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageIndexes {
    /// A Confluent index path, `[0]` being the first top-level message.
    Confluent(Vec<i32>),
    /// A Glue flat message position.
    Glue(u32),
    /// No indexes: bare Protobuf data.
    None,
}

/// The most indexes a Confluent path may have (confluent-kafka-python rejects more).
const MAX_INDEXES: i64 = 100_000;

impl Unframed<'_> {
    /// Reads the Protobuf message indexes (in the data, or in the schema-id header in
    /// Confluent's header mode), returning them and the message bytes after them.
    pub fn protobuf_message(&self) -> Result<(MessageIndexes, &[u8]), FramingError> {
        match (self.index_layout, self.header_indexes) {
            (IndexLayout::None, _) => Ok((MessageIndexes::None, &self.data)),
            (IndexLayout::Confluent, Some(in_header)) => {
                // Header mode: the indexes follow the id in the header; the data is the message.
                let (indexes, _) = confluent_indexes(in_header)?;
                Ok((MessageIndexes::Confluent(indexes), &self.data))
            }
            (IndexLayout::Confluent, None) => {
                let (indexes, used) = confluent_indexes(&self.data)?;
                Ok((MessageIndexes::Confluent(indexes), &self.data[used..]))
            }
            (IndexLayout::Glue, _) => {
                let (index, used) = varint(&self.data, 0).ok_or_else(|| {
                    err("the AWS Glue Protobuf message index (an unsigned varint) is missing or cut short")
                })?;
                let index = u32::try_from(index)
                    .map_err(|_| err("the AWS Glue Protobuf message index is above 2^32"))?;
                Ok((MessageIndexes::Glue(index), &self.data[used..]))
            }
        }
    }
}

/// Reads a Confluent index array; returns it and the bytes it took.
pub(crate) fn confluent_indexes(data: &[u8]) -> Result<(Vec<i32>, usize), FramingError> {
    let (count, mut at) = zigzag(data, 0).ok_or_else(|| {
        err("the Confluent Protobuf message-index count (a zigzag varint) is missing or cut short")
    })?;
    if count == 0 {
        return Ok((vec![0], at));
    }
    if !(0..=MAX_INDEXES).contains(&count) {
        return Err(err(format!(
            "the Confluent Protobuf message-index count is {count}, outside 0..={MAX_INDEXES}"
        )));
    }
    let mut indexes = Vec::with_capacity((count as usize).min(16));
    for i in 0..count {
        let (index, next) = zigzag(data, at).ok_or_else(|| {
            err(format!("Confluent Protobuf message index {i} of {count} is missing or cut short"))
        })?;
        let index = i32::try_from(index)
            .ok()
            .filter(|i| *i >= 0)
            .ok_or_else(|| err(format!("Confluent Protobuf message index {i} is {index}")))?;
        indexes.push(index);
        at = next;
    }
    Ok((indexes, at))
}

/// An unsigned LEB128 varint at `at` (at most 10 bytes); returns it and the next position.
fn varint(data: &[u8], mut at: usize) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(at)?;
        at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((value, at));
        }
    }
    None
}

/// A zigzag-encoded signed varint.
fn zigzag(data: &[u8], at: usize) -> Option<(i64, usize)> {
    let (raw, next) = varint(data, at)?;
    Some((((raw >> 1) as i64) ^ -((raw & 1) as i64), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confluent_indexes_are_zigzag() {
        // [0] as the single-byte shortcut, [1] = 02 02, [0, 2] = 04 00 04 (confluent-kafka-python).
        assert_eq!(confluent_indexes(&[0x00, 0x0a]).unwrap(), (vec![0], 1));
        assert_eq!(confluent_indexes(&[0x02, 0x02, 0x0a]).unwrap(), (vec![1], 2));
        assert_eq!(confluent_indexes(&[0x04, 0x00, 0x04]).unwrap(), (vec![0, 2], 3));
        // 64 → zigzag 128 → two bytes 0x80 0x01.
        assert_eq!(confluent_indexes(&[0x02, 0x80, 0x01]).unwrap(), (vec![64], 3));
        // Python Powertools reads 02 02 as count 2 (no zigzag): we read count 1, index 1.
        assert!(confluent_indexes(&[0x01]).is_err(), "count -1");
        assert!(confluent_indexes(&[0x02]).is_err(), "cut short");
        assert!(confluent_indexes(&[0x80]).is_err(), "varint cut short");
    }

    #[test]
    fn glue_index_is_one_unsigned_varint() {
        let unframed = Unframed {
            kind: FramingKind::EventMetadata,
            schema: None,
            data: Cow::Borrowed(&[0x80, 0x01, 0x0a, 0x01, 0x41]),
            header_indexes: None,
            index_layout: IndexLayout::Glue,
        };
        let (indexes, rest) = unframed.protobuf_message().unwrap();
        assert_eq!(indexes, MessageIndexes::Glue(128));
        assert_eq!(rest, &[0x0a, 0x01, 0x41]);
    }

    #[test]
    fn uuids_round_trip() {
        let text = "574f6a9a-3b2c-4d1e-8f00-0123456789ab";
        let uuid = Uuid::parse(text).unwrap();
        assert_eq!(uuid.to_string(), text);
        assert_eq!(Uuid::parse(&text.to_uppercase()), Some(uuid));
        assert_eq!(Uuid::parse("574f6a9a3b2c4d1e8f000123456789abcdef"), None);
        assert_eq!(SchemaRef::from_schema_id("17"), Some(SchemaRef::ConfluentId(17)));
        assert_eq!(SchemaRef::from_schema_id(text), Some(SchemaRef::GlueVersion(uuid)));
        assert_eq!(SchemaRef::from_schema_id("x"), None);
    }

    #[test]
    fn prefixes() {
        let u = unframe_prefix(&[0x00, 0, 0, 1, 2, 0xAA]).unwrap();
        assert_eq!((u.kind, u.schema), (FramingKind::Confluent, Some(SchemaRef::ConfluentId(258))));
        assert_eq!(&*u.data, &[0xAA]);
        assert!(unframe_prefix(&[0x00, 0, 0]).unwrap_err().0.contains("at least 5 bytes"));
        let mut glue = vec![0x03, 0x05];
        glue.extend([7u8; 16]);
        glue.extend(miniz_oxide::deflate::compress_to_vec_zlib(b"{\"a\":1}", 6));
        let u = unframe_prefix(&glue).unwrap();
        assert_eq!(u.kind, FramingKind::Glue);
        assert_eq!(&*u.data, b"{\"a\":1}");
        glue[1] = 0x02;
        assert!(unframe_prefix(&glue).unwrap_err().0.contains("compression byte 0x02"));
        glue[1] = 0x05;
        glue.truncate(20);
        assert!(unframe_prefix(&glue).unwrap_err().0.contains("does not inflate"));
    }

    #[test]
    fn schema_refs_are_read_from_the_prefix_alone() {
        let sniffed = |data: &[u8]| schema_ref(data, None, None, "__value_schema_id", Sniff::Safe);
        let mut glue = vec![0x03, 0x05];
        glue.extend([7u8; 16]);
        glue.extend(miniz_oxide::deflate::compress_to_vec_zlib(b"{\"a\":1}", 6));
        let confluent = [0x00, 0, 0, 1, 2, 0xAA];
        let mut guid = vec![0x01];
        guid.extend([9u8; 16]);
        let mut single_object = vec![0xC3, 0x01];
        single_object.extend([1, 2, 3, 4, 5, 6, 7, 8, 0x02]);
        for data in [&glue[..], &confluent, &guid] {
            assert_eq!(sniffed(data), unframe_prefix(data).unwrap().schema, "{data:?}");
        }
        // Avro's single-object marker frames only what may be Avro: under `Safe` (JSON,
        // Protobuf) the same bytes are a Protobuf message whose first field is 24, a group.
        let required = |data: &[u8]| schema_ref(data, None, None, "h", Sniff::Required);
        assert_eq!(required(&single_object), unframe_prefix(&single_object).unwrap().schema);
        assert_eq!(sniffed(&single_object), None);
        let bare = unframe(&single_object, None, None, "h", "value", Sniff::Safe).unwrap();
        assert_eq!((bare.kind, &*bare.data), (FramingKind::None, &single_object[..]));
        // Not inflated: a body that does not inflate still names its schema (the decode then
        // fails the record, naming it).
        glue.truncate(20);
        assert_eq!(sniffed(&glue), Some(SchemaRef::GlueVersion(uuid(&[7u8; 16]))));
        // What unframing rejects names nothing.
        glue[1] = 0x02;
        assert_eq!(sniffed(&glue), None);
        assert_eq!(sniffed(&[0x00, 0, 0]), None);
        assert_eq!(sniffed(b"{}"), None);
        assert_eq!(schema_ref(&confluent, None, None, "h", Sniff::Never), None);
        // A header names the schema whatever the data starts with.
        let header = br#"{"a":1}"#;
        let with_header = schema_ref(header, None, Some(&[0x00, 0, 0, 0, 9]), "h", Sniff::Safe);
        let unframed = unframe(header, None, Some(&[0x00, 0, 0, 0, 9]), "h", "value", Sniff::Safe);
        assert_eq!(with_header, unframed.unwrap().schema);
    }
}
