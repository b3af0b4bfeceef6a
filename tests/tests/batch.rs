//! The batch engine: exact responses for every failure kind, in both failure policies and both
//! response modes; order within partitions; concurrency; deadlines; shared state.

use std::cell::{Cell, RefCell};
use std::num::NonZeroUsize;
use std::time::{Duration, SystemTime};

use msk_lambda::testing::{TestEvent, TestRecord};
use msk_lambda::{
    Consumer, FailureKind, FailurePolicy, InvocationContext, InvocationError, Outcome, Record,
    ResponseMode,
};

/// Each record's value says what the handler does with it.
async fn scripted(record: Record<String>) -> Result<(), String> {
    match record.value().as_str() {
        "ok" => Ok(()),
        "err" => Err(format!("refused offset {}", record.offset())),
        "panic" => panic!("handler bug at offset {}", record.offset()),
        "sleep" => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(())
        }
        other => Err(format!("unexpected script {other}")),
    }
}

fn rec(topic: &str, partition: i32, offset: i64, script: &str) -> TestRecord {
    TestRecord::new(topic, partition, offset).value(script)
}

/// Four partitions: handler error then panic; a value that is not base64; a panic; all fine.
fn mixed_event() -> Vec<u8> {
    let event = TestEvent::msk().records([
        rec("a", 0, 1, "ok"),
        rec("a", 0, 2, "err"),
        rec("a", 0, 3, "ok"),
        rec("a", 0, 4, "panic"),
        rec("a", 0, 5, "ok"),
        rec("b.x-y", 1, 10, "ok"),
        rec("b.x-y", 1, 11, "ok"),
        rec("b.x-y", 1, 12, "ok"),
        rec("c", 2, 7, "ok"),
        rec("c", 2, 8, "panic"),
        rec("c", 2, 9, "ok"),
        rec("d", 3, 100, "ok"),
        rec("d", 3, 101, "ok"),
    ]);
    let mut json = event.to_value();
    json["records"]["b.x-y-1"][1]["value"] = "not base64!".into();
    json.to_string().into_bytes()
}

/// Runs the scripted handler over `event` as one invocation.
async fn invoke(
    policy: FailurePolicy,
    mode: ResponseMode,
    event: &[u8],
) -> Result<msk_lambda::BatchResponse, InvocationError> {
    Consumer::new(scripted).failure_policy(policy).response_mode(mode).invoke(event).await
}

/// Every record's outcome of the scripted handler over `event`.
async fn report(policy: FailurePolicy, event: &[u8]) -> msk_lambda::BatchReport {
    Consumer::new(scripted)
        .failure_policy(policy)
        .process(event, InvocationContext::local())
        .await
        .unwrap()
}

const STOP_RESPONSE: &str = r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"a-0","offset":2}},{"itemIdentifier":{"partition":"a-0","offset":3}},{"itemIdentifier":{"partition":"a-0","offset":4}},{"itemIdentifier":{"partition":"a-0","offset":5}},{"itemIdentifier":{"partition":"b.x-y-1","offset":11}},{"itemIdentifier":{"partition":"b.x-y-1","offset":12}},{"itemIdentifier":{"partition":"c-2","offset":8}},{"itemIdentifier":{"partition":"c-2","offset":9}}]}"#;
const CONTINUE_RESPONSE: &str = r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"a-0","offset":2}},{"itemIdentifier":{"partition":"a-0","offset":4}},{"itemIdentifier":{"partition":"b.x-y-1","offset":11}},{"itemIdentifier":{"partition":"c-2","offset":8}}]}"#;

#[tokio::test]
async fn stop_partition_partial_batch() {
    let response =
        invoke(FailurePolicy::StopPartition, ResponseMode::PartialBatch, &mixed_event()).await;
    assert_eq!(response.unwrap().to_json(), STOP_RESPONSE);

    let report = report(FailurePolicy::StopPartition, &mixed_event()).await;
    let a = &report.partitions[0].outcomes;
    assert_eq!(a[0], (1, Outcome::Succeeded));
    assert!(
        matches!(&a[1], (2, Outcome::Failed(f)) if f.kind == FailureKind::Handler && f.message == "refused offset 2")
    );
    assert_eq!(&a[2..], &[(3, Outcome::Skipped), (4, Outcome::Skipped), (5, Outcome::Skipped)]);
    let b = &report.partitions[1].outcomes;
    assert!(matches!(&b[1], (11, Outcome::Failed(f)) if f.kind == FailureKind::Decode
        && f.message == "the value is not valid base64: invalid character at index 3"));
    let c2 = &report.partitions[2].outcomes;
    assert!(matches!(&c2[1], (8, Outcome::Failed(f)) if f.kind == FailureKind::Panic
        && f.message == "the handler panicked: handler bug at offset 8"));
    let counts = report.counts();
    assert_eq!((counts.records, counts.succeeded, counts.failed, counts.skipped), (13, 5, 3, 5));
}

