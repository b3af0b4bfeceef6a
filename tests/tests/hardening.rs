//! Regression tests of the 2026-11-27 review (issue 11): panics in user code after the handler's
//! poll, deadline margins that leave no time, records without a timestamp, the Lambda
//! diagnostic. Each failed before its fix.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use msk_lambda::testing::{TestEvent, TestRecord};
use msk_lambda::{Consumer, FailureKind, InvocationContext, InvocationError, Outcome, Record};

/// Two partitions: `bad-0` gets the misbehaving handler's record, `good-0` a healthy one.
fn two_partitions() -> Vec<u8> {
    TestEvent::msk()
        .records([
            TestRecord::new("bad", 0, 1).value("x"),
            TestRecord::new("bad", 0, 2).value("x"),
            TestRecord::new("good", 0, 7).value("ok"),
        ])
        .to_bytes()
}

/// The report of `consumer` over [`two_partitions`]: it must complete (no panic escapes), the
/// healthy partition must succeed, and `bad-0@1` must fail as a panic with `message`.
async fn assert_isolated<H, S>(consumer: Consumer<H, S, String, ()>, message: &str)
where
    H: msk_lambda::Handler<String, (), S>,
{
    let report = consumer.process(&two_partitions(), InvocationContext::local()).await.unwrap();
    let bad = &report.partitions[0].outcomes;
    match &bad[0] {
        (1, Outcome::Failed(f)) => {
            assert_eq!(f.kind, FailureKind::Panic);
            assert_eq!(f.message, message);
        }
        other => panic!("expected a panic failure at offset 1, got {other:?}"),
    }
    assert_eq!(bad[1], (2, Outcome::Skipped));
    assert_eq!(report.partitions[1].outcomes, vec![(7, Outcome::Succeeded)]);
    assert_eq!(
        report.response().to_json(),
        r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"bad-0","offset":1}},{"itemIdentifier":{"partition":"bad-0","offset":2}}]}"#
    );
}

/// A handler that fails the records whose value is `x` with `error`, and succeeds on others.
fn failing_with<E: Clone>(error: E) -> impl AsyncFn(Record<String>) -> Result<(), E> {
    async move |r: Record<String>| if r.value() == "x" { Err(error.clone()) } else { Ok(()) }
}

#[tokio::test]
async fn a_panic_in_the_error_display_fails_only_its_record() {
    #[derive(Debug, Clone)]
    struct Bad;
    impl std::fmt::Display for Bad {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("Display bug")
        }
    }
    impl std::error::Error for Bad {}
    assert_isolated(
        Consumer::new(failing_with(Bad)),
        "the handler's error panicked while being converted or formatted: Display bug",
    )
    .await;
}

#[tokio::test]
async fn a_panic_in_the_error_source_fails_only_its_record() {
    #[derive(Debug, Clone)]
    struct Bad;
    impl std::fmt::Display for Bad {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("bad")
        }
    }
    impl std::error::Error for Bad {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            panic!("source bug")
        }
    }
    assert_isolated(
        Consumer::new(failing_with(Bad)),
        "the handler's error panicked while being converted or formatted: source bug",
    )
    .await;
}

/// An error type whose conversion into `msk_lambda::Error` panics.
#[derive(Clone)]
struct Unconvertible;

impl From<Unconvertible> for msk_lambda::Error {
    fn from(_: Unconvertible) -> Self {
        panic!("Into<Error> bug")
    }
}

#[tokio::test]
async fn a_panic_in_the_error_conversion_fails_only_its_record() {
    assert_isolated(
        Consumer::new(failing_with(Unconvertible)),
        "the handler's error panicked while being converted or formatted: Into<Error> bug",
    )
    .await;
}

/// A future that finishes at once with `Ok` and panics when dropped.
struct PanicsOnDrop {
    armed: bool,
}

impl Future for PanicsOnDrop {
    type Output = Result<(), String>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(Ok(()))
    }
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if self.armed {
            panic!("Drop bug");
        }
    }
}

#[tokio::test]
async fn a_panic_when_the_handler_future_is_dropped_fails_only_its_record() {
    let handler = |r: Record<String>| PanicsOnDrop { armed: r.value() == "x" };
    assert_isolated(
        Consumer::new(handler),
        "the handler's future panicked when it was dropped: Drop bug",
    )
    .await;
}

#[tokio::test]
async fn a_panic_when_the_handler_is_called_fails_only_its_record() {
    let handler = |r: Record<String>| {
        assert_ne!(r.value(), "x", "call bug");
        PanicsOnDrop { armed: false }
    };
    let report = Consumer::new(handler)
        .process(&two_partitions(), InvocationContext::local())
        .await
        .unwrap();
    let (_, _, failure) = report.failures().next().unwrap();
    assert!(failure.message.starts_with("the handler panicked: assertion"), "{failure}");
    assert_eq!(report.counts().succeeded, 1);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_handler_whose_drop_panics_stays_a_timeout() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("cancelled Drop bug");
        }
    }
    let handler = async |r: Record<String>| -> Result<(), String> {
        if r.value() == "x" {
            let _bomb = Bomb;
            tokio::time::sleep(Duration::from_secs(60)).await;
            std::mem::forget(_bomb);
        }
        Ok(())
    };
    let consumer = Consumer::new(handler).deadline_margin(Duration::from_millis(500));
    let context = InvocationContext::with_deadline(SystemTime::now() + Duration::from_secs(3));
    let report = consumer.process(&two_partitions(), context).await.unwrap();
    let bad = &report.partitions[0].outcomes;
    assert!(matches!(&bad[0], (1, Outcome::Failed(f)) if f.kind == FailureKind::Timeout));
    assert_eq!(bad[1], (2, Outcome::NotStarted));
    assert_eq!(report.partitions[1].outcomes, vec![(7, Outcome::Succeeded)]);
}

