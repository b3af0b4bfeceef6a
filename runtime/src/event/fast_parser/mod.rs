//! The fast path of event parsing: a single pass over the bytes, specialised for the Kafka event
//! layout, that borrows every string and decodes headers as it goes.
//!
//! It accepts only plain forms: strings without escapes, integers without fractions or
//! exponents, no duplicate fields. For anything else it returns `None` and the event is parsed
//! by serde_json instead (`Envelope::parse`), which also writes every error message. So this
//! parser never needs to be right about an error, only never to accept what serde_json would
//! reject or read differently; `tests/tests/fuzz_smoke.rs` and the unit tests below compare the
//! two on random and mutated events.

mod envelope;
mod headers;
mod lexer;
mod record;

use crate::event::wire::Wire;

/// Nesting deeper than this goes to serde_json (which stops at 128).
const MAX_DEPTH: u32 = 64;

/// Parses the event, or `None` if it is not in the plain form this parser takes.
pub(crate) fn parse(json: &[u8]) -> Option<Wire<'_>> {
    parse_counting(json).map(|(wire, _)| wire)
}

/// [`parse`], and how many records were read in exactly Lambda's layout, by the straight-line
/// reader (the differential tests prove with it that they reach that path).
pub(crate) fn parse_counting(json: &[u8]) -> Option<(Wire<'_>, usize)> {
    let mut p = Parser {
        json,
        at: 0,
        last_topic: None,
        // Sized up front: growing them from nothing costs a small event several reallocations.
        header_names: Vec::with_capacity(headers::MAX_CACHED_NAMES),
        header_values: Vec::with_capacity(headers::MAX_CACHED_NAMES),
        // A guess (a record's decoded headers are a fraction of its text); capacity a large
        // event does not use is never touched.
        headers: Vec::with_capacity(json.len() / 16),
        lambda_layout_records: 0,
    };
    let wire = p.envelope()?;
    p.ws();
    (p.at == json.len()).then_some((wire, p.lambda_layout_records))
}

/// The parser's state: the input and where it is, and what earlier records taught it.
struct Parser<'a> {
    json: &'a [u8],
    at: usize,
    /// The previous record's topic (records of a partition share one).
    last_topic: Option<&'a str>,
    /// Header names seen so far (most records carry the same few).
    header_names: Vec<&'a str>,
    /// For each remembered header name (same index), the last value read for it: its JSON text
    /// (`[…]`) and where its decoded bytes are in `headers`. Many headers carry the same value
    /// in every record (a content type, a source, a schema version).
    header_values: Vec<Option<HeaderValue<'a>>>,
    /// The decoded headers of all records (see [`crate::event::wire::RawHeaders::Decoded`]).
    headers: Vec<u8>,
    /// Records read in exactly Lambda's layout (see [`parse_counting`]).
    lambda_layout_records: usize,
}

/// A header value already decoded: its JSON text and its bytes' range in `Parser::headers`.
#[derive(Clone, Copy)]
struct HeaderValue<'a> {
    json: &'a [u8],
    start: usize,
    end: usize,
}

