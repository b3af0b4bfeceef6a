//! A Kafka producer for Lambda functions (the `producer` feature): Amazon MSK with IAM
//! authentication, SASL/SCRAM, or plaintext for local development.
//!
//! Create it once per execution environment (in `#[msk_handler(state = init)]`, or a
//! `OnceCell` in other functions) and every invocation reuses its connections:
//!
//! ```no_run
//! use msk_lambda::producer::{Producer, ProducerConfig};
//!
//! # async fn example() -> Result<(), msk_lambda::producer::ProducerError> {
//! // MSK_BOOTSTRAP_SERVERS=b-1...:9098,b-2...:9098 and AWS_REGION, IAM auth over TLS:
//! let producer = Producer::connect(ProducerConfig::from_env()?).await?;
//! let delivery = producer.send_json("user-events", Some(b"user-1"), &serde_json::json!({"userId": "user-1"})).await?;
//! println!("partition {} offset {}", delivery.partition, delivery.offset);
//! # Ok(()) }
//! ```
//!
//! Built on [rskafka](https://docs.rs/rskafka): pure Rust (no C toolchain, small binary, fast
//! cold start), SASL/OAUTHBEARER through an async callback (which carries the MSK IAM token),
//! TLS through rustls. Every send waits for the acknowledgement of all in-sync replicas
//! (`acks=all`); retries are bounded by the request timeout. rskafka has no idempotent
//! producer: a send retried after a lost acknowledgement can be written twice.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{
    Client, ClientBuilder, Credentials, OauthBearerCredentials, OauthCallback, SaslConfig,
};
use rskafka::record::Record as KafkaRecord;
use rskafka::BackoffConfig;
use serde::Serialize;

/// How the producer authenticates.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// No authentication, no TLS (port 9092): local brokers only.
    Plaintext,
    /// MSK IAM (port 9098): SASL/OAUTHBEARER with a token signed from the standard AWS
    /// credential chain, over TLS. Needs `kafka-cluster:Connect` (and `WriteData`,
    /// `DescribeTopic` on the topics) in the function's role.
    Iam {
        /// The cluster's region, e.g. `us-east-1`.
        region: String,
    },
    /// SASL/SCRAM-SHA-512 (port 9096), over TLS.
    Scram {
        /// The SCRAM user name.
        username: String,
        /// The SCRAM password.
        password: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Plaintext => f.write_str("Plaintext"),
            Auth::Iam { region } => f.debug_struct("Iam").field("region", region).finish(),
            Auth::Scram { username, .. } => {
                f.debug_struct("Scram").field("username", username).finish_non_exhaustive()
            }
        }
    }
}

/// The default bound on a connection or a send, retries included: half of Lambda's 10 s INIT
/// limit, so that a producer connected during INIT fails with its own message (which broker,
/// what went wrong) instead of being killed by Lambda with none.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    bootstrap_servers: Vec<String>,
    auth: Auth,
    request_timeout: Duration,
    client_id: String,
}

