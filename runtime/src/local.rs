//! Local runs: the same binary, without Lambda, over an event file.

use std::ffi::OsString;
use std::io::Read as _;
use std::time::Instant;

use crate::consumer::{Consumer, InvocationError};
use crate::decode::Decode;
use crate::handler::Handler;
use crate::record::InvocationContext;
use crate::Error;

/// How many failed records the stderr summary lists.
const LISTED_FAILURES: usize = 20;

/// Processes the event at `path` (`-`: stdin), prints the response on stdout and a summary on
/// stderr. Fails when the event cannot be read or the invocation itself fails.
pub(crate) async fn run<H, S, V, K>(
    consumer: &Consumer<H, S, V, K>,
    path: Option<OsString>,
) -> Result<(), Error>
where
    H: Handler<V, K, S>,
    V: Decode,
    K: Decode,
{
    let Some(path) = path else {
        let program = std::env::args().next().unwrap_or_else(|| "the function".to_owned());
        return Err(format!(
            "no event file: run `{program} EVENT.json` (or `-` to read the event from stdin) to process a Kafka event locally; under Lambda, AWS_LAMBDA_RUNTIME_API is set and the function serves invocations instead"
        )
        .into());
    };
    let event = if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read the event from stdin: {e}"))?;
        buf
    } else {
        std::fs::read(&path)
            .map_err(|e| format!("cannot read the event file {}: {e}", path.to_string_lossy()))?
    };
    let started = Instant::now();
    // Metrics go to stderr: stdout carries only the response.
    let served =
        consumer.serve_invocation(&event, InvocationContext::local(), std::io::stderr()).await;
    let elapsed = started.elapsed();
    let report = match served {
        Ok((_, report)) => report,
        Err(InvocationError::BatchFailed(failed)) => failed.report,
        Err(e) => return Err(e.into()),
    };
    let c = report.counts();
    eprintln!(
        "local run: {} records in {} partitions: {} succeeded, {} failed, {} not run after an earlier failure, {} not started before the deadline ({:.1} ms)",
        c.records,
        report.partitions.len(),
        c.succeeded,
        c.failed,
        c.skipped,
        c.not_started,
        elapsed.as_secs_f64() * 1e3
    );
    for (key, offset, failure) in report.failures().take(LISTED_FAILURES) {
        eprintln!("  failed {key}@{offset}: {failure}");
    }
    if c.failed > LISTED_FAILURES {
        eprintln!("  … and {} more failed records", c.failed - LISTED_FAILURES);
    }
    let response = report.into_result(consumer.configured_response_mode())?;
    println!("{}", response.to_json());
    Ok(())
}
