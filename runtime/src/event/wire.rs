//! The event's wire types, as Lambda writes them, and their serde impls: together the general
//! parser (serde_json fills them), which reads every form JSON allows and words every error. The
//! fast parser (`fast_parser`) fills the same types for the plain form.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::record::{SchemaMetadata, TimestampType};

/// The envelope's fields; everything else (`Records`, unknown fields) is skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Wire<'a> {
    #[serde(borrow, default)]
    pub event_source: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub event_source_arn: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub bootstrap_servers: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub records: Option<PartitionMap<'a>>,
    #[serde(rename = "Records", default)]
    pub upper_records: Option<IgnoredAny>,
    /// The headers the fast parser decoded, of all records (see [`RawHeaders::Decoded`]).
    #[serde(skip)]
    pub headers: Vec<u8>,
}

/// The `records` object, entries kept in event order.
pub(crate) struct PartitionMap<'a>(pub Vec<PartitionBatch<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for PartitionMap<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = PartitionMap<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of \"<topic>-<partition>\": [records]")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut partitions = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(key) = map.next_key::<Text<'a>>()? {
                    let records = map.next_value::<Vec<RawRecord<'a>>>()?;
                    partitions.push(PartitionBatch { key, records, headers: Bytes::new() });
                }
                Ok(PartitionMap(partitions))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The records of one `records` map entry, sorted by offset.
#[derive(Debug)]
pub(crate) struct PartitionBatch<'a> {
    /// The records-map key, `"<topic>-<partition>"`, used verbatim in the response.
    pub key: Text<'a>,
    pub records: Vec<RawRecord<'a>>,
    /// The decoded headers of the event's records, shared (see [`RawHeaders::Decoded`]).
    pub headers: Bytes,
}

/// One record as Lambda sent it: payloads still base64 text.
///
/// serde's derived impl is kept as the inherent `RawRecord::deserialize` (`remote = "Self"`)
/// and reached only through an object: a derived struct would also take a JSON array as its
/// fields in order, which no Kafka event holds.
#[derive(Debug, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub(crate) struct RawRecord<'a> {
    #[serde(borrow)]
    pub topic: Text<'a>,
    pub partition: i32,
    pub offset: i64,
    #[serde(default)]
    pub timestamp: i64,
    #[serde(default)]
    pub timestamp_type: TimestampType,
    #[serde(borrow, default)]
    pub key: Option<Base64<'a>>,
    #[serde(borrow, default)]
    pub value: Option<Base64<'a>>,
    /// Decoded only when the record runs (see [`crate::event::decode_headers`]).
    #[serde(borrow, default)]
    pub headers: RawHeaders<'a>,
    #[serde(default)]
    pub key_schema_metadata: Option<Box<SchemaMetadata>>,
    #[serde(default)]
    pub value_schema_metadata: Option<Box<SchemaMetadata>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for RawRecord<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawRecord<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a record object ({\"topic\": …, \"partition\": …, \"offset\": …})")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawRecord::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A JSON string, borrowed from the event unless it contained escapes.
///
/// (serde's own `Cow<str>` borrows only as a direct field, not inside `Option`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// A JSON string holding base64, as bytes: borrowed unless it had escapes, and not checked
/// for UTF-8 (base64 decoding checks every character anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Base64<'a>(pub Cow<'a, [u8]>);

impl<'de: 'a, 'a> Deserialize<'de> for Base64<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Base64<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
                Ok(Base64(Cow::Borrowed(v)))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(Base64(Cow::Owned(v.to_vec())))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Base64(Cow::Borrowed(v.as_bytes())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Base64(Cow::Owned(v.as_bytes().to_vec())))
            }
        }
        d.deserialize_bytes(V(std::marker::PhantomData))
    }
}

/// A record's headers as the parser left them.
#[derive(Debug, Default, Clone)]
pub(crate) enum RawHeaders<'a> {
    /// Absent or `null`: no headers.
    #[default]
    Absent,
    /// The JSON text, decoded when the record runs (the serde path).
    Json(&'a RawValue),
    /// Already decoded by the fast path, which writes the headers of all records into one
    /// buffer (the partition's `headers`): this record's part and header count.
    Decoded { start: u32, end: u32, count: u32 },
}

impl<'de: 'a, 'a> Deserialize<'de> for RawHeaders<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<&'a RawValue>::deserialize(d)? {
            Some(raw) => RawHeaders::Json(raw),
            None => RawHeaders::Absent,
        })
    }
}
