//! Bulk handlers: the decoded records of one partition at once, for sinks that write in bulk.

use std::fmt;
use std::future::Future;

use crate::record::Record;
use crate::Error;

/// The decoded records of one partition in one invocation, in offset order: what a bulk
/// handler receives (see [`Consumer::bulk`](crate::Consumer::bulk)).
///
/// Records that failed to decode are not in it (they are reported failed on their own); under
/// the default failure policy neither is anything after a partition's first such record.
pub struct Batch<V, K = ()> {
    pub(crate) topic_partition: String,
    pub(crate) records: Vec<Record<V, K>>,
}

impl<V, K> Batch<V, K> {
    /// The partition's records-map key, `"<topic>-<partition>"`.
    pub fn topic_partition(&self) -> &str {
        &self.topic_partition
    }

    /// The records, in offset order.
    pub fn records(&self) -> &[Record<V, K>] {
        &self.records
    }

    /// The records, in offset order, by value.
    pub fn into_records(mut self) -> Vec<Record<V, K>> {
        std::mem::take(&mut self.records)
    }

    /// How many records there are (at least one: a batch is never handed over empty).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records (never, for a batch a handler receives).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records in offset order.
    pub fn iter(&self) -> std::slice::Iter<'_, Record<V, K>> {
        self.records.iter()
    }
}

impl<V, K> IntoIterator for Batch<V, K> {
    type Item = Record<V, K>;
    type IntoIter = std::vec::IntoIter<Record<V, K>>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_records().into_iter()
    }
}

/// Each record dropped on its own, a panic in its destructor (user code) caught: a second panic
/// while the first unwinds would abort the process, where a batch dropped as a `Vec` drops its
/// other records.
impl<V, K> Drop for Batch<V, K> {
    fn drop(&mut self) {
        for record in self.records.drain(..) {
            let (topic_partition, offset) = (&self.topic_partition, record.offset());
            if let Err(panic) = crate::unwind::drop_guarded(record) {
                let panic = crate::unwind::panic_message(&*panic);
                tracing::warn!(topic_partition, offset, panic, "a record's destructor panicked");
            }
        }
    }
}

impl<'a, V, K> IntoIterator for &'a Batch<V, K> {
    type Item = &'a Record<V, K>;
    type IntoIter = std::slice::Iter<'a, Record<V, K>>;

    fn into_iter(self) -> Self::IntoIter {
        self.records.iter()
    }
}

impl<V, K> fmt::Debug for Batch<V, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offsets =
            self.records.first().map(Record::offset).zip(self.records.last().map(Record::offset));
        f.debug_struct("Batch")
            .field("topic_partition", &self.topic_partition)
            .field("records", &self.records.len())
            .field("offsets", &offsets.map(|(first, last)| first..=last))
            .finish()
    }
}

/// Why a bulk handler's batch did not (entirely) succeed: every record failed, or some named
/// by offset. Any `E: Into<msk_lambda::Error>` converts into "all failed", so `?` fails the
/// whole batch:
///
/// ```
/// use msk_lambda::{Batch, BatchError, Json};
/// # #[derive(serde::Deserialize)] struct Row { id: u64 }
/// # async fn insert_all(rows: &[&Row]) -> Result<(), std::io::Error> { Ok(()) }
/// # fn valid(row: &Row) -> bool { true }
/// async fn handle(batch: Batch<Json<Row>>) -> Result<(), BatchError> {
///     let mut failed = BatchError::none();
///     let mut rows = Vec::new();
///     for record in &batch {
///         if valid(record.value()) {
///             rows.push(&**record.value());
///         } else {
///             failed = failed.record(record.offset(), "invalid row");
///         }
///     }
///     insert_all(&rows).await?; // an error fails every record of the batch
///     failed.into_result()
/// }
/// ```
///
/// Deliberately not a `std::error::Error` itself (as `anyhow::Error` is not), so that the
/// conversion from every error type can exist.
pub struct BatchError {
    pub(crate) kind: BatchErrorKind,
}

pub(crate) enum BatchErrorKind {
    /// Every record handed over failed.
    All(Error),
    /// These records failed (by offset), the others succeeded.
    Records(Vec<(i64, Error)>),
}

impl BatchError {
    /// Every record of the batch failed, for this reason.
    pub fn all(error: impl Into<Error>) -> Self {
        BatchError { kind: BatchErrorKind::All(error.into()) }
    }

