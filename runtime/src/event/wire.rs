//! The event's wire types, as Lambda writes them, and their serde impls: together the general
//! parser (serde_json fills them), which reads every form JSON allows and words every error. The
//! fast parser (`fast_parser`) fills the same types for the plain form.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::record::{SchemaMetadata, Schemas, TimestampType};

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
                    let records = map.next_value::<Vec<WireRecord<'a>>>()?;
                    partitions.push(PartitionBatch::from_wire(key, records));
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
    /// The records-map key, `"<topic>-<partition>"`, which the response names. A hand-made key
    /// that is not its records' `<topic>-<partition>` (`mytopic-01`) is replaced by that, with a
    /// warning (see `check_partition`): Lambda itself always writes it so.
    pub key: Text<'a>,
    /// The topic of the first record, which every record has (the fast parser declines an
    /// entry that mixes topics; the general parser notes the first in `other_topic`, which the
    /// event's checks turn into its error).
    pub topic: Text<'a>,
    /// The first record (its index) whose topic is not `topic`, and that topic.
    pub other_topic: Option<(usize, Text<'a>)>,
    pub records: Vec<RawRecord<'a>>,
    /// The decoded headers of the event's records, shared (see [`RawHeaders::Decoded`]).
    pub headers: Bytes,
}

impl<'a> PartitionBatch<'a> {
    /// An entry as the general parser read it: each record's topic kept once, for all.
    fn from_wire(key: Text<'a>, records: Vec<WireRecord<'a>>) -> Self {
        let mut topic = None;
        let mut other_topic = None;
        let records = records
            .into_iter()
            .enumerate()
            .map(|(i, WireRecord { topic: own, record })| {
                match &topic {
                    None => topic = Some(own),
                    Some(first) if other_topic.is_none() && *first != own => {
                        other_topic = Some((i, own));
                    }
                    Some(_) => {}
                }
                record
            })
            .collect();
        PartitionBatch {
            key,
            topic: topic.unwrap_or(Text(Cow::Borrowed(""))),
            other_topic,
            records,
            headers: Bytes::new(),
        }
    }
}

/// A record as the general parser reads it: its topic, and the rest.
struct WireRecord<'a> {
    topic: Text<'a>,
    record: RawRecord<'a>,
}

/// One record as Lambda sent it, but for its topic (which its partition holds, see
/// [`PartitionBatch::topic`]): payloads still base64 text.
///
/// serde's derived impl (of [`RecordFields`]) is reached only through an object: a derived
/// struct would also take a JSON array as its fields in order, which no Kafka event holds.
#[derive(Debug)]
pub(crate) struct RawRecord<'a> {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub timestamp_type: TimestampType,
    pub key: Option<Base64<'a>>,
    pub value: Option<Base64<'a>>,
    /// Decoded only when the record runs (see [`crate::event::decode_headers`]).
    pub headers: RawHeaders<'a>,
    /// `keySchemaMetadata` and `valueSchemaMetadata`.
    pub schemas: Option<Box<Schemas>>,
}

/// A record's fields as serde reads them, in Lambda's order.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordFields<'a> {
    #[serde(borrow)]
    topic: Text<'a>,
    partition: i32,
    offset: i64,
    #[serde(default)]
    timestamp: i64,
    #[serde(default)]
    timestamp_type: TimestampType,
    #[serde(borrow, default)]
    key: Option<Base64<'a>>,
    #[serde(borrow, default)]
    value: Option<Base64<'a>>,
    /// Decoded only when the record runs (see [`crate::event::decode_headers`]).
    #[serde(borrow, default)]
    headers: RawHeaders<'a>,
    #[serde(default)]
    key_schema_metadata: Option<SchemaMetadata>,
    #[serde(default)]
    value_schema_metadata: Option<SchemaMetadata>,
}

impl<'de: 'a, 'a> Deserialize<'de> for WireRecord<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = WireRecord<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a record object ({\"topic\": …, \"partition\": …, \"offset\": …})")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let f = RecordFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(WireRecord {
                    topic: f.topic,
                    record: RawRecord {
                        partition: f.partition,
                        offset: f.offset,
                        timestamp: f.timestamp,
                        timestamp_type: f.timestamp_type,
                        key: f.key,
                        value: f.value,
                        headers: f.headers,
                        schemas: Schemas::boxed(f.key_schema_metadata, f.value_schema_metadata),
                    },
                })
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

/// A record's headers as the parser left them (16 bytes: one of these a record).
#[derive(Debug, Clone)]
pub(crate) enum RawHeaders<'a> {
    /// The JSON text, decoded when the record runs (the serde path).
    Json(&'a RawValue),
    /// Already decoded by the fast path, which writes the headers of all records into one
    /// buffer (the partition's `headers`): this record's part. Absent or `null` headers are
    /// an empty part.
    Decoded { start: u32, end: u32 },
}

impl Default for RawHeaders<'_> {
    /// Absent: no headers.
    fn default() -> Self {
        RawHeaders::Decoded { start: 0, end: 0 }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawHeaders<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<&'a RawValue>::deserialize(d)? {
            Some(raw) => RawHeaders::Json(raw),
            None => RawHeaders::default(),
        })
    }
}
