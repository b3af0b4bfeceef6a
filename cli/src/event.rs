//! Lambda's Kafka event, written exactly as the event source mapping writes it.
//!
//! Layout and field order from the AWS sample event
//! (<https://docs.aws.amazon.com/lambda/latest/dg/with-kafka.html>, "Example event"):
//! `eventSource`, `eventSourceArn` (Amazon MSK only), `bootstrapServers` (one comma-separated
//! string), `records` keyed `"<topic>-<partition>"`, each record `topic`, `partition`, `offset`,
//! `timestamp`, `timestampType`, `key`, `value` (base64), `headers` (a list of one-entry objects
//! whose values are signed Java bytes). The key is left out when the record has none; a tombstone's
//! value is `null`; `headers` is always there.
//!
//! (`msk_lambda::testing::TestEvent` writes the same order, but always writes `"key": null` and a
//! fixed ARN and bootstrap servers, so the command has its own writer.)

use std::io::BufRead;

use anyhow::{anyhow, bail, Context as _, Result};
use base64::Engine as _;
use bytes::Bytes;
use serde::ser::{SerializeMap as _, Serializer};
use serde::Serialize;

/// The largest synchronous invocation payload Lambda accepts: 6 MB, measured here as 6 MiB
/// (6,291,456 bytes), the request payload quota of
/// <https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>.
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

/// Where the events say they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventSource {
    /// Amazon MSK: `eventSource: aws:kafka` with the cluster ARN in `eventSourceArn`.
    Msk,
    /// Self-managed Kafka: `eventSource: SelfManagedKafka`, no ARN.
    SelfManaged,
}

/// The ARN events from a local "MSK cluster" carry.
pub const LOCAL_CLUSTER_ARN: &str =
    "arn:aws:kafka:us-east-1:123456789012:cluster/msk-lambda-local/00000000-0000-0000-0000-000000000000-1";

impl EventSource {
    pub fn name(self) -> &'static str {
        match self {
            EventSource::Msk => "aws:kafka",
            EventSource::SelfManaged => "SelfManagedKafka",
        }
    }

    pub fn arn(self) -> Option<&'static str> {
        (self == EventSource::Msk).then_some(LOCAL_CLUSTER_ARN)
    }
}

/// One record of an event.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub log_append_time: bool,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

impl EventRecord {
    /// The record as one JSON object, in Lambda's field order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&WireRecord(self)).expect("a record serializes")
    }
}

struct WireRecord<'a>(&'a EventRecord);

impl Serialize for WireRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let b64 = |b: &Bytes| base64::engine::general_purpose::STANDARD.encode(b);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("topic", &r.topic)?;
        m.serialize_entry("partition", &r.partition)?;
        m.serialize_entry("offset", &r.offset)?;
        m.serialize_entry("timestamp", &r.timestamp)?;
        m.serialize_entry(
            "timestampType",
            if r.log_append_time { "LOG_APPEND_TIME" } else { "CREATE_TIME" },
        )?;
        if let Some(key) = &r.key {
            m.serialize_entry("key", &b64(key))?;
        }
        m.serialize_entry("value", &r.value.as_ref().map(b64))?;
        m.serialize_entry("headers", &WireHeaders(&r.headers))?;
        m.end()
    }
}

struct WireHeaders<'a>(&'a [(String, Option<Bytes>)]);

impl Serialize for WireHeaders<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(name, value)| WireHeader(name, value.as_deref())))
    }
}

/// `{"name": [signed bytes]}`: Java bytes, so 0xC3 is written -61.
struct WireHeader<'a>(&'a str, Option<&'a [u8]>);

impl Serialize for WireHeader<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let signed: Vec<i8> = self.1.unwrap_or_default().iter().map(|&b| b as i8).collect();
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, &signed)?;
        m.end()
    }
}

/// An event being assembled: records grouped by `topic-partition` in the order first added,
/// its exact serialized size known at every step (for the 6 MB cut).
#[derive(Debug, Clone)]
pub struct EventBuilder {
    head: String,
    /// (map key, the records' JSON texts)
    partitions: Vec<(String, Vec<String>)>,
    size: usize,
    count: usize,
}

