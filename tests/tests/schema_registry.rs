//! Schema-registry records: bytes made by the reference serializers (confluent-kafka's Avro,
//! Protobuf and JSON serializers with its in-process registry; aws-glue-schema-registry against
//! moto's Glue; see tests/fixtures/schema-registry/README.md) decoded through a whole consumer,
//! with writer schemas from a registry: the fixtures' own registry answers, a Confluent REST
//! stand-in over HTTP, and moto's Glue through the real AWS SDK.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use msk_lambda::avro::{parse_schema, Avro, AvroDatum, AvroValue, ReaderSchema, Schema};
use msk_lambda::protobuf::Protobuf;
use msk_lambda::schema::{
    ConfluentRegistry, MessageIndexes, SchemaFormat, SchemaRef, SchemaRegistry, StaticSchemas, Uuid,
};
use msk_lambda::testing::{TestEvent, TestRecord};
use msk_lambda::{
    Consumer, Decode, FailureKind, FailurePolicy, InvocationContext, Json, Outcome, Record,
};
use serde::Deserialize;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/schema-registry");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

fn cases() -> Vec<Value> {
    serde_json::from_str(&fixture("cases.json")).unwrap()
}

fn case(name: &str) -> Value {
    cases().into_iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no case {name}"))
}

fn b64(text: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(text.as_str().unwrap()).unwrap()
}

/// The handler's reader type: the orders-avro contract schema (order-v2.avsc).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    order_id: String,
    amount_cents: i64,
    currency: String,
    note: Option<String>,
}

