//! Tracing set up the way Lambda expects it.
//!
//! - **Level**: `RUST_LOG`'s directives (per target: `info,h2=off,my_crate=debug`) when set,
//!   capped at `AWS_LAMBDA_LOG_LEVEL` (Lambda's application log level: `TRACE`, `DEBUG`,
//!   `INFO`, `WARN`, `ERROR`, `FATAL`), which no directive goes past, as it takes precedence
//!   in Lambda's own runtimes; without `RUST_LOG`, Lambda's level; without either, INFO.
//! - **Text** (Lambda's default log format): one line per event, no timestamp (CloudWatch adds
//!   one), no colours (CloudWatch would show their escape codes; a local run at a terminal
//!   has them, unless `NO_COLOR` is set).
//! - **JSON** (`AWS_LAMBDA_LOG_FORMAT=JSON`): one object per line with the keys Lambda's
//!   log-level filtering reads and its managed runtimes write: `timestamp` (RFC 3339), `level`,
//!   `message`, then the fields of the spans the event is in (`requestId` among them) and the
//!   event's own fields. Lambda gives a line without a valid `timestamp` or `level` the level
//!   INFO, so at an application log level of WARN or above it would drop every error line
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html>):
//!   the same mistake made `awslambdaric`'s error lines vanish
//!   (aws/aws-lambda-python-runtime-interface-client#202).
//!
//! Local runs log to stderr so that stdout carries only the response.

use std::fmt;

use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter};
use lambda_runtime::tracing::subscriber::fmt::format::{JsonFields, Writer};
use lambda_runtime::tracing::subscriber::fmt::time::{FormatTime, SystemTime};
use lambda_runtime::tracing::subscriber::fmt::{
    FmtContext, FormatEvent, FormatFields, FormattedFields,
};
use lambda_runtime::tracing::subscriber::layer::SubscriberExt as _;
use lambda_runtime::tracing::subscriber::registry::LookupSpan;
use lambda_runtime::tracing::subscriber::util::SubscriberInitExt as _;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};

/// Installs a `tracing` subscriber unless the program already has one (see the module docs).
pub(crate) fn init(local: bool) {
    let (filter, cap, warning) = filter_from(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let builder = lambda_runtime::tracing::subscriber::fmt().with_env_filter(filter);
    // `try_init` fails when a subscriber (or a `log` logger) is already installed: the
    // user's is kept.
    let _ = if json_format() {
        let builder = builder.fmt_fields(JsonFields::new()).event_format(LambdaJson);
        if local {
            builder.with_writer(std::io::stderr).finish().with(cap).try_init()
        } else {
            builder.finish().with(cap).try_init()
        }
    } else {
        // Colours only for a person at a terminal: CloudWatch shows ANSI escapes as they are
        // (`[33m WARN[0m`), and a file or pipe gets them as bytes.
        let ansi = local
            && std::io::IsTerminal::is_terminal(&std::io::stderr())
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let builder = builder.with_target(false).without_time().with_ansi(ansi);
        if local {
            builder.with_writer(std::io::stderr).finish().with(cap).try_init()
        } else {
            builder.finish().with(cap).try_init()
        }
    };
    // Through whichever subscriber is installed.
    if let Some(warning) = warning {
        tracing::warn!("{warning}");
    }
}

/// Whether Lambda's log format is JSON (`AWS_LAMBDA_LOG_FORMAT=JSON`).
pub(crate) fn json_format() -> bool {
    std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
}

/// Lambda's application log level as a level name Lambda's filtering knows (`INFO` when
/// `AWS_LAMBDA_LOG_LEVEL` is not set or not one of them).
pub(crate) fn lambda_level() -> &'static str {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").unwrap_or_default();
    ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
        .into_iter()
        .find(|name| level.trim().eq_ignore_ascii_case(name))
        .unwrap_or("INFO")
}

