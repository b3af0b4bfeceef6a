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

use crate::bulk::{Batch, BatchError, BatchErrorKind, BatchHandler, Bulk, BulkStateful};
use crate::config::{Config, FailurePolicy};
use crate::context::InvocationContext;
use crate::decode::{Decode, Part};
use crate::event::{PartitionBatch, RawRecord};
use crate::handler::Handler;
use crate::prefetch;
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
    H: RunPartition<V, K, S>,
{
    let cutoff = cutoff(context, config);
    let count = partitions.len();
    if count == 1 {
        // The usual small invocation: one partition needs no stream of partitions (which
        // allocates its queue and tasks every invocation). Boxed, as the stream's tasks are:
        // held inline, the handler's future would be nested in every future above this one,
        // and deep handler futures (a database client's) then reach rustc's layout depth
        // limit in the generated `main` ("queries overflow the depth limit").
        let batch = partitions.into_iter().next().expect("one partition");
        let run = handler.run_partition(batch, context, config, registry, cutoff, state);
        return vec![Box::pin(run).await];
    }
    let mut reports: Vec<(usize, PartitionReport)> =
        futures_util::stream::iter(partitions.into_iter().enumerate())
            .map(|(i, batch)| async move {
                let run = handler.run_partition(batch, context, config, registry, cutoff, state);
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

/// [`run_batch_parallel`] for one consumer's types, named as a plain function pointer so that a
/// consumer can hold it without `Sync` bounds on its own type parameters.
pub(crate) type ParallelRun<H, S> = for<'e, 'a> fn(
    Vec<PartitionBatch<'e>>,
    &'a Arc<InvocationContext>,
    &'a Config,
    Option<&'a SchemaRegistry>,
    &'a H,
    &'a S,
    &'a tracing::Span,
) -> Vec<PartitionReport>;

/// [`run_batch`] on `config.workers` threads (fewer when there are fewer partitions). Must be
/// called on a multi-thread tokio runtime: it blocks the calling task (`block_in_place`).
///
/// Workers take the next partition from one shared queue whenever they have room, so a
/// partition is run by one worker from its first record to its last, in offset order; each
/// worker keeps up to `concurrency / workers` (at least one, and no more than its share of the
/// partitions) in flight. Every
/// worker, the calling thread included, drives its share with `Handle::block_on`: handler
/// futures never move between threads (they need not be `Send`); the handler and the state
/// are shared by reference (they must be `Sync`), and records are decoded on the worker that
/// runs them. The runtime's own threads keep driving timers, I/O and spawned tasks meanwhile.
pub(crate) fn run_batch_parallel<V, K, S, H>(
    partitions: Vec<PartitionBatch<'_>>,
    context: &Arc<InvocationContext>,
    config: &Config,
    registry: Option<&SchemaRegistry>,
    handler: &H,
    state: &S,
    span: &tracing::Span,
) -> Vec<PartitionReport>
where
    V: Decode,
    K: Decode,
    H: RunPartition<V, K, S> + Sync,
    S: Sync,
{
    let cutoff = cutoff(context, config);
    let count = partitions.len();
    // `concurrency` is the total in flight: no more workers than it allows one partition each.
    let concurrency = config.concurrency.max(1);
    let workers = config.workers.clamp(1, count.max(1)).min(concurrency);
    // Worker `n`'s share of `concurrency` (the remainder to the first ones). A worker claims
    // partitions as it starts them: no more than its share of the batch either, so that one
    // worker never claims the partitions another could run at the same time.
    let in_flight = |n: usize| {
        let share = concurrency / workers + usize::from(n < concurrency % workers);
        share.min(count.div_ceil(workers)).max(1)
    };
    let queue = std::sync::Mutex::new(partitions.into_iter().enumerate());
    let done = std::sync::Mutex::new(Vec::with_capacity(count));
    let runtime = tokio::runtime::Handle::current();
    let work = |n: usize| {
        let next = std::iter::from_fn(|| {
            queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next()
        });
        let share = futures_util::stream::iter(next)
            .map(|(i, batch)| async move {
                let run = handler.run_partition(batch, context, config, registry, cutoff, state);
                (i, run.await)
            })
            .buffer_unordered(in_flight(n))
            .collect::<Vec<_>>()
            .instrument(span.clone());
        let reports = runtime.block_on(share);
        done.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(reports);
    };
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let work = &work;
            for n in 1..workers {
                let spawned = std::thread::Builder::new()
                    .name(format!("msk-lambda-worker-{n}"))
                    .spawn_scoped(scope, move || work(n));
                if let Err(e) = spawned {
                    // The queue is shared: the threads that did start take the partitions.
                    tracing::warn!(error = %e, "could not start a worker thread; running on fewer");
                    break;
                }
            }
            work(0);
        });
    });
    let mut reports = done.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    debug_assert_eq!(reports.len(), count);
    reports.sort_unstable_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// Whether [`run_batch_parallel`] can run here: on a multi-thread tokio runtime.
