//! msk-lambda (and msk-lambda without its fast event parser) vs the hand-written baseline vs the
//! floor, on events from gen_event.py.
//!
//! Reads the events from `MSK_BENCH_EVENTS` (a folder with 1.json, 100.json, 10000.json and
//! 10000-fail.json); `bench/run` makes them and prints the table.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use msk_lambda_bench::{baseline, floor, framework};

fn events() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(
        std::env::var("MSK_BENCH_EVENTS").expect("MSK_BENCH_EVENTS is set by bench/run"),
    );
    ["1", "100", "10000", "10000-fail"]
        .iter()
        .map(|name| {
            let path = dir.join(format!("{name}.json"));
            (
                name.to_string(),
                std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            )
        })
        .collect()
}

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    for (name, event) in events() {
        // Same outcome before timing anything.
        let ours = framework::process(&runtime, &event);
        let theirs = baseline::process(&event);
        let ours_v: serde_json::Value = serde_json::from_slice(&ours).unwrap();
        let mut theirs_v: serde_json::Value = serde_json::from_slice(&theirs).unwrap();
        theirs_v["batchItemFailures"]
            .as_array_mut()
            .unwrap()
            .sort_by_key(|f| f["itemIdentifier"]["partition"].as_str().unwrap().to_owned());
        assert_eq!(ours_v, theirs_v, "msk-lambda and the baseline disagree on {name}");
        let values = floor::values(&event);

        let mut group = c.benchmark_group(name.clone());
        group.throughput(Throughput::Bytes(event.len() as u64));
        if event.len() > 1_000_000 {
            group.sample_size(30);
        }
        group.bench_function(BenchmarkId::from_parameter("msk-lambda"), |b| {
            b.iter(|| framework::process(&runtime, &event))
        });
        // The same, with the fast event parser off: serde_json into the borrowed wire types.
        msk_lambda::__differential::use_fast_parser(false);
        group.bench_function(BenchmarkId::from_parameter("serde-only"), |b| {
            b.iter(|| framework::process(&runtime, &event))
        });
        msk_lambda::__differential::use_fast_parser(true);
        group.bench_function(BenchmarkId::from_parameter("baseline"), |b| {
            b.iter(|| baseline::process(&event))
        });
        group.bench_function(BenchmarkId::from_parameter("floor"), |b| {
            b.iter(|| floor::process(&event, &values))
        });
        group.finish();
    }
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
