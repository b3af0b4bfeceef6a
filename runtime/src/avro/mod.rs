//! Avro keys and values (the `avro` feature): [`Avro<T>`] for registry-written data,
//! [`AvroDatum<T>`] for bare datums, [`AvroValue`] for dynamic use.
//!
//! The writer schema comes from the schema registry when one is configured (see
//! [`crate::schema`]): records written with an older or newer schema are read into the handler's
//! type by Avro schema resolution (fields added with a default, fields removed, promotions).
//! Without a registry, the handler's schema is used as the writer schema too, which reads only
//! data written with exactly that schema (what Powertools for AWS Lambda does).

mod direct;

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Once, PoisonError, RwLock};

use apache_avro::schema::{Name, Namespace, ResolvedSchema};
pub use apache_avro::types::Value;
pub use apache_avro::Schema;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::decode::{Decode, DecodeContext, DecodeError};
use crate::schema::framing::{Sniff, Unframed};
use crate::schema::{RegisteredSchema, SchemaFormat, SchemaRef};

/// A type's Avro reader schema: the schema the handler reads records into.
///
/// Implemented for every type with apache-avro's `AvroSchema` (its `derive` feature). For a
/// schema you have as text, implement it with [`parse_schema`]:
///
/// ```
/// # #[derive(serde::Deserialize)] struct Order;
/// impl msk_lambda::avro::ReaderSchema for Order {
///     fn reader_schema() -> Result<msk_lambda::avro::Schema, String> {
///         msk_lambda::avro::parse_schema(r#"{"type":"record","name":"Order","fields":[]}"#)
///     }
/// }
/// ```
///
/// It is called once per type; the parsed schema is kept.
pub trait ReaderSchema {
    /// The reader schema, or why it is not valid.
    fn reader_schema() -> Result<Schema, String>;
}

impl<T: apache_avro::AvroSchema> ReaderSchema for T {
    fn reader_schema() -> Result<Schema, String> {
        Ok(T::get_schema())
    }
}

/// Parses an Avro schema's JSON text, with a message saying what is wrong.
pub fn parse_schema(json: &str) -> Result<Schema, String> {
    Schema::parse_str(json).map_err(|e| format!("invalid Avro schema: {e}"))
}

/// A parsed Avro schema with what reading datums with it needs, worked out once.
struct Parsed {
    schema: Schema,
    /// Its Parsing Canonical Form: two schemas with the same one encode datums alike.
    canonical_form: String,
    /// Whether [`direct`] reads datums of it.
    direct: bool,
    /// Its named types, for references to them (as a reader schema: see [`narrowing`]).
    names: HashMap<Name, Schema>,
    /// Whether it has a `long` or `double` anywhere (as a writer schema, it may then write one
    /// where a reader has an `int` or `float`) and whether it has an `int` or `float` anywhere:
    /// a writer and a reader that cannot meet so are not walked (see [`narrowing`]).
    wide_numbers: bool,
    narrow_numbers: bool,
}

impl Parsed {
    fn new(schema: Schema) -> Self {
        // A schema whose references do not resolve has no names here; resolving into it
        // fails on its own.
        let names = ResolvedSchema::try_from(&schema)
            .map(|resolved| {
                resolved.get_names().iter().map(|(n, s)| (n.clone(), (*s).clone())).collect()
            })
            .unwrap_or_default();
        Parsed {
            canonical_form: schema.canonical_form(),
            direct: direct::supported(&schema),
            wide_numbers: has_type(&schema, &|s| {
                matches!(
                    s,
                    Schema::Long
                        | Schema::Double
                        | Schema::TimeMicros
                        | Schema::TimestampMillis
                        | Schema::TimestampMicros
                        | Schema::TimestampNanos
                        | Schema::LocalTimestampMillis
                        | Schema::LocalTimestampMicros
                        | Schema::LocalTimestampNanos
                )
            }),
            narrow_numbers: has_type(&schema, &|s| matches!(s, Schema::Int | Schema::Float)),
            names,
            schema,
        }
    }

