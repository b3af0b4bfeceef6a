//! Serving invocations through the real `lambda_runtime` crate.
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
use lambda_runtime::{LambdaEvent, LambdaInvocation};
use serde::de::IgnoredAny;

use crate::consumer::Consumer;
use crate::context::InvocationContext;
use crate::decode::Decode;
use crate::handler::Handler;
use crate::Error;

/// Raw event bodies of invocations in flight, by request id.
type Bodies = Arc<Mutex<HashMap<String, Bytes>>>;

/// The variables `lambda_runtime` reads at start; it panics when one is missing.
const REQUIRED_ENV: [&str; 3] =
    ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"];

pub(crate) async fn serve<H, S, V, K>(consumer: &Consumer<H, S, V, K>) -> Result<(), Error>
where
    H: Handler<V, K, S>,
    V: Decode,
    K: Decode,
{
    for name in REQUIRED_ENV {
        if std::env::var_os(name).is_none() {
            return Err(format!(
                "AWS_LAMBDA_RUNTIME_API is set but {name} is not: under Lambda both are set; to run locally, unset AWS_LAMBDA_RUNTIME_API and pass an event file"
            )
            .into());
        }
    }
    // One-time setup, before the first invocation is fetched (Lambda's INIT phase).
    consumer.state().await?;
    let bodies = Bodies::default();
    let handler = lambda_runtime::service_fn(|event: LambdaEvent<IgnoredAny>| {
        let body = bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&event.context.request_id)
            .unwrap_or_default();
        let context = invocation_context(&event.context);
        async move {
            let served = consumer.serve_invocation(&body, context, std::io::stdout()).await;
            served.map(|(response, _)| response)
        }
    });
    lambda_runtime::Runtime::new(handler)
        .layer(RawBodyLayer { bodies: Arc::clone(&bodies) })
        .layer(lambda_runtime::layers::TracingLayer::new())
        .run()
        .await
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
    fn deadlines_from_lambda_and_from_the_emulator() {
        let lambda = 1_795_752_378_765;
        assert_eq!(deadline(lambda), SystemTime::UNIX_EPOCH + Duration::from_millis(lambda));
        let emulator = deadline(600_000).duration_since(SystemTime::now()).unwrap();
        assert!(emulator > Duration::from_secs(590) && emulator <= Duration::from_secs(600));
    }
}
