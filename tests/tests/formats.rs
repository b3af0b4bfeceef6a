//! Real-format events: what a handler sees of MSK and self-managed records.

use std::sync::Mutex;

use bytes::Bytes;
use msk_lambda::testing::{TestEvent, TestRecord};
use msk_lambda::{Consumer, EventSource, InvocationError, Json, Record, TimestampType};
use msk_lambda_tests::read_fixture;
use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq)]
struct Order {
    id: u32,
    #[serde(default)]
    item: Option<String>,
}

/// Everything a handler can read of a record, as plain values.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    topic_partition: String,
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    timestamp_type: TimestampType,
    key: Option<String>,
    value: Option<u32>,
    raw_value: Option<Bytes>,
    headers: Vec<(String, Vec<u8>)>,
    value_schema: Option<String>,
    key_schema: Option<String>,
}

fn seen<V>(r: &Record<V, Option<String>>, value: Option<u32>) -> Seen {
    Seen {
        topic_partition: r.topic_partition().to_owned(),
        topic: r.topic().to_owned(),
        partition: r.partition(),
        offset: r.offset(),
        timestamp: r.timestamp_millis(),
        timestamp_type: r.timestamp_type(),
        key: r.key().clone(),
        value,
        raw_value: r.raw_value().cloned(),
        headers: r.headers().iter().map(|(n, v)| (n.to_owned(), v.to_vec())).collect(),
        value_schema: r.value_schema().map(|s| format!("{}:{}", s.data_format, s.schema_id)),
        key_schema: r.key_schema().map(|s| format!("{}:{}", s.data_format, s.schema_id)),
    }
}

#[tokio::test]
async fn msk_event_with_every_shape_of_record() {
    let log = Mutex::new(Vec::new());
    let handler = async |r: Record<Option<Json<Order>>, Option<String>>| -> Result<(), String> {
        assert_eq!(r.context().event_source, Some(EventSource::Msk));
        assert!(r.context().event_source_arn.as_deref().unwrap().starts_with("arn:aws:kafka:"));
        assert_eq!(r.context().bootstrap_servers.as_deref().unwrap().split(',').count(), 2);
        let value = r.value().as_ref().map(|o| o.id);
        log.lock().unwrap().push(seen(&r, value));
        Ok(())
    };
    let consumer = Consumer::new(handler);
    let response = consumer.invoke(&read_fixture("msk-mixed.json")).await.unwrap();
    assert_eq!(response.to_json(), r#"{"batchItemFailures":[]}"#);
    let log = log.into_inner().unwrap();
    assert_eq!(log.len(), 5);
    let first = &log[0];
    assert_eq!(first.topic_partition, "orders.v1-eu-west-0");
    assert_eq!(first.topic, "orders.v1-eu-west");
    assert_eq!((first.partition, first.offset, first.timestamp), (0, 15, Some(1545084650987)));
    assert_eq!(first.timestamp_type, TimestampType::CreateTime);
    assert_eq!(first.key.as_deref(), Some("order-1"));
    assert_eq!(first.value, Some(1));
    assert_eq!(first.raw_value.as_deref(), Some(r#"{"id":1,"item":"café"}"#.as_bytes()));
    assert_eq!(
        first.headers,
        vec![
            ("trace-id".to_owned(), "tré".as_bytes().to_vec()),
            ("tag".to_owned(), b"a".to_vec()),
            ("tag".to_owned(), b"b".to_vec()),
        ]
    );
    // Absent key, empty headers, LOG_APPEND_TIME.
    assert_eq!((log[1].offset, log[1].key.clone(), log[1].value), (16, None, Some(2)));
    assert_eq!(log[1].timestamp_type, TimestampType::LogAppendTime);
    // Null value and absent value (and absent headers): tombstones.
    assert_eq!((log[2].offset, log[2].value, log[2].raw_value.clone()), (17, None, None));
    assert_eq!((log[3].offset, log[3].value, log[3].headers.len()), (18, None, 0));
    // Partition 10 of a dashed, dotted topic; schema metadata kept; unknown fields ignored.
    assert_eq!(log[4].topic_partition, "orders.v1-eu-west-10");
    assert_eq!((log[4].partition, log[4].key.clone()), (10, None));
    assert_eq!(log[4].value_schema.as_deref(), Some("JSON:1234"));
}

#[tokio::test]
async fn header_access_by_name() {
    let handler = async |r: Record<()>| -> Result<(), msk_lambda::Error> {
        let h = r.headers();
        assert_eq!(h.first_text("trace-id")?, Some("tré"));
        assert_eq!(h.first("tag"), Some(&b"a"[..]));
        assert_eq!(h.last("tag"), Some(&b"b"[..]));
        assert_eq!(h.all("tag").collect::<Vec<_>>(), vec![b"a", b"b"]);
        assert_eq!(h.first("missing"), None);
        Ok(())
    };
    let event = TestEvent::msk().record(
        TestRecord::new("t", 0, 1).header("trace-id", "tré").header("tag", "a").header("tag", "b"),
    );
    assert!(Consumer::new(handler).invoke(&event.to_bytes()).await.unwrap().is_success());
}

#[tokio::test]
async fn self_managed_event() {
    let log = Mutex::new(Vec::new());
    let handler = async |r: Record<Json<Order>, Option<String>>| -> Result<(), String> {
        assert_eq!(r.context().event_source, Some(EventSource::SelfManagedKafka));
        assert_eq!(r.context().event_source_arn, None);
        log.lock().unwrap().push(seen(&r, Some(r.value().id)));
        Ok(())
    };
    let response = Consumer::new(handler).invoke(&read_fixture("self-managed.json")).await.unwrap();
    assert!(response.is_success());
    let log = log.into_inner().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].topic_partition.as_str(), log[0].offset), ("payments-v2-1", 9_000_000_000));
    assert_eq!(log[0].key.as_deref(), Some("pay-7"));
    assert_eq!(log[0].headers[0].1, b"application/json");
    assert!(log[0].key_schema.as_deref().unwrap().starts_with("AVRO:arn:aws:glue"));
}