impl EventBuilder {
    pub fn new(source: EventSource, bootstrap_servers: &str) -> EventBuilder {
        let mut head = String::from("{\"eventSource\":");
        head.push_str(&serde_json::to_string(source.name()).unwrap());
        if let Some(arn) = source.arn() {
            head.push_str(",\"eventSourceArn\":");
            head.push_str(&serde_json::to_string(arn).unwrap());
        }
        head.push_str(",\"bootstrapServers\":");
        head.push_str(&serde_json::to_string(bootstrap_servers).unwrap());
        head.push_str(",\"records\":{");
        // head + "}}"
        let size = head.len() + 2;
        EventBuilder { head, partitions: Vec::new(), size, count: 0 }
    }

    /// The event's size with `record` added.
    pub fn size_with(&self, record_json: &str, map_key: &str) -> usize {
        match self.partitions.iter().find(|(k, _)| k == map_key) {
            // ",record"
            Some(_) => self.size + 1 + record_json.len(),
            // [,]"key":[record]
            None => {
                let comma = usize::from(!self.partitions.is_empty());
                self.size + comma + json_string_len(map_key) + 3 + record_json.len()
            }
        }
    }

    pub fn push(&mut self, map_key: &str, record_json: String) {
        self.size = self.size_with(&record_json, map_key);
        self.count += 1;
        match self.partitions.iter_mut().find(|(k, _)| k == map_key) {
            Some((_, list)) => list.push(record_json),
            None => self.partitions.push((map_key.to_owned(), vec![record_json])),
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn build(&self) -> String {
        let mut out = String::with_capacity(self.size);
        out.push_str(&self.head);
        for (i, (key, records)) in self.partitions.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(key).unwrap());
            out.push_str(":[");
            out.push_str(&records.join(","));
            out.push(']');
        }
        out.push_str("}}");
        debug_assert_eq!(out.len(), self.size);
        out
    }
}

fn json_string_len(s: &str) -> usize {
    serde_json::to_string(s).unwrap().len()
}

/// One line of the JSON-lines input of `event` and `produce`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputLine {
    /// JSON (sent as its JSON text) or a string (sent as that text); `null`: a tombstone.
    pub value: Box<serde_json::value::RawValue>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub headers: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub partition: Option<i32>,
    #[serde(default)]
    pub offset: Option<i64>,
    #[serde(default)]
    pub timestamp: Option<i64>,
}

impl InputLine {
    pub fn value_bytes(&self) -> Option<Bytes> {
        // JSON keeps its own text (key order, spacing); a string is sent as its text.
        let raw = self.value.get().trim();
        if raw == "null" {
            None
        } else if raw.starts_with('"') {
            let text: String = serde_json::from_str(raw).expect("a JSON string");
            Some(Bytes::from(text.into_bytes()))
        } else {
            Some(Bytes::from(raw.to_owned().into_bytes()))
        }
    }

    pub fn key_bytes(&self) -> Option<Bytes> {
        self.key.as_ref().map(|k| Bytes::from(k.clone().into_bytes()))
    }

    pub fn header_list(&self) -> Result<Vec<(String, Bytes)>> {
        let mut out = Vec::new();
        for (name, value) in self.headers.iter().flatten() {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => bail!("header `{name}` must be text, not {other}"),
            };
            out.push((name.clone(), Bytes::from(text.into_bytes())));
        }
        Ok(out)
    }
}

/// Reads JSON lines (blank lines skipped).
pub fn read_lines(input: impl BufRead) -> Result<Vec<InputLine>> {
    let mut out = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let line = line.context("cannot read the input")?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: InputLine = serde_json::from_str(&line).map_err(|e| {
            anyhow!(
                "line {}: {e}\n  expected {{\"value\": <JSON or text>, \"key\": \"…\", \"headers\": {{\"name\": \"text\"}}, \"partition\": N, \"offset\": N, \"timestamp\": MILLIS}}, all but value optional",
                n + 1
            )
        })?;
        // Checked here, with the line's number, so that `produce` sends nothing from input
        // that has a bad line further on.
        parsed.header_list().with_context(|| format!("line {}", n + 1))?;
        out.push(parsed);
    }
    Ok(out)
}

