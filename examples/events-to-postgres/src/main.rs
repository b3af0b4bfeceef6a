//! The events-to-postgres Lambda function: `user-events` records written to PostgreSQL, one
//! idempotent multi-row insert per partition. The database is `DATABASE_URL`. Run it locally on
//! the sample event (a server for it: `scripts/postgres start DIR`, see the README):
//! `DATABASE_URL=… cargo run -p events-to-postgres -- examples/events-to-postgres/events/sample.json`

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    // `Consumer::bulk_with_state(init, handle).failure_policy(FailurePolicy::Continue)`, built in
    // the library so that its integration tests run the same consumer.
    events_to_postgres::consumer().main()
}
