//! The consumer's settings.

use std::time::Duration;

/// What happens to the rest of a partition after one of its records fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FailurePolicy {
    /// Stop the partition at its first failure (the default). Lambda resumes a partition from
    /// its lowest reported offset, so the records after it are delivered again anyway; running
    /// them now would only process them twice.
    #[default]
    StopPartition,
    /// Run every record; report each failed one. Lambda still redelivers from the lowest
    /// failed offset, so records after it that succeeded are processed again: handlers must be
    /// idempotent.
    Continue,
}

/// How failures reach Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResponseMode {
    /// Return the Kafka partial batch response (the default). The event source mapping MUST
    /// list `ReportBatchItemFailures` in `FunctionResponseTypes`; without it Lambda ignores
    /// the response and failed records are lost.
    #[default]
    PartialBatch,
    /// Fail the whole invocation when any record fails, so Lambda retries the whole batch.
    /// For mappings without `ReportBatchItemFailures`.
    WholeBatch,
}

/// Consumer settings; see the setters on [`Consumer`](crate::Consumer).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub concurrency: usize,
    pub failure_policy: FailurePolicy,
    pub response_mode: ResponseMode,
    pub deadline_margin: Duration,
    /// Worker threads for partitions, resolved (1: the single-thread path).
    pub workers: usize,
}

/// Partitions in flight at once by default.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Time kept in reserve before Lambda's timeout by default.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(500);

impl Default for Config {
    fn default() -> Self {
        Config {
            concurrency: DEFAULT_CONCURRENCY,
            failure_policy: FailurePolicy::default(),
            response_mode: ResponseMode::default(),
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
            workers: 1,
        }
    }
}
