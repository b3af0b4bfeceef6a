//! Shared pieces of the integration tests: fixture paths, and the servers tests run against
//! (a Kafka broker, a Lambda emulator, PostgreSQL).

#![forbid(unsafe_code)]

pub mod broker;
pub mod e2e_function;
pub mod emulator;
pub mod postgres;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// How many cases a property test runs: `PROPTEST_CASES` if set (for longer runs), else `default`.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The path of a file in `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// The bytes of a file in `tests/fixtures`.
pub fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// The offsets of each `records` entry, sorted, read by a plain derived serde type: independent
/// of both of the crate's parsers (the fast one and its serde wire types). Called only on events
/// the crate accepted, which serde reads too.
fn offsets_by_partition(data: &[u8]) -> BTreeMap<String, Vec<i64>> {
    #[derive(serde::Deserialize)]
    struct Event {
        records: BTreeMap<String, Vec<OneRecord>>,
    }
    #[derive(serde::Deserialize)]
    struct OneRecord {
        topic: String,
        partition: i32,
        offset: i64,
        // Read as bytes, as Lambda's base64 fields are: control characters in them are left to
        // the base64 decoder (to fail the record), so they do not make the event unreadable.
        #[serde(default)]
        #[allow(dead_code)]
        key: Option<AnyBytes>,
        #[serde(default)]
        #[allow(dead_code)]
        value: Option<AnyBytes>,
    }
    struct AnyBytes;
    impl<'de> serde::Deserialize<'de> for AnyBytes {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = AnyBytes;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a string")
                }
                fn visit_bytes<E>(self, _: &[u8]) -> Result<AnyBytes, E> {
                    Ok(AnyBytes)
                }
                fn visit_str<E>(self, _: &str) -> Result<AnyBytes, E> {
                    Ok(AnyBytes)
                }
            }
            d.deserialize_bytes(V)
        }
    }
    let event: Event = serde_json::from_slice(data).expect("an accepted event is a Kafka event");
    event
        .records
        .into_iter()
        .map(|(key, records)| {
            let mut offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
            offsets.sort_unstable();
            // The response names a partition by its records' own topic and partition.
            let key = records.first().map_or(key, |r| format!("{}-{}", r.topic, r.partition));
            (key, offsets)
        })
        .collect()
}

/// One fuzz input: any bytes as an invocation body, through the public processing call with
/// several record types. Panics (the fuzzer's signal) when the framework panics, or when an
/// accepted event's records (read independently) are not exactly those of the report, or the
/// response names a record the event does not have.
///
/// Used by the cargo-fuzz target in `fuzz/` and by the fuzz smoke test.
pub fn fuzz_one(data: &[u8]) {
    use msk_lambda::{Consumer, InvocationContext, Json, Record};

    async fn json_values(_: Record<Json<serde_json::Value>, Option<String>>) -> Result<(), String> {
        Ok(())
    }
    async fn text_values(r: Record<Option<String>, Vec<u8>>) -> Result<(), String> {
        // Fail some records so that both failure paths run.
        if r.offset() % 3 == 0 {
            Err("every third offset fails".into())
        } else {
            Ok(())
        }
    }

    // The fast event parser must agree with serde_json wherever it accepts an event, and so
    // must the fast JSON reader behind `Json<T>` (the event is JSON too).
    msk_lambda::__differential::check_against_serde(data);
    msk_lambda::__differential::check_json_against_serde(data);

    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime");
    }
    RUNTIME.with(|rt| {
        rt.block_on(async {
            let a = Consumer::new(json_values).process(data, InvocationContext::local()).await;
            let b = Consumer::new(text_values)
                .failure_policy(msk_lambda::FailurePolicy::Continue)
                .process(data, InvocationContext::local())
                .await;
            match (a, b) {
                (Ok(a), Ok(b)) => {
                    let expected = offsets_by_partition(data);
                    for report in [&a, &b] {
                        // Every record of the event, and nothing else, is in the report.
                        let seen: BTreeMap<String, Vec<i64>> = report
                            .partitions
                            .iter()
                            .map(|p| {
                                let mut offsets: Vec<i64> =
                                    p.outcomes.iter().map(|(offset, _)| *offset).collect();
                                offsets.sort_unstable();
                                (p.key.clone(), offsets)
                            })
                            .collect();
                        assert_eq!(seen, expected, "the report's records are not the event's");
                        assert_eq!(report.partitions.len(), expected.len(), "a partition twice");
                        // The response names records of the event, each once: exactly those
                        // that did not succeed.
                        let json = report.response().to_json();
                        let back: msk_lambda::BatchResponse =
                            serde_json::from_str(&json).expect("the response is valid JSON");
                        assert_eq!(back.batch_item_failures.is_empty(), report.is_success());
                        let mut named = std::collections::HashSet::new();
                        for f in &back.batch_item_failures {
                            let id = &f.item_identifier;
                            assert!(
                                expected.get(&id.partition).is_some_and(|o| o.contains(&id.offset)),
                                "the response names a record the event does not have: {id:?}"
                            );
                            assert!(
                                named.insert((id.partition.clone(), id.offset)),
                                "{id:?} named twice"
                            );
                        }
                        let not_succeeded: std::collections::HashSet<(String, i64)> = report
                            .partitions
                            .iter()
                            .flat_map(|p| {
                                p.outcomes
                                    .iter()
                                    .filter(|(_, o)| *o != msk_lambda::Outcome::Succeeded)
                                    .map(|(offset, _)| (p.key.clone(), *offset))
                            })
                            .collect();
                        assert_eq!(named, not_succeeded, "named: exactly what did not succeed");
                    }
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("the event was accepted by one consumer only: {a:?} / {b:?}"),
            }
        })
    });
}
