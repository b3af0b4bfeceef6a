//! Consumes `user-events`, adds what the rest of the system wants to know, and produces the
//! result to `user-events-enriched`. The producer is shared state, connected once per execution
//! environment; a failed send fails its record, so Lambda delivers it again.
//!
//! Configured from the environment like every producer: `MSK_BOOTSTRAP_SERVERS`, `MSK_AUTH`
//! (`iam` by default, with `AWS_REGION`).

#![forbid(unsafe_code)]

use msk_lambda::producer::{Producer, ProducerConfig};
use msk_lambda::{msk_handler, Json, Record};
use serde::{Deserialize, Serialize};

/// Where enriched events go.
pub const OUTPUT_TOPIC: &str = "user-events-enriched";

/// The incoming event.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEvent {
    /// Who acted.
    pub user_id: String,
    /// What they did.
    pub event_type: String,
}

/// The outgoing event.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Enriched {
    /// Who acted.
    pub user_id: String,
    /// What they did.
    pub event_type: String,
    /// Whether it earns revenue.
    pub revenue: bool,
    /// Where it came from: `topic-partition@offset`.
    pub source: String,
}

/// The transformation, kept apart from the I/O so it is tested on its own.
pub fn enrich(event: &UserEvent, source: String) -> Enriched {
    Enriched {
        user_id: event.user_id.clone(),
        event_type: event.event_type.clone(),
        revenue: event.event_type == "purchase",
        source,
    }
}

/// Connects once per execution environment.
async fn init() -> Result<Producer, msk_lambda::producer::ProducerError> {
    Producer::connect(ProducerConfig::from_env()?).await
}

#[msk_handler(state = init)]
async fn handle(
    record: Record<Json<UserEvent>>,
    producer: &Producer,
) -> Result<(), msk_lambda::Error> {
    let source = format!("{}@{}", record.topic_partition(), record.offset());
    let enriched = enrich(record.value(), source);
    producer.send_json(OUTPUT_TOPIC, Some(enriched.user_id.as_bytes()), &enriched).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purchases_are_revenue() {
        let event = UserEvent { user_id: "u-1".into(), event_type: "purchase".into() };
        let enriched = enrich(&event, "user-events-0@5".into());
        assert_eq!(
            enriched,
            Enriched {
                user_id: "u-1".into(),
                event_type: "purchase".into(),
                revenue: true,
                source: "user-events-0@5".into()
            }
        );
        let view = UserEvent { user_id: "u-1".into(), event_type: "view".into() };
        assert!(!enrich(&view, String::new()).revenue);
    }
}
