//! Typed AWS Lambda consumers for Apache Kafka and Amazon MSK.
//!
//! Write one `async fn` per record; `#[msk_handler]` makes it a Lambda function:
//!
//! ```no_run
//! use msk_lambda::{msk_handler, Json, Record};
//!
//! #[derive(serde::Deserialize)]
//! #[serde(rename_all = "camelCase")]
//! struct UserEvent {
//!     user_id: String,
//!     event_type: String,
//! }
//!
//! #[msk_handler]
//! async fn handle(record: Record<Json<UserEvent>, Option<String>>) -> Result<(), msk_lambda::Error> {
//!     tracing::info!(user = %record.value().user_id, kind = %record.value().event_type, "event");
//!     Ok(())
//! }
//! ```
//!
//! The function decodes every record's key and value into the handler's types, runs the
//! records of a partition in offset order and partitions concurrently, turns decode errors,
//! handler errors, panics and timeouts into failures of their record only, and answers Lambda
//! with the exact Kafka partial batch response. Nothing is lost: every record ends succeeded,
//! or covered by a reported failure so that Lambda delivers it again.
//!
//! Without the macro, the same is [`Consumer`]; [`testing`] builds events for your tests.

#![forbid(unsafe_code)]

#[cfg(feature = "avro")]
#[cfg_attr(docsrs, doc(cfg(feature = "avro")))]
pub mod avro;
mod bulk;
mod config;
mod consumer;
mod context;
mod decode;
mod engine;
mod entry;
mod error;
mod event;
mod event_memory;
pub mod function;
mod handler;
mod headers;
mod json;
mod json_fast;
mod json_path;
mod lambda;
mod local;
mod logging;
mod metrics;
mod prefetch;
mod private;
#[cfg(feature = "producer")]
#[cfg_attr(docsrs, doc(cfg(feature = "producer")))]
pub mod producer;
#[cfg(feature = "protobuf")]
#[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
pub mod protobuf;
mod record;
mod record_decode;
mod report;
mod runtime_api;
pub mod schema;
#[cfg(feature = "secrets-manager")]
mod secrets;
mod swar;
pub mod testing;
mod unwind;
mod workers;

pub use bulk::{Batch, BatchError, BatchHandler, Bulk, BulkStateful};
/// The `bytes` crate, whose [`Bytes`](bytes::Bytes) raw keys, values and [`Decode`] inputs are.
pub use bytes;
pub use config::{FailurePolicy, ResponseMode, DEFAULT_CONCURRENCY, DEFAULT_DEADLINE_MARGIN};
pub use consumer::{Consumer, StateInit};
pub use context::{EventSource, InvocationContext};
pub use decode::{Decode, DecodeContext, DecodeError, Part};
pub use engine::Handles;
pub use error::{Error, InvocationError};
pub use event::EventError;
pub use handler::{Handler, Stateful, Stateless};
pub use headers::{HeaderError, Headers};
pub use json::Json;
pub use metrics::Metrics;
pub use record::{Record, SchemaMetadata, TimestampType};
pub use report::{
    BatchFailed, BatchItemFailure, BatchReport, BatchResponse, Counts, Failure, FailureKind,
    ItemIdentifier, Outcome, PartitionReport,
};
pub use workers::{ParseWorkersError, Workers, WORKERS_ENV};

