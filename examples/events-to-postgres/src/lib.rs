//! events-to-postgres: the `user-events` topic written to PostgreSQL in bulk. A bulk handler
//! receives each partition's records of an invocation at once and writes them with one
//! multi-row `INSERT … ON CONFLICT DO NOTHING` keyed on the records' topic, partition and
//! offset, so a record Lambda delivers again is not written twice.
//!
//! The connection is the handler's state: opened once per execution environment by [`init`]
//! (from `DATABASE_URL`) and kept across invocations; a kept connection found closed is opened
//! again. A row the database rejects (a check constraint, a value out of range) fails its record
//! alone; any other database error fails the whole batch, and Lambda delivers it again.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use msk_lambda::{Batch, BatchError, Consumer, FailurePolicy, Handles, Json, Record, StateInit};
use serde::Deserialize;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

/// The table this example writes, `user_events` (the file `schema.sql`).
pub const SCHEMA: &str = include_str!("../schema.sql");

/// The environment variable holding the connection string: a URL
/// (`postgresql://user:password@host:5432/dbname?connect_timeout=5`) or libpq's `key=value`
/// form.
pub const DATABASE_URL: &str = "DATABASE_URL";

/// The one statement that writes: every row of one partition's batch, passed as one array per
/// column, in a single round trip; rows already there (a redelivery) are left as they are.
pub const INSERT: &str = "\
INSERT INTO user_events (kafka_topic, kafka_partition, kafka_offset, user_id, event_type, amount, occurred_at)
SELECT $1::text, $2::integer, r.kafka_offset, r.user_id, r.event_type, r.amount::numeric, r.occurred_at
FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
    AS r (kafka_offset, user_id, event_type, amount, occurred_at)
ON CONFLICT (kafka_topic, kafka_partition, kafka_offset) DO NOTHING";

/// How long connecting may take when the connection string does not say
/// (`connect_timeout`): a security group that drops packets fails the batch in seconds, not at
/// the function's timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long data sent on the connection may stay unacknowledged before the kernel closes it
/// (`tcp_user_timeout`, when the connection string does not say; Linux): a path that drops
/// packets (a changed security group, a failed-over address) fails the write in seconds and
/// the connection is made again, instead of a write waiting for the kernel's default of about
/// 15 minutes of retransmissions.
pub const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);

/// A user's action, as the web front end publishes it to `user-events` (other fields are
/// allowed and not stored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEvent {
    /// Who acted.
    pub user_id: String,
    /// What they did; the table accepts login, logout, purchase, view and click.
    pub event_type: String,
    /// What it earned, for purchases; the table accepts no negative amount.
    #[serde(default)]
    pub amount: Option<f64>,
}

/// One row of `user_events`, borrowed from its record (topic and partition are the batch's).
#[derive(Debug, Clone, PartialEq)]
pub struct Row<'a> {
    /// The record's offset.
    pub offset: i64,
    /// [`UserEvent::user_id`].
    pub user_id: &'a str,
    /// [`UserEvent::event_type`].
    pub event_type: &'a str,
    /// [`UserEvent::amount`].
    pub amount: Option<f64>,
    /// The record's Kafka timestamp, if it has one.
    pub occurred_at: Option<SystemTime>,
}

