//! End to end under cargo-lambda's Runtime API emulator: the real binary, one warm process
//! serving invocation after invocation, through msk-lambda's own Runtime API client
//! (`Consumer::run`, what `#[msk_handler]` generates) and through `lambda_runtime`
//! (`Consumer::into_runtime`).

use std::path::Path;

use msk_lambda::testing::{TestEvent, TestRecord};
use msk_lambda_tests::emulator::Emulator;
use serde_json::Value;

fn event(records: &[(&str, i32, i64, &str)]) -> Vec<u8> {
    let records = records.iter().map(|(topic, partition, offset, value)| {
        TestRecord::new(*topic, *partition, *offset).value(*value).header("trace-id", "t-1")
    });
    TestEvent::msk().records(records).to_bytes()
}

#[test]
fn a_warm_function_serves_invocation_after_invocation() {
    warm_function(Path::new(env!("CARGO_BIN_EXE_e2e-consumer")));
}

#[test]
fn a_warm_function_serves_invocation_after_invocation_through_into_runtime() {
    warm_function(Path::new(env!("CARGO_BIN_EXE_e2e-into-runtime")));
}

fn warm_function(binary: &Path) {
    let emulator = Emulator::start();
    // Metrics are opt-in (they are billed as custom metrics): on through the environment.
    let mut function = emulator
        .function(binary, &[("AWS_LAMBDA_LOG_FORMAT", "JSON"), ("MSK_LAMBDA_METRICS", "on")]);

    // 1. Every record succeeds.
    let all_ok =
        event(&[("orders", 0, 1, "ok"), ("orders", 0, 2, "ok"), ("orders.v2-x", 3, 9, "ok")]);
    assert_eq!(emulator.invoke(&all_ok).unwrap(), r#"{"batchItemFailures":[]}"#);

    // 2. Failures across partitions: a handler error, and a value that is not base64.
    let mut mixed = TestEvent::msk()
        .records([
            TestRecord::new("orders", 0, 10).value("ok"),
            TestRecord::new("orders", 0, 11).value("err"),
            TestRecord::new("orders", 0, 12).value("ok"),
            TestRecord::new("orders", 1, 5).value("ok"),
            TestRecord::new("orders", 1, 6).value("ok"),
            TestRecord::new("orders.v2-x", 3, 20).value("ok"),
        ])
        .to_value();
    mixed["records"]["orders-1"][1]["value"] = "%%%".into();
    assert_eq!(
        emulator.invoke(mixed.to_string().as_bytes()).unwrap(),
        r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-0","offset":11}},{"itemIdentifier":{"partition":"orders-0","offset":12}},{"itemIdentifier":{"partition":"orders-1","offset":6}}]}"#
    );

    // 3. A malformed envelope is a function error, not a crash.
    let err =
        emulator.invoke(br#"{"Records":[{"eventSource":"aws:sqs","body":"x"}]}"#).unwrap_err();
    assert!(err.contains("MskLambda.InvalidEvent"), "{err}");
    assert!(err.contains("not a Kafka event: it has no `records` object"), "{err}");
    assert!(function.is_running());

    // 4. A panic fails its record only ...
    let panics =
        event(&[("orders", 0, 30, "ok"), ("orders", 0, 31, "panic"), ("orders", 2, 1, "ok")]);
    assert_eq!(
        emulator.invoke(&panics).unwrap(),
        r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-0","offset":31}}]}"#
    );
    // 5. ... and the next invocation is healthy.
    assert_eq!(emulator.invoke(&all_ok).unwrap(), r#"{"batchItemFailures":[]}"#);
    assert!(function.is_running());

    // The state was built once for all five invocations.
    let output = function.output();
    let lines: Vec<Value> = output
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let inits = lines.iter().filter(|l| l["message"] == "e2e state initialised").count();
    assert_eq!(inits, 1, "{output}");
    // What crates log through `log` (rustls, apache-avro) reaches the logs too.
    let through_log: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "e2e state initialised, through the log crate")
        .collect();
    assert_eq!(through_log.len(), 1, "{output}");
    assert_eq!(through_log[0]["level"], "INFO");
    let records: Vec<&Value> = lines.iter().filter(|l| l["message"] == "record").collect();
    assert_eq!(records.len(), 3 + 5 + 2 + 3);
    assert!(records.iter().all(|l| l["inits"] == 1));

    // JSON logs: each failed record logged once, with where and why, inside the invocation's
    // span (request id) and the batch span (record count); payloads never appear.
    let failed: Vec<&Value> = lines.iter().filter(|l| l["message"] == "record failed").collect();
    assert_eq!(failed.len(), 3, "{output}");
    let f = failed[0];
    assert_eq!(f["level"], "WARN");
    assert_eq!((&f["topic_partition"], &f["offset"]), (&"orders-0".into(), &11.into()));
    assert_eq!(f["reason"], "refused offset 11");
    assert_eq!(f["kind"], "handler");
    assert!(f["requestId"].as_str().is_some_and(|id| id.len() >= 32), "{f}");
    assert_eq!((&f["records"], &f["partitions"]), (&6.into(), &3.into()), "the batch span");
    // What Lambda's log-level filtering reads: an RFC 3339 time, and the level.
    assert!(f["timestamp"].as_str().is_some_and(|t| t.len() == 27 && t.ends_with('Z')), "{f}");
    assert!(failed[1]["reason"].as_str().unwrap().contains("not valid base64"));
    assert_eq!(failed[2]["kind"], "panic");
    assert!(!output.contains("%%%"));

    // One EMF line per processed invocation (the malformed one fails before processing).
    let emf: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    assert_eq!(emf.len(), 4, "{output}");
    let m = emf[1];
    assert_eq!(m["_aws"]["CloudWatchMetrics"][0]["Namespace"], "MskLambda");
    assert_eq!(
        m["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["FunctionName"]])
    );
    assert_eq!(m["FunctionName"], "_");
    // Kept by Lambda's log-level filtering (the function's level, INFO by default).
    assert_eq!(m["level"], "INFO");
    assert!(m["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{m}");
    assert_eq!(
        (
            &m["Records"],
            &m["RecordsSucceeded"],
            &m["RecordsFailed"],
            &m["RecordsSkipped"],
            &m["RecordsNotStarted"]
        ),
        (&6.into(), &3.into(), &2.into(), &1.into(), &0.into())
    );
    assert!(m["BatchDuration"].as_f64().is_some_and(|ms| ms >= 0.0));
    // The test records are stamped 2025-01-01: their age is the time since then.
    assert!(m["OldestRecordAge"].as_i64().is_some_and(|age| age > 0));
}

#[test]
fn whole_batch_mode_fails_the_invocation_under_the_emulator() {
    let emulator = Emulator::start();
    let binary = Path::new(env!("CARGO_BIN_EXE_e2e-whole-batch"));
    // Metrics are off unless asked for.
    let function = emulator.function(binary, &[]);
    let ok = event(&[("t", 0, 1, "ok"), ("t", 1, 1, "ok")]);
    assert_eq!(emulator.invoke(&ok).unwrap(), r#"{"batchItemFailures":[]}"#);
    let failing = event(&[("t", 0, 2, "ok"), ("t", 0, 3, "err"), ("t", 1, 2, "ok")]);
    let err = emulator.invoke(&failing).unwrap_err();
    assert!(err.contains("MskLambda.BatchFailed"), "{err}");
    assert!(err.contains("t-0@3: handler: refused offset 3"), "{err}");
    let output = function.output();
    assert!(!output.contains("_aws"), "metrics are off by default");
    // Text logs (Lambda's default format) as CloudWatch shows them: no colour escapes.
    assert!(
        output.contains(
            "}:batch{records=3 partitions=2}: record failed topic_partition=\"t-0\" offset=3"
        ),
        "{output}"
    );
    assert!(!output.contains('\x1b'), "{output}");
}

#[test]
fn a_failing_init_ends_the_process_with_its_reason() {
    let emulator = Emulator::start();
    let binary = Path::new(env!("CARGO_BIN_EXE_e2e-init-fails"));
    let mut function = emulator.function(binary, &[]);
    let started = std::time::Instant::now();
    while function.is_running() {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "the process did not exit");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Lambda reports the exit before the first invocation as an init error; the log says why.
    let output = function.output();
    assert!(
        output.contains("error: the state init function failed: MSK_BOOTSTRAP_SERVERS is not set"),
        "{output}"
    );
}