#[tokio::test]
async fn continue_partial_batch() {
    let response =
        invoke(FailurePolicy::Continue, ResponseMode::PartialBatch, &mixed_event()).await;
    assert_eq!(response.unwrap().to_json(), CONTINUE_RESPONSE);
    let report = report(FailurePolicy::Continue, &mixed_event()).await;
    let counts = report.counts();
    assert_eq!((counts.succeeded, counts.failed, counts.skipped), (9, 4, 0));
}

#[tokio::test]
async fn whole_batch_mode_fails_the_invocation() {
    for (policy, expected) in [
        (
            FailurePolicy::StopPartition,
            "8 of 13 records did not succeed (3 failed, 5 not run after an earlier failure, 0 not started before the deadline); the invocation fails so that Lambda retries the whole batch; a-0@2: handler: refused offset 2; b.x-y-1@11: decode: the value is not valid base64: invalid character at index 3; c-2@8: panic: the handler panicked: handler bug at offset 8",
        ),
        (
            FailurePolicy::Continue,
            "4 of 13 records did not succeed (4 failed, 0 not run after an earlier failure, 0 not started before the deadline); the invocation fails so that Lambda retries the whole batch; a-0@2: handler: refused offset 2; a-0@4: panic: the handler panicked: handler bug at offset 4; b.x-y-1@11: decode: the value is not valid base64: invalid character at index 3; c-2@8: panic: the handler panicked: handler bug at offset 8",
        ),
    ] {
        let err = invoke(policy, ResponseMode::WholeBatch, &mixed_event()).await.unwrap_err();
        assert!(matches!(err, InvocationError::BatchFailed(_)));
        assert_eq!(err.error_type(), "MskLambda.BatchFailed");
        assert_eq!(err.to_string(), expected);
        let diagnostic = lambda_runtime_diagnostic(err);
        assert_eq!(diagnostic, ("MskLambda.BatchFailed".to_owned(), expected.to_owned()));
    }
    let ok = TestEvent::msk().record(rec("a", 0, 1, "ok")).to_bytes();
    let response =
        invoke(FailurePolicy::StopPartition, ResponseMode::WholeBatch, &ok).await.unwrap();
    assert_eq!(response.to_json(), r#"{"batchItemFailures":[]}"#);
}

/// What lambda_runtime reports for the invocation error (through our `From` impl).
fn lambda_runtime_diagnostic(err: InvocationError) -> (String, String) {
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    (diagnostic.error_type, diagnostic.error_message)
}

#[tokio::test]
async fn tombstones_and_decode_errors_fail_only_their_record() {
    #[derive(serde::Deserialize)]
    struct Card {
        #[allow(dead_code)]
        number: u64,
    }
    let handler =
        async |_: Record<msk_lambda::Json<Card>, String>| -> Result<(), String> { Ok(()) };
    let event = TestEvent::msk().records([
        TestRecord::new("t", 0, 1).key("k").value(r#"{"number":1}"#),
        TestRecord::new("t", 0, 2).key("k").tombstone(),
        TestRecord::new("t", 1, 1).value(r#"{"number":1}"#),
        TestRecord::new("t", 2, 1).key([0xff, 0xfe]).value(r#"{"number":1}"#),
        TestRecord::new("t", 3, 1).key("k").value(r#"{"number":"4111111111111111"}"#),
    ]);
    let report = Consumer::new(handler)
        .failure_policy(FailurePolicy::Continue)
        .process(&event.to_bytes(), InvocationContext::local())
        .await
        .unwrap();
    let reasons: Vec<String> = report.failures().map(|(k, o, f)| format!("{k}@{o}: {f}")).collect();
    assert_eq!(
        reasons,
        vec![
            "t-0@2: decode: the value is null or absent (a tombstone), but the value type `Json<Card>` needs one; declare it as `Option<Json<Card>>` to accept tombstones",
            "t-1@1: decode: the key is absent or null, but the key type `String` needs one; declare it as `Option<String>` to accept records without a key",
            "t-2@1: decode: the key could not be decoded as `String`: not valid UTF-8 text (first invalid byte at index 0); use Vec<u8> or bytes::Bytes for binary data",
            "t-3@1: decode: the value could not be decoded as `Json<Card>`: JSON of the wrong shape at `number`: invalid type: string, expected u64 (line 1 column 28)",
        ]
    );
    assert!(!reasons.concat().contains("4111"), "payloads never appear in reasons");
    assert_eq!(report.counts().succeeded, 1);
}

#[tokio::test]
async fn header_bytes_out_of_range_fail_only_their_record() {
    let handler = async |_: Record<()>| -> Result<(), String> { Ok(()) };
    let mut event = TestEvent::msk()
        .records([TestRecord::new("t", 0, 1).header("h", "x"), TestRecord::new("t", 0, 2)])
        .to_value();
    event["records"]["t-0"][0]["headers"][0]["h"] = serde_json::json!([1, 128]);
    let response = Consumer::new(handler).invoke(event.to_string().as_bytes()).await.unwrap();
    assert_eq!(
        response.to_json(),
        r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":1}},{"itemIdentifier":{"partition":"t-0","offset":2}}]}"#
    );
}

#[tokio::test]
async fn records_of_a_partition_run_in_offset_order() {
    let calls = RefCell::new(Vec::new());
    let handler = async |r: Record<()>| -> Result<(), String> {
        calls.borrow_mut().push((r.partition(), r.offset()));
        // Let other partitions interleave.
        tokio::task::yield_now().await;
        Ok(())
    };
    let mut records = Vec::new();
    for offset in 0..50 {
        for partition in 0..6 {
            records.push(TestRecord::new("t", partition, 1000 + offset));
        }
    }
    // An out-of-order partition in the event still runs in offset order.
    let mut event = TestEvent::msk().records(records).to_value();
    event["records"]["t-5"].as_array_mut().unwrap().reverse();
    Consumer::new(handler)
        .concurrency(NonZeroUsize::new(3).unwrap())
        .invoke(event.to_string().as_bytes())
        .await
        .unwrap();
    let calls = calls.into_inner();
    assert_eq!(calls.len(), 300);
    for partition in 0..6 {
        let offsets: Vec<i64> =
            calls.iter().filter(|(p, _)| *p == partition).map(|(_, o)| *o).collect();
        assert_eq!(offsets, (1000..1050).collect::<Vec<_>>(), "partition {partition}");
    }
    // Partitions did run interleaved (concurrently), not one after another.
    assert_ne!(calls[0].0, calls[1].0);
}

#[tokio::test]
async fn partitions_in_flight_never_exceed_the_concurrency() {
    let in_flight = Cell::new(0usize);
    let peak = Cell::new(0usize);
    let handler = async |_: Record<()>| -> Result<(), String> {
        in_flight.set(in_flight.get() + 1);
        peak.set(peak.get().max(in_flight.get()));
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        in_flight.set(in_flight.get() - 1);
        Ok(())
    };
    let records = (0..40).flat_map(|p| (0..3).map(move |o| TestRecord::new("t", p, o)));
    let event = TestEvent::msk().records(records).to_bytes();
    for limit in [1, 4, 16] {
        peak.set(0);
        Consumer::new(handler)
            .concurrency(NonZeroUsize::new(limit).unwrap())
            .invoke(&event)
            .await
            .unwrap();
        assert_eq!(peak.get(), limit, "concurrency {limit}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_handler_running_past_the_deadline_margin_is_cancelled() {
    let event = TestEvent::msk()
        .records([
            rec("a", 0, 1, "sleep"),
            rec("a", 0, 2, "sleep"),
            rec("a", 0, 3, "sleep"),
            rec("a", 0, 4, "ok"),
            rec("b", 0, 1, "ok"),
        ])
        .to_bytes();
    for policy in [FailurePolicy::StopPartition, FailurePolicy::Continue] {
        let consumer = Consumer::new(scripted)
            .failure_policy(policy)
            .deadline_margin(Duration::from_millis(500));
        // Each sleep takes 1 s; the cutoff comes 2.1 s in, during the third record.
        let context =
            InvocationContext::with_deadline(SystemTime::now() + Duration::from_millis(2600));
        let report = consumer.process(&event, context.clone()).await.unwrap();
        let a = &report.partitions[0].outcomes;
        assert_eq!(&a[..2], &[(1, Outcome::Succeeded), (2, Outcome::Succeeded)]);
        assert!(matches!(&a[2], (3, Outcome::Failed(f)) if f.kind == FailureKind::Timeout));
        assert_eq!(a[3], (4, Outcome::NotStarted));
        assert_eq!(report.partitions[1].outcomes, vec![(1, Outcome::Succeeded)]);
        let expected = match policy {
            FailurePolicy::StopPartition => {
                r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"a-0","offset":3}},{"itemIdentifier":{"partition":"a-0","offset":4}}]}"#
            }
            FailurePolicy::Continue => {
                r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"a-0","offset":3}},{"itemIdentifier":{"partition":"a-0","offset":4}}]}"#
            }
        };
        assert_eq!(report.response().to_json(), expected);
    }
}