impl<'a> Row<'a> {
    /// The row a record becomes.
    pub fn new(record: &'a Record<Json<UserEvent>>) -> Row<'a> {
        let event = record.value();
        Row {
            offset: record.offset(),
            user_id: &event.user_id,
            event_type: &event.event_type,
            amount: event.amount,
            occurred_at: record.timestamp(),
        }
    }
}

/// The consumer `main` runs: [`handle`] with the [`Database`] [`init`] connects to, under
/// [`FailurePolicy::Continue`].
///
/// `Continue`, not the default: the rows of a batch after a rejected one are written by the
/// same statement, so they are reported succeeded, and the rejected records alone failed.
/// Lambda still delivers a partition again from its first failed offset; rows written already
/// are then left as they are.
pub fn consumer(
) -> Consumer<impl Handles<Json<UserEvent>, (), Database>, Database, Json<UserEvent>, ()> {
    consumer_with(init)
}

/// [`consumer`] with another way to build the [`Database`] (the tests connect to a server of
/// their own): `consumer_with(|| Database::connect(url))`.
pub fn consumer_with(
    init: impl StateInit<Database> + Send + Sync + 'static,
) -> Consumer<impl Handles<Json<UserEvent>, (), Database>, Database, Json<UserEvent>, ()> {
    Consumer::bulk_with_state(init, handle).failure_policy(FailurePolicy::Continue)
}

/// Connects to the database `DATABASE_URL` names, once per execution environment (during
/// Lambda's INIT phase: a wrong address or password fails there, before any record).
pub async fn init() -> Result<Database, msk_lambda::Error> {
    let url = std::env::var(DATABASE_URL).map_err(|_| {
        format!("{DATABASE_URL} is not set: the PostgreSQL connection string, e.g. postgresql://user:password@host:5432/dbname")
    })?;
    Ok(Database::connect(url).await?)
}

/// Writes one partition's records: one statement when the database accepts every row. A row it
/// rejects fails its record alone ([`BatchError::record`], through [`Database::write`]); any
/// other error fails the whole batch.
pub async fn handle(batch: Batch<Json<UserEvent>>, db: &Database) -> Result<(), BatchError> {
    let Some(first) = batch.records().first() else { return Ok(()) };
    let rows: Vec<Row<'_>> = batch.iter().map(Row::new).collect();
    let written = db.write(first.topic(), first.partition(), &rows).await?;
    tracing::info!(
        partition = batch.topic_partition(),
        records = rows.len(),
        inserted = written.inserted,
        already_there = (rows.len() - written.rejected.len()) as u64 - written.inserted,
        rejected = written.rejected.len(),
        statements = written.statements,
        "written"
    );
    BatchError::records(written.rejected).into_result()
}

/// The database: where to connect, and the connection kept across invocations.
pub struct Database {
    config: tokio_postgres::Config,
    /// The open connection, if any; opened again when found closed.
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
}

/// One connection and the insert statement prepared on it.
struct Session {
    client: Client,
    insert: tokio::sync::OnceCell<Statement>,
    /// A write on it was abandoned before its answer came (the handler cancelled at the
    /// deadline, most likely while the server or the path had stopped answering): the next
    /// write does not trust it and connects again.
    abandoned: AtomicBool,
    /// The task serving the connection's socket: stopped when a write is abandoned, which
    /// closes the socket (the client alone would keep it open while an answer is owed).
    connection: tokio::task::JoinHandle<()>,
    /// Asks the server to cancel the statement of an abandoned write (one still waiting on a
    /// lock would otherwise run on, and every later delivery add one more).
    cancel: tokio_postgres::CancelToken,
}

/// Marks its session abandoned unless [`InFlight::done`] was called: dropped with a write that
/// did not finish.
struct InFlight<'a>(&'a Session, bool);

impl InFlight<'_> {
    fn done(mut self) {
        self.1 = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.1 {
            return;
        }
        let session = self.0;
        session.abandoned.store(true, Ordering::Relaxed);
        session.connection.abort();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let cancel = session.cancel.clone();
            runtime.spawn(async move {
                // A new connection of its own; bounded like connecting.
                let _ = tokio::time::timeout(CONNECT_TIMEOUT, cancel.cancel_query(NoTls)).await;
            });
        }
    }
}

/// What [`Database::write`] did with a partition's rows.
#[derive(Debug, Default)]
pub struct Written {
    /// Rows inserted (rows already in the table, from an earlier delivery, are not).
    pub inserted: u64,
    /// Statements run: 1 when the database accepts every row, more to find the rows it
    /// rejects.
    pub statements: usize,
    /// The offsets of the rows the database rejected, in offset order, and why.
    pub rejected: Vec<(i64, WriteError)>,
}