/// Sets a field once; a duplicate sends the event to serde (which reports it).
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::wire::RawHeaders;

    #[test]
    fn plain_events_take_the_fast_path() {
        let event = br#"{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","partition":0,"offset":5,"timestamp":1,"timestampType":"CREATE_TIME","key":null,"value":"QUJD","headers":[{"a":[1,-1]}],"x":[{"y":1.5e3,"z":[true,false,null]}]}]},"other":{}}"#;
        let wire = parse(event).unwrap();
        let decoded = bytes::Bytes::from(wire.headers);
        let records = &wire.records.unwrap().0[0].records;
        assert_eq!(records[0].offset, 5);
        assert!(matches!(records[0].headers, RawHeaders::Decoded { .. }));
        let headers = crate::event::decode_headers(records[0].headers.clone(), &decoded).unwrap();
        assert_eq!(headers.first("a"), Some(&[1, 255][..]));
        // The straight-line reader read the headers before it met `x` and gave way: what it
        // decoded is not left behind in the buffer (only the general reader's copy is).
        assert_eq!(
            decoded.len(),
            1 + 1 + 1 + 2,
            "one header: two one-byte lengths, `a`, two bytes"
        );
    }

    /// The shortcuts (expected field order, remembered topic and header names, byte patterns)
    /// read exactly what serde_json reads, in and out of Lambda's usual layout.
    #[test]
    fn shortcuts_agree_with_serde() {
        let fast = [
            // Lambda's order, then shuffled, then with unknown fields and whitespace.
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"timestamp":2,"timestampType":"CREATE_TIME","key":"QQ==","value":"QUJD","headers":[{"a":[1,-1]},{"ab":[]}]}]}}"#,
            r#"{"records":{"t-0":[{"value":"QUJD","offset":1,"headers":[{"ab":[3]},{"a":[0,127,-128]}],"partition":0,"topic":"t"}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","zz":[1,{"k":"v"}],"partition":0,"offset":1,"timestampType":"LOG_APPEND_TIME"}]}}"#,
            r#"{"records":{"t-0":[ { "topic" : "t" , "partition" : 0 , "offset" : 1 , "headers" : [ { "a" : [ 1 , 2 ] } ] } ]}}"#,
            // Lambda's order up to the headers, then more: read again by the general path.
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"timestamp":2,"timestampType":"CREATE_TIME","key":null,"value":"QUJD","headers":[{"a":[1]}],"valueSchemaMetadata":{"dataFormat":"AVRO","schemaId":"s"}},{"topic":"t","partition":0,"offset":2,"timestamp":2,"timestampType":"CREATE_TIME","key":null,"value":null,"headers":[{"b":[2]}]}]}}"#,
            // A remembered topic or header name that is a prefix of the next one.
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[1]}]}],"tt-0":[{"topic":"tt","partition":0,"offset":2,"headers":[{"ab":[2]},{"a":[3]}]}]}}"#,
            r#"{"records":{"tt-0":[{"topic":"tt","partition":0,"offset":1}],"t-0":[{"topic":"t","partition":0,"offset":2,"timestampType":"OTHER"}]}}"#,
            // Integers at the edges of the unchecked fast path.
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":999999999999999999,"timestamp":-9223372036854775808}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":9223372036854775807,"timestamp":-1}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[0,-9,10,-99,100]}]}]}}"#,
            // Compact up to a point, then whitespace: read again by the general path.
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"timestamp":2,"timestampType":"CREATE_TIME","key":null,"value":null,"headers":[{"a":[-128,127]},{"b":[1, 2]}]}]}}"#,
        ];
        // The first is in Lambda's exact layout: read by the straight-line reader.
        assert_eq!(crate::event::differential::lambda_layout_records(fast[0].as_bytes()), Some(1));
        for event in fast {
            assert!(parse(event.as_bytes()).is_some(), "{event}");
            crate::event::differential::check_against_serde(event.as_bytes());
        }
        // Values of 128 bytes and more (their length widens when the header ends), repeated
        // from record to record, between short ones.
        let long = |n: usize| (0..n).map(|i| (i % 200) as i32 - 100).map(|b| b.to_string());
        let long = |n| format!("[{}]", long(n).collect::<Vec<_>>().join(","));
        let records: Vec<String> = [(1, 200, 3), (2, 200, 3), (3, 127, 128), (4, 127, 128), (5, 300, 3)]
            .iter()
            .map(|(offset, a, b)| {
                format!(
                    r#"{{"topic":"t","partition":0,"offset":{offset},"headers":[{{"a":{}}},{{"b":{}}},{{"a":{}}}]}}"#,
                    long(*a),
                    long(*b),
                    long(*a)
                )
            })
            .collect();
        let event = format!(r#"{{"records":{{"t-0":[{}]}}}}"#, records.join(","));
        assert!(parse(event.as_bytes()).is_some());
        crate::event::differential::check_against_serde(event.as_bytes());
        let to_serde = [
            // Two topics in one list: an error, which serde words.
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[1]}]},{"topic":"tt","partition":0,"offset":2,"headers":[{"ab":[2]},{"a":[3]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"tt","partition":0,"offset":1},{"topic":"t","partition":0,"offset":2,"timestampType":"OTHER"}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":9223372036854775808}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":01}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":-0}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[-0]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[01]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[1000]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[128]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[-129]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[1.0]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[1e1]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[1 2]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a\u0062":[1]}]}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"topic":"t"}]}}"#,
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"value":"QU\u004aD"}]}}"#,
        ];
        for event in to_serde {
            assert!(parse(event.as_bytes()).is_none(), "{event}");
        }
    }

    #[test]
    fn other_forms_go_to_serde() {
        for event in [
            &br#"{"records":{"t-0":[{"topic":"t\u0041","partition":0,"offset":5}]}}"#[..],
            br#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":5.0}]}}"#,
            br#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":5,"offset":6}]}}"#,
            br#"{"records":{"t-0":[{"topic":"t","partition":0}]}}"#,
            br#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"a":[300]}]}]}}"#,
            br#"{"records":{}} x"#,
            br#"{"records":{},}"#,
            br#"[]"#,
        ] {
            assert!(parse(event).is_none(), "{}", String::from_utf8_lossy(event));
        }
    }
}
