//! What happened to every record of an invocation, and the response Lambda gets from it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::ResponseMode;

/// The Kafka partial batch response: `{"batchItemFailures":[{"itemIdentifier":{…}}]}`.
///
/// Lambda resumes each listed partition from its lowest listed offset. An empty list means the
/// whole batch succeeded. Lambda reads it only when the event source mapping lists
/// `ReportBatchItemFailures` in `FunctionResponseTypes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// The failed records, by partition in event order, offsets ascending.
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// One entry of [`BatchResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    /// Which record failed.
    pub item_identifier: ItemIdentifier,
}

/// A record's identity in the response: its partition key and offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemIdentifier {
    /// The event's records-map key, `"<topic>-<partition>"`.
    pub partition: String,
    /// The record's offset (a JSON number).
    pub offset: i64,
}

impl BatchResponse {
    /// True when no record failed.
    pub fn is_success(&self) -> bool {
        self.batch_item_failures.is_empty()
    }

    /// The response as the JSON document Lambda receives.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a batch response always serializes")
    }
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler returned `Ok`.
    Succeeded,
    /// Decoding failed, or the handler returned an error, panicked or ran past the deadline.
    Failed(Failure),
    /// Not run: an earlier record of its partition failed (default policy). Lambda delivers it
    /// again, since it resumes the partition from the failed offset.
    Skipped,
    /// Not started: the invocation's remaining time fell below the deadline margin. Counted as
    /// failed, so Lambda delivers it again.
    NotStarted,
}

/// Why a record failed. The message never quotes the record's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failure {
    /// What went wrong.
    pub kind: FailureKind,
    /// A sentence saying what was wrong.
    pub message: String,
}

/// The longest a failure's message is kept, in bytes: it is logged once per failed record (and
/// in `whole_batch` mode up to ten go into the error Lambda gets), and a handler's error can be
/// of any size (a whole HTTP body, say). CloudWatch cuts a log event at 256 KB, which would
/// leave a JSON log line unreadable.
pub(crate) const MAX_FAILURE_MESSAGE: usize = 4096;

impl Failure {
    pub(crate) fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > MAX_FAILURE_MESSAGE {
            let mut end = MAX_FAILURE_MESSAGE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            let cut = message.len() - end;
            message.truncate(end);
            message.push_str(&format!("… ({cut} bytes more)"));
        }
        Failure { kind, message }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

/// The class of a [`Failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The key, value or headers could not be decoded into the handler's types.
    Decode,
    /// The handler returned an error.
    Handler,
    /// The handler panicked.
    Panic,
    /// The handler was still running when the deadline margin was reached.
    Timeout,
    /// The schema registry could not give the writer schema the key or value needs (it could
    /// not be reached, or does not know the schema id). Lambda delivers the record again.
    SchemaRegistry,
}

impl FailureKind {
    /// A short lowercase name: `decode`, `handler`, `panic`, `timeout`, `schema_registry`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Decode => "decode",
            FailureKind::Handler => "handler",
            FailureKind::Panic => "panic",
            FailureKind::Timeout => "timeout",
            FailureKind::SchemaRegistry => "schema_registry",
        }
    }
}

/// The outcomes of one partition's records, in offset order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionReport {
    /// The records-map key, `"<topic>-<partition>"`.
    pub key: String,
    /// `(offset, outcome)` for every record of the partition, in the order they were handled.
    pub outcomes: Vec<(i64, Outcome)>,
}

/// Record counts of one invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Records in the event.
    pub records: usize,
    /// Records whose handler returned `Ok`.
    pub succeeded: usize,
    /// Records that failed (decode, handler error, panic, timeout).
    pub failed: usize,
    /// Records not run because an earlier record of their partition failed.
    pub skipped: usize,
    /// Records not started because the deadline margin was reached.
    pub not_started: usize,
}

/// Every record's outcome in one invocation, and the response derived from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// One report per `records` map entry, in event order.
    pub partitions: Vec<PartitionReport>,
    /// The smallest record timestamp of the event (ms since the epoch): how far behind the
    /// consumer is.
    pub(crate) oldest_timestamp_ms: Option<i64>,
}