impl Database {
    /// Connects now (so that a wrong address or password fails at once) to the database
    /// `url` names; see [`DATABASE_URL`] for the forms it takes. TLS is not used (see the
    /// README for RDS).
    pub async fn connect(url: impl AsRef<str>) -> Result<Database, WriteError> {
        let mut config: tokio_postgres::Config = url.as_ref().parse().map_err(|e| {
            WriteError(format!("{DATABASE_URL} is not a valid PostgreSQL connection string: {e}"))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name(env!("CARGO_PKG_NAME"));
        }
        let db = Database { config, session: tokio::sync::Mutex::new(None) };
        db.session().await.map_err(|e| WriteError::new("cannot connect to PostgreSQL", &e))?;
        Ok(db)
    }

    /// Inserts the rows of one partition (`topic`, `partition`), leaving rows already there
    /// untouched. One statement when the database accepts every row; when it rejects one (a
    /// SQLSTATE of class 22, data exception, or 23, integrity constraint violation), the rows
    /// are halved and each half tried again, down to the rejected rows, which are returned:
    /// about 2 × log2(n) more statements per rejected row. Any other error is returned as
    /// `Err` (rows of the halves tried before it may be written: the insert is idempotent).
    ///
    /// A kept connection found closed (an idle timeout of RDS Proxy, a failover) is opened
    /// again and the rows written once more on it. A connection whose last write was
    /// abandoned (the handler cancelled at the deadline while waiting for an answer) is not
    /// used again.
    pub async fn write(
        &self,
        topic: &str,
        partition: i32,
        rows: &[Row<'_>],
    ) -> Result<Written, WriteError> {
        let (session, reused) = self
            .session()
            .await
            .map_err(|e| WriteError::new("cannot connect to PostgreSQL", &e))?;
        let in_flight = InFlight(&session, false);
        let first = session.write(topic, partition, rows).await;
        in_flight.done();
        let result = match first {
            Err(e) if connection_lost(&e, &session.client) => {
                self.forget(&session).await;
                if !reused {
                    return Err(WriteError::new("the connection to PostgreSQL was lost", &e));
                }
                tracing::info!(error = %e, "the kept PostgreSQL connection was closed: connecting again");
                let (session, _) = self
                    .session()
                    .await
                    .map_err(|e| WriteError::new("cannot connect to PostgreSQL", &e))?;
                let in_flight = InFlight(&session, false);
                let again = session.write(topic, partition, rows).await;
                in_flight.done();
                again
            }
            other => other,
        };
        result.map_err(|e| WriteError::new("PostgreSQL did not write the rows", &e))
    }

    /// The open connection, or a new one; and whether it was open already.
    async fn session(&self) -> Result<(Arc<Session>, bool), tokio_postgres::Error> {
        let mut current = self.session.lock().await;
        if let Some(session) = current
            .as_ref()
            .filter(|s| !s.client.is_closed() && !s.abandoned.load(Ordering::Relaxed))
        {
            return Ok((session.clone(), true));
        }
        let (client, connection) = self.config.connect(NoTls).await?;
        // The connection's socket is served by a task of its own; it ends with the connection.
        let connection = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "the PostgreSQL connection ended");
            }
        });
        let session = Arc::new(Session {
            cancel: client.cancel_token(),
            client,
            insert: tokio::sync::OnceCell::new(),
            abandoned: AtomicBool::new(false),
            connection,
        });
        *current = Some(session.clone());
        Ok((session, false))
    }

    /// Drops `session` if it is still the current one: the next write connects again.
    async fn forget(&self, session: &Arc<Session>) {
        let mut current = self.session.lock().await;
        if current.as_ref().is_some_and(|s| Arc::ptr_eq(s, session)) {
            *current = None;
        }
    }
}

