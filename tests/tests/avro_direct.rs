//! `Avro<T>` reads a datum written with the handler's own schema straight into `T`, without
//! apache-avro's `Value` tree (runtime/src/avro/direct.rs), and falls back to apache-avro
//! whenever that reader gives up. These tests hold it to its contract: wherever the direct
//! reader succeeds, apache-avro (`from_avro_datum`, every byte used, then `from_value`) reads the
//! same bytes into the same value.
//! - generated data of a schema with every kind the direct reader takes;
//! - the same bytes mutated (flipped, cut short, lengthened);
//! - the same bytes read into types that fit the schema loosely or not at all;
//! - blocks written with negative counts (as Java writers do), which apache-avro's writer never
//!   makes;
//! - schemas it does not take (named references, decimals) are left to apache-avro.

use std::collections::BTreeMap;
use std::fmt::Debug;

use apache_avro::types::Value;
use apache_avro::Schema;
use msk_lambda::avro::__read_direct;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Deserialize;

const SCHEMA: &str = r#"{
  "type": "record", "name": "Everything", "namespace": "test",
  "fields": [
    {"name": "id", "type": "long"},
    {"name": "small", "type": "int"},
    {"name": "flag", "type": "boolean"},
    {"name": "ratio", "type": "float"},
    {"name": "score", "type": "double"},
    {"name": "name", "type": "string"},
    {"name": "note", "type": ["null", "string"], "default": null},
    {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["Red", "Green", "Blue"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "counts", "type": {"type": "map", "values": "long"}},
    {"name": "inner", "type": ["null", {"type": "record", "name": "Inner", "fields": [
      {"name": "label", "type": "string"},
      {"name": "weight", "type": "double"}
    ]}], "default": null},
    {"name": "blob", "type": "bytes"},
    {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4}},
    {"name": "stamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "either", "type": ["long", "string"]},
    {"name": "nothing", "type": "null"}
  ]
}"#;

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read through Debug
enum Colour {
    Red,
    Green,
    Blue,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Inner {
    label: String,
    weight: f64,
}

/// Bytes read with `deserialize_byte_buf`.
#[derive(Debug)]
#[allow(dead_code)]
struct Blob(Vec<u8>);

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
        }
        d.deserialize_byte_buf(Visit)
    }
}

/// Bytes read with `deserialize_bytes`.
#[derive(Debug)]
#[allow(dead_code)]
struct Borrowed(Vec<u8>);

impl<'de> Deserialize<'de> for Borrowed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Borrowed;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Borrowed, E> {
                Ok(Borrowed(v.to_vec()))
            }
        }
        d.deserialize_bytes(Visit)
    }
}

/// The schema's record as a handler would write it.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Everything {
    id: i64,
    small: i32,
    flag: bool,
    ratio: f32,
    score: f64,
    name: String,
    note: Option<String>,
    colour: Colour,
    tags: Vec<String>,
    counts: BTreeMap<String, i64>,
    inner: Option<Inner>,
    blob: Blob,
    digest: Borrowed,
    stamp: i64,
    day: i32,
    either: serde_json::Value,
    nothing: (),
}

/// The same record read loosely: fields left out, wider numbers, enum and fixed as strings and
/// bytes, a union as an untyped value.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Loose {
    id: f64,
    small: i64,
    name: Borrowed,
    colour: String,
    tags: Vec<Borrowed>,
    inner: Option<BTreeMap<String, serde_json::Value>>,
    digest: Blob,
    either: Option<serde_json::Value>,
}

/// Types the record does not fit: each should make both readers fail.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Wrong {
    id: String,
    note: String,
    colour: u8,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct MissingField {
    id: i64,
    absent: i64,
}

fn schema() -> Schema {
    Schema::parse_str(SCHEMA).expect("a valid schema")
}

/// apache-avro's reading, as msk-lambda's fallback does it: the datum must use every byte.
fn apache<T: DeserializeOwned>(schema: &Schema, data: &[u8]) -> Option<T> {
    let mut rest = data;
    let value = apache_avro::from_avro_datum(schema, &mut rest, None).ok()?;
    if !rest.is_empty() {
        return None;
    }
    apache_avro::from_value(&value).ok()
}