    /// Whether datums this writes, resolved into `reader`, may hold a number the reader keeps
    /// in fewer bits: only then are they walked for one.
    fn may_narrow_into(&self, reader: &Parsed) -> bool {
        self.wide_numbers && reader.narrow_numbers && self.canonical_form != reader.canonical_form
    }

    fn parse(json: &str) -> Result<Self, String> {
        parse_schema(json).map(Parsed::new)
    }
}

type SchemaCache = RwLock<HashMap<TypeId, &'static Result<Parsed, String>>>;

/// Each reader type's schema, parsed once per execution environment (leaked: one per type).
fn reader_schema_of<T: ReaderSchema + 'static>() -> &'static Result<Parsed, String> {
    static CACHE: std::sync::OnceLock<SchemaCache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let id = TypeId::of::<T>();
    if let Some(found) = cache.read().unwrap_or_else(PoisonError::into_inner).get(&id) {
        return found;
    }
    let parsed: &'static Result<Parsed, String> =
        Box::leak(Box::new(T::reader_schema().map(Parsed::new)));
    let mut cache = cache.write().unwrap_or_else(PoisonError::into_inner);
    // Another thread may have parsed it meanwhile: the first one stays.
    let kept: &'static Result<Parsed, String> = cache.entry(id).or_insert(parsed);
    kept
}

/// An Avro key or value written through a schema registry: Confluent (`0x00` + id, `0x01` +
/// GUID, or the id in a `__key_schema_id` / `__value_schema_id` header), AWS Glue (`0x03` …,
/// zlib inflated), Avro single-object encoding, or delivered by Lambda's schema-registry
/// integration (schema metadata on the record, prefix already removed). A payload with none of
/// these is refused, never guessed at: use [`AvroDatum<T>`] for bare datums.
///
/// `T` is any serde type with a [`ReaderSchema`]; it derefs to `T`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Avro<T>(pub T);

/// A bare Avro datum (no registry framing is looked for), read with the writer schema Lambda's
/// metadata names when a registry is configured, else with `T`'s schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AvroDatum<T>(pub T);

/// A registry-written Avro key or value decoded without a Rust type, with its writer schema
/// (from the registry, which must be configured).
#[derive(Debug, Clone, PartialEq)]
pub struct AvroValue(pub Value);

macro_rules! wrapper {
    ($name:ident) => {
        impl<T> $name<T> {
            /// Takes the decoded value out.
            pub fn into_inner(self) -> T {
                self.0
            }
        }

        impl<T> Deref for $name<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.0
            }
        }

        impl<T> DerefMut for $name<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.0
            }
        }
    };
}
wrapper!(Avro);
wrapper!(AvroDatum);

