//! The producer against a real Kafka-protocol broker (tansu) on loopback: records read back
//! with key, value and headers; many sends on one connection; a stopped broker is a clear
//! error within the timeout.

use std::time::{Duration, Instant};

use msk_lambda::producer::{OutgoingRecord, Producer, ProducerConfig};
use msk_lambda_tests::broker::Tansu;
use rskafka::client::partition::UnknownTopicHandling;
use rskafka::client::ClientBuilder;

async fn create_topic(address: &str, topic: &str, partitions: i32) {
    let client = ClientBuilder::new(vec![address.to_owned()]).build().await.unwrap();
    let controller = client.controller_client().unwrap();
    controller.create_topic(topic, partitions, 1, 5_000).await.unwrap();
}

async fn read_back(
    address: &str,
    topic: &str,
    partition: i32,
) -> Vec<rskafka::record::RecordAndOffset> {
    let client = ClientBuilder::new(vec![address.to_owned()]).build().await.unwrap();
    let partition =
        client.partition_client(topic, partition, UnknownTopicHandling::Error).await.unwrap();
    let (records, _high_watermark) = partition.fetch_records(0, 1..1_000_000, 1_000).await.unwrap();
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_are_read_back_with_key_value_and_headers() {
    let broker = Tansu::start();
    create_topic(&broker.address, "user-events", 3).await;
    let producer = Producer::connect(ProducerConfig::new(&broker.address)).await.unwrap();

    let record = OutgoingRecord {
        key: Some(b"user-1".to_vec()),
        value: Some(br#"{"userId":"user-1","eventType":"login"}"#.to_vec()),
        headers: vec![
            ("trace-id".into(), b"t-1".to_vec()),
            ("source".into(), "web-café".as_bytes().to_vec()),
        ],
    };
    let first = producer.send("user-events", record.clone()).await.unwrap();
    let second = producer.send("user-events", record).await.unwrap();
    // The same key, the same partition (Kafka's murmur2 partitioner), consecutive offsets.
    assert_eq!(first.partition, second.partition);
    assert_eq!(second.offset, first.offset + 1);
    let expected_partition = (msk_lambda::producer::murmur2(b"user-1") & 0x7fff_ffff) % 3;
    assert_eq!(first.partition, expected_partition);
    let json = producer
        .send_json(
            "user-events",
            Some(b"user-1"),
            &serde_json::json!({"userId": "user-1", "eventType": "view"}),
        )
        .await
        .unwrap();
    assert_eq!(json.offset, first.offset + 2);

    let records = read_back(&broker.address, "user-events", first.partition).await;
    assert_eq!(records.len(), 3);
    let r = &records[0];
    assert_eq!(r.offset, first.offset);
    assert_eq!(r.record.key.as_deref(), Some(&b"user-1"[..]));
    assert_eq!(r.record.value.as_deref(), Some(&br#"{"userId":"user-1","eventType":"login"}"#[..]));
    assert_eq!(r.record.headers.get("trace-id").map(Vec::as_slice), Some(&b"t-1"[..]));
    assert_eq!(r.record.headers.get("source").map(Vec::as_slice), Some("web-café".as_bytes()));
    let value: serde_json::Value =
        serde_json::from_slice(records[2].record.value.as_deref().unwrap()).unwrap();
    assert_eq!(value["eventType"], "view");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sends_reuse_one_connection() {
    let broker = Tansu::start();
    create_topic(&broker.address, "orders", 2).await;
    let producer = Producer::connect(ProducerConfig::new(&broker.address)).await.unwrap();
    producer.send_json("orders", Some(b"warm-up"), &1).await.unwrap();
    let connections = broker.client_connections();
    assert!(connections >= 1);
    let mut partitions = std::collections::BTreeSet::new();
    for i in 0..200 {
        let key = format!("order-{i}");
        let delivery = producer.send_json("orders", Some(key.as_bytes()), &i).await.unwrap();
        partitions.insert(delivery.partition);
    }
    assert_eq!(partitions.len(), 2, "keys spread over both partitions");
    assert_eq!(broker.client_connections(), connections, "no new connections for 200 sends");
    // Keyless records go round the partitions in turn.
    let a = producer
        .send("orders", OutgoingRecord { value: Some(b"a".to_vec()), ..Default::default() })
        .await
        .unwrap();
    let b = producer
        .send("orders", OutgoingRecord { value: Some(b"b".to_vec()), ..Default::default() })
        .await
        .unwrap();
    assert_ne!(a.partition, b.partition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_broker_is_a_clear_error_within_the_timeout() {
    let mut broker = Tansu::start();
    create_topic(&broker.address, "audit", 1).await;
    let config = ProducerConfig::new(&broker.address).request_timeout(Duration::from_secs(2));
    let producer = Producer::connect(config.clone()).await.unwrap();
    producer.send_json("audit", None, &"before").await.unwrap();

    broker.stop();
    let started = Instant::now();
    let err = producer.send_json("audit", None, &"after").await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().starts_with("sending to audit-0: "), "{err}");

    // Connecting to a broker that is not there fails the same way.
    let started = Instant::now();
    let err = Producer::connect(config).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().contains(&format!("connecting to {}", broker.address)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_topic_is_named() {
    let broker = Tansu::start();
    let producer = Producer::connect(ProducerConfig::new(&broker.address)).await.unwrap();
    let err = producer.send_json("no-such-topic", None, &1).await.unwrap_err();
    assert_eq!(err.to_string(), "topic `no-such-topic` does not exist on the cluster");
}