impl ReaderSchema for Order {
    fn reader_schema() -> Result<Schema, String> {
        parse_schema(&fixture("order-v2.avsc"))
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomerKey {
    customer_id: String,
}

impl ReaderSchema for CustomerKey {
    fn reader_schema() -> Result<Schema, String> {
        parse_schema(&fixture("customer-key.avsc"))
    }
}

/// Every schema the fixtures' registries hold, as they answered.
fn fixture_schemas() -> StaticSchemas {
    let confluent: Value = serde_json::from_str(&fixture("registry.json")).unwrap();
    let glue: Value = serde_json::from_str(&fixture("glue-registry.json")).unwrap();
    let format =
        |body: &Value| body["schemaType"].as_str().map_or(SchemaFormat::Avro, SchemaFormat::parse);
    let mut schemas = StaticSchemas::new();
    for (id, body) in confluent["ids"].as_object().unwrap() {
        let reference = SchemaRef::ConfluentId(id.parse().unwrap());
        schemas = schemas.with(reference, format(body), body["schema"].as_str().unwrap());
    }
    for (guid, body) in confluent["guids"].as_object().unwrap() {
        let reference = SchemaRef::ConfluentGuid(Uuid::parse(guid).unwrap());
        schemas = schemas.with(reference, format(body), body["schema"].as_str().unwrap());
    }
    for (id, version) in glue["versions"].as_object().unwrap() {
        let reference = SchemaRef::GlueVersion(Uuid::parse(id).unwrap());
        let format = SchemaFormat::parse(version["DataFormat"].as_str().unwrap());
        schemas = schemas.with(reference, format, version["SchemaDefinition"].as_str().unwrap());
    }
    schemas
}

/// The fixture case as a record of topic `orders`, partition 0, at `offset`.
fn record_of(case: &Value, offset: i64) -> TestRecord {
    let mut record = TestRecord::new("orders", 0, offset);
    let bytes = &case["bytes_b64"];
    let key = case["part"] == "key";
    record = match (key, bytes.is_null()) {
        (false, true) => record.tombstone(),
        (false, false) => record.value(b64(bytes)),
        (true, _) => record.key(b64(bytes)).value(b"-"),
    };
    for header in case["headers"].as_array().unwrap() {
        record = record.header(header[0].as_str().unwrap(), b64(&header[1]));
    }
    if let Some(meta) = case["schema_metadata"].as_object() {
        let (format, id) =
            (meta["dataFormat"].as_str().unwrap(), meta["schemaId"].as_str().unwrap());
        record = if key { record.key_schema(format, id) } else { record.value_schema(format, id) };
    }
    record
}

/// Runs `records` through a consumer of `Record<V>` (every record attempted) and returns, per
/// offset, the value the handler got or the failure's kind and message.
async fn run<V>(
    records: Vec<TestRecord>,
    registry: Option<SchemaRegistry>,
) -> HashMap<i64, Result<V, (FailureKind, String)>>
where
    V: Decode + Clone + Send + 'static,
{
    let seen: Arc<Mutex<HashMap<i64, V>>> = Arc::default();
    let handler_seen = Arc::clone(&seen);
    let mut consumer = Consumer::new(move |record: Record<V>| {
        let seen = Arc::clone(&handler_seen);
        async move {
            seen.lock().unwrap().insert(record.offset(), record.value().clone());
            Ok::<(), msk_lambda::Error>(())
        }
    })
    .failure_policy(FailurePolicy::Continue);
    // Without one, MSK_LAMBDA_SCHEMA_REGISTRY is read: no test sets it.
    if let Some(registry) = registry {
        consumer = consumer.schema_registry(registry);
    }
    let event = TestEvent::msk().records(records).to_bytes();
    let report = consumer.process(&event, InvocationContext::local()).await.unwrap();
    let mut seen = seen.lock().unwrap();
    let mut out = HashMap::new();
    for partition in report.partitions {
        for (offset, outcome) in partition.outcomes {
            let result = match outcome {
                Outcome::Succeeded => Ok(seen.remove(&offset).unwrap()),
                Outcome::Failed(failure) => Err((failure.kind, failure.message)),
                other => panic!("offset {offset}: {other:?}"),
            };
            out.insert(offset, result);
        }
    }
    out
}

fn order_from(json: &Value) -> Order {
    let mut json = json.clone();
    json.as_object_mut().unwrap().entry("note").or_insert(Value::Null);
    json.as_object_mut().unwrap().remove("channel");
    serde_json::from_value(json).unwrap()
}

/// Every registry-written Avro Order of the fixtures, read into the v2 reader type with the
/// writer schema from the registry: v1 data (no `note`) gets the default, v3 data (an extra
/// `channel`) drops it, the incompatible writer fails only its record, naming the schema.
#[tokio::test]
async fn avro_orders_are_read_with_their_writer_schema() {
    let cases: Vec<Value> = cases()
        .into_iter()
        .filter(|c| {
            c["format"] == "AVRO"
                && c["part"] == "value"
                && !c["bytes_b64"].is_null()
                && c["writer_schema_file"].as_str().unwrap().starts_with("order-")
                && !["avro-raw-leading-zero", "avro-single-object-v1-writer"]
                    .contains(&c["name"].as_str().unwrap())
        })
        .collect();
    assert!(cases.len() >= 12, "{}", cases.len());
    let records = cases.iter().enumerate().map(|(i, c)| record_of(c, i as i64)).collect();
    let registry = SchemaRegistry::new(fixture_schemas());
    let results = run::<Avro<Order>>(records, Some(registry.clone())).await;
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let result = &results[&(i as i64)];
        match case["expected_as_v2_error"].as_str() {
            None => {
                let expected = order_from(&case["expected_as_v2"]);
                assert_eq!(result.as_ref().map(|v| &v.0), Ok(&expected), "{name}");
            }
            Some(_) => {
                let (kind, message) = result.as_ref().unwrap_err();
                assert_eq!(*kind, FailureKind::Decode, "{name}: {message}");
                assert!(message.contains("Confluent schema id 4"), "{name}: {message}");
                assert!(message.contains("Avro<Order>"), "{name}: {message}");
            }
        }
    }
    // Each distinct schema fetched once.
    let distinct: std::collections::HashSet<_> =
        cases.iter().map(|c| c["schema_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(registry.fetch_count(), distinct.len() as u64);
}

/// Without a registry, the handler's schema is the writer's too (what Powertools does): data
/// written with it reads, older data fails with a message saying why.
#[tokio::test]
async fn without_a_registry_the_reader_schema_is_the_writer_schema() {
    let same = case("avro-confluent-v2-writer");
    // v3 has a field v2 lacks: read with v2 as its writer schema, bytes are left over. (v1 data
    // would read: apache-avro takes the end of the data at a union as its null branch.)
    let older = case("avro-confluent-v3-writer");
    let results = run::<Avro<Order>>(vec![record_of(&same, 0), record_of(&older, 1)], None).await;
    assert_eq!(results[&0].as_ref().unwrap().0, order_from(&same["expected"]));
    let (kind, message) = results[&1].as_ref().unwrap_err();
    assert_eq!(*kind, FailureKind::Decode, "{message}");
    assert!(message.contains("no schema registry is configured"), "{message}");
}

/// A bare Avro datum that happens to start like Confluent framing (`00 00 00 02 …`, id 514):
/// `AvroDatum<T>` reads it right; `Avro<T>` takes it as framed (it declares registry data) and
/// fails for want of schema 514 rather than returning a wrong value.
#[tokio::test]
async fn a_bare_datum_is_never_misread() {
    let raw = case("avro-raw-leading-zero");
    let results = run::<AvroDatum<Order>>(vec![record_of(&raw, 0)], None).await;
    assert_eq!(results[&0].as_ref().unwrap().0, order_from(&raw["expected"]));
    let registry = SchemaRegistry::new(fixture_schemas());
    let results = run::<Avro<Order>>(vec![record_of(&raw, 0)], Some(registry)).await;
    let (kind, message) = results[&0].as_ref().unwrap_err();
    assert_eq!(*kind, FailureKind::SchemaRegistry);
    assert!(message.contains("Confluent schema id 514 is not in the registry"), "{message}");
}

/// Key and value on different schemas, each named by its own metadata or prefix (Powertools
/// Java classifies the key by the value's schema id).
#[tokio::test]
async fn key_and_value_use_their_own_schemas() {
    let key = case("kv-key-customer");
    let value = case("kv-value-order");
    let record =
        TestRecord::new("orders", 0, 0).key(b64(&key["bytes_b64"])).value(b64(&value["bytes_b64"]));
    let source_key = case("avro-source-confluent-key");
    let record2 = TestRecord::new("orders", 0, 1)
        .key(b64(&source_key["bytes_b64"]))
        .key_schema("AVRO", "5")
        .value(b64(&value["bytes_b64"]))
        .value_schema("AVRO", "1");
    // The second value keeps its prefix although metadata is given: strip it as the ESM would.
    let value_bytes = b64(&value["bytes_b64"]);
    let record2 = record2.value(&value_bytes[5..]);
    let seen: Arc<Mutex<Vec<(CustomerKey, Order)>>> = Arc::default();
    let handler_seen = Arc::clone(&seen);
    let consumer = Consumer::new(move |record: Record<Avro<Order>, Avro<CustomerKey>>| {
        let seen = Arc::clone(&handler_seen);
        async move {
            let (key, value) = record.into_parts();
            seen.lock().unwrap().push((key.0, value.0));
            Ok::<(), msk_lambda::Error>(())
        }
    })
    .schema_registry(SchemaRegistry::new(fixture_schemas()));
    let event = TestEvent::msk().records([record, record2]).to_bytes();
    let response = consumer.invoke(&event).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let seen = seen.lock().unwrap();
    let customer = CustomerKey { customer_id: "c-42".into() };
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|(k, v)| *k == customer && *v == order_from(&value["expected"])));
}

/// A tombstone is `None` for `Option<Avro<T>>` without touching framing (Powertools TypeScript
/// #4988), and a failed record for `Avro<T>`.
#[tokio::test]
async fn tombstones() {
    let tombstone = case("avro-tombstone");
    let results = run::<Option<Avro<Order>>>(vec![record_of(&tombstone, 0)], None).await;
    assert_eq!(results[&0], Ok(None));
    let results = run::<Avro<Order>>(vec![record_of(&tombstone, 0)], None).await;
    assert!(results[&0].as_ref().unwrap_err().1.contains("tombstone"));
}

/// `AvroValue`: any schema, read with the writer's.
#[tokio::test]
async fn untyped_avro_values() {
    let v3 = case("avro-confluent-v3-writer");
    let registry = SchemaRegistry::new(fixture_schemas());
    let results = run::<AvroValue>(vec![record_of(&v3, 0)], Some(registry)).await;
    let value = &results[&0].as_ref().unwrap().0;
    let json = format!("{value:?}");
    assert!(json.contains("channel"), "{json}");
}

/// Avro single-object encoding: the fingerprint names the writer schema.
#[tokio::test]
async fn avro_single_object_encoding() {
    let single = case("avro-single-object-v1-writer");
    let fingerprint = u64::from_le_bytes(
        (0..8)
            .map(|i| {
                u8::from_str_radix(
                    &single["fingerprint_hex_le"].as_str().unwrap()[i * 2..i * 2 + 2],
                    16,
                )
                .unwrap()
            })
            .collect::<Vec<_>>()
            .try_into()
            .unwrap(),
    );
    let schemas = StaticSchemas::new().with(
        SchemaRef::AvroFingerprint(fingerprint),
        SchemaFormat::Avro,
        fixture("order-v1.avsc"),
    );
    let results =
        run::<Avro<Order>>(vec![record_of(&single, 0)], Some(SchemaRegistry::new(schemas))).await;
    assert_eq!(results[&0].as_ref().unwrap().0, order_from(&single["expected"]));
}

/// Java producers write timestamps, dates and UUIDs with logical types; a reader type that
/// declares the plain type (`long`, `int`, `string`) reads them, as the Avro specification
/// resolves by the underlying type (apache-avro alone refuses it). A corrupt array count fails
/// its record with apache-avro's allocation limit instead of aborting the process. Both found
/// in the 2026-11-28 review; bytes by apache-avro's own writer.
#[tokio::test]
async fn logical_types_read_as_plain_types_and_corrupt_counts_fail_the_record() {
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    struct Event {
        at: i64,
        day: i32,
        id: String,
        tags: Vec<String>,
    }
    impl ReaderSchema for Event {
        fn reader_schema() -> Result<Schema, String> {
            parse_schema(
                r#"{"type":"record","name":"Event","namespace":"com.x","fields":[
                {"name":"at","type":"long"},{"name":"day","type":"int"},
                {"name":"id","type":"string"},
                {"name":"tags","type":{"type":"array","items":"string"}}]}"#,
            )
        }
    }
    let writer = r#"{"type":"record","name":"Event","namespace":"com.x","fields":[
        {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"id","type":{"type":"string","logicalType":"uuid"}},
        {"name":"tags","type":{"type":"array","items":"string"}}]}"#;
    let datum = |tags: Vec<apache_avro::types::Value>| {
        use apache_avro::types::Value as V;
        let record = V::Record(vec![
            ("at".into(), V::TimestampMillis(1_735_689_600_000)),
            ("day".into(), V::Date(20_089)),
            ("id".into(), V::String("5a0b6a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b".into())),
            ("tags".into(), V::Array(tags)),
        ]);
        apache_avro::to_avro_datum(&apache_avro::Schema::parse_str(writer).unwrap(), record)
            .unwrap()
    };
    let framed = |datum: Vec<u8>| [&[0u8, 0, 0, 0, 42][..], &datum].concat();
    let good = framed(datum(vec![apache_avro::types::Value::String("a".into())]));
    // The same record with its (empty) array's end replaced by a count of 500,000,000 items.
    let mut corrupt = framed(datum(Vec::new()));
    assert_eq!(corrupt.pop(), Some(0));
    corrupt.extend_from_slice(&[0x80, 0x94, 0xeb, 0xdc, 0x03]);
    let registry = SchemaRegistry::new(StaticSchemas::new().with(
        SchemaRef::ConfluentId(42),
        SchemaFormat::Avro,
        writer,
    ));
    let records = vec![
        TestRecord::new("events", 0, 0).value(good),
        TestRecord::new("events", 0, 1).value(corrupt),
    ];
    let results = run::<Avro<Event>>(records, Some(registry)).await;
    let expected = Event {
        at: 1_735_689_600_000,
        day: 20_089,
        id: "5a0b6a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b".into(),
        tags: vec!["a".into()],
    };
    assert_eq!(results[&0].as_ref().unwrap().0, expected);
    let (kind, message) = results[&1].as_ref().unwrap_err();
    assert_eq!(*kind, FailureKind::Decode);
    assert!(message.contains("allocat"), "{message}");
}