/// Makes an `async fn` that handles one Kafka record the Lambda function's `main`.
///
/// ```no_run
/// use msk_lambda::{msk_handler, Json, Record};
///
/// #[derive(serde::Deserialize)]
/// struct Order {
///     id: u64,
/// }
///
/// struct Clients {
///     audit_topic: String,
/// }
///
/// /// Runs once per execution environment, before the first invocation.
/// async fn init() -> Result<Clients, msk_lambda::Error> {
///     Ok(Clients { audit_topic: "audit".into() })
/// }
///
/// #[msk_handler(state = init, concurrency = 8)]
/// async fn handle(record: Record<Json<Order>, Option<String>>, clients: &Clients) -> Result<(), msk_lambda::Error> {
///     println!("order {} → {}", record.value().id, clients.audit_topic);
///     Ok(())
/// }
/// ```
///
/// The function stays an ordinary function (unit tests call it directly, see
/// [`testing::TestRecord::decode`]); the attribute adds a `main` equivalent to:
///
/// ```no_run
/// # use msk_lambda::{Json, Record};
/// # #[derive(serde::Deserialize)] struct Order { id: u64 }
/// # struct Clients;
/// # async fn init() -> Result<Clients, msk_lambda::Error> { Ok(Clients) }
/// # async fn handle(record: Record<Json<Order>, Option<String>>, clients: &Clients) -> Result<(), msk_lambda::Error> { Ok(()) }
/// fn main() -> std::process::ExitCode {
///     let concurrency = std::num::NonZeroUsize::new(8).unwrap();
///     msk_lambda::Consumer::with_state(init, handle).concurrency(concurrency).main()
///     // Without state: Consumer::new(handle).workers(Workers::ONE), which lets
///     // MSK_LAMBDA_WORKERS choose more (see `workers`).
/// }
/// ```
///
/// plus compile-time checks that the key and value types can be decoded, reported on those
/// types. In test builds it also writes `fn <handler>_consumer()`, returning that consumer with
/// the attribute's options, so that a test runs whole events through the configuration that is
/// deployed: `handle_consumer().invoke(&event.to_bytes()).await`. `main` starts a current-thread tokio runtime, sets up tracing, and serves Lambda
/// invocations, or, without `AWS_LAMBDA_RUNTIME_API`, runs locally on an event file.
///
/// The handler is `async fn(record: Record<V, K>) -> Result<(), E>`, or with `state = init`,
/// `async fn(record: Record<V, K>, state: &S) -> Result<(), E>`; `E: Into<msk_lambda::Error>`.
/// Type aliases and renamed imports work (`type OrderRecord = Record<Json<Order>>;`,
/// `type HandlerResult = Result<(), msk_lambda::Error>;`, `use msk_lambda::Record as KafkaRecord;`):
/// the types are checked by the compiler, and a wrong one is reported on the type at fault.
/// One exception: an alias itself named `Record` or `Batch` is read as msk-lambda's own type
/// (the attribute sees names, not what they resolve to), so give yours another name.
///
/// # Bulk handlers
///
/// A first parameter written `Batch<V>` or `Batch<V, K>` makes a bulk handler: it receives the
/// decoded records of one partition at once, in offset order, and returns
/// `Result<(), E>` with `E: Into<BatchError>` ([`BatchError`] itself, or any error, which fails
/// the whole batch). The main is then [`Consumer::bulk`] / [`Consumer::bulk_with_state`]; every
/// option applies.
///
/// ```no_run
/// use msk_lambda::{msk_handler, Batch, BatchError, Json};
///
/// #[derive(serde::Deserialize)]
/// struct Order {
///     id: u64,
/// }
///
/// #[msk_handler(failure = "continue")]
/// async fn handle(batch: Batch<Json<Order>>) -> Result<(), BatchError> {
///     let mut failed = BatchError::none();
///     for record in &batch {
///         if record.value().id == 0 {
///             failed = failed.record(record.offset(), "order id 0");
///         }
///     }
///     failed.into_result()
/// }
/// ```
///
/// # Your own `main`
///
/// The attribute writes `main`; a `fn main` of your own next to it is a compile error that says
/// so (besides rustc's "the name `main` is defined multiple times"). To write `main` yourself
/// (extra setup, [`Consumer::into_runtime`] layers), leave the attribute out and build the
/// consumer in it: `fn main() -> std::process::ExitCode { msk_lambda::Consumer::new(handle).main() }`,
/// or `Consumer::with_state(init, handle)` for a handler with state, with the options as the
/// builder calls of the table below.
///
/// # Where the handler goes
///
/// The generated `main` is written next to the handler, so put the handler in the binary's
/// crate root (`src/main.rs`, or `src/bin/<name>.rs`). In a module, the binary has no `main`
/// at its root and rustc reports ``error[E0601]: `main` function not found in crate``, with a
/// note pointing at `#[msk_handler]`; in a library's `lib.rs` (to reach the handler from
/// integration tests) the `main` is never called. For either, leave the attribute out and write
/// the three lines yourself with [`Consumer`]:
///
/// ```no_run
/// mod handlers {
///     use msk_lambda::{Json, Record};
///
///     #[derive(serde::Deserialize)]
///     pub struct Order {
///         pub id: u64,
///     }
///
///     pub async fn handle(record: Record<Json<Order>>) -> Result<(), msk_lambda::Error> {
///         println!("order {}", record.value().id);
///         Ok(())
///     }
/// }
///
/// fn main() -> std::process::ExitCode {
///     msk_lambda::Consumer::new(handlers::handle).main()
/// }
/// ```
///
/// | option | builder call | default |
/// |---|---|---|
/// | `concurrency = 8` (a number from 1 up, unsuffixed or `usize`) | [`Consumer::concurrency`] | 16 partitions at once |
/// | `workers = 2` or `workers = "auto"` | [`Consumer::workers`] (`MSK_LAMBDA_WORKERS` overrides it) | 1 thread |
/// | `state = init` | [`Consumer::with_state`] | no state |
/// | `failure = "continue"` | [`Consumer::failure_policy`] | `"stop_partition"` |
/// | `response = "whole_batch"` | [`Consumer::response_mode`] | `"partial_batch"` |
/// | `deadline_margin_ms = 1000` | [`Consumer::deadline_margin`] | 500 |
/// | `schema_registry = "https://…"` (or `"arn:aws:glue:…"`) | [`Consumer::schema_registry_uri`] | `MSK_LAMBDA_SCHEMA_REGISTRY`, else none |
/// | `crate = "path"` | (where msk-lambda is, if renamed) | `::msk_lambda` |
///
/// CloudWatch EMF metrics are off unless the environment has `MSK_LAMBDA_METRICS=on`: they are
/// billed as custom metrics (see [`Metrics`]). A deadline margin at or above the function's
/// timeout lets no record start: such an invocation logs an error (see
/// [`Consumer::deadline_margin`]).
pub use msk_lambda_macros::msk_handler;

/// The fast event parser checked against serde_json, for the fuzz target and the integration
/// tests (feature `__differential`). Not public API: it changes without notice.
#[cfg(feature = "__differential")]
#[doc(hidden)]
pub use event::differential as __differential;

/// Support for code generated by `#[msk_handler]` (in `private.rs`). Not public API: it changes
/// without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}