impl BatchReport {
    /// How many records ended which way.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for (_, outcome) in self.partitions.iter().flat_map(|p| &p.outcomes) {
            c.records += 1;
            match outcome {
                Outcome::Succeeded => c.succeeded += 1,
                Outcome::Failed(_) => c.failed += 1,
                Outcome::Skipped => c.skipped += 1,
                Outcome::NotStarted => c.not_started += 1,
            }
        }
        c
    }

    /// True when every record succeeded.
    pub fn is_success(&self) -> bool {
        self.partitions.iter().all(|p| p.outcomes.iter().all(|(_, o)| *o == Outcome::Succeeded))
    }

    /// The partial batch response: every offset that did not succeed (failed, not started, or
    /// not run after an earlier failure), in offset order per partition.
    ///
    /// Lambda resumes a partition from the lowest offset listed (the stream semantics AWS
    /// documents for Kinesis and DynamoDB Streams), so for it the first one per partition
    /// would do. The Kafka page says only that Lambda retries "only the failed records": were
    /// that taken literally, a record not run after an earlier failure and left out would be
    /// committed unprocessed. Listed, it is retried under either reading, at a few dozen bytes
    /// a record (10,000 records fit in Lambda's 6 MB response whatever the topic's name).
    pub fn response(&self) -> BatchResponse {
        let mut failures = Vec::new();
        for p in &self.partitions {
            let mut last: Option<i64> = None;
            for (offset, outcome) in &p.outcomes {
                if *outcome == Outcome::Succeeded {
                    continue;
                }
                // Duplicated offsets in one partition are listed once.
                if last != Some(*offset) {
                    failures.push(BatchItemFailure {
                        item_identifier: ItemIdentifier {
                            partition: p.key.clone(),
                            offset: *offset,
                        },
                    });
                    last = Some(*offset);
                }
            }
        }
        BatchResponse { batch_item_failures: failures }
    }

    /// What the invocation returns to Lambda in `mode`: the response, or in
    /// [`ResponseMode::WholeBatch`] an error naming the failed records if any record failed.
    pub fn into_result(self, mode: ResponseMode) -> Result<BatchResponse, BatchFailed> {
        self.into_result_with_report(mode).map(|(response, _)| response)
    }

    /// [`into_result`](Self::into_result), keeping the report on success too.
    pub(crate) fn into_result_with_report(
        self,
        mode: ResponseMode,
    ) -> Result<(BatchResponse, BatchReport), BatchFailed> {
        let response = self.response();
        if mode == ResponseMode::WholeBatch && !response.is_success() {
            return Err(BatchFailed { report: self });
        }
        Ok((response, self))
    }

    /// The failed records with their reasons, in event order.
    pub fn failures(&self) -> impl Iterator<Item = (&str, i64, &Failure)> + '_ {
        self.partitions.iter().flat_map(|p| {
            p.outcomes.iter().filter_map(move |(offset, outcome)| match outcome {
                Outcome::Failed(f) => Some((p.key.as_str(), *offset, f)),
                _ => None,
            })
        })
    }
}

/// In [`ResponseMode::WholeBatch`], the invocation error that makes Lambda retry the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchFailed {
    /// The outcomes that led to it.
    pub report: BatchReport,
}

/// How many failed records an error message names before it says "and N more".
const NAMED_FAILURES: usize = 10;

impl fmt::Display for BatchFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.report.counts();
        write!(
            f,
            "{} of {} records did not succeed ({} failed, {} not run after an earlier failure, {} not started before the deadline); the invocation fails so that Lambda retries the whole batch",
            c.records - c.succeeded,
            c.records,
            c.failed,
            c.skipped,
            c.not_started
        )?;
        for (named, (key, offset, failure)) in self.report.failures().enumerate() {
            if named == NAMED_FAILURES {
                return write!(f, "; and {} more", c.failed - named);
            }
            write!(f, "; {key}@{offset}: {failure}")?;
        }
        if c.not_started > 0 {
            let first = self.report.partitions.iter().find_map(|p| {
                p.outcomes
                    .iter()
                    .find(|(_, o)| *o == Outcome::NotStarted)
                    .map(|(offset, _)| (p.key.as_str(), *offset))
            });
            if let Some((key, offset)) = first {
                write!(f, "; from {key}@{offset} records were not started before the deadline")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for BatchFailed {}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> Outcome {
        Outcome::Failed(Failure::new(FailureKind::Handler, "boom"))
    }

    fn report() -> BatchReport {
        BatchReport {
            partitions: vec![
                PartitionReport {
                    key: "a-0".into(),
                    outcomes: vec![(1, Outcome::Succeeded), (2, failed()), (3, failed())],
                },
                PartitionReport { key: "a-1".into(), outcomes: vec![(7, Outcome::Succeeded)] },
                PartitionReport {
                    key: "b.c-d-2".into(),
                    outcomes: vec![(5, Outcome::NotStarted), (6, Outcome::NotStarted)],
                },
            ],
            oldest_timestamp_ms: None,
        }
    }

    /// Every record that did not succeed: failed, not started, and not run after an earlier
    /// failure (the default policy's outcome).
    #[test]
    fn responses_list_every_record_that_did_not_succeed() {
        let all = r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"a-0","offset":2}},{"itemIdentifier":{"partition":"a-0","offset":3}},{"itemIdentifier":{"partition":"b.c-d-2","offset":5}},{"itemIdentifier":{"partition":"b.c-d-2","offset":6}}]}"#;
        assert_eq!(report().response().to_json(), all);
        let mut stopped = report();
        stopped.partitions[0].outcomes[2].1 = Outcome::Skipped;
        assert_eq!(stopped.response().to_json(), all);
        assert_eq!(BatchResponse::default().to_json(), r#"{"batchItemFailures":[]}"#);
    }

    #[test]
    fn long_messages_are_cut_at_a_character() {
        let long = format!("{}é{}", "x".repeat(MAX_FAILURE_MESSAGE - 1), "y".repeat(100));
        let failure = Failure::new(FailureKind::Handler, long);
        assert_eq!(
            failure.message,
            format!("{}… (102 bytes more)", "x".repeat(MAX_FAILURE_MESSAGE - 1))
        );
        let short = Failure::new(FailureKind::Handler, "é".repeat(10));
        assert_eq!(short.message, "é".repeat(10));
    }

    #[test]
    fn whole_batch_errors_name_the_records() {
        let err = report().into_result(ResponseMode::WholeBatch).unwrap_err();
        assert_eq!(
            err.to_string(),
            "4 of 6 records did not succeed (2 failed, 0 not run after an earlier failure, 2 not started before the deadline); the invocation fails so that Lambda retries the whole batch; a-0@2: handler: boom; a-0@3: handler: boom; from b.c-d-2@5 records were not started before the deadline"
        );
        let ok = BatchReport { partitions: vec![], oldest_timestamp_ms: None };
        assert_eq!(ok.into_result(ResponseMode::WholeBatch), Ok(BatchResponse::default()));
    }
}
