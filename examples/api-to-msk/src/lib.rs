//! An API Gateway (HTTP API, payload format 2.0) function: `POST` a user event, it is checked
//! and produced to the `user-events` topic keyed by `userId`, and the answer says where it was
//! written.
//!
//! - 200 `{"partition": P, "offset": O}` when written;
//! - 400 with a message when the body is not JSON or lacks `userId` or `eventType`;
//! - 503 when the cluster cannot be reached (the producer connects again on the next request).

#![forbid(unsafe_code)]

use std::collections::HashMap;

use msk_lambda::producer::{Producer, ProducerConfig, ProducerError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The topic events are written to.
pub const TOPIC: &str = "user-events";

/// The part of an HTTP API request this function reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    /// The request body, as API Gateway sends it.
    #[serde(default)]
    pub body: Option<String>,
    /// Whether `body` is base64.
    #[serde(default)]
    pub is_base64_encoded: bool,
}

/// An HTTP API response.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponse {
    /// The HTTP status.
    pub status_code: u16,
    /// Response headers.
    pub headers: HashMap<String, String>,
    /// The JSON body, as text.
    pub body: String,
}

impl HttpResponse {
    fn json(status_code: u16, body: Value) -> Self {
        let headers = HashMap::from([("content-type".to_owned(), "application/json".to_owned())]);
        HttpResponse { status_code, headers, body: body.to_string() }
    }
}

/// The producer, connected on first use and kept for every later request of this execution
/// environment; a failed connection is tried again on the next request.
pub struct Producers {
    config: ProducerConfig,
    producer: tokio::sync::OnceCell<Producer>,
}

impl Producers {
    /// Connects lazily with `config`.
    pub fn new(config: ProducerConfig) -> Self {
        Producers { config, producer: tokio::sync::OnceCell::new() }
    }

    async fn get(&self) -> Result<&Producer, ProducerError> {
        self.producer.get_or_try_init(|| Producer::connect(self.config.clone())).await
    }
}

/// Handles one request.
pub async fn handle(request: HttpRequest, producers: &Producers) -> HttpResponse {
    let event = match parse_event(&request) {
        Ok(event) => event,
        Err(message) => return HttpResponse::json(400, json!({ "message": message })),
    };
    let user_id = event["userId"].as_str().unwrap_or_default().to_owned();
    let sent = match producers.get().await {
        Ok(producer) => producer.send_json(TOPIC, Some(user_id.as_bytes()), &event).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(delivery) => HttpResponse::json(
            200,
            json!({ "partition": delivery.partition, "offset": delivery.offset }),
        ),
        Err(e) if e.is_unavailable() => {
            tracing::error!(error = %e, "the cluster is unreachable");
            HttpResponse::json(
                503,
                json!({ "message": "the event store is unavailable; try again" }),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "producing failed");
            HttpResponse::json(500, json!({ "message": "the event could not be stored" }))
        }
    }
}

/// The body as a JSON object with string `userId` and `eventType`, or what is wrong with it.
fn parse_event(request: &HttpRequest) -> Result<Value, String> {
    let body = request.body.as_deref().ok_or("the request has no body: send a JSON user event")?;
    if request.is_base64_encoded {
        return Err("send the body as JSON text (application/json), not base64".to_owned());
    }
    let event: Value =
        serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    if !event.is_object() {
        return Err("the body must be a JSON object".to_owned());
    }
    for field in ["userId", "eventType"] {
        match event.get(field) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(_) => return Err(format!("`{field}` must be a non-empty string")),
            None => return Err(format!("`{field}` is missing")),
        }
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> HttpRequest {
        HttpRequest { body: Some(body.to_owned()), is_base64_encoded: false }
    }

    #[tokio::test]
    async fn bad_bodies_get_400_with_a_reason() {
        // No broker is needed to reject: the producer is never connected.
        let producers = Producers::new(ProducerConfig::new("127.0.0.1:1"));
        for (body, message) in [
            ("not json", "the body is not JSON: expected ident at line 1 column 2"),
            ("[1]", "the body must be a JSON object"),
            (r#"{"eventType":"login"}"#, "`userId` is missing"),
            (r#"{"userId":"u-1"}"#, "`eventType` is missing"),
            (r#"{"userId":7,"eventType":"login"}"#, "`userId` must be a non-empty string"),
        ] {
            let response = handle(request(body), &producers).await;
            assert_eq!(response.status_code, 400, "{body}");
            let json: Value = serde_json::from_str(&response.body).unwrap();
            assert_eq!(json["message"], message);
        }
        let none = handle(HttpRequest::default(), &producers).await;
        assert_eq!(none.status_code, 400);
    }
}
