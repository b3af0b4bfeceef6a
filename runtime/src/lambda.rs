//! Serving invocations under Lambda: [`Consumer::run`] with msk-lambda's own Runtime API
//! client (`runtime_api`), [`Consumer::into_runtime`] through the real `lambda_runtime` crate.
//!
//! `lambda_runtime` deserializes each event into the handler's payload type. A 6 MB Kafka event
//! would then be parsed twice (once by it, once by us) and copied; instead a layer takes the raw
//! body bytes out of the invocation before that step, hands `null` to the runtime's
//! deserializer, and the service picks the bytes up again by request id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{LambdaEvent, LambdaInvocation, Runtime};
use serde::de::IgnoredAny;

use crate::consumer::Consumer;
use crate::context::InvocationContext;
use crate::decode::Decode;
use crate::engine::Handles;
use crate::error::InvocationError;
use crate::report::BatchResponse;
use crate::runtime_api::{Endpoint, Invoke};
use crate::Error;

/// Raw event bodies of invocations in flight, by request id.
type Bodies = Arc<Mutex<HashMap<String, Bytes>>>;

/// The variables `lambda_runtime` reads at start; it panics when one is missing.
const REQUIRED_ENV: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
];

impl<H, S, V, K> Consumer<H, S, V, K>
where
    H: Handles<V, K, S> + 'static,
    S: 'static,
    V: Decode + 'static,
    K: Decode + 'static,
{
    /// The `lambda_runtime` [`Runtime`] that serves this consumer, for composing with it before
    /// calling its `run()`: add tower layers (an OpenTelemetry flush, say), register SnapStart
    /// resources. [`run`](Consumer::run) serves the same invocations with msk-lambda's own
    /// Runtime API client instead, which reads each event into one buffer kept between
    /// invocations (`lambda_runtime` collects it into new memory, copied twice): on a 6 MB
    /// event, a few milliseconds of every warm invocation.
    ///
    /// This is Lambda's INIT phase: it checks the Lambda environment, sets up tracing unless a
    /// subscriber is already installed, reads the `MSK_LAMBDA_METRICS*` variables and runs the
    /// state init function, before the first invocation is fetched. Fails outside Lambda
    /// (without `AWS_LAMBDA_RUNTIME_API` and the function variables Lambda sets).
    ///
    /// ```no_run
    /// # use msk_lambda::{Consumer, Record};
    /// # async fn handle(_: Record<String>) -> Result<(), msk_lambda::Error> { Ok(()) }
    /// # async fn run() -> Result<(), msk_lambda::Error> {
    /// Consumer::new(handle)
    ///     .into_runtime()
    ///     .await?
    ///     // .layer(your_tower_layer): lambda_runtime's `TracingLayer` is already in.
    ///     .run()
    ///     .await
    /// # }
    /// ```
    ///
    /// Invocations are served one at a time: `Runtime::run_concurrent` (Lambda Managed
    /// Instances) needs a `Send + Clone` service, which a consumer whose handlers need not be
    /// `Send` is not.
    pub async fn into_runtime(
        mut self,
    ) -> Result<
        Runtime<impl Service<LambdaInvocation, Response = (), Error = lambda_runtime::Error>>,
        Error,
    > {
        self.init_under_lambda().await?;
        let consumer = Arc::new(self);
        let bodies = Bodies::default();
        let taken = Arc::clone(&bodies);
        let handler = lambda_runtime::service_fn(move |event: LambdaEvent<IgnoredAny>| {
            let consumer = Arc::clone(&consumer);
            let body = take_body(&taken, &event.context.request_id);
            async move { consumer.serve(&body?, &event.context).await }
        });
        Ok(Runtime::new(handler)
            .layer(RawBodyLayer { bodies })
            .layer(lambda_runtime::layers::TracingLayer::new()))
    }

    /// [`run`](Consumer::run) under Lambda: msk-lambda's own Runtime API client, which reads
    /// each event into one buffer kept between invocations; `lambda_runtime` where it does
    /// more than serve invocations one by one (see [`own_client_endpoint`]).
    pub(crate) async fn serve_under_lambda(mut self) -> Result<(), Error> {
        let Some(endpoint) = own_client_endpoint() else {
            return self.into_runtime().await?.run().await;
        };
        if let Err(error) = self.init_under_lambda().await {
            // Reported to Lambda too, so that its error names the cause; the process ends either way.
            let mut client = crate::runtime_api::Client::new(endpoint);
            if let Err(post) = client.post_init_error(&error).await {
                tracing::error!(error = %post, "the init error could not be reported to Lambda");
            }
            return Err(error);
        }
        crate::runtime_api::run(endpoint, &self).await
    }

    /// Lambda's INIT phase, before the first invocation is fetched: the environment checked,
    /// tracing and the `MSK_LAMBDA_*` settings applied, the state built.
    async fn init_under_lambda(&mut self) -> Result<(), Error> {
        // Logging first, so that what goes wrong next is logged too.
        crate::logging::init(false);
        check_lambda_env()?;
        self.apply_env()?;
        self.state().await?;
        Ok(())
    }
}

