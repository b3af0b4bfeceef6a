//! The built `user-events` binary in local mode: the same executable Lambda runs, given an
//! event file instead of the Runtime API.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn user_events(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_user-events"))
        .args(args)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("RUST_LOG", "info")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the user-events binary runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn sample_event_prints_the_exact_partial_batch_response() {
    let out = user_events(&["events/sample.json"], None);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"batchItemFailures\":[{\"itemIdentifier\":{\"partition\":\"user-events-0\",\"offset\":102}},{\"itemIdentifier\":{\"partition\":\"user-events-0\",\"offset\":103}},{\"itemIdentifier\":{\"partition\":\"user-events-2\",\"offset\":40}},{\"itemIdentifier\":{\"partition\":\"user-events-2\",\"offset\":41}}]}\n"
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("local run: 8 records in 3 partitions: 4 succeeded, 2 failed, 2 not run after an earlier failure, 0 not started before the deadline"), "{stderr}");
    assert!(stderr.contains("failed user-events-2@40: decode: the value could not be decoded as `Json<UserEvent>`: not valid JSON: expected ident (line 1 column 2)"), "{stderr}");
    assert!(!stderr.contains("not json at all"), "payloads are never logged");
}

#[test]
fn event_from_stdin() {
    let event = br#"{"eventSource":"aws:kafka","records":{"user-events-3":[{"topic":"user-events","partition":3,"offset":1,"timestamp":0,"timestampType":"CREATE_TIME","value":"eyJ1c2VySWQiOiJ1IiwiZXZlbnRUeXBlIjoidmlldyJ9","headers":[]}]}}"#;
    let out = user_events(&["-"], Some(event));
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "{\"batchItemFailures\":[]}\n");
}

#[test]
fn an_invalid_event_is_a_clear_failure() {
    let out = user_events(&["-"], Some(br#"{"Records":[{"eventSource":"aws:sqs"}]}"#));
    assert!(!out.status.success());
    assert_eq!(out.stdout, b"");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "error: invalid event: not a Kafka event: it has no `records` object (it has `Records`"
        ),
        "{stderr}"
    );
}

#[test]
fn no_event_file_says_how_to_run() {
    let out = user_events(&[], None);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no event file: run `"), "{stderr}");
    assert!(stderr.contains("EVENT.json` (or `-` to read the event from stdin)"), "{stderr}");
    let out = user_events(&["does-not-exist.json"], None);
    assert!(text(&out.stderr).contains("cannot read the event file does-not-exist.json"));
}

/// Metrics CloudWatch would drop (here a namespace in AWS's own `AWS/` space) stop the run
/// before any record, naming what is wrong, instead of writing a rejected line per invocation.
#[test]
fn metrics_cloudwatch_would_not_take_are_refused_at_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_user-events"))
        .arg("events/sample.json")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("MSK_LAMBDA_METRICS", "on")
        .env("MSK_LAMBDA_METRICS_NAMESPACE", "AWS/Kafka")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(out.stdout, b"");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the metrics namespace \"AWS/Kafka\" starts with `:` or `AWS/`"),
        "{stderr}"
    );
}

/// A reader of stdout that went away is not a crash (`println!` panics on a closed pipe).
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_user-events"))
        .arg("events/sample.json")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `MSK_LAMBDA_WORKERS` above the CPUs the process may use is followed, and said to share them.
#[test]
fn more_workers_than_cpus_are_run_and_warned_about() {
    let out = Command::new(env!("CARGO_BIN_EXE_user-events"))
        .arg("events/sample.json")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("MSK_LAMBDA_WORKERS", "4096")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("more workers than the CPUs this process may use"), "{stderr}");
    assert!(stderr.contains("workers=4096"), "{stderr}");
    assert!(stderr.contains("4 succeeded, 2 failed"), "{stderr}");
    // Not a terminal: no colour escapes.
    assert!(!stderr.contains('\x1b'), "{stderr}");
}
