//! `Consumer`: the builder that turns a record handler into a Lambda function.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument as _;

use crate::bulk::{Batch, BatchError, Bulk, BulkStateful};
use crate::config::{Config, FailurePolicy, ResponseMode};
use crate::context::InvocationContext;
use crate::decode::Decode;
use crate::engine::Handles;
use crate::engine::{can_run_parallel, run_batch, run_batch_parallel, ParallelRun};
use crate::error::InvocationError;
use crate::event::Envelope;
use crate::handler::{Stateful, Stateless};
use crate::metrics::{InvocationMetrics, Metrics};
use crate::record::Record;
use crate::report::{BatchReport, BatchResponse};
use crate::schema::SchemaRegistry;
use crate::workers::{Workers, WORKERS_ENV};
use crate::Error;

type InitFuture<S> = Pin<Box<dyn Future<Output = Result<S, Error>>>>;
type InitFn<S> = Box<dyn Fn() -> InitFuture<S> + Send + Sync>;

/// A Kafka-consuming Lambda function: a record handler plus its settings.
///
/// This is what `#[msk_handler]` expands to, usable without the macro:
///
/// ```no_run
/// use std::num::NonZeroUsize;
///
/// use msk_lambda::{Consumer, Json, Record};
///
/// #[derive(serde::Deserialize)]
/// struct Order {
///     id: String,
/// }
///
/// async fn handle(record: Record<Json<Order>>) -> Result<(), msk_lambda::Error> {
///     println!("order {} at offset {}", record.value().id, record.offset());
///     Ok(())
/// }
///
/// fn main() -> std::process::ExitCode {
///     Consumer::new(handle).concurrency(NonZeroUsize::new(8).unwrap()).main()
/// }
/// ```
///
/// Records of one partition run one after another in offset order; up to
/// [`concurrency`](Consumer::concurrency) partitions run at once on one task (handlers need not
/// be `Send`), or on several threads with [`workers`](Consumer::workers). A bulk handler
/// ([`Consumer::bulk`]) takes a partition's records at once. Every record ends succeeded, failed, skipped after an earlier failure of its
/// partition, or not started because of the deadline; see [`BatchReport`].
pub struct Consumer<H, S, V, K> {
    handler: H,
    init: InitFn<S>,
    state: tokio::sync::OnceCell<S>,
    config: Config,
    metrics: Metrics,
    registry: RegistrySetting,
    /// The registry in use, resolved from `registry` on the first invocation.
    resolved_registry: tokio::sync::OnceCell<Option<SchemaRegistry>>,
    /// The multi-thread engine for these types, when [`workers`](Consumer::workers) was
    /// called (which checks that the handler and the state can be shared across threads).
    parallel: Option<ParallelRun<H, S>>,
    /// Set once the warning about workers without a multi-thread runtime has been logged.
    warned_single_thread: std::sync::atomic::AtomicBool,
    _records: PhantomData<fn(Record<V, K>)>,
}

/// Where the consumer's schema registry comes from.
#[derive(Debug, Clone)]
enum RegistrySetting {
    /// `MSK_LAMBDA_SCHEMA_REGISTRY`, or none when it is unset (the default).
    FromEnv,
    /// A registry URL or ARN, resolved on the first invocation.
    Uri(String),
    /// A registry built by the caller.
    Given(SchemaRegistry),
}

impl<F, V, K> Consumer<Stateless<F>, (), V, K> {
    /// A consumer calling `handler` for every record: `async fn(Record<V, K>) -> Result<(), E>`.
    pub fn new<E>(handler: F) -> Self
    where
        // rustc shows this line when a handler does not fit (E0593); the comment is the hint.
        F: AsyncFn(Record<V, K>) -> Result<(), E>, // handler with `&State`? `Consumer::with_state(init, handle)`
        E: Into<Error>,
    {
        Consumer::build(Stateless(handler), Box::new(|| Box::pin(async { Ok(()) })))
    }
}