pub(crate) fn can_run_parallel() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// The instant after which no record may start: the deadline minus the margin.
fn cutoff(context: &InvocationContext, config: &Config) -> Instant {
    let left = context.remaining_time().saturating_sub(config.deadline_margin);
    Instant::now() + left
}

/// What a [`Consumer`](crate::Consumer)'s handler is: a per-record [`Handler`] or a bulk
/// [`BatchHandler`](crate::BatchHandler). Sealed and implemented for both; name it in bounds
/// of your own generic code over consumers.
pub trait Handles<V, K, S>: RunPartition<V, K, S> {}

impl<T, V, K, S> Handles<V, K, S> for T where T: RunPartition<V, K, S> {}

/// How a handler runs one partition: a record at a time, or all at once. Implemented for the
/// per-record [`Handler`]s and the [`BatchHandler`]s; reached through the public, sealed
/// [`Handles`]. It cannot be named outside this crate (a public trait of a
/// private module, as for sealing), so the crate-private types of its method never leak.
#[allow(private_interfaces)]
pub trait RunPartition<V, K, S> {
    /// Runs the partition's records and reports every one's outcome.
    fn run_partition<'a>(
        &'a self,
        batch: PartitionBatch<'a>,
        context: &'a Arc<InvocationContext>,
        config: &'a Config,
        registry: Option<&'a SchemaRegistry>,
        cutoff: Instant,
        state: &'a S,
    ) -> impl Future<Output = PartitionReport>;
}

/// Every per-record handler (so that code generic over `H: Handler` can still use consumers).
#[allow(private_interfaces)]
impl<H, V: Decode, K: Decode, S> RunPartition<V, K, S> for H
where
    H: Handler<V, K, S>,
{
    fn run_partition<'a>(
        &'a self,
        batch: PartitionBatch<'a>,
        context: &'a Arc<InvocationContext>,
        config: &'a Config,
        registry: Option<&'a SchemaRegistry>,
        cutoff: Instant,
        state: &'a S,
    ) -> impl Future<Output = PartitionReport> {
        run_partition(batch, context, config, registry, cutoff, self, state)
    }
}

macro_rules! bulk {
    ($($wrapper:ident),*) => {$(
        #[allow(private_interfaces)]
        impl<F, V: Decode, K: Decode, S> RunPartition<V, K, S> for $wrapper<F>
        where
            $wrapper<F>: BatchHandler<V, K, S>,
        {
            fn run_partition<'a>(
                &'a self,
                batch: PartitionBatch<'a>,
                context: &'a Arc<InvocationContext>,
                config: &'a Config,
                registry: Option<&'a SchemaRegistry>,
                cutoff: Instant,
                state: &'a S,
            ) -> impl Future<Output = PartitionReport> {
                run_bulk_partition(batch, context, config, registry, cutoff, self, state)
            }
        }
    )*};
}
bulk!(Bulk, BulkStateful);

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
    // The outcomes of records that did not succeed, by index (most records succeed).
    let mut others: Vec<(usize, Outcome)> = Vec::new();
    // Set once a record fails (default policy) or the deadline passes: from which record on
    // every record has which outcome.
    let mut rest: Option<(usize, Outcome)> = None;
    // Records are read in place (moving each out of the list would copy it).
    let mut records = batch.records;
    for i in 0..records.len() {
        // The next record's bytes are fetched into the cache while this one runs.
        if let Some(next) = records.get(i + 1) {
            prefetch::record(next, &shared.headers);
        }
        let raw = &mut records[i];
        let offset = raw.offset;
        if Instant::now() >= cutoff {
            rest = Some((i, Outcome::NotStarted));
            break;
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
                let decoded = match span {
                    Some(span) => decoding.instrument(span.clone()).await,
                    None => decoding.await,
                };
                // Waiting for a schema may have taken the time up: no handler starts after
                // the cutoff (the bulk path checks the same before handing its batch over).
                if decoded.is_ok() && Instant::now() >= cutoff {
                    if let Ok(record) = decoded {
                        let _ = crate::unwind::drop_guarded(record);
                    }
                    rest = Some((i, Outcome::NotStarted));
                    break;
                }
                decoded
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
                rest = Some((i + 1, Outcome::NotStarted));
            } else if config.failure_policy == FailurePolicy::StopPartition {
                rest = Some((i + 1, Outcome::Skipped));
            }
        }
        if !matches!(outcome, Outcome::Succeeded) {
            others.push((i, outcome));
        }
        if rest.is_some() {
            break;
        }
    }
    PartitionReport { key: key.to_owned(), outcomes: outcomes_in_place(records, others, rest) }
}

