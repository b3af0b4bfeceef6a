//! The process entry point: serve Lambda invocations when the Runtime API is there, otherwise
//! run locally over an event file; tracing set up the way Lambda expects; a current-thread tokio
//! runtime around it all.
//!
//! This module sits above what it wires: it depends on the consumer and on both transports
//! (`lambda`, `local`), and none of them depends on it.

use std::process::ExitCode;

use crate::consumer::Consumer;
use crate::decode::Decode;
use crate::engine::Handles;
use crate::Error;

/// Under Lambda (or an emulator of its Runtime API) `AWS_LAMBDA_RUNTIME_API` is set.
pub(crate) fn under_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// The event file a local run reads: the first command-line argument.
pub(crate) fn event_path() -> Option<std::ffi::OsString> {
    std::env::args_os().nth(1)
}

impl<H, S, V, K> Consumer<H, S, V, K>
where
    H: Handles<V, K, S> + 'static,
    S: 'static,
    V: Decode + 'static,
    K: Decode + 'static,
{
    /// Serves invocations: under Lambda (when `AWS_LAMBDA_RUNTIME_API` is set) from its
    /// Runtime API; otherwise as a local run over the event file named by the first
    /// command-line argument (`-` for stdin), printing the response JSON on stdout.
    ///
    /// Under Lambda, msk-lambda's own Runtime API client reads each event straight from the
    /// socket into one buffer kept from one invocation to the next (`lambda_runtime` copies a
    /// 6 MB event twice, into new memory each time), and does around each invocation what
    /// `lambda_runtime` does: the `Lambda runtime invoke` span with `requestId`,
    /// `_X_AMZN_TRACE_ID`, errors and panics posted to `/error`. Under SnapStart or Lambda
    /// Managed Instances it serves through `lambda_runtime`; so does
    /// [`into_runtime`](Consumer::into_runtime), to add tower layers or SnapStart hooks.
    ///
    /// Initialises tracing the way Lambda expects (`AWS_LAMBDA_LOG_FORMAT=JSON` for JSON logs,
    /// `RUST_LOG` capped at `AWS_LAMBDA_LOG_LEVEL` for the level) unless a subscriber is already
    /// set.
    pub async fn run(self) -> Result<(), Error> {
        if under_lambda() {
            self.serve_under_lambda().await
        } else {
            crate::logging::init(true);
            crate::local::run(self, event_path()).await
        }
    }

    /// Builds a tokio runtime, runs [`run`](Consumer::run) on it and turns the result into the
    /// process exit code (printing the error, if any, to stderr).
    ///
    /// The runtime is current-thread, unless the consumer has more than one
    /// [`worker`](Consumer::workers) (after `MSK_LAMBDA_WORKERS`): then it is multi-thread,
    /// with one thread of its own for timers, I/O and spawned tasks besides the workers.
    pub fn main(self) -> ExitCode {
        if self.wants_multi_thread() {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(1).enable_all();
            block_on_main_with(builder, self.run())
        } else {
            block_on_main(self.run())
        }
    }
}

/// Runs a binary's `main` future on a current-thread tokio runtime and turns its result into
/// the exit code, printing the error, if any, to stderr.
pub(crate) fn block_on_main(
    main: impl std::future::Future<Output = Result<(), Error>>,
) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    block_on_main_with(builder, main)
}

/// [`block_on_main`] on the runtime `builder` builds.
fn block_on_main_with(
    mut builder: tokio::runtime::Builder,
    main: impl std::future::Future<Output = Result<(), Error>>,
) -> ExitCode {
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("msk_lambda: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", crate::error::chain(&*e));
            ExitCode::FAILURE
        }
    }
}
