//! Reading an Avro datum straight into a serde type, without apache-avro's `Value` tree.
//!
//! apache-avro reads a datum into a [`Value`](apache_avro::types::Value) (a tree with every
//! string, and every record field's name, copied into its own allocation), resolves that tree
//! against the reader schema, then deserializes the type from it. When the writer schema *is*
//! the reader schema there is nothing to resolve, and this module walks the bytes and the schema
//! together instead, handing each item to the type's visitor as it is read.
//!
//! It is a fast path, never the only path:
//! - it is used only for schemas [`supported`] says it reads exactly as apache-avro does (no
//!   named references, no decimal, uuid or duration logical types);
//! - each `Deserializer` method does what the same method of `apache_avro::de` does for the
//!   `Value` apache-avro would have decoded, or fails;
//! - any failure, of the data or of the type, sends the record back through apache-avro, whose
//!   result (and error message) is then the one the handler sees.
//!
//! So where this module succeeds it agrees with apache-avro, which the differential property
//! test in tests/tests/avro_direct.rs checks on generated types and data.

use std::fmt;

use apache_avro::schema::{RecordField, UnionSchema};
use apache_avro::Schema;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;

/// Whether every part of `schema` is one this module reads exactly as apache-avro does.
pub(super) fn supported(schema: &Schema) -> bool {
    match schema {
        Schema::Null
        | Schema::Boolean
        | Schema::Int
        | Schema::Long
        | Schema::Float
        | Schema::Double
        | Schema::Bytes
        | Schema::String
        | Schema::Enum(_)
        | Schema::Fixed(_)
        | Schema::Date
        | Schema::TimeMillis
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => true,
        Schema::Array(array) => supported(&array.items),
        Schema::Map(map) => supported(&map.types),
        // A union directly inside a union is not valid Avro; apache-avro's parser refuses it.
        Schema::Union(union) => {
            union.variants().iter().all(|v| !matches!(v, Schema::Union(_)) && supported(v))
        }
        Schema::Record(record) => record.fields.iter().all(|f| supported(&f.schema)),
        Schema::Decimal(_)
        | Schema::BigDecimal
        | Schema::Uuid
        | Schema::Duration
        | Schema::Ref { .. } => false,
    }
}

/// Reads the datum `data` (all of it) written with `schema` into a `T`, or `None` when this
/// module cannot: the caller then reads it with apache-avro.
pub(super) fn read<T: DeserializeOwned>(data: &[u8], schema: &Schema) -> Option<T> {
    let mut input = Input { data };
    let value = T::deserialize(Datum { input: &mut input, schema }).ok()?;
    input.data.is_empty().then_some(value)
}

/// Why this module gave up on a datum; never shown: the record is read again by apache-avro.
#[derive(Debug)]
pub(super) struct GaveUp;

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not read by the direct Avro reader")
    }
}

impl std::error::Error for GaveUp {}

impl de::Error for GaveUp {
    fn custom<T: fmt::Display>(_: T) -> Self {
        GaveUp
    }
}

type Result<T> = std::result::Result<T, GaveUp>;

/// The bytes not read yet.
struct Input<'de> {
    data: &'de [u8],
}

/// How many items of an array or map block may take no bytes (see [`Input::block`]).
const MAX_EMPTY_ITEMS: usize = 1 << 16;

impl<'de> Input<'de> {
    fn take(&mut self, n: usize) -> Result<&'de [u8]> {
        if n > self.data.len() {
            return Err(GaveUp);
        }
        let (taken, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A zigzag varint, as apache-avro's `zag_i64` reads it: at most 10 bytes, bits past the
    /// 64th dropped.
    fn long(&mut self) -> Result<i64> {
        let mut raw = 0u64;
        for shift in (0..10).map(|i| i * 7) {
            let byte = self.byte()?;
            raw |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                #[allow(clippy::cast_possible_wrap)] // zigzag: the top bit is the sign
                return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
            }
        }
        Err(GaveUp)
    }

    fn int(&mut self) -> Result<i32> {
        i32::try_from(self.long()?).map_err(|_| GaveUp)
    }

    fn len(&mut self) -> Result<usize> {
        usize::try_from(self.long()?).map_err(|_| GaveUp)
    }

    /// The item count of the next block of an array or map (0: the end), skipping the block's
    /// byte size when the count is written negative. A count past what the bytes left could
    /// hold is given up on: items of a zero-size type (`null`, an empty record) take no bytes,
    /// and a corrupt count of them would otherwise loop for as long as it says.
    fn block(&mut self) -> Result<usize> {
        let count = match self.long()? {
            negative @ ..0 => {
                self.long()?;
                negative.checked_neg().ok_or(GaveUp)?
            }
            count => count,
        };
        let count = usize::try_from(count).map_err(|_| GaveUp)?;
        if count > self.data.len().saturating_add(MAX_EMPTY_ITEMS) {
            return Err(GaveUp);
        }
        Ok(count)
    }

