//! The hand-written baseline as a Lambda function: what a Rust user writes today with
//! `lambda_runtime::run(service_fn(...))` and `aws_lambda_events`' `KafkaEvent`, doing the
//! user-events work (`msk_lambda_bench::baseline::respond`: each value's base64 decoded and
//! parsed as JSON `UserEvent`, key as text, headers decoded, each partition's first failure
//! and the records after it in the partial batch response). `bench/run` measures it against `user-events`
//! under a loopback Runtime API (`warm-invocations`).

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use msk_lambda_bench::baseline::{respond, Response};

async fn handler(event: LambdaEvent<KafkaEvent>) -> Result<Response, Error> {
    Ok(respond(&event.payload))
}

fn main() -> Result<(), Error> {
    // A current-thread runtime, as msk-lambda's own `main` uses (`#[tokio::main]`'s
    // multi-thread runtime measured the same here, within the noise).
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(lambda_runtime::run(service_fn(handler)))
}
