//! The error types: what handlers return, and why an invocation as a whole fails.

use std::fmt;

use crate::event::EventError;
use crate::report::BatchFailed;

/// The boxed error handlers may return (any `E: Into<Error>` converts).
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an invocation as a whole failed. Lambda then retries the whole batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvocationError {
    /// The event is not a usable Kafka event.
    Event(EventError),
    /// Whole-batch response mode, and some records did not succeed.
    BatchFailed(BatchFailed),
    /// The shared state's init function failed.
    Init(String),
}

impl InvocationError {
    /// The `errorType` Lambda shows for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            InvocationError::Event(_) => "MskLambda.InvalidEvent",
            InvocationError::BatchFailed(_) => "MskLambda.BatchFailed",
            InvocationError::Init(_) => "MskLambda.InitFailed",
        }
    }
}

impl fmt::Display for InvocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvocationError::Event(e) => write!(f, "invalid event: {e}"),
            InvocationError::BatchFailed(e) => e.fmt(f),
            InvocationError::Init(e) => write!(f, "the state init function failed: {e}"),
        }
    }
}

impl std::error::Error for InvocationError {}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(e: InvocationError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_owned(),
            error_message: e.to_string(),
        }
    }
}