/// Every record's `(offset, outcome)`: `Succeeded` but for `others` (by index, ascending) and
/// the records from `rest`'s index on.
///
/// Collected from the records' own list, which the standard library then reuses in place (an
/// outcome is smaller than a record): the 10,000-record event's outcomes cost no new memory,
/// where a list of their own took 400 KB, a hundred page faults.
fn outcomes_in_place(
    records: Vec<RawRecord<'_>>,
    others: Vec<(usize, Outcome)>,
    rest: Option<(usize, Outcome)>,
) -> Vec<(i64, Outcome)> {
    let mut others = others.into_iter().peekable();
    records
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let outcome = match (others.next_if(|(at, _)| *at == i), &rest) {
                (Some((_, outcome)), _) => outcome,
                (None, Some((from, outcome))) if i >= *from => outcome.clone(),
                (None, _) => Outcome::Succeeded,
            };
            (raw.offset, outcome)
        })
        .collect()
}

/// A bulk handler's partition: decode every record (until the first failure, under the default
/// policy), hand the decoded ones over at once, and give each record its outcome from the
/// handler's answer. Outcomes then follow the per-record rules: under the default policy
/// everything after the partition's first failure is skipped, and everything after a timeout
/// is not started.
async fn run_bulk_partition<V, K, S, H>(
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
    H: BatchHandler<V, K, S>,
{
    let mut shared = PartitionShared::new(&batch, context);
    let partition = Arc::clone(&shared.record);
    let key = &*partition.topic_partition;
    // `None`: handed over, its outcome comes from the handler.
    let mut outcomes: Vec<(i64, Option<Outcome>)> = Vec::with_capacity(batch.records.len());
    let mut handed = Vec::with_capacity(batch.records.len());
    let mut stop = false;
    let mut records = batch.records;
    for i in 0..records.len() {
        // As for per-record handlers: the next record's bytes are fetched while this one decodes.
        if !stop {
            if let Some(next) = records.get(i + 1) {
                prefetch::record(next, &shared.headers);
            }
        }
        let raw = &mut records[i];
        let offset = raw.offset;
        if stop {
            outcomes.push((offset, Some(Outcome::Skipped)));
            continue;
        }
        if Instant::now() >= cutoff {
            outcomes.push((offset, Some(Outcome::NotStarted)));
            stop = true;
            continue;
        }
        let decoded = match registry {
            None => decode::<V, K>(raw, &mut shared),
            Some(registry) => {
                decode_with_registry::<V, K>(raw, &mut shared, registry, cutoff).await
            }
        };
        match decoded {
            Ok(record) => {
                handed.push(record);
                outcomes.push((offset, None));
            }
            Err(failure) => {
                stop = failure.kind == FailureKind::Timeout
                    || config.failure_policy == FailurePolicy::StopPartition;
                outcomes.push((offset, Some(Outcome::Failed(failure))));
            }
        }
    }
    let answer = if handed.is_empty() {
        Answer::Each(Vec::new())
    } else if Instant::now() >= cutoff {
        // Not started either way; the records' destructors are user code, each guarded on its
        // own (a second panic while the first unwinds would abort the process).
        for record in handed {
            let _ = crate::unwind::drop_guarded(record);
        }
        Answer::All(Outcome::NotStarted)
    } else {
        let batch = Batch { topic_partition: key.to_owned(), records: handed };
        let span = tracing::enabled!(tracing::Level::DEBUG)
            .then(|| tracing::debug_span!("batch", topic_partition = key, records = batch.len()));
        let mut stopped = None;
        let created = catch_unwind(AssertUnwindSafe(|| handler.call(batch, state)))
            .map_err(|panic| stopped = Some(Stopped::Panicked(panic)))
            .ok();
        let call = std::pin::pin!(created);
        let run = run_bulk_call(call, stopped, cutoff, config);
        match span {
            Some(span) => run.instrument(span).await,
            None => run.await,
        }
    };
    let handed: Vec<i64> =
        outcomes.iter().filter(|(_, o)| o.is_none()).map(|(offset, _)| *offset).collect();
    // An error that names records, none of them handed over (an index for an offset, say),
    // still says the call failed: every handed record fails rather than succeeds.
    let answer = match answer {
        Answer::Each(failed)
            if !failed.is_empty()
                && failed.iter().all(|(o, _)| handed.binary_search(o).is_err()) =>
        {
            // A few of them: every handed record carries this message, and a handler that
            // named list indexes names as many as it was handed.
            let mut named: Vec<String> =
                failed.iter().take(5).map(|(o, _)| o.to_string()).collect();
            if failed.len() > 5 {
                named.push(format!("and {} more", failed.len() - 5));
            }
            Answer::All(Outcome::Failed(Failure::new(
                FailureKind::Handler,
                format!(
                    "the bulk handler failed only offsets that were not in its batch ({}): every record it was handed fails; first: {}",
                    named.join(", "),
                    failed[0].1.message
                ),
            )))
        }
        answer => answer,
    };
    // Each record's outcome in offset order, then the per-record rules over them.
    let mut failed = match &answer {
        Answer::Each(failed) => failed.iter().map(|(o, f)| (*o, Some(f))).collect(),
        Answer::All(_) => Vec::new(),
    };
    failed.sort_by_key(|(offset, _)| *offset);
    let mut rest: Option<Outcome> = None;
    let mut report = Vec::with_capacity(outcomes.len());
    for (offset, outcome) in outcomes {
        let outcome = match (&rest, outcome) {
            (Some(rest), _) => rest.clone(),
            (None, Some(outcome)) => outcome,
            (None, None) => match &answer {
                Answer::All(outcome) => outcome.clone(),
                Answer::Each(_) => match failed.binary_search_by_key(&offset, |(o, _)| *o) {
                    Ok(i) => Outcome::Failed(failed[i].1.take().cloned().unwrap_or_else(|| {
                        Failure::new(FailureKind::Handler, "the bulk handler failed this record")
                    })),
                    Err(_) => Outcome::Succeeded,
                },
            },
        };
        match &outcome {
            Outcome::Failed(failure) => {
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
                    rest.get_or_insert(Outcome::Skipped);
                }
            }
            Outcome::NotStarted => rest = Some(Outcome::NotStarted),
            _ => {}
        }
        report.push((offset, outcome));
    }
    // Offsets the handler named that it was not handed: nothing to fail, but worth knowing.
    for (offset, _) in &failed {
        if handed.binary_search(offset).is_err() {
            tracing::warn!(
                topic_partition = key,
                offset,
                "the bulk handler failed an offset that was not in its batch: ignored"
            );
        }
    }
    PartitionReport { key: key.to_owned(), outcomes: report }
}

