//! A short, deterministic run of the fuzz target on every test run: random bytes, byte-level
//! mutations of real events, and well-formed JSON with fields of random types. The
//! coverage-guided fuzzer runs the same target for longer (see the README).

use base64::Engine as _;
use msk_lambda::__differential::{
    check_against_serde, check_json_against_serde, json_fast_reads, lambda_layout_records,
};
use msk_lambda_tests::fuzz_one;
use proptest::prelude::*;
use serde_json::{json, Value};

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/event");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    files
}

#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to JSON and to base64 more often than others.
    let byte =
        prop_oneof![any::<u8>(), prop::sample::select(b"{}[]\",:-0123456789+/=\\ntfe".to_vec())];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Remove),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn mutate(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = data.len().max(1);
        match *edit {
            Edit::Set(i, b) if !data.is_empty() => data[i % len] = b,
            Edit::Insert(i, b) => data.insert(i % (data.len() + 1), b),
            Edit::Remove(i) if !data.is_empty() => {
                data.remove(i % len);
            }
            Edit::Truncate(i) => data.truncate(i % len),
            _ => {}
        }
    }
    data
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z0-9+/=-]{0,12}".prop_map(Value::String),
        Just(Value::from(-1)),
        Just(Value::from(u64::MAX)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,3}", inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// JSON values for `Json<T>`'s fast reader: any string (escapes, non-ASCII, control
