//! enrich-and-forward run locally on a Kafka event, producing to a real broker (tansu) on
//! loopback: every record forwarded; a send that fails (here: the output topic is missing)
//! fails its record.

use std::process::Command;

use msk_lambda_tests::broker::Tansu;
use serde_json::Value;

fn run(servers: &str) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_enrich-and-forward"))
        .arg("events/sample.json")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("MSK_AUTH", "plaintext")
        .env("MSK_BOOTSTRAP_SERVERS", servers)
        .env("MSK_REQUEST_TIMEOUT_MS", "3000")
        .env("MSK_LAMBDA_METRICS", "off")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_enriched_and_forwarded() {
    let broker = Tansu::start();
    // Without the output topic every send fails, and so does every first record.
    let (stdout, stderr) = run(&broker.address);
    assert_eq!(
        stdout.trim(),
        r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"user-events-0","offset":10}},{"itemIdentifier":{"partition":"user-events-0","offset":11}},{"itemIdentifier":{"partition":"user-events-1","offset":4}}]}"#,
        "{stderr}"
    );
    assert!(
        stderr.contains("topic `user-events-enriched` does not exist on the cluster"),
        "{stderr}"
    );

    let client =
        rskafka::client::ClientBuilder::new(vec![broker.address.clone()]).build().await.unwrap();
    client
        .controller_client()
        .unwrap()
        .create_topic("user-events-enriched", 1, 1, 5_000)
        .await
        .unwrap();
    let (stdout, stderr) = run(&broker.address);
    assert_eq!(stdout.trim(), r#"{"batchItemFailures":[]}"#, "{stderr}");

    let partition = client
        .partition_client(
            "user-events-enriched",
            0,
            rskafka::client::partition::UnknownTopicHandling::Error,
        )
        .await
        .unwrap();
    let (records, _) = partition.fetch_records(0, 1..1_000_000, 1_000).await.unwrap();
    let values: Vec<Value> = records
        .iter()
        .map(|r| serde_json::from_slice(r.record.value.as_deref().unwrap()).unwrap())
        .collect();
    assert_eq!(values.len(), 3);
    let purchase = values.iter().find(|v| v["eventType"] == "purchase").unwrap();
    assert_eq!(purchase["revenue"], true);
    assert_eq!(purchase["source"], "user-events-0@11");
    assert_eq!(
        records.iter().filter(|r| r.record.key.as_deref() == Some(&b"user-1"[..])).count(),
        2
    );
}
