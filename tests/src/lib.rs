//! Shared pieces of the integration tests: fixture paths.

pub mod broker;
pub mod emulator;

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

/// One fuzz input: any bytes as an invocation body, through the public processing call with
/// several record types. Panics (the fuzzer's signal) when the framework panics, or when an
/// accepted event is not fully accounted for in the report and the response.
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

    // The fast event parser must agree with serde_json wherever it accepts an event.
    msk_lambda::__differential::check_against_serde(data);

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
                    let (ca, cb) = (a.counts(), b.counts());
                    assert_eq!(ca.records, cb.records, "both consumers see the same records");
                    for (report, counts) in [(&a, ca), (&b, cb)] {
                        assert_eq!(
                            counts.records,
                            counts.succeeded + counts.failed + counts.skipped + counts.not_started
                        );
                        let json = report.response().to_json();
                        let back: msk_lambda::BatchResponse =
                            serde_json::from_str(&json).expect("the response is valid JSON");
                        assert_eq!(back.batch_item_failures.is_empty(), report.is_success());
                    }
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("the event was accepted by one consumer only: {a:?} / {b:?}"),
            }
        })
    });
}
