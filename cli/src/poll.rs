//! `msk-lambda poll`: Lambda's Kafka event source mapping (ESM), on a developer's machine.
//!
//! What it follows, from the AWS Lambda developer guide
//! (`https://docs.aws.amazon.com/lambda/latest/dg/<page>`):
//! - batching (`invocation-eventsourcemapping.html`, `kafka-esm-parameters.html`): an invocation
//!   fires when the batch reaches the batch size, when the batching window (counted from the first
//!   record) ends, or before the payload would pass 6 MB; one event may hold several partitions,
//!   records in offset order within each (`with-kafka-configure.html`);
//! - retries and errors (`kafka-retry-configurations.html`): a function error fails the whole
//!   batch; MaximumRetryAttempts (-1 infinite; does not count the first invoke; capped at 10 when
//!   an on-failure destination is set), MaximumRecordAgeInSeconds, BisectBatchOnFunctionError,
//!   and the partial batch response: "If you return an empty valid JSON or null, the event source
//!   mapping will consider a batch as successfully processed" and "Any invalid
//!   topic-partition_number or offset returned that was not present in the invoked event will be
//!   treated as failure and entire batch will be retried";
//! - commits (`with-kafka-configure.html`): "After Lambda processes each batch, it commits the
//!   offsets of the messages in that batch"; the consumer group's committed offsets win over the
//!   starting position (`kafka-consumer-group-id.html`);
//! - on-failure destinations (`kafka-on-failure.html`, `kafka-on-failure-destination.html`).
//!
//! Local choices, where AWS says nothing for Kafka (each marked "inferred" below): retries of a
//! partition go out in an event of their own so other partitions keep moving; a split batch
//! (bisect) does not count as a retry; records past the maximum age are sent to the destination
//! with the condition `RecordAgeExceeded` (the stream sources' name).

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use kafka_protocol::records::TimestampType;
use tokio::sync::{mpsc, Notify};

use crate::event::{EventBuilder, EventRecord, EventSource, MAX_PAYLOAD};
use crate::function::{Function, Outcome};
use crate::kafka::{Client, OutRecord};

/// Where failed batches go.
#[derive(Debug, Clone)]
pub enum Destination {
    File(PathBuf),
    Kafka(String),
}

