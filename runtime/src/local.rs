//! Local runs: the same binary, without Lambda, over an event file.

use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::time::Instant;

use crate::consumer::Consumer;
use crate::context::InvocationContext;
use crate::decode::Decode;
use crate::engine::Handles;
use crate::error::InvocationError;
use crate::event_memory::EventMemory;
use crate::report::BatchReport;
use crate::Error;

/// How many failed records the stderr summary lists.
const LISTED_FAILURES: usize = 20;

/// The event of a local run: the file at `path`, or stdin for `-`; `what` names the kind of
/// event in the message when no path was given.
///
/// The file is read into memory, not mapped: a mapped file that is rewritten or truncated
/// during the run (an editor saving it, the generator run again) would change bytes the
/// parser has already checked, or end the process with SIGBUS. A large file is read into
/// memory advised for huge pages ([`EventMemory`]), which a 6 MB event fills with a handful of
/// page faults instead of 1,500.
pub(crate) fn read_event(path: Option<OsString>, what: &str) -> Result<EventMemory, Error> {
    let Some(path) = path else {
        let program = std::env::args_os()
            .next()
            .map_or_else(|| "the function".to_owned(), |p| p.to_string_lossy().into_owned());
        return Err(format!(
            "no event file: run `{program} EVENT.json` (or `-` to read the event from stdin) to process {what} locally; under Lambda, AWS_LAMBDA_RUNTIME_API is set and the function serves invocations instead"
        )
        .into());
    };
    let event = if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read the event from stdin: {e}"))?;
        EventMemory::from(buf)
    } else {
        read_file(&path)
            .map_err(|e| format!("cannot read the event file {}: {e}", path.to_string_lossy()))?
    };
    Ok(without_bom(event))
}

fn read_file(path: &OsString) -> std::io::Result<EventMemory> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    EventMemory::read(file, usize::try_from(size).unwrap_or(0))
}

/// The event without a leading UTF-8 byte order mark, which some editors and sample files
/// (aws-lambda-dotnet's Kafka samples) have and JSON parsers may ignore (RFC 8259, 8.1). Lambda
/// itself never sends one: only local runs drop it.
fn without_bom(mut event: EventMemory) -> EventMemory {
    if event.starts_with(b"\xEF\xBB\xBF") {
        event.skip(3);
    }
    event
}

/// Processes the event at `path` (`-`: stdin), prints the response on stdout and a summary on
/// stderr. Fails when the event cannot be read or the invocation itself fails.
pub(crate) async fn run<H, S, V, K>(
    mut consumer: Consumer<H, S, V, K>,
    path: Option<OsString>,
) -> Result<(), Error>
where
    H: Handles<V, K, S>,
    V: Decode,
    K: Decode,
{
    consumer.apply_env()?;
    let event = read_event(path, "a Kafka event")?;
    let started = Instant::now();
    // Metrics go to stderr: stdout carries only the response.
    let served =
        consumer.serve_invocation(&event, InvocationContext::local(), std::io::stderr()).await;
    let elapsed = started.elapsed();
    match &served {
        Ok((_, report)) => summary(report, elapsed),
        Err(InvocationError::BatchFailed(failed)) => summary(&failed.report, elapsed),
        Err(_) => {}
    }
    let (response, _) = served?;
    write_response(&response.to_json())
}

/// The response on stdout. A reader that went away (`| head -c0`) is not an error of the run;
/// `println!` would panic.
pub(crate) fn write_response(json: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{json}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write the response to stdout: {e}").into())
        }
        _ => Ok(()),
    }
}

/// The run's counts and its first failures, on stderr, in one write (stderr is unbuffered:
/// `eprintln!` pieces would each be a system call).
fn summary(report: &BatchReport, elapsed: std::time::Duration) {
    use std::fmt::Write as _;
    let c = report.counts();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "local run: {} records in {} partition{}: {} succeeded, {} failed, {} not run after an earlier failure, {} not started before the deadline ({:.1} ms)",
        c.records,
        report.partitions.len(),
        if report.partitions.len() == 1 { "" } else { "s" },
        c.succeeded,
        c.failed,
        c.skipped,
        c.not_started,
        elapsed.as_secs_f64() * 1e3
    );
    for (key, offset, failure) in report.failures().take(LISTED_FAILURES) {
        let _ = writeln!(text, "  failed {key}@{offset}: {failure}");
    }
    if c.failed > LISTED_FAILURES {
        let _ = writeln!(text, "  … and {} more failed records", c.failed - LISTED_FAILURES);
    }
    eprint!("{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let file = std::env::temp_dir().join(format!("msk-lambda-bom-{}.json", std::process::id()));
        std::fs::write(&file, b"\xEF\xBB\xBF{\"records\":{}}").unwrap();
        let event = read_event(Some(file.clone().into_os_string()), "an event").unwrap();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(&*event, br#"{"records":{}}"#);
        assert_eq!(&*without_bom(EventMemory::from(b"{}".to_vec())), b"{}");
    }
}