impl<F, S, V, K> Consumer<Stateful<F>, S, V, K> {
    /// A consumer with shared state: `init` runs once per execution environment, before the
    /// first invocation (or on the first [`invoke`](Consumer::invoke) in tests), and every call
    /// of `handler` (`async fn(Record<V, K>, &S) -> Result<(), E>`) borrows its result.
    ///
    /// Put clients, connection pools and configuration here: they are then reused by every
    /// invocation of a warm Lambda environment.
    pub fn with_state<I, E>(init: I, handler: F) -> Self
    where
        I: StateInit<S> + Send + Sync + 'static,
        // rustc shows this line when a handler does not fit (E0593); the comment is the hint.
        F: AsyncFn(Record<V, K>, &S) -> Result<(), E>, // handler without state? `Consumer::new(handle)`
        E: Into<Error>,
    {
        Consumer::build(Stateful(handler), Box::new(move || init.init()))
    }
}

impl<F, V, K> Consumer<Bulk<F>, (), V, K> {
    /// A consumer calling `handler` once per partition with the partition's decoded records
    /// in offset order: `async fn(Batch<V, K>) -> Result<(), E>` with `E: Into<BatchError>`.
    /// For sinks that write in bulk (one database insert, one S3 object per partition).
    ///
    /// `Ok(())` succeeds every record of the batch; `Err` fails all of them
    /// ([`BatchError::all`], or `?` on any error) or those it names by offset
    /// ([`BatchError::record`]). Records that fail to decode are reported failed and not
    /// handed over; under the default [`FailurePolicy`] neither is anything after them, and
    /// the records after the batch's first failed record are reported skipped, not succeeded
    /// (Lambda delivers them again). A panic, or running past the deadline margin, fails every
    /// record of the batch, exactly as it fails one record of a per-record handler.
    ///
    /// ```no_run
    /// use msk_lambda::{Batch, BatchError, Consumer, Json};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Order {
    ///     id: String,
    /// }
    ///
    /// async fn handle(batch: Batch<Json<Order>>) -> Result<(), BatchError> {
    ///     let ids: Vec<&str> = batch.iter().map(|r| r.value().id.as_str()).collect();
    ///     println!("{} orders from {}", ids.len(), batch.topic_partition());
    ///     Ok(())
    /// }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     Consumer::bulk(handle).main()
    /// }
    /// ```
    pub fn bulk<E>(handler: F) -> Self
    where
        F: AsyncFn(Batch<V, K>) -> Result<(), E>,
        E: Into<BatchError>,
    {
        Consumer::build(Bulk(handler), Box::new(|| Box::pin(async { Ok(()) })))
    }
}

impl<F, S, V, K> Consumer<BulkStateful<F>, S, V, K> {
    /// [`bulk`](Consumer::bulk) with shared state, as [`with_state`](Consumer::with_state):
    /// `async fn(Batch<V, K>, &S) -> Result<(), E>`.
    pub fn bulk_with_state<I, E>(init: I, handler: F) -> Self
    where
        I: StateInit<S> + Send + Sync + 'static,
        F: AsyncFn(Batch<V, K>, &S) -> Result<(), E>,
        E: Into<BatchError>,
    {
        Consumer::build(BulkStateful(handler), Box::new(move || init.init()))
    }
}

/// An init function for shared state: `async fn() -> Result<S, E>` with `E: Into<Error>`.
///
/// Implemented for every such function; a bound on it reports a wrong init function at the
/// `init` argument rather than at the handler.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot build the shared state",
    label = "not an `async fn() -> Result<S, E>`",
    note = "the state init function is `async fn init() -> Result<S, E>` where the handler takes `&S` and `E: Into<msk_lambda::Error>`"
)]
pub trait StateInit<S> {
    /// Starts building the state.
    fn init(&self) -> Pin<Box<dyn Future<Output = Result<S, Error>>>>;
}