/// characters), any number, nesting, and keys that are the fields of the differential check's
/// struct (so that its typed paths run on values of every type).
fn value_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u8..=255).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        "[a-zA-Z0-9 /.-]{0,24}".prop_map(Value::String),
        prop::sample::select(vec!["Unit", "New", "Pair", "Fields", "A", "B"]).prop_map(Value::from),
    ];
    let key = prop_oneof![
        prop::sample::select(vec![
            "userId",
            "eventType",
            "n",
            "u",
            "f",
            "g",
            "b",
            "c",
            "unit",
            "list",
            "bytes",
            "map",
            "keyed",
            "tuple",
            "kind",
            "untagged",
            "tagged",
            "nested",
            "any",
            "lenient",
            "renamed",
            "other",
            "id",
            "a",
            "t",
            "x",
            "y",
            "New",
            "Pair",
            "Fields",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const ENVELOPE: [&str; 5] =
    ["eventSource", "eventSourceArn", "bootstrapServers", "records", "Records"];

const FIELDS: [&str; 10] = [
    "topic",
    "partition",
    "offset",
    "timestamp",
    "timestampType",
    "key",
    "value",
    "headers",
    "keySchemaMetadata",
    "valueSchemaMetadata",
];

/// A record's fields as JSON text, in Lambda's order: every field Lambda writes, random values.
fn lambda_fields() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let bytes = || prop::option::of(prop::collection::vec(any::<u8>(), 0..24));
    let b64 = |b: Option<Vec<u8>>| match b {
        Some(b) => format!("\"{}\"", base64::engine::general_purpose::STANDARD.encode(b)),
        None => "null".to_owned(),
    };
    let header = ("[a-z][a-z.-]{0,6}", prop::collection::vec(any::<i8>(), 0..6));
    (
        0..1_000i64,
        any::<i64>(),
        prop::sample::select(vec!["CREATE_TIME", "LOG_APPEND_TIME", "NO_TIMESTAMP_TYPE"]),
        bytes(),
        bytes(),
        prop::collection::vec(header, 0..4),
    )
        .prop_map(move |(offset, timestamp, ty, key, value, headers)| {
            let headers: Vec<String> = headers
                .iter()
                .map(|(name, bytes)| format!("{{\"{name}\":{}}}", Value::from(bytes.clone())))
                .collect();
            vec![
                ("topic", "\"t.x-y\"".to_owned()),
                ("partition", "7".to_owned()),
                // Offsets that are never a timestamp: a reader that swapped them would be seen.
                ("offset", (offset * 2 + 1).to_string()),
                ("timestamp", (timestamp & !1).to_string()),
                ("timestampType", format!("\"{ty}\"")),
                ("key", b64(key)),
                ("value", b64(value)),
                ("headers", format!("[{}]", headers.join(","))),
            ]
        })
}

/// Fields that Lambda writes only sometimes (schema metadata) or that a future Lambda might
/// add: they go after `headers`, or anywhere when the order is shuffled.
fn extra_fields() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    prop::sample::subsequence(
        vec![
            ("keySchemaMetadata", r#"{"dataFormat":"JSON","schemaId":"k-1"}"#.to_owned()),
            ("valueSchemaMetadata", r#"{"dataFormat":"AVRO","schemaId":"v-1"}"#.to_owned()),
            ("future", r#"[1,{"a":null}]"#.to_owned()),
        ],
        0..=3,
    )
}

fn object(fields: &[(&str, String)], separator: &str) -> String {
    let members: Vec<String> =
        fields.iter().map(|(name, value)| format!("\"{name}\":{value}")).collect();
    format!("{{{}}}", members.join(separator))
}

/// An event with `records` (as JSON texts) under `"t.x-y-7"`, envelope in Lambda's order.
fn event(records: &[String]) -> Vec<u8> {
    format!(
        r#"{{"eventSource":"aws:kafka","eventSourceArn":"arn:aws:kafka:us-east-1:1:cluster/c/1","bootstrapServers":"b-1:9098","records":{{"t.x-y-7":[{}]}}}}"#,
        records.join(",")
    )
    .into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: msk_lambda_tests::proptest_cases(400), ..ProptestConfig::default() })]

    /// Records exactly as Lambda writes them take the fast parser's straight-line path (proven
    /// by its count), and it reads them as serde_json does.
    #[test]
    fn lambda_layout_takes_the_straight_line_path(records in prop::collection::vec(lambda_fields(), 1..6)) {
        let texts: Vec<String> = records.iter().map(|r| object(r, ",")).collect();
        let event = event(&texts);
        prop_assert_eq!(lambda_layout_records(&event), Some(records.len()));
        check_against_serde(&event);
        fuzz_one(&event);
    }

    /// Any field order, fields after `headers`, whitespace: the fast parser still reads the
    /// event (no escapes, no odd numbers), exactly as serde_json does.
    #[test]
    fn any_field_order_agrees_with_serde(
        records in prop::collection::vec(
            (lambda_fields(), extra_fields(), any::<bool>(), any::<bool>())
                .prop_flat_map(|(mut fields, extra, shuffle, spaced)| {
                    fields.extend(extra);
                    let fields = if shuffle { Just(fields).prop_shuffle().boxed() } else { Just(fields).boxed() };
                    (fields, Just(spaced))
                }),
            1..6,
        )
    ) {
        let texts: Vec<String> =
            records.iter().map(|(r, spaced)| object(r, if *spaced { " , " } else { "," })).collect();
        let event = event(&texts);
        prop_assert!(lambda_layout_records(&event).is_some(), "the fast parser declined a plain event");
        check_against_serde(&event);
        fuzz_one(&event);
    }

    #[test]
    fn random_bytes(data in prop::collection::vec(any::<u8>(), 0..256)) {
        fuzz_one(&data);
    }

    #[test]
    fn mutated_events(pick in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..8)) {
        let corpus = corpus();
        let data = mutate(pick.get(&corpus).clone(), &edits);
        fuzz_one(&data);
    }

    #[test]
    fn envelope_fields_of_any_type(field in prop::sample::select(ENVELOPE.to_vec()), value in any_json()) {
        let mut event = json!({
            "eventSource": "aws:kafka",
            "records": {"t-0": [{"topic": "t", "partition": 0, "offset": 1, "value": "eyJhIjoxfQ=="}]},
        });
        event[field] = value;
        fuzz_one(event.to_string().as_bytes());
    }

    #[test]
    fn record_fields_of_any_type(field in prop::sample::select(FIELDS.to_vec()), value in any_json(), at_top in any::<bool>()) {
        // Lambda's order and layout, so that every field is also tried on the straight-line path.
        let mut record: Vec<(&str, String)> = vec![
            ("topic", r#""t-x.y""#.into()), ("partition", "3".into()), ("offset", "7".into()),
            ("timestamp", "0".into()), ("timestampType", r#""CREATE_TIME""#.into()),
            ("key", r#""a2V5""#.into()), ("value", r#""eyJhIjoxfQ==""#.into()),
            ("headers", r#"[{"h":[1,-1]}]"#.into()),
        ];
        let mut top = String::new();
        if at_top {
            top = format!(r#","{field}":{value}"#);
        } else if let Some(slot) = record.iter_mut().find(|(name, _)| *name == field) {
            slot.1 = value.to_string();
        } else {
            record.push((field, value.to_string()));
        }
        let event = format!(r#"{{"eventSource":"aws:kafka","records":{{"t-x.y-3":[{}]}}{top}}}"#, object(&record, ","));
        fuzz_one(event.as_bytes());
    }
}

/// The compact seeds in Lambda's layout reach the straight-line path, so the coverage-guided
/// fuzzer starts from it.
#[test]
fn lambda_seeds_reach_the_straight_line_path() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/event");
    for (name, straight) in [
        ("lambda-compact.json", 6),
        ("lambda-schema-metadata.json", 2),
        ("lambda-field-after-headers.json", 1),
    ] {
        let data = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(lambda_layout_records(&data), Some(straight), "{name}");
        check_against_serde(&data);
        fuzz_one(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: msk_lambda_tests::proptest_cases(400), ..ProptestConfig::default() })]

    /// Any JSON value as serde_json writes it (compact or pretty) is read by `Json<T>`'s fast
    /// reader itself, and read exactly as serde_json reads it (as a `Value` and as typed
    /// structs).
    #[test]
    fn json_values_take_the_fast_reader(value in value_json(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) }.unwrap();
        prop_assert!(json_fast_reads(text.as_bytes()), "declined: {}", text);
        check_json_against_serde(text.as_bytes());
    }

    /// Mutated JSON (bytes set, inserted, removed, cut): wherever the fast reader accepts it,
    /// serde_json reads the same.
    #[test]
    fn mutated_json_agrees_with_serde(value in value_json(), edits in prop::collection::vec(edit(), 1..6)) {
        let data = mutate(serde_json::to_vec(&value).unwrap(), &edits);
        check_json_against_serde(&data);
    }

    #[test]
    fn random_bytes_as_json(data in prop::collection::vec(any::<u8>(), 0..64)) {
        check_json_against_serde(&data);
    }
}