impl<T: DeserializeOwned + ReaderSchema + 'static> Decode for Avro<T> {
    fn decode(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Result<Self, DecodeError> {
        let bytes = bytes.ok_or_else(DecodeError::missing)?;
        let unframed = cx.unframe(bytes, Sniff::Required).map_err(DecodeError::invalid)?;
        read_typed::<T>(&unframed, cx).map(Avro)
    }

    fn writer_schema(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Option<SchemaRef> {
        cx.schema_ref(bytes?, Sniff::Required)
    }
}

impl<T: DeserializeOwned + ReaderSchema + 'static> Decode for AvroDatum<T> {
    fn decode(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Result<Self, DecodeError> {
        let bytes = bytes.ok_or_else(DecodeError::missing)?;
        let unframed = cx.unframe(bytes, Sniff::Never).map_err(DecodeError::invalid)?;
        read_typed::<T>(&unframed, cx).map(AvroDatum)
    }

    fn writer_schema(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Option<SchemaRef> {
        cx.schema_ref(bytes?, Sniff::Never)
    }
}

impl Decode for AvroValue {
    fn decode(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Result<Self, DecodeError> {
        let bytes = bytes.ok_or_else(DecodeError::missing)?;
        let unframed = cx.unframe(bytes, Sniff::Required).map_err(DecodeError::invalid)?;
        let writer = cx.writer_schema().ok_or_else(|| {
            DecodeError::invalid(format_args!(
                "AvroValue needs the writer schema{}, and no schema registry is configured (set MSK_LAMBDA_SCHEMA_REGISTRY)",
                unframed.schema.map(|s| format!(" ({s})")).unwrap_or_default()
            ))
        })?;
        let parsed = writer_avro_schema(writer)?;
        read_datum(&unframed.data, parsed, None, Some(writer.reference())).map(AvroValue)
    }

    fn writer_schema(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Option<SchemaRef> {
        cx.schema_ref(bytes?, Sniff::Required)
    }
}

fn writer_avro_schema(writer: &RegisteredSchema) -> Result<&Parsed, DecodeError> {
    if !matches!(writer.format(), SchemaFormat::Avro) {
        return Err(DecodeError::invalid(format_args!(
            "the writer schema {} is {}, not AVRO",
            writer.reference(),
            writer.format()
        )));
    }
    writer.parsed(Parsed::parse).map_err(|e| {
        DecodeError::invalid(format_args!("writer schema {}: {e}", writer.reference()))
    })
}

fn read_typed<T: DeserializeOwned + ReaderSchema + 'static>(
    unframed: &Unframed<'_>,
    cx: &DecodeContext<'_>,
) -> Result<T, DecodeError> {
    let reader = reader_schema_of::<T>().as_ref().map_err(|e| {
        DecodeError::invalid(format_args!(
            "the reader schema of `{}`: {e}",
            crate::record_decode::short_type_name::<T>()
        ))
    })?;
    // Lambda's JSON mode (EventRecordFormat JSON) delivers the record as JSON text with its
    // schema metadata; SOURCE mode delivers the bare datum. A datum is taken as JSON text only
    // when metadata is present, it starts with `{` and it parses as `T` from JSON.
    if cx.schema_metadata().is_some() && unframed.data.first() == Some(&b'{') {
        if let Ok(value) = serde_json::from_slice::<T>(&unframed.data) {
            return Ok(value);
        }
    }
    let value = match cx.writer_schema() {
        Some(writer) => {
            let parsed = writer_avro_schema(writer)?;
            // Written with the reader's own schema: nothing to resolve.
            if parsed.direct && reader.direct && parsed.canonical_form == reader.canonical_form {
                if let Some(value) = direct::read(&unframed.data, &parsed.schema) {
                    return Ok(value);
                }
            }
            read_datum(&unframed.data, parsed, Some(reader), Some(writer.reference()))?
        }
        // No registry: the reader schema is taken as the writer's.
        None => {
            if reader.direct {
                if let Some(value) = direct::read(&unframed.data, &reader.schema) {
                    return Ok(value);
                }
            }
            read_datum(&unframed.data, reader, None, unframed.schema).map_err(|e| {
                DecodeError::invalid(format_args!(
                    "{e} (no schema registry is configured, so the data was read with the handler's own schema; set MSK_LAMBDA_SCHEMA_REGISTRY to read it with its writer schema)"
                ))
            })?
        }
    };
    apache_avro::from_value::<T>(&value).map_err(|e| {
        DecodeError::invalid(format_args!(
            "the Avro datum does not fit `{}`: {e}",
            crate::record_decode::short_type_name::<T>()
        ))
    })
}

/// Reads one datum written with `writer` (resolved into `reader` when given), which must take
/// every byte.
fn read_datum(
    data: &[u8],
    writer_parsed: &Parsed,
    reader: Option<&Parsed>,
    named: Option<SchemaRef>,
) -> Result<Value, DecodeError> {
    let writer = &writer_parsed.schema;
    limit_allocations();
    // `None`: the framing named no schema and the handler's own was used.
    let what = named.map_or_else(|| "the handler's schema".to_owned(), |s| s.to_string());
    let mismatch = |e: &apache_avro::Error| {
        DecodeError::invalid(format_args!("the data does not match {what}: {}", avro_error(e)))
    };
    let mut rest = data;
    let written =
        apache_avro::from_avro_datum(writer, &mut rest, None).map_err(|e| mismatch(&e))?;
    if !rest.is_empty() {
        return Err(DecodeError::invalid(format_args!(
            "the data does not match {what}: {} of {} bytes are left after the datum",
            rest.len(),
            data.len()
        )));
    }
    let Some(reader) = reader else {
        return Ok(written);
    };
    let narrowing_possible = writer_parsed.may_narrow_into(reader);
    if narrowing_possible {
        refuse_narrowing(&written, reader, &what)?;
    }
    match written.resolve(&reader.schema) {
        Ok(value) => Ok(value),
        Err(e) => {
            // A writer type with a logical type (`long` as `timestamp-millis`, `string` as
            // `uuid`, `int` as `date`, as Java producers write them) read into the plain type:
            // the Avro specification resolves by the underlying type, apache-avro does not.
            // Read again, the logical types dropped, and resolved.
            let plain = apache_avro::from_avro_datum(writer, &mut &data[..], None)
                .map(without_logical_types)
                .map_err(|_| mismatch(&e))?;
            if narrowing_possible {
                refuse_narrowing(&plain, reader, &what)?;
            }
            plain.resolve(&reader.schema).map_err(|_| mismatch(&e))
        }
    }
}

/// A `long` where the reader has an `int`, or a `double` where it has a `float`: the Avro
/// specification resolves neither (only the other way), and apache-avro resolves both by
/// cutting the number down (`n as i32`), which would hand the handler a wrong number without
/// an error, as soon as one is out of range. Refused for the pair of schemas, whatever the
/// number, as an Avro reader following the specification refuses it.
fn refuse_narrowing(written: &Value, reader: &Parsed, what: &str) -> Result<(), DecodeError> {
    let namespace = reader.schema.namespace();
    let Some(found) = narrowing(written, &reader.schema, &reader.names, &namespace) else {
        return Ok(());
    };
    let at = if found.path.is_empty() {
        String::new()
    } else {
        format!(" (at `{}`)", found.path.trim_start_matches('.'))
    };
    let (written, read, rust_type) = match found.kind {
        NarrowingKind::LongToInt => ("long", "an `int`", "i64"),
        NarrowingKind::DoubleToFloat => ("double", "a `float`", "f64"),
    };
    Err(DecodeError::invalid(format_args!(
        "{what} writes a `{written}` where the handler's schema reads {read}{at}: Avro does not \
         resolve it (the number could be cut down); declare it as `{written}` (`{rust_type}`) \
         in the handler's type"
    )))
}

/// Where [`narrowing`] found one, and what.
struct Narrowing {
    /// `.field`, `[index]` and `[key]` segments, from the datum's top.
    path: String,
    kind: NarrowingKind,
}

enum NarrowingKind {
    LongToInt,
    DoubleToFloat,
}

impl Narrowing {
    fn new(kind: NarrowingKind) -> Self {
        Narrowing { path: String::new(), kind }
    }

    fn within(mut self, segment: impl fmt::Display) -> Self {
        self.path = format!("{segment}{}", self.path);
        self
    }
}

/// The first number in `value` (a datum read with the writer's schema) that resolving it into
/// `schema` would narrow. Follows apache-avro's resolution (`Value::resolve_internal`): unions
/// unwrapped and their branch chosen as apache-avro chooses it, references looked up in
/// `names` (the reader schema's named types), record fields matched by name.
fn narrowing(
    value: &Value,
    schema: &Schema,
    names: &HashMap<Name, Schema>,
    namespace: &Namespace,
) -> Option<Narrowing> {
    let value = match (value, schema) {
        (Value::Union(_, inner), schema) if !matches!(schema, Schema::Union(_)) => &**inner,
        _ => value,
    };
    match (value, schema) {
        (_, Schema::Ref { name }) => {
            let name = name.fully_qualified_name(namespace);
            narrowing(value, names.get(&name)?, names, &name.namespace)
        }
        (_, Schema::Union(union)) => {
            let value = match value {
                Value::Union(_, inner) => &**inner,
                other => other,
            };
            let (_, branch) =
                union.find_schema_with_known_schemata(value, Some(names), namespace)?;
            narrowing(value, branch, names, namespace)
        }
        (Value::Long(_), Schema::Int) => Some(Narrowing::new(NarrowingKind::LongToInt)),
        (Value::Double(_), Schema::Float) => Some(Narrowing::new(NarrowingKind::DoubleToFloat)),
        (Value::Record(fields), Schema::Record(record)) => record.fields.iter().find_map(|field| {
            let (_, value) = fields.iter().find(|(name, _)| *name == field.name)?;
            narrowing(value, &field.schema, names, namespace)
                .map(|found| found.within(format_args!(".{}", field.name)))
        }),
        (Value::Array(items), Schema::Array(array)) => {
            items.iter().enumerate().find_map(|(i, item)| {
                narrowing(item, &array.items, names, namespace)
                    .map(|found| found.within(format_args!("[{i}]")))
            })
        }
        (Value::Map(entries), Schema::Map(map)) => entries.iter().find_map(|(key, value)| {
            narrowing(value, &map.types, names, namespace)
                .map(|found| found.within(format_args!("[{key:?}]")))
        }),
        _ => None,
    }
}

/// Whether `schema` or any schema inside it (fields, items, values, branches) is one `is` picks.
/// References are not followed: the named type they name is found where it is defined.
fn has_type(schema: &Schema, is: &dyn Fn(&Schema) -> bool) -> bool {
    is(schema)
        || match schema {
            Schema::Record(record) => record.fields.iter().any(|f| has_type(&f.schema, is)),
            Schema::Array(array) => has_type(&array.items, is),
            Schema::Map(map) => has_type(&map.types, is),
            Schema::Union(union) => union.variants().iter().any(|v| has_type(v, is)),
            _ => false,
        }
}

/// A value of a logical type as the value of its underlying type (a timestamp as its `long`, a
/// date as its `int`, a UUID as its text), all the way down.
fn without_logical_types(value: Value) -> Value {
    match value {
        Value::Date(n) | Value::TimeMillis(n) => Value::Int(n),
        Value::TimeMicros(n)
        | Value::TimestampMillis(n)
        | Value::TimestampMicros(n)
        | Value::TimestampNanos(n)
        | Value::LocalTimestampMillis(n)
        | Value::LocalTimestampMicros(n)
        | Value::LocalTimestampNanos(n) => Value::Long(n),
        Value::Uuid(uuid) => Value::String(uuid.to_string()),
        Value::Record(fields) => Value::Record(
            fields.into_iter().map(|(name, v)| (name, without_logical_types(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_logical_types).collect()),
        Value::Map(entries) => {
            Value::Map(entries.into_iter().map(|(k, v)| (k, without_logical_types(v))).collect())
        }
        Value::Union(branch, inner) => {
            Value::Union(branch, Box::new(without_logical_types(*inner)))
        }
        other => other,
    }
}

/// Caps what apache-avro may allocate for one string, bytes, array or map it reads, once per
/// process (before its first read, as it asks). Its default, 512 MiB, lets a corrupt length
/// ask for more than a function has: an array count of 5e8 reserves tens of GiB, and a failed
/// allocation aborts the process (every record of the batch, again at each redelivery)
/// instead of failing the record. A record in a Lambda event is under 6 MB, so no real length
/// comes near the cap: 6 MiB, or a 64th of the function's memory when that is less (an array's
/// count is of items of several dozen bytes each).
fn limit_allocations() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let memory = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .ok()
            .and_then(|mb| mb.trim().parse::<usize>().ok())
            .map_or(usize::MAX, |mb| mb.saturating_mul(1 << 20) / 64);
        apache_avro::util::max_allocation_bytes(memory.clamp(1 << 20, 6 << 20));
    });
}

/// apache-avro's message, without payload values it may quote.
fn avro_error(e: &apache_avro::Error) -> String {
    let text = e.to_string();
    // Messages such as "Could not find matching type in union: Value: String(\"secret\")" quote
    // the datum; keep what comes before the value.
    match text.find("Value:").or_else(|| text.find("value:")) {
        Some(at) => text[..at].trim_end_matches([' ', ':', ',']).to_owned(),
        None => text,
    }
}

/// The direct reader alone, for the differential test (feature `__differential`; not public
/// API): `None` when it does not read `schema` or gives up on the datum.
#[cfg(feature = "__differential")]
#[doc(hidden)]
pub fn __read_direct<T: DeserializeOwned>(data: &[u8], schema: &Schema) -> Option<T> {
    direct::supported(schema).then(|| direct::read(data, schema)).flatten()
}
