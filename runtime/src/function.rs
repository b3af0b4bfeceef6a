//! Functions that are not Kafka consumers (an API Gateway handler that produces to MSK, say),
//! with the same entry point as consumers: `lambda_runtime` under Lambda, and without
//! `AWS_LAMBDA_RUNTIME_API` a local run over an event file that prints the response.
//!
//! ```no_run
//! #[derive(serde::Deserialize)]
//! struct Ping {
//!     name: String,
//! }
//!
//! async fn handle(ping: Ping) -> Result<serde_json::Value, msk_lambda::Error> {
//!     Ok(serde_json::json!({ "hello": ping.name }))
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     msk_lambda::function::main(handle)
//! }
//! ```

use std::process::ExitCode;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::Error;

/// Serves `handler` (an `async fn(Event) -> Result<Response, E>`): under Lambda through
/// `lambda_runtime`, otherwise once over the event file named by the first argument (`-` for
/// stdin), printing the response JSON on stdout. Initialises tracing like consumers do.
pub async fn run<Event, Response, E>(
    handler: impl AsyncFn(Event) -> Result<Response, E>,
) -> Result<(), Error>
where
    Event: DeserializeOwned,
    Response: Serialize,
    E: Into<Error>,
{
    let local = !crate::entry::under_lambda();
    crate::logging::init(local);
    if !local {
        let handler = &handler;
        let service = lambda_runtime::service_fn(
            move |event: lambda_runtime::LambdaEvent<Event>| async move {
                handler(event.payload).await.map_err(|e| lambda_runtime::Diagnostic::from(e.into()))
            },
        );
        return lambda_runtime::run(service).await;
    }
    let bytes = crate::local::read_event(crate::entry::event_path(), "an event")?;
    let event: Event = serde_json::from_slice(&bytes)
        .map_err(|e| format!("the event does not fit the function's event type: {e}"))?;
    let response = handler(event).await.map_err(Into::into)?;
    crate::local::write_response(&serde_json::to_string(&response)?)
}

/// [`run`] on a current-thread tokio runtime, as the binary's `main`.
pub fn main<Event, Response, E>(handler: impl AsyncFn(Event) -> Result<Response, E>) -> ExitCode
where
    Event: DeserializeOwned,
    Response: Serialize,
    E: Into<Error>,
{
    crate::entry::block_on_main(run(handler))
}
