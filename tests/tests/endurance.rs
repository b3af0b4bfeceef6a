//! Load and endurance through the public processing call, in one process: memory stays flat
//! over thousands of invocations, and 500 partitions run at the configured concurrency.
//!
//! Memory is measured exactly with a counting global allocator (live heap bytes), not with
//! RSS, which the allocator's caching makes noisy. The count is per thread: tests run in
//! parallel, and each processes its invocations on its own thread.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::num::NonZeroUsize;

use msk_lambda::testing::{TestEvent, TestRecord};
use msk_lambda::{Consumer, InvocationContext, Json, Record};
use msk_lambda_tests::read_fixture;

struct Counting;

thread_local! {
    /// Live bytes allocated by this thread (each test processes on its own thread).
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct UserEvent {
    user_id: String,
    event_type: String,
}

async fn handle(record: Record<Json<UserEvent>, String>) -> Result<(), String> {
    if record.value().event_type == "bad" {
        return Err(format!("bad event for {}", record.key()));
    }
    record.headers().first_text("source").map_err(|e| e.to_string())?;
    Ok(())
}

fn thousand_records() -> Vec<u8> {
    let records = (0..1000).map(|i| {
        let event_type = if i % 97 == 0 { "bad" } else { "view" };
        TestRecord::new("user-events", i % 4, 1_000_000 + i as i64 / 4)
            .key(format!("user-{i}"))
            .json_value(&UserEvent { user_id: format!("user-{i}"), event_type: event_type.into() })
            .header("source", "web-café")
    });
    TestEvent::msk().records(records).to_bytes()
}

/// Runs `event` `times` times and asserts that no invocation leaves memory behind.
fn assert_flat(event: &[u8], times: usize, records: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let consumer = Consumer::new(handle);
    let once = || {
        let report = runtime.block_on(consumer.process(event, InvocationContext::local())).unwrap();
        assert_eq!(report.counts().records, records);
        drop(report);
    };
    // Warm up: lazily created statics (tracing callsites, the runtime's timer) settle first.
    for _ in 0..3 {
        once();
    }
    let baseline = live();
    let mut worst = 0;
    for _ in 0..times {
        once();
        worst = worst.max(live() - baseline);
    }
    assert!(
        worst <= 16 * 1024,
        "live heap grew by {worst} bytes over {times} invocations of {records} records"
    );
}

#[test]
fn thousand_invocations_of_a_thousand_records_keep_memory_flat() {
    assert_flat(&thousand_records(), 1000, 1000);
}

#[test]
fn fifty_invocations_of_ten_thousand_records_keep_memory_flat() {
    assert_flat(&read_fixture("gen-10000.json"), 50, 10_000);
}

#[tokio::test]
async fn five_hundred_partitions_at_the_configured_concurrency() {
    let in_flight = Cell::new(0usize);
    let peak = Cell::new(0usize);
    let handler = async |_: Record<()>| -> Result<(), String> {
        in_flight.set(in_flight.get() + 1);
        peak.set(peak.get().max(in_flight.get()));
        tokio::task::yield_now().await;
        in_flight.set(in_flight.get() - 1);
        Ok(())
    };
    let records = (0..500).flat_map(|p| (0..2).map(move |o| TestRecord::new("wide.topic-x", p, o)));
    let event = TestEvent::msk().records(records).to_bytes();
    for concurrency in [1, 16, 500] {
        peak.set(0);
        let consumer = Consumer::new(handler).concurrency(NonZeroUsize::new(concurrency).unwrap());
        let report = consumer.process(&event, InvocationContext::local()).await.unwrap();
        assert_eq!(report.partitions.len(), 500);
        assert_eq!(report.counts().succeeded, 1000);
        assert_eq!(peak.get(), concurrency);
    }
}
