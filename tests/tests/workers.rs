//! Workers: partitions really run on several threads at once, each partition on one thread in
//! offset order, for both handler shapes; and one thread when the runtime cannot do more.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Condvar, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use msk_lambda::{Batch, BatchError, Consumer, Record, Workers};

/// Four partitions of three records each.
fn event() -> Vec<u8> {
    let partitions: Vec<String> = (0..4)
        .map(|p| {
            let records: Vec<String> = (0..3)
                .map(|o| {
                    format!(
                        r#"{{"topic":"t","partition":{p},"offset":{o},"timestamp":0,"timestampType":"CREATE_TIME","value":"eA=="}}"#
                    )
                })
                .collect();
            format!(r#""t-{p}":[{}]"#, records.join(","))
        })
        .collect();
    format!(r#"{{"eventSource":"aws:kafka","records":{{{}}}}}"#, partitions.join(",")).into_bytes()
}

/// Blocks the calling thread (not the task) until `n` callers have arrived, or 10 s have
/// passed: with one thread running partitions the second caller never comes.
struct Rendezvous {
    arrived: Mutex<usize>,
    all_here: Condvar,
}

impl Rendezvous {
    fn new() -> Self {
        Rendezvous { arrived: Mutex::new(0), all_here: Condvar::new() }
    }

    /// Whether `n` callers met.
    fn meet(&self, n: usize) -> bool {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, _) =
            self.all_here.wait_timeout_while(arrived, Duration::from_secs(10), |a| *a < n).unwrap();
        *arrived >= n
    }
}

type Seen = Mutex<Vec<(String, i64, ThreadId)>>;

fn check_seen(seen: &Seen, threads_at_least: usize) {
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 12, "every record handled once");
    let mut by_partition: HashMap<&str, Vec<(i64, ThreadId)>> = HashMap::new();
    for (key, offset, thread) in seen.iter() {
        by_partition.entry(key).or_default().push((*offset, *thread));
    }
    for (key, records) in &by_partition {
        let offsets: Vec<i64> = records.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, [0, 1, 2], "{key} in offset order");
        let threads: HashSet<_> = records.iter().map(|(_, t)| t).collect();
        assert_eq!(threads.len(), 1, "{key} on one thread");
    }
    let threads: HashSet<_> = seen.iter().map(|(_, _, t)| t).collect();
    assert!(threads.len() >= threads_at_least, "{} thread(s)", threads.len());
}

fn two() -> Workers {
    Workers::Count(NonZeroUsize::new(2).unwrap())
}

#[test]
fn two_workers_run_two_partitions_at_once() {
    let rendezvous = Rendezvous::new();
    let seen = Seen::default();
    let handler = async |r: Record<Vec<u8>>| -> Result<(), String> {
        // The first record of every partition waits, blocking its thread, until a second one
        // has arrived: only two threads running partitions at the same time get past this.
        if r.offset() == 0 && !rendezvous.meet(2) {
            return Err("the other worker never came".into());
        }
        seen.lock().unwrap().push((
            r.topic_partition().to_owned(),
            r.offset(),
            std::thread::current().id(),
        ));
        Ok(())
    };
    let consumer = Consumer::new(handler).workers(two());
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let response = runtime.block_on(consumer.invoke(&event())).unwrap();
    assert!(response.is_success(), "{}", response.to_json());
    check_seen(&seen, 2);
}

#[test]
fn bulk_handlers_run_on_two_workers_too() {
    let rendezvous = Rendezvous::new();
    let seen = Seen::default();
    let handler = async |batch: Batch<Vec<u8>>| -> Result<(), BatchError> {
        if !rendezvous.meet(2) {
            return Err(BatchError::all("the other worker never came"));
        }
        let thread = std::thread::current().id();
        let mut seen = seen.lock().unwrap();
        seen.extend(batch.iter().map(|r| (r.topic_partition().to_owned(), r.offset(), thread)));
        Ok(())
    };
    let consumer = Consumer::bulk(handler).workers(two());
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let response = runtime.block_on(consumer.invoke(&event())).unwrap();
    assert!(response.is_success(), "{}", response.to_json());
    check_seen(&seen, 2);
}

#[tokio::test]
async fn a_current_thread_runtime_runs_every_partition_on_its_thread() {
    let seen = Seen::default();
    let handler = async |r: Record<Vec<u8>>| -> Result<(), String> {
        seen.lock().unwrap().push((
            r.topic_partition().to_owned(),
            r.offset(),
            std::thread::current().id(),
        ));
        Ok(())
    };
    let consumer = Consumer::new(handler).workers(two());
    assert!(consumer.invoke(&event()).await.unwrap().is_success());
    check_seen(&seen, 1);
    let here = std::thread::current().id();
    assert!(seen.lock().unwrap().iter().all(|(_, _, t)| *t == here));
}

#[test]
fn a_panic_on_a_worker_fails_its_record_only() {
    let handler = async |r: Record<Vec<u8>>| -> Result<(), String> {
        if r.partition() == 3 && r.offset() == 1 {
            panic!("scripted panic on a worker");
        }
        Ok(())
    };
    let consumer = Consumer::new(handler).workers(Workers::Count(NonZeroUsize::new(3).unwrap()));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let response = runtime.block_on(consumer.invoke(&event())).unwrap();
    assert_eq!(
        response.to_json(),
        r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"t-3","offset":1}},{"itemIdentifier":{"partition":"t-3","offset":2}}]}"#
    );
}
