//! events-to-postgres against a real PostgreSQL server on loopback (a new cluster per test,
//! started by `scripts/postgres`): rows written once per record, redeliveries written no
//! second time, rows the database rejects failed alone, undecodable records never handed over,
//! the connection kept, and opened again once closed.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use events_to_postgres::{consumer_with, Database, Row, UserEvent, SCHEMA};
use msk_lambda::testing::{TestEvent, TestRecord};
use msk_lambda::{BatchReport, FailureKind, InvocationContext, Outcome};
use msk_lambda_tests::postgres::Postgres;
use tokio_postgres::{Client, NoTls};

/// A server with pg_stat_statements loaded (to count the statements the example runs), its
/// `user_events` table, and a client of the test's own.
async fn server() -> (Postgres, Client) {
    let server = Postgres::start_with(&["shared_preload_libraries=pg_stat_statements"]);
    let (client, connection) = tokio_postgres::connect(&server.url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(SCHEMA).await.unwrap();
    client.batch_execute("CREATE EXTENSION pg_stat_statements").await.unwrap();
    (server, client)
}

/// The example's consumer, as `main` builds it, connecting to `url`.
async fn process(url: &str, event: &TestEvent) -> BatchReport {
    let url = url.to_owned();
    let consumer = consumer_with(move || Database::connect(url.clone()));
    consumer.process(&event.to_bytes(), InvocationContext::local()).await.unwrap()
}

/// A record of `user-events` with this JSON value.
fn record(partition: i32, offset: i64, value: &str) -> TestRecord {
    TestRecord::new("user-events", partition, offset)
        .timestamp_millis(1_735_689_600_000 + offset)
        .value(value)
}

fn valid(partition: i32, offset: i64) -> TestRecord {
    let value = format!(
        r#"{{"userId":"user-{offset}","eventType":"purchase","amount":{}.25,"page":"/p"}}"#,
        offset % 1000
    );
    record(partition, offset, &value)
}

async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// How many times the example's insert ran on the server.
async fn inserts(client: &Client) -> i64 {
    count(
        client,
        "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE query LIKE 'INSERT INTO user_events%'",
    )
    .await
}

/// The offsets the table holds for a partition.
async fn offsets(client: &Client, partition: i32) -> Vec<i64> {
    client
        .query(
            "SELECT kafka_offset FROM user_events WHERE kafka_topic = 'user-events' AND kafka_partition = $1 ORDER BY 1",
            &[&partition],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The failures of a report: (partition key, offset, kind, message).
fn failures(report: &BatchReport) -> Vec<(String, i64, FailureKind, String)> {
    let mut failed = Vec::new();
    for partition in &report.partitions {
        for (offset, outcome) in &partition.outcomes {
            match outcome {
                Outcome::Succeeded => {}
                Outcome::Failed(f) => {
                    failed.push((partition.key.clone(), *offset, f.kind, f.message.clone()))
                }
                other => {
                    panic!("{}@{offset} neither succeeded nor failed: {other:?}", partition.key)
                }
            }
        }
    }
    failed
}

#[tokio::test]
async fn every_record_is_written_once_by_one_insert_per_partition_and_a_redelivery_adds_nothing() {
    let (server, client) = server().await;
    // 600 records in 3 partitions.
    let event =
        TestEvent::msk().records((0..3).flat_map(|p| (0..200).map(move |i| valid(p, 1_000 + i))));
    let report = process(&server.url, &event).await;
    assert_eq!(report.response().to_json(), r#"{"batchItemFailures":[]}"#);
    assert_eq!(report.counts().succeeded, 600);
    assert_eq!(count(&client, "SELECT count(*) FROM user_events").await, 600);
    for p in 0..3 {
        assert_eq!(offsets(&client, p).await, (1_000..1_200).collect::<Vec<i64>>());
    }
    assert_eq!(inserts(&client).await, 3, "one statement per partition");
    let row = client
        .query_one(
            "SELECT user_id, event_type, amount::text, (extract(epoch FROM occurred_at) * 1000)::bigint
             FROM user_events WHERE kafka_partition = 1 AND kafka_offset = 1007",
            &[],
        )
        .await
        .unwrap();
    let (user, kind, amount, millis): (String, String, String, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        (user.as_str(), kind.as_str(), amount.as_str(), millis),
        ("user-1007", "purchase", "7.25", 1_735_689_601_007)
    );
    let first_written = "SELECT max(written_at)::text FROM user_events";
    let written_at: String = client.query_one(first_written, &[]).await.unwrap().get(0);

    // Lambda delivers the same records again (a retry after an error, a partial batch): every
    // record succeeds, nothing is written twice, nothing rewritten.
    let again = process(&server.url, &event).await;
    assert_eq!(again.response().to_json(), r#"{"batchItemFailures":[]}"#);
    assert_eq!(count(&client, "SELECT count(*) FROM user_events").await, 600);
    let written_again: String = client.query_one(first_written, &[]).await.unwrap().get(0);
    assert_eq!(written_again, written_at);
    assert_eq!(inserts(&client).await, 6);

    // Half of it again with 50 new records after it: only the new ones are added.
    let overlapping = TestEvent::msk().records((1_100..1_250).map(|offset| valid(2, offset)));
    let report = process(&server.url, &overlapping).await;
    assert_eq!(report.response().to_json(), r#"{"batchItemFailures":[]}"#);
    assert_eq!(offsets(&client, 2).await, (1_000..1_250).collect::<Vec<i64>>());
    assert_eq!(count(&client, "SELECT count(*) FROM user_events").await, 650);
}

#[tokio::test]
async fn rows_the_database_rejects_fail_alone_and_the_response_names_exactly_them() {
    let (server, client) = server().await;
    let mut partition0: Vec<TestRecord> = (0..100).map(|i| valid(0, i)).collect();
    // Rejected by the check constraints (an unknown event type, a negative amount) and by the
    // column type (numeric(12, 2) overflows).
    partition0[17] = record(0, 17, r#"{"userId":"u-17","eventType":"delete"}"#);
    partition0[60] = record(0, 60, r#"{"userId":"u-60","eventType":"purchase","amount":-3}"#);
    let partition1 = vec![
        valid(1, 5),
        record(1, 6, r#"{"userId":"u-6","eventType":"purchase","amount":1e300}"#),
        valid(1, 7),
    ];
    let partition2: Vec<TestRecord> = (0..10).map(|i| valid(2, i)).collect();
    let event = TestEvent::msk().records(partition0).records(partition1).records(partition2);
    let report = process(&server.url, &event).await;

    assert_eq!(
        report.response().to_json(),
        concat!(
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"user-events-0","offset":17}},"#,
            r#"{"itemIdentifier":{"partition":"user-events-0","offset":60}},"#,
            r#"{"itemIdentifier":{"partition":"user-events-1","offset":6}}]}"#
        )
    );
    let check = |constraint: &str| {
        format!("the database rejected the row: new row for relation \"user_events\" violates check constraint \"{constraint}\" (SQLSTATE 23514)")
    };
    assert_eq!(
        failures(&report),
        [
            (
                "user-events-0".into(),
                17,
                FailureKind::Handler,
                check("user_events_known_event_type")
            ),
            (
                "user-events-0".into(),
                60,
                FailureKind::Handler,
                check("user_events_amount_not_negative")
            ),
            (
                "user-events-1".into(),
                6,
                FailureKind::Handler,
                "the database rejected the row: numeric field overflow (SQLSTATE 22003)".into()
            ),
        ]
    );
    // Every other record is written, the rejected ones are not.
    let expected0: Vec<i64> = (0..100).filter(|o| ![17, 60].contains(o)).collect();
    assert_eq!(offsets(&client, 0).await, expected0);
    assert_eq!(offsets(&client, 1).await, [5, 7]);
    assert_eq!(offsets(&client, 2).await, (0..10).collect::<Vec<i64>>());
    // Finding them took a few statements, not one per row (the count of each is checked below,
    // through `Database::write`): pg_stat_statements counts those that succeeded, the halves
    // without a rejected row, 12 + 2 + 1.
    assert_eq!(inserts(&client).await, 12 + 2 + 1);

    // Delivered again, the rejected rows fail again (and only they); nothing is doubled.
    let again = process(&server.url, &event).await;
    assert_eq!(again.response().to_json(), report.response().to_json());
    assert_eq!(count(&client, "SELECT count(*) FROM user_events").await, 98 + 2 + 10);
}

#[tokio::test]
async fn finding_the_rejected_rows_takes_about_two_statements_per_halving() {
    let (server, client) = server().await;
    let db = Database::connect(&server.url).await.unwrap();
    let events: Vec<String> = (0..100)
        .map(|offset| {
            let kind = if offset == 17 { "delete" } else { "view" };
            let amount = if offset == 60 { "-3" } else { "1" };
            format!(r#"{{"userId":"u-{offset}","eventType":"{kind}","amount":{amount}}}"#)
        })
        .collect();
    let records: Vec<msk_lambda::Record<msk_lambda::Json<UserEvent>>> = events
        .iter()
        .enumerate()
        .map(|(offset, value)| record(0, offset as i64, value).decode().unwrap())
        .collect();
    let rows: Vec<Row<'_>> = records.iter().map(Row::new).collect();

    let written = db.write("user-events", 0, &rows).await.unwrap();
    // 1 for all 100 rows, then for each rejected row the halves down to it (100, 50, 25, 13, 7,
    // 4, 2, 1 rows: 7 levels, 2 statements each, the first shared): 27 in all.
    assert_eq!(written.statements, 27);
    assert_eq!(written.inserted, 98);
    let rejected: Vec<i64> = written.rejected.iter().map(|(offset, _)| *offset).collect();
    assert_eq!(rejected, [17, 60]);
    assert_eq!(count(&client, "SELECT count(*) FROM user_events").await, 98);

    // The same rows again: the same statements, nothing inserted.
    let again = db.write("user-events", 0, &rows).await.unwrap();
    assert_eq!((again.statements, again.inserted, again.rejected.len()), (27, 0, 2));

    // Without a rejected row, one statement whatever the number of rows.
    let clean: Vec<Row<'_>> =
        rows.iter().filter(|r| ![17, 60].contains(&r.offset)).cloned().collect();
    let once = db.write("user-events", 1, &clean).await.unwrap();
    assert_eq!((once.statements, once.inserted, once.rejected.len()), (1, 98, 0));
}

#[tokio::test]
async fn undecodable_records_fail_without_reaching_the_handler_or_the_table() {
    let (server, client) = server().await;
    let event = TestEvent::msk().records([
        valid(0, 1),
        record(0, 2, "not json"),
        record(0, 3, r#"{"userId":"u-3"}"#),
        TestRecord::new("user-events", 0, 4).tombstone(),
        valid(0, 5),
    ]);
    let report = process(&server.url, &event).await;
    assert_eq!(
        report.response().to_json(),
        concat!(
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"user-events-0","offset":2}},"#,
            r#"{"itemIdentifier":{"partition":"user-events-0","offset":3}},"#,
            r#"{"itemIdentifier":{"partition":"user-events-0","offset":4}}]}"#
        )
    );
    let kinds: Vec<(i64, FailureKind)> =
        failures(&report).into_iter().map(|(_, offset, kind, _)| (offset, kind)).collect();
    assert_eq!(
        kinds,
        [(2, FailureKind::Decode), (3, FailureKind::Decode), (4, FailureKind::Decode)]
    );
    assert_eq!(offsets(&client, 0).await, [1, 5]);
    assert_eq!(inserts(&client).await, 1, "the decoded records in one statement");
}

#[tokio::test]
async fn an_error_not_about_a_row_fails_the_whole_batch_and_the_next_delivery_succeeds() {
    let (server, client) = server().await;
    client.batch_execute("DROP TABLE user_events").await.unwrap();
    let event = TestEvent::msk().records([valid(0, 1), valid(0, 2), valid(1, 1)]);
    let report = process(&server.url, &event).await;
    let message = "PostgreSQL did not write the rows: relation \"user_events\" does not exist (SQLSTATE 42P01)";
    let failed: Vec<(String, i64, FailureKind, String)> =
        [("user-events-0", 1), ("user-events-0", 2), ("user-events-1", 1)]
            .into_iter()
            .map(|(p, o)| (p.to_owned(), o, FailureKind::Handler, message.to_owned()))
            .collect();
    assert_eq!(failures(&report), failed);
    assert_eq!(
        report.response().to_json(),
        concat!(
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"user-events-0","offset":1}},"#,
            r#"{"itemIdentifier":{"partition":"user-events-0","offset":2}},"#,
            r#"{"itemIdentifier":{"partition":"user-events-1","offset":1}}]}"#
        )
    );

    client.batch_execute(SCHEMA).await.unwrap();
    let again = process(&server.url, &event).await;
    assert_eq!(again.response().to_json(), r#"{"batchItemFailures":[]}"#);
    assert_eq!(count(&client, "SELECT count(*) FROM user_events").await, 3);
}

#[tokio::test]
async fn the_connection_is_kept_across_invocations_and_opened_again_once_closed() {
    let (server, client) = server().await;
    let url = server.url.clone();
    let consumer = consumer_with(move || Database::connect(url.clone()));
    let backends = "SELECT pid FROM pg_stat_activity WHERE application_name = 'events-to-postgres'";
    let pids = async || -> Vec<i32> {
        client.query(backends, &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
    };

    let first = TestEvent::msk().records([valid(0, 1), valid(1, 1)]);
    let response = consumer.invoke(&first.to_bytes()).await.unwrap();
    assert_eq!(response.to_json(), r#"{"batchItemFailures":[]}"#);
    let kept = pids().await;
    assert_eq!(kept.len(), 1, "one connection for both partitions: {kept:?}");
    let second = TestEvent::msk().records([valid(0, 2), valid(1, 2)]);
    consumer.invoke(&second.to_bytes()).await.unwrap();
    assert_eq!(pids().await, kept, "the same connection");

    // The server ends the session (an idle timeout of a proxy, a failover, a restart): the next
    // invocation connects again and succeeds.
    let terminated: bool = client
        .query_one("SELECT pg_terminate_backend($1, 5000)", &[&kept[0]])
        .await
        .unwrap()
        .get(0);
    assert!(terminated);
    let third = TestEvent::msk().records([valid(0, 3), valid(1, 3)]);
    let response = consumer.invoke(&third.to_bytes()).await.unwrap();
    assert_eq!(response.to_json(), r#"{"batchItemFailures":[]}"#);
    let reconnected = pids().await;
    assert_eq!(reconnected.len(), 1);
    assert_ne!(reconnected, kept);
    assert_eq!(offsets(&client, 0).await, [1, 2, 3]);
    assert_eq!(offsets(&client, 1).await, [1, 2, 3]);
}

/// A valid row for `Database::write` called directly.
fn view(offset: i64) -> Row<'static> {
    Row { offset, user_id: "u-1", event_type: "view", amount: None, occurred_at: None }
}

/// A TCP relay on loopback in front of the server, whose open connections can be cut or
/// silenced. A cut connection is closed at the client's next write, unforwarded: as a proxy's
/// or a NAT's idle timeout leaves a connection, found out only when it is used. A silenced one
/// stays open and forwards nothing either way: a server or path that stopped answering.
struct CuttingRelay {
    port: u16,
    accepted: Arc<AtomicUsize>,
    cut_before: Arc<AtomicUsize>,
    silent_before: Arc<AtomicUsize>,
}

impl CuttingRelay {
    fn start(target: u16) -> CuttingRelay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let cut_before = Arc::new(AtomicUsize::new(0));
        let silent_before = Arc::new(AtomicUsize::new(0));
        let (count, cut, silent) = (accepted.clone(), cut_before.clone(), silent_before.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let id = count.fetch_add(1, Ordering::SeqCst);
                let server = TcpStream::connect(("127.0.0.1", target)).unwrap();
                let (mut from_client, mut to_server) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut from_server, mut to_client) = (server, client);
                let cut = cut.clone();
                let (silent, silent_too) = (silent.clone(), silent.clone());
                std::thread::spawn(move || {
                    let mut buf = [0; 16 * 1024];
                    while let Ok(n @ 1..) = from_client.read(&mut buf) {
                        if id < silent.load(Ordering::SeqCst) {
                            continue;
                        }
                        if id < cut.load(Ordering::SeqCst)
                            || to_server.write_all(&buf[..n]).is_err()
                        {
                            break;
                        }
                    }
                    let _ = from_client.shutdown(Shutdown::Both);
                    let _ = to_server.shutdown(Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let mut buf = [0; 16 * 1024];
                    while let Ok(n @ 1..) = from_server.read(&mut buf) {
                        if id < silent_too.load(Ordering::SeqCst) {
                            continue;
                        }
                        if to_client.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    if id >= silent_too.load(Ordering::SeqCst) {
                        let _ = to_client.shutdown(Shutdown::Both);
                    }
                });
            }
        });
        CuttingRelay { port, accepted, cut_before, silent_before }
    }

    /// Silences every connection open now; later ones pass.
    fn silence_open_connections(&self) {
        self.silent_before.store(self.accepted.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Cuts every connection open now; later ones pass.
    fn cut_open_connections(&self) {
        self.cut_before.store(self.accepted.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_kept_connection_found_dead_at_the_write_is_replaced_and_the_rows_written() {
    let (server, client) = server().await;
    let relay = CuttingRelay::start(server.port());
    let url = server.url.replace(&format!(":{}/", server.port()), &format!(":{}/", relay.port));
    let consumer = consumer_with(move || Database::connect(url.clone()));
    let first = TestEvent::msk().records([valid(0, 1), valid(1, 1)]);
    let response = consumer.invoke(&first.to_bytes()).await.unwrap();
    assert_eq!(response.to_json(), r#"{"batchItemFailures":[]}"#);
    assert_eq!(relay.accepted.load(Ordering::SeqCst), 1);

    // The client cannot know before it writes: the write fails, and is made again on a new
    // connection.
    relay.cut_open_connections();
    let second = TestEvent::msk().records([valid(0, 2), valid(1, 2)]);
    let response = consumer.invoke(&second.to_bytes()).await.unwrap();
    assert_eq!(response.to_json(), r#"{"batchItemFailures":[]}"#);
    assert_eq!(relay.accepted.load(Ordering::SeqCst), 2, "one new connection");
    assert_eq!(offsets(&client, 0).await, [1, 2]);
    assert_eq!(offsets(&client, 1).await, [1, 2]);
}

/// A write that never gets its answer (the server or the path stopped answering, the
/// connection still open) is abandoned when the handler is cancelled at the deadline; the
/// connection is not used again, so the next delivery is written on a new one instead of
/// waiting on the silent one until its deadline too, delivery after delivery.
#[tokio::test]
async fn a_connection_whose_write_was_abandoned_is_not_used_again() {
    let (server, client) = server().await;
    let relay = CuttingRelay::start(server.port());
    let url = server.url.replace(&format!(":{}/", server.port()), &format!(":{}/", relay.port));
    let db = Database::connect(&url).await.unwrap();
    db.write("user-events", 0, &[view(1)]).await.unwrap();

    relay.silence_open_connections();
    let deadline = std::time::Duration::from_millis(500);
    let unanswered = tokio::time::timeout(deadline, db.write("user-events", 0, &[view(2)])).await;
    assert!(unanswered.is_err(), "the silenced write cannot finish: {unanswered:?}");

    let again =
        tokio::time::timeout(deadline * 10, db.write("user-events", 0, &[view(2), view(3)]))
            .await
            .expect("the next write does not wait on the silent connection")
            .unwrap();
    assert_eq!((again.inserted, again.statements), (2, 1));
    // A new connection, besides the cancel request's (a connection of its own).
    assert!(relay.accepted.load(Ordering::SeqCst) >= 2, "a new connection");
    assert_eq!(offsets(&client, 0).await, [1, 2, 3]);
}

/// A write waiting on a lock another session holds, abandoned at the deadline: its statement
/// is cancelled on the server and its connection closed, rather than left running, one more on
/// every delivery that meets the same lock.
#[tokio::test]
async fn an_abandoned_write_is_cancelled_on_the_server() {
    let (server, client) = server().await;
    let db = Database::connect(&server.url).await.unwrap();
    db.write("user-events", 0, &[view(1)]).await.unwrap();
    let (locker, connection) = tokio_postgres::connect(&server.url, NoTls).await.unwrap();
    tokio::spawn(connection);
    locker.batch_execute("BEGIN; LOCK TABLE user_events IN ACCESS EXCLUSIVE MODE").await.unwrap();

    let deadline = std::time::Duration::from_millis(500);
    let waited = tokio::time::timeout(deadline, db.write("user-events", 0, &[view(2)])).await;
    assert!(waited.is_err(), "the write waits on the lock: {waited:?}");
    let waiting = async || -> i64 {
        client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO user_events%' AND state = 'active'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    };
    let started = std::time::Instant::now();
    while waiting().await > 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the insert still waits");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    locker.batch_execute("ROLLBACK").await.unwrap();
    let again = db.write("user-events", 0, &[view(2)]).await.unwrap();
    assert_eq!(again.inserted, 1);
    assert_eq!(offsets(&client, 0).await, [1, 2]);
}

#[tokio::test]
async fn a_wrong_password_or_address_fails_init_with_the_reason() {
    let server = Postgres::start();
    let (head, tail) = server.url.split_once('@').unwrap();
    let (user, _password) = head.rsplit_once(':').unwrap();
    let wrong_password = format!("{user}:wrong@{tail}");
    let event = TestEvent::msk().record(valid(0, 1));
    let consumer = consumer_with(move || Database::connect(wrong_password.clone()));
    let err = consumer.invoke(&event.to_bytes()).await.unwrap_err().to_string();
    assert!(
        err.contains("cannot connect to PostgreSQL: password authentication failed for user \"postgres\" (SQLSTATE 28P01)"),
        "{err}"
    );

    let port = msk_lambda_tests::broker::free_port();
    let nobody = format!("postgresql://postgres:x@127.0.0.1:{port}/postgres");
    let consumer = consumer_with(move || Database::connect(nobody.clone()));
    let err = consumer.invoke(&event.to_bytes()).await.unwrap_err().to_string();
    assert!(err.contains("cannot connect to PostgreSQL: error connecting to server"), "{err}");
}

/// The built binary's local run on the sample event, as the README shows it.
#[tokio::test]
async fn the_sample_event_through_the_binary() {
    let (server, client) = server().await;
    let run = |url: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_events-to-postgres"));
        command
            .arg("events/sample.json")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env_remove("DATABASE_URL")
            .env("MSK_LAMBDA_METRICS", "off");
        if let Some(url) = url {
            command.env("DATABASE_URL", url);
        }
        let out = command.output().unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let expected = concat!(
        r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"user-events-0","offset":202}},"#,
        r#"{"itemIdentifier":{"partition":"user-events-1","offset":50}},"#,
        r#"{"itemIdentifier":{"partition":"user-events-1","offset":51}}]}"#
    );
    for _ in 0..2 {
        let (ok, stdout, stderr) = run(Some(&server.url));
        assert!(ok, "{stderr}");
        assert_eq!(stdout.trim(), expected, "{stderr}");
        assert!(stderr.contains("7 records in 2 partitions: 4 succeeded, 3 failed"), "{stderr}");
        assert!(stderr.contains("failed user-events-0@202: handler: the database rejected the row: new row for relation \"user_events\" violates check constraint \"user_events_known_event_type\" (SQLSTATE 23514)"), "{stderr}");
        assert!(!stderr.contains("Failing row"), "PostgreSQL's DETAIL quotes the row: {stderr}");
        assert_eq!(offsets(&client, 0).await, [200, 201, 203]);
        assert_eq!(offsets(&client, 1).await, [52]);
    }

    let (ok, stdout, stderr) = run(None);
    assert!(!ok);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("DATABASE_URL is not set: the PostgreSQL connection string"),
        "{stderr}"
    );
}
