//! Facts about one invocation that all its records share.

use std::time::{Duration, SystemTime};

/// Where the event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventSource {
    /// Amazon MSK (`aws:kafka`).
    Msk,
    /// A self-managed Apache Kafka cluster (`SelfManagedKafka`).
    SelfManagedKafka,
}

impl EventSource {
    /// The `eventSource` string Lambda sends.
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Msk => "aws:kafka",
            EventSource::SelfManagedKafka => "SelfManagedKafka",
        }
    }
}

/// Facts about one invocation, shared by all its records.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InvocationContext {
    /// The Lambda request id (`local` in local runs and tests).
    pub request_id: String,
    /// When Lambda will stop the invocation.
    pub deadline: SystemTime,
    /// The ARN the function was invoked with (empty in local runs).
    pub invoked_function_arn: String,
    /// The X-Ray trace header of the invocation, when tracing is active.
    pub xray_trace_id: Option<String>,
    /// MSK or self-managed Kafka; `None` if the event did not say.
    pub event_source: Option<EventSource>,
    /// The cluster ARN (MSK only).
    pub event_source_arn: Option<String>,
    /// The cluster's bootstrap servers, comma-separated, as Lambda sent them.
    pub bootstrap_servers: Option<String>,
}

impl InvocationContext {
    /// A context for tests and local runs: request id `local`, and a deadline the function's
    /// timeout away: `AWS_LAMBDA_FUNCTION_TIMEOUT` seconds (1 to 900) when it is set, as the
    /// Lambda runtime interface emulator and `sam local` set it, else 15 minutes (Lambda's
    /// longest timeout). Set it to the deployed function's timeout to see locally which records
    /// a batch would not start in time.
    pub fn local() -> Self {
        let timeout = std::env::var("AWS_LAMBDA_FUNCTION_TIMEOUT")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|s| (1..=900).contains(s))
            .unwrap_or(15 * 60);
        InvocationContext::with_deadline(SystemTime::now() + Duration::from_secs(timeout))
    }

    /// A local context with the given deadline.
    pub fn with_deadline(deadline: SystemTime) -> Self {
        InvocationContext {
            request_id: "local".to_owned(),
            deadline,
            invoked_function_arn: String::new(),
            xray_trace_id: None,
            event_source: None,
            event_source_arn: None,
            bootstrap_servers: None,
        }
    }

    /// Time left before Lambda stops the invocation (zero once past the deadline).
    pub fn remaining_time(&self) -> Duration {
        self.deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO)
    }
}
