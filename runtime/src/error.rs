//! The error types: what handlers return, and why an invocation as a whole fails.

use std::fmt;
use std::sync::Arc;

use crate::event::EventError;
use crate::report::BatchFailed;

/// The boxed error handlers may return (any `E: Into<Error>` converts).
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an invocation as a whole failed. Lambda then retries the whole batch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum InvocationError {
    /// The event is not a usable Kafka event.
    Event(EventError),
    /// Whole-batch response mode, and some records did not succeed.
    BatchFailed(BatchFailed),
    /// The shared state's init function failed (its error, source chain kept).
    Init(Arc<dyn std::error::Error + Send + Sync + 'static>),
    /// The configured schema registry cannot be used (`MSK_LAMBDA_SCHEMA_REGISTRY` or the
    /// builder's URI is malformed, or its credentials cannot be had).
    SchemaRegistry(crate::schema::RegistryError),
    /// msk-lambda itself went wrong (a bug: please report it); the batch is retried whole.
    Internal(String),
}

impl InvocationError {
    /// The `errorType` Lambda shows for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            InvocationError::Event(_) => "MskLambda.InvalidEvent",
            InvocationError::BatchFailed(_) => "MskLambda.BatchFailed",
            InvocationError::Init(_) => "MskLambda.InitFailed",
            InvocationError::SchemaRegistry(_) => "MskLambda.SchemaRegistry",
            InvocationError::Internal(_) => "MskLambda.InternalError",
        }
    }
}

impl fmt::Display for InvocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvocationError::Event(e) => write!(f, "invalid event: {e}"),
            InvocationError::BatchFailed(e) => e.fmt(f),
            InvocationError::Init(e) => write!(f, "the state init function failed: {e}"),
            InvocationError::SchemaRegistry(e) => {
                write!(f, "the schema registry cannot be used: {e}")
            }
            InvocationError::Internal(e) => write!(f, "internal error in msk-lambda: {e}"),
        }
    }
}

impl std::error::Error for InvocationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InvocationError::Init(e) => Some(&**e),
            // The others' messages say everything already.
            InvocationError::Event(_)
            | InvocationError::BatchFailed(_)
            | InvocationError::SchemaRegistry(_)
            | InvocationError::Internal(_) => None,
        }
    }
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(e: InvocationError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_owned(),
            // Lambda shows only this message: the whole chain goes in it.
            error_message: chain(&e),
        }
    }
}

/// `outer: inner: root`, the way anyhow prints `{:#}`; at most 32 deep, so that an error whose
/// `source()` leads back to itself (user code) cannot hang the worker.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    let mut depth = 0;
    while let Some(s) = source {
        depth += 1;
        if depth > 32 {
            text.push_str(": …");
            break;
        }
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error whose `source()` is itself (user code can write one): the chain ends.
    #[test]
    fn a_source_cycle_ends() {
        #[derive(Debug)]
        struct Loop(u32);
        impl fmt::Display for Loop {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "loop {}", self.0)
            }
        }
        impl std::error::Error for Loop {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(self)
            }
        }
        assert_eq!(chain(&Loop(1)), "loop 1: …");
    }
}