/// The contract: where the direct reader succeeds, apache-avro reads the same value
/// (compared through `Debug`, so that NaNs compare equal).
fn check_agrees<T: DeserializeOwned + Debug>(schema: &Schema, data: &[u8]) -> Option<String> {
    let direct = __read_direct::<T>(data, schema).map(|v| format!("{v:?}"));
    if let Some(direct) = &direct {
        let slow = apache::<T>(schema, data).map(|v| format!("{v:?}"));
        assert_eq!(
            Some(direct),
            slow.as_ref(),
            "the direct reader read {data:02x?} into `{}` where apache-avro did not read the same",
            std::any::type_name::<T>()
        );
    }
    direct
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z]{1,8}", "\\PC{0,12}"]
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(-1.5), any::<f64>().prop_filter("finite", |f| f.is_finite())]
}

prop_compose! {
    fn inner()(label in text(), weight in finite()) -> Value {
        Value::Record(vec![("label".into(), Value::String(label)), ("weight".into(), Value::Double(weight))])
    }
}

prop_compose! {
    fn everything()(
        id in any::<i64>(),
        small in any::<i32>(),
        flag in any::<bool>(),
        ratio in any::<f32>(),
        score in finite(),
        name in text(),
        note in proptest::option::of(text()),
        colour in 0u32..3,
        tags in proptest::collection::vec(text(), 0..70),
        counts in proptest::collection::btree_map(text(), any::<i64>(), 0..5),
        inner in proptest::option::of(inner()),
        blob in proptest::collection::vec(any::<u8>(), 0..20),
        digest in proptest::array::uniform4(any::<u8>()),
        stamp in any::<i64>(),
        day in any::<i32>(),
        either in prop_oneof![any::<i64>().prop_map(|n| Value::Union(0, Box::new(Value::Long(n)))),
                              text().prop_map(|s| Value::Union(1, Box::new(Value::String(s))))],
    ) -> Value {
        let symbols = ["Red", "Green", "Blue"];
        Value::Record(vec![
            ("id".into(), Value::Long(id)),
            ("small".into(), Value::Int(small)),
            ("flag".into(), Value::Boolean(flag)),
            ("ratio".into(), Value::Float(ratio)),
            ("score".into(), Value::Double(score)),
            ("name".into(), Value::String(name)),
            ("note".into(), match note {
                None => Value::Union(0, Box::new(Value::Null)),
                Some(s) => Value::Union(1, Box::new(Value::String(s))),
            }),
            ("colour".into(), Value::Enum(colour, symbols[colour as usize].into())),
            ("tags".into(), Value::Array(tags.into_iter().map(Value::String).collect())),
            ("counts".into(), Value::Map(counts.into_iter().map(|(k, v)| (k, Value::Long(v))).collect())),
            ("inner".into(), match inner {
                None => Value::Union(0, Box::new(Value::Null)),
                Some(record) => Value::Union(1, Box::new(record)),
            }),
            ("blob".into(), Value::Bytes(blob)),
            ("digest".into(), Value::Fixed(4, digest.to_vec())),
            ("stamp".into(), Value::TimestampMillis(stamp)),
            ("day".into(), Value::Date(day)),
            ("either".into(), either),
            ("nothing".into(), Value::Null),
        ])
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Cut(usize),
    Insert(usize, u8),
}

fn mutate(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match *m {
            Mutation::Flip(at, bits) if !data.is_empty() => {
                let at = at % data.len();
                data[at] ^= bits;
            }
            Mutation::Cut(at) => data.truncate(at % (data.len() + 1)),
            Mutation::Insert(at, byte) => data.insert(at % (data.len() + 1), byte),
            Mutation::Flip(..) => {}
        }
    }
    data
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(at, bits)| Mutation::Flip(at, bits)),
        any::<usize>().prop_map(Mutation::Cut),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Insert(at, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn reads_valid_data_as_apache_avro_does(value in everything()) {
        let schema = schema();
        let data = apache_avro::to_avro_datum(&schema, value).expect("the value fits the schema");
        // Valid data of the handler's own type: the direct reader must read it (no fallback).
        prop_assert!(check_agrees::<Everything>(&schema, &data).is_some(), "gave up on valid data {data:02x?}");
        prop_assert!(check_agrees::<Loose>(&schema, &data).is_some(), "gave up on the loose type");
        // Both fail on bytes into an untyped JSON value (serde_json takes no bytes).
        prop_assert!(check_agrees::<serde_json::Value>(&schema, &data).is_none());
        prop_assert!(check_agrees::<Wrong>(&schema, &data).is_none());
        prop_assert!(check_agrees::<MissingField>(&schema, &data).is_none());
    }

    #[test]
    fn never_reads_mutated_data_differently(value in everything(), mutations in proptest::collection::vec(mutation(), 1..4)) {
        let schema = schema();
        let data = apache_avro::to_avro_datum(&schema, value).expect("the value fits the schema");
        let data = mutate(data, &mutations);
        check_agrees::<Everything>(&schema, &data);
        check_agrees::<Loose>(&schema, &data);
    }
}