/// A writer schema that widened a field (`int` to `long`, `float` to `double`: allowed by a
/// registry's BACKWARD compatibility, the default) read by a handler still declaring the narrow
/// type: the Avro specification does not resolve it, and apache-avro resolves it by cutting the
/// number down (`n as i32`), a wrong number with no error. Each record fails, naming where;
/// the allowed promotions still read. Bytes by apache-avro's own writer.
#[tokio::test]
async fn a_narrowing_writer_schema_fails_the_record_instead_of_cutting_numbers() {
    use apache_avro::types::Value as V;
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    struct Line {
        quantity: i32,
    }
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    struct Order {
        id: String,
        lines: Vec<Line>,
        discount: Option<i32>,
        weight: f32,
        total: f64,
    }
    impl ReaderSchema for Order {
        fn reader_schema() -> Result<Schema, String> {
            parse_schema(
                r#"{"type":"record","name":"Order","namespace":"com.x","fields":[
                {"name":"id","type":"string"},
                {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line",
                    "fields":[{"name":"quantity","type":"int"}]}}},
                {"name":"discount","type":["null","int"]},
                {"name":"weight","type":"float"},
                {"name":"total","type":"double"}]}"#,
            )
        }
    }
    // The fields as the writer has them; `int` for the reader's every numeric field (the
    // reader's own schema, with allowed promotions only: int to double) is schema 1.
    let writer = |quantity: &str, discount: &str, weight: &str, total: &str| {
        format!(
            r#"{{"type":"record","name":"Order","namespace":"com.x","fields":[
            {{"name":"id","type":"string"}},
            {{"name":"lines","type":{{"type":"array","items":{{"type":"record","name":"Line",
                "fields":[{{"name":"quantity","type":"{quantity}"}}]}}}}}},
            {{"name":"discount","type":["null","{discount}"]}},
            {{"name":"weight","type":"{weight}"}},
            {{"name":"total","type":"{total}"}}]}}"#
        )
    };
    let schemas = [
        writer("int", "int", "float", "int"),
        writer("long", "int", "float", "double"),
        writer("int", "long", "float", "double"),
        writer("int", "int", "double", "double"),
    ];
    let number = |kind: &str, n: i64| match kind {
        "int" => V::Int(n as i32),
        "long" => V::Long(n),
        "float" => V::Float(n as f32),
        _ => V::Double(n as f64),
    };
    let kinds = [
        ["int", "int", "float", "int"],
        ["long", "int", "float", "double"],
        ["int", "long", "float", "double"],
        ["int", "int", "double", "double"],
    ];
    let mut registry = StaticSchemas::new();
    let mut records = Vec::new();
    for (i, (schema, [quantity, discount, weight, total])) in schemas.iter().zip(kinds).enumerate()
    {
        registry =
            registry.with(SchemaRef::ConfluentId(100 + i as u32), SchemaFormat::Avro, schema);
        // Numbers within an int's range: refused all the same, as the schemas do not resolve.
        let line = |n| V::Record(vec![("quantity".into(), number(quantity, n))]);
        let datum = V::Record(vec![
            ("id".into(), V::String(format!("o-{i}"))),
            ("lines".into(), V::Array(vec![line(3), line(5)])),
            ("discount".into(), V::Union(1, Box::new(number(discount, 7)))),
            ("weight".into(), number(weight, 2)),
            ("total".into(), number(total, 40)),
        ]);
        let bytes =
            apache_avro::to_avro_datum(&apache_avro::Schema::parse_str(schema).unwrap(), datum)
                .unwrap();
        let framed = [&[0u8][..], &(100 + i as u32).to_be_bytes(), &bytes].concat();
        records.push(TestRecord::new("orders", 0, i as i64).value(framed));
    }
    let results = run::<Avro<Order>>(records, Some(SchemaRegistry::new(registry))).await;
    let expected = Order {
        id: "o-0".into(),
        lines: vec![Line { quantity: 3 }, Line { quantity: 5 }],
        discount: Some(7),
        weight: 2.0,
        total: 40.0,
    };
    assert_eq!(results[&0].as_ref().unwrap().0, expected, "int into double is a promotion");
    for (offset, at, written, read) in [
        (1, "lines[0].quantity", "long", "an `int`"),
        (2, "discount", "long", "an `int`"),
        (3, "weight", "double", "a `float`"),
    ] {
        let (kind, message) = results[&offset].as_ref().unwrap_err();
        assert_eq!(*kind, FailureKind::Decode);
        let expected = format!(
            "the value could not be decoded as `Avro<Order>`: Confluent schema id {} writes a \
             `{written}` where the handler's schema reads {read} (at `{at}`): Avro does not \
             resolve it",
            100 + offset
        );
        assert!(message.starts_with(&expected), "{offset}: {message}");
    }
}