#[tokio::test]
async fn empty_records_is_an_empty_success() {
    let handler = async |_: Record<Bytes>| -> Result<(), String> { panic!("no records to run") };
    let consumer = Consumer::new(handler);
    let response = consumer.invoke(br#"{"eventSource":"aws:kafka","records":{}}"#).await.unwrap();
    assert_eq!(response.to_json(), r#"{"batchItemFailures":[]}"#);
}

#[tokio::test]
async fn ten_thousand_records_from_the_generator() {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct UserEvent {
        user_id: String,
        event_type: String,
    }
    let count = std::sync::atomic::AtomicUsize::new(0);
    let handler = async |r: Record<Json<UserEvent>, String>| -> Result<(), String> {
        assert!(r.value().user_id.starts_with("user-") && !r.value().event_type.is_empty());
        assert_eq!(r.key(), &r.value().user_id);
        assert_eq!(r.headers().first_text("source").unwrap(), Some("web-café"));
        assert_eq!(r.headers().first("trace-id").map(<[u8]>::len), Some(16));
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    };
    let event = read_fixture("gen-10000.json");
    let report = Consumer::new(handler)
        .process(&event, msk_lambda::InvocationContext::local())
        .await
        .unwrap();
    assert_eq!(report.counts().records, 10_000);
    assert_eq!(report.counts().succeeded, 10_000);
    assert_eq!(report.partitions.len(), 4);
    assert_eq!(count.into_inner(), 10_000);
    assert_eq!(report.response().to_json(), r#"{"batchItemFailures":[]}"#);
}

#[tokio::test]
async fn bad_envelopes_fail_the_invocation_with_a_reason() {
    let handler = async |_: Record<Bytes>| -> Result<(), String> { Ok(()) };
    let consumer = Consumer::new(handler);
    let cases: [(&[u8], &str); 6] = [
        (b"", "invalid event: the event is not valid JSON: not valid JSON (it ends early) at line 1 column 0"),
        (b"\"hello\"", "invalid event: not a Kafka event: the event must be a JSON object with a `records` object"),
        (br#"{"Records":[{"eventSource":"aws:sqs","body":"{}"}]}"#, "invalid event: not a Kafka event: it has no `records` object (it has `Records`, as SQS, SNS, S3, DynamoDB and Kinesis events do)"),
        (br#"{"eventSource":"aws:kafka"}"#, "invalid event: not a Kafka event: it has no `records` object"),
        (br#"{"eventSource":"aws:kafka","records":"t-0"}"#, "invalid event: the event's field `records` is wrong: JSON of the wrong shape: invalid type: string, expected an object of \"<topic>-<partition>\": [records] at line 1 column 42"),
        (br#"{"records":{"t-0":[{"topic":"t","partition":0}]}}"#, "invalid event: the event's field `records.t-0[0]` is wrong: JSON of the wrong shape: missing field `offset` at line 1 column 46"),
    ];
    for (event, expected) in cases {
        let err = consumer.invoke(event).await.unwrap_err();
        assert!(matches!(err, InvocationError::Event(_)));
        assert_eq!(err.to_string(), expected);
        assert_eq!(err.error_type(), "MskLambda.InvalidEvent");
    }
}

#[tokio::test]
async fn impossible_offsets_partitions_and_keys_fail_the_invocation() {
    let handler = async |_: Record<Bytes>| -> Result<(), String> { Ok(()) };
    let consumer = Consumer::new(handler);
    let cases: [(&str, &str); 5] = [
        (
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":9223372036854775808}]}}"#,
            "invalid event: the event's field `records.t-0[0].offset` is wrong: JSON of the wrong shape: invalid value: integer, expected i64 at line 1 column 74",
        ),
        (
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":-5}]}}"#,
            "invalid event: records[\"t-0\"] has a record with partition 0 and offset -5: neither may be negative",
        ),
        (
            r#"{"records":{"t--1":[{"topic":"t","partition":-1,"offset":5}]}}"#,
            "invalid event: records[\"t--1\"] has a record with partition -1 and offset 5: neither may be negative",
        ),
        (
            r#"{"records":{"orders-0":[{"topic":"orders","partition":0,"offset":5},{"topic":"orders","partition":1,"offset":6}]}}"#,
            "invalid event: records[\"orders-0\"] holds records of two partitions (topic `orders` partition 0 at offset 5, topic `orders` partition 1 at offset 6): each key holds one partition",
        ),
        (
            r#"{"records":{"t-0":[],"t-0":[{"topic":"t","partition":0,"offset":5}]}}"#,
            "invalid event: `records` has the key \"t-0\" more than once; each partition must appear once",
        ),
    ];
    for (event, expected) in cases {
        let err = consumer.invoke(event.as_bytes()).await.unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
}

#[tokio::test]
async fn repeated_offsets_run_in_order_and_are_reported_once() {
    let seen = Mutex::new(Vec::new());
    let handler = async |r: Record<String>| -> Result<(), String> {
        seen.lock().unwrap().push((r.offset(), r.value().clone()));
        if r.value() == "bad" {
            Err("bad".into())
        } else {
            Ok(())
        }
    };
    let event = TestEvent::msk().records([
        TestRecord::new("t", 0, 7).value("c"),
        TestRecord::new("t", 0, 5).value("a"),
        TestRecord::new("t", 0, 6).value("bad"),
        TestRecord::new("t", 0, 6).value("bad"),
    ]);
    let response = Consumer::new(handler)
        .failure_policy(msk_lambda::FailurePolicy::Continue)
        .invoke(&event.to_bytes())
        .await
        .unwrap();
    assert_eq!(
        response.to_json(),
        r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":6}}]}"#
    );
    let seen = seen.into_inner().unwrap();
    let order: Vec<(i64, &str)> = seen.iter().map(|(o, v)| (*o, v.as_str())).collect();
    assert_eq!(order, vec![(5, "a"), (6, "bad"), (6, "bad"), (7, "c")]);
}

#[test]
fn debug_output_redacts_payloads() {
    let record: Record<String, String> = TestRecord::new("t", 0, 1)
        .key("secret-key")
        .value("secret-value")
        .header("auth", "secret-header")
        .decode()
        .unwrap();
    let debug = format!("{record:?}");
    assert!(!debug.contains("secret"), "{debug}");
    assert_eq!(
        debug,
        r#"Record { topic: "t", partition: 0, offset: 1, timestamp: 1735689600000, timestamp_type: CreateTime, key: <redacted 10 bytes>, value: <redacted 12 bytes>, headers: ["auth: <13 bytes>"], .. }"#
    );
}
