//! Support for tests and fuzzing only (the `__differential` feature; not public API): the fast
//! parser checked against serde_json.

#[cfg(feature = "__differential")]
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

use super::fast_parser;
use super::headers::decode_headers;
use super::wire::Wire;

/// Panics when the fast path accepts `json` but serde_json rejects it or reads it differently.
/// For the fuzz target and the fuzz smoke test (through `msk_lambda::__differential`).
pub fn check_against_serde(json: &[u8]) {
    let Some(fast) = fast_parser::parse(json) else { return };
    let serde = serde_json::from_slice::<Wire<'_>>(json).unwrap_or_else(|e| {
        panic!(
            "the fast parser accepted an event serde_json rejects ({e}): {:?}",
            String::from_utf8_lossy(json)
        )
    });
    assert_eq!(normalize(fast), normalize(serde), "{:?}", String::from_utf8_lossy(json));
}

/// Panics when the fast JSON reader behind `Json<T>` accepts `json` but serde_json rejects it or
/// reads it differently, for `serde_json::Value` and a struct of most serde shapes. For the
/// fuzz target and the fuzz smoke test.
#[cfg(feature = "__differential")]
pub fn check_json_against_serde(json: &[u8]) {
    crate::json_fast::check_against_serde(json);
}

/// Whether the fast JSON reader behind `Json<T>` reads `json` as a `serde_json::Value` itself
/// (rather than leaving it to serde_json). Tests use it to prove they reach it.
#[cfg(feature = "__differential")]
pub fn json_fast_reads(json: &[u8]) -> bool {
    crate::json_fast::reads_value(json)
}

/// How many records of `json` the fast parser read in exactly Lambda's layout (its straight-line
/// path), or `None` when it declines the event. Tests use it to prove they reach that path.
pub fn lambda_layout_records(json: &[u8]) -> Option<usize> {
    fast_parser::parse_counting(json).map(|(_, records)| records)
}

fn normalize(wire: Wire<'_>) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{:?} {:?} {:?} {}\n",
        wire.event_source,
        wire.event_source_arn,
        wire.bootstrap_servers,
        wire.upper_records.is_some()
    );
    let decoded = Bytes::from(wire.headers);
    for batch in wire.records.map(|m| m.0).into_iter().flatten() {
        let _ = writeln!(out, "{:?} {:?} {:?}", batch.key, batch.topic, batch.other_topic);
        for r in batch.records {
            let headers = decode_headers(r.headers, &decoded);
            let _ = writeln!(
                out,
                "  {} {} {} {:?} {:?} {:?} {:?} {:?} {:?}",
                r.partition,
                r.offset,
                r.timestamp,
                r.timestamp_type,
                r.key,
                r.value,
                headers
                    .map(|h| h.iter().map(|(n, v)| (n.to_owned(), v.to_vec())).collect::<Vec<_>>()),
                r.schemas.as_ref().map(|s| &s.key),
                r.schemas.as_ref().map(|s| &s.value)
            );
        }
    }
    out
}

#[cfg(feature = "__differential")]
static FAST_PARSER: AtomicBool = AtomicBool::new(true);

#[cfg(feature = "__differential")]
/// Turns the fast parser off (or on again) for the whole process, so every event is parsed by
/// serde_json into the wire types: the simple alternative the benchmarks weigh the fast parser
/// against. On by default.
pub fn use_fast_parser(on: bool) {
    FAST_PARSER.store(on, Ordering::Relaxed);
}

#[cfg(feature = "__differential")]
pub(super) fn fast_parser_on() -> bool {
    FAST_PARSER.load(Ordering::Relaxed)
}