/// Lambda's JSON mode (EventRecordFormat JSON) on an Avro topic: the value is JSON text with
/// the Avro schema's metadata. `Json<T>` reads it as JSON, without fetching the Avro schema or
/// refusing it as "not a JSON Schema" (it did, with the `json-schema` feature and a registry;
/// found in the 2026-11-28 review).
#[tokio::test]
async fn json_mode_records_of_an_avro_topic_read_as_json() {
    let registry = SchemaRegistry::new(StaticSchemas::new().with(
        SchemaRef::ConfluentId(42),
        SchemaFormat::Avro,
        fixture("order-v2.avsc"),
    ));
    let json = r#"{"orderId":"o-1","amountCents":1250,"currency":"EUR","note":null}"#;
    let record = TestRecord::new("orders", 0, 0).value(json).value_schema("AVRO", "42");
    let results = run::<msk_lambda::Json<Order>>(vec![record], Some(registry.clone())).await;
    let expected =
        Order { order_id: "o-1".into(), amount_cents: 1250, currency: "EUR".into(), note: None };
    assert_eq!(results[&0].as_ref().unwrap().0, expected);
    assert_eq!(registry.fetch_count(), 0);
}

// The fixtures' Protobuf messages (tests/fixtures/schema-registry/shop.proto, many.proto),
// written out as prost derives (no protoc needed).
#[derive(Clone, PartialEq, prost::Message)]
struct ShopOrder {
    #[prost(string, tag = "1")]
    order_id: String,
    #[prost(int64, tag = "2")]
    amount_cents: i64,
    #[prost(string, tag = "3")]
    currency: String,
    #[prost(message, repeated, tag = "4")]
    items: Vec<LineItem>,
    #[prost(message, optional, tag = "5")]
    shipping: Option<Shipping>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LineItem {
    #[prost(string, tag = "1")]
    sku: String,
    #[prost(int32, tag = "2")]
    quantity: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Shipping {
    #[prost(string, tag = "1")]
    carrier: String,
    #[prost(string, tag = "2")]
    tracking_id: String,
    #[prost(int64, tag = "3")]
    cost_cents: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Customer {
    #[prost(string, tag = "1")]
    customer_id: String,
    #[prost(string, tag = "2")]
    email: String,
}

/// `many.proto`'s `Mnnn`: `amount_cents` is field `nnn + 2`, so only the right message reads it.
#[derive(Clone, PartialEq, prost::Message)]
struct M064 {
    #[prost(string, tag = "1")]
    order_id: String,
    #[prost(int64, tag = "66")]
    amount_cents: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct M129 {
    #[prost(string, tag = "1")]
    order_id: String,
    #[prost(int64, tag = "131")]
    amount_cents: i64,
}

fn int64(json: &Value) -> i64 {
    json.as_str().map_or_else(|| json.as_i64().unwrap_or(0), |s| s.parse().unwrap())
}

/// Decodes the case's bytes as `M` through a consumer; returns the message and its indexes.
async fn protobuf_case<M>(case: &Value) -> (M, MessageIndexes)
where
    M: prost::Message + Default + Clone + Send + 'static,
{
    let results = run::<Protobuf<M>>(vec![record_of(case, 0)], None).await;
    let decoded = results[&0].as_ref().unwrap_or_else(|e| panic!("{}: {e:?}", case["name"]));
    (decoded.clone().into_inner(), decoded.message_indexes().clone())
}

fn expected_indexes(case: &Value) -> MessageIndexes {
    let indexes: Vec<i32> = serde_json::from_value(case["message_indexes"].clone()).unwrap();
    let glue = case["registry"] == "glue";
    match glue {
        true => MessageIndexes::Glue(indexes[0] as u32),
        false => MessageIndexes::Confluent(indexes),
    }
}

/// Every Protobuf case: Confluent indexes `[0]` (`00`), `[1]` (`02 02`, which Powertools Python
/// misreads), `[0,2]`, `[64]` and `[129]` (two-byte varints, which Powertools TypeScript skips
/// as bytes), header mode, Glue flat indexes up to 129 (`81 01`; Powertools Python drops one
/// byte), and SOURCE mode (prefix gone, indexes kept).
#[tokio::test]
async fn protobuf_message_indexes_of_every_framing() {
    let mut checked = 0;
    for case in cases().into_iter().filter(|c| c["format"] == "PROTOBUF") {
        let name = case["name"].as_str().unwrap().to_owned();
        let expected = &case["expected"];
        let indexes = match case["message_type"].as_str().unwrap() {
            "shop.Order" => {
                let (m, indexes) = protobuf_case::<ShopOrder>(&case).await;
                assert_eq!(m.order_id, expected["order_id"].as_str().unwrap(), "{name}");
                assert_eq!(m.amount_cents, int64(&expected["amount_cents"]), "{name}");
                indexes
            }
            "shop.Customer" => {
                let (m, indexes) = protobuf_case::<Customer>(&case).await;
                assert_eq!(m.customer_id, expected["customer_id"].as_str().unwrap(), "{name}");
                assert_eq!(m.email, expected["email"].as_str().unwrap(), "{name}");
                indexes
            }
            "shop.Order.Shipping" => {
                let (m, indexes) = protobuf_case::<Shipping>(&case).await;
                assert_eq!(m.tracking_id, expected["tracking_id"].as_str().unwrap(), "{name}");
                assert_eq!(m.cost_cents, int64(&expected["cost_cents"]), "{name}");
                indexes
            }
            "shop.many.M064" => {
                let (m, indexes) = protobuf_case::<M064>(&case).await;
                assert_eq!((m.order_id.as_str(), m.amount_cents), ("o-2064", 64), "{name}");
                indexes
            }
            "shop.many.M129" => {
                let (m, indexes) = protobuf_case::<M129>(&case).await;
                assert_eq!(m.amount_cents, 129, "{name}");
                indexes
            }
            other => panic!("{name}: unexpected message type {other}"),
        };
        assert_eq!(indexes, expected_indexes(&case), "{name}");
        checked += 1;
    }
    assert!(checked >= 14, "{checked}");
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonOrder {
    order_id: String,
    amount_cents: i64,
}

/// JSON Schema data framed by Confluent and Glue serializers reads as `Json<T>` (before, the
/// prefix made it "not valid JSON at column 1").
#[tokio::test]
async fn framed_json_schema_payloads_read_as_json() {
    let confluent = case("json-confluent");
    let glue = case("json-glue");
    let results =
        run::<Json<JsonOrder>>(vec![record_of(&confluent, 0), record_of(&glue, 1)], None).await;
    assert_eq!(results[&0].as_ref().unwrap().order_id, "o-3001");
    assert_eq!(results[&1].as_ref().unwrap().amount_cents, 4200);
}

/// A stand-in for a Confluent Schema Registry, clearly not the real server (none installs
/// here): an HTTP/1.1 listener on loopback answering `GET /schemas/ids/{id}` and
/// `GET /schemas/guids/{guid}` with the fixtures' recorded bodies
/// (`Content-Type: application/vnd.schemaregistry.v1+json`), 404 with Confluent's error body
/// otherwise, counting requests; `down` makes it drop connections unanswered.
struct RestStandIn {
    url: String,
    requests: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    auth_seen: Arc<Mutex<Option<String>>>,
}

impl RestStandIn {
    fn start() -> RestStandIn {
        let registry: Value = serde_json::from_str(&fixture("registry.json")).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let auth_seen = Arc::new(Mutex::new(None));
        let (count, is_down, auth) = (requests.clone(), down.clone(), auth_seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (count, is_down, auth) = (count.clone(), is_down.clone(), auth.clone());
                let registry = registry.clone();
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    if is_down.load(Ordering::SeqCst) {
                        return; // connection closed without an answer
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let head = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(line) =
                        head.lines().find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                    {
                        *auth.lock().unwrap() = Some(line[14..].trim().to_owned());
                    }
                    let path = head.split(' ').nth(1).unwrap_or("");
                    // Give concurrent requests for the same id a chance to overlap.
                    std::thread::sleep(std::time::Duration::from_millis(30));
                    let body = path
                        .strip_prefix("/schemas/ids/")
                        .and_then(|id| registry["ids"].get(id))
                        .or_else(|| {
                            path.strip_prefix("/schemas/guids/")
                                .and_then(|g| registry["guids"].get(g))
                        });
                    let (status, body) = match body {
                        Some(body) => ("200 OK", body.to_string()),
                        None => (
                            "404 Not Found",
                            r#"{"error_code":40403,"message":"Schema not found"}"#.to_owned(),
                        ),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes());
                });
            }
        });
        RestStandIn { url, requests, down, auth_seen }
    }
}

/// The Confluent client over HTTP: 200 records over 4 partitions that need the same two
/// schemas cost two requests; basic auth is sent; an unknown id fails its record only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_rest_client_fetches_each_id_once() {
    let server = RestStandIn::start();
    let v1 = b64(&case("avro-confluent-v1-writer")["bytes_b64"]);
    let v3 = b64(&case("avro-confluent-v3-writer")["bytes_b64"]);
    let mut unknown = v1.clone();
    unknown[4] = 99; // schema id 99
    let records: Vec<TestRecord> = (0..200)
        .map(|i| {
            let bytes = match i {
                150 => &unknown,
                _ if i % 2 == 0 => &v1,
                _ => &v3,
            };
            TestRecord::new("orders", i % 4, i64::from(i / 4)).value(bytes)
        })
        .collect();
    let registry = SchemaRegistry::new(ConfluentRegistry::new(&server.url).unwrap().auth(
        msk_lambda::schema::ConfluentAuth::Basic {
            username: "key".into(),
            password: "secret".into(),
        },
    ));
    let seen = Arc::new(AtomicUsize::new(0));
    let handler_seen = seen.clone();
    let consumer = Consumer::new(move |record: Record<Avro<Order>>| {
        let seen = handler_seen.clone();
        async move {
            assert!(record.value().order_id.starts_with("o-100"));
            seen.fetch_add(1, Ordering::SeqCst);
            Ok::<(), msk_lambda::Error>(())
        }
    })
    .failure_policy(FailurePolicy::Continue)
    .schema_registry(registry.clone());
    let report = consumer
        .process(&TestEvent::msk().records(records).to_bytes(), InvocationContext::local())
        .await
        .unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 199);
    assert_eq!(server.requests.load(Ordering::SeqCst), 3, "ids 2, 3 and 99, once each");
    assert_eq!(registry.fetch_count(), 3);
    assert_eq!(server.auth_seen.lock().unwrap().as_deref(), Some("Basic a2V5OnNlY3JldA=="));
    let failed: Vec<_> = report
        .partitions
        .iter()
        .flat_map(|p| {
            p.outcomes.iter().filter_map(|(o, out)| match out {
                Outcome::Failed(f) => Some((p.key.clone(), *o, f.kind, f.message.clone())),
                _ => None,
            })
        })
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let (partition, offset, kind, message) = &failed[0];
    assert_eq!((partition.as_str(), *offset, *kind), ("orders-2", 37, FailureKind::SchemaRegistry));
    assert!(message.contains("Confluent schema id 99 is not in the registry"), "{message}");
    assert!(message.contains(&server.url), "{message}");
}

