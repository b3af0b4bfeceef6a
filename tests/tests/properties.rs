//! Nothing is lost, whatever arrives: property tests over generated batches.
//!
//! Both handler shapes: per record, and bulk (a partition's records at once, failing the ones
//! the scripts say by offset, or all of them). Random topics (dashes, dots), partitions and
//! offsets; random handler outcomes per record (ok, error, panic, slow); undecodable values, tombstones, bad keys and headers; random deadlines,
//! margins, concurrency, workers, failure policies and response modes. With one worker, time is
//! tokio's paused clock, so slow handlers and deadlines cost no real time; with several workers
//! (a multi-thread runtime, whose clock cannot be paused) the times are real, scaled down.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use msk_lambda::{
    Batch, BatchError, BatchReport, BatchResponse, Consumer, FailureKind, FailurePolicy, Handles,
    InvocationContext, InvocationError, Json, Outcome, Record, ResponseMode, Workers,
};
use proptest::prelude::*;
use serde_json::{json, Value};

/// What one record does.
#[derive(Debug, Clone, PartialEq)]
enum Script {
    Ok,
    Err,
    Panic,
    /// Sleeps this many (virtual) milliseconds, then succeeds.
    Sleep(u64),
    BadBase64,
    Tombstone,
    NotJson,
    WrongShape,
    KeyNotUtf8,
    HeaderOutOfRange,
}

impl Script {
    fn decodes(&self) -> bool {
        matches!(self, Script::Ok | Script::Err | Script::Panic | Script::Sleep(_))
    }
}

fn script() -> impl Strategy<Value = Script> {
    prop_oneof![
        6 => Just(Script::Ok),
        1 => Just(Script::Err),
        1 => Just(Script::Panic),
        2 => (0u64..700).prop_map(Script::Sleep),
        1 => Just(Script::BadBase64),
        1 => Just(Script::Tombstone),
        1 => Just(Script::NotJson),
        1 => Just(Script::WrongShape),
        1 => Just(Script::KeyNotUtf8),
        1 => Just(Script::HeaderOutOfRange),
    ]
}

#[derive(Debug, Clone)]
struct Partition {
    topic: String,
    partition: i32,
    first_offset: i64,
    gaps: Vec<i64>,
    scripts: Vec<Script>,
}

impl Partition {
    fn key(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }
    fn offsets(&self) -> Vec<i64> {
        let mut offset = self.first_offset;
        self.gaps
            .iter()
            .map(|gap| {
                offset += gap;
                offset
            })
            .collect()
    }
}

fn partition() -> impl Strategy<Value = Partition> {
    (
        "[a-z][a-z0-9]{0,4}([-.][a-z0-9]{1,4}){0,2}",
        0i32..200,
        0i64..1_000_000_000_000,
        proptest::collection::vec((1i64..3, script()), 0..10),
    )
        .prop_map(|(topic, partition, first_offset, records)| {
            let (gaps, scripts) = records.into_iter().unzip();
            Partition { topic, partition, first_offset, gaps, scripts }
        })
}

#[derive(Debug, Clone)]
struct Case {
    partitions: Vec<Partition>,
    policy: FailurePolicy,
    mode: ResponseMode,
    concurrency: usize,
    /// Worker threads; above 1, a multi-thread runtime and real time.
    workers: usize,
    /// `None`: a per-record handler. `Some(all)`: a bulk handler, failing every record when
    /// one fails (`all`) or only the failed ones, by offset.
    bulk: Option<bool>,
    /// Milliseconds until the deadline; `None`: the 15-minute local default.
    deadline_ms: Option<u64>,
    margin_ms: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(partition(), 0..7),
        prop_oneof![Just(FailurePolicy::StopPartition), Just(FailurePolicy::Continue)],
        prop_oneof![Just(ResponseMode::PartialBatch), Just(ResponseMode::WholeBatch)],
        1usize..5,
        (prop_oneof![3 => Just(1usize), 1 => 2usize..5], proptest::option::of(any::<bool>())),
        proptest::option::of(0u64..3000),
        0u64..1000,
    )
        .prop_map(
            |(
                mut partitions,
                policy,
                mode,
                concurrency,
                (workers, bulk),
                deadline_ms,
                margin_ms,
            )| {
                let mut seen = HashSet::new();
                partitions.retain(|p| seen.insert(p.key()));
                // serde_json's map writes keys sorted; the event (and so the report) follows.
                partitions.sort_by_key(Partition::key);
                Case {
                    partitions,
                    policy,
                    mode,
                    concurrency,
                    workers,
                    bulk,
                    deadline_ms,
                    margin_ms,
                }
            },
        )
}

