//! `Consumer`: the builder that turns a record handler into a Lambda function.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument as _;

use crate::config::{Config, FailurePolicy, ResponseMode};
use crate::context::InvocationContext;
use crate::decode::Decode;
use crate::engine::run_batch;
use crate::error::InvocationError;
use crate::event::Envelope;
use crate::handler::{Handler, Stateful, Stateless};
use crate::metrics::{InvocationMetrics, Metrics};
use crate::record::Record;
use crate::report::{BatchReport, BatchResponse};
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
/// be `Send`). Every record ends succeeded, failed, skipped after an earlier failure of its
/// partition, or not started because of the deadline; see [`BatchReport`].
pub struct Consumer<H, S, V, K> {
    handler: H,
    init: InitFn<S>,
    state: tokio::sync::OnceCell<S>,
    config: Config,
    metrics: Metrics,
    _records: PhantomData<fn(Record<V, K>)>,
}

impl<F, V, K> Consumer<Stateless<F>, (), V, K> {
    /// A consumer calling `handler` for every record: `async fn(Record<V, K>) -> Result<(), E>`.
    pub fn new<E>(handler: F) -> Self
    where
        F: AsyncFn(Record<V, K>) -> Result<(), E>,
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
        F: AsyncFn(Record<V, K>, &S) -> Result<(), E>,
        E: Into<Error>,
    {
        Consumer::build(Stateful(handler), Box::new(move || init.init()))
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

    pub(crate) fn configured_response_mode(&self) -> ResponseMode {
        self.config.response_mode
    }

    /// The CloudWatch EMF metrics [`run`](Consumer::run) writes, one line per invocation
    /// (default: namespace `MskLambda`, dimension `FunctionName`; [`Metrics::off`] for none).
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Time kept in reserve before Lambda's timeout (default 500 ms): once less than this is
    /// left, no record starts, a running one is cancelled, and all of them are reported failed
    /// so that Lambda delivers them again, instead of the whole batch timing out.
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.config.deadline_margin = margin;
        self
    }
}

impl<H, S, V, K> Consumer<H, S, V, K>
where
    H: Handler<V, K, S>,
    V: Decode,
    K: Decode,
{
    /// The shared state, initialising it on first use. Fails with the init function's error.
    pub async fn state(&self) -> Result<&S, InvocationError> {
        self.state
            .get_or_try_init(|| (self.init)())
            .await
            .map_err(|e| InvocationError::Init(e.to_string()))
    }

    /// Processes one raw event the way a Lambda invocation does, with a local context (a
    /// deadline 15 minutes away), and returns what Lambda would receive.
    pub async fn invoke(&self, event: &[u8]) -> Result<BatchResponse, InvocationError> {
        self.invoke_with_context(event, InvocationContext::local()).await
    }

    /// [`invoke`](Consumer::invoke) with a given context (request id, deadline).
    pub async fn invoke_with_context(
        &self,
        event: &[u8],
        context: InvocationContext,
    ) -> Result<BatchResponse, InvocationError> {
        let report = self.process(event, context).await?;
        report.into_result(self.config.response_mode).map_err(|failed| {
            tracing::error!(error = %failed, "invocation failed (whole-batch response mode)");
            InvocationError::BatchFailed(failed)
        })
    }

    /// Processes one raw event and reports every record's outcome, whatever the response
    /// mode. Fails only when the event is unusable or the state cannot be initialised.
    pub async fn process(
        &self,
        event: &[u8],
        mut context: InvocationContext,
    ) -> Result<BatchReport, InvocationError> {
        let state = self.state().await?;
        let envelope = Envelope::parse(event).map_err(|e| {
            tracing::error!(error = %e, "invocation failed: the event is unusable");
            InvocationError::Event(e)
        })?;
        context.event_source = envelope.event_source;
        context.event_source_arn = envelope.event_source_arn.as_deref().map(str::to_owned);
        context.bootstrap_servers = envelope.bootstrap_servers.as_deref().map(str::to_owned);
        let span = tracing::info_span!(
            "batch",
            records = envelope.record_count(),
            partitions = envelope.partitions.len()
        );
        let oldest_timestamp_ms =
            envelope.partitions.iter().flat_map(|p| &p.records).map(|r| r.timestamp).min();
        let context = Arc::new(context);
        let partitions =
            run_batch(envelope.partitions, &context, &self.config, &self.handler, state)
                .instrument(span)
                .await;
        Ok(BatchReport { partitions, policy: self.config.failure_policy, oldest_timestamp_ms })
    }

    /// One invocation as `run` serves it: process, write the metrics line to `metrics_out`,
    /// and answer in the configured response mode (the report comes along for summaries).
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
        report.into_result_with_report(self.config.response_mode).map_err(|failed| {
            tracing::error!(error = %failed, "invocation failed (whole-batch response mode)");
            InvocationError::BatchFailed(failed)
        })
    }

    /// Serves invocations: under Lambda (when `AWS_LAMBDA_RUNTIME_API` is set) through
    /// `lambda_runtime`; otherwise as a local run over the event file named by the first
    /// command-line argument (`-` for stdin), printing the response JSON on stdout.
    ///
    /// Initialises tracing the way Lambda expects (`AWS_LAMBDA_LOG_FORMAT=JSON` for JSON logs,
    /// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` for the level) unless a subscriber is already set.
    pub async fn run(mut self) -> Result<(), Error> {
        let local = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none();
        crate::logging::init(local);
        self.metrics = self.metrics.with_env_overrides();
        if local {
            crate::local::run(&self, std::env::args_os().nth(1)).await
        } else {
            crate::lambda::serve(&self).await
        }
    }

    /// Builds a current-thread tokio runtime, runs [`run`](Consumer::run) on it and turns the
    /// result into the process exit code (printing the error, if any, to stderr).
    pub fn main(self) -> std::process::ExitCode {
        crate::local::block_on_main(self.run())
    }
}

impl<H, S, V, K> fmt::Debug for Consumer<H, S, V, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer").field("config", &self.config).finish_non_exhaustive()
    }
}
