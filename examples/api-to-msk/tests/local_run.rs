//! The api-to-msk binary run locally on API Gateway event files, producing to a real broker
//! (tansu) on loopback: 200 with partition and offset, 400 for a bad body, 503 when the broker
//! is unreachable.

use std::process::Command;

use msk_lambda_tests::broker::Tansu;
use serde_json::Value;

fn run(event: &str, servers: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_api-to-msk"))
        .arg(event)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("MSK_AUTH", "plaintext")
        .env("MSK_BOOTSTRAP_SERVERS", servers)
        .env("MSK_REQUEST_TIMEOUT_MS", "1500")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_200_400_and_503() {
    let mut broker = Tansu::start();
    let client =
        rskafka::client::ClientBuilder::new(vec![broker.address.clone()]).build().await.unwrap();
    client.controller_client().unwrap().create_topic("user-events", 2, 1, 5_000).await.unwrap();

    let ok = run("events/post.json", &broker.address);
    assert_eq!(ok["statusCode"], 200, "{ok}");
    assert_eq!(ok["headers"]["content-type"], "application/json");
    let body: Value = serde_json::from_str(ok["body"].as_str().unwrap()).unwrap();
    let partition = body["partition"].as_i64().unwrap() as i32;
    assert_eq!(body["offset"], 0);
    assert_eq!(partition, (msk_lambda::producer::murmur2(b"user-1") & 0x7fff_ffff) % 2);
    let again = run("events/post.json", &broker.address);
    let body: Value = serde_json::from_str(again["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["offset"], 1, "the same key, the same partition, the next offset");

    let bad = run("events/missing-user.json", &broker.address);
    assert_eq!(bad["statusCode"], 400);
    assert_eq!(bad["body"], r#"{"message":"`userId` is missing"}"#);

    let address = broker.address.clone();
    broker.stop();
    let unavailable = run("events/post.json", &address);
    assert_eq!(unavailable["statusCode"], 503, "{unavailable}");
    assert_eq!(unavailable["body"], r#"{"message":"the event store is unavailable; try again"}"#);
}
