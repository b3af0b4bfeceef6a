//! `msk-lambda`: Lambda's Kafka event source mapping on a developer's machine (`poll`), Lambda
//! Kafka events from JSON lines (`event`), and JSON lines to a broker (`produce`).

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};

use msk_lambda_cli::event::EventSource;
use msk_lambda_cli::poll::{Destination, StartingPosition};
use msk_lambda_cli::{event, function, kafka, poll};

#[derive(Parser)]
#[command(name = "msk-lambda", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Lambda's Kafka event source mapping, locally: poll a broker, invoke the function (a child
    /// process served by a Runtime API on loopback) with events built as AWS builds them, apply
    /// AWS's retry, partial-batch and on-failure semantics, commit offsets to the consumer group.
    Poll(PollArgs),
    /// Write a Lambda-format Kafka event built from JSON lines on stdin:
    /// {"value": <JSON or text>, "key": "…", "headers": {"name": "text"}, "partition": N,
    /// "offset": N, "timestamp": MILLIS}, all but value optional (value null: a tombstone).
    Event(EventArgs),
    /// Send JSON lines from stdin (the `event` format; offsets ignored) to a broker, one record
    /// per produce request.
    Produce(ProduceArgs),
}

#[derive(clap::Args)]
struct PollArgs {
    /// The broker(s): HOST:PORT[,HOST:PORT...].
    #[arg(long)]
    bootstrap_servers: String,
    /// A topic to poll (repeat for several).
    #[arg(long = "topic", required = true)]
    topics: Vec<String>,
    /// The consumer group whose committed offsets are used and advanced [default:
    /// msk-lambda-<function name>-<topics>, stable across runs].
    #[arg(long)]
    consumer_group: Option<String>,
    /// Where a partition starts when the group has no committed offset for it (as in AWS, a
    /// committed offset always wins).
    #[arg(long, value_enum, default_value = "latest")]
    starting_position: StartingPosition,
    /// Most records per invocation (1..10000; AWS default 100).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    batch_size: u32,
    /// How long to gather records before invoking (AWS default for Kafka: 500 ms; AWS allows
    /// whole seconds up to 300).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(0..=300_000))]
    batching_window_ms: u64,
    /// Turn ReportBatchItemFailures off. It is ON here by default, but in AWS it is OFF unless
    /// the mapping lists it in FunctionResponseTypes: without it the response body is ignored
    /// and records the function reports as failed count as processed.
    #[arg(long)]
    no_report_batch_item_failures: bool,
    /// Retries of a failed batch, not counting the first invocation (AWS default: infinite; 10
    /// when an on-failure destination is set and this is not given).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    max_retry_attempts: Option<u32>,
    /// Records older than this are not sent to the function but to the on-failure destination
    /// (AWS: 60..604800, default infinite; any value is accepted here, for tests).
    #[arg(long)]
    max_record_age_s: Option<u64>,
    /// On a function error, split the failed batch in two and retry each half.
    #[arg(long)]
    bisect_batch_on_function_error: bool,
    /// Where failed batches go: file:PATH (one JSON line per failed batch, AWS's SQS/SNS
    /// on-failure record) or kafka://TOPIC (one message per failed record).
    #[arg(long)]
    on_failure: Option<Destination>,
    /// msk: eventSource aws:kafka with a cluster ARN; self-managed: SelfManagedKafka, no ARN.
    #[arg(long, value_enum, default_value = "msk")]
    event_source: EventSource,
    /// The function's timeout, in seconds (1..900, Lambda's range; AWS default for a function:
    /// 3 s; Kafka mappings allow up to 14 minutes; 60 here).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=900))]
    timeout_s: u64,
    /// Exit 0 after this many seconds with nothing left to poll and nothing in flight.
    #[arg(long, value_parser = seconds)]
    until_idle_s: Option<Duration>,
    /// Exit after this many invocations.
    #[arg(long)]
    max_batches: Option<u64>,
    /// Write per-partition counts here on exit (records delivered, invocations, retries,
    /// records sent to the on-failure destination, committed offset).
    #[arg(long)]
    summary_json: Option<PathBuf>,
    /// The function: an executable that speaks the Lambda Runtime API, and its arguments.
    #[arg(last = true, required = true, num_args = 1..)]
    function: Vec<OsString>,
}

