//! A CPU-bound handler on several workers: `cpu-workers EVENT.json WORK RUNS WORKERS...`.
//!
//! The handler hashes the record's value `WORK` times (SipHash, `std`'s `DefaultHasher`, each
//! round fed the previous digest so nothing can be skipped), so every record costs the same
//! CPU time. For each worker count the event is processed `RUNS` times, alternating between the
//! counts so that a change in the machine's load hits them alike; one worker runs the default
//! single-thread path (current-thread runtime), more run on a multi-thread runtime. Prints one
//! line per count: `workers=N median_ms=T per_record_us=U`, then the time each partition took
//! on one worker (`partition_ms=a,b,...`), for simulating more vCPUs than this machine has.
//!
//! The control, run alternately with the workers: the same hashing of the same decoded values
//! on plain threads (`std::thread::scope`, the values dealt out in equal shares, no framework):
//! `threads=N median_ms=T`. Its 2-thread ratio is what this machine gives perfectly parallel
//! work at that moment (on a shared VM the two vCPUs are not always two whole cores), the
//! ceiling for the workers' ratio.

use std::hash::{Hash as _, Hasher as _};
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use msk_lambda::{Consumer, InvocationContext, Record, Workers};

/// Rounds of hashing per record, from the command line.
static WORK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Time spent per partition (single worker only), keyed by the records-map key.
static PARTITION_TIME: std::sync::Mutex<Vec<(String, Duration)>> =
    std::sync::Mutex::new(Vec::new());

/// The handler's work on one value.
fn work(value: &[u8]) -> u64 {
    let mut digest = 0u64;
    for _ in 0..*WORK.get().expect("set in main") {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        digest.hash(&mut hasher);
        value.hash(&mut hasher);
        digest = hasher.finish();
    }
    digest
}

async fn handle(record: Record<msk_lambda::bytes::Bytes>) -> Result<(), msk_lambda::Error> {
    let started = Instant::now();
    std::hint::black_box(work(record.value()));
    let mut times = PARTITION_TIME.lock().unwrap();
    let key = record.topic_partition();
    match times.iter_mut().find(|(k, _)| k == key) {
        Some((_, t)) => *t += started.elapsed(),
        None => times.push((key.to_owned(), started.elapsed())),
    }
    Ok(())
}

fn main() {
    let usage = "usage: cpu-workers EVENT.json WORK RUNS WORKERS...";
    let mut args = std::env::args().skip(1);
    let event = std::fs::read(args.next().expect(usage)).expect("the event file is readable");
    WORK.set(args.next().expect(usage).parse().expect(usage)).unwrap();
    let runs: usize = args.next().expect(usage).parse().expect(usage);
    let counts: Vec<usize> = args.map(|a| a.parse().expect(usage)).collect();
    let values = decoded_values(&event);
    let records = values.len();
    let mut times = vec![Vec::new(); counts.len()];
    let mut control = vec![Vec::new(); counts.len()];
    let mut partition_ms = String::new();
    for run in 0..runs {
        for (n, out) in counts.iter().zip(&mut control) {
            out.push(plain_threads(&values, *n));
        }
        for (n, out) in counts.iter().zip(&mut times) {
            PARTITION_TIME.lock().unwrap().clear();
            out.push(once(&event, *n));
            if *n == 1 && run == runs - 1 {
                let parts = PARTITION_TIME.lock().unwrap();
                let ms: Vec<String> =
                    parts.iter().map(|(_, t)| format!("{:.3}", t.as_secs_f64() * 1e3)).collect();
                partition_ms = ms.join(",");
            }
        }
    }
    for (n, mut t) in counts.iter().zip(times) {
        t.sort();
        let median = t[t.len() / 2];
        println!(
            "workers={n} median_ms={:.3} per_record_us={:.2}",
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e6 / records as f64
        );
    }
    for (n, mut t) in counts.iter().zip(control) {
        t.sort();
        println!("threads={n} median_ms={:.3}", t[t.len() / 2].as_secs_f64() * 1e3);
    }
    println!("partition_ms={partition_ms}");
}

/// The control: the same work on `threads` plain threads, each given an equal share.
fn plain_threads(values: &[Vec<u8>], threads: usize) -> Duration {
    let started = Instant::now();
    let share = values.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for chunk in values.chunks(share) {
            scope.spawn(move || chunk.iter().fold(0u64, |acc, v| acc ^ work(v)));
        }
    });
    started.elapsed()
}

/// One invocation with `workers` workers, as `Consumer::main` would run it.
fn once(event: &[u8], workers: usize) -> Duration {
    let consumer =
        Consumer::new(handle).workers(Workers::Count(NonZeroUsize::new(workers).unwrap()));
    let runtime = if workers > 1 {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    }
    .unwrap();
    runtime.block_on(async {
        let started = Instant::now();
        let response = consumer
            .invoke_with_context(event, InvocationContext::local())
            .await
            .expect("the benchmark event is valid");
        let elapsed = started.elapsed();
        assert!(response.is_success(), "every record succeeds");
        elapsed
    })
}

/// Every record's value, base64-decoded (what the handler hashes).
fn decoded_values(event: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let v: serde_json::Value = serde_json::from_slice(event).expect("a Kafka event");
    v["records"]
        .as_object()
        .expect("records")
        .values()
        .flat_map(|p| p.as_array().expect("a partition's records"))
        .map(|r| {
            let text = r["value"].as_str().expect("every benchmark record has a value");
            base64::engine::general_purpose::STANDARD.decode(text).expect("base64")
        })
        .collect()
}
