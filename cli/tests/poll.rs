//! `msk-lambda poll`, `produce` and `event` end to end: tansu on loopback, the real user-events
//! binary and a Runtime API test function (tests/fixtures/test_function.py).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use msk_lambda_cli::kafka::{Client, OutRecord};
use msk_lambda_tests::broker::Tansu;
use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_msk-lambda")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// target/debug/user-events, built once.
fn user_events() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let ok = Command::new(cargo)
                .args(["build", "-p", "user-events"])
                .current_dir(workspace())
                .status()
                .unwrap();
            assert!(ok.success());
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| workspace().join("target"), PathBuf::from);
            target.join("debug").join("user-events")
        })
        .clone()
}

fn test_function() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test_function.py")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("msk-lambda-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Creates `topic` and produces `values[p]` to partition p, one record per request.
fn setup(broker: &Tansu, topic: &str, values: &[Vec<String>]) {
    rt().block_on(async {
        let client = Client::new(&broker.address);
        client.create_topic(topic, values.len() as i32).await.unwrap();
        for (p, list) in values.iter().enumerate() {
            for v in list {
                let r = OutRecord {
                    key: Some(format!("k{p}").into_bytes().into()),
                    value: Some(v.clone().into_bytes().into()),
                    headers: vec![("trace-id".into(), "t-1".as_bytes().to_vec().into())],
                    timestamp: msk_lambda_cli::poll::now_ms(),
                };
                client.produce(topic, p as i32, &[r]).await.unwrap();
            }
        }
    });
}

/// Log end offsets and the group's committed offsets, read from the broker.
fn broker_offsets(broker: &Tansu, group: &str, topic: &str) -> Vec<(i64, Option<i64>)> {
    rt().block_on(async {
        let client = Client::new(&broker.address);
        let partitions = client.partitions(topic).await.unwrap();
        let committed = client.committed(group, topic, &partitions).await.unwrap();
        let mut out = Vec::new();
        for p in partitions {
            out.push((client.list_offset(topic, p, -1).await.unwrap(), committed[&p]));
        }
        out
    })
}

struct Run {
    stderr: String,
    summary: Value,
}

/// `msk-lambda poll` with `args`, until idle, the test function's log and state in `dir`.
fn poll(broker: &Tansu, dir: &Path, args: &[&str], function: &[&str]) -> Run {
    let summary = dir.join("summary.json");
    let out = Command::new(bin())
        .args(["poll", "--bootstrap-servers", &broker.address])
        .args(["--starting-position", "trim-horizon", "--until-idle-s", "1.5"])
        .arg("--summary-json")
        .arg(&summary)
        .args(args)
        .arg("--")
        .args(function)
        .env("TF_LOG", dir.join("invocations.jsonl"))
        .env("TF_STATE", dir)
        .env("AWS_LAMBDA_LOG_LEVEL", "error")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "poll failed:\n{stderr}");
    let summary = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    Run { stderr, summary }
}