#[tokio::test]
async fn nothing_starts_once_the_deadline_margin_is_reached() {
    let started = Cell::new(0);
    let handler = async |_: Record<()>| -> Result<(), String> {
        started.set(started.get() + 1);
        Ok(())
    };
    let event = TestEvent::msk()
        .records([
            TestRecord::new("a", 0, 5),
            TestRecord::new("a", 0, 6),
            TestRecord::new("b", 1, 9),
        ])
        .to_bytes();
    let context = InvocationContext::with_deadline(SystemTime::now() + Duration::from_millis(100));
    let consumer = Consumer::new(handler).deadline_margin(Duration::from_millis(500));
    let response = consumer.invoke_with_context(&event, context.clone()).await.unwrap();
    assert_eq!(
        response.to_json(),
        r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"a-0","offset":5}},{"itemIdentifier":{"partition":"a-0","offset":6}},{"itemIdentifier":{"partition":"b-1","offset":9}}]}"#
    );
    assert_eq!(started.get(), 0);
    let report = consumer.process(&event, context).await.unwrap();
    assert_eq!(report.counts().not_started, 3);
    let err = Consumer::new(handler)
        .response_mode(ResponseMode::WholeBatch)
        .invoke_with_context(
            &event,
            InvocationContext::with_deadline(SystemTime::now() + Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("3 not started before the deadline"), "{err}");
    assert!(err.to_string().ends_with("from a-0@5 records were not started before the deadline"));
}

