//! The api-to-msk Lambda function. Configured from the environment: `MSK_BOOTSTRAP_SERVERS`,
//! `MSK_AUTH` (`iam` by default, with `AWS_REGION`). Run it locally against a local broker:
//! `MSK_AUTH=plaintext MSK_BOOTSTRAP_SERVERS=127.0.0.1:9092 cargo run -p api-to-msk -- examples/api-to-msk/events/post.json`

#![forbid(unsafe_code)]

use std::process::ExitCode;

use api_to_msk::{handle, HttpRequest, HttpResponse, Producers};
use msk_lambda::producer::ProducerConfig;

fn main() -> ExitCode {
    let config = match ProducerConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Once per execution environment: every request reuses the producer's connections.
    let producers = Producers::new(config);
    msk_lambda::function::main(
        async |request: HttpRequest| -> Result<HttpResponse, msk_lambda::Error> {
            Ok(handle(request, &producers).await)
        },
    )
}
