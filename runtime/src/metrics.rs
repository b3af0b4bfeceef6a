//! One CloudWatch Embedded Metric Format (EMF) line per invocation.
//!
//! Lambda sends the function's stdout to CloudWatch Logs, which turns EMF lines into metrics:
//! no agent, no API calls, no added latency.

use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use crate::report::Counts;

/// Where and how the per-invocation metrics are written.
///
/// **Off unless asked for.** EMF metrics are CloudWatch custom metrics, billed per metric and
/// per combination of dimension values (7 metrics for each function, at the price of custom
/// metrics in your region, plus the log bytes of one line per invocation). Turn them on with
/// [`Consumer::metrics`](crate::Consumer::metrics)`(Metrics::new("MskLambda"))`, or without a
/// rebuild with the environment variable `MSK_LAMBDA_METRICS=on` (`off` turns them off again
/// whatever the code says; `MSK_LAMBDA_METRICS_NAMESPACE=...` sets the namespace). Every line has
/// the dimension `FunctionName` (`AWS_LAMBDA_FUNCTION_NAME`, `local` in local runs) plus the
/// ones you add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub(crate) enabled: bool,
    pub(crate) namespace: String,
    pub(crate) dimensions: Vec<(String, String)>,
    pub(crate) function_name: String,
}

/// The namespace used when none is given.
const DEFAULT_NAMESPACE: &str = "MskLambda";

impl Default for Metrics {
    /// No metrics (see the type's docs for turning them on).
    fn default() -> Self {
        Metrics {
            enabled: false,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            dimensions: Vec::new(),
            function_name: "local".to_owned(),
        }
    }
}

impl Metrics {
    /// Metrics in `namespace`, dimension `FunctionName` only.
    pub fn new(namespace: impl Into<String>) -> Self {
        Metrics { enabled: true, namespace: namespace.into(), ..Metrics::default() }
    }

    /// No metrics (the default).
    pub fn off() -> Self {
        Metrics::default()
    }

    /// Adds a dimension (e.g. `("Service", "orders")`); at most 29 besides `FunctionName`.
    pub fn dimension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.dimensions.push((name.into(), value.into()));
        self
    }

    /// The settings after the environment: `MSK_LAMBDA_METRICS=on|off`,
    /// `MSK_LAMBDA_METRICS_NAMESPACE`, and the function's name for the `FunctionName` dimension.
    pub(crate) fn with_env_overrides(mut self) -> Self {
        match std::env::var("MSK_LAMBDA_METRICS") {
            Ok(v) if v.eq_ignore_ascii_case("off") => self.enabled = false,
            Ok(v) if v.eq_ignore_ascii_case("on") => self.enabled = true,
            Ok(v) => {
                tracing::warn!(value = %v, "MSK_LAMBDA_METRICS is neither `on` nor `off`: ignored")
            }
            Err(_) => {}
        }
        if let Ok(namespace) = std::env::var("MSK_LAMBDA_METRICS_NAMESPACE") {
            self.namespace = namespace;
        }
        if let Ok(function) = std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
            self.function_name = function;
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
        let dimensions = std::iter::once(("FunctionName", self.function_name.as_str()))
            .chain(self.dimensions.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let names: Vec<&str> = dimensions.clone().map(|(n, _)| n).collect();
        let mut metrics = vec![
            ("Records", "Count", json!(m.counts.records)),
            ("RecordsSucceeded", "Count", json!(m.counts.succeeded)),
            ("RecordsFailed", "Count", json!(m.counts.failed)),
            ("RecordsSkipped", "Count", json!(m.counts.skipped)),
            ("RecordsNotStarted", "Count", json!(m.counts.not_started)),
            ("BatchDuration", "Milliseconds", json!(millis(m.duration))),
        ];
        if let Some(oldest) = m.oldest_timestamp_ms {
            // Timestamps before the epoch were left out when `oldest` was taken; a clock that
            // is behind gives 0, never a negative age.
            let now_ms = i64::try_from(now.as_millis()).unwrap_or(i64::MAX);
            let age = now_ms.saturating_sub(oldest).max(0);
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
        for (name, value) in dimensions {
            doc.insert(name.to_owned(), json!(value));
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
    /// The smallest record timestamp in the event (ms since the epoch), of the records that
    /// have one.
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
        assert_eq!(Metrics::default().line(&m), None, "metrics are opt-in");
    }

    #[test]
    fn ages_never_overflow() {
        let metrics = Metrics::new("Shop");
        for (oldest, age) in [(i64::MIN, None), (i64::MAX, Some(0)), (-1, None)] {
            let m = InvocationMetrics {
                counts: Counts::default(),
                duration: Duration::ZERO,
                oldest_timestamp_ms: Some(oldest),
            };
            let v: Value = serde_json::from_str(&metrics.line(&m).unwrap()).unwrap();
            let got = v["OldestRecordAge"].as_i64().unwrap();
            match age {
                Some(age) => assert_eq!(got, age),
                None => assert!(got > 1_700_000_000_000),
            }
        }
    }
}
