//! Tracing set up the way Lambda expects it.

use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter};

/// Installs a `tracing` subscriber unless the program already has one.
///
/// Like `lambda_runtime::tracing::init_default_subscriber`: JSON lines when
/// `AWS_LAMBDA_LOG_FORMAT=JSON`, level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default INFO),
/// no timestamps (CloudWatch adds them). Local runs log to stderr so that stdout carries only
/// the response.
pub(crate) fn init(local: bool) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let filter = EnvFilter::builder().with_default_directive(level.into()).from_env_lossy();
    let builder = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter);
    // `try_init` fails only when a subscriber is already installed: keep the user's.
    let _ = match (json, local) {
        (true, true) => builder.json().with_writer(std::io::stderr).try_init(),
        (true, false) => builder.json().try_init(),
        (false, true) => builder.with_writer(std::io::stderr).try_init(),
        (false, false) => builder.try_init(),
    };
}
