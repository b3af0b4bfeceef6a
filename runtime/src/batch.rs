//! The batch engine: partitions concurrently, records of a partition in offset order, and an
//! outcome for every record.

use std::any::type_name;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::config::{Config, FailurePolicy};
use crate::decode::Decode;
use crate::event::{decode_headers, Base64, PartitionBatch, RawRecord};
use crate::handler::Handler;
use crate::record::{InvocationContext, Record, RecordShared};
use crate::report::{Failure, FailureKind, Outcome, PartitionReport};

/// Standard base64 as Lambda writes it; missing padding is tolerated.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Runs every partition of the event and reports every record's outcome.
pub(crate) async fn run_batch<V, K, S, H>(
    partitions: Vec<PartitionBatch<'_>>,
    context: &Arc<InvocationContext>,
    config: &Config,
    handler: &H,
    state: &S,
) -> Vec<PartitionReport>
where
    V: Decode,
    K: Decode,
    H: Handler<V, K, S>,
{
    let cutoff = cutoff(context, config);
    let count = partitions.len();
    let mut reports: Vec<(usize, PartitionReport)> =
        futures_util::stream::iter(partitions.into_iter().enumerate())
            .map(|(i, batch)| async move {
                (i, run_partition(batch, context, config, cutoff, handler, state).await)
            })
            .buffer_unordered(config.concurrency)
            .collect()
            .await;
    debug_assert_eq!(reports.len(), count);
    // Partitions finish in any order; the report (and so the response) follows the event.
    reports.sort_unstable_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// The instant after which no record may start: the deadline minus the margin.
fn cutoff(context: &InvocationContext, config: &Config) -> Instant {
    let left = context.remaining_time().saturating_sub(config.deadline_margin);
    Instant::now() + left
}

async fn run_partition<V, K, S, H>(
    batch: PartitionBatch<'_>,
    context: &Arc<InvocationContext>,
    config: &Config,
    cutoff: Instant,
    handler: &H,
    state: &S,
) -> PartitionReport
where
    V: Decode,
    K: Decode,
    H: Handler<V, K, S>,
{
    let mut shared = PartitionShared::new(&batch, context);
    // Its own handle on the key: `shared` is lent to each record's decoding below.
    let partition = Arc::clone(&shared.record);
    let key = &*partition.partition_key;
    let mut outcomes = Vec::with_capacity(batch.records.len());
    // Set once a record fails (default policy) or the deadline passes: what the rest become.
    let mut rest: Option<Outcome> = None;
    // Records are read in place (moving each out of the list would copy it).
    let mut records = batch.records;
    for raw in &mut records {
        let offset = raw.offset;
        if let Some(outcome) = &rest {
            outcomes.push((offset, outcome.clone()));
            continue;
        }
        if Instant::now() >= cutoff {
            outcomes.push((offset, Outcome::NotStarted));
            rest = Some(Outcome::NotStarted);
            continue;
        }
        // A span per record (debug level: free unless enabled) around decoding and the handler,
        // so the handler's own logs carry the partition and offset.
        // Without it, the call is not wrapped at all: a record is moved as few times as can be.
        let span = tracing::enabled!(tracing::Level::DEBUG)
            .then(|| tracing::debug_span!("record", partition = key, offset));
        let decoded = match &span {
            Some(span) => span.in_scope(|| decode::<V, K>(raw, &mut shared)),
            None => decode::<V, K>(raw, &mut shared),
        };
        let outcome = match decoded {
            Err(failure) => Outcome::Failed(failure),
            Ok(record) => {
                let call = std::pin::pin!(handler.call(record, state));
                match span {
                    Some(span) => run_one(call, cutoff, config).instrument(span).await,
                    None => run_one(call, cutoff, config).await,
                }
            }
        };
        if let Outcome::Failed(failure) = &outcome {
            tracing::warn!(
                partition = key,
                offset,
                kind = failure.kind.as_str(),
                reason = %failure.message,
                "record failed"
            );
            if failure.kind == FailureKind::Timeout {
                rest = Some(Outcome::NotStarted);
            } else if config.failure_policy == FailurePolicy::StopPartition {
                rest = Some(Outcome::Skipped);
            }
        }
        outcomes.push((offset, outcome));
    }
    PartitionReport { key: key.to_owned(), outcomes }
}

/// Runs one handler call: errors, panics and running past the cutoff all become a failure.
/// The call is pinned where the caller made it, so the record inside is not moved again.
async fn run_one<F, E>(mut call: Pin<&mut F>, cutoff: Instant, config: &Config) -> Outcome
where
    F: Future<Output = Result<(), E>>,
    E: Into<crate::Error>,
{
    // Most handlers finish on their first poll: the deadline timer is only created for those
    // that do not, so a fast handler costs no timer registration.
    let mut timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let finished = std::future::poll_fn(|cx| {
        // A panic in any poll fails the record (the call is not polled again).
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(cx)));
        match polled {
            Ok(Poll::Ready(result)) => return Poll::Ready(Ok(Ok(result))),
            Err(panic) => return Poll::Ready(Ok(Err(panic))),
            Ok(Poll::Pending) => {}
        }
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(cutoff)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(())),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    match finished {
        Ok(Ok(Ok(()))) => Outcome::Succeeded,
        Ok(Ok(Err(e))) => {
            Outcome::Failed(Failure::new(FailureKind::Handler, error_chain(&*e.into())))
        }
        Ok(Err(panic)) => Outcome::Failed(Failure::new(
            FailureKind::Panic,
            format!("the handler panicked: {}", panic_message(&*panic)),
        )),
        Err(_) => Outcome::Failed(Failure::new(
            FailureKind::Timeout,
            format!(
                "the handler was still running {} ms before the invocation deadline (the deadline margin) and was cancelled",
                config.deadline_margin.as_millis()
            ),
        )),
    }
}