impl ProducerConfig {
    /// Brokers as Lambda and MSK write them (`b-1:9098,b-2:9098`), plaintext until
    /// [`auth`](Self::auth) says otherwise; requests time out after
    /// [`DEFAULT_REQUEST_TIMEOUT`] (5 s).
    pub fn new(bootstrap_servers: &str) -> Self {
        ProducerConfig {
            bootstrap_servers: bootstrap_servers
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            auth: Auth::Plaintext,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            client_id: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|_| "msk-lambda".to_owned()),
        }
    }

    /// From the environment: `MSK_BOOTSTRAP_SERVERS` (required); `MSK_AUTH` = `iam` (the
    /// default, with `AWS_REGION`), `scram` (with `MSK_SCRAM_USERNAME`, `MSK_SCRAM_PASSWORD`) or
    /// `plaintext`; `MSK_REQUEST_TIMEOUT_MS` (default 5000).
    pub fn from_env() -> Result<Self, ProducerError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let missing =
            |name: &str, why: &str| ProducerError::Config(format!("{name} is not set: {why}"));
        let servers = var("MSK_BOOTSTRAP_SERVERS").ok_or_else(|| {
            missing("MSK_BOOTSTRAP_SERVERS", "set it to the cluster's bootstrap brokers, e.g. b-1.x.kafka.us-east-1.amazonaws.com:9098")
        })?;
        let mut config = ProducerConfig::new(&servers);
        config.auth = match var("MSK_AUTH").as_deref().unwrap_or("iam") {
            "iam" => Auth::Iam {
                region: var("AWS_REGION").ok_or_else(|| {
                    missing(
                        "AWS_REGION",
                        "IAM auth signs for the cluster's region (Lambda sets it)",
                    )
                })?,
            },
            "scram" => Auth::Scram {
                username: var("MSK_SCRAM_USERNAME")
                    .ok_or_else(|| missing("MSK_SCRAM_USERNAME", "SCRAM auth needs a user"))?,
                password: var("MSK_SCRAM_PASSWORD")
                    .ok_or_else(|| missing("MSK_SCRAM_PASSWORD", "SCRAM auth needs a password"))?,
            },
            "plaintext" => Auth::Plaintext,
            other => {
                return Err(ProducerError::Config(format!(
                    "MSK_AUTH is `{other}`: use `iam`, `scram` or `plaintext`"
                )))
            }
        };
        if let Some(ms) = var("MSK_REQUEST_TIMEOUT_MS") {
            let ms: u64 = ms.parse().map_err(|_| {
                ProducerError::Config(format!(
                    "MSK_REQUEST_TIMEOUT_MS is `{ms}`, not a number of milliseconds"
                ))
            })?;
            config.request_timeout = Duration::from_millis(ms);
        }
        Ok(config)
    }

    /// How to authenticate.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// The longest a connection or a send may take, retries included (default
    /// [`DEFAULT_REQUEST_TIMEOUT`]). A producer connected in the state init function runs in
    /// Lambda's INIT phase, which Lambda ends after 10 s: keep this well below that, or the
    /// init is killed without the producer's own error.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The Kafka client id (default: the Lambda function's name).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }
}

/// Where a record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The partition.
    pub partition: i32,
    /// The record's offset in it.
    pub offset: i64,
}

/// A record to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingRecord {
    /// The key: decides the partition (Kafka's default murmur2 partitioner); `None` spreads
    /// records over partitions in turn.
    pub key: Option<Vec<u8>>,
    /// The value; `None` writes a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers. Kafka allows repeated names; this client sends the last value of a name.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Why a send or a connection failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProducerError {
    /// The configuration is incomplete or invalid.
    Config(String),
    /// No broker answered within the request timeout.
    Timeout {
        /// What was being done.
        what: String,
        /// The timeout.
        after: Duration,
    },
    /// The topic does not exist on the cluster.
    UnknownTopic(String),
    /// The client or a broker reported an error.
    Kafka {
        /// What was being done.
        what: String,
        /// The client's error.
        source: rskafka::client::error::Error,
    },
}

impl fmt::Display for ProducerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProducerError::Config(message) => write!(f, "producer configuration: {message}"),
            ProducerError::Timeout { what, after } => {
                write!(f, "{what}: no answer within {} ms (the request timeout)", after.as_millis())
            }
            ProducerError::UnknownTopic(topic) => {
                write!(f, "topic `{topic}` does not exist on the cluster")
            }
            ProducerError::Kafka { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for ProducerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProducerError::Kafka { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl ProducerError {
    /// True when the cluster could not be reached (connect or request timeout): callers such
    /// as HTTP APIs answer 503 for these.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ProducerError::Timeout { .. })
            || matches!(self, ProducerError::Kafka { source, .. } if matches!(source, rskafka::client::error::Error::Connection(_)))
    }
}

/// A connected producer. Cheap to share by reference; create one per execution environment.
pub struct Producer {
    client: Client,
    topics: Mutex<HashMap<String, Arc<[Arc<PartitionClient>]>>>,
    next: AtomicUsize,
    timeout: Duration,
    servers: String,
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer").field("servers", &self.servers).finish_non_exhaustive()
    }
}