/// The filter for `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG` (see the module docs): `RUST_LOG`'s
/// directives (`info,h2=off,my_crate=debug`) when it is set, else Lambda's level, else INFO;
/// and a cap at Lambda's level, which no directive goes past. A warning when a variable was not
/// understood.
fn filter_from(
    lambda_level: Option<&str>,
    rust_log: Option<&str>,
) -> (EnvFilter, LevelFilter, Option<String>) {
    let mut warnings = Vec::new();
    let lambda = lambda_level.map(str::trim).filter(|l| !l.is_empty()).and_then(|level| {
        // tracing has no FATAL: its most severe level is ERROR.
        let parsed = if level.eq_ignore_ascii_case("fatal") {
            Some(LevelFilter::ERROR)
        } else {
            level.parse::<LevelFilter>().ok()
        };
        if parsed.is_none() {
            warnings.push(format!(
                "AWS_LAMBDA_LOG_LEVEL={level:?} is not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL: ignored"
            ));
        }
        parsed
    });
    let default = lambda.unwrap_or(LevelFilter::INFO);
    let builder = || EnvFilter::builder().with_default_directive(default.into());
    let filter = match rust_log.map(str::trim).filter(|l| !l.is_empty()) {
        None => builder().parse_lossy(""),
        Some(directives) => builder().parse(directives).unwrap_or_else(|e| {
            warnings.push(format!("RUST_LOG={directives:?} is not valid ({e}): ignored"));
            builder().parse_lossy("")
        }),
    };
    let warning = (!warnings.is_empty()).then(|| warnings.join("; "));
    (filter, lambda.unwrap_or(LevelFilter::TRACE), warning)
}

/// The current time in RFC 3339, UTC, to the microsecond (`2026-12-06T02:30:00.123456Z`).
pub(crate) fn rfc3339_now() -> String {
    let mut now = String::with_capacity(27);
    // Writing to a String cannot fail.
    let _ = SystemTime.format_time(&mut Writer::new(&mut now));
    now
}

/// One JSON object per event, shaped like the JSON logs of Lambda's managed runtimes (see the
/// module docs). Span fields are recorded as JSON by [`JsonFields`].
struct LambdaJson;

impl<S, N> FormatEvent<S, N> for LambdaJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        // Outermost span first, so that an inner span's field of the same name wins.
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(recorded) = extensions.get::<FormattedFields<N>>() else { continue };
                if let Ok(Value::Object(span_fields)) = serde_json::from_str(&recorded.fields) {
                    fields.extend(span_fields);
                }
            }
        }
        let mut visitor = JsonVisitor { fields: &mut fields, message: None };
        event.record(&mut visitor);
        let message = visitor.message.take();
        let mut line = Map::new();
        line.insert("timestamp".into(), rfc3339_now().into());
        line.insert("level".into(), event.metadata().level().as_str().into());
        line.insert("message".into(), message.unwrap_or_default().into());
        for (name, value) in fields {
            if !matches!(name.as_str(), "timestamp" | "level" | "message") {
                line.insert(name, value);
            }
        }
        // Keys in the order inserted only with serde_json's `preserve_order`; written by hand so
        // that `timestamp`, `level` and `message` lead whatever the features.
        write!(writer, "{{")?;
        for (i, key) in ["timestamp", "level", "message"].into_iter().enumerate() {
            let value = &line[key];
            write!(writer, "{}{}:{value}", if i == 0 { "" } else { "," }, Value::from(key))?;
        }
        for (key, value) in
            line.iter().filter(|(k, _)| !matches!(k.as_str(), "timestamp" | "level" | "message"))
        {
            write!(writer, ",{}:{value}", Value::from(key.as_str()))?;
        }
        writeln!(writer, "}}")
    }
}

/// An event's fields as JSON values; `message` kept apart.
struct JsonVisitor<'a> {
    fields: &'a mut Map<String, Value>,
    message: Option<String>,
}