/// The test function's invocations: (size, records per partition key).
fn invocations(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("invocations.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every delivery of each partition, in order.
fn deliveries(invocations: &[Value]) -> BTreeMap<String, Vec<i64>> {
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for inv in invocations {
        for (k, offsets) in inv["records"].as_object().unwrap() {
            out.entry(k.clone())
                .or_default()
                .extend(offsets.as_array().unwrap().iter().map(|o| o.as_i64().unwrap()));
        }
    }
    out
}

fn value(id: usize, act: &str) -> String {
    format!(r#"{{"id":{id},"act":"{act}"}}"#)
}

fn user_event(n: usize, poison: bool) -> String {
    let event_type = if poison { "delete" } else { ["login", "view", "click"][n % 3] };
    format!(r#"{{"userId":"user-{n}","eventType":"{event_type}"}}"#)
}

/// 10,000 records over 4 partitions through the real user-events binary, with poison records:
/// each poison record lands in the on-failure file after the retries, every partition is
/// committed to its log end (read from the broker), and no record is unaccounted for.
#[test]
fn ten_thousand_records_through_user_events() {
    let broker = Tansu::start();
    let dir = scratch("10k");
    let mut values = vec![Vec::new(); 4];
    let mut poison: Vec<(usize, i64)> = Vec::new();
    for n in 0..10_000 {
        let p = n % 4;
        let is_poison = n % 997 == 500;
        if is_poison {
            poison.push((p, values[p].len() as i64));
        }
        values[p].push(user_event(n, is_poison));
    }
    setup(&broker, "user-events", &values);
    let failed = dir.join("failed.jsonl");
    let run = poll(
        &broker,
        &dir,
        &[
            "--topic",
            "user-events",
            "--consumer-group",
            "e2e",
            "--batch-size",
            "500",
            "--batching-window-ms",
            "100",
            "--max-retry-attempts",
            "2",
            "--on-failure",
            &format!("file:{}", failed.display()),
        ],
        &[user_events().to_str().unwrap()],
    );
    // Committed = log end, counted on the broker.
    for (p, (end, committed)) in
        broker_offsets(&broker, "e2e", "user-events").into_iter().enumerate()
    {
        assert_eq!(end, 2500, "partition {p}");
        assert_eq!(committed, Some(end), "partition {p}\n{}", run.stderr);
    }
    // Every poison record is in a failed batch of the on-failure file, after 1 + 2 invocations.
    let lines: Vec<Value> = std::fs::read_to_string(&failed)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut covered: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for l in &lines {
        assert_eq!(l["requestContext"]["condition"], "RetryAttemptsExhausted");
        assert_eq!(l["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(l["version"], "1.0");
        for (k, info) in l["KafkaBatchInfo"]["recordsInfo"].as_object().unwrap() {
            let first: i64 = info["firstRecordOffset"].as_str().unwrap().parse().unwrap();
            let last: i64 = info["lastRecordOffset"].as_str().unwrap().parse().unwrap();
            covered.entry(k.clone()).or_default().push((first, last));
        }
    }
    for (p, offset) in &poison {
        let key = format!("user-events-{p}");
        assert!(
            covered.get(&key).is_some_and(|r| r.iter().any(|(a, b)| a <= offset && offset <= b)),
            "poison record {key}@{offset} is not in the on-failure file: {covered:?}"
        );
    }
    // Nothing lost: per partition, records sent to the destination plus records processed
    // equal the log (each failed batch starts at its poison record).
    let parts = run.summary["partitions"].as_object().unwrap();
    let to_failure: u64 =
        parts.values().map(|p| p["records_to_on_failure"].as_u64().unwrap()).sum();
    let in_file: i64 = covered.values().flatten().map(|(a, b)| b - a + 1).sum();
    assert_eq!(to_failure as i64, in_file);
    let delivered: u64 = parts.values().map(|p| p["records_delivered"].as_u64().unwrap()).sum();
    assert!(delivered >= 10_000, "{delivered}");
    assert_eq!(lines.len(), poison.len(), "one failed batch per poison record");
}

/// A record failed on its first attempt only (partial batch response): the partition is
/// redelivered from exactly that offset, the records before it are not; other partitions are
/// not redelivered. An invocation error instead redelivers the whole batch.
#[test]
fn first_attempt_failures_redeliver_from_the_right_offset() {
    let broker = Tansu::start();
    let dir = scratch("partial");
    let p0: Vec<String> =
        (0..10).map(|i| value(i, if i == 4 { "fail-once" } else { "" })).collect();
    let p1: Vec<String> = (0..10).map(|i| value(i, "")).collect();
    setup(&broker, "partial", &[p0, p1]);
    let py = test_function();
    let run = poll(
        &broker,
        &dir,
        &["--topic", "partial", "--batch-size", "100"],
        &[py.to_str().unwrap()],
    );
    let d = deliveries(&invocations(&dir));
    let mut expected: Vec<i64> = (0..10).collect();
    expected.extend(4..10);
    assert_eq!(d["partial-0"], expected, "{}", run.stderr);
    assert_eq!(d["partial-1"], (0..10).collect::<Vec<_>>());
    assert_eq!(run.summary["partitions"]["partial-0"]["retries"], 1);
    assert_eq!(run.summary["partitions"]["partial-0"]["committed_offset"], 10);

    // An error: the whole batch (here one partition, one event) again.
    let dir = scratch("error");
    let p0: Vec<String> =
        (0..6).map(|i| value(i, if i == 3 { "error-once" } else { "" })).collect();
    setup(&broker, "whole", &[p0]);
    let run = poll(&broker, &dir, &["--topic", "whole"], &[py.to_str().unwrap()]);
    let d = deliveries(&invocations(&dir));
    let mut expected: Vec<i64> = (0..6).collect();
    expected.extend(0..6);
    assert_eq!(d["whole-0"], expected, "{}", run.stderr);
    // The default group: stable per function and topics.
    for (end, committed) in broker_offsets(&broker, "msk-lambda-test_function.py-whole", "whole") {
        assert_eq!(committed, Some(end));
    }
}

/// A malformed response, an unknown partition in the response, a crash in the middle of a
/// batch and a timeout: each fails the whole batch, the function is restarted where it died, and
/// the run goes on to commit everything.
#[test]
fn bad_responses_crashes_and_timeouts_fail_the_batch_and_the_run_goes_on() {
    let broker = Tansu::start();
    let py = test_function();
    for (act, says, restarts) in [
        ("malformed-once", "not JSON", 1),
        ("unknown-once", "not in the event", 1),
        ("crash-once", "crashed", 2),
        ("hang-once", "timed out", 2),
    ] {
        let dir = scratch(act);
        let topic = format!("bad-{act}");
        let values: Vec<String> = (0..5).map(|i| value(i, if i == 2 { act } else { "" })).collect();
        let plain: Vec<String> = (0..5).map(|i| value(i, "")).collect();
        setup(&broker, &topic, &[values, plain]);
        let run = poll(
            &broker,
            &dir,
            &["--topic", &topic, "--consumer-group", &topic, "--timeout-s", "2"],
            &[py.to_str().unwrap()],
        );
        let invs = invocations(&dir);
        let d = deliveries(&invs);
        for p in 0..2 {
            let offsets = &d[&format!("{topic}-{p}")];
            // the whole batch failed: every record twice, in order
            assert_eq!(offsets, &[0, 1, 2, 3, 4, 0, 1, 2, 3, 4], "{act}\n{}", run.stderr);
        }
        for (end, committed) in broker_offsets(&broker, &topic, &topic) {
            assert_eq!((end, committed), (5, Some(5)), "{act}\n{}", run.stderr);
        }
        assert!(run.stderr.contains(says), "{act}\n{}", run.stderr);
        // One line for the whole-batch failure, not a second one as a partial failure.
        assert!(!run.stderr.contains("partial failure"), "{act}\n{}", run.stderr);
        assert_eq!(run.summary["function_starts"], restarts, "{act}\n{}", run.summary);
        // The deadline is a real epoch time, the timeout away.
        let first = invs[0]["deadline_in_ms"].as_i64().unwrap();
        assert!((1000..=2100).contains(&first), "{first}");
    }
}

/// Records produced 10 to a batch (tansu 0.6 was reported to skip a whole record batch when a
/// fetch starts inside it; the poller steps back when a fetch starts past the offset asked
/// for): a partial failure inside the batch is redelivered from the records the poller holds,
/// and a restart whose committed offset is inside the batch starts exactly there.
#[test]
fn offsets_inside_a_multi_record_batch() {
    let broker = Tansu::start();
    let py = test_function();
    rt().block_on(async {
        let client = Client::new(&broker.address);
        client.create_topic("batched", 1).await.unwrap();
        let records: Vec<OutRecord> = (0..10)
            .map(|i| OutRecord {
                value: Some(value(i, if i == 6 { "fail-once" } else { "" }).into_bytes().into()),
                timestamp: msk_lambda_cli::poll::now_ms(),
                ..OutRecord::default()
            })
            .collect();
        client.produce("batched", 0, &records).await.unwrap();
        let f = client
            .fetch("batched", 0, 5, 1 << 20, std::time::Duration::from_millis(100))
            .await
            .unwrap();
        eprintln!(
            "tansu: a fetch at offset 5 of a 10-record batch returned offsets {:?}",
            f.records.iter().map(|r| r.offset).collect::<Vec<_>>()
        );
    });
    let dir = scratch("batched");
    let args = ["--topic", "batched", "--consumer-group", "batched", "--batch-size", "4"];
    let first = poll(
        &broker,
        &dir,
        &[&args[..], &["--max-batches", "1"]].concat(),
        &[py.to_str().unwrap()],
    );
    assert_eq!(deliveries(&invocations(&dir))["batched-0"], [0, 1, 2, 3], "{}", first.stderr);
    let second = poll(&broker, &dir, &args, &[py.to_str().unwrap()]);
    assert_eq!(
        deliveries(&invocations(&dir))["batched-0"],
        [0, 1, 2, 3, 4, 5, 6, 7, 6, 7, 8, 9],
        "{}",
        second.stderr
    );
    assert_eq!(broker_offsets(&broker, "batched", "batched"), [(10, Some(10))]);
}

/// A second run of the same consumer group resumes from the committed offsets; batch size,
/// two topics at once and the 6 MB cut (sizes measured as the function received them).
#[test]
fn restart_resumes_and_batches_respect_size_window_and_6mb() {
    let broker = Tansu::start();
    let dir = scratch("restart");
    let py = test_function();
    setup(&broker, "alpha", &[(0..20).map(|i| value(i, "")).collect()]);
    setup(&broker, "beta", &[(0..7).map(|i| value(i, "")).collect()]);
    let args =
        ["--topic", "alpha", "--topic", "beta", "--consumer-group", "two", "--batch-size", "5"];
    let first = poll(
        &broker,
        &dir,
        &[&args[..], &["--max-batches", "2"]].concat(),
        &[py.to_str().unwrap()],
    );
    let before = deliveries(&invocations(&dir));
    let seen: usize = before.values().map(Vec::len).sum();
    assert_eq!(seen, 10, "{}", first.stderr);
    let second = poll(&broker, &dir, &args, &[py.to_str().unwrap()]);
    let invs = invocations(&dir);
    for inv in &invs {
        let n: usize =
            inv["records"].as_object().unwrap().values().map(|v| v.as_array().unwrap().len()).sum();
        assert!(n <= 5, "batch size: {inv}");
    }
    let all = deliveries(&invs);
    // Every record exactly once across the two runs: the second resumed where the first committed.
    assert_eq!(all["alpha-0"], (0..20).collect::<Vec<_>>(), "{}", second.stderr);
    assert_eq!(all["beta-0"], (0..7).collect::<Vec<_>>());

    // 6 MB: 1.5 MB records, batch size 100: never more than 6 MiB in one event.
    let dir = scratch("big");
    let big: Vec<String> =
        (0..9).map(|i| format!(r#"{{"id":{i},"pad":"{}"}}"#, "x".repeat(1_500_000))).collect();
    setup(&broker, "big", &[big]);
    let run = poll(
        &broker,
        &dir,
        &["--topic", "big", "--batching-window-ms", "2000"],
        &[py.to_str().unwrap()],
    );
    let invs = invocations(&dir);
    let sizes: Vec<i64> = invs.iter().map(|i| i["size"].as_i64().unwrap()).collect();
    assert!(sizes.iter().all(|&s| s <= 6 * 1024 * 1024), "{sizes:?}");
    assert_eq!(deliveries(&invs)["big-0"], (0..9).collect::<Vec<_>>(), "{}", run.stderr);
    assert!(invs.len() >= 3, "{sizes:?}");
}

/// `msk-lambda event` writes what the msk-lambda runtime parses, and user-events answers it.
#[test]
fn event_output_is_read_by_the_runtime_and_user_events() {
    let dir = scratch("event");
    let input = concat!(
        r#"{"value":{"userId":"u1","eventType":"login"},"key":"u1","headers":{"trace-id":"t-1"}}"#,
        "\n",
        r#"{"value":{"userId":"u2","eventType":"delete"},"key":"u2"}"#,
        "\n",
        r#"{"value":{"userId":"u3","eventType":"view"},"partition":2,"offset":40}"#,
        "\n",
    );
    let mut child = Command::new(bin())
        .args(["event", "--topic", "user-events"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let event = out.stdout;
    // The runtime's own parser reads every record.
    let consumer =
        msk_lambda::Consumer::new(|_r: msk_lambda::Record<msk_lambda::Json<Value>>| async {
            Ok::<(), msk_lambda::Error>(())
        });
    let response = rt().block_on(consumer.invoke(&event)).unwrap();
    assert_eq!(response.to_json(), r#"{"batchItemFailures":[]}"#);
    // user-events, run locally on the file, fails the poison record only.
    let file = dir.join("event.json");
    std::fs::write(&file, &event).unwrap();
    let out = Command::new(user_events()).arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"user-events-0","offset":1}}]}"#
        ),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A wrong function path and flag values out of range stop `poll` at once with a message that
/// names them (before, a typo in the path failed every batch as a crash, retried forever or
/// sent every record to the on-failure destination; `nan` seconds panicked). No broker is
/// reached: nothing listens on port 1.
#[test]
fn a_wrong_function_path_and_bad_flags_stop_at_once() {
    let run = |args: &[&str]| {
        let out = Command::new(bin())
            .args(["poll", "--bootstrap-servers", "127.0.0.1:1", "--topic", "t"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, stderr) = run(&["--", "/no/such/function"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot start the function /no/such/function"), "{stderr}");
    let (code, stderr) = run(&["--", "no-such-function-on-path"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no-such-function-on-path: no such program on PATH"), "{stderr}");
    let not_executable = scratch("wrong-path").join("function");
    std::fs::write(&not_executable, "").unwrap();
    let (code, stderr) = run(&["--", not_executable.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not executable"), "{stderr}");
    let py = test_function();
    for (flag, value, says) in [
        ("--until-idle-s", "nan", "`nan`: expected 0 to 86400 seconds"),
        ("--until-idle-s", "-1", "`-1`: expected 0 to 86400 seconds"),
        ("--until-idle-s", "soon", "`soon` is not a number of seconds"),
        ("--timeout-s", "0", "0 is not in 1..=900"),
    ] {
        let (code, stderr) = run(&[&format!("{flag}={value}"), "--", py.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
    }
}

/// A whole-batch failure over two partitions with no retries left: one on-failure line for the
/// failed batch, naming both partitions, its `payloadSize` the size of the event it was.
#[test]
fn an_exhausted_batch_of_two_partitions_is_one_on_failure_line() {
    let broker = Tansu::start();
    let dir = scratch("exhausted");
    let p0: Vec<String> =
        (0..3).map(|i| value(i, if i == 1 { "error-once" } else { "" })).collect();
    let p1: Vec<String> = (0..2).map(|i| value(i, "")).collect();
    setup(&broker, "exhausted", &[p0, p1]);
    let failed = dir.join("failed.jsonl");
    let destination = format!("file:{}", failed.display());
    let py = test_function();
    let run = poll(
        &broker,
        &dir,
        &["--topic", "exhausted", "--max-retry-attempts", "0", "--on-failure", &destination],
        &[py.to_str().unwrap()],
    );
    let invs = invocations(&dir);
    assert_eq!(invs.len(), 1, "{}", run.stderr);
    let lines: Vec<Value> = std::fs::read_to_string(&failed)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    let batch = &lines[0]["KafkaBatchInfo"];
    assert_eq!(batch["batchSize"], 5);
    assert_eq!(batch["payloadSize"], invs[0]["size"]);
    let info = batch["recordsInfo"].as_object().unwrap();
    assert_eq!(info.keys().collect::<Vec<_>>(), ["exhausted-0", "exhausted-1"]);
    assert_eq!(info["exhausted-0"]["lastRecordOffset"], "2");
    assert_eq!(lines[0]["requestContext"]["condition"], "RetryAttemptsExhausted");
    for (end, committed) in
        broker_offsets(&broker, "msk-lambda-test_function.py-exhausted", "exhausted")
    {
        assert_eq!(committed, Some(end));
    }
}
