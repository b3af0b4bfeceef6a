//! The producer's throughput against a running broker: `send` in a loop, then `send_batch`,
//! on the same records; prints one JSON line per measurement. Run by `bench/producer`, which
//! starts the broker and runs kafka-python on the same records for comparison.
//!
//! usage: producer-bench BOOTSTRAP TOPIC RECORDS

use std::time::Instant;

use msk_lambda::producer::{OutgoingRecord, Producer, ProducerConfig};

/// The benchmark's records: keyed over 97 customers, about 60-byte JSON values.
fn records(count: usize) -> Vec<OutgoingRecord> {
    (0..count)
        .map(|i| OutgoingRecord {
            key: Some(format!("customer-{}", i % 97).into_bytes()),
            value: Some(
                format!(r#"{{"n":{i},"userId":"user-{}","eventType":"login"}}"#, i % 97)
                    .into_bytes(),
            ),
            headers: Vec::new(),
        })
        .collect()
}

fn report(what: &str, count: usize, started: Instant, requests: usize) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        r#"{{"what":"{what}","records":{count},"seconds":{seconds:.4},"records_per_second":{:.0},"produce_requests":{requests}}}"#,
        count as f64 / seconds
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, topic, count] = &args[..] else {
        return Err("usage: producer-bench BOOTSTRAP TOPIC RECORDS".into());
    };
    let count: usize = count.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let producer = Producer::connect(ProducerConfig::new(bootstrap)).await?;
        producer.send_json(topic, Some(b"warm-up"), &0).await?;
        let records = records(count);

        let before = producer.produce_requests();
        let started = Instant::now();
        for record in records.clone() {
            producer.send(topic, record).await?;
        }
        report(
            "msk-lambda send (one at a time)",
            count,
            started,
            producer.produce_requests() - before,
        );

        let before = producer.produce_requests();
        let started = Instant::now();
        let results = producer.send_batch(topic, records).await?;
        report("msk-lambda send_batch", count, started, producer.produce_requests() - before);
        if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
            return Err(e.into());
        }
        Ok(())
    })
}