/// An array and a map written in blocks, one with a negative count followed by the block's
/// byte size (the Avro specification allows it; Java's `BlockingBinaryEncoder` writes it).
#[test]
fn reads_blocks_with_negative_counts() {
    let schema = Schema::parse_str(
        r#"{"type":"record","name":"B","fields":[{"name":"xs","type":{"type":"array","items":"long"}},{"name":"m","type":{"type":"map","values":"int"}}]}"#,
    )
    .unwrap();
    #[derive(Debug, Deserialize, PartialEq)]
    struct B {
        xs: Vec<i64>,
        m: BTreeMap<String, i32>,
    }
    // xs: block of -2 items (4 bytes: 2, 4), block of 1 item (6), end; m: block of -1 ("k" -> 3), end.
    let data = [0x03, 0x08, 0x02, 0x04, 0x02, 0x06, 0x00, 0x01, 0x06, 0x02, b'k', 0x06, 0x00];
    let expected = B { xs: vec![1, 2, 3], m: BTreeMap::from([("k".to_owned(), 3)]) };
    assert_eq!(__read_direct::<B>(&data, &schema), Some(expected));
    check_agrees::<B>(&schema, &data);
}

/// Schemas the direct reader does not take are left whole to apache-avro: a named type used
/// twice (a reference) and a decimal.
#[test]
fn leaves_references_and_decimals_to_apache_avro() {
    let reference = Schema::parse_str(
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"record","name":"P","fields":[{"name":"x","type":"long"}]}},{"name":"b","type":"P"}]}"#,
    )
    .unwrap();
    let decimal = Schema::parse_str(
        r#"{"type":"record","name":"D","fields":[{"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}}]}"#,
    )
    .unwrap();
    assert_eq!(__read_direct::<serde_json::Value>(&[0x02, 0x04], &reference), None);
    assert_eq!(__read_direct::<serde_json::Value>(&[0x02, 0x01], &decimal), None);
    // And apache-avro reads them.
    assert!(apache::<serde_json::Value>(&reference, &[0x02, 0x04]).is_some());
}

/// Trailing bytes after the datum, an enum index past the symbols, a boolean byte other than 0
/// or 1, and an int past 32 bits are not read.
#[test]
fn refuses_trailing_bytes_and_bad_indexes() {
    let schema = Schema::parse_str(
        r#"{"type":"record","name":"E","fields":[{"name":"c","type":{"type":"enum","name":"C","symbols":["A","B"]}}]}"#,
    )
    .unwrap();
    #[derive(Debug, Deserialize, PartialEq)]
    enum C {
        A,
        B,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    struct E {
        c: C,
    }
    assert_eq!(__read_direct::<E>(&[0x02], &schema), Some(E { c: C::B }));
    assert_eq!(__read_direct::<E>(&[0x02, 0x00], &schema), None);
    assert_eq!(__read_direct::<E>(&[0x04], &schema), None);
    assert_eq!(__read_direct::<E>(&[0x01], &schema), None);
    let flag = Schema::parse_str(r#""boolean""#).unwrap();
    assert_eq!(__read_direct::<bool>(&[0x01], &flag), Some(true));
    assert_eq!(__read_direct::<bool>(&[0x02], &flag), None);
    let int = Schema::parse_str(r#""int""#).unwrap();
    // 2^31 zigzag-encoded: 0x80 0x80 0x80 0x80 0x10.
    assert_eq!(__read_direct::<i64>(&[0x80, 0x80, 0x80, 0x80, 0x10], &int), None);
    assert_eq!(
        __read_direct::<i64>(&[0xFE, 0xFF, 0xFF, 0xFF, 0x0F], &int),
        Some(i64::from(i32::MAX))
    );
}

/// A block count of items that take no bytes (`null`) far past what the data could hold is
/// given up on at once, not looped through (a corrupt count of 2^62 nulls ran for ever; found
/// in the 2026-11-28 review). A real array of nulls still reads.
#[test]
fn a_huge_count_of_empty_items_is_given_up_on() {
    let schema = Schema::parse_str(r#"{"type":"array","items":"null"}"#).unwrap();
    let started = std::time::Instant::now();
    // zigzag(2^62) as a varint, then the end of the array.
    let data = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00];
    assert_eq!(__read_direct::<Vec<()>>(&data, &schema), None);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(__read_direct::<Vec<()>>(&[0x06, 0x00], &schema), Some(vec![(), (), ()]));
}