#[tokio::test]
async fn state_is_initialised_once_and_shared() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static INITS: AtomicUsize = AtomicUsize::new(0);
    struct State {
        greeting: String,
    }
    async fn init() -> Result<State, std::io::Error> {
        INITS.fetch_add(1, Ordering::SeqCst);
        Ok(State { greeting: "hello".into() })
    }
    async fn handle(_: Record<()>, state: &State) -> Result<(), String> {
        assert_eq!(state.greeting, "hello");
        Ok(())
    }
    let consumer = Consumer::with_state(init, handle);
    let event = TestEvent::msk().record(TestRecord::new("t", 0, 1)).to_bytes();
    for _ in 0..3 {
        assert!(consumer.invoke(&event).await.unwrap().is_success());
    }
    assert_eq!(INITS.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failing_init_is_an_init_error() {
    async fn init() -> Result<String, String> {
        Err("no credentials".into())
    }
    async fn handle(_: Record<()>, _: &String) -> Result<(), String> {
        Ok(())
    }
    let consumer = Consumer::with_state(init, handle);
    let event = TestEvent::msk().record(TestRecord::new("t", 0, 1)).to_bytes();
    let err = consumer.invoke(&event).await.unwrap_err();
    assert_eq!(err.to_string(), "the state init function failed: no credentials");
    assert_eq!(err.error_type(), "MskLambda.InitFailed");
}

/// A state init function that panics (user code) is an init error with the panic's message,
/// not a process that ends without one (under Lambda: nothing posted to /init/error).
#[tokio::test]
async fn a_panicking_init_is_an_init_error() {
    async fn init() -> Result<String, String> {
        panic!("no config file")
    }
    async fn handle(_: Record<()>, _: &String) -> Result<(), String> {
        Ok(())
    }
    let consumer = Consumer::with_state(init, handle);
    let event = TestEvent::msk().record(TestRecord::new("t", 0, 1)).to_bytes();
    let err = consumer.invoke(&event).await.unwrap_err();
    assert_eq!(err.to_string(), "the state init function failed: it panicked: no config file");
    assert_eq!(err.error_type(), "MskLambda.InitFailed");
}

#[tokio::test]
async fn error_sources_are_kept_in_reasons() {
    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("could not store the order")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let handler = async |_: Record<()>| -> Result<(), Outer> {
        Err(Outer(std::io::Error::other("connection reset")))
    };
    let event = TestEvent::msk().record(TestRecord::new("t", 0, 1)).to_bytes();
    let report = Consumer::new(handler).process(&event, InvocationContext::local()).await.unwrap();
    let (_, _, failure) = report.failures().next().unwrap();
    assert_eq!(failure.message, "could not store the order: connection reset");
}