/// Log lines written while `f` runs (on this thread).
async fn logs_of<F: Future>(f: F) -> (F::Output, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = lambda_runtime::tracing::subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let out = f.await;
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

#[tokio::test]
async fn a_margin_above_the_time_left_is_an_error_in_the_logs() {
    let handler = async |_: Record<()>| -> Result<(), String> { Ok(()) };
    let event = TestEvent::msk()
        .records([TestRecord::new("a", 0, 5), TestRecord::new("b", 1, 9)])
        .to_bytes();
    // A 5 s margin on a function with 3 s left: no record can ever start.
    let consumer = Consumer::new(handler).deadline_margin(Duration::from_secs(5));
    let context = InvocationContext::with_deadline(SystemTime::now() + Duration::from_secs(3));
    let (report, logs) = logs_of(consumer.process(&event, context)).await;
    assert_eq!(report.unwrap().counts().not_started, 2);
    let error = logs.lines().find(|l| l.contains("ERROR")).expect(&logs);
    assert!(error.contains("the deadline margin is at or above the time left"), "{error}");
    assert!(error.contains("deadline_margin_ms=5000"), "{error}");
    assert!(error.contains("time_left_ms=29") || error.contains("time_left_ms=30"), "{error}");
    let warn = logs.lines().find(|l| l.contains("WARN")).expect(&logs);
    assert!(warn.contains("records were not started") && warn.contains("not_started=2"), "{warn}");

    // Enough time: neither line.
    let consumer = Consumer::new(handler);
    let (report, logs) = logs_of(consumer.process(&event, InvocationContext::local())).await;
    assert_eq!(report.unwrap().counts().succeeded, 2);
    assert!(!logs.contains("WARN") && !logs.contains("ERROR"), "{logs}");
}

#[tokio::test]
async fn records_without_a_timestamp_say_so() {
    let no_timestamp = TestRecord::new("t", 0, 1).timestamp_millis(-1).decode::<(), ()>();
    let record = no_timestamp.unwrap();
    assert_eq!((record.timestamp(), record.timestamp_millis()), (None, None));
    let record = TestRecord::new("t", 0, 1).timestamp_millis(1_000).decode::<(), ()>().unwrap();
    assert_eq!(record.timestamp_millis(), Some(1_000));
    assert_eq!(record.timestamp(), Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1)));
}

#[test]
fn the_lambda_diagnostic_carries_type_and_whole_chain() {
    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("cannot connect to the cluster")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let init = InvocationError::Init(Arc::new(Outer(std::io::Error::other("no credentials"))));
    assert_eq!(init.to_string(), "the state init function failed: cannot connect to the cluster");
    assert_eq!(
        std::error::Error::source(&init).map(ToString::to_string).as_deref(),
        Some("cannot connect to the cluster")
    );
    let diagnostic = lambda_runtime::Diagnostic::from(init);
    assert_eq!(diagnostic.error_type, "MskLambda.InitFailed");
    assert_eq!(
        diagnostic.error_message,
        "the state init function failed: cannot connect to the cluster: no credentials"
    );
}

#[tokio::test]
async fn a_producer_with_default_settings_fails_before_lambdas_init_limit() {
    use msk_lambda::producer::{Producer, ProducerConfig};
    // A loopback port nobody listens on: each connection is refused at once, and the producer
    // retries until its request timeout. Lambda ends an INIT phase after 10 s, without the
    // producer's own error, so the default must give up well before: within half of it, leaving
    // the rest to the other work of the init function. (With the old 10 s default: 7.2 s.)
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let started = std::time::Instant::now();
    let err = Producer::connect(ProducerConfig::new(&address)).await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "gave up after {took:?}: too close to Lambda's 10 s");
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().contains(&format!("connecting to {address}")), "{err}");
}

/// A key whose destructor panics, on a record whose value does not decode: the record fails as
/// a decode error that also says the key's drop panicked, and the rest of the batch runs (the
/// key was dropped outside any guard before; found in the 2026-11-28 review).
#[tokio::test]
async fn a_panic_dropping_a_decoded_key_fails_only_its_record() {
    struct Grenade;
    impl Drop for Grenade {
        fn drop(&mut self) {
            panic!("key Drop bug");
        }
    }
    impl msk_lambda::Decode for Grenade {
        fn decode(
            _: Option<&bytes::Bytes>,
            _: &msk_lambda::DecodeContext<'_>,
        ) -> Result<Self, msk_lambda::DecodeError> {
            Ok(Grenade)
        }
    }
    let handler =
        async |_: Record<msk_lambda::Json<u32>, Option<Grenade>>| -> Result<(), String> { Ok(()) };
    let event = TestEvent::msk()
        .records([
            TestRecord::new("t", 0, 1).key("k").value("not json"),
            TestRecord::new("u", 0, 2).value("7"),
        ])
        .to_bytes();
    let report = Consumer::new(handler).process(&event, InvocationContext::local()).await.unwrap();
    let (_, _, failure) = report.failures().next().unwrap();
    assert_eq!(failure.kind, FailureKind::Decode);
    assert!(
        failure.message.ends_with("(and dropping the decoded key panicked: key Drop bug)"),
        "{failure}"
    );
    assert_eq!(report.counts().succeeded, 1);
}