/// `msk-lambda event`: the JSON lines as one Lambda event (offsets numbered from 0 per partition
/// unless given; given offsets must ascend within a partition).
pub fn event_from_lines(
    lines: &[InputLine],
    topic: &str,
    source: EventSource,
    bootstrap_servers: &str,
    now_ms: i64,
) -> Result<String> {
    let mut event = EventBuilder::new(source, bootstrap_servers);
    let mut next: Vec<(i32, i64)> = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let partition = line.partition.unwrap_or(0);
        let slot = match next.iter().position(|(p, _)| *p == partition) {
            Some(i) => i,
            None => {
                next.push((partition, 0));
                next.len() - 1
            }
        };
        let offset = match line.offset {
            Some(o) if o < next[slot].1 => bail!(
                "line {}: offset {o} of partition {partition} is not after the previous record's ({}); offsets ascend within a partition",
                n + 1,
                next[slot].1 - 1
            ),
            Some(o) => o,
            None => next[slot].1,
        };
        next[slot].1 = offset + 1;
        let record = EventRecord {
            topic: topic.to_owned(),
            partition,
            offset,
            timestamp: line.timestamp.unwrap_or(now_ms),
            log_append_time: false,
            key: line.key_bytes(),
            value: line.value_bytes(),
            headers: line.header_list()?.into_iter().map(|(k, v)| (k, Some(v))).collect(),
        };
        event.push(&format!("{topic}-{partition}"), record.to_json());
    }
    Ok(event.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_layout_and_order() {
        let lines = read_lines(
            &br#"{"value":{"a":1},"key":"k","headers":{"h":"\u00eb"}}
{"value":"text","partition":1,"offset":7}
{"value":null}
"#[..],
        )
        .unwrap();
        let event =
            event_from_lines(&lines, "t", EventSource::SelfManaged, "localhost:9092", 5).unwrap();
        assert_eq!(
            event,
            concat!(
                r#"{"eventSource":"SelfManagedKafka","bootstrapServers":"localhost:9092","records":{"#,
                r#""t-0":[{"topic":"t","partition":0,"offset":0,"timestamp":5,"timestampType":"CREATE_TIME","key":"aw==","value":"eyJhIjoxfQ==","headers":[{"h":[-61,-85]}]},"#,
                r#"{"topic":"t","partition":0,"offset":1,"timestamp":5,"timestampType":"CREATE_TIME","value":null,"headers":[]}],"#,
                r#""t-1":[{"topic":"t","partition":1,"offset":7,"timestamp":5,"timestampType":"CREATE_TIME","value":"dGV4dA==","headers":[]}]}}"#
            )
        );
        let msk = event_from_lines(&lines, "t", EventSource::Msk, "b:9092", 5).unwrap();
        assert!(msk.starts_with(&format!(
            r#"{{"eventSource":"aws:kafka","eventSourceArn":"{LOCAL_CLUSTER_ARN}","bootstrapServers":"b:9092","#
        )));
    }

    #[test]
    fn offsets_must_ascend() {
        let lines =
            read_lines(&b"{\"value\":1,\"offset\":5}\n{\"value\":2,\"offset\":5}\n"[..]).unwrap();
        let err = event_from_lines(&lines, "t", EventSource::Msk, "b", 0).unwrap_err();
        assert!(err.to_string().contains("offsets ascend"), "{err}");
    }

    #[test]
    fn a_header_that_is_not_text_names_its_line() {
        let input =
            b"{\"value\":1,\"headers\":{\"a\":\"x\"}}\n\n{\"value\":2,\"headers\":{\"b\":5}}\n";
        let err = read_lines(&input[..]).unwrap_err();
        assert_eq!(format!("{err:#}"), "line 3: header `b` must be text, not 5");
    }

    #[test]
    fn the_size_is_exact() {
        let mut e = EventBuilder::new(EventSource::Msk, "b:1");
        assert_eq!(e.build().len(), e.size());
        for (i, key) in ["a-0", "a-0", "b\"-1", "a-0"].iter().enumerate() {
            e.push(key, format!("{{\"n\":{i}}}"));
            assert_eq!(e.build().len(), e.size());
        }
    }
}