impl Producer {
    /// Connects to the cluster (bounded by the request timeout).
    pub async fn connect(config: ProducerConfig) -> Result<Producer, ProducerError> {
        if config.bootstrap_servers.is_empty() {
            return Err(ProducerError::Config("no bootstrap servers".to_owned()));
        }
        let servers = config.bootstrap_servers.join(",");
        let timeout = config.request_timeout;
        let backoff = BackoffConfig { deadline: Some(timeout), ..BackoffConfig::default() };
        let mut builder = ClientBuilder::new(config.bootstrap_servers)
            .client_id(config.client_id)
            .backoff_config(backoff);
        match config.auth {
            Auth::Plaintext => {}
            Auth::Iam { region } => {
                builder = builder.tls_config(tls_config()).sasl_config(SaslConfig::Oauthbearer(
                    OauthBearerCredentials {
                        callback: iam_callback(region),
                        authz_id: None,
                        bearer_kvs: Vec::new(),
                    },
                ));
            }
            Auth::Scram { username, password } => {
                builder = builder
                    .tls_config(tls_config())
                    .sasl_config(SaslConfig::ScramSha512(Credentials::new(username, password)));
            }
        }
        let what = || format!("connecting to {servers}");
        let client = match tokio::time::timeout(timeout, builder.build()).await {
            Err(_) => return Err(ProducerError::Timeout { what: what(), after: timeout }),
            Ok(Err(source)) => return Err(ProducerError::Kafka { what: what(), source }),
            Ok(Ok(client)) => client,
        };
        Ok(Producer {
            client,
            topics: Mutex::new(HashMap::new()),
            next: AtomicUsize::new(0),
            timeout,
            servers,
        })
    }

    /// Sends `value` as JSON with an optional key; returns where it was written.
    pub async fn send_json<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: &T,
    ) -> Result<Delivery, ProducerError> {
        let value = serde_json::to_vec(value).map_err(|e| {
            ProducerError::Config(format!(
                "the value for `{topic}` does not serialize to JSON: {e}"
            ))
        })?;
        let record = OutgoingRecord {
            key: key.map(<[u8]>::to_vec),
            value: Some(value),
            headers: Vec::new(),
        };
        self.send(topic, record).await
    }

    /// Sends one record and waits for all in-sync replicas to acknowledge it.
    pub async fn send(
        &self,
        topic: &str,
        record: OutgoingRecord,
    ) -> Result<Delivery, ProducerError> {
        let partitions = self.partitions(topic).await?;
        let index = match &record.key {
            Some(key) => (murmur2(key) & 0x7fff_ffff) as usize % partitions.len(),
            None => self.next.fetch_add(1, Ordering::Relaxed) % partitions.len(),
        };
        let partition = &partitions[index];
        let record = KafkaRecord {
            key: record.key,
            value: record.value,
            headers: record.headers.into_iter().collect(),
            timestamp: rskafka::chrono::Utc::now(),
        };
        let what = || format!("sending to {topic}-{}", partition.partition());
        let offsets = match tokio::time::timeout(
            self.timeout,
            partition.produce(vec![record], Compression::NoCompression),
        )
        .await
        {
            Err(_) => return Err(ProducerError::Timeout { what: what(), after: self.timeout }),
            Ok(Err(source)) => return Err(ProducerError::Kafka { what: what(), source }),
            Ok(Ok(offsets)) => offsets,
        };
        let offset = offsets.first().copied().ok_or_else(|| {
            ProducerError::Config(format!("{}: the broker returned no offset", what()))
        })?;
        Ok(Delivery { partition: partition.partition(), offset })
    }

    /// Nothing is buffered: every send has been acknowledged when it returns. Kept for
    /// shutdown hooks that expect a flush.
    pub async fn flush(&self) {}

    /// The partition clients of `topic`, looked up once.
    async fn partitions(&self, topic: &str) -> Result<Arc<[Arc<PartitionClient>]>, ProducerError> {
        if let Some(found) = self.topics.lock().unwrap_or_else(PoisonError::into_inner).get(topic) {
            return Ok(Arc::clone(found));
        }
        let what = || format!("looking up topic `{topic}` on {}", self.servers);
        let topics = match tokio::time::timeout(self.timeout, self.client.list_topics()).await {
            Err(_) => return Err(ProducerError::Timeout { what: what(), after: self.timeout }),
            Ok(Err(source)) => return Err(ProducerError::Kafka { what: what(), source }),
            Ok(Ok(topics)) => topics,
        };
        let Some(found) = topics.into_iter().find(|t| t.name == topic) else {
            return Err(ProducerError::UnknownTopic(topic.to_owned()));
        };
        let mut clients = Vec::with_capacity(found.partitions.len());
        for partition in found.partitions {
            let client = self
                .client
                .partition_client(topic, partition, UnknownTopicHandling::Error)
                .await
                .map_err(|source| ProducerError::Kafka { what: what(), source })?;
            clients.push(Arc::new(client));
        }
        if clients.is_empty() {
            return Err(ProducerError::UnknownTopic(topic.to_owned()));
        }
        let clients: Arc<[Arc<PartitionClient>]> = clients.into();
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic.to_owned(), Arc::clone(&clients));
        Ok(clients)
    }
}