    fn bytes(&mut self) -> Result<&'de [u8]> {
        let len = self.len()?;
        self.take(len)
    }

    fn str(&mut self) -> Result<&'de str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| GaveUp)
    }

    fn bool(&mut self) -> Result<bool> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(GaveUp),
        }
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?.try_into().map_err(|_| GaveUp)
    }

    /// A union's branch: its index, then the branch's schema.
    fn branch<'s>(&mut self, union: &'s UnionSchema) -> Result<&'s Schema> {
        let index = self.len()?;
        union.variants().get(index).ok_or(GaveUp)
    }

    fn symbol<'s>(&mut self, symbols: &'s [String]) -> Result<&'s str> {
        let index = usize::try_from(self.int()?).map_err(|_| GaveUp)?;
        symbols.get(index).map(String::as_str).ok_or(GaveUp)
    }
}

/// One datum of `schema`, at the front of `input`.
struct Datum<'a, 'de> {
    input: &'a mut Input<'de>,
    schema: &'a Schema,
}

impl<'a, 'de> Datum<'a, 'de> {
    fn with(self, schema: &'a Schema) -> Self {
        Datum { input: self.input, schema }
    }
}

impl<'de> de::Deserializer<'de> for Datum<'_, 'de> {
    type Error = GaveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.schema {
            Schema::Null => visitor.visit_unit(),
            Schema::Boolean => visitor.visit_bool(self.input.bool()?),
            Schema::Int | Schema::Date | Schema::TimeMillis => visitor.visit_i32(self.input.int()?),
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => visitor.visit_i64(self.input.long()?),
            Schema::Float => visitor.visit_f32(f32::from_le_bytes(self.input.fixed()?)),
            Schema::Double => visitor.visit_f64(f64::from_le_bytes(self.input.fixed()?)),
            Schema::Bytes => visitor.visit_bytes(self.input.bytes()?),
            Schema::String => visitor.visit_borrowed_str(self.input.str()?),
            Schema::Fixed(fixed) => visitor.visit_bytes(self.input.take(fixed.size)?),
            Schema::Enum(e) => visitor.visit_str(self.input.symbol(&e.symbols)?),
            Schema::Array(array) => visitor.visit_seq(Items::new(self.input, &array.items)),
            Schema::Map(map) => visitor.visit_map(Entries::new(self.input, &map.types)),
            Schema::Record(record) => visitor.visit_map(Fields::new(self.input, &record.fields)),
            Schema::Union(union) => {
                let branch = self.input.branch(union)?;
                self.with(branch).deserialize_any(visitor)
            }
            _ => Err(GaveUp),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64
    }