/// A registry that stops answering mid-run fails the records that need a schema it has not
/// given yet (naming the registry and id), not the invocation; cached schemas keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_outage_fails_records_not_the_process() {
    let server = RestStandIn::start();
    let v1 = b64(&case("avro-confluent-v1-writer")["bytes_b64"]);
    let v3 = b64(&case("avro-confluent-v3-writer")["bytes_b64"]);
    let registry = SchemaRegistry::new(ConfluentRegistry::new(&server.url).unwrap());
    let consumer =
        Consumer::new(|_: Record<Avro<Order>>| async { Ok::<(), msk_lambda::Error>(()) })
            .schema_registry(registry);
    let first = TestEvent::msk().record(TestRecord::new("orders", 0, 0).value(&v1)).to_bytes();
    assert!(consumer.invoke(&first).await.unwrap().batch_item_failures.is_empty());
    server.down.store(true, Ordering::SeqCst);
    let second = TestEvent::msk()
        .record(TestRecord::new("orders", 0, 1).value(&v1))
        .record(TestRecord::new("orders", 1, 5).value(&v3))
        .to_bytes();
    let report = consumer.process(&second, InvocationContext::local()).await.unwrap();
    let outcomes: Vec<_> = report.partitions.iter().map(|p| p.outcomes[0].1.clone()).collect();
    assert_eq!(outcomes[0], Outcome::Succeeded, "schema 2 is cached");
    match &outcomes[1] {
        Outcome::Failed(f) => {
            assert_eq!(f.kind, FailureKind::SchemaRegistry);
            assert!(f.message.contains("Confluent schema id 3"), "{}", f.message);
            assert!(f.message.contains(&server.url), "{}", f.message);
        }
        other => panic!("{other:?}"),
    }
    let response = consumer.invoke(&second).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1);
}