/// What a bulk handler's call made of the records it was handed.
enum Answer {
    /// Every handed record ends this way.
    All(Outcome),
    /// These records (by offset) failed; the other handed records succeeded.
    Each(Vec<(i64, Failure)>),
}

/// [`run_one`] for a bulk handler's call: errors, panics and running past the cutoff fail
/// every record it was handed; its error can also name the records that failed.
async fn run_bulk_call<F>(
    mut call: Pin<&mut Option<F>>,
    mut stopped: Option<Stopped>,
    cutoff: Instant,
    config: &Config,
) -> Answer
where
    F: Future<Output = Result<(), BatchError>>,
{
    let mut timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let result = std::future::poll_fn(|cx| {
        let Some(running) = call.as_mut().as_pin_mut() else { return Poll::Ready(None) };
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
    let failed = |e: &crate::Error| Failure::new(FailureKind::Handler, crate::error::chain(&**e));
    let answer = catch_unwind(AssertUnwindSafe(|| match (result, stopped) {
        (Some(Ok(())), _) => Answer::Each(Vec::new()),
        (Some(Err(e)), _) => match e.kind {
            BatchErrorKind::All(e) => Answer::All(Outcome::Failed(failed(&e))),
            // `Err` naming no record is still an error: every record handed over fails.
            BatchErrorKind::Records(records) if records.is_empty() => {
                Answer::All(Outcome::Failed(Failure::new(
                    FailureKind::Handler,
                    "the bulk handler returned an error naming no record (BatchError::none() with none added): every record it was handed fails",
                )))
            }
            BatchErrorKind::Records(records) => {
                Answer::Each(records.iter().map(|(offset, e)| (*offset, failed(e))).collect())
            }
        },
        (None, Some(Stopped::TimedOut)) => Answer::All(Outcome::Failed(Failure::new(
            FailureKind::Timeout,
            format!(
                "the bulk handler was still running {} ms before the invocation deadline (the deadline margin) and was cancelled",
                config.deadline_margin.as_millis()
            ),
        ))),
        (None, Some(Stopped::Panicked(panic))) => {
            Answer::All(panicked("the bulk handler panicked", &*panic))
        }
        (None, None) => unreachable!("a handler call stops with a result or a reason"),
    }))
    .unwrap_or_else(|panic| {
        Answer::All(panicked("the bulk handler's error panicked while being converted or formatted", &*panic))
    });
    match catch_unwind(AssertUnwindSafe(|| call.set(None))) {
        Err(panic) if matches!(answer, Answer::Each(_)) => {
            Answer::All(panicked("the bulk handler's future panicked when it was dropped", &*panic))
        }
        _ => answer,
    }
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
