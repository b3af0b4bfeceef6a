//! The three ways of processing a Kafka event that the benchmarks compare:
//! msk-lambda, the hand-written baseline a Rust user writes today, and the parsing floor.
//!
//! All three do the user-events work: value as JSON `UserEvent`, key as text, headers decoded,
//! an `eventType` check, and each partition stopped at its first failure, which is reported
//! with every record after it (not run).

#![forbid(unsafe_code)]

use serde::Deserialize;

/// The user-events value.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEvent {
    /// Who acted.
    pub user_id: String,
    /// What they did.
    pub event_type: String,
}

/// The event types the handler accepts.
pub const EVENT_TYPES: [&str; 5] = ["login", "logout", "purchase", "view", "click"];

/// The trivial handler body shared by every variant.
pub fn check(event: &UserEvent) -> Result<(), String> {
    if EVENT_TYPES.contains(&event.event_type.as_str()) {
        Ok(())
    } else {
        Err(format!("eventType is not one of {}", EVENT_TYPES.join(", ")))
    }
}

/// msk-lambda: raw bytes → typed records → handler → response bytes.
pub mod framework {
    use msk_lambda::{Consumer, InvocationContext, Json, Record};

    use super::{check, UserEvent};

    /// The user-events handler.
    pub async fn handle(
        record: Record<Json<UserEvent>, Option<String>>,
    ) -> Result<(), msk_lambda::Error> {
        check(record.value())?;
        let _trace = record.headers().first_text("trace-id")?;
        Ok(())
    }

    /// Processes one event as an invocation and returns the response body.
    pub fn process(runtime: &tokio::runtime::Runtime, event: &[u8]) -> Vec<u8> {
        let consumer = Consumer::new(handle);
        let response = runtime
            .block_on(consumer.invoke_with_context(event, InvocationContext::local()))
            .expect("the benchmark events are valid");
        response.to_json().into_bytes()
    }
}

/// What users write by hand today: `aws_lambda_events`' `KafkaEvent`, `base64`, `serde_json`.
#[cfg(feature = "bench")]
pub mod baseline {
    use std::collections::HashMap;

    use aws_lambda_events::event::kafka::KafkaEvent;
    use base64::Engine as _;
    use serde::Serialize;

    use super::{check, UserEvent};

    /// The partial batch response.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Response {
        batch_item_failures: Vec<Failure>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Failure {
        item_identifier: HashMap<&'static str, serde_json::Value>,
    }

    fn record(r: &aws_lambda_events::event::kafka::KafkaRecord) -> Result<(), String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let value = r.value.as_deref().ok_or("tombstone")?;
        let value = b64.decode(value).map_err(|e| e.to_string())?;
        let event: UserEvent = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
        let _key = match &r.key {
            Some(k) => Some(
                String::from_utf8(b64.decode(k).map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let mut headers = Vec::new();
        for h in &r.headers {
            for (name, bytes) in h {
                headers.push((name.clone(), bytes.iter().map(|&b| b as u8).collect::<Vec<u8>>()));
            }
        }
        if let Some((_, v)) = headers.iter().find(|(n, _)| n == "trace-id") {
            std::str::from_utf8(v).map_err(|e| e.to_string())?;
        }
        check(&event)
    }

    /// Processes one event and returns the response body.
    pub fn process(event: &[u8]) -> Vec<u8> {
        let event: KafkaEvent = serde_json::from_slice(event).expect("a Kafka event");
        serde_json::to_vec(&respond(&event)).expect("serializes")
    }

    /// Processes one deserialized event: every record up to each partition's first failure;
    /// the response lists that record and every one after it in its partition (not run).
    pub fn respond(event: &KafkaEvent) -> Response {
        let mut failures = Vec::new();
        for (key, records) in &event.records {
            let mut records: Vec<_> = records.iter().collect();
            records.sort_by_key(|r| r.offset);
            if let Some(first) = records.iter().position(|r| record(r).is_err()) {
                for r in &records[first..] {
                    let mut id = HashMap::new();
                    id.insert("partition", serde_json::Value::from(key.clone()));
                    id.insert("offset", serde_json::Value::from(r.offset));
                    failures.push(Failure { item_identifier: id });
                }
            }
        }
        Response { batch_item_failures: failures }
    }
}

/// The floor: one `IgnoredAny` pass over the event, base64 decoding of every value, and
/// deserializing every value into `UserEvent`; nothing else.
pub mod floor {
    use base64::Engine as _;
    use serde::de::IgnoredAny;

    use super::UserEvent;

    /// The base64 values of the event, extracted outside the timed work.
    pub fn values(event: &[u8]) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(event).expect("JSON");
        let mut out = Vec::new();
        for records in v["records"].as_object().expect("records").values() {
            for r in records.as_array().expect("array") {
                if let Some(s) = r["value"].as_str() {
                    out.push(s.to_owned());
                }
            }
        }
        out
    }

    /// The floor's work; returns how many values parsed as `UserEvent`.
    pub fn process(event: &[u8], values: &[String]) -> usize {
        let _: IgnoredAny = serde_json::from_slice(event).expect("JSON");
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut ok = 0;
        for v in values {
            let bytes = b64.decode(v).expect("base64");
            if serde_json::from_slice::<UserEvent>(&bytes).is_ok() {
                ok += 1;
            }
        }
        ok
    }
}