impl<H, S, V, K> Invoke for Consumer<H, S, V, K>
where
    H: Handles<V, K, S>,
    V: Decode,
    K: Decode,
{
    async fn serve(
        &self,
        event: &[u8],
        context: &lambda_runtime::Context,
    ) -> Result<BatchResponse, InvocationError> {
        let context = invocation_context(context);
        let served = self.serve_invocation(event, context, std::io::stdout()).await;
        // Logged here, once, for CloudWatch; a local run prints it as the exit message.
        served.map(|(response, _)| response).inspect_err(|e| {
            tracing::error!(error_type = e.error_type(), error = %e, "invocation failed");
        })
    }
}

/// The Runtime API `run` serves with its own client, or `None` where `lambda_runtime` serves:
/// SnapStart (its snapshot and restore hooks), Lambda Managed Instances
/// (`AWS_LAMBDA_MAX_CONCURRENCY`: it says that invocations are served one at a time), and an
/// `AWS_LAMBDA_RUNTIME_API` that is not `host:port` or an `http://` URL.
fn own_client_endpoint() -> Option<Endpoint> {
    if std::env::var_os("AWS_LAMBDA_INITIALIZATION_TYPE").is_some_and(|t| t == "snap-start")
        || std::env::var_os("AWS_LAMBDA_MAX_CONCURRENCY").is_some()
    {
        return None;
    }
    Endpoint::parse(&std::env::var("AWS_LAMBDA_RUNTIME_API").ok()?)
}

/// The variables Lambda sets, checked before `lambda_runtime` would panic without them.
fn check_lambda_env() -> Result<(), Error> {
    match REQUIRED_ENV.iter().find(|name| std::env::var_os(name).is_none()) {
        None => Ok(()),
        Some(name) => Err(format!(
            "{name} is not set: Lambda sets it, with the other AWS_LAMBDA_* variables; to run locally, run the function without AWS_LAMBDA_RUNTIME_API and pass an event file"
        )
        .into()),
    }
}

/// The body [`RawBody`] put aside for this invocation. Its absence is a bug of ours, not a bad
/// event: it is reported as an internal error, and the batch is retried whole.
fn take_body(bodies: &Bodies, request_id: &str) -> Result<Bytes, InvocationError> {
    bodies.lock().unwrap_or_else(PoisonError::into_inner).remove(request_id).ok_or_else(|| {
        tracing::error!(request_id, "no event body was kept for this invocation");
        InvocationError::Internal(format!(
            "no event body was kept for invocation {request_id} (the raw-body layer did not see it)"
        ))
    })
}

/// 2001-01-01 in milliseconds since the epoch: no real deadline is earlier.
const EARLIEST_EPOCH_DEADLINE_MS: u64 = 978_307_200_000;

/// When the invocation must be done.
///
/// Lambda sends the deadline in milliseconds since the epoch. cargo-lambda's emulator sends
/// its timeout instead (`600000`): a value that cannot be an epoch time is read as
/// milliseconds from now, so local emulation does not see every deadline as already past.
fn deadline(ms: u64) -> SystemTime {
    if ms >= EARLIEST_EPOCH_DEADLINE_MS {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    } else {
        SystemTime::now() + Duration::from_millis(ms)
    }
}

fn invocation_context(context: &lambda_runtime::Context) -> InvocationContext {
    InvocationContext {
        request_id: context.request_id.clone(),
        deadline: deadline(context.deadline),
        invoked_function_arn: context.invoked_function_arn.clone(),
        xray_trace_id: context.xray_trace_id.clone(),
        event_source: None,
        event_source_arn: None,
        bootstrap_servers: None,
    }
}

/// Takes each invocation's body out before `lambda_runtime` deserializes it.
struct RawBodyLayer {
    bodies: Bodies,
}

impl<S> Layer<S> for RawBodyLayer {
    type Service = RawBody<S>;
    fn layer(&self, inner: S) -> RawBody<S> {
        RawBody { inner, bodies: Arc::clone(&self.bodies) }
    }
}

struct RawBody<S> {
    inner: S,
    bodies: Bodies,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for RawBody<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> S::Future {
        let body = std::mem::replace(&mut invocation.body, Bytes::from_static(b"null"));
        self.bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(invocation.context.request_id.clone(), body);
        self.inner.call(invocation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_lambda_into_runtime_is_an_error_not_a_panic() {
        // lambda_runtime panics when AWS_LAMBDA_RUNTIME_API is missing; tests run without it.
        assert!(std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none());
        let e = check_lambda_env().unwrap_err().to_string();
        assert!(e.starts_with("AWS_LAMBDA_RUNTIME_API is not set: Lambda sets it"), "{e}");
    }

    #[test]
    fn a_missing_body_is_an_internal_error() {
        let bodies = Bodies::default();
        bodies.lock().unwrap().insert("a".into(), Bytes::from_static(b"{}"));
        assert_eq!(take_body(&bodies, "a").unwrap(), "{}");
        let e = take_body(&bodies, "a").unwrap_err();
        assert_eq!(e.error_type(), "MskLambda.InternalError");
        assert_eq!(
            e.to_string(),
            "internal error in msk-lambda: no event body was kept for invocation a (the raw-body layer did not see it)"
        );
    }

    #[test]
    fn deadlines_from_lambda_and_from_the_emulator() {
        let lambda = 1_795_752_378_765;
        assert_eq!(deadline(lambda), SystemTime::UNIX_EPOCH + Duration::from_millis(lambda));
        let emulator = deadline(600_000).duration_since(SystemTime::now()).unwrap();
        assert!(emulator > Duration::from_secs(590) && emulator <= Duration::from_secs(600));
    }
}