impl Session {
    /// [`Database::write`] on this connection.
    async fn write(
        &self,
        topic: &str,
        partition: i32,
        rows: &[Row<'_>],
    ) -> Result<Written, tokio_postgres::Error> {
        let insert = self.insert.get_or_try_init(|| self.client.prepare(INSERT)).await?;
        let mut written = Written::default();
        // Slices still to write; the first half of a split is on top, so that rejected rows
        // come out in offset order.
        let mut pending = vec![rows];
        while let Some(part) = pending.pop() {
            if part.is_empty() {
                continue;
            }
            written.statements += 1;
            match self.insert(insert, topic, partition, part).await {
                Ok(inserted) => written.inserted += inserted,
                Err(e) if rejects_rows(&e) => match part {
                    [row] => written
                        .rejected
                        .push((row.offset, WriteError::new("the database rejected the row", &e))),
                    _ => {
                        let (front, back) = part.split_at(part.len() / 2);
                        pending.push(back);
                        pending.push(front);
                    }
                },
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    /// One run of [`INSERT`] with these rows: one round trip.
    async fn insert(
        &self,
        insert: &Statement,
        topic: &str,
        partition: i32,
        rows: &[Row<'_>],
    ) -> Result<u64, tokio_postgres::Error> {
        let offsets: Vec<i64> = rows.iter().map(|r| r.offset).collect();
        let users: Vec<&str> = rows.iter().map(|r| r.user_id).collect();
        let types: Vec<&str> = rows.iter().map(|r| r.event_type).collect();
        // As text, cast to numeric by the statement: the decimal JSON had, not a float.
        let amounts: Vec<Option<String>> =
            rows.iter().map(|r| r.amount.map(|a| a.to_string())).collect();
        let times: Vec<Option<SystemTime>> = rows.iter().map(|r| r.occurred_at).collect();
        let params: [&(dyn ToSql + Sync); 7] =
            [&topic, &partition, &offsets, &users, &types, &amounts, &times];
        self.client.execute(insert, &params).await
    }
}

/// Whether the database refused the statement because of the data of some row: SQLSTATE class
/// 22 (data exception: a number out of range, …) or 23 (integrity constraint violation: a
/// check constraint, NOT NULL, …). Anything else (the connection, the schema, permissions)
/// would fail any row.
fn rejects_rows(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|code| code.code().starts_with("22") || code.code().starts_with("23"))
}

/// Whether `e` means the connection is gone: closed, an I/O error, SQLSTATE class 08
/// (connection exception), or 57P (the server shutting down or crashed, the session terminated
/// or timed out idle). Not 57014, `query_canceled`: a `statement_timeout` (the usual way to
/// bound statements through RDS Proxy) leaves the connection healthy, and writing the rows
/// again on a new one would only double the time to the same failure.
fn connection_lost(e: &tokio_postgres::Error, client: &Client) -> bool {
    let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    let code = e.code().map(|code| code.code());
    e.is_closed()
        || client.is_closed()
        || io
        || code.is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
}

/// A database error as a record's (or a batch's) failure reason: what failed, PostgreSQL's
/// message and SQLSTATE, never its DETAIL, which quotes the row's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError(String);

impl WriteError {
    fn new(what: &str, e: &tokio_postgres::Error) -> WriteError {
        WriteError(match e.as_db_error() {
            Some(db) => format!("{what}: {} (SQLSTATE {})", db.message(), db.code().code()),
            None => match std::error::Error::source(e) {
                Some(source) => format!("{what}: {e}: {source}"),
                None => format!("{what}: {e}"),
            },
        })
    }
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WriteError {}

#[cfg(test)]
mod tests {
    use super::*;
    use msk_lambda::testing::TestRecord;

    #[test]
    fn a_record_becomes_its_row() {
        let record: Record<Json<UserEvent>> = TestRecord::new("user-events", 3, 42)
            .timestamp_millis(1_735_689_600_123)
            .value(r#"{"userId":"u-1","eventType":"purchase","amount":42.5,"page":"/"}"#)
            .decode()
            .unwrap();
        assert_eq!(
            Row::new(&record),
            Row {
                offset: 42,
                user_id: "u-1",
                event_type: "purchase",
                amount: Some(42.5),
                occurred_at: Some(
                    SystemTime::UNIX_EPOCH + Duration::from_millis(1_735_689_600_123)
                ),
            }
        );
    }

    #[test]
    fn a_connection_string_that_does_not_parse_is_a_clear_error() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let err = runtime.block_on(Database::connect("postgresql://u@h:notaport/db")).err();
        let message = err.expect("not a URL").to_string();
        assert!(
            message.starts_with("DATABASE_URL is not a valid PostgreSQL connection string"),
            "{message}"
        );
    }
}
