//! The events-to-postgres example's bulk handler against a per-record handler, writing the
//! same event into a fresh `user_events` table each time, on a real PostgreSQL server:
//! `postgres-bulk DATABASE_URL EVENT.json RUNS`.
//!
//! - `bulk`: the example's consumer as it is deployed (one multi-row insert per partition).
//! - `per-record`: `Consumer::with_state` with a handler running one single-row
//!   `INSERT … VALUES … ON CONFLICT DO NOTHING` per record, prepared once, on one kept
//!   connection: what the example would be without bulk handlers. Partitions still run
//!   concurrently (msk-lambda's default), so up to one statement per partition is in flight on
//!   the connection at once.
//!
//! Both connect before the clock starts (as in Lambda's INIT phase) and prepare their statement
//! inside the timed invocation. The server counts the inserts it ran (`pg_stat_statements`,
//! which the server must load): each is one round trip, the prepare aside. Each run checks that
//! the response is a success and that the table holds every record. Runs alternate between the
//! two, so that a change in the machine's load hits both alike. Prints one line per handler,
//! for its median run: `handler=NAME records=N median_ms=T records_per_s=R statements=S
//! server_ms=E`, where E is the time the server spent executing the inserts.

use std::time::{Duration, Instant};

use events_to_postgres::{consumer_with, Database, Row, UserEvent, SCHEMA};
use msk_lambda::{Consumer, FailurePolicy, Json, Record};
use tokio_postgres::{Client, NoTls, Statement};

/// The per-record handler's statement: one row.
const INSERT_ONE: &str = "\
INSERT INTO user_events (kafka_topic, kafka_partition, kafka_offset, user_id, event_type, amount, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6::text::numeric, $7)
ON CONFLICT (kafka_topic, kafka_partition, kafka_offset) DO NOTHING";

/// The per-record handler's state: a kept connection and its prepared statement.
struct PerRecord {
    client: Client,
    insert: tokio::sync::OnceCell<Statement>,
}

async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("postgres-bulk: the connection ended: {e}");
        }
    });
    Ok(client)
}

async fn per_record(
    record: Record<Json<UserEvent>>,
    db: &PerRecord,
) -> Result<(), msk_lambda::Error> {
    let insert = db.insert.get_or_try_init(|| db.client.prepare(INSERT_ONE)).await?;
    let row = Row::new(&record);
    let amount = row.amount.map(|a| a.to_string());
    db.client
        .execute(
            insert,
            &[
                &record.topic(),
                &record.partition(),
                &row.offset,
                &row.user_id,
                &row.event_type,
                &amount,
                &row.occurred_at,
            ],
        )
        .await?;
    Ok(())
}

/// What one timed invocation measured.
struct Run {
    elapsed: Duration,
    /// Inserts the server ran.
    statements: i64,
    /// The time the server spent executing them.
    server: Duration,
}

/// One timed invocation of `handler` on `event` into a fresh table.
async fn once(admin: &Client, url: &str, event: &[u8], records: i64, handler: &str) -> Run {
    admin.batch_execute("DROP TABLE IF EXISTS user_events").await.unwrap();
    admin.batch_execute(SCHEMA).await.unwrap();
    let (elapsed, response) = if handler == "bulk" {
        let url = url.to_owned();
        let consumer = consumer_with(move || Database::connect(url.clone()));
        consumer.state().await.expect("the bulk handler connects");
        reset(admin).await;
        let started = Instant::now();
        let response = consumer.invoke(event).await.unwrap();
        (started.elapsed(), response)
    } else {
        let url = url.to_owned();
        let init = move || {
            let url = url.clone();
            async move {
                let client = connect(&url).await?;
                Ok::<_, tokio_postgres::Error>(PerRecord {
                    client,
                    insert: tokio::sync::OnceCell::new(),
                })
            }
        };
        let consumer =
            Consumer::with_state(init, per_record).failure_policy(FailurePolicy::Continue);
        consumer.state().await.expect("the per-record handler connects");
        reset(admin).await;
        let started = Instant::now();
        let response = consumer.invoke(event).await.unwrap();
        (started.elapsed(), response)
    };
    assert_eq!(
        response.to_json(),
        r#"{"batchItemFailures":[]}"#,
        "{handler}: every record succeeds"
    );
    let rows: i64 = admin.query_one("SELECT count(*) FROM user_events", &[]).await.unwrap().get(0);
    assert_eq!(rows, records, "{handler}: every record is in the table");
    let stats = admin
        .query_one(
            "SELECT coalesce(sum(calls), 0)::bigint, coalesce(sum(total_exec_time), 0)::float8
             FROM pg_stat_statements WHERE query LIKE 'INSERT INTO user_events%'",
            &[],
        )
        .await
        .unwrap();
    Run {
        elapsed,
        statements: stats.get(0),
        server: Duration::from_secs_f64(stats.get::<_, f64>(1) / 1e3),
    }
}

async fn reset(admin: &Client) {
    admin.batch_execute("SELECT pg_stat_statements_reset()").await.unwrap();
}

fn count_records(event: &[u8]) -> i64 {
    let value: serde_json::Value = serde_json::from_slice(event).expect("the event is JSON");
    let records = value["records"].as_object().expect("a Kafka event");
    records.values().map(|p| p.as_array().map_or(0, Vec::len) as i64).sum()
}

fn main() {
    let usage = "usage: postgres-bulk DATABASE_URL EVENT.json RUNS";
    let mut args = std::env::args().skip(1);
    let url = args.next().expect(usage);
    let event = std::fs::read(args.next().expect(usage)).expect("the event file is readable");
    let runs: usize = args.next().expect(usage).parse().expect(usage);
    let records = count_records(&event);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let admin = connect(&url).await.expect("the server is up");
        admin
            .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .await
            .expect("the server loads pg_stat_statements (shared_preload_libraries)");
        let handlers = ["bulk", "per-record"];
        let mut measured: [Vec<Run>; 2] = [Vec::new(), Vec::new()];
        for run in 0..runs {
            // Alternate which goes first.
            let order = if run % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                measured[i].push(once(&admin, &url, &event, records, handlers[i]).await);
            }
        }
        for (handler, mut runs) in handlers.iter().zip(measured) {
            runs.sort_by_key(|r| r.elapsed);
            let median = &runs[runs.len() / 2];
            println!(
                "handler={handler} records={records} median_ms={:.2} records_per_s={:.0} statements={} server_ms={:.2}",
                median.elapsed.as_secs_f64() * 1e3,
                records as f64 / median.elapsed.as_secs_f64(),
                median.statements,
                median.server.as_secs_f64() * 1e3
            );
        }
    });
}