/// moto's Glue (`moto_server` from the project's schema venv, made by
/// scripts/install-test-tools) on a free loopback port; stopped when dropped.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let home = std::env::var("XDG_CACHE_HOME")
            .unwrap_or_else(|_| format!("{}/.cache", std::env::var("HOME").unwrap()));
        let server = format!("{home}/msk-lambda/schema-venv/bin/moto_server");
        assert!(
            std::path::Path::new(&server).exists(),
            "{server} is missing: run scripts/install-test-tools"
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed().as_secs() < 30, "moto did not start");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Moto { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Glue client through the real AWS SDK against moto's Glue: schemas registered with
/// CreateSchema / RegisterSchemaVersion, read back with GetSchemaVersion; v1 data framed with
/// the version id moto gave reads into the v2 type; an unknown version fails its record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glue_registry_through_the_aws_sdk_against_moto() {
    use aws_sdk_glue::types::{Compatibility, DataFormat, RegistryId, SchemaId};
    let moto = Moto::start();
    let config = aws_sdk_glue::Config::builder()
        .behavior_version(aws_sdk_glue::config::BehaviorVersion::latest())
        .region(aws_sdk_glue::config::Region::new("us-east-1"))
        .endpoint_url(&moto.url)
        .credentials_provider(aws_sdk_glue::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    let client = aws_sdk_glue::Client::from_conf(config);
    client.create_registry().registry_name("shop").send().await.unwrap();
    let v1 = client
        .create_schema()
        .registry_id(RegistryId::builder().registry_name("shop").build())
        .schema_name("orders-value")
        .data_format(DataFormat::Avro)
        .compatibility(Compatibility::Backward)
        .schema_definition(fixture("order-v1.avsc"))
        .send()
        .await
        .unwrap();
    let v1_id = Uuid::parse(v1.schema_version_id().unwrap()).unwrap();
    let v2 = client
        .register_schema_version()
        .schema_id(SchemaId::builder().registry_name("shop").schema_name("orders-value").build())
        .schema_definition(fixture("order-v2.avsc"))
        .send()
        .await
        .unwrap();
    let v2_id = Uuid::parse(v2.schema_version_id().unwrap()).unwrap();
    assert_ne!(v1_id, v2_id);
    let glue_framed = |id: Uuid, datum: &[u8]| {
        let mut bytes = vec![0x03, 0x00];
        bytes.extend(id.0);
        bytes.extend(datum);
        bytes
    };
    let v1_case = case("avro-glue-v1-writer");
    let v1_datum = &b64(&v1_case["bytes_b64"])[18..];
    let v2_case = case("avro-glue-v2-writer");
    let v2_datum = &b64(&v2_case["bytes_b64"])[18..];
    let records = vec![
        TestRecord::new("orders", 0, 0).value(glue_framed(v1_id, v1_datum)),
        TestRecord::new("orders", 0, 1).value(glue_framed(v2_id, v2_datum)),
        TestRecord::new("orders", 0, 2).value(glue_framed(Uuid([9; 16]), v2_datum)),
        TestRecord::new("orders", 0, 3).value(glue_framed(v1_id, v1_datum)),
    ];
    let registry = SchemaRegistry::new(msk_lambda::schema::GlueRegistry::with_client(
        "arn:aws:glue:us-east-1:123456789012:registry/shop",
        client,
    ));
    let results = run::<Avro<Order>>(records, Some(registry.clone())).await;
    assert_eq!(results[&0].as_ref().unwrap().0, order_from(&v1_case["expected"]));
    assert_eq!(results[&1].as_ref().unwrap().0, order_from(&v2_case["expected"]));
    let (kind, message) = results[&2].as_ref().unwrap_err();
    assert_eq!(*kind, FailureKind::SchemaRegistry, "{message}");
    assert!(message.contains("AWS Glue schema version 09090909-0909"), "{message}");
    assert!(message.contains("registry/shop"), "{message}");
    assert_eq!(results[&3].as_ref().unwrap().0, order_from(&v1_case["expected"]));
    assert_eq!(registry.fetch_count(), 3, "v1, v2 and the unknown id, once each");
}

mod arbitrary_bytes {
    //! Arbitrary bytes (and arbitrary framing around real messages) into every registry-aware
    //! decoder, called directly (not through the consumer, whose unwind boundary would hide a
    //! panic): each returns a value or an error, never panics.
    use super::*;
    use msk_lambda::schema::RegisteredSchema;
    use msk_lambda::{DecodeContext, Headers, Part};
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8], cx: &DecodeContext<'_>) {
        let bytes = bytes::Bytes::copy_from_slice(bytes);
        let some = Some(&bytes);
        let _ = Avro::<Order>::decode(some, cx);
        let _ = AvroDatum::<Order>::decode(some, cx);
        let _ = AvroValue::decode(some, cx);
        let _ = Protobuf::<ShopOrder>::decode(some, cx);
        let _ = Protobuf::<M129>::decode(some, cx);
        let _ = Json::<JsonOrder>::decode(some, cx);
        let _ = Avro::<Order>::writer_schema(some, cx);
        if let Ok(unframed) = cx.unframe(&bytes, msk_lambda::schema::Sniff::Safe) {
            let _ = unframed.protobuf_message();
        }
    }

    fn metadata() -> impl Strategy<Value = Option<msk_lambda::SchemaMetadata>> {
        prop_oneof![
            Just(None),
            Just(Some(("AVRO", "2"))),
            Just(Some(("PROTOBUF", "6"))),
            Just(Some(("PROTOBUF", "563683cc-871c-4d32-b951-c16013b0d4a9"))),
            Just(Some(("JSON", "x"))),
        ]
        .prop_map(|m| {
            m.map(|(format, id)| {
                serde_json::from_value(serde_json::json!({"dataFormat": format, "schemaId": id}))
                    .unwrap()
            })
        })
    }

    /// A framing prefix followed by arbitrary bytes.
    fn framed() -> impl Strategy<Value = Vec<u8>> {
        let prefix = prop_oneof![
            Just(vec![]),
            Just(vec![0x00, 0, 0, 0, 2]),
            Just(vec![0x00, 0, 0, 0, 6]),
            Just(vec![0x01]),
            Just(vec![0x03, 0x00]),
            Just(vec![0x03, 0x05]),
            Just(vec![0xC3, 0x01]),
        ];
        (prefix, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(mut p, rest)| {
            p.extend(rest);
            p
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
        #[test]
        fn never_panic(
            bytes in framed(),
            metadata in metadata(),
            header in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..24)),
            with_writer in any::<bool>(),
        ) {
            let headers = match &header {
                Some(value) => Headers::from_pairs([("__value_schema_id", value.as_slice())]),
                None => Headers::default(),
            };
            let writer = RegisteredSchema::new(SchemaRef::ConfluentId(2), SchemaFormat::Avro, fixture("order-v1.avsc"));
            let cx = DecodeContext::new(Part::Value, "t", &headers)
                .with_schema_metadata(metadata.as_ref())
                .with_writer_schema(with_writer.then_some(&writer));
            decode_all(&bytes, &cx);
        }
    }
}