impl JsonVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        // tracing-log's record of where a `log` record came from: left out, as tracing's own
        // formatters leave it out.
        if field.name().starts_with("log.") {
            return;
        }
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn json_lines(emit: impl FnOnce()) -> Vec<Value> {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = lambda_runtime::tracing::subscriber::fmt()
            .with_env_filter(filter_from(Some("DEBUG"), None).0)
            .fmt_fields(JsonFields::new())
            .event_format(LambdaJson)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|l| serde_json::from_str(l).expect(l)).collect()
    }

    /// The keys Lambda's log-level filtering reads, at the top level, and the request id of the
    /// invocation span beside them; the line written with `timestamp`, `level`, `message` first.
    #[test]
    fn json_lines_have_what_lambda_filters_on() {
        let lines = json_lines(|| {
            let invoke = tracing::info_span!("Lambda runtime invoke", requestId = "req-1");
            let _in = invoke.enter();
            let batch = tracing::info_span!("batch", records = 3_u64);
            let _batch = batch.enter();
            tracing::error!(
                topic_partition = "orders-0",
                offset = 7_i64,
                "record failed: \"bad\"\nnext"
            );
            tracing::debug!(ok = true, "fine");
        });
        assert_eq!(lines.len(), 2);
        let line = &lines[0];
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["message"], "record failed: \"bad\"\nnext");
        assert_eq!(line["requestId"], "req-1");
        assert_eq!(line["records"], 3);
        assert_eq!(line["topic_partition"], "orders-0");
        assert_eq!(line["offset"], 7);
        let timestamp = line["timestamp"].as_str().unwrap();
        // RFC 3339, UTC: 2026-12-06T02:30:00.123456Z
        assert_eq!(timestamp.len(), 27, "{timestamp}");
        assert!(timestamp.ends_with('Z') && &timestamp[10..11] == "T", "{timestamp}");
        assert_eq!(lines[1]["level"], "DEBUG");
        assert_eq!(lines[1]["ok"], true);
    }

    #[test]
    fn json_lines_lead_with_timestamp_level_and_message() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = lambda_runtime::tracing::subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(LambdaJson)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || tracing::warn!(a = 1, "m"));
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.starts_with("{\"timestamp\":\""), "{text}");
        assert!(text.contains("\",\"level\":\"WARN\",\"message\":\"m\",\"a\":1}\n"), "{text}");
    }

    /// `RUST_LOG`'s directives under a cap at `AWS_LAMBDA_LOG_LEVEL`; FATAL as ERROR; what is
    /// not understood is said.
    #[test]
    fn levels_follow_lambda_first() {
        use tracing::Level;
        // Whether an event at `level` for `target` gets through the filter and the cap.
        let passes = |lambda: Option<&str>, rust_log: Option<&str>, target: &str, level: Level| {
            let (filter, cap, _) = filter_from(lambda, rust_log);
            let out = Captured::default();
            let writer = out.clone();
            let subscriber = lambda_runtime::tracing::subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(move || writer.clone())
                .finish()
                .with(cap);
            tracing::subscriber::with_default(subscriber, || match (target, level) {
                ("h2", Level::INFO) => tracing::info!(target: "h2", "x"),
                ("h2", Level::DEBUG) => tracing::debug!(target: "h2", "x"),
                ("app", Level::DEBUG) => tracing::debug!(target: "app", "x"),
                ("app", Level::INFO) => tracing::info!(target: "app", "x"),
                ("app", Level::WARN) => tracing::warn!(target: "app", "x"),
                ("app", Level::ERROR) => tracing::error!(target: "app", "x"),
                _ => unreachable!(),
            });
            let written = !out.0.lock().unwrap().is_empty();
            written
        };
        // Lambda's level alone.
        assert!(passes(Some("WARN"), None, "app", Level::WARN));
        assert!(!passes(Some("WARN"), None, "app", Level::INFO));
        assert!(passes(Some("FATAL"), None, "app", Level::ERROR));
        assert!(!passes(Some("FATAL"), None, "app", Level::WARN));
        // RUST_LOG's per-target directives still apply, under Lambda's level.
        assert!(!passes(Some("INFO"), Some("info,h2=off"), "h2", Level::INFO));
        assert!(passes(Some("INFO"), Some("info,h2=off"), "app", Level::INFO));
        assert!(!passes(Some("INFO"), Some("debug"), "app", Level::DEBUG), "capped at INFO");
        assert!(!passes(Some("ERROR"), Some("app=debug"), "app", Level::WARN), "capped at ERROR");
        // RUST_LOG alone, as `EnvFilter` reads it (a target it does not name is off).
        assert!(passes(None, Some("app=debug"), "app", Level::DEBUG));
        assert!(!passes(None, Some("app=debug"), "h2", Level::INFO));
        assert!(passes(None, Some("info,app=debug"), "h2", Level::INFO));
        assert!(passes(None, None, "app", Level::INFO));
        assert!(!passes(None, None, "app", Level::DEBUG));
        // Not understood: said, and INFO.
        let (_, _, warning) = filter_from(Some("LOUD"), Some("[bad"));
        let warning = warning.unwrap();
        assert!(warning.contains("AWS_LAMBDA_LOG_LEVEL=\"LOUD\""), "{warning}");
        assert!(warning.contains("RUST_LOG=\"[bad\""), "{warning}");
        assert!(passes(Some("LOUD"), None, "app", Level::INFO));
        assert!(!passes(Some("LOUD"), None, "app", Level::DEBUG));
        assert!(filter_from(Some(" "), None).2.is_none());
    }
}
