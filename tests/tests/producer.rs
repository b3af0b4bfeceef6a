//! The producer against a real Kafka-protocol broker (tansu) on loopback: records read back
//! with key, value and headers; many sends on one connection; a stopped broker is a clear
//! error within the timeout; batches of 10,000 records with the produce requests counted at a
//! proxy; every compression codec; a changed partition count picked up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use msk_lambda::producer::{
    murmur2, Compression, ErrorKind, OutgoingRecord, Producer, ProducerConfig,
};
use msk_lambda_tests::broker::{free_port, CountingProxy, Tansu};
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
    let mut records = Vec::new();
    loop {
        let next = records.last().map_or(0, |r: &rskafka::record::RecordAndOffset| r.offset + 1);
        let (batch, high_watermark) =
            partition.fetch_records(next, 1..10_000_000, 1_000).await.unwrap();
        records.extend(batch);
        if records.last().map_or(0, |r| r.offset + 1) >= high_watermark {
            return records;
        }
    }
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
    // A partition's connection is made with its first record, not for every partition up front.
    let connected = broker.client_connections();
    producer.send_json("orders", Some(b"first"), &0).await.unwrap();
    assert_eq!(broker.client_connections(), connected + 1, "one partition, one connection");
    warm_up(&producer, "orders", 2).await;
    let connections = broker.client_connections();
    assert_eq!(connections, connected + 2, "two partitions, two connections");
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
    assert!(matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::Timeout), "{err:?}");
    assert!(err.to_string().starts_with("sending to audit-0"), "{err}");

    // Connecting to a broker that is not there fails the same way.
    let started = Instant::now();
    let err = Producer::connect(config).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().contains(&format!("connecting to {}", broker.address)), "{err}");
}