// Not recommended: for a wrong init function (`fn init() -> State`, `async fn init() -> State`)
// rustc then reports `StateInit` itself, with the message above, on the `init` argument,
// instead of the unmet bound inside this impl ("`State` is not a future").
#[diagnostic::do_not_recommend]
impl<I, Fut, S, E> StateInit<S> for I
where
    I: Fn() -> Fut,
    Fut: Future<Output = Result<S, E>> + 'static,
    E: Into<Error>,
{
    fn init(&self) -> Pin<Box<dyn Future<Output = Result<S, Error>>>> {
        let fut = self();
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

impl<H, S, V, K> Consumer<H, S, V, K> {
    fn build(handler: H, init: InitFn<S>) -> Self {
        Consumer {
            handler,
            init,
            state: tokio::sync::OnceCell::new(),
            config: Config::default(),
            metrics: Metrics::default(),
            registry: RegistrySetting::FromEnv,
            resolved_registry: tokio::sync::OnceCell::new(),
            parallel: None,
            warned_single_thread: std::sync::atomic::AtomicBool::new(false),
            _records: PhantomData,
        }
    }

    /// How many partitions are processed at once (default 16). Records of one partition
    /// always run one at a time, in offset order.
    ///
    /// ```
    /// # use msk_lambda::{Consumer, Record};
    /// # async fn handle(_: Record<String>) -> Result<(), msk_lambda::Error> { Ok(()) }
    /// use std::num::NonZeroUsize;
    ///
    /// let consumer = Consumer::new(handle).concurrency(NonZeroUsize::new(8).unwrap());
    /// ```
    ///
    /// With [`workers`](Consumer::workers), this is the total over all workers: it is shared
    /// out among them (the remainder to the first), and fewer workers run when it is smaller
    /// than their number.
    pub fn concurrency(mut self, partitions: NonZeroUsize) -> Self {
        self.config.concurrency = partitions.get();
        self
    }

    /// What happens to the rest of a partition after a record fails (default: stop it).
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.config.failure_policy = policy;
        self
    }

    /// How failures reach Lambda (default: the partial batch response, which needs
    /// `ReportBatchItemFailures` on the event source mapping).
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.config.response_mode = mode;
        self
    }

    /// The CloudWatch EMF metrics [`run`](Consumer::run) writes, one line per invocation
    /// (default: none, unless `MSK_LAMBDA_METRICS=on`; see [`Metrics`] for what they cost).
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Time kept in reserve before Lambda's timeout (default 500 ms): once less than this is
    /// left, no record starts, a running one is cancelled, and all of them are reported failed
    /// so that Lambda delivers them again, instead of the whole batch timing out.
    ///
    /// Keep it well below the function's timeout: an invocation that starts with less time
    /// left than the margin runs nothing (Lambda would deliver the same batch forever), and
    /// logs an error saying so; one with records not started logs a warning with the time
    /// left and the margin.
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.config.deadline_margin = margin;
        self
    }

    /// Where `Avro`, `AvroValue` and other registry-aware types get writer schemas, in place of
    /// `MSK_LAMBDA_SCHEMA_REGISTRY` (which is read when this is not called).
    ///
    /// ```
    /// # use msk_lambda::{Consumer, Record};
    /// # async fn handle(_: Record<String>) -> Result<(), msk_lambda::Error> { Ok(()) }
    /// use msk_lambda::schema::{SchemaFormat, SchemaRef, SchemaRegistry, StaticSchemas};
    ///
    /// let schemas = StaticSchemas::new().with(SchemaRef::ConfluentId(1), SchemaFormat::Avro, r#""long""#);
    /// let consumer = Consumer::new(handle).schema_registry(SchemaRegistry::new(schemas));
    /// ```
    pub fn schema_registry(mut self, registry: SchemaRegistry) -> Self {
        self.registry = RegistrySetting::Given(registry);
        self
    }

    /// The schema registry by URL (Confluent, `http(s)://…`) or ARN (AWS Glue,
    /// `arn:aws:glue:…`), as `MSK_LAMBDA_SCHEMA_REGISTRY` would name it; connected on the first
    /// invocation.
    pub fn schema_registry_uri(mut self, uri: impl Into<String>) -> Self {
        self.registry = RegistrySetting::Uri(uri.into());
        self
    }
}

