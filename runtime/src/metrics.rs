//! One CloudWatch Embedded Metric Format (EMF) line per invocation.
//!
//! Lambda sends the function's stdout to CloudWatch Logs, which turns EMF lines into metrics:
//! no agent, no API calls, no added latency.

use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use crate::report::Counts;

/// Where and how the per-invocation metrics are written.
///
/// On by default for [`Consumer::run`](crate::Consumer::run): namespace `MskLambda`, one
/// dimension `FunctionName`. Environment variables override the defaults without a rebuild:
/// `MSK_LAMBDA_METRICS=off`, `MSK_LAMBDA_METRICS_NAMESPACE=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub(crate) enabled: bool,
    pub(crate) namespace: String,
    pub(crate) dimensions: Vec<(String, String)>,
}

impl Default for Metrics {
    fn default() -> Self {
        let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
        Metrics {
            enabled: true,
            namespace: "MskLambda".to_owned(),
            dimensions: vec![("FunctionName".to_owned(), function)],
        }
    }
}

impl Metrics {
    /// Metrics in `namespace`, dimension `FunctionName` only.
    pub fn new(namespace: impl Into<String>) -> Self {
        Metrics { namespace: namespace.into(), ..Metrics::default() }
    }

    /// No metrics.
    pub fn off() -> Self {
        Metrics { enabled: false, ..Metrics::default() }
    }

    /// Adds a dimension (e.g. `("Service", "orders")`); at most 30 per EMF line.
    pub fn dimension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.dimensions.push((name.into(), value.into()));
        self
    }

    /// The settings after the `MSK_LAMBDA_METRICS*` environment variables.
    pub(crate) fn with_env_overrides(mut self) -> Self {
        if std::env::var("MSK_LAMBDA_METRICS").is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
            self.enabled = false;
        }
        if let Ok(namespace) = std::env::var("MSK_LAMBDA_METRICS_NAMESPACE") {
            self.namespace = namespace;
        }
        self
    }

    /// The EMF document for one invocation.
    pub(crate) fn line(&self, m: &InvocationMetrics) -> Option<String> {
        if !self.enabled {
            return None;
        }
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let mut doc = Map::new();
        let names: Vec<&str> = self.dimensions.iter().map(|(n, _)| n.as_str()).collect();
        let mut metrics = vec![
            ("Records", "Count", json!(m.counts.records)),
            ("RecordsSucceeded", "Count", json!(m.counts.succeeded)),
            ("RecordsFailed", "Count", json!(m.counts.failed)),
            ("RecordsSkipped", "Count", json!(m.counts.skipped)),
            ("RecordsNotStarted", "Count", json!(m.counts.not_started)),
            ("BatchDuration", "Milliseconds", json!(millis(m.duration))),
        ];
        if let Some(oldest) = m.oldest_timestamp_ms {
            let age = (now.as_millis() as i64 - oldest).max(0);
            metrics.push(("OldestRecordAge", "Milliseconds", json!(age)));
        }
        let definitions: Vec<Value> =
            metrics.iter().map(|(name, unit, _)| json!({ "Name": name, "Unit": unit })).collect();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": now.as_millis() as u64,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [names],
                    "Metrics": definitions,
                }],
            }),
        );
        for (name, value) in &self.dimensions {
            doc.insert(name.clone(), json!(value));
        }
        for (name, _, value) in metrics {
            doc.insert(name.into(), value);
        }
        Some(Value::Object(doc).to_string())
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// What one invocation measured.
pub(crate) struct InvocationMetrics {
    pub counts: Counts,
    pub duration: Duration,
    /// The smallest record timestamp in the event (ms since the epoch), if any record.
    pub oldest_timestamp_ms: Option<i64>,
}

/// Writes a line to `out` in one call so that concurrent writers cannot interleave it.
pub(crate) fn emit(line: &str, mut out: impl std::io::Write) {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    let _ = out.write_all(&buf);
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_line_has_definitions_dimensions_and_values() {
        let metrics = Metrics::new("Shop").dimension("Service", "orders");
        let m = InvocationMetrics {
            counts: Counts { records: 10, succeeded: 7, failed: 1, skipped: 2, not_started: 0 },
            duration: Duration::from_micros(1500),
            oldest_timestamp_ms: Some(0),
        };
        let v: Value = serde_json::from_str(&metrics.line(&m).unwrap()).unwrap();
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "Shop");
        assert_eq!(cw["Dimensions"], json!([["FunctionName", "Service"]]));
        assert_eq!(cw["Metrics"].as_array().unwrap().len(), 7);
        assert_eq!(cw["Metrics"][5], json!({"Name": "BatchDuration", "Unit": "Milliseconds"}));
        assert_eq!(v["Service"], "orders");
        assert_eq!((v["Records"].as_u64(), v["RecordsFailed"].as_u64()), (Some(10), Some(1)));
        assert_eq!(v["BatchDuration"].as_f64(), Some(1.5));
        assert!(v["OldestRecordAge"].as_i64().unwrap() > 1_700_000_000_000);
        assert!(v["_aws"]["Timestamp"].as_u64().is_some());
        assert_eq!(Metrics::off().line(&m), None);
    }
}