/// What the records of one partition share while they are decoded.
pub(crate) struct PartitionShared {
    /// Records-map key, topic, invocation context.
    pub record: Arc<RecordShared>,
    /// The headers the fast parser decoded (see [`crate::event::RawHeaders::Decoded`]).
    pub headers: Bytes,
    /// Keys and values are base64-decoded into this buffer and split off per record, so a
    /// record's bytes cost no allocation. Once the records decoded into it are dropped (their
    /// handlers are done), the buffer is reused from its start: decoding stays in a small,
    /// cache-hot region instead of touching fresh memory for every record. A record the handler
    /// keeps holds on to its part, as `Bytes` slices do, and the buffer moves on to a new one.
    pub payloads: BytesMut,
}

/// The most [`PartitionShared::payloads`] holds before it is reused or replaced.
const PAYLOAD_BUFFER: usize = 64 * 1024;

impl PartitionShared {
    pub(crate) fn new(batch: &PartitionBatch<'_>, context: &Arc<InvocationContext>) -> Self {
        // Room for every key and value decoded (3 bytes per 4 characters), up to the cap.
        let encoded: usize = batch
            .records
            .iter()
            .map(|r| {
                let len = |b: &Option<Base64<'_>>| b.as_ref().map_or(0, |b| b.0.len());
                len(&r.key) + len(&r.value)
            })
            .sum();
        PartitionShared {
            record: Arc::new(RecordShared {
                partition_key: batch.key.to_string(),
                topic: batch.records.first().map_or("", |r| &*r.topic).to_owned(),
                context: Arc::clone(context),
            }),
            headers: batch.headers.clone(),
            payloads: BytesMut::with_capacity((encoded / 4 * 3).min(PAYLOAD_BUFFER)),
        }
    }
}

/// Builds the typed record, or says which part of it could not be decoded.
pub(crate) fn decode<V: Decode, K: Decode>(
    raw: &mut RawRecord<'_>,
    shared: &mut PartitionShared,
) -> Result<Record<V, K>, Failure> {
    let decode_error = |message: String| Failure::new(FailureKind::Decode, message);
    let headers =
        decode_headers(std::mem::take(&mut raw.headers), &shared.headers).map_err(decode_error)?;
    let raw_key =
        base64_field("key", raw.key.as_ref(), &mut shared.payloads).map_err(decode_error)?;
    let raw_value =
        base64_field("value", raw.value.as_ref(), &mut shared.payloads).map_err(decode_error)?;
    let decoded_key = catch_decode::<K>(raw_key.as_ref()).map_err(|e| {
        decode_error(if e.is_missing() {
            format!(
                "the key is absent or null, but the key type `{0}` needs one; declare it as `Option<{0}>` to accept records without a key",
                short_type_name::<K>()
            )
        } else {
            format!("the key could not be decoded as `{}`: {e}", short_type_name::<K>())
        })
    })?;
    let value = catch_decode::<V>(raw_value.as_ref()).map_err(|e| {
        decode_error(if e.is_missing() {
            format!(
                "the value is null or absent (a tombstone), but the value type `{0}` needs one; declare it as `Option<{0}>` to accept tombstones",
                short_type_name::<V>()
            )
        } else {
            format!("the value could not be decoded as `{}`: {e}", short_type_name::<V>())
        })
    })?;
    Ok(Record {
        shared: Arc::clone(&shared.record),
        partition: raw.partition,
        offset: raw.offset,
        timestamp: raw.timestamp,
        timestamp_type: raw.timestamp_type,
        key: decoded_key,
        value,
        raw_key,
        raw_value,
        headers,
        key_schema: raw.key_schema_metadata.take(),
        value_schema: raw.value_schema_metadata.take(),
    })
}