impl<H, S, V, K> Consumer<H, S, V, K>
where
    H: Handles<V, K, S> + Sync,
    S: Sync,
    V: Decode,
    K: Decode,
{
    /// Spreads partitions over this many threads (default: one, the calling thread: the
    /// fastest for a 1-vCPU function). [`Workers::Auto`] is one per CPU the process may use;
    /// Lambda gives functions more than one vCPU above about 1.8 GB of memory.
    ///
    /// Each partition is run by one worker from its first record to its last, in offset order,
    /// exactly as with one worker; only different partitions run on different threads, so a
    /// batch with one partition gains nothing. Worth it for CPU-bound handlers (parsing,
    /// enrichment, compression, crypto); handlers that mostly wait on I/O are served as well by
    /// [`concurrency`](Consumer::concurrency) on one thread.
    ///
    /// The handler and the state are shared by reference across the workers, so both must be
    /// `Sync`; the handler's futures never move between threads and need not be `Send`. The
    /// environment variable `MSK_LAMBDA_WORKERS` (a count or `auto`) overrides the count when
    /// the function starts serving, once this has been called (even with 1).
    /// [`main`](Consumer::main) then runs a multi-thread tokio runtime; when you run the
    /// consumer yourself, do so on a multi-thread runtime (on a current-thread runtime the
    /// workers fall back to one thread, with a warning).
    ///
    /// ```
    /// # use msk_lambda::{Consumer, Record};
    /// # async fn handle(_: Record<String>) -> Result<(), msk_lambda::Error> { Ok(()) }
    /// use msk_lambda::Workers;
    ///
    /// let consumer = Consumer::new(handle).workers(Workers::Auto);
    /// ```
    pub fn workers(mut self, workers: impl Into<Workers>) -> Self {
        self.parallel = Some(run_batch_parallel::<V, K, S, H>);
        self.config.workers = workers.into().resolve().get();
        self
    }
}