    /// No record failed yet: add failures with [`record`](BatchError::record), then
    /// [`into_result`](BatchError::into_result).
    pub fn none() -> Self {
        BatchError { kind: BatchErrorKind::Records(Vec::new()) }
    }

    /// The record at `offset` failed, for this reason, as well as any already named. Offsets
    /// not in the batch are ignored (with a warning in the logs), but an error that names only
    /// such offsets fails every record of the batch, as does `Err(BatchError::none())`: an
    /// error never turns into success. On an "all failed" error this changes nothing.
    #[must_use]
    pub fn record(mut self, offset: i64, error: impl Into<Error>) -> Self {
        if let BatchErrorKind::Records(records) = &mut self.kind {
            records.push((offset, error.into()));
        }
        self
    }

    /// The records at these offsets failed.
    pub fn records<E: Into<Error>>(failed: impl IntoIterator<Item = (i64, E)>) -> Self {
        let failed = failed.into_iter().map(|(offset, e)| (offset, e.into())).collect();
        BatchError { kind: BatchErrorKind::Records(failed) }
    }

    /// `Ok(())` when no record failed (an empty [`none`](BatchError::none)), `Err(self)`
    /// otherwise: the handler's return value.
    pub fn into_result(self) -> Result<(), BatchError> {
        match &self.kind {
            BatchErrorKind::Records(records) if records.is_empty() => Ok(()),
            _ => Err(self),
        }
    }
}

impl<E: Into<Error>> From<E> for BatchError {
    fn from(error: E) -> Self {
        BatchError::all(error)
    }
}

impl fmt::Debug for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BatchErrorKind::All(e) => f.debug_tuple("BatchError::All").field(e).finish(),
            BatchErrorKind::Records(records) => {
                let offsets: Vec<i64> = records.iter().map(|(o, _)| *o).collect();
                f.debug_tuple("BatchError::Records").field(&offsets).finish()
            }
        }
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BatchErrorKind::All(e) => {
                write!(f, "every record failed: {}", crate::error::chain(&**e))
            }
            BatchErrorKind::Records(records) => write!(f, "{} record(s) failed", records.len()),
        }
    }
}

/// Handles the records of one partition at once, with access to shared state `S`.
///
/// Sealed, like [`Handler`](crate::Handler): [`Consumer::bulk`](crate::Consumer::bulk) and
/// [`Consumer::bulk_with_state`](crate::Consumer::bulk_with_state) accept plain `async fn`s.
#[diagnostic::on_unimplemented(
    message = "this function cannot handle a `Batch<{V}, {K}>` of records",
    note = "a bulk handler is `async fn(Batch<V, K>) -> Result<(), E>`, or with state `async fn(Batch<V, K>, &S) -> Result<(), E>`, where `E: Into<msk_lambda::BatchError>` (`BatchError` itself, or any `E: Into<msk_lambda::Error>`)"
)]
pub trait BatchHandler<V, K, S>: sealed::Sealed {
    /// Handles one partition's records.
    fn call(&self, batch: Batch<V, K>, state: &S) -> impl Future<Output = Result<(), BatchError>>;
}

/// An `async fn(Batch<V, K>) -> Result<(), E>`.
#[derive(Debug, Clone, Copy)]
pub struct Bulk<F>(pub(crate) F);

/// An `async fn(Batch<V, K>, &S) -> Result<(), E>`.
#[derive(Debug, Clone, Copy)]
pub struct BulkStateful<F>(pub(crate) F);

mod sealed {
    /// Keeps [`BatchHandler`](super::BatchHandler) to the wrappers of this module.
    pub trait Sealed {}

    impl<F> Sealed for super::Bulk<F> {}
    impl<F> Sealed for super::BulkStateful<F> {}
}

impl<F, V, K, E> BatchHandler<V, K, ()> for Bulk<F>
where
    F: AsyncFn(Batch<V, K>) -> Result<(), E>,
    E: Into<BatchError>,
{
    fn call(&self, batch: Batch<V, K>, _: &()) -> impl Future<Output = Result<(), BatchError>> {
        let call = (self.0)(batch);
        async move { call.await.map_err(Into::into) }
    }
}

impl<F, V, K, S, E> BatchHandler<V, K, S> for BulkStateful<F>
where
    F: AsyncFn(Batch<V, K>, &S) -> Result<(), E>,
    E: Into<BatchError>,
{
    fn call(&self, batch: Batch<V, K>, state: &S) -> impl Future<Output = Result<(), BatchError>> {
        let call = (self.0)(batch, state);
        async move { call.await.map_err(Into::into) }
    }
}