    fn deserialize_char<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(GaveUp)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.schema {
            Schema::String | Schema::Bytes => visitor.visit_borrowed_str(self.input.str()?),
            Schema::Fixed(fixed) => visitor.visit_borrowed_str(
                std::str::from_utf8(self.input.take(fixed.size)?).map_err(|_| GaveUp)?,
            ),
            _ => Err(GaveUp),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.schema {
            Schema::Enum(e) => visitor.visit_str(self.input.symbol(&e.symbols)?),
            Schema::Union(union) => match self.input.branch(union)? {
                branch @ (Schema::String | Schema::Bytes | Schema::Fixed(_)) => {
                    self.with(branch).deserialize_string(visitor)
                }
                _ => Err(GaveUp),
            },
            Schema::String => visitor.visit_borrowed_str(self.input.str()?),
            Schema::Bytes => visitor.visit_string(self.input.str()?.to_owned()),
            Schema::Fixed(fixed) => visitor.visit_string(
                std::str::from_utf8(self.input.take(fixed.size)?).map_err(|_| GaveUp)?.to_owned(),
            ),
            _ => Err(GaveUp),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.schema {
            // A string's bytes are checked to be UTF-8, as apache-avro checks them.
            Schema::String => visitor.visit_bytes(self.input.str()?.as_bytes()),
            Schema::Bytes => visitor.visit_bytes(self.input.bytes()?),
            Schema::Fixed(fixed) => visitor.visit_bytes(self.input.take(fixed.size)?),
            _ => Err(GaveUp),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.schema {
            Schema::String => visitor.visit_byte_buf(self.input.str()?.as_bytes().to_vec()),
            Schema::Bytes => visitor.visit_byte_buf(self.input.bytes()?.to_vec()),
            Schema::Fixed(fixed) => visitor.visit_byte_buf(self.input.take(fixed.size)?.to_vec()),
            _ => Err(GaveUp),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let Schema::Union(union) = self.schema else { return Err(GaveUp) };
        match self.input.branch(union)? {
            Schema::Null => visitor.visit_none(),
            branch => visitor.visit_some(self.with(branch)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.schema {
            Schema::Null => visitor.visit_unit(),
            Schema::Union(union) => match self.input.branch(union)? {
                Schema::Null => visitor.visit_unit(),
                _ => Err(GaveUp),
            },
            _ => Err(GaveUp),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.schema {
            Schema::Array(array) => visitor.visit_seq(Items::new(self.input, &array.items)),
            Schema::Union(union) => match self.input.branch(union)? {
                Schema::Array(array) => visitor.visit_seq(Items::new(self.input, &array.items)),
                Schema::Null => visitor.visit_seq(Items::empty(self.input)),
                _ => Err(GaveUp),
            },
            _ => Err(GaveUp),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.schema {
            Schema::Map(map) => visitor.visit_map(Entries::new(self.input, &map.types)),
            Schema::Record(record) => visitor.visit_map(Fields::new(self.input, &record.fields)),
            _ => Err(GaveUp),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.schema {
            Schema::Record(record) => visitor.visit_map(Fields::new(self.input, &record.fields)),
            Schema::Union(union) => match self.input.branch(union)? {
                Schema::Record(record) => {
                    visitor.visit_map(Fields::new(self.input, &record.fields))
                }
                Schema::Null => visitor.visit_map(Fields::new(self.input, &[])),
                _ => Err(GaveUp),
            },
            _ => Err(GaveUp),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        // apache-avro also reads unions and records into Rust enums, by rules of its own: those
        // are left to it.
        let symbol = match self.schema {
            Schema::Enum(e) => self.input.symbol(&e.symbols)?,
            Schema::String => self.input.str()?,
            _ => return Err(GaveUp),
        };
        visitor.visit_enum(UnitVariant(symbol))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        // What apache-avro's deserializer answers (this sets the flag to its default when
        // nothing has set it yet, as apache-avro's own first read does).
        apache_avro::util::set_serde_human_readable(apache_avro::util::DEFAULT_SERDE_HUMAN_READABLE)
    }
}

/// A record's fields, in schema order, keyed by name.
struct Fields<'a, 'de> {
    input: &'a mut Input<'de>,
    fields: std::slice::Iter<'a, RecordField>,
    next: Option<&'a Schema>,
}

impl<'a, 'de> Fields<'a, 'de> {
    fn new(input: &'a mut Input<'de>, fields: &'a [RecordField]) -> Self {
        Fields { input, fields: fields.iter(), next: None }
    }
}

impl<'de> MapAccess<'de> for Fields<'_, 'de> {
    type Error = GaveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some(field) = self.fields.next() else { return Ok(None) };
        self.next = Some(&field.schema);
        seed.deserialize(Key(&field.name)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let schema = self.next.take().ok_or(GaveUp)?;
        seed.deserialize(Datum { input: self.input, schema })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len())
    }
}

/// An array's items, block by block.
struct Items<'a, 'de> {
    input: &'a mut Input<'de>,
    items: Option<&'a Schema>,
    left: usize,
}

impl<'a, 'de> Items<'a, 'de> {
    fn new(input: &'a mut Input<'de>, items: &'a Schema) -> Self {
        Items { input, items: Some(items), left: 0 }
    }

    fn empty(input: &'a mut Input<'de>) -> Self {
        Items { input, items: None, left: 0 }
    }
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = GaveUp;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let Some(schema) = self.items else { return Ok(None) };
        if self.left == 0 {
            self.left = self.input.block()?;
            if self.left == 0 {
                self.items = None;
                return Ok(None);
            }
        }
        self.left -= 1;
        seed.deserialize(Datum { input: self.input, schema }).map(Some)
    }
}

/// A map's entries, block by block.
struct Entries<'a, 'de> {
    input: &'a mut Input<'de>,
    values: Option<&'a Schema>,
    left: usize,
}

impl<'a, 'de> Entries<'a, 'de> {
    fn new(input: &'a mut Input<'de>, values: &'a Schema) -> Self {
        Entries { input, values: Some(values), left: 0 }
    }
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = GaveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.values.is_none() {
            return Ok(None);
        }
        if self.left == 0 {
            self.left = self.input.block()?;
            if self.left == 0 {
                self.values = None;
                return Ok(None);
            }
        }
        self.left -= 1;
        let key = self.input.str()?;
        seed.deserialize(Key(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let schema = self.values.ok_or(GaveUp)?;
        seed.deserialize(Datum { input: self.input, schema })
    }
}

/// A field name or map key. apache-avro hands every one to the visitor as an owned `String`
/// whatever is asked for (its `StringDeserializer`); this hands it as `&str`, which every
/// visitor that takes strings reads the same.
struct Key<'a>(&'a str);

impl<'de> de::Deserializer<'de> for Key<'_> {
    type Error = GaveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_str(self.0)
    }

    forward_to_deserialize_any! {
        bool u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 char str string unit option
        seq bytes byte_buf map unit_struct newtype_struct
        tuple_struct struct tuple enum identifier ignored_any
    }
}

/// A unit variant named by an Avro enum symbol (apache-avro's `EnumUnitDeserializer`).
struct UnitVariant<'a>(&'a str);

impl<'de, 'a> de::EnumAccess<'de> for UnitVariant<'a> {
    type Error = GaveUp;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        Ok((seed.deserialize(Key(self.0))?, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'_> {
    type Error = GaveUp;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value> {
        Err(GaveUp)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value> {
        Err(GaveUp)
    }

    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], _: V) -> Result<V::Value> {
        Err(GaveUp)
    }
}