impl<H, S, V, K> Consumer<H, S, V, K>
where
    H: Handles<V, K, S>,
    V: Decode,
    K: Decode,
{
    /// The shared state, initialising it on first use. Fails with the init function's error,
    /// or its panic (caught: under Lambda it is reported as the init error, with its message).
    pub async fn state(&self) -> Result<&S, InvocationError> {
        use futures_util::FutureExt as _;
        let panicked = |panic: Box<dyn std::any::Any + Send>| -> Error {
            format!("it panicked: {}", crate::unwind::panic_message(&*panic)).into()
        };
        self.state
            .get_or_try_init(|| async {
                let init = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.init)()))
                    .map_err(panicked)?;
                std::panic::AssertUnwindSafe(init).catch_unwind().await.map_err(panicked)?
            })
            .await
            .map_err(|e| InvocationError::Init(Arc::from(e)))
    }

    /// The schema registry in use (resolved once, on the first invocation), if any.
    pub async fn registry(&self) -> Result<Option<&SchemaRegistry>, InvocationError> {
        let resolved = self
            .resolved_registry
            .get_or_try_init(|| async {
                match &self.registry {
                    RegistrySetting::FromEnv => SchemaRegistry::from_env().await,
                    RegistrySetting::Uri(uri) => SchemaRegistry::from_uri(uri).await.map(Some),
                    RegistrySetting::Given(registry) => Ok(Some(registry.clone())),
                }
            })
            .await
            .map_err(InvocationError::SchemaRegistry)?;
        Ok(resolved.as_ref())
    }

    /// Processes one raw event the way a Lambda invocation does, with a local context (see
    /// [`InvocationContext::local`] for its deadline), and returns what Lambda would receive.
    pub async fn invoke(&self, event: &[u8]) -> Result<BatchResponse, InvocationError> {
        self.invoke_with_context(event, InvocationContext::local()).await
    }

    /// [`invoke`](Consumer::invoke) with a given context (request id, deadline).
    ///
    /// This is also the way to embed the consumer in a service of your own: hand it the raw
    /// event bytes and the invocation's context.
    pub async fn invoke_with_context(
        &self,
        event: &[u8],
        context: InvocationContext,
    ) -> Result<BatchResponse, InvocationError> {
        let report = self.process(event, context).await?;
        self.respond(report).map(|(response, _)| response)
    }

    /// Processes one raw event and reports every record's outcome, whatever the response
    /// mode. Fails only when the event is unusable or the state cannot be initialised.
    pub async fn process(
        &self,
        event: &[u8],
        mut context: InvocationContext,
    ) -> Result<BatchReport, InvocationError> {
        let state = self.state().await?;
        let envelope = Envelope::parse(event).map_err(InvocationError::Event)?;
        context.event_source = envelope.event_source;
        context.event_source_arn = envelope.event_source_arn.as_deref().map(str::to_owned);
        context.bootstrap_servers = envelope.bootstrap_servers.as_deref().map(str::to_owned);
        let span = tracing::info_span!(
            "batch",
            records = envelope.record_count(),
            partitions = envelope.partitions.len()
        );
        let oldest_timestamp_ms = envelope
            .partitions
            .iter()
            .flat_map(|p| &p.records)
            .filter_map(|r| crate::record::timestamp_millis(r.timestamp, r.timestamp_type))
            .min();
        let time_left = context.remaining_time();
        let margin = self.config.deadline_margin;
        if margin >= time_left && envelope.record_count() > 0 {
            tracing::error!(
                time_left_ms = time_left.as_millis() as u64,
                deadline_margin_ms = margin.as_millis() as u64,
                "the deadline margin is at or above the time left: no record can start, and Lambda will deliver this batch again and again; raise the function's timeout or lower the deadline margin"
            );
        }
        let registry = self.registry().await?;
        let context = Arc::new(context);
        let parallel = match self.parallel {
            Some(parallel) if self.config.workers > 1 && envelope.partitions.len() > 1 => {
                if can_run_parallel() {
                    Some(parallel)
                } else {
                    self.warn_single_thread();
                    None
                }
            }
            _ => None,
        };
        let partitions = match parallel {
            Some(parallel) => parallel(
                envelope.partitions,
                &context,
                &self.config,
                registry,
                &self.handler,
                state,
                &span,
            ),
            None => {
                run_batch(
                    envelope.partitions,
                    &context,
                    &self.config,
                    registry,
                    &self.handler,
                    state,
                )
                .instrument(span)
                .await
            }
        };
        let report = BatchReport { partitions, oldest_timestamp_ms };
        let not_started = report.counts().not_started;
        if not_started > 0 {
            tracing::warn!(
                not_started,
                time_left_ms = time_left.as_millis() as u64,
                deadline_margin_ms = margin.as_millis() as u64,
                "records were not started: less than the deadline margin was left before the invocation's deadline; Lambda delivers them again"
            );
        }
        Ok(report)
    }

    /// One invocation as Lambda and local runs serve it: process, write the metrics line to
    /// `metrics_out`, and answer in the configured response mode (the report comes along for
    /// summaries).
    pub(crate) async fn serve_invocation(
        &self,
        event: &[u8],
        context: InvocationContext,
        metrics_out: impl std::io::Write,
    ) -> Result<(BatchResponse, BatchReport), InvocationError> {
        let started = std::time::Instant::now();
        let report = self.process(event, context).await?;
        let measured = InvocationMetrics {
            counts: report.counts(),
            duration: started.elapsed(),
            oldest_timestamp_ms: report.oldest_timestamp_ms,
        };
        if let Some(line) = self.metrics.line(&measured) {
            crate::metrics::emit(&line, metrics_out);
        }
        self.respond(report)
    }

    /// The answer in the configured response mode (the report kept for summaries).
    fn respond(
        &self,
        report: BatchReport,
    ) -> Result<(BatchResponse, BatchReport), InvocationError> {
        report
            .into_result_with_report(self.config.response_mode)
            .map_err(InvocationError::BatchFailed)
    }

    /// The settings after the `MSK_LAMBDA_METRICS*` and `MSK_LAMBDA_WORKERS` environment
    /// variables (read once, when the function starts serving); metrics CloudWatch would not
    /// take are an error.
    pub(crate) fn apply_env(&mut self) -> Result<(), Error> {
        self.metrics = std::mem::take(&mut self.metrics).with_env_overrides();
        self.metrics.check()?;
        let (workers, warning) = self.workers_after_env();
        if let Some(warning) = warning {
            tracing::warn!("{warning}");
        }
        let cpus = Workers::Auto.resolve().get();
        if workers > cpus && matches!(Workers::from_env(), Ok(Some(_))) {
            // Allowed (a handler that waits on I/O can use more threads than CPUs), but more
            // threads than CPUs only share them, each made and joined every invocation. Said
            // of the variable only: a count in the code was chosen knowing the function.
            tracing::warn!(
                workers,
                cpus,
                "more workers than the CPUs this process may use: they share the CPUs (`auto` is one per CPU)"
            );
        }
        self.config.workers = workers;
        Ok(())
    }

    /// The number of workers after `MSK_LAMBDA_WORKERS`, and why the variable was not
    /// followed, if it was not.
    pub(crate) fn workers_after_env(&self) -> (usize, Option<String>) {
        let current = self.config.workers;
        match Workers::from_env() {
            Ok(None) => (current, None),
            Err(e) => (current, Some(format!("{e}: ignored, running {current} worker(s)"))),
            Ok(Some(workers)) => {
                let n = workers.resolve().get();
                if n > 1 && self.parallel.is_none() {
                    (current, Some(format!(
                        "{WORKERS_ENV}={workers} is ignored: this consumer was not built with `workers` (`#[msk_handler(workers = ...)]` for a handler with state, or `Consumer::workers`), which checks that its handler and state can be shared across threads"
                    )))
                } else {
                    (n, None)
                }
            }
        }
    }

    /// Whether serving needs a multi-thread runtime (more than one worker, after the
    /// environment).
    pub(crate) fn wants_multi_thread(&self) -> bool {
        self.parallel.is_some() && self.workers_after_env().0 > 1
    }

    fn warn_single_thread(&self) {
        use std::sync::atomic::Ordering;
        if !self.warned_single_thread.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                workers = self.config.workers,
                "the consumer has more than one worker but runs on a current-thread tokio runtime: partitions run on this one thread; use `Consumer::main`, or a multi-thread runtime"
            );
        }
    }
}