/// rustls with Mozilla's roots and an explicit crypto provider (aws-lc-rs): with more than
/// one provider in the build, rustls refuses to pick one itself.
fn tls_config() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// The MSK IAM token for `region`: a SigV4-presigned URL for `kafka-cluster:Connect`,
/// base64url-encoded, signed with credentials from the standard AWS chain; and its expiry
/// (milliseconds since the epoch).
pub async fn iam_token(region: &str) -> Result<(String, i64), ProducerError> {
    aws_msk_iam_sasl_signer::generate_auth_token(aws_config::Region::new(region.to_owned()))
        .await
        .map_err(|e| ProducerError::Config(format!("cannot sign the MSK IAM token: {e}")))
}

/// Re-signs only when the cached token has less than a minute left (tokens last 15 minutes);
/// rskafka asks on every new connection.
fn iam_callback(region: String) -> OauthCallback {
    let cache: Arc<Mutex<Option<(String, i64)>>> = Arc::default();
    Arc::new(move || {
        let (cache, region) = (Arc::clone(&cache), region.clone());
        Box::pin(async move {
            let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
            let now_ms = i64::try_from(now.as_millis()).unwrap_or(i64::MAX);
            if let Some((token, expiry)) =
                cache.lock().unwrap_or_else(PoisonError::into_inner).clone()
            {
                if expiry - now_ms > 60_000 {
                    return Ok(token);
                }
            }
            let (token, expiry) = iam_token(&region).await?;
            *cache.lock().unwrap_or_else(PoisonError::into_inner) = Some((token.clone(), expiry));
            Ok(token)
        })
    })
}

/// Kafka's murmur2 (the Java client's default partitioner hashes keys with it).
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let chunks = data.chunks_exact(4);
    let rest = chunks.remainder();
    for chunk in chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // From Apache Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    #[test]
    fn config_from_servers_and_secrets_stay_out_of_debug() {
        let config = ProducerConfig::new(" b-1:9098, b-2:9098 ,")
            .auth(Auth::Scram { username: "u".into(), password: "hunter2".into() });
        assert_eq!(config.bootstrap_servers, vec!["b-1:9098", "b-2:9098"]);
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