/// A broker that stops answering without closing its connections (a hung process, a network
/// path that drops packets): rskafka has no request timeout, so a request on such a
/// connection waits for ever, and its cluster client keeps the connection it reads metadata
/// on. The send that meets the silence times out; the next one, here with the broker answering
/// new connections again, must not wait on the old connections and is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_gone_silent_is_left_for_new_connections() {
    let proxy_port = free_port();
    let broker = Tansu::start_with(Some(&format!("127.0.0.1:{proxy_port}")), false);
    let proxy = CountingProxy::start(proxy_port, broker.port);
    let address = format!("127.0.0.1:{proxy_port}");
    create_topic(&address, "silent", 1).await;
    let timeout = Duration::from_secs(2);
    let producer =
        Producer::connect(ProducerConfig::new(&address).request_timeout(timeout)).await.unwrap();
    producer.send_json("silent", None, &"before").await.unwrap();

    proxy.silence_open_connections();
    let started = Instant::now();
    let err = producer.send_json("silent", None, &"unanswered").await.unwrap_err();
    assert!(started.elapsed() < timeout + Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");

    // Every send after it, not just the next, is written on new connections.
    let connections = proxy.counts().connections;
    for n in 0..3 {
        let started = Instant::now();
        let sent = producer.send_json("silent", None, &format!("after-{n}")).await;
        assert!(sent.is_ok(), "send {n} after the silence: {sent:?}");
        assert!(started.elapsed() < timeout, "{:?}", started.elapsed());
    }
    assert!(proxy.counts().connections > connections, "new connections were made");
    // send_batch too, after another silence.
    proxy.silence_open_connections();
    let record = || OutgoingRecord { value: Some(b"batch".to_vec()), ..Default::default() };
    assert!(producer.send_batch("silent", vec![record()]).await.unwrap()[0].is_err());
    let results = producer.send_batch("silent", vec![record(), record()]).await.unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let values: Vec<_> = read_back(&broker.address, "silent", 0)
        .await
        .into_iter()
        .map(|r| r.record.value.unwrap())
        .collect();
    let written: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    // "unanswered" and the first batch record were dropped by the proxy, never written.
    assert_eq!(
        written,
        [&b"\"before\""[..], b"\"after-0\"", b"\"after-1\"", b"\"after-2\"", b"batch", b"batch"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_topic_is_named() {
    let broker = Tansu::start();
    let producer = Producer::connect(ProducerConfig::new(&broker.address)).await.unwrap();
    let err = producer.send_json("no-such-topic", None, &1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownTopic);
    assert_eq!(
        err.to_string(),
        "topic `no-such-topic` does not exist on the cluster, or these credentials may not \
         describe it (IAM: kafka-cluster:DescribeTopic; SCRAM, mTLS: a Describe ACL)"
    );
    let err =
        producer.send_batch("no-such-topic", vec![OutgoingRecord::default()]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownTopic);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_header_names_are_refused_not_collapsed() {
    let broker = Tansu::start();
    create_topic(&broker.address, "headers", 1).await;
    let producer = Producer::connect(ProducerConfig::new(&broker.address)).await.unwrap();
    let repeated = OutgoingRecord {
        value: Some(b"v".to_vec()),
        headers: vec![("tag".into(), b"a".to_vec()), ("tag".into(), b"b".to_vec())],
        ..Default::default()
    };
    let err = producer.send("headers", repeated.clone()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRecord);
    assert!(err.to_string().contains("the header `tag` more than once"), "{err}");
    // In a batch only that record fails; the others are written.
    let fine = OutgoingRecord { value: Some(b"ok".to_vec()), ..Default::default() };
    let results = producer.send_batch("headers", vec![fine.clone(), repeated, fine]).await.unwrap();
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert_eq!(results[1].as_ref().unwrap_err().kind(), ErrorKind::InvalidRecord);
    let records = read_back(&broker.address, "headers", 0).await;
    assert_eq!(records.len(), 2, "nothing of the refused record was written");
    assert!(records.iter().all(|r| r.record.value.as_deref() == Some(&b"ok"[..])));
}

/// 10,000 records through a proxy that counts the produce requests: keyed records on three
/// partitions (murmur2 decides which), every record read back in order per partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_10000_records_takes_few_requests_and_keeps_order() {
    let proxy_port = free_port();
    let broker = Tansu::start_with(Some(&format!("127.0.0.1:{proxy_port}")), false);
    let proxy = CountingProxy::start(proxy_port, broker.port);
    let address = format!("127.0.0.1:{proxy_port}");
    create_topic(&address, "batch", 3).await;
    let producer = Producer::connect(ProducerConfig::new(&address)).await.unwrap();
    warm_up(&producer, "batch", 3).await;
    let before = proxy.counts();

    let records: Vec<OutgoingRecord> = (0..10_000)
        .map(|i| OutgoingRecord {
            key: Some(format!("customer-{}", i % 97).into_bytes()),
            value: Some(format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(40)).into_bytes()),
            headers: vec![("n".into(), i.to_string().into_bytes())],
        })
        .collect();
    let started = Instant::now();
    let results = producer.send_batch("batch", records.clone()).await.unwrap();
    let elapsed = started.elapsed();
    let after = proxy.counts();
    let produce_requests = after.requests[&0] - before.requests[&0];
    eprintln!(
        "send_batch: 10000 records in {elapsed:?}, {produce_requests} produce requests, {} connections",
        after.connections
    );
    // About 800 KB of records over 3 partitions: one request per partition.
    assert_eq!(produce_requests, 3, "one produce request per partition");
    assert_eq!(after.connections, before.connections, "no new connection for the batch");

    let mut expected: BTreeMap<i32, Vec<(usize, i64)>> = BTreeMap::new();
    for (i, result) in results.iter().enumerate() {
        let delivery = result.as_ref().unwrap();
        let key = records[i].key.as_ref().unwrap();
        assert_eq!(delivery.partition, (murmur2(key) & 0x7fff_ffff) % 3, "record {i}");
        expected.entry(delivery.partition).or_default().push((i, delivery.offset));
    }
    assert_eq!(expected.len(), 3);
    for (partition, sent) in expected {
        let read = read_back(&broker.address, "batch", partition).await;
        let read: Vec<_> = read
            .iter()
            .filter(|r| !r.record.key.as_deref().unwrap().starts_with(b"warm-up"))
            .collect();
        assert_eq!(read.len(), sent.len(), "partition {partition}");
        for ((i, offset), got) in sent.iter().zip(read) {
            assert_eq!(got.offset, *offset, "record {i}");
            assert_eq!(got.record.value, records[*i].value, "record {i} in order");
            assert_eq!(got.record.headers["n"], i.to_string().into_bytes());
        }
    }

    // A smaller request size splits each partition's records into several requests, in order.
    let small =
        Producer::connect(ProducerConfig::new(&address).max_batch_bytes(20_000)).await.unwrap();
    warm_up(&small, "batch", 3).await;
    let (before, own_before) = (proxy.produce_requests(), small.produce_requests());
    let results = small.send_batch("batch", records[..3000].to_vec()).await.unwrap();
    let requests = proxy.produce_requests() - before;
    assert!(results.iter().all(Result::is_ok));
    // About 120 bytes a record as counted (key, value, header, framing): about 125 KB per
    // partition, so 6 to 7 requests of at most 20 KB each.
    assert!((18..=21).contains(&requests), "{requests} requests");
    assert_eq!(small.produce_requests() - own_before, requests, "the producer's own count agrees");
    for partition in 0..3 {
        let offsets: Vec<i64> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|d| d.partition == partition)
            .map(|d| d.offset)
            .collect();
        assert!(
            offsets.windows(2).all(|w| w[1] == w[0] + 1),
            "consecutive in partition {partition}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_round_trips_and_compresses() {
    let proxy_port = free_port();
    let broker = Tansu::start_with(Some(&format!("127.0.0.1:{proxy_port}")), false);
    let proxy = CountingProxy::start(proxy_port, broker.port);
    let address = format!("127.0.0.1:{proxy_port}");
    let records: Vec<OutgoingRecord> = (0..500)
        .map(|i| OutgoingRecord {
            key: None,
            value: Some(
                format!("{{\"userId\":\"user-{i}\",\"eventType\":\"login\",\"source\":\"web\"}}")
                    .into_bytes(),
            ),
            headers: Vec::new(),
        })
        .collect();
    let mut sizes = Vec::new();
    for (name, codec) in [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ] {
        assert_eq!(Compression::from_name(name).unwrap(), codec);
        let topic = format!("codec-{name}");
        create_topic(&address, &topic, 1).await;
        let producer =
            Producer::connect(ProducerConfig::new(&address).compression(codec)).await.unwrap();
        producer.send_json(&topic, None, &"warm-up").await.unwrap();
        let before = proxy.counts().bytes.get(&0).copied().unwrap_or(0);
        let results = producer.send_batch(&topic, records.clone()).await.unwrap();
        assert!(results.iter().all(Result::is_ok), "{name}");
        let bytes = proxy.counts().bytes[&0] - before;
        sizes.push((name, bytes));
        let read = read_back(&broker.address, &topic, 0).await;
        assert_eq!(read.len(), 501, "{name}");
        for (got, sent) in read[1..].iter().zip(&records) {
            assert_eq!(got.record.value, sent.value, "{name}");
        }
    }
    eprintln!("produce request bytes for 500 records: {sizes:?}");
    let none = sizes[0].1;
    for (name, bytes) in &sizes[1..] {
        assert!(*bytes * 2 < none, "{name}: {bytes} bytes, uncompressed {none}");
    }
    let err = Compression::from_name("brotli").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("MSK_COMPRESSION is `brotli`"), "{err}");
}

/// tansu has no CreatePartitions, so the partition count changes by deleting the topic and
/// creating it again with more partitions: the producer reads the new count once its metadata
/// is older than the max age, and keyed records then go where murmur2 puts them among all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_partition_count_is_picked_up() {
    let broker = Tansu::start();
    create_topic(&broker.address, "growing", 2).await;
    let config = ProducerConfig::new(&broker.address).metadata_max_age(Duration::from_millis(500));
    let producer = Producer::connect(config).await.unwrap();
    assert_eq!(producer.partition_count("growing").await.unwrap(), 2);
    producer.send_json("growing", Some(b"k"), &1).await.unwrap();

    let client = ClientBuilder::new(vec![broker.address.clone()]).build().await.unwrap();
    let controller = client.controller_client().unwrap();
    controller.delete_topic("growing", 5_000).await.unwrap();
    controller.create_topic("growing", 6, 1, 5_000).await.unwrap();
    // Within the max age the old count is still used.
    assert_eq!(producer.partition_count("growing").await.unwrap(), 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(producer.partition_count("growing").await.unwrap(), 6);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..60 {
        let key = format!("key-{i}");
        let delivery = producer.send_json("growing", Some(key.as_bytes()), &i).await.unwrap();
        assert_eq!(delivery.partition, (murmur2(key.as_bytes()) & 0x7fff_ffff) % 6, "{key}");
        seen.insert(delivery.partition);
    }
    assert!(seen.iter().any(|p| *p >= 2), "keys reach the new partitions: {seen:?}");
}

/// A batch whose requests fail: each partition stops at its first failed request, and the
/// records after it are reported as not sent, with the cause, instead of being sent out of
/// order or dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_reports_every_record() {
    let mut broker = Tansu::start();
    create_topic(&broker.address, "fragile", 2).await;
    let config = ProducerConfig::new(&broker.address)
        .request_timeout(Duration::from_secs(1))
        .max_batch_bytes(1_000);
    let producer = Producer::connect(config).await.unwrap();
    let records: Vec<OutgoingRecord> = (0..40)
        .map(|i| OutgoingRecord {
            key: Some(format!("k{i}").into_bytes()),
            value: Some(vec![b'x'; 100]),
            headers: Vec::new(),
        })
        .collect();
    // Connected to both partitions while the broker runs; then it stops.
    warm_up(&producer, "fragile", 2).await;
    broker.stop();
    let started = Instant::now();
    let results = producer.send_batch("fragile", records).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert_eq!(results.len(), 40);
    let errors: Vec<&msk_lambda::producer::ProducerError> =
        results.iter().map(|r| r.as_ref().unwrap_err()).collect();
    // About 7 records fit in 1,000 bytes: each partition's first request failed, and the
    // records after it were not sent (not written: a kind of their own, the failure as source).
    let (not_sent, sent): (Vec<&&msk_lambda::producer::ProducerError>, Vec<_>) =
        errors.iter().partition(|e| e.kind() == ErrorKind::NotSent);
    assert!(sent.iter().all(|e| e.is_unavailable()), "{sent:?}");
    for e in &not_sent {
        assert!(e.to_string().starts_with("not sent: ") && !e.is_timeout(), "{e:?}");
        let cause = std::error::Error::source(*e).unwrap();
        assert!(e.to_string().ends_with(&format!(" failed: {cause}")), "{e}");
    }
    let not_sent = not_sent.len();
    let failed = errors.len() - not_sent;
    assert!((2..=16).contains(&failed), "{failed} records in the failed requests");
    assert!(not_sent >= 24, "{not_sent} not sent");
    assert!(errors
        .iter()
        .any(|e| e.to_string().starts_with("not sent: an earlier record for fragile-")));
}

/// Sends keyed warm-up records until every one of `partitions` partitions of `topic` has had
/// one: a partition's connection is made with its first record.
async fn warm_up(producer: &Producer, topic: &str, partitions: usize) {
    let mut seen = std::collections::BTreeSet::new();
    for i in 0.. {
        if seen.len() == partitions {
            break;
        }
        let key = format!("warm-up-{i}");
        seen.insert(producer.send_json(topic, Some(key.as_bytes()), &0).await.unwrap().partition);
    }
}
