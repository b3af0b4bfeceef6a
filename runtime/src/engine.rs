//! The engine: partitions concurrently, records of a partition in offset order, and an outcome
//! for every record.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use futures_util::StreamExt as _;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::config::{Config, FailurePolicy};
use crate::context::InvocationContext;
use crate::decode::{Decode, Part};
use crate::event::{PartitionBatch, RawRecord};
use crate::handler::Handler;
use crate::record::Record;
use crate::record_decode::{
    context, decode, decode_payloads, decode_typed, writer_schema, PartitionShared,
};
use crate::report::{Failure, FailureKind, Outcome, PartitionReport};
use crate::schema::{RegisteredSchema, SchemaRef, SchemaRegistry};
use crate::unwind::panic_message;

/// Runs every partition of the event and reports every record's outcome.
pub(crate) async fn run_batch<V, K, S, H>(
    partitions: Vec<PartitionBatch<'_>>,
    context: &Arc<InvocationContext>,
    config: &Config,
    registry: Option<&SchemaRegistry>,
    handler: &H,
    state: &S,
) -> Vec<PartitionReport>
where
    V: Decode,
    K: Decode,
    H: Handler<V, K, S>,
{
    let cutoff = cutoff(context, config);
    let count = partitions.len();
    let mut reports: Vec<(usize, PartitionReport)> =
        futures_util::stream::iter(partitions.into_iter().enumerate())
            .map(|(i, batch)| async move {
                let run = run_partition(batch, context, config, registry, cutoff, handler, state);
                (i, run.await)
            })
            .buffer_unordered(config.concurrency)
            .collect()
            .await;
    debug_assert_eq!(reports.len(), count);
    // Partitions finish in any order; the report (and so the response) follows the event.
    reports.sort_unstable_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// The instant after which no record may start: the deadline minus the margin.
fn cutoff(context: &InvocationContext, config: &Config) -> Instant {
    let left = context.remaining_time().saturating_sub(config.deadline_margin);
    Instant::now() + left
}

async fn run_partition<V, K, S, H>(
    batch: PartitionBatch<'_>,
    context: &Arc<InvocationContext>,
    config: &Config,
    registry: Option<&SchemaRegistry>,
    cutoff: Instant,
    handler: &H,
    state: &S,
) -> PartitionReport
where
    V: Decode,
    K: Decode,
    H: Handler<V, K, S>,
{
    let mut shared = PartitionShared::new(&batch, context);
    // Its own handle on the key: `shared` is lent to each record's decoding below.
    let partition = Arc::clone(&shared.record);
    let key = &*partition.topic_partition;
    let mut outcomes = Vec::with_capacity(batch.records.len());
    // Set once a record fails (default policy) or the deadline passes: what the rest become.
    let mut rest: Option<Outcome> = None;
    // Records are read in place (moving each out of the list would copy it).
    let mut records = batch.records;
    for raw in &mut records {
        let offset = raw.offset;
        if let Some(outcome) = &rest {
            outcomes.push((offset, outcome.clone()));
            continue;
        }
        if Instant::now() >= cutoff {
            outcomes.push((offset, Outcome::NotStarted));
            rest = Some(Outcome::NotStarted);
            continue;
        }
        // A span per record (debug level: free unless enabled) around decoding and the handler,
        // so the handler's own logs carry the partition and offset.
        // Without it, the call is not wrapped at all: a record is moved as few times as can be.
        let span = tracing::enabled!(tracing::Level::DEBUG)
            .then(|| tracing::debug_span!("record", topic_partition = key, offset));
        let decoded = match (registry, &span) {
            (None, Some(span)) => span.in_scope(|| decode::<V, K>(raw, &mut shared)),
            (None, None) => decode::<V, K>(raw, &mut shared),
            (Some(registry), span) => {
                let decoding = decode_with_registry::<V, K>(raw, &mut shared, registry, cutoff);
                match span {
                    Some(span) => decoding.instrument(span.clone()).await,
                    None => decoding.await,
                }
            }
        };
        let outcome = match decoded {
            Err(failure) => Outcome::Failed(failure),
            Ok(record) => {
                // Created (inside the unwind boundary) and pinned here, where the record is:
                // the record is moved into the handler's future once, and never again.
                let mut stopped = None;
                let created = catch_unwind(AssertUnwindSafe(|| handler.call(record, state)))
                    .map_err(|panic| stopped = Some(Stopped::Panicked(panic)))
                    .ok();
                let call = std::pin::pin!(created);
                let run = run_one(call, stopped, cutoff, config);
                match span {
                    Some(span) => run.instrument(span).await,
                    None => run.await,
                }
            }
        };
        if let Outcome::Failed(failure) = &outcome {
            tracing::warn!(
                topic_partition = key,
                offset,
                kind = failure.kind.as_str(),
                reason = %failure.message,
                "record failed"
            );
            if failure.kind == FailureKind::Timeout {
                rest = Some(Outcome::NotStarted);
            } else if config.failure_policy == FailurePolicy::StopPartition {
                rest = Some(Outcome::Skipped);
            }
        }
        outcomes.push((offset, outcome));
    }
    PartitionReport { key: key.to_owned(), outcomes }
}

/// Decodes a record whose key or value type may need writer schemas from the registry: asks
/// the types which (if any), fetches them (cached; no later than the cutoff), then decodes.
async fn decode_with_registry<V: Decode, K: Decode>(
    raw: &mut RawRecord<'_>,
    shared: &mut PartitionShared,
    registry: &SchemaRegistry,
    cutoff: Instant,
) -> Result<Record<V, K>, Failure> {
    let payloads = decode_payloads(raw, shared)?;
    let key_cx = context(Part::Key, raw, shared, &payloads.headers, None);
    let key_ref = writer_schema::<K>(payloads.key.as_ref(), &key_cx)?;
    let value_cx = context(Part::Value, raw, shared, &payloads.headers, None);
    let value_ref = writer_schema::<V>(payloads.value.as_ref(), &value_cx)?;
    let key_schema = fetch_schema(registry, Part::Key, key_ref, cutoff).await?;
    let value_schema = fetch_schema(registry, Part::Value, value_ref, cutoff).await?;
    decode_typed(raw, shared, payloads, [key_schema.as_deref(), value_schema.as_deref()])
}

async fn fetch_schema(
    registry: &SchemaRegistry,
    part: Part,
    reference: Option<SchemaRef>,
    cutoff: Instant,
) -> Result<Option<Arc<RegisteredSchema>>, Failure> {
    let Some(reference) = reference else { return Ok(None) };
    match tokio::time::timeout_at(cutoff, registry.get(reference)).await {
        Ok(Ok(schema)) => Ok(Some(schema)),
        Ok(Err(e)) => Err(Failure::new(
            FailureKind::SchemaRegistry,
            format!(
                "the {part}'s writer schema, {reference}, could not be had from {}: {e}",
                registry.describe()
            ),
        )),
        Err(_) => Err(Failure::new(
            FailureKind::Timeout,
            format!(
                "the deadline margin was reached while fetching the {part}'s writer schema, {reference}, from {}",
                registry.describe()
            ),
        )),
    }
}

/// Why a handler call ended without its result.
enum Stopped {
    /// It panicked while being created or polled.
    Panicked(Box<dyn std::any::Any + Send>),
    /// It was still running at the cutoff.
    TimedOut,
}

/// Runs one handler call to its end. Errors, panics and running past the cutoff all become a
/// failure of this record only.
///
/// Everything that runs user code is inside one unwind boundary per record: creating the
/// call (the caller does, and passes `None` with the panic in `stopped` when that panicked),
/// every poll, converting and formatting its error, and dropping its future (finished or
/// cancelled). A panic in any of them fails the record and never reaches the batch.
async fn run_one<F, E>(
    mut call: Pin<&mut Option<F>>,
    mut stopped: Option<Stopped>,
    cutoff: Instant,
    config: &Config,
) -> Outcome
where
    F: Future<Output = Result<(), E>>,
    E: Into<crate::Error>,
{
    // Most handlers finish on their first poll: the deadline timer is only created for those
    // that do not, so a fast handler costs no timer registration.
    let mut timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let result = std::future::poll_fn(|cx| {
        let Some(running) = call.as_mut().as_pin_mut() else { return Poll::Ready(None) };
        // A panic in any poll fails the record (the call is not polled again).
        match catch_unwind(AssertUnwindSafe(|| running.poll(cx))) {
            Ok(Poll::Ready(result)) => return Poll::Ready(Some(result)),
            Ok(Poll::Pending) => {}
            Err(panic) => {
                stopped = Some(Stopped::Panicked(panic));
                return Poll::Ready(None);
            }
        }
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(cutoff)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                stopped = Some(Stopped::TimedOut);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    let outcome = catch_unwind(AssertUnwindSafe(|| match (result, stopped) {
        (Some(Ok(())), _) => Outcome::Succeeded,
        (Some(Err(e)), _) => {
            Outcome::Failed(Failure::new(FailureKind::Handler, crate::error::chain(&*e.into())))
        }
        (None, Some(Stopped::TimedOut)) => Outcome::Failed(Failure::new(
            FailureKind::Timeout,
            format!(
                "the handler was still running {} ms before the invocation deadline (the deadline margin) and was cancelled",
                config.deadline_margin.as_millis()
            ),
        )),
        (None, Some(Stopped::Panicked(panic))) => panicked("the handler panicked", &*panic),
        (None, None) => unreachable!("a handler call stops with a result or a reason"),
    }))
    .unwrap_or_else(|panic| {
        panicked("the handler's error panicked while being converted or formatted", &*panic)
    });
    // The future's destructors are user code too (a cancelled handler's locals, say).
    match catch_unwind(AssertUnwindSafe(|| call.set(None))) {
        Err(panic) if outcome == Outcome::Succeeded => {
            panicked("the handler's future panicked when it was dropped", &*panic)
        }
        _ => outcome,
    }
}

fn panicked(what: &str, panic: &(dyn std::any::Any + Send)) -> Outcome {
    Outcome::Failed(Failure::new(FailureKind::Panic, format!("{what}: {}", panic_message(panic))))
}
