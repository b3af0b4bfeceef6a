//! The end-to-end test function (`msk_lambda_tests::e2e_function`) as `#[msk_handler]` makes
//! it: served by `Consumer::run`, msk-lambda's own Runtime API client.

use msk_lambda::{msk_handler, Record};
use msk_lambda_tests::e2e_function::{self, State};

#[msk_handler(state = e2e_function::init)]
async fn handle(record: Record<String>, state: &State) -> Result<(), String> {
    e2e_function::handle(record, state).await
}
