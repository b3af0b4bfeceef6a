//! The user-events consumer: one JSON `UserEvent` per record, keyed by user id.
//!
//! Run it locally on the sample event: `cargo run -p user-events -- examples/user-events/events/sample.json`

#![forbid(unsafe_code)]

use msk_lambda::{msk_handler, Json, Record};
use serde::Deserialize;

/// A user's action, as the web front end publishes it to the `user-events` topic.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEvent {
    /// Who acted.
    pub user_id: String,
    /// What they did: one of [`EVENT_TYPES`].
    pub event_type: String,
}

/// The event types this consumer knows.
pub const EVENT_TYPES: [&str; 5] = ["login", "logout", "purchase", "view", "click"];

/// Handles one user event; an unknown `eventType` fails the record.
#[msk_handler]
async fn handle(record: Record<Json<UserEvent>, Option<String>>) -> Result<(), msk_lambda::Error> {
    let event = record.value();
    if !EVENT_TYPES.contains(&event.event_type.as_str()) {
        return Err(format!(
            "eventType is not one of {} (user {})",
            EVENT_TYPES.join(", "),
            event.user_id
        )
        .into());
    }
    let trace_id = record.headers().first_text("trace-id")?;
    tracing::debug!(
        user_id = %event.user_id,
        event_type = %event.event_type,
        key = record.key().as_deref(),
        trace_id,
        "user event"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use msk_lambda::testing::TestRecord;

    fn record(event_type: &str) -> TestRecord {
        let value = format!(r#"{{"userId":"user-1","eventType":"{event_type}","page":"/x"}}"#);
        TestRecord::new("user-events", 0, 15).key("user-1").value(value).header("trace-id", "t-1")
    }

    /// The sample event through the consumer `#[msk_handler]` builds (`handle_consumer()`).
    #[tokio::test]
    async fn the_sample_event_through_the_deployed_consumer() {
        let sample = include_bytes!("../events/sample.json");
        let response = handle_consumer().invoke(sample).await.unwrap();
        assert_eq!(
            response.to_json(),
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"user-events-0","offset":102}},{"itemIdentifier":{"partition":"user-events-0","offset":103}},{"itemIdentifier":{"partition":"user-events-2","offset":40}},{"itemIdentifier":{"partition":"user-events-2","offset":41}}]}"#
        );
    }

    #[tokio::test]
    async fn known_event_types_succeed() {
        for event_type in EVENT_TYPES {
            let record: Record<Json<UserEvent>, Option<String>> =
                record(event_type).decode().unwrap();
            assert_eq!(record.key().as_deref(), Some("user-1"));
            assert_eq!(record.value().user_id, "user-1");
            handle(record).await.unwrap();
        }
    }

    #[tokio::test]
    async fn unknown_event_types_fail_the_record() {
        let err = handle(record("delete").decode().unwrap()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "eventType is not one of login, logout, purchase, view, click (user user-1)"
        );
    }

    #[tokio::test]
    async fn a_trace_id_that_is_not_text_fails_the_record() {
        let bad = TestRecord::new("user-events", 0, 16)
            .value(r#"{"userId":"u","eventType":"view"}"#)
            .header("trace-id", [0xff]);
        let err = handle(bad.decode().unwrap()).await.unwrap_err();
        assert!(err.to_string().contains("header `trace-id` is not UTF-8 text"), "{err}");
        // The first trace-id header is read; a later duplicate that is not text does not matter.
        let duplicate = record("view").header("trace-id", [0xff]);
        assert!(handle(duplicate.decode().unwrap()).await.is_ok());
    }
}
