//! The user-events work through [`Consumer::into_runtime`]: msk-lambda served by
//! `lambda_runtime` (its hyper client collecting each event), where `user-events` (`Consumer::run`)
//! uses msk-lambda's own Runtime API client. `bench/run` measures both under the loopback
//! Runtime API (`warm-invocations`).

use msk_lambda::Consumer;

fn main() -> Result<(), msk_lambda::Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        Consumer::new(msk_lambda_bench::framework::handle).into_runtime().await?.run().await
    })
}
