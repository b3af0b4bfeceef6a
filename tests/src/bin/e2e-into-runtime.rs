//! The end-to-end test function (`msk_lambda_tests::e2e_function`) served through
//! `Consumer::into_runtime`: `lambda_runtime`'s client.

use msk_lambda::Consumer;
use msk_lambda_tests::e2e_function::{handle, init};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), msk_lambda::Error> {
    Consumer::with_state(init, handle).into_runtime().await?.run().await
}