impl std::str::FromStr for Destination {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if let Some(p) = s.strip_prefix("file:") {
            Ok(Destination::File(PathBuf::from(p)))
        } else if let Some(t) = s.strip_prefix("kafka://") {
            Ok(Destination::Kafka(t.to_owned()))
        } else {
            Err(format!("`{s}`: expected file:PATH or kafka://TOPIC"))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StartingPosition {
    /// Just after the newest record (AWS's LATEST).
    Latest,
    /// The oldest record still in the topic (AWS's TRIM_HORIZON).
    TrimHorizon,
}

pub struct Config {
    pub bootstrap_servers: String,
    pub topics: Vec<String>,
    pub group: String,
    pub starting_position: StartingPosition,
    pub batch_size: usize,
    pub window: Duration,
    pub report_batch_item_failures: bool,
    /// `None`: infinite.
    pub max_retry_attempts: Option<u32>,
    pub max_record_age: Option<Duration>,
    pub bisect: bool,
    pub on_failure: Option<Destination>,
    pub event_source: EventSource,
    pub until_idle: Option<Duration>,
    pub max_batches: Option<u64>,
    pub summary_json: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    pub records_delivered: u64,
    pub invocations: u64,
    pub retries: u64,
    pub records_to_on_failure: u64,
    pub committed_offset: i64,
}

struct Rec {
    r: EventRecord,
    json: String,
}

struct Part {
    topic: String,
    partition: i32,
    key: String,
    committed: i64,
    buffer: VecDeque<Rec>,
    /// Set by the fetcher: how many records wait in `buffer` (it stops fetching past a limit).
    buffered: Arc<AtomicUsize>,
    room: Arc<Notify>,
    /// The next offset the fetcher will ask for, and the log end it last saw.
    fetched_to: i64,
    high_watermark: i64,
    /// Failed invocations of the slice that starts at `attempt_offset`.
    attempts: u32,
    attempt_offset: i64,
    /// Bisect: the next slice has at most this many records.
    limit: Option<usize>,
    /// The last offset of the batch that failed: a retry sends that batch again, not the
    /// records fetched since ("Lambda retries the whole batch", with-kafka-configure.html), so
    /// exhausted retries send to the destination only records the function was given.
    retry_end: Option<i64>,
    stats: Stats,
}

impl Part {
    fn ready(&self) -> bool {
        !self.buffer.is_empty()
    }
    fn retrying(&self) -> bool {
        self.attempts > 0 && self.attempt_offset == self.committed && self.ready()
    }
    fn set_buffered(&self) {
        self.buffered.store(self.buffer.len(), Ordering::SeqCst);
        self.room.notify_one();
    }
}

/// What a fetcher sends: the partition index, records, where it will fetch next, the log end.
struct FetchMsg {
    part: usize,
    records: Vec<EventRecord>,
    next: i64,
    high_watermark: i64,
}

/// A slice of one partition in an event.
struct Slice {
    part: usize,
    /// Offsets of the records in the event.
    offsets: Vec<i64>,
}

struct Failed {
    condition: &'static str,
    invoke_count: u32,
    request_id: String,
    function_error: Option<String>,
    status_code: Option<u16>,
    records: Vec<EventRecord>,
}

pub async fn run(cfg: Config, mut function: Function) -> Result<()> {
    if cfg.topics.is_empty() {
        bail!("give at least one --topic");
    }
    function.check()?;
    let client = Arc::new(Client::new(&cfg.bootstrap_servers));
    if let Some(Destination::Kafka(topic)) = &cfg.on_failure {
        if cfg.topics.contains(topic) {
            bail!("the on-failure destination kafka://{topic} is a polled topic: failed records would come back as input");
        }
        client
            .partitions(topic)
            .await
            .with_context(|| format!("the on-failure destination kafka://{topic}"))?;
    }
    // Infinite retries with an on-failure destination are capped at 10 (kafka-retry-configurations.html).
    let max_retries = match (cfg.max_retry_attempts, &cfg.on_failure) {
        (None, Some(_)) => Some(10),
        (r, _) => r,
    };
    let mut parts: Vec<Part> = Vec::new();
    for topic in &cfg.topics {
        let partitions = client.partitions(topic).await?;
        let committed = client.committed(&cfg.group, topic, &partitions).await?;
        for p in partitions {
            let start = match committed.get(&p).copied().flatten() {
                // A group with committed offsets resumes from them; StartingPosition is ignored
                // (kafka-consumer-group-id.html).
                Some(o) => o,
                None => {
                    let at = match cfg.starting_position {
                        StartingPosition::Latest => -1,
                        StartingPosition::TrimHorizon => -2,
                    };
                    client.list_offset(topic, p, at).await?
                }
            };
            parts.push(Part {
                topic: topic.clone(),
                partition: p,
                key: format!("{topic}-{p}"),
                committed: start,
                buffer: VecDeque::new(),
                buffered: Arc::default(),
                room: Arc::default(),
                fetched_to: start,
                high_watermark: start,
                attempts: 0,
                attempt_offset: -1,
                limit: None,
                retry_end: None,
                stats: Stats { committed_offset: start, ..Stats::default() },
            });
        }
    }
    log(&format!(
        "polling {} partition(s) of {} as consumer group {} ({}); function {}",
        parts.len(),
        cfg.topics.join(", "),
        cfg.group,
        parts.iter().map(|p| format!("{}@{}", p.key, p.committed)).collect::<Vec<_>>().join(" "),
        function.name,
    ));
    if !cfg.report_batch_item_failures {
        log("ReportBatchItemFailures is off: response bodies are ignored, so records a function reports as failed in its response count as processed (as in AWS)");
    }
    // Fetchers: one per partition, each moving forward only (redelivery comes from the buffer).
    let (tx, mut rx) = mpsc::channel::<Result<FetchMsg>>(64);
    let buffer_limit = (cfg.batch_size * 2).max(500);
    let mut fetchers = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        // Each fetcher has connections of its own: a fetch waits on the broker for records, and
        // must not hold up commits or the other partitions.
        fetchers.push(tokio::spawn(fetcher(
            Arc::new(Client::new(&cfg.bootstrap_servers)),
            i,
            p.topic.clone(),
            p.partition,
            p.committed,
            p.buffered.clone(),
            p.room.clone(),
            buffer_limit,
            tx.clone(),
        )));
    }
    drop(tx);

    let mut batches = 0u64;
    let mut window_start: Option<Instant> = None;
    let mut idle_since: Option<Instant> = None;
    let mut prefer_retry = true;
    let mut warned_ignored_body = false;
    let started = Instant::now();
    let result: Result<()> = async {
        loop {
            // Take in what the fetchers have.
            while let Ok(msg) = rx.try_recv() {
                apply_fetch(&mut parts, msg?);
            }
            if cfg.max_batches.is_some_and(|m| batches >= m) {
                break;
            }
            // Expired and oversized records go to the destination before any invocation.
            drop_unsendable(&cfg, &mut parts, &client, &function).await?;
            let fresh: usize = parts.iter().filter(|p| !p.retrying()).map(|p| p.buffer.len()).sum();
            if fresh > 0 && window_start.is_none() {
                window_start = Some(Instant::now());
            }
            let retrying: Vec<usize> = (0..parts.len()).filter(|&i| parts[i].retrying()).collect();
            let fresh_due = fresh > 0
                && (fresh >= cfg.batch_size
                    || window_start.is_some_and(|w| w.elapsed() >= cfg.window)
                    || fresh_size_over(&cfg, &parts));
            let choice = if !retrying.is_empty() && (prefer_retry || !fresh_due) {
                // Inferred: a partition's retry goes alone, so the others keep moving.
                let i = retrying[(batches as usize) % retrying.len()];
                Some(vec![i])
            } else if fresh_due {
                window_start = None;
                Some((0..parts.len()).filter(|&i| !parts[i].retrying() && parts[i].ready()).collect())
            } else {
                None
            };
            prefer_retry = !prefer_retry;
            let Some(chosen) = choice else {
                // Nothing to send: wait for records, the window, or idleness.
                let caught_up =
                    parts.iter().all(|p| p.buffer.is_empty() && p.fetched_to >= p.high_watermark);
                if caught_up {
                    let since = *idle_since.get_or_insert_with(Instant::now);
                    if cfg.until_idle.is_some_and(|d| since.elapsed() >= d) {
                        break;
                    }
                } else {
                    idle_since = None;
                }
                let wait = match window_start {
                    Some(w) => cfg.window.saturating_sub(w.elapsed()).max(Duration::from_millis(1)),
                    None => Duration::from_millis(100),
                };
                tokio::select! {
                    msg = rx.recv() => match msg {
                        Some(msg) => apply_fetch(&mut parts, msg?),
                        None => bail!("the fetchers stopped"),
                    },
                    () = tokio::time::sleep(wait) => {}
                }
                continue;
            };
            idle_since = None;
            let (event, slices) = build_event(&cfg, &mut parts, &chosen);
            if slices.is_empty() {
                continue;
            }
            batches += 1;
            let count: usize = slices.iter().map(|s| s.offsets.len()).sum();
            for s in &slices {
                let p = &mut parts[s.part];
                p.stats.invocations += 1;
                p.stats.records_delivered += s.offsets.len() as u64;
                if p.attempts > 0 && p.attempt_offset == s.offsets[0] {
                    p.stats.retries += 1;
                }
            }
            let (request_id, outcome) = function.invoke(Bytes::from(event.clone().into_bytes())).await;
            // Which partitions failed, and from which offset.
            let mut failed_from: HashMap<usize, i64> = HashMap::new();
            let mut function_error = None;
            let mut whole_batch = false;
            match &outcome {
                Outcome::Response(body) if cfg.report_batch_item_failures => {
                    match parse_response(body, &slices, &parts) {
                        Ok(list) => failed_from = list,
                        Err(why) => {
                            log(&format!("batch {batches}: {why}: the whole batch failed (kafka-retry-configurations.html)"));
                            whole_batch = true;
                            failed_from = slices.iter().map(|s| (s.part, s.offsets[0])).collect();
                        }
                    }
                }
                Outcome::Response(body) => {
                    if !warned_ignored_body && body_reports_failures(body) {
                        warned_ignored_body = true;
                        log("the function reported batchItemFailures, but ReportBatchItemFailures is off (--no-report-batch-item-failures): the body is ignored and those records count as processed, as in AWS; this warning is shown once");
                    }
                }
                Outcome::CannotStart(why) => bail!("{why}"),
                other => {
                    log(&format!("batch {batches} ({count} records): {}: the whole batch failed", other.describe()));
                    function_error = Some("Unhandled".to_owned());
                    whole_batch = true;
                    failed_from = slices.iter().map(|s| (s.part, s.offsets[0])).collect();
                }
            }
            let mut commits = Vec::new();
            // One failed batch for the destination: the records of every partition whose retries
            // ran out in this invocation.
            let mut to_destination: Option<Failed> = None;
            for s in &slices {
                let p = &mut parts[s.part];
                let last = *s.offsets.last().unwrap();
                match failed_from.get(&s.part) {
                    None => {
                        // Success: commit to the end of the slice.
                        p.buffer.retain(|r| r.r.offset > last);
                        p.committed = last + 1;
                        p.attempts = 0;
                        p.limit = None;
                        p.retry_end = None;
                    }
                    Some(&from) => {
                        p.buffer.retain(|r| r.r.offset >= from);
                        p.committed = from;
                        p.retry_end = Some(last);
                        if p.attempt_offset == from {
                            p.attempts += 1;
                        } else {
                            p.attempt_offset = from;
                            p.attempts = 1;
                        }
                        let failed_len = s.offsets.iter().filter(|&&o| o >= from).count();
                        if function_error.is_some() && cfg.bisect && failed_len > 1 {
                            // Split batch on error: retry each half (kafka-retry-configurations.html).
                            // Inferred: the split itself does not use up a retry.
                            p.limit = Some(failed_len / 2);
                            p.attempts -= 1;
                            if p.attempts == 0 {
                                p.attempt_offset = -1;
                            }
                        } else if max_retries.is_some_and(|m| p.attempts > m) {
                            // Retries exhausted: the records go to the destination (if any) and
                            // the partition moves on.
                            let records: Vec<EventRecord> = p
                                .buffer
                                .iter()
                                .filter(|r| r.r.offset >= from && r.r.offset <= last)
                                .map(|r| r.r.clone())
                                .collect();
                            p.buffer.retain(|r| r.r.offset > last);
                            p.committed = last + 1;
                            p.stats.records_to_on_failure += records.len() as u64;
                            let failed = to_destination.get_or_insert_with(|| Failed {
                                condition: "RetryAttemptsExhausted",
                                invoke_count: 0,
                                request_id: request_id.clone(),
                                function_error: function_error.clone(),
                                status_code: Some(200),
                                records: Vec::new(),
                            });
                            failed.invoke_count = failed.invoke_count.max(p.attempts);
                            failed.records.extend(records);
                            p.attempts = 0;
                            p.attempt_offset = -1;
                            p.limit = None;
                            p.retry_end = None;
                        }
                    }
                }
                p.set_buffered();
                commits.push((p.topic.clone(), p.partition, p.committed));
            }
            if let Some(f) = to_destination {
                send_to_destination(&cfg, &client, &function, &f).await?;
            }
            client.commit(&cfg.group, &commits).await.context("committing offsets")?;
            // Only what the broker has: a failed write or commit above leaves the summary's
            // offsets where they were.
            for s in &slices {
                let p = &mut parts[s.part];
                p.stats.committed_offset = p.committed;
            }
            if !failed_from.is_empty() && !whole_batch {
                let list: Vec<String> = failed_from
                    .iter()
                    .map(|(i, o)| format!("{}@{o}", parts[*i].key))
                    .collect();
                log(&format!("batch {batches} ({count} records): partial failure at {}", list.join(" ")));
            } else if failed_from.is_empty() {
                log(&format!("batch {batches}: {count} records processed ({} bytes)", event.len()));
            }
        }
        Ok(())
    }
    .await;
    for f in fetchers {
        f.abort();
    }
    function.stop().await;
    let elapsed = started.elapsed().as_secs_f64();
    let total = |f: fn(&Stats) -> u64| parts.iter().map(|p| f(&p.stats)).sum::<u64>();
    eprintln!(
        "msk-lambda poll: {} invocations ({} records delivered, {} partition slices), {} retries, {} records to the on-failure destination, {} function starts, {elapsed:.1} s; committed {}",
        batches,
        total(|s| s.records_delivered),
        total(|s| s.invocations),
        total(|s| s.retries),
        total(|s| s.records_to_on_failure),
        function.starts,
        parts
            .iter()
            .map(|p| format!("{}@{}", p.key, p.stats.committed_offset))
            .collect::<Vec<_>>()
            .join(" "),
    );
    if let Some(path) = &cfg.summary_json {
        let partitions: serde_json::Map<String, serde_json::Value> = parts
            .iter()
            .map(|p| (p.key.clone(), serde_json::to_value(&p.stats).unwrap()))
            .collect();
        let summary = serde_json::json!({
            "batches": batches,
            "function_starts": function.starts,
            "partitions": partitions,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    result
}

fn log(line: &str) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    eprintln!("{} msk-lambda: {line}", iso_time(now.as_millis() as i64));
}

fn apply_fetch(parts: &mut [Part], msg: FetchMsg) {
    let p = &mut parts[msg.part];
    for r in msg.records {
        if r.offset >= p.committed && p.buffer.back().is_none_or(|b| b.r.offset < r.offset) {
            let json = r.to_json();
            p.buffer.push_back(Rec { r, json });
        }
    }
    p.fetched_to = msg.next;
    p.high_watermark = msg.high_watermark;
    p.set_buffered();
}

#[allow(clippy::too_many_arguments)]
async fn fetcher(
    client: Arc<Client>,
    part: usize,
    topic: String,
    partition: i32,
    mut next: i64,
    buffered: Arc<AtomicUsize>,
    room: Arc<Notify>,
    limit: usize,
    tx: mpsc::Sender<Result<FetchMsg>>,
) {
    loop {
        while buffered.load(Ordering::SeqCst) >= limit {
            let _ = tokio::time::timeout(Duration::from_millis(200), room.notified()).await;
        }
        let result = fetch_from(&client, &topic, partition, next).await;
        let msg = match result {
            Ok((records, hw, end)) => {
                // Past control records too: a log ending in a transaction marker is caught up.
                if let Some(end) = end {
                    next = next.max(end);
                }
                FetchMsg { part, records, next, high_watermark: hw }
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        if tx.send(Ok(msg)).await.is_err() {
            return;
        }
    }
}

/// Records from `offset` on. tansu 0.6 answers a fetch from an offset inside a multi-record
/// batch with the batches after it, skipping the rest of that batch: when the first record
/// returned is past `offset` while the log holds `offset`, fetch again from further back and
/// drop what comes before `offset`.
async fn fetch_from(
    client: &Client,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<(Vec<EventRecord>, i64, Option<i64>)> {
    let max_bytes = 8 * 1024 * 1024;
    let wait = Duration::from_millis(500);
    let f = client.fetch(topic, partition, offset, max_bytes, wait).await?;
    let mut hw = f.high_watermark;
    let mut end = f.next_offset;
    let mut records = f.records;
    let skipped =
        |rs: &[crate::kafka::FetchedRecord]| rs.first().is_some_and(|r| r.offset > offset);
    if skipped(&records) && offset >= f.log_start_offset {
        let mut step = 1i64;
        loop {
            let from = (offset - step).max(f.log_start_offset.max(0));
            let g = client.fetch(topic, partition, from, max_bytes, wait).await?;
            hw = g.high_watermark;
            end = g.next_offset;
            let first = g.records.first().map(|r| r.offset);
            if first.is_some_and(|o| o <= offset) || from <= f.log_start_offset.max(0) {
                records = g.records.into_iter().filter(|r| r.offset >= offset).collect();
                break;
            }
            step *= 4;
        }
    }
    let records = records
        .into_iter()
        .map(|r| EventRecord {
            topic: topic.to_owned(),
            partition,
            offset: r.offset,
            timestamp: r.timestamp,
            log_append_time: r.timestamp_type == TimestampType::LogAppend,
            key: r.key,
            value: r.value,
            headers: r.headers,
        })
        .collect();
    Ok((records, hw, end))
}

fn fresh_size_over(cfg: &Config, parts: &[Part]) -> bool {
    let mut size = EventBuilder::new(cfg.event_source, &cfg.bootstrap_servers).size();
    for p in parts.iter().filter(|p| !p.retrying()) {
        for r in &p.buffer {
            size += r.json.len() + 1;
            if size > MAX_PAYLOAD {
                return true;
            }
        }
    }
    false
}

/// Records past the maximum age, and records too large for any event, leave for the destination.
async fn drop_unsendable(
    cfg: &Config,
    parts: &mut [Part],
    client: &Client,
    function: &Function,
) -> Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as i64;
    let empty = EventBuilder::new(cfg.event_source, &cfg.bootstrap_servers);
    for p in parts.iter_mut() {
        let mut expired = Vec::new();
        let mut oversized = Vec::new();
        let key = p.key.clone();
        p.buffer.retain(|r| {
            if let Some(age) = cfg.max_record_age {
                if r.r.timestamp >= 0 && now - r.r.timestamp > age.as_millis() as i64 {
                    expired.push(r.r.clone());
                    return false;
                }
            }
            if empty.size_with(&r.json, &key) > MAX_PAYLOAD {
                oversized.push(r.r.clone());
                return false;
            }
            true
        });
        if expired.is_empty() && oversized.is_empty() {
            continue;
        }
        let last = expired.iter().chain(&oversized).map(|r| r.offset).max().unwrap();
        // The buffer holds every fetched record from the committed offset on, so what precedes
        // its first record was dropped (or never existed).
        p.committed = match p.buffer.front() {
            Some(r) => r.r.offset,
            None => p.committed.max(last + 1),
        };
        p.stats.records_to_on_failure += (expired.len() + oversized.len()) as u64;
        p.set_buffered();
        for (condition, records) in
            [("RecordAgeExceeded", expired), ("MaximumPayloadSizeExceeded", oversized)]
        {
            if records.is_empty() {
                continue;
            }
            log(&format!("{} record(s) of {} not delivered: {condition}", records.len(), p.key));
            let f = Failed {
                condition,
                invoke_count: 0,
                request_id: String::new(),
                function_error: None,
                status_code: None,
                records,
            };
            send_to_destination(cfg, client, function, &f).await?;
        }
        client.commit(&cfg.group, &[(p.topic.clone(), p.partition, p.committed)]).await?;
        p.stats.committed_offset = p.committed;
    }
    Ok(())
}

/// The next event: from each chosen partition, its records from the committed offset on, up to
/// the batch size in all, cut before 6 MB.
fn build_event(cfg: &Config, parts: &mut [Part], chosen: &[usize]) -> (String, Vec<Slice>) {
    let mut event = EventBuilder::new(cfg.event_source, &cfg.bootstrap_servers);
    let mut slices = Vec::new();
    'parts: for &i in chosen {
        let p = &parts[i];
        let limit = p.limit.unwrap_or(usize::MAX);
        let end = if p.retrying() { p.retry_end.unwrap_or(i64::MAX) } else { i64::MAX };
        let mut slice = Slice { part: i, offsets: Vec::new() };
        for r in &p.buffer {
            if event.len() >= cfg.batch_size || slice.offsets.len() >= limit || r.r.offset > end {
                break;
            }
            if event.size_with(&r.json, &p.key) > MAX_PAYLOAD {
                if !slice.offsets.is_empty() {
                    slices.push(slice);
                }
                break 'parts;
            }
            event.push(&p.key, r.json.clone());
            slice.offsets.push(r.r.offset);
        }
        if !slice.offsets.is_empty() {
            slices.push(slice);
        }
        if event.len() >= cfg.batch_size {
            break;
        }
    }
    (event.build(), slices)
}

/// A partial batch response: the lowest failed offset per partition of the event, or why the
/// whole batch failed.
fn parse_response(
    body: &[u8],
    slices: &[Slice],
    parts: &[Part],
) -> std::result::Result<HashMap<usize, i64>, String> {
    let mut out = HashMap::new();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(out);
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the response is not JSON ({e})"))?;
    let list = match &value {
        serde_json::Value::Null => return Ok(out),
        serde_json::Value::Object(o) => match o.get("batchItemFailures") {
            None | Some(serde_json::Value::Null) => return Ok(out),
            Some(serde_json::Value::Array(a)) => a,
            Some(other) => return Err(format!("batchItemFailures is not a list: {other}")),
        },
        other => return Err(format!("the response is not a JSON object: {other}")),
    };
    // A response may list every record of the event: looked up, not searched.
    let by_key: HashMap<&str, (usize, std::collections::HashSet<i64>)> = slices
        .iter()
        .map(|s| (parts[s.part].key.as_str(), (s.part, s.offsets.iter().copied().collect())))
        .collect();
    for item in list {
        let id = item.get("itemIdentifier");
        let (Some(partition), Some(offset)) = (
            id.and_then(|i| i.get("partition")).and_then(|p| p.as_str()),
            id.and_then(|i| i.get("offset")).and_then(|o| o.as_i64()),
        ) else {
            return Err(format!("malformed itemIdentifier {item}"));
        };
        let Some((part, offsets)) = by_key.get(partition) else {
            return Err(format!(
                "itemIdentifier names partition {partition}, which was not in the event"
            ));
        };
        if !offsets.contains(&offset) {
            return Err(format!(
                "itemIdentifier names offset {offset} of {partition}, which was not in the event"
            ));
        }
        let e = out.entry(*part).or_insert(offset);
        *e = (*e).min(offset);
    }
    Ok(out)
}

fn body_reports_failures(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("batchItemFailures").and_then(|l| l.as_array()).map(|l| !l.is_empty()))
        .unwrap_or(false)
}

/// One failed batch in AWS's SQS/SNS on-failure record format (kafka-on-failure.html):
/// `requestContext`, `responseContext`, `version`, `timestamp`, `KafkaBatchInfo` with
/// `recordsInfo` per `topic-partition` (offsets and timestamps as strings).
fn batch_failure_record(cfg: &Config, function: &Function, f: &Failed) -> serde_json::Value {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as i64;
    let mut info = serde_json::Map::new();
    for r in &f.records {
        let key = format!("{}-{}", r.topic, r.partition);
        let entry = info.entry(key).or_insert_with(|| {
            serde_json::json!({
                "firstRecordOffset": r.offset.to_string(),
                "firstRecordTimestamp": iso_time(r.timestamp),
            })
        });
        entry["lastRecordOffset"] = r.offset.to_string().into();
        entry["lastRecordTimestamp"] = iso_time(r.timestamp).into();
    }
    // The size of the event these records make (the batch's payload).
    let mut event = EventBuilder::new(cfg.event_source, &cfg.bootstrap_servers);
    for r in &f.records {
        event.push(&format!("{}-{}", r.topic, r.partition), r.to_json());
    }
    let payload_size = event.size();
    let mut batch = serde_json::json!({
        "batchSize": f.records.len(),
        "eventSourceArn": cfg.event_source.arn(),
        "bootstrapServers": cfg.bootstrap_servers,
        "payloadSize": payload_size,
        "recordsInfo": info,
    });
    if cfg.event_source.arn().is_none() {
        batch.as_object_mut().unwrap().remove("eventSourceArn");
    }
    serde_json::json!({
        "requestContext": {
            "requestId": f.request_id,
            "functionArn": function.arn,
            "condition": f.condition,
            "approximateInvokeCount": f.invoke_count,
        },
        "responseContext": f.status_code.map(|code| {
            let mut c = serde_json::json!({"statusCode": code, "executedVersion": "$LATEST"});
            if let Some(e) = &f.function_error {
                c["functionError"] = e.clone().into();
            }
            c
        }),
        "version": "1.0",
        "timestamp": iso_time(now),
        "KafkaBatchInfo": batch,
    })
}

async fn send_to_destination(
    cfg: &Config,
    client: &Client,
    function: &Function,
    f: &Failed,
) -> Result<()> {
    match &cfg.on_failure {
        None => {
            log(&format!(
                "{} record(s) dropped ({}): no on-failure destination",
                f.records.len(),
                f.condition
            ));
        }
        Some(Destination::File(path)) => {
            let line = batch_failure_record(cfg, function, f).to_string();
            let mut file =
                std::fs::OpenOptions::new().create(true).append(true).open(path).with_context(
                    || format!("cannot open the on-failure file {}", path.display()),
                )?;
            writeln!(file, "{line}")?;
            log(&format!("{} record(s) to {} ({})", f.records.len(), path.display(), f.condition));
        }
        Some(Destination::Kafka(topic)) => {
            // One message per failed record, with the record's key, the metadata of a batch of
            // one and the single-record event as `payload` (kafka-on-failure-destination.html).
            let partitions = client.partitions(topic).await?;
            for (n, r) in f.records.iter().enumerate() {
                let mut one = Failed { records: vec![r.clone()], ..clone_failed(f) };
                one.condition = if f.condition == "RetryAttemptsExhausted" {
                    "RetriesExhausted"
                } else {
                    f.condition
                };
                let mut doc = batch_failure_record(cfg, function, &one);
                let info = doc["KafkaBatchInfo"].as_object_mut().unwrap();
                info.remove("recordsInfo");
                info.insert(
                    "recordInfo".into(),
                    serde_json::json!({"offset": r.offset.to_string(), "timestamp": iso_time(r.timestamp)}),
                );
                let mut event = EventBuilder::new(cfg.event_source, &cfg.bootstrap_servers);
                event.push(&format!("{}-{}", r.topic, r.partition), r.to_json());
                doc["payload"] = serde_json::from_str(&event.build())?;
                let partition = match &r.key {
                    Some(k) => partitions[(murmur2(k) & 0x7fff_ffff) as usize % partitions.len()],
                    None => partitions[n % partitions.len()],
                };
                let out = OutRecord {
                    key: r.key.clone(),
                    value: Some(Bytes::from(doc.to_string().into_bytes())),
                    headers: Vec::new(),
                    timestamp: now_ms(),
                };
                client.produce(topic, partition, &[out]).await?;
            }
            log(&format!("{} record(s) to kafka://{topic} ({})", f.records.len(), f.condition));
        }
    }
    Ok(())
}

fn clone_failed(f: &Failed) -> Failed {
    Failed {
        condition: f.condition,
        invoke_count: f.invoke_count,
        request_id: f.request_id.clone(),
        function_error: f.function_error.clone(),
        status_code: f.status_code,
        records: Vec::new(),
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as i64
}

/// Kafka's default partitioner hash (murmur2), so keyed records land where Java clients put them.
pub fn murmur2(data: &[u8]) -> u32 {
    let m: u32 = 0x5bd1_e995;
    let r = 24;
    let mut h: u32 = 0x9747_b28c ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(m);
        k ^= k >> r;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(m);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(m);
    h ^= h >> 15;
    h
}

/// `2024-01-02T03:04:05.678Z` for epoch milliseconds.
pub fn iso_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(1_545_084_650_987), "2018-12-17T22:10:50.987Z");
    }

    fn config(batch_size: usize) -> Config {
        Config {
            bootstrap_servers: "127.0.0.1:9092".into(),
            topics: vec!["t".into()],
            group: "g".into(),
            starting_position: StartingPosition::TrimHorizon,
            batch_size,
            window: Duration::ZERO,
            report_batch_item_failures: true,
            max_retry_attempts: Some(1),
            max_record_age: None,
            bisect: false,
            on_failure: None,
            event_source: EventSource::Msk,
            until_idle: None,
            max_batches: None,
            summary_json: None,
        }
    }

    fn part(offsets: std::ops::Range<i64>) -> Part {
        let buffer = offsets
            .map(|offset| {
                let r = EventRecord {
                    topic: "t".into(),
                    partition: 0,
                    offset,
                    timestamp: 0,
                    log_append_time: false,
                    key: None,
                    value: Some(Bytes::from_static(b"{}")),
                    headers: Vec::new(),
                };
                Rec { json: r.to_json(), r }
            })
            .collect();
        Part {
            topic: "t".into(),
            partition: 0,
            key: "t-0".into(),
            committed: 0,
            buffer,
            buffered: Arc::default(),
            room: Arc::default(),
            fetched_to: 0,
            high_watermark: 0,
            attempts: 0,
            attempt_offset: -1,
            limit: None,
            retry_end: None,
            stats: Stats::default(),
        }
    }

    /// A retry sends the failed batch again, not the records fetched since it failed: when
    /// the retries run out, only records the function was given go to the destination.
    #[test]
    fn a_retry_resends_the_failed_batch_only() {
        let cfg = config(100);
        // The batch 0..=2 failed at 1; records 3..50 arrived after it.
        let mut parts = vec![part(1..50)];
        let p = &mut parts[0];
        (p.committed, p.attempts, p.attempt_offset, p.retry_end) = (1, 1, 1, Some(2));
        assert!(p.retrying());
        let (_, slices) = build_event(&cfg, &mut parts, &[0]);
        assert_eq!(slices[0].offsets, vec![1, 2]);
        // Fresh (not retrying), the partition's records go up to the batch size.
        parts[0].attempts = 0;
        let (_, slices) = build_event(&config(10), &mut parts, &[0]);
        assert_eq!(slices[0].offsets, (1..11).collect::<Vec<_>>());
    }

    #[test]
    fn murmur2_matches_kafka() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21") as i32, -973_932_308);
        assert_eq!(murmur2(b"foobar") as i32, -790_332_482);
    }
}
