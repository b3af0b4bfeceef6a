//! A short, deterministic run of the fuzz target on every test run: random bytes, byte-level
//! mutations of real events, and well-formed JSON with fields of random types. The
//! coverage-guided fuzzer runs the same target for longer (see the README).

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

proptest! {
    #![proptest_config(ProptestConfig { cases: msk_lambda_tests::proptest_cases(400), ..ProptestConfig::default() })]

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
        let mut record = json!({
            "topic": "t-x.y", "partition": 3, "offset": 7, "timestamp": 0,
            "timestampType": "CREATE_TIME", "key": "a2V5", "value": "eyJhIjoxfQ==",
            "headers": [{"h": [1, -1]}],
        });
        let mut event = json!({ "eventSource": "aws:kafka", "records": {} });
        if at_top {
            event[field] = value;
            event["records"]["t-x.y-3"] = json!([record]);
        } else {
            record[field] = value;
            event["records"]["t-x.y-3"] = json!([record]);
        }
        fuzz_one(event.to_string().as_bytes());
    }
}
