//! `aws_lambda_events`' `KafkaEvent`, what Rust users have today: a `TestEvent` can be made
//! from one, and events that crate cannot read are still processed here.

use aws_lambda_events::event::kafka::KafkaEvent;
use msk_lambda::testing::{FromKafkaEventError, TestEvent};
use msk_lambda::{Consumer, InvocationContext, Outcome, Record, TimestampType};

/// aws_lambda_events' own example event (its `fixtures/example-kafka-event.json`), with a second
/// partition, a non-ASCII header (signed bytes) and a log-append timestamp added.
const EXAMPLE: &str = r#"{
    "eventSource": "aws:kafka",
    "eventSourceArn": "arn:aws:kafka:us-west-2:012345678901:cluster/ExampleMSKCluster/e9f754c6-d29a-4430-a7db-958a19fd2c54-4",
    "bootstrapServers": "b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092,b-1.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092",
    "records": {
      "AWSKafkaTopic-0": [
        {
          "topic": "AWSKafkaTopic",
          "partition": 0,
          "offset": 0,
          "timestamp": 1595035749700,
          "timestampType": "CREATE_TIME",
          "key": "OGQ1NTk2YjQtMTgxMy00MjM4LWIyNGItNmRhZDhlM2QxYzBj",
          "value": "OGQ1NTk2YjQtMTgxMy00MjM4LWIyNGItNmRhZDhlM2QxYzBj",
          "headers": [{"headerKey": [104, 101, 97, 100, 101, 114, 86, 97, 108, 117, 101]}]
        }
      ],
      "AWSKafkaTopic-1": [
        {
          "topic": "AWSKafkaTopic",
          "partition": 1,
          "offset": 7,
          "timestamp": 1595035749701,
          "timestampType": "LOG_APPEND_TIME",
          "key": null,
          "value": "aGk=",
          "headers": [{"source": [99, 97, 102, -61, -87]}]
        }
      ]
    }
  }"#;

/// What a handler sees of each record, to compare two ways of reading one event.
async fn seen(event: &[u8]) -> Vec<(String, i64, Option<i64>, TimestampType, Vec<u8>, String)> {
    let log = std::cell::RefCell::new(Vec::new());
    let handler = async |r: Record<Vec<u8>, Option<Vec<u8>>>| -> Result<(), String> {
        let headers: Vec<String> = r
            .headers()
            .iter()
            .map(|(n, v)| format!("{n}={}", String::from_utf8_lossy(v)))
            .collect();
        log.borrow_mut().push((
            r.topic_partition().to_owned(),
            r.offset(),
            r.timestamp_millis(),
            r.timestamp_type(),
            r.value().clone(),
            headers.join(","),
        ));
        Ok(())
    };
    let report = Consumer::new(handler).process(event, InvocationContext::local()).await.unwrap();
    assert!(report
        .partitions
        .iter()
        .flat_map(|p| &p.outcomes)
        .all(|(_, o)| *o == Outcome::Succeeded));
    log.into_inner()
}

#[tokio::test]
async fn a_kafka_event_becomes_the_same_test_event() {
    // (A timestamp aws_lambda_events reads exactly: see the test below for one it does not.)
    let example = EXAMPLE.replace("1595035749701", "1595035749700");
    let parsed: KafkaEvent = serde_json::from_str(&example).unwrap();
    let test = TestEvent::try_from(parsed).unwrap();
    let direct = seen(example.as_bytes()).await;
    assert_eq!(seen(&test.to_bytes()).await, direct);
    assert_eq!(direct.len(), 2);
    assert_eq!(direct[1].5, "source=café");
    assert_eq!((direct[1].2, direct[1].3), (Some(1595035749700), TimestampType::LogAppendTime));
}

/// aws_lambda_events 1.2 reads `"timestamp": 1595035749701` as ...700 (and ...800 as ...799): a
/// millisecond is lost
/// on the way through its `MillisecondTimestamp`. msk-lambda keeps the integer as sent.
#[tokio::test]
async fn record_timestamps_keep_every_millisecond() {
    let parsed: KafkaEvent = serde_json::from_str(EXAMPLE).unwrap();
    let peer = parsed.records["AWSKafkaTopic-1"][0].timestamp.0.timestamp_millis();
    assert_eq!(peer, 1595035749700, "aws_lambda_events no longer rounds: update this test");
    let ours = seen(EXAMPLE.as_bytes()).await;
    assert_eq!(ours[1].2, Some(1595035749701));
}

#[test]
fn a_kafka_event_that_cannot_be_a_test_event_says_where() {
    let bad = EXAMPLE.replace("aGk=", "not base64!");
    let err: FromKafkaEventError =
        TestEvent::try_from(serde_json::from_str::<KafkaEvent>(&bad).unwrap()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("records[\"AWSKafkaTopic-1\"] offset 7: the value is not base64"),
        "{err}"
    );
}

/// Lambda may leave `headers` out of a record (design.md); aws_lambda_events 1.x requires the
/// field and rejects the whole event. msk-lambda reads it as a record without headers.
#[tokio::test]
async fn a_record_without_headers_is_read_where_aws_lambda_events_fails() {
    let event = r#"{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","partition":0,"offset":3,"timestamp":1,"timestampType":"CREATE_TIME","value":"aGk="}]}}"#;
    let peer = serde_json::from_str::<KafkaEvent>(event).unwrap_err();
    assert!(peer.to_string().contains("missing field `headers`"), "{peer}");
    let records = seen(event.as_bytes()).await;
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].4.as_slice(), records[0].5.as_str()), (&b"hi"[..], ""));
}