const SECRET: &str = "SECRET-4111111111111111";

fn b64(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    // Small standard base64 encoder, so the test does not share the code under test.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                let _ = write!(out, "=");
            }
        }
    }
    out
}

/// One record, written as Lambda writes it (compact, fields in Lambda's order), so the batches
/// take the parser's path real events take.
fn record_json(p: &Partition, offset: i64, script: &Script) -> String {
    let script_text = match script {
        Script::Ok => "ok".to_owned(),
        Script::Err => "err".to_owned(),
        Script::Panic => "panic".to_owned(),
        Script::Sleep(ms) => format!("sleep:{ms}"),
        _ => "ok".to_owned(),
    };
    let good_value = json!({ "script": script_text, "secret": SECRET }).to_string();
    let value = match script {
        Script::BadBase64 => Value::String(format!("!{SECRET}")),
        Script::Tombstone => Value::Null,
        Script::NotJson => Value::String(b64(format!("{SECRET} not json").as_bytes())),
        Script::WrongShape => {
            Value::String(b64(json!({ "script": SECRET, "secret": 7 }).to_string().as_bytes()))
        }
        _ => Value::String(b64(good_value.as_bytes())),
    };
    let key = match script {
        Script::KeyNotUtf8 => b64(&[0xff, 0xfe, 0x00]),
        _ => b64(b"user-1"),
    };
    let headers = match script {
        Script::HeaderOutOfRange => json!([{ "trace": [1, 2, 300] }]),
        _ => json!([{ "trace": [116, -61, -87] }, { "trace": [] }]),
    };
    format!(
        r#"{{"topic":{},"partition":{},"offset":{offset},"timestamp":1735689600000,"timestampType":"CREATE_TIME","key":{},"value":{value},"headers":{headers}}}"#,
        Value::from(p.topic.as_str()),
        p.partition,
        Value::from(key),
    )
}