impl<H, S, V, K> fmt::Debug for Consumer<H, S, V, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("config", &self.config)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `OldestRecordAge` of the EMF line written for `event`, if any.
    async fn oldest_record_age(event: &str) -> Option<i64> {
        let consumer =
            Consumer::new(async |_: Record<()>| Ok::<(), Error>(())).metrics(Metrics::new("Test"));
        let mut out = Vec::new();
        consumer
            .serve_invocation(event.as_bytes(), InvocationContext::local(), &mut out)
            .await
            .unwrap();
        let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
        line.get("OldestRecordAge").map(|age| age.as_i64().unwrap())
    }

    fn event(records: &[(i64, &str)]) -> String {
        let records: Vec<String> = records
            .iter()
            .enumerate()
            .map(|(offset, (timestamp, kind))| {
                format!(r#"{{"topic":"t","partition":0,"offset":{offset},"timestamp":{timestamp},"timestampType":"{kind}"}}"#)
            })
            .collect();
        format!(r#"{{"eventSource":"aws:kafka","records":{{"t-0":[{}]}}}}"#, records.join(","))
    }

    #[tokio::test]
    async fn records_without_a_timestamp_do_not_count_for_the_oldest_age() {
        // Kafka's "no timestamp": -1 with NO_TIMESTAMP_TYPE. Not 1970, so no age at all.
        assert_eq!(oldest_record_age(&event(&[(-1, "NO_TIMESTAMP_TYPE")])).await, None);
        // Far in the past and before the epoch: no overflow, no panic in debug builds.
        assert_eq!(oldest_record_age(&event(&[(i64::MIN, "CREATE_TIME")])).await, None);
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let now = since_epoch.unwrap().as_millis() as i64;
        let age = oldest_record_age(&event(&[
            (-1, "NO_TIMESTAMP_TYPE"),
            (now - 60_000, "CREATE_TIME"),
            (0, "NO_TIMESTAMP_TYPE"),
        ]))
        .await
        .unwrap();
        assert!((60_000..70_000).contains(&age), "{age}");
        // A timestamp in the future (a skewed producer clock) is no negative age.
        assert_eq!(oldest_record_age(&event(&[(i64::MAX, "LOG_APPEND_TIME")])).await, Some(0));
    }
}