/// With a registry, framed JSON is validated against its writer's JSON Schema (no Powertools
/// runtime validates): the serializer's invalid record (written with validation off) fails,
/// naming the schema and the schema path, never the value; valid records read.
#[tokio::test]
async fn json_schema_validation_with_the_writer_schema() {
    let valid = case("json-confluent");
    let glue = case("json-glue");
    let invalid = case("json-confluent-invalid");
    let registry = SchemaRegistry::new(fixture_schemas());
    let records = vec![record_of(&valid, 0), record_of(&glue, 1), record_of(&invalid, 2)];
    let results = run::<Json<JsonOrder>>(records, Some(registry)).await;
    assert_eq!(results[&0].as_ref().unwrap().order_id, "o-3001");
    assert_eq!(results[&1].as_ref().unwrap().order_id, "o-4004");
    let (kind, message) = results[&2].as_ref().unwrap_err();
    assert_eq!(*kind, FailureKind::Decode);
    assert!(
        message.contains("does not match its JSON Schema (Confluent schema id 8)"),
        "{message}"
    );
    assert!(message.contains("/properties/amountCents/type"), "{message}");
    assert!(!message.contains("25.00") && !message.contains("EURO"), "{message}");
}

/// Confluent credentials from an AWS Secrets Manager secret (moto's server mode, the real AWS
/// SDK): `MSK_LAMBDA_SCHEMA_REGISTRY_SECRET_ARN` names the secret an event source mapping's
/// `BASIC_AUTH` uses, and its username and password reach the registry as basic auth. A secret
/// without a password, one that is not JSON and one that does not exist are errors naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_credentials_from_a_secrets_manager_secret() {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let moto = Moto::start();
    let client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&moto.url)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build(),
    );
    let create = |name: &'static str, text: &'static str| {
        let client = client.clone();
        async move {
            let made = client.create_secret().name(name).secret_string(text).send().await.unwrap();
            made.arn().unwrap().to_owned()
        }
    };
    let arn = create("registry", r#"{"username":"key","password":"secret"}"#).await;

    // The standard variables the AWS SDK reads (no other test of this binary reads them, nor
    // resolves a Confluent URL from the environment).
    std::env::set_var("AWS_ENDPOINT_URL", &moto.url);
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var(msk_lambda::schema::SCHEMA_REGISTRY_SECRET_ENV, &arn);
    let server = RestStandIn::start();
    let resolved = SchemaRegistry::from_uri(&server.url).await;
    std::env::set_var("MSK_LAMBDA_SCHEMA_REGISTRY_USERNAME", "other");
    std::env::set_var("MSK_LAMBDA_SCHEMA_REGISTRY_PASSWORD", "other");
    let both = SchemaRegistry::from_uri(&server.url).await;
    for name in [
        msk_lambda::schema::SCHEMA_REGISTRY_SECRET_ENV,
        "MSK_LAMBDA_SCHEMA_REGISTRY_USERNAME",
        "MSK_LAMBDA_SCHEMA_REGISTRY_PASSWORD",
    ] {
        std::env::remove_var(name);
    }
    let both = both.expect_err("a secret and a user name both set");
    assert!(both.to_string().contains("not both"), "{both}");

    let consumer =
        Consumer::new(|_: Record<Avro<Order>>| async { Ok::<(), msk_lambda::Error>(()) })
            .schema_registry(resolved.unwrap());
    let v1 = b64(&case("avro-confluent-v1-writer")["bytes_b64"]);
    let event = TestEvent::msk().record(TestRecord::new("orders", 0, 0).value(&v1)).to_bytes();
    assert!(consumer.invoke(&event).await.unwrap().batch_item_failures.is_empty());
    assert_eq!(server.auth_seen.lock().unwrap().as_deref(), Some("Basic a2V5OnNlY3JldA=="));

    let no_password = create("no-password", r#"{"username":"key"}"#).await;
    let not_json = create("not-json", "key:secret").await;
    let missing = arn.replace("registry", "absent");
    for (arn, expected) in [
        (&no_password, "no non-empty string field `password`"),
        (&not_json, "is not JSON"),
        (&missing, "cannot read the secret"),
    ] {
        let error =
            msk_lambda::schema::ConfluentAuth::from_secret(&client, arn).await.expect_err(expected);
        let message = error.to_string();
        assert!(message.contains(expected) && message.contains(arn.as_str()), "{message}");
    }
}