fn event_json(case: &Case) -> Vec<u8> {
    let records: Vec<String> = case
        .partitions
        .iter()
        .map(|p| {
            let list: Vec<String> =
                p.offsets().iter().zip(&p.scripts).map(|(o, s)| record_json(p, *o, s)).collect();
            format!("{}:[{}]", Value::from(p.key()), list.join(","))
        })
        .collect();
    format!(r#"{{"eventSource":"aws:kafka","records":{{{}}}}}"#, records.join(",")).into_bytes()
}

#[derive(serde::Deserialize)]
struct Payload {
    script: String,
    #[allow(dead_code)]
    secret: String,
}

/// Which handler calls started, on which thread, and how many partitions were in a handler at
/// once (in all and on one thread).
#[derive(Default)]
struct Observed {
    calls: Vec<(String, i64, std::thread::ThreadId)>,
    /// Bulk handlers: the offsets of each batch handed over.
    batches: Vec<(String, Vec<i64>)>,
    in_flight: HashMap<String, usize>,
    peak: usize,
}

fn lock(observed: &Mutex<Observed>) -> std::sync::MutexGuard<'_, Observed> {
    // A scripted panic never happens while the lock is held; recover anyway.
    observed.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The case's settings on a consumer of either shape.
fn configure<H>(
    consumer: Consumer<H, (), Json<Payload>, String>,
    case: &Case,
    scale: impl Fn(u64) -> Duration,
) -> Consumer<H, (), Json<Payload>, String>
where
    H: Handles<Json<Payload>, String, ()> + Sync,
{
    consumer
        .concurrency(NonZeroUsize::new(case.concurrency).unwrap())
        .failure_policy(case.policy)
        .response_mode(case.mode)
        .deadline_margin(scale(case.margin_ms))
        .workers(Workers::Count(NonZeroUsize::new(case.workers).unwrap()))
}

/// `process`, then (after `between`) `invoke_with_context` on the same event: the report, what
/// `between` returned, and Lambda's answer.
async fn run<H, T>(
    consumer: Consumer<H, (), Json<Payload>, String>,
    event: &[u8],
    context: &InvocationContext,
    between: impl FnOnce() -> T,
) -> (Result<BatchReport, InvocationError>, T, Result<BatchResponse, InvocationError>)
where
    H: Handles<Json<Payload>, String, ()>,
{
    let report = consumer.process(event, context.clone()).await;
    let between = between();
    (report, between, consumer.invoke_with_context(event, context.clone()).await)
}

fn check(case: Case) -> Result<(), TestCaseError> {
    let event = event_json(&case);
    let real_time = case.workers > 1;
    // Real time (several workers) is scaled down: sleeps of up to 28 ms, deadlines up to 120 ms.
    let scale = |ms: u64| {
        if real_time {
            Duration::from_millis(ms / 25)
        } else {
            Duration::from_millis(ms)
        }
    };
    let observed = Mutex::new(Observed::default());
    // One handler call enters (its partition now in a handler) and leaves, even when the call
    // is cancelled or panics.
    struct Leave<'a>(&'a Mutex<Observed>, String);
    impl Drop for Leave<'_> {
        fn drop(&mut self) {
            *lock(self.0).in_flight.get_mut(&self.1).unwrap() -= 1;
        }
    }
    let enter = |key: &str, offsets: &[i64]| {
        let mut o = lock(&observed);
        let thread = std::thread::current().id();
        o.calls.extend(offsets.iter().map(|offset| (key.to_owned(), *offset, thread)));
        *o.in_flight.entry(key.to_owned()).or_default() += 1;
        let active = o.in_flight.values().filter(|n| **n > 0).count();
        o.peak = o.peak.max(active);
        Leave(&observed, key.to_owned())
    };
    let handler = async |r: Record<Json<Payload>, String>| -> Result<(), String> {
        let _leave = enter(r.topic_partition(), &[r.offset()]);
        tokio::task::yield_now().await;
        let script = r.value().script.as_str();
        match script {
            "ok" => Ok(()),
            "err" => Err(format!("scripted error at {}", r.offset())),
            "panic" => panic!("scripted panic"),
            s => {
                let ms: u64 = s.strip_prefix("sleep:").unwrap().parse().unwrap();
                tokio::time::sleep(scale(ms)).await;
                Ok(())
            }
        }
    };
    // The same scripts, a partition at a time: records in order, the failed ones collected.
    let fail_all = case.bulk == Some(true);
    let bulk = async |batch: Batch<Json<Payload>, String>| -> Result<(), BatchError> {
        let offsets: Vec<i64> = batch.iter().map(Record::offset).collect();
        lock(&observed).batches.push((batch.topic_partition().to_owned(), offsets.clone()));
        let _leave = enter(batch.topic_partition(), &offsets);
        tokio::task::yield_now().await;
        let mut failed = BatchError::none();
        for r in &batch {
            match r.value().script.as_str() {
                "ok" => {}
                "err" if fail_all => {
                    return Err(BatchError::all(format!("scripted error at {}", r.offset())))
                }
                "err" => {
                    failed = failed.record(r.offset(), format!("scripted error at {}", r.offset()))
                }
                "panic" => panic!("scripted panic"),
                s => {
                    let ms: u64 = s.strip_prefix("sleep:").unwrap().parse().unwrap();
                    tokio::time::sleep(scale(ms)).await;
                }
            }
        }
        failed.into_result()
    };
    let context = match case.deadline_ms {
        Some(ms) => InvocationContext::with_deadline(SystemTime::now() + scale(ms)),
        None => InvocationContext::local(),
    };
    let runtime = if real_time {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()
    }
    .unwrap();
    // The calls of the first run (`process`) only.
    let take = || {
        let mut o = lock(&observed);
        (std::mem::take(&mut o.calls), std::mem::take(&mut o.batches))
    };
    let (report, (calls, batches), result) = match case.bulk {
        None => {
            let consumer = configure(Consumer::new(handler), &case, scale);
            runtime.block_on(run(consumer, &event, &context, take))
        }
        Some(_) => {
            let consumer = configure(Consumer::bulk(bulk), &case, scale);
            runtime.block_on(run(consumer, &event, &context, take))
        }
    };
    let report = report.map_err(|e| TestCaseError::fail(format!("process failed: {e}")))?;

    // Every record ends exactly one way, and appears exactly once.
    let expected: Vec<(String, Vec<i64>)> =
        case.partitions.iter().map(|p| (p.key(), p.offsets())).collect();
    let got: Vec<(String, Vec<i64>)> = report
        .partitions
        .iter()
        .map(|p| (p.key.clone(), p.outcomes.iter().map(|(o, _)| *o).collect()))
        .collect();
    prop_assert_eq!(&got, &expected);

    for (p, r) in case.partitions.iter().zip(&report.partitions) {
        let mut failed_before = false;
        let mut deadline_before = false;
        for (script, (offset, outcome)) in p.scripts.iter().zip(&r.outcomes) {
            match outcome {
                Outcome::Succeeded => {
                    prop_assert!(matches!(script, Script::Ok | Script::Sleep(_)), "{offset}")
                }
                Outcome::Failed(f) => {
                    prop_assert!(!f.message.contains(SECRET), "payload in a reason: {}", f.message);
                    let expected_kind = match script {
                        s if !s.decodes() => FailureKind::Decode,
                        // A bulk handler's batch fails as a whole: any record of it may carry
                        // what another record of the partition did.
                        _ if case.bulk.is_some() => {
                            let has = |s: fn(&Script) -> bool| p.scripts.iter().any(s);
                            let explained = match f.kind {
                                FailureKind::Handler => {
                                    *script == Script::Err
                                        || (fail_all && has(|s| *s == Script::Err))
                                }
                                FailureKind::Panic => has(|s| *s == Script::Panic),
                                FailureKind::Timeout => has(|s| matches!(s, Script::Sleep(_))),
                                _ => false,
                            };
                            prop_assert!(explained, "offset {}: {:?}", offset, f);
                            f.kind
                        }
                        Script::Err => FailureKind::Handler,
                        Script::Panic => FailureKind::Panic,
                        Script::Sleep(_) => FailureKind::Timeout,
                        _ => FailureKind::Timeout,
                    };
                    prop_assert_eq!(f.kind, expected_kind, "offset {}: {}", offset, f.message);
                    if f.kind == FailureKind::Timeout {
                        deadline_before = true;
                    } else {
                        failed_before = true;
                    }
                }
                Outcome::Skipped => {
                    prop_assert!(failed_before && case.policy == FailurePolicy::StopPartition)
                }
                Outcome::NotStarted => deadline_before = true,
                other => prop_assert!(false, "an outcome this test does not know: {other:?}"),
            }
            if deadline_before {
                // After the deadline nothing later in the partition may succeed or fail anew.
                prop_assert!(matches!(outcome, Outcome::NotStarted | Outcome::Failed(_)));
            }
        }
    }

    // Handler calls: each partition in offset order; none after a failure (default policy).
    // With several workers: each partition on one thread, and at most `concurrency` partitions
    // (at least one per worker) in a handler at once.
    let observed = observed.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut by_partition: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut threads: BTreeMap<String, HashSet<std::thread::ThreadId>> = BTreeMap::new();
    for (key, offset, thread) in &calls {
        by_partition.entry(key.clone()).or_default().push(*offset);
        threads.entry(key.clone()).or_default().insert(*thread);
    }
    for (key, offsets) in &by_partition {
        prop_assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{key}: {offsets:?}");
        prop_assert_eq!(threads[key].len(), 1, "{} ran on several threads", key);
    }
    // Bulk: one batch per partition, in offset order, only records that decoded, and (default
    // policy) nothing after the partition's first record that did not. Without a deadline,
    // exactly those records.
    if case.bulk.is_some() {
        for (key, offsets) in &batches {
            prop_assert_eq!(batches.iter().filter(|(k, _)| k == key).count(), 1, "{}", key);
            prop_assert!(!offsets.is_empty(), "{key}: an empty batch");
            let p = case.partitions.iter().find(|p| &p.key() == key).unwrap();
            let scripts: HashMap<i64, &Script> = p.offsets().into_iter().zip(&p.scripts).collect();
            prop_assert!(offsets.iter().all(|o| scripts[o].decodes()), "{key}: {offsets:?}");
        }
        for p in &case.partitions {
            let mut expected = Vec::new();
            for (offset, script) in p.offsets().into_iter().zip(&p.scripts) {
                if script.decodes() {
                    expected.push(offset);
                } else if case.policy == FailurePolicy::StopPartition {
                    break;
                }
            }
            let handed = batches.iter().find(|(k, _)| *k == p.key()).map(|(_, o)| o.clone());
            let handed = handed.unwrap_or_default();
            if case.deadline_ms.is_none() {
                prop_assert_eq!(&handed, &expected, "{}", p.key());
            } else {
                // The deadline may stop decoding part way: a prefix of them.
                prop_assert!(expected.starts_with(&handed), "{}: {:?}", p.key(), handed);
            }
        }
    }
    // `concurrency` is the total in flight, over every worker.
    prop_assert!(
        observed.peak <= case.concurrency,
        "peak {} > concurrency {}",
        observed.peak,
        case.concurrency
    );
    if case.policy == FailurePolicy::StopPartition {
        for r in &report.partitions {
            if let Some(i) = r.outcomes.iter().position(|(_, o)| matches!(o, Outcome::Failed(_))) {
                let started_after = r.outcomes[i + 1..]
                    .iter()
                    .any(|(_, o)| matches!(o, Outcome::Succeeded | Outcome::Failed(_)));
                prop_assert!(!started_after, "{} ran records after a failure", r.key);
            }
        }
    }

    // The response covers every record that did not succeed, in the exact format.
    let response = report.response();
    let text = response.to_json();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    let obj = parsed.as_object().unwrap();
    prop_assert_eq!(obj.len(), 1);
    let items = obj["batchItemFailures"].as_array().unwrap();
    let mut lowest: HashMap<String, i64> = HashMap::new();
    let mut listed = std::collections::HashSet::new();
    for item in items {
        let item = item.as_object().unwrap();
        prop_assert_eq!(item.len(), 1);
        let id = item["itemIdentifier"].as_object().unwrap();
        prop_assert_eq!(id.len(), 2);
        let partition = id["partition"].as_str().unwrap().to_owned();
        let offset = id["offset"].as_i64().unwrap();
        prop_assert!(
            listed.insert((partition.clone(), offset)),
            "{}@{} listed twice",
            partition,
            offset
        );
        let entry = lowest.entry(partition).or_insert(offset);
        *entry = (*entry).min(offset);
    }
    // Each record that did not succeed is listed itself (retried whether Lambda resumes from the
    // lowest offset listed or retries only what is listed), and none that did.
    for r in &report.partitions {
        for (offset, outcome) in &r.outcomes {
            let is_listed = listed.contains(&(r.key.clone(), *offset));
            prop_assert_eq!(
                is_listed,
                *outcome != Outcome::Succeeded,
                "{}@{} ({:?}) in {}",
                r.key,
                offset,
                outcome,
                text
            );
        }
    }
    // Nothing that succeeded is listed before every failure of its partition.
    for (key, low) in &lowest {
        let r = report.partitions.iter().find(|r| &r.key == key).unwrap();
        let first_bad = r.outcomes.iter().find(|(_, o)| *o != Outcome::Succeeded).map(|(o, _)| *o);
        prop_assert_eq!(Some(*low), first_bad);
    }

    // Whole-batch mode: the invocation errors if and only if a record did not succeed. In real
    // time the second run may meet the deadline elsewhere: there, the first run's report decides.
    let result = if real_time && case.deadline_ms.is_some() {
        report.clone().into_result(case.mode).map_err(|e| e.to_string())
    } else {
        result.map_err(|e| e.to_string())
    };
    match (case.mode, result) {
        (ResponseMode::WholeBatch, Err(e)) => {
            prop_assert!(!report.is_success());
            prop_assert!(!e.contains(SECRET));
        }
        (ResponseMode::WholeBatch, Ok(r)) => {
            prop_assert!(report.is_success() && r.is_success())
        }
        (ResponseMode::PartialBatch, Ok(_)) => {}
        (ResponseMode::PartialBatch, Err(e)) => {
            return Err(TestCaseError::fail(format!("partial batch mode errored: {e}")))
        }
    }
    Ok(())
}

/// Panics the scripts ask for are expected: keep them out of the test output.
fn quiet_scripted_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.payload().downcast_ref::<&str>().copied().unwrap_or_default();
        if msg != "scripted panic" {
            default(info);
        }
    }));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: msk_lambda_tests::proptest_cases(300), ..ProptestConfig::default() })]

    #[test]
    fn nothing_is_lost(case in case()) {
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(quiet_scripted_panics);
        check(case)?;
    }
}
