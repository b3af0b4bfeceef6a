//! Local runs: the same binary, without Lambda, over an event file.

use std::ffi::OsString;
use std::io::Read as _;
use std::process::ExitCode;
use std::time::Instant;

use crate::consumer::Consumer;
use crate::context::InvocationContext;
use crate::decode::Decode;
use crate::error::InvocationError;
use crate::handler::Handler;
use crate::Error;

/// How many failed records the stderr summary lists.
const LISTED_FAILURES: usize = 20;

/// The event of a local run: the file at `path`, or stdin for `-`; `what` names the kind of
/// event in the message when no path was given.
pub(crate) fn read_event(path: Option<OsString>, what: &str) -> Result<EventBytes, Error> {
    let Some(path) = path else {
        let program = std::env::args().next().unwrap_or_else(|| "the function".to_owned());
        return Err(format!(
            "no event file: run `{program} EVENT.json` (or `-` to read the event from stdin) to process {what} locally; under Lambda, AWS_LAMBDA_RUNTIME_API is set and the function serves invocations instead"
        )
        .into());
    };
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read the event from stdin: {e}"))?;
        return Ok(EventBytes::Read(buf));
    }
    let cannot =
        |e: std::io::Error| format!("cannot read the event file {}: {e}", path.to_string_lossy());
    let file = std::fs::File::open(&path).map_err(cannot)?;
    if file.metadata().is_ok_and(|m| m.is_file() && m.len() > 0) {
        if let Ok(map) = map_file(&file) {
            return Ok(EventBytes::Mapped(map));
        }
    }
    let mut buf = Vec::new();
    (&file).read_to_end(&mut buf).map_err(cannot)?;
    Ok(EventBytes::Read(buf))
}

/// An event read for a local run.
pub(crate) enum EventBytes {
    /// A regular file, mapped into memory: multi-megabyte events are not copied, and the
    /// pages come from the page cache without being zeroed and faulted in one by one first
    /// (for a 6 MB event this saves ~4 ms, a fifth of a whole local run).
    Mapped(memmap2::Mmap),
    /// Stdin, or a file that could not be mapped.
    Read(Vec<u8>),
}

impl std::ops::Deref for EventBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            EventBytes::Mapped(map) => map,
            EventBytes::Read(buf) => buf,
        }
    }
}

/// Maps an event file read-only.
#[allow(unsafe_code)]
fn map_file(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only and lives only while the event is processed. Changing
    // or truncating the file during a local run is the one way to break it, as with any
    // memory-mapped reader (ripgrep has the same caveat); nothing here writes to it.
    unsafe { memmap2::Mmap::map(file) }
}

/// Runs a binary's `main` future on a current-thread tokio runtime and turns its result into
/// the exit code, printing the error, if any, to stderr.
pub(crate) fn block_on_main(
    main: impl std::future::Future<Output = Result<(), Error>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("msk_lambda: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

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
    let event = read_event(path, "a Kafka event")?;
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