/// Base64-decodes a key or value into `payloads` (see [`PartitionShared::payloads`]).
fn base64_field(
    field: &str,
    text: Option<&Base64<'_>>,
    payloads: &mut BytesMut,
) -> Result<Option<Bytes>, String> {
    let Some(Base64(text)) = text else { return Ok(None) };
    // Fast path: padded standard base64, as Lambda writes it, with SIMD (chosen at run time).
    if let Ok(len) = base64_simd::STANDARD.decoded_length(text) {
        payloads.clear();
        payloads.resize(len, 0);
        let out = base64_simd::Out::from_slice(&mut payloads[..]);
        if base64_simd::STANDARD.decode(text, out).is_ok() {
            return Ok(Some(payloads.split_to(len).freeze()));
        }
        payloads.clear();
    }
    // Anything else (no padding, or an error to describe) takes the scalar decoder.
    match BASE64.decode(text) {
        Ok(buf) => Ok(Some(Bytes::from(buf))),
        Err(e) => Err(format!("the {field} is not valid base64: {}", base64_reason(&e))),
    }
}

/// base64's own messages quote the offending byte; this one gives only its position.
fn base64_reason(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(at, _) => format!("invalid character at index {at}"),
        base64::DecodeError::InvalidLength(len) => format!("invalid length {len}"),
        base64::DecodeError::InvalidLastSymbol(at, _) => {
            format!("invalid last character at index {at}")
        }
        base64::DecodeError::InvalidPadding => "invalid padding".to_owned(),
    }
}

/// A user's `Decode` impl that panics fails its record like any decode error.
fn catch_decode<T: Decode>(bytes: Option<&Bytes>) -> Result<T, crate::DecodeError> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| T::decode(bytes))) {
        Ok(result) => result,
        Err(panic) => Err(crate::DecodeError::invalid(format_args!(
            "the decoder panicked: {}",
            panic_message(&*panic)
        ))),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(a non-string panic payload)"
    }
}

/// `outer: inner: root`, the way anyhow prints `{:#}`.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// `core::option::Option<alloc::string::String>` → `Option<String>`.
pub(crate) fn short_type_name<T>() -> String {
    let full = type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    for (i, c) in full.char_indices() {
        if matches!(c, '<' | '>' | ',' | ' ' | '(' | ')' | '[' | ']' | '&' | ';') {
            out.push_str(last_path_segment(&full[segment_start..i]));
            out.push(c);
            segment_start = i + 1;
        }
    }
    out.push_str(last_path_segment(&full[segment_start..]));
    out
}

fn last_path_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_short() {
        assert_eq!(short_type_name::<Option<String>>(), "Option<String>");
        assert_eq!(short_type_name::<crate::Json<Vec<u8>>>(), "Json<Vec<u8>>");
        assert_eq!(short_type_name::<(u8, bytes::Bytes)>(), "(u8, Bytes)");
    }

    #[test]
    fn base64_errors_quote_no_bytes() {
        let mut payloads = BytesMut::new();
        let mut field = |text: &str| {
            base64_field("value", Some(&Base64(text.as_bytes().into())), &mut payloads)
        };
        assert_eq!(
            field("QUJD*").unwrap_err(),
            "the value is not valid base64: invalid character at index 4"
        );
        for (text, bytes) in
            [("QUJD", "ABC"), ("QUI", "AB"), ("QUI=", "AB"), ("QQ==", "A"), ("QQ", "A"), ("", "")]
        {
            let decoded = field(text).unwrap().unwrap();
            assert_eq!(decoded, bytes, "{text}");
        }
        assert!(field("Q").is_err());
        assert!(field("QUJD=").is_err());
        assert_eq!(base64_field("key", None, &mut BytesMut::new()).unwrap(), None);
    }
}
