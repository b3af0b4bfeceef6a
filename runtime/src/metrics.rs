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
///
/// The namespace and dimensions are checked against CloudWatch's rules when the function
/// starts (an invalid one is an init error, not a document CloudWatch drops on every
/// invocation): ASCII without control characters, not blank, names of at most 255 bytes not
/// starting with `:`, values of at most 1,024 bytes, a namespace of at most 255 bytes not
/// starting with `:` or `AWS/`, at most 29 dimensions besides `FunctionName`, and no dimension
/// named like a key the line already has (`_aws`, `FunctionName`, `level`, `timestamp`, the
/// metric names) or like another dimension.
///
/// With Lambda's JSON log format, each line also has `level` (the function's application log
/// level, so that Lambda's log-level filtering keeps it whatever that level is) and
/// `timestamp`: Lambda gives a JSON line without them the level INFO, which an application log
/// level of WARN or above drops, metrics and all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub(crate) enabled: bool,
    pub(crate) namespace: String,
    pub(crate) dimensions: Vec<(String, String)>,
    pub(crate) function_name: String,
    /// `Some(level)` under Lambda's JSON log format: the line's `level`.
    pub(crate) json_log_level: Option<&'static str>,
}

/// The names of the metrics a line has (the keys a dimension may not take).
const METRIC_NAMES: [&str; 7] = [
    "Records",
    "RecordsSucceeded",
    "RecordsFailed",
    "RecordsSkipped",
    "RecordsNotStarted",
    "BatchDuration",
    "OldestRecordAge",
];

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
            json_log_level: None,
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

    /// Adds a dimension (e.g. `("Service", "orders")`); at most 29 besides `FunctionName` (see
    /// the type's docs for what CloudWatch accepts).
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
        self.json_log_level = crate::logging::json_format().then(crate::logging::lambda_level);
        self
    }

    /// Whether CloudWatch would take the lines (see the type's docs); what is wrong if not.
    pub(crate) fn check(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        cloudwatch_text(&self.namespace, 255)
            .and_then(|()| {
                if self.namespace.starts_with(':') || self.namespace.starts_with("AWS/") {
                    Err("starts with `:` or `AWS/`".to_owned())
                } else {
                    Ok(())
                }
            })
            .map_err(|e| format!("the metrics namespace {:?} {e}", self.namespace))?;
        if self.dimensions.len() > 29 {
            return Err(format!(
                "{} metrics dimensions: CloudWatch takes at most 30, FunctionName and 29 more",
                self.dimensions.len()
            ));
        }
        for (i, (name, value)) in self.dimensions.iter().enumerate() {
            let taken = ["_aws", "FunctionName", "level", "timestamp"].contains(&name.as_str())
                || METRIC_NAMES.contains(&name.as_str())
                || self.dimensions[..i].iter().any(|(earlier, _)| earlier == name);
            cloudwatch_text(name, 255)
                .and_then(|()| {
                    if name.starts_with(':') {
                        Err("starts with `:`".to_owned())
                    } else if taken {
                        Err("is a key the metrics line already has (`_aws`, `FunctionName`, `level`, `timestamp`, a metric's name or another dimension's)".to_owned())
                    } else {
                        Ok(())
                    }
                })
                .map_err(|e| format!("the metrics dimension name {name:?} {e}"))?;
            cloudwatch_text(value, 1024)
                .map_err(|e| format!("the value {value:?} of metrics dimension `{name}` {e}"))?;
        }
        Ok(())
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
        if let Some(level) = self.json_log_level {
            doc.insert("level".into(), level.into());
            doc.insert("timestamp".into(), crate::logging::rfc3339_now().into());
        }
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

/// CloudWatch's rule for namespaces and dimensions: 1 to `max` bytes of ASCII without control
/// characters, not all whitespace.
fn cloudwatch_text(text: &str, max: usize) -> Result<(), String> {
    if text.trim().is_empty() {
        Err("is empty or blank".to_owned())
    } else if text.len() > max {
        Err(format!("is {} bytes long, over CloudWatch's {max}", text.len()))
    } else if !text.bytes().all(|b| b.is_ascii() && !b.is_ascii_control()) {
        Err("has a character CloudWatch does not take (only ASCII without control characters)"
            .to_owned())
    } else {
        Ok(())
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

    /// Under Lambda's JSON log format the line carries the function's log level and a time, so
    /// that Lambda's log-level filtering does not drop it as INFO.
    #[test]
    fn json_log_format_lines_have_a_level_and_a_timestamp() {
        let m = InvocationMetrics {
            counts: Counts::default(),
            duration: Duration::ZERO,
            oldest_timestamp_ms: None,
        };
        let plain: Value = serde_json::from_str(&Metrics::new("Shop").line(&m).unwrap()).unwrap();
        assert!(plain.get("level").is_none() && plain.get("timestamp").is_none());
        let metrics = Metrics { json_log_level: Some("WARN"), ..Metrics::new("Shop") };
        let v: Value = serde_json::from_str(&metrics.line(&m).unwrap()).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["timestamp"].as_str().unwrap().len(), 27);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().len(), 6);
    }

    #[test]
    fn what_cloudwatch_would_drop_is_refused_up_front() {
        let ok = Metrics::new("Shop/Orders").dimension("Service", "orders api");
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(Metrics::off().dimension("_aws", "").check(), Ok(()), "off: not looked at");
        let refused = |metrics: Metrics, says: &str| {
            let err = metrics.check().unwrap_err();
            assert!(err.contains(says), "{err}");
        };
        refused(Metrics::new(""), "namespace \"\" is empty");
        refused(Metrics::new("AWS/Lambda"), "starts with `:` or `AWS/`");
        refused(Metrics::new("x".repeat(256)), "256 bytes long");
        refused(
            Metrics::new("Shop").dimension("Records", "x"),
            "a key the metrics line already has",
        );
        refused(Metrics::new("Shop").dimension("FunctionName", "x"), "already has");
        refused(Metrics::new("Shop").dimension("_aws", "x"), "already has");
        refused(Metrics::new("Shop").dimension("A", "x").dimension("A", "y"), "already has");
        refused(Metrics::new("Shop").dimension(":A", "x"), "starts with `:`");
        refused(Metrics::new("Shop").dimension("City", "Zürich"), "only ASCII");
        refused(Metrics::new("Shop").dimension("City", "a\nb"), "only ASCII");
        refused(Metrics::new("Shop").dimension("City", " "), "blank");
        refused(Metrics::new("Shop").dimension("City", "x".repeat(1025)), "over CloudWatch's 1024");
        let many = (0..30).fold(Metrics::new("Shop"), |m, i| m.dimension(format!("D{i}"), "x"));
        refused(many, "30 metrics dimensions");
        let most = (0..29).fold(Metrics::new("Shop"), |m, i| m.dimension(format!("D{i}"), "x"));
        assert_eq!(most.check(), Ok(()));
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