#[derive(clap::Args)]
struct EventArgs {
    /// The topic of the records.
    #[arg(long)]
    topic: String,
    #[arg(long, value_enum, default_value = "msk")]
    event_source: EventSource,
    /// The event's bootstrapServers.
    #[arg(long, default_value = "localhost:9092")]
    bootstrap_servers: String,
}

#[derive(clap::Args)]
struct ProduceArgs {
    #[arg(long)]
    bootstrap_servers: String,
    #[arg(long)]
    topic: String,
    /// Create the topic first (with this many partitions) if it does not exist.
    #[arg(long)]
    create_partitions: Option<i32>,
}

/// A number of seconds, whole or not, from zero up to a day.
fn seconds(s: &str) -> std::result::Result<Duration, String> {
    let n: f64 = s.parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(0.0..=86_400.0).contains(&n) {
        return Err(format!("`{s}`: expected 0 to 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(n))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("msk-lambda: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Event(a) => {
            let lines = event::read_lines(std::io::stdin().lock())?;
            let out = event::event_from_lines(
                &lines,
                &a.topic,
                a.event_source,
                &a.bootstrap_servers,
                poll::now_ms(),
            )?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{out}")?;
            Ok(())
        }
        Command::Produce(a) => produce(a).await,
        Command::Poll(mut a) => {
            // A topic given twice is polled once (twice, every record would be delivered and
            // committed twice); here, before the default group name is made from the topics.
            let mut seen = std::collections::HashSet::new();
            a.topics.retain(|t| seen.insert(t.clone()));
            let function =
                function::Function::new(a.function.clone(), Duration::from_secs(a.timeout_s));
            let group = a
                .consumer_group
                .clone()
                .unwrap_or_else(|| format!("msk-lambda-{}-{}", function.name, a.topics.join("-")));
            let cfg = poll::Config {
                bootstrap_servers: a.bootstrap_servers,
                topics: a.topics,
                group,
                starting_position: a.starting_position,
                batch_size: a.batch_size as usize,
                window: Duration::from_millis(a.batching_window_ms),
                report_batch_item_failures: !a.no_report_batch_item_failures,
                max_retry_attempts: a.max_retry_attempts,
                max_record_age: a.max_record_age_s.map(Duration::from_secs),
                bisect: a.bisect_batch_on_function_error,
                on_failure: a.on_failure,
                event_source: a.event_source,
                until_idle: a.until_idle_s,
                max_batches: a.max_batches,
                summary_json: a.summary_json,
            };
            poll::run(cfg, function).await
        }
    }
}

async fn produce(a: ProduceArgs) -> Result<()> {
    let client = kafka::Client::new(&a.bootstrap_servers);
    if let Some(n) = a.create_partitions {
        client.create_topic(&a.topic, n).await?;
    }
    let partitions = client.partitions(&a.topic).await?;
    if partitions.is_empty() {
        bail!("topic {} has no partitions", a.topic);
    }
    let lines = event::read_lines(std::io::stdin().lock())?;
    let mut counts = std::collections::BTreeMap::<i32, u64>::new();
    for (n, line) in lines.iter().enumerate() {
        let key = line.key_bytes();
        let partition = match (line.partition, &key) {
            (Some(p), _) => p,
            // Kafka's default partitioner: murmur2 of the key; round robin without one.
            (None, Some(k)) => {
                partitions[(poll::murmur2(k) & 0x7fff_ffff) as usize % partitions.len()]
            }
            (None, None) => partitions[n % partitions.len()],
        };
        let record = kafka::OutRecord {
            key,
            value: line.value_bytes(),
            headers: line.header_list()?,
            timestamp: line.timestamp.unwrap_or_else(poll::now_ms),
        };
        client.produce(&a.topic, partition, &[record]).await?;
        *counts.entry(partition).or_default() += 1;
    }
    eprintln!(
        "msk-lambda produce: {} records to {} ({})",
        lines.len(),
        a.topic,
        counts.iter().map(|(p, c)| format!("partition {p}: {c}")).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}
