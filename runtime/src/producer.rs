//! A Kafka producer for Lambda functions (the `producer` feature): Amazon MSK with IAM,
//! SASL/SCRAM-SHA-512 or mutual-TLS authentication, unauthenticated TLS, or plaintext for
//! local development.
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
//! Built on [rskafka](https://docs.rs/rskafka): pure Rust Kafka protocol (small binary, fast
//! cold start), SASL/OAUTHBEARER through an async callback (which carries the MSK IAM token),
//! SCRAM through rsasl, TLS through rustls. Every send waits for the acknowledgement of all
//! in-sync replicas (`acks=all`); retries are bounded by the request timeout. rskafka has no
//! idempotent producer: a send retried after a lost acknowledgement can be written twice (see
//! the crate README on delivery semantics). Nothing is buffered: when a send returns, the
//! record has been acknowledged or the error says why not, so there is nothing to flush.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rskafka::client::error::{Error as KafkaError, ProtocolError};
use rskafka::client::partition::{
    Compression as KafkaCompression, PartitionClient, UnknownTopicHandling,
};
use rskafka::client::{
    Client, ClientBuilder, Credentials, OauthBearerCredentials, OauthCallback, SaslConfig,
};
use rskafka::record::Record as KafkaRecord;
use rskafka::{BackoffConfig, BackoffError, ConnectionError, SaslError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;

use crate::secrets;

/// How the producer authenticates. Every mode but [`Plaintext`](Auth::Plaintext) runs over TLS,
/// with the server's certificate and name verified (against Mozilla's roots, or the bundle
/// given by [`ProducerConfig::tls_ca_file`]); there is no way to turn verification off.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// No authentication, no TLS (port 9092): local brokers only. `MSK_AUTH=plaintext`.
    Plaintext,
    /// TLS without client authentication (MSK's unauthenticated TLS listener, port 9094).
    /// `MSK_AUTH=tls`.
    Tls,
    /// MSK IAM (port 9098): SASL/OAUTHBEARER with a token signed from the standard AWS
    /// credential chain, over TLS. Needs `kafka-cluster:Connect` (and `WriteData`,
    /// `DescribeTopic` on the topics) in the function's role. `MSK_AUTH=iam`.
    Iam {
        /// The cluster's region, e.g. `us-east-1`.
        region: String,
    },
    /// SASL/SCRAM-SHA-512 (port 9096), over TLS, with a user name and password.
    /// `MSK_AUTH=scram` with `MSK_SCRAM_USERNAME` and `MSK_SCRAM_PASSWORD`.
    Scram {
        /// The SCRAM user name.
        username: String,
        /// The SCRAM password.
        password: String,
    },
    /// SASL/SCRAM-SHA-512 (port 9096), over TLS, with the credentials in the AWS Secrets
    /// Manager secret MSK associates with the cluster (an `AmazonMSK_` name, JSON
    /// `{"username": …, "password": …}`), read once per process.
    /// `MSK_AUTH=scram` with `MSK_SCRAM_SECRET_ARN`. The role needs
    /// `secretsmanager:GetSecretValue` on the secret, and `kms:Decrypt` on its key.
    ScramSecret {
        /// The secret's ARN (or name).
        secret_arn: String,
    },
    /// Mutual TLS (port 9094): the client presents a certificate, as MSK's
    /// `CLIENT_CERTIFICATE_TLS_AUTH` with AWS Private CA requires. `MSK_AUTH=mtls`.
    Mtls(ClientCertificate),
}

/// Where the client certificate of [`Auth::Mtls`] comes from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientCertificate {
    /// PEM files: the certificate (followed by its chain, if any) and its private key (PKCS#8,
    /// PKCS#1 or SEC1). `MSK_TLS_CLIENT_CERT_FILE` and `MSK_TLS_CLIENT_KEY_FILE`.
    Files {
        /// The certificate chain, PEM.
        certificate: PathBuf,
        /// The private key, PEM.
        private_key: PathBuf,
    },
    /// An AWS Secrets Manager secret holding JSON `{"certificate": PEM, "privateKey": PEM}`,
    /// read once per process. `MSK_TLS_CLIENT_SECRET_ARN`.
    Secret {
        /// The secret's ARN (or name).
        secret_arn: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Plaintext => f.write_str("Plaintext"),
            Auth::Tls => f.write_str("Tls"),
            Auth::Iam { region } => f.debug_struct("Iam").field("region", region).finish(),
            Auth::Scram { username, .. } => {
                f.debug_struct("Scram").field("username", username).finish_non_exhaustive()
            }
            Auth::ScramSecret { secret_arn } => {
                f.debug_struct("ScramSecret").field("secret_arn", secret_arn).finish()
            }
            Auth::Mtls(certificate) => f.debug_tuple("Mtls").field(certificate).finish(),
        }
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientCertificate::Files { certificate, private_key } => f
                .debug_struct("Files")
                .field("certificate", certificate)
                .field("private_key", private_key)
                .finish(),
            ClientCertificate::Secret { secret_arn } => {
                f.debug_struct("Secret").field("secret_arn", secret_arn).finish()
            }
        }
    }
}

/// How record batches are compressed on the wire (`MSK_COMPRESSION`). The broker stores them
/// as sent (unless the topic says otherwise) and consumers decompress them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// No compression (the default).
    #[default]
    None,
    /// gzip (pure Rust: flate2 with miniz_oxide).
    Gzip,
    /// Snappy (pure Rust: snap).
    Snappy,
    /// LZ4: needs the `producer-lz4` feature (rskafka's codec is the C library).
    Lz4,
    /// zstd: needs the `producer-zstd` feature (rskafka's codec is the C library).
    Zstd,
}

impl Compression {
    /// The codec by its `MSK_COMPRESSION` name: `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub fn from_name(name: &str) -> Result<Compression, ProducerError> {
        Ok(match name {
            "none" => Compression::None,
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd,
            other => {
                return Err(ProducerError::config(format!(
                    "MSK_COMPRESSION is `{other}`: use `none`, `gzip`, `snappy`, `lz4` or `zstd`"
                )))
            }
        })
    }

    fn codec(self) -> Result<KafkaCompression, ProducerError> {
        #[cfg(not(all(feature = "producer-lz4", feature = "producer-zstd")))]
        let missing = |name: &str| {
            ProducerError::config(format!(
                "{name} compression needs msk-lambda's `producer-{name}` feature (its codec is a C library, so it is opt-in)"
            ))
        };
        match self {
            Compression::None => Ok(KafkaCompression::NoCompression),
            Compression::Gzip => Ok(KafkaCompression::Gzip),
            Compression::Snappy => Ok(KafkaCompression::Snappy),
            #[cfg(feature = "producer-lz4")]
            Compression::Lz4 => Ok(KafkaCompression::Lz4),
            #[cfg(not(feature = "producer-lz4"))]
            Compression::Lz4 => Err(missing("lz4")),
            #[cfg(feature = "producer-zstd")]
            Compression::Zstd => Ok(KafkaCompression::Zstd),
            #[cfg(not(feature = "producer-zstd"))]
            Compression::Zstd => Err(missing("zstd")),
        }
    }
}

/// The default bound on a connection or a send, retries included: half of Lambda's 10 s INIT
/// limit, so that a producer connected during INIT fails with its own message (which broker,
/// what went wrong) instead of being killed by Lambda with none.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the partition count of a topic is trusted before it is read again: five minutes,
/// the Java client's `metadata.max.age.ms`.
pub const DEFAULT_METADATA_MAX_AGE: Duration = Duration::from_secs(300);

/// The most record bytes (keys, values, headers, before compression) put in one produce
/// request for one partition by [`Producer::send_batch`]: under the 1 MB `message.max.bytes`
/// that Kafka and MSK use by default for a record batch.
pub const DEFAULT_MAX_BATCH_BYTES: usize = 900_000;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    bootstrap_servers: Vec<String>,
    auth: Auth,
    request_timeout: Duration,
    client_id: String,
    tls_ca_file: Option<PathBuf>,
    compression: Compression,
    metadata_max_age: Duration,
    max_batch_bytes: usize,
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
            tls_ca_file: None,
            compression: Compression::None,
            metadata_max_age: DEFAULT_METADATA_MAX_AGE,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
        }
    }

    /// From the environment:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `MSK_BOOTSTRAP_SERVERS` | required: `host:port,host:port` |
    /// | `MSK_AUTH` | `iam` (default), `scram`, `mtls`, `tls` or `plaintext` |
    /// | `AWS_REGION` | `iam`: the cluster's region (Lambda sets it) |
    /// | `MSK_SCRAM_SECRET_ARN` | `scram`: the secret holding `{"username","password"}` |
    /// | `MSK_SCRAM_USERNAME`, `MSK_SCRAM_PASSWORD` | `scram`, when there is no secret ARN |
    /// | `MSK_TLS_CLIENT_CERT_FILE`, `MSK_TLS_CLIENT_KEY_FILE` | `mtls`: PEM files |
    /// | `MSK_TLS_CLIENT_SECRET_ARN` | `mtls`, instead of files: `{"certificate","privateKey"}` |
    /// | `MSK_TLS_CA_FILE` | PEM bundle of the CAs to trust instead of Mozilla's roots |
    /// | `MSK_COMPRESSION` | `none` (default), `gzip`, `snappy`, `lz4`, `zstd` |
    /// | `MSK_REQUEST_TIMEOUT_MS` | default 5000 |
    /// | `MSK_METADATA_MAX_AGE_MS` | default 300000 |
    pub fn from_env() -> Result<Self, ProducerError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables from `lookup` (for tests and for
    /// configuration kept elsewhere).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ProducerError> {
        let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let missing =
            |name: &str, why: &str| ProducerError::config(format!("{name} is not set: {why}"));
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
            "scram" => match var("MSK_SCRAM_SECRET_ARN") {
                Some(secret_arn) => Auth::ScramSecret { secret_arn },
                None => Auth::Scram {
                    username: var("MSK_SCRAM_USERNAME").ok_or_else(|| {
                        missing("MSK_SCRAM_USERNAME", "SCRAM auth needs MSK_SCRAM_SECRET_ARN, or a user and password")
                    })?,
                    password: var("MSK_SCRAM_PASSWORD").ok_or_else(|| {
                        missing("MSK_SCRAM_PASSWORD", "SCRAM auth needs MSK_SCRAM_SECRET_ARN, or a user and password")
                    })?,
                },
            },
            "mtls" => match var("MSK_TLS_CLIENT_SECRET_ARN") {
                Some(secret_arn) => Auth::Mtls(ClientCertificate::Secret { secret_arn }),
                None => Auth::Mtls(ClientCertificate::Files {
                    certificate: var("MSK_TLS_CLIENT_CERT_FILE").ok_or_else(|| {
                        missing("MSK_TLS_CLIENT_CERT_FILE", "mTLS needs MSK_TLS_CLIENT_SECRET_ARN, or a certificate and key file")
                    })?.into(),
                    private_key: var("MSK_TLS_CLIENT_KEY_FILE").ok_or_else(|| {
                        missing("MSK_TLS_CLIENT_KEY_FILE", "mTLS needs MSK_TLS_CLIENT_SECRET_ARN, or a certificate and key file")
                    })?.into(),
                }),
            },
            "tls" => Auth::Tls,
            "plaintext" => Auth::Plaintext,
            other => {
                return Err(ProducerError::config(format!(
                    "MSK_AUTH is `{other}`: use `iam`, `scram`, `mtls`, `tls` or `plaintext`"
                )))
            }
        };
        config.tls_ca_file = var("MSK_TLS_CA_FILE").map(PathBuf::from);
        if let Some(name) = var("MSK_COMPRESSION") {
            config.compression = Compression::from_name(&name)?;
        }
        let millis = |name: &str| -> Result<Option<Duration>, ProducerError> {
            var(name)
                .map(|ms| {
                    ms.parse().map(Duration::from_millis).map_err(|_| {
                        ProducerError::config(format!(
                            "{name} is `{ms}`, not a number of milliseconds"
                        ))
                    })
                })
                .transpose()
        };
        if let Some(timeout) = millis("MSK_REQUEST_TIMEOUT_MS")? {
            config.request_timeout = timeout;
        }
        if let Some(age) = millis("MSK_METADATA_MAX_AGE_MS")? {
            config.metadata_max_age = age;
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

    /// Trust the CA certificates in this PEM file instead of Mozilla's roots (self-managed
    /// Kafka with a private CA). The server's certificate must still be valid for the name
    /// of the broker the client connects to.
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_ca_file = Some(path.into());
        self
    }

    /// How record batches are compressed (default none).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// How long a topic's partition count is trusted before it is read again (default
    /// [`DEFAULT_METADATA_MAX_AGE`]). A failed send also makes the next one read it again.
    pub fn metadata_max_age(mut self, age: Duration) -> Self {
        self.metadata_max_age = age;
        self
    }

    /// The most record bytes per produce request and partition in
    /// [`Producer::send_batch`] (default [`DEFAULT_MAX_BATCH_BYTES`]); keep it under the
    /// topic's `max.message.bytes`.
    pub fn max_batch_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_bytes = bytes.max(1);
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
    /// Headers. Each name may appear once: the client (rskafka) keeps headers in a map, so a
    /// record with a repeated name is refused ([`ErrorKind::InvalidRecord`]) rather than sent
    /// with one of its values dropped. Headers are written in name order.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl OutgoingRecord {
    /// Bytes of key, value and headers: what counts against [`ProducerConfig::max_batch_bytes`].
    fn size(&self) -> usize {
        // 32: a generous bound on a record's framing (varints, attributes, deltas).
        32 + self.key.as_ref().map_or(0, Vec::len)
            + self.value.as_ref().map_or(0, Vec::len)
            + self.headers.iter().map(|(k, v)| k.len() + v.len() + 10).sum::<usize>()
    }
}

/// What kind of failure a [`ProducerError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is incomplete or invalid (a missing variable, an unreadable file).
    Config,
    /// A value could not be serialised (`send_json`).
    Serialization,
    /// The record cannot be sent as it is (a repeated header name).
    InvalidRecord,
    /// An AWS Secrets Manager secret could not be read, or does not hold what it should.
    Secret,
    /// The TLS handshake failed: the server's certificate is not trusted or not valid for its
    /// name, or the server refused the client's certificate.
    Tls,
    /// The broker refused the credentials (SASL).
    Authentication,
    /// The credentials are valid but not allowed to do this (ACLs, IAM policy).
    Authorization,
    /// The topic does not exist.
    UnknownTopic,
    /// No answer within the request timeout. The broker may have written the record: see the
    /// crate README on delivery.
    Timeout,
    /// The cluster could not be reached or has no leader for the partition right now.
    Unavailable,
    /// The broker refused the record (too large, corrupt, against a policy).
    Rejected,
    /// Any other error of the broker or the protocol.
    Broker,
    /// Not sent, so not written: an earlier request for the same partition in this
    /// `send_batch` failed (the error's [`source`](std::error::Error::source) is that failure).
    /// Retry it after the failed records.
    NotSent,
}

/// Why a send or a connection failed: a [`kind`](Self::kind) to act on, and a message that
/// says what was being done and what went wrong.
#[derive(Debug, Clone)]
pub struct ProducerError {
    kind: ErrorKind,
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for ProducerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProducerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl ProducerError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProducerError { kind, message: message.into(), source: None }
    }

    fn config(message: impl Into<String>) -> Self {
        ProducerError::new(ErrorKind::Config, message)
    }

    fn timeout(what: &str, after: Duration) -> Self {
        ProducerError::new(
            ErrorKind::Timeout,
            format!("{what}: no answer within {} ms (the request timeout)", after.as_millis()),
        )
    }

    /// An error of the Kafka client, classified by its cause.
    fn kafka(what: &str, source: KafkaError) -> Self {
        let kind = classify(&source);
        let hint = match kind {
            ErrorKind::Tls => " (TLS: is the CA trusted, the certificate valid for this host name, the client certificate accepted?)",
            ErrorKind::Authentication => " (authentication failed: check the credentials)",
            ErrorKind::Authorization => " (not authorised: check the ACLs or the IAM policy)",
            _ => "",
        };
        ProducerError { kind, message: format!("{what}{hint}"), source: Some(Arc::new(source)) }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// True when the cluster could not be reached or did not answer in time
    /// ([`ErrorKind::Unavailable`] or [`ErrorKind::Timeout`]): callers such as HTTP APIs
    /// answer 503 for these, and a later attempt may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.kind, ErrorKind::Unavailable | ErrorKind::Timeout)
    }

    /// True for [`ErrorKind::Timeout`]: the outcome is unknown, the record may have been
    /// written.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }
}

/// The kind of an rskafka error, from its variants and the errors it wraps (TLS errors reach
/// it as `std::io::Error`s wrapping a `rustls::Error`).
fn classify(error: &KafkaError) -> ErrorKind {
    match error {
        KafkaError::Connection(e) => classify_connection(e),
        KafkaError::Request(e) => classify_chain(e),
        KafkaError::ServerError { protocol_error, .. } => classify_protocol(*protocol_error),
        KafkaError::RetryFailed(BackoffError::DeadlineExceded { source, .. }) => {
            classify_boxed(source.as_ref())
        }
        KafkaError::Timeout => ErrorKind::Timeout,
        _ => ErrorKind::Broker,
    }
}

fn classify_connection(error: &ConnectionError) -> ErrorKind {
    match error {
        ConnectionError::SaslFailed(SaslError::ApiError(code)) => match classify_protocol(*code) {
            ErrorKind::Broker => ErrorKind::Authentication,
            kind => kind,
        },
        ConnectionError::SaslFailed(SaslError::RequestError(e)) => classify_chain(e),
        ConnectionError::SaslFailed(_) => ErrorKind::Authentication,
        ConnectionError::RetryFailed(BackoffError::DeadlineExceded { source, .. }) => {
            classify_boxed(source.as_ref())
        }
        ConnectionError::SyncVersions(_) => ErrorKind::Broker,
        // Transport and metadata errors: look for TLS in what they wrap.
        other => classify_chain(other),
    }
}

fn classify_boxed(error: &(dyn std::error::Error + Send + Sync + 'static)) -> ErrorKind {
    if let Some(e) = error.downcast_ref::<KafkaError>() {
        classify(e)
    } else if let Some(e) = error.downcast_ref::<ConnectionError>() {
        classify_connection(e)
    } else if let Some(e) = error.downcast_ref::<Arc<dyn std::error::Error + Send + Sync>>() {
        classify_opaque(e.as_ref())
    } else {
        classify_opaque(error)
    }
}

/// rskafka 0.6 gathers the errors of every bootstrap broker of a failed connection attempt
/// into a private `MultiError` that has no `source()`: the types inside cannot be reached, only
/// their messages (rskafka's own and rustls'), so these are read. The TLS and SASL tests pin
/// them.
fn classify_opaque(error: &(dyn std::error::Error + 'static)) -> ErrorKind {
    if classify_chain(error) == ErrorKind::Tls {
        return ErrorKind::Tls;
    }
    let text = error.to_string();
    // rustls' `Error` messages: `invalid peer certificate: …`, `received fatal alert: …`,
    // `peer is incompatible: …`, `peer misbehaved: …`.
    const TLS: [&str; 4] = [
        "invalid peer certificate",
        "received fatal alert",
        "peer is incompatible",
        "peer misbehaved",
    ];
    if TLS.iter().any(|m| text.contains(m)) {
        ErrorKind::Tls
    } else if text.contains("Sasl handshake failed: Request error") {
        // rskafka's `SaslError::RequestError`: the connection failed during the exchange.
        ErrorKind::Unavailable
    } else if text.contains("Sasl handshake failed") {
        // rskafka's `ConnectionError::SaslFailed`: refused credentials, a failed callback.
        ErrorKind::Authentication
    } else {
        ErrorKind::Unavailable
    }
}

/// TLS when a `rustls::Error` is in the source chain, else unavailable (I/O).
fn classify_chain(error: &(dyn std::error::Error + 'static)) -> ErrorKind {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<rustls::Error>() {
            return ErrorKind::Tls;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
                return ErrorKind::Tls;
            }
        }
        next = e.source();
    }
    ErrorKind::Unavailable
}

/// Kafka protocol error codes (<https://kafka.apache.org/protocol#protocol_error_codes>).
fn classify_protocol(code: ProtocolError) -> ErrorKind {
    use ProtocolError as P;
    match code {
        P::SaslAuthenticationFailed | P::UnsupportedSaslMechanism | P::IllegalSaslState => {
            ErrorKind::Authentication
        }
        P::TopicAuthorizationFailed
        | P::ClusterAuthorizationFailed
        | P::GroupAuthorizationFailed
        | P::TransactionalIdAuthorizationFailed => ErrorKind::Authorization,
        P::UnknownTopicOrPartition | P::InvalidTopicException => ErrorKind::UnknownTopic,
        P::RequestTimedOut => ErrorKind::Timeout,
        P::LeaderNotAvailable
        | P::NotLeaderOrFollower
        | P::BrokerNotAvailable
        | P::NetworkException
        | P::NotEnoughReplicas
        | P::NotEnoughReplicasAfterAppend
        | P::KafkaStorageError
        | P::NotController => ErrorKind::Unavailable,
        P::MessageTooLarge | P::RecordListTooLarge | P::CorruptMessage | P::PolicyViolation => {
            ErrorKind::Rejected
        }
        _ => ErrorKind::Broker,
    }
}

/// rskafka's cluster client (topic lookups, partition leaders) and whether a request on it went
/// unanswered.
struct Cluster {
    client: Arc<Client>,
    /// One more each time the client is made again.
    generation: u64,
    silent: bool,
}

impl Cluster {
    fn trusted(&self) -> Option<(Arc<Client>, u64)> {
        (!self.silent).then(|| (Arc::clone(&self.client), self.generation))
    }
}

/// What a cluster client is made from, kept to make it again: rskafka's builder is used up by
/// `build`. Secrets were read once, when the producer connected.
struct ClientRecipe {
    servers: Vec<String>,
    client_id: Arc<str>,
    backoff: BackoffConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    sasl: Option<SaslConfig>,
}

impl ClientRecipe {
    /// A connected cluster client, within `timeout`. `servers` names them in errors.
    async fn build(&self, timeout: Duration, servers: &str) -> Result<Client, ProducerError> {
        let mut builder = ClientBuilder::new(self.servers.clone())
            .client_id(Arc::clone(&self.client_id))
            .backoff_config(self.backoff.clone());
        if let Some(tls) = &self.tls {
            builder = builder.tls_config(Arc::clone(tls));
        }
        if let Some(sasl) = &self.sasl {
            builder = builder.sasl_config(sasl.clone());
        }
        let what = format!("connecting to {servers}");
        match tokio::time::timeout(timeout, builder.build()).await {
            Err(_) => Err(ProducerError::timeout(&what, timeout)),
            Ok(Err(source)) => Err(ProducerError::kafka(&what, source)),
            Ok(Ok(client)) => Ok(client),
        }
    }
}

/// A topic's partitions and when they were looked up: each partition's client (a connection
/// to its leader, in rskafka) is made when a record first goes to it, not for every partition
/// of the topic up front.
struct TopicPartitions {
    partitions: Arc<[Partition]>,
    fetched: Instant,
}

/// One partition of a topic, and its client once made.
struct Partition {
    id: i32,
    client: tokio::sync::OnceCell<Arc<PartitionClient>>,
}

/// A connected producer. Cheap to share by reference; create one per execution environment.
pub struct Producer {
    cluster: Mutex<Cluster>,
    /// Held while the cluster client is made again, so that it is made once.
    reconnecting: tokio::sync::Mutex<()>,
    recipe: ClientRecipe,
    topics: Mutex<HashMap<String, TopicPartitions>>,
    next: AtomicUsize,
    timeout: Duration,
    servers: String,
    compression: KafkaCompression,
    metadata_max_age: Duration,
    max_batch_bytes: usize,
    produce_requests: AtomicUsize,
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer").field("servers", &self.servers).finish_non_exhaustive()
    }
}

impl Producer {
    /// Connects to the cluster (bounded by the request timeout). Secrets named in the
    /// configuration are read first (once per process).
    pub async fn connect(config: ProducerConfig) -> Result<Producer, ProducerError> {
        if config.bootstrap_servers.is_empty() {
            return Err(ProducerError::config("no bootstrap servers"));
        }
        let compression = config.compression.codec()?;
        let servers = config.bootstrap_servers.join(",");
        let timeout = config.request_timeout;
        // rskafka retries failed connections (every broker, then a backoff) until its deadline,
        // which counts only the time spent backing off. Half the request timeout leaves the
        // other half for the attempts themselves, so that a refused handshake or login ends
        // with rskafka's error (TLS, SASL) rather than with the outer timeout's.
        let backoff = BackoffConfig { deadline: Some(timeout / 2), ..BackoffConfig::default() };
        let ca = config.tls_ca_file.as_deref();
        let (tls, sasl) = match config.auth {
            Auth::Plaintext => (None, None),
            Auth::Tls => (Some(tls_config(ca, None)?), None),
            Auth::Iam { region } => (
                Some(tls_config(ca, None)?),
                Some(SaslConfig::Oauthbearer(OauthBearerCredentials {
                    callback: iam_callback(region),
                    authz_id: None,
                    bearer_kvs: Vec::new(),
                })),
            ),
            Auth::Scram { username, password } => (
                Some(tls_config(ca, None)?),
                Some(SaslConfig::ScramSha512(Credentials::new(username, password))),
            ),
            Auth::ScramSecret { secret_arn } => {
                let secret = secret_json(&secret_arn, timeout).await?;
                let username = secret_field(&secret, &secret_arn, "username")?;
                let password = secret_field(&secret, &secret_arn, "password")?;
                (
                    Some(tls_config(ca, None)?),
                    Some(SaslConfig::ScramSha512(Credentials::new(username, password))),
                )
            }
            Auth::Mtls(certificate) => {
                let identity = client_identity(&certificate, timeout).await?;
                (Some(tls_config(ca, Some(identity))?), None)
            }
        };
        let recipe = ClientRecipe {
            servers: config.bootstrap_servers,
            client_id: config.client_id.into(),
            backoff,
            tls,
            sasl,
        };
        let client = recipe.build(timeout, &servers).await?;
        Ok(Producer {
            cluster: Mutex::new(Cluster { client: Arc::new(client), generation: 0, silent: false }),
            reconnecting: tokio::sync::Mutex::new(()),
            recipe,
            topics: Mutex::new(HashMap::new()),
            next: AtomicUsize::new(0),
            timeout,
            servers,
            compression,
            metadata_max_age: config.metadata_max_age,
            max_batch_bytes: config.max_batch_bytes,
            produce_requests: AtomicUsize::new(0),
        })
    }

    /// Sends `value` as JSON with an optional key; returns where it was written.
    pub async fn send_json<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: &T,
    ) -> Result<Delivery, ProducerError> {
        let value = serde_json::to_vec(value).map_err(|e| ProducerError {
            kind: ErrorKind::Serialization,
            message: format!("the value for `{topic}` does not serialize to JSON"),
            source: Some(Arc::new(e)),
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
        let hash = record.key.as_deref().map(murmur2);
        let record = to_kafka(record, topic)?;
        // One deadline for the whole send: the topic's lookup and the partition's connection,
        // when not cached, come out of the same timeout as the request.
        let mut chosen = None;
        let steps = async {
            let partitions = self.partitions(topic).await?;
            let partition = &partitions[self.pick(hash, partitions.len())];
            chosen = Some(partition.id);
            let client = self.partition_client(topic, partition).await?;
            let offsets = self.produce(topic, &client, vec![record]).await?;
            Ok::<_, ProducerError>((client, offsets))
        };
        let (partition, offsets) = match tokio::time::timeout(self.timeout, steps).await {
            Ok(result) => result?,
            Err(_) => {
                self.forget(topic);
                // The client current now: the one this send waited on, or one it made again
                // on its way (at worst one reconnect more than needed).
                self.unanswered(self.generation());
                let what = match chosen {
                    Some(partition) => format!("sending to {topic}-{partition}"),
                    None => format!("sending to {topic} (looking up its partitions)"),
                };
                return Err(ProducerError::timeout(&what, self.timeout));
            }
        };
        let offset = offsets.first().copied().ok_or_else(|| {
            ProducerError::new(
                ErrorKind::Broker,
                format!(
                    "sending to {topic}-{}: the broker returned no offset",
                    partition.partition()
                ),
            )
        })?;
        Ok(Delivery { partition: partition.partition(), offset })
    }

    /// Sends many records to `topic`: grouped by partition (keys decide it as in
    /// [`send`](Self::send)), one produce request per partition for up to
    /// [`ProducerConfig::max_batch_bytes`] of records, the partitions in parallel, each
    /// partition's requests in order.
    ///
    /// Returns one result per record, in the order given: its partition and offset, or why it
    /// was not written. When a request for a partition fails, the later records for that
    /// partition are not sent (so that a retry cannot put them before the failed ones) and
    /// carry the error too; other partitions are unaffected. `Err` only when nothing was sent
    /// (the topic's partitions could not be looked up).
    pub async fn send_batch(
        &self,
        topic: &str,
        records: Vec<OutgoingRecord>,
    ) -> Result<Vec<Result<Delivery, ProducerError>>, ProducerError> {
        let partitions = self.partitions(topic).await?;
        let count = records.len();
        let mut results: Vec<Option<Result<Delivery, ProducerError>>> = vec![None; count];
        // Per partition: the records' positions and contents, in order.
        let mut by_partition: Vec<Vec<(usize, usize, KafkaRecord)>> =
            (0..partitions.len()).map(|_| Vec::new()).collect();
        for (index, record) in records.into_iter().enumerate() {
            let partition = self.pick(record.key.as_deref().map(murmur2), partitions.len());
            let size = record.size();
            match to_kafka(record, topic) {
                Ok(record) => by_partition[partition].push((index, size, record)),
                Err(e) => results[index] = Some(Err(e)),
            }
        }
        let sends = by_partition.into_iter().enumerate().filter(|(_, r)| !r.is_empty()).map(
            |(partition, records)| {
                let partition = &partitions[partition];
                async move {
                    match self.partition_client(topic, partition).await {
                        Ok(client) => self.send_partition(topic, &client, records).await,
                        Err(error) => {
                            records.into_iter().map(|(i, ..)| (i, Err(error.clone()))).collect()
                        }
                    }
                }
            },
        );
        for outcome in futures_util::future::join_all(sends).await {
            for (index, result) in outcome {
                results[index] = Some(result);
            }
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(ProducerError::new(ErrorKind::Broker, "internal: a record had no result"))
                })
            })
            .collect())
    }

    /// One partition's records, in requests of up to `max_batch_bytes`, stopping at the first
    /// failure.
    async fn send_partition(
        &self,
        topic: &str,
        partition: &PartitionClient,
        records: Vec<(usize, usize, KafkaRecord)>,
    ) -> Vec<(usize, Result<Delivery, ProducerError>)> {
        let mut results = Vec::with_capacity(records.len());
        let mut failed: Option<ProducerError> = None;
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            let mut indices = Vec::new();
            let mut chunk = Vec::new();
            let mut bytes = 0;
            while let Some((_, size, _)) = records.peek() {
                if !chunk.is_empty() && bytes + size > self.max_batch_bytes {
                    break;
                }
                let (index, size, record) = records.next().expect("peeked");
                bytes += size;
                indices.push(index);
                chunk.push(record);
            }
            if let Some(error) = &failed {
                let error = ProducerError {
                    kind: ErrorKind::NotSent,
                    message: format!(
                        "not sent: an earlier record for {topic}-{} failed",
                        partition.partition()
                    ),
                    source: Some(Arc::new(error.clone())),
                };
                results.extend(indices.into_iter().map(|i| (i, Err(error.clone()))));
                continue;
            }
            match self.produce(topic, partition, chunk).await {
                Ok(offsets) if offsets.len() == indices.len() => {
                    results.extend(indices.into_iter().zip(offsets).map(|(i, offset)| {
                        (i, Ok(Delivery { partition: partition.partition(), offset }))
                    }));
                }
                Ok(offsets) => {
                    let error = ProducerError::new(
                        ErrorKind::Broker,
                        format!(
                            "sending to {topic}-{}: {} offsets returned for {} records",
                            partition.partition(),
                            offsets.len(),
                            indices.len()
                        ),
                    );
                    results.extend(indices.into_iter().map(|i| (i, Err(error.clone()))));
                    failed = Some(error);
                }
                Err(error) => {
                    results.extend(indices.into_iter().map(|i| (i, Err(error.clone()))));
                    failed = Some(error);
                }
            }
        }
        results
    }

    /// How many produce requests this producer has made (each `send` is one; `send_batch`
    /// makes one per partition and [`max_batch_bytes`](ProducerConfig::max_batch_bytes) of
    /// records). rskafka's own retries of a request are not counted.
    pub fn produce_requests(&self) -> usize {
        self.produce_requests.load(Ordering::Relaxed)
    }

    /// The number of partitions of `topic` as this producer knows it (read again when older
    /// than [`ProducerConfig::metadata_max_age`]).
    pub async fn partition_count(&self, topic: &str) -> Result<usize, ProducerError> {
        Ok(self.partitions(topic).await?.len())
    }

    /// The partition index among `count` for a record whose key has murmur2 hash `hash`
    /// (`None`: no key).
    fn pick(&self, hash: Option<i32>, count: usize) -> usize {
        match hash {
            // The Java client's default partitioner: toPositive(murmur2(key)) % partitions.
            Some(hash) => (hash & 0x7fff_ffff) as usize % count,
            None => self.next.fetch_add(1, Ordering::Relaxed) % count,
        }
    }

    /// One produce request, bounded by the request timeout; a failure makes the next send
    /// read the topic's partitions again.
    async fn produce(
        &self,
        topic: &str,
        partition: &PartitionClient,
        records: Vec<KafkaRecord>,
    ) -> Result<Vec<i64>, ProducerError> {
        self.produce_requests.fetch_add(1, Ordering::Relaxed);
        let what = format!("sending to {topic}-{}", partition.partition());
        let generation = self.generation();
        let result =
            match tokio::time::timeout(self.timeout, partition.produce(records, self.compression))
                .await
            {
                Err(_) => {
                    self.unanswered(generation);
                    Err(ProducerError::timeout(&what, self.timeout))
                }
                Ok(Err(source)) => Err(ProducerError::kafka(&what, source)),
                Ok(Ok(offsets)) => Ok(offsets),
            };
        if result.is_err() {
            self.forget(topic);
        }
        result
    }

    /// The next send to `topic` looks its partitions up again.
    fn forget(&self, topic: &str) {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner).remove(topic);
    }

    /// The cluster client, made again first when a request on the current one went
    /// unanswered (bounded by the request timeout).
    async fn cluster(&self) -> Result<(Arc<Client>, u64), ProducerError> {
        if let Some(current) = self.lock_cluster().trusted() {
            return Ok(current);
        }
        // One reconnect at a time, and the wait for another's bounded too: a caller without an
        // outer timeout (a `send_batch`'s partitions) must not queue behind failing attempts.
        let what = format!("connecting to {} again after a request went unanswered", self.servers);
        let _only_one = tokio::time::timeout(self.timeout, self.reconnecting.lock())
            .await
            .map_err(|_| ProducerError::timeout(&what, self.timeout))?;
        // Made again while this send waited for the lock.
        if let Some(current) = self.lock_cluster().trusted() {
            return Ok(current);
        }
        let client = Arc::new(self.recipe.build(self.timeout, &self.servers).await?);
        // Every topic looked up again, its partitions' clients made from the new client: a
        // partition client keeps the cluster client it was made from, and with it the
        // connection that went unanswered.
        self.topics.lock().unwrap_or_else(PoisonError::into_inner).clear();
        let mut cluster = self.lock_cluster();
        *cluster = Cluster {
            client: Arc::clone(&client),
            generation: cluster.generation + 1,
            silent: false,
        };
        tracing::info!(servers = %self.servers, "reconnected to the cluster after a request went unanswered");
        Ok((client, cluster.generation))
    }

    /// Which cluster client is current (see [`Producer::unanswered`]).
    fn generation(&self) -> u64 {
        self.lock_cluster().generation
    }

    /// A request begun under cluster client `generation` went unanswered within the request
    /// timeout. rskafka has no request timeout of its own: a broker that stopped answering
    /// without closing the connection (a hung process, packets dropped on the way) leaves a
    /// request on it waiting for ever, and the cluster client keeps the connection it reads
    /// metadata on, so every later lookup would wait on it too. The next request makes a new
    /// cluster client; the connections of the old one close when the last of its users is
    /// done (each partition's client is dropped with its topic, see [`Producer::forget`]).
    fn unanswered(&self, generation: u64) {
        let mut cluster = self.lock_cluster();
        if cluster.generation == generation {
            cluster.silent = true;
        }
    }

    fn lock_cluster(&self) -> std::sync::MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The client of `partition`, made on first use (bounded by the request timeout).
    async fn partition_client(
        &self,
        topic: &str,
        partition: &Partition,
    ) -> Result<Arc<PartitionClient>, ProducerError> {
        let make = || async {
            let (cluster, generation) = self.cluster().await?;
            let what = format!("connecting to the leader of {topic}-{}", partition.id);
            let made = tokio::time::timeout(
                self.timeout,
                cluster.partition_client(topic, partition.id, UnknownTopicHandling::Error),
            )
            .await;
            match made {
                Err(_) => {
                    self.unanswered(generation);
                    Err(ProducerError::timeout(&what, self.timeout))
                }
                Ok(Err(source)) => Err(ProducerError::kafka(&what, source)),
                Ok(Ok(client)) => Ok(Arc::new(client)),
            }
        };
        let client = partition.client.get_or_try_init(make).await;
        if client.is_err() {
            self.forget(topic);
        }
        client.cloned()
    }

    /// The partitions of `topic`, looked up again when older than the metadata max age.
    async fn partitions(&self, topic: &str) -> Result<Arc<[Partition]>, ProducerError> {
        let cached = match self.topics.lock().unwrap_or_else(PoisonError::into_inner).get(topic) {
            Some(found) if found.fetched.elapsed() < self.metadata_max_age => {
                return Ok(Arc::clone(&found.partitions));
            }
            Some(found) => Some(Arc::clone(&found.partitions)),
            None => None,
        };
        let (cluster, generation) = self.cluster().await?;
        let what = format!("looking up topic `{topic}` on {}", self.servers);
        let topics = match tokio::time::timeout(self.timeout, cluster.list_topics()).await {
            Err(_) => {
                self.unanswered(generation);
                return Err(ProducerError::timeout(&what, self.timeout));
            }
            Ok(Err(source)) => return Err(ProducerError::kafka(&what, source)),
            Ok(Ok(topics)) => topics,
        };
        // Kafka leaves out of an all-topics lookup the topics this principal may not describe.
        let unknown = || {
            ProducerError::new(
                ErrorKind::UnknownTopic,
                format!(
                    "topic `{topic}` does not exist on the cluster, or these credentials may not \
                     describe it (IAM: kafka-cluster:DescribeTopic; SCRAM, mTLS: a Describe ACL)"
                ),
            )
        };
        let Some(found) = topics.into_iter().find(|t| t.name == topic) else {
            return Err(unknown());
        };
        if found.partitions.is_empty() {
            return Err(unknown());
        }
        let partitions: Arc<[Partition]> = match cached {
            // The same partitions: their clients (and leaders) stay.
            Some(cached) if cached.iter().map(|p| p.id).eq(found.partitions.iter().copied()) => {
                cached
            }
            // A BTreeSet: in partition order (Kafka numbers partitions from 0).
            _ => found
                .partitions
                .into_iter()
                .map(|id| Partition { id, client: tokio::sync::OnceCell::new() })
                .collect(),
        };
        self.topics.lock().unwrap_or_else(PoisonError::into_inner).insert(
            topic.to_owned(),
            TopicPartitions { partitions: Arc::clone(&partitions), fetched: Instant::now() },
        );
        Ok(partitions)
    }
}

/// rskafka's record; a repeated header name is refused.
fn to_kafka(record: OutgoingRecord, topic: &str) -> Result<KafkaRecord, ProducerError> {
    let mut headers = std::collections::BTreeMap::new();
    for (name, value) in record.headers {
        if headers.contains_key(&name) {
            return Err(ProducerError::new(
                ErrorKind::InvalidRecord,
                format!(
                    "a record for `{topic}` has the header `{name}` more than once: this client sends each header name once, so join the values or rename the header"
                ),
            ));
        }
        headers.insert(name, value);
    }
    Ok(KafkaRecord {
        key: record.key,
        value: record.value,
        headers,
        timestamp: rskafka::chrono::Utc::now(),
    })
}

/// rustls with the given CA bundle (else Mozilla's roots), an optional client identity, and an
/// explicit crypto provider (aws-lc-rs: with more than one provider in the build, rustls
/// refuses to pick one itself). Server certificates are always verified, names included
/// (RFC 6125 via webpki).
fn tls_config(
    ca_file: Option<&Path>,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<rustls::ClientConfig>, ProducerError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        None => roots.roots = webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        Some(path) => {
            let certificates = read_certificates(&std::fs::read(path).map_err(|e| {
                ProducerError::config(format!(
                    "cannot read the CA file {} (MSK_TLS_CA_FILE): {e}",
                    path.display()
                ))
            })?)
            .map_err(|e| {
                ProducerError::config(format!(
                    "the CA file {} (MSK_TLS_CA_FILE): {e}",
                    path.display()
                ))
            })?;
            for certificate in certificates {
                roots.add(certificate).map_err(|e| {
                    ProducerError::config(format!(
                        "the CA file {} (MSK_TLS_CA_FILE) has a certificate rustls cannot use: {e}",
                        path.display()
                    ))
                })?;
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
            ProducerError::config(format!(
                "the mTLS client certificate and key do not fit together: {e}"
            ))
        })?,
    };
    Ok(Arc::new(config))
}

/// Every certificate in a PEM bundle; at least one.
fn read_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not valid PEM: {e}"))?;
    if certificates.is_empty() {
        return Err("no `BEGIN CERTIFICATE` block in it".to_owned());
    }
    Ok(certificates)
}

/// The client certificate chain and key of mTLS, from files or a secret.
async fn client_identity(
    source: &ClientCertificate,
    timeout: Duration,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ProducerError> {
    match source {
        ClientCertificate::Files { certificate, private_key } => {
            let read = |path: &Path, var: &str| {
                std::fs::read(path).map_err(|e| {
                    ProducerError::config(format!("cannot read {} ({var}): {e}", path.display()))
                })
            };
            let chain = read_certificates(&read(certificate, "MSK_TLS_CLIENT_CERT_FILE")?)
                .map_err(|e| {
                    ProducerError::config(format!(
                        "the client certificate {} (MSK_TLS_CLIENT_CERT_FILE): {e}",
                        certificate.display()
                    ))
                })?;
            let key = PrivateKeyDer::from_pem_slice(&read(private_key, "MSK_TLS_CLIENT_KEY_FILE")?)
                .map_err(|e| {
                    ProducerError::config(format!(
                        "the client key {} (MSK_TLS_CLIENT_KEY_FILE) has no PEM private key: {e}",
                        private_key.display()
                    ))
                })?;
            Ok((chain, key))
        }
        ClientCertificate::Secret { secret_arn } => {
            let secret = secret_json(secret_arn, timeout).await?;
            let certificate = secret_field(&secret, secret_arn, "certificate")?;
            let private_key = secret_field(&secret, secret_arn, "privateKey")?;
            let malformed = |what: String| {
                ProducerError::new(ErrorKind::Secret, format!("the secret `{secret_arn}`: {what}"))
            };
            let chain = read_certificates(certificate.as_bytes())
                .map_err(|e| malformed(format!("`certificate`: {e}")))?;
            let key = PrivateKeyDer::from_pem_slice(private_key.as_bytes())
                .map_err(|e| malformed(format!("`privateKey` has no PEM private key: {e}")))?;
            Ok((chain, key))
        }
    }
}

/// The JSON object in a Secrets Manager secret, fetched once per process (per ARN).
async fn secret_json(
    arn: &str,
    timeout: Duration,
) -> Result<Arc<secrets::SecretObject>, ProducerError> {
    secrets::cached_object(arn, timeout).await.map_err(|e| match e {
        secrets::SecretError::TimedOut => ProducerError::timeout(
            &format!("reading the secret `{arn}` from AWS Secrets Manager"),
            timeout,
        ),
        secrets::SecretError::Failed(message) => ProducerError::new(ErrorKind::Secret, message),
    })
}

/// A string field of a secret.
fn secret_field(
    secret: &secrets::SecretObject,
    arn: &str,
    field: &str,
) -> Result<String, ProducerError> {
    secrets::string_field(secret, arn, field)
        .map_err(|message| ProducerError::new(ErrorKind::Secret, message))
}

/// The MSK IAM token for `region`: a SigV4-presigned URL for `kafka-cluster:Connect`,
/// base64url-encoded, signed with credentials from the standard AWS chain; and its expiry
/// (milliseconds since the epoch).
pub async fn iam_token(region: &str) -> Result<(String, i64), ProducerError> {
    aws_msk_iam_sasl_signer::generate_auth_token(aws_config::Region::new(region.to_owned()))
        .await
        .map_err(|e| {
            ProducerError::new(
                ErrorKind::Authentication,
                format!("cannot sign the MSK IAM token: {e}"),
            )
        })
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

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_default_timeout_leaves_room_in_lambdas_init() {
        // Lambda ends INIT after 10 s; the default must fail well before, with its own message.
        assert!(DEFAULT_REQUEST_TIMEOUT <= Duration::from_secs(5));
        let config = ProducerConfig::new("b-1:9098");
        assert_eq!(config.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        let config = ProducerConfig::from_lookup(lookup(&[
            ("MSK_BOOTSTRAP_SERVERS", "b:1"),
            ("MSK_AUTH", "plaintext"),
        ]))
        .unwrap();
        assert_eq!(config.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(config.metadata_max_age, DEFAULT_METADATA_MAX_AGE);
        assert_eq!(config.compression, Compression::None);
    }

    #[test]
    fn every_auth_from_the_environment() {
        let servers = ("MSK_BOOTSTRAP_SERVERS", "b-1:9096");
        let auth = |vars: &[(&str, &str)]| {
            let mut all = vec![servers];
            all.extend_from_slice(vars);
            ProducerConfig::from_lookup(lookup(&all)).map(|c| c.auth)
        };
        assert_eq!(
            auth(&[("AWS_REGION", "eu-west-1")]).unwrap(),
            Auth::Iam { region: "eu-west-1".into() }
        );
        assert_eq!(
            auth(&[
                ("MSK_AUTH", "scram"),
                ("MSK_SCRAM_USERNAME", "u"),
                ("MSK_SCRAM_PASSWORD", "p")
            ])
            .unwrap(),
            Auth::Scram { username: "u".into(), password: "p".into() }
        );
        assert_eq!(
            auth(&[
                ("MSK_AUTH", "scram"),
                ("MSK_SCRAM_SECRET_ARN", "arn:s"),
                ("MSK_SCRAM_USERNAME", "u")
            ])
            .unwrap(),
            Auth::ScramSecret { secret_arn: "arn:s".into() }
        );
        assert_eq!(
            auth(&[
                ("MSK_AUTH", "mtls"),
                ("MSK_TLS_CLIENT_CERT_FILE", "c.pem"),
                ("MSK_TLS_CLIENT_KEY_FILE", "k.pem")
            ])
            .unwrap(),
            Auth::Mtls(ClientCertificate::Files {
                certificate: "c.pem".into(),
                private_key: "k.pem".into()
            })
        );
        assert_eq!(
            auth(&[("MSK_AUTH", "mtls"), ("MSK_TLS_CLIENT_SECRET_ARN", "arn:c")]).unwrap(),
            Auth::Mtls(ClientCertificate::Secret { secret_arn: "arn:c".into() })
        );
        assert_eq!(auth(&[("MSK_AUTH", "tls")]).unwrap(), Auth::Tls);
        assert_eq!(auth(&[("MSK_AUTH", "plaintext")]).unwrap(), Auth::Plaintext);
        for (vars, expected) in [
            (
                &[("MSK_AUTH", "scram"), ("MSK_SCRAM_USERNAME", "u")][..],
                "MSK_SCRAM_PASSWORD is not set",
            ),
            (
                &[("MSK_AUTH", "mtls"), ("MSK_TLS_CLIENT_CERT_FILE", "c")][..],
                "MSK_TLS_CLIENT_KEY_FILE is not set",
            ),
            (&[][..], "AWS_REGION is not set"),
            (&[("MSK_AUTH", "kerberos")][..], "MSK_AUTH is `kerberos`"),
            (&[("MSK_AUTH", "tls"), ("MSK_COMPRESSION", "lzma")][..], "MSK_COMPRESSION is `lzma`"),
            (
                &[("MSK_AUTH", "tls"), ("MSK_METADATA_MAX_AGE_MS", "5m")][..],
                "MSK_METADATA_MAX_AGE_MS is `5m`",
            ),
        ] {
            let err = auth(vars).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(err.to_string().contains(expected), "{err}");
        }
        let config = ProducerConfig::from_lookup(lookup(&[
            servers,
            ("MSK_AUTH", "tls"),
            ("MSK_TLS_CA_FILE", "/etc/ca.pem"),
            ("MSK_COMPRESSION", "snappy"),
            ("MSK_REQUEST_TIMEOUT_MS", "1500"),
            ("MSK_METADATA_MAX_AGE_MS", "60000"),
        ]))
        .unwrap();
        assert_eq!(config.tls_ca_file.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(config.compression, Compression::Snappy);
        assert_eq!(config.request_timeout, Duration::from_millis(1500));
        assert_eq!(config.metadata_max_age, Duration::from_secs(60));
    }

    #[test]
    fn protocol_errors_by_cause() {
        use ProtocolError as P;
        assert_eq!(classify_protocol(P::SaslAuthenticationFailed), ErrorKind::Authentication);
        assert_eq!(classify_protocol(P::TopicAuthorizationFailed), ErrorKind::Authorization);
        assert_eq!(classify_protocol(P::UnknownTopicOrPartition), ErrorKind::UnknownTopic);
        assert_eq!(classify_protocol(P::RequestTimedOut), ErrorKind::Timeout);
        assert_eq!(classify_protocol(P::NotLeaderOrFollower), ErrorKind::Unavailable);
        assert_eq!(classify_protocol(P::MessageTooLarge), ErrorKind::Rejected);
        assert_eq!(classify_protocol(P::UnknownServerError), ErrorKind::Broker);
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::HandshakeNotComplete,
        );
        assert_eq!(classify_chain(&io), ErrorKind::Tls);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(classify_chain(&refused), ErrorKind::Unavailable);
    }

    /// An error that, like rskafka's `MultiError`, shows others' messages but not their types.
    #[derive(Debug)]
    struct Opaque(String);
    impl fmt::Display for Opaque {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for Opaque {}

    #[test]
    fn opaque_errors_by_their_messages() {
        // rustls' own messages, as rskafka wraps them (`IO Error: …`).
        let unknown_issuer =
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired);
        for tls in [unknown_issuer, alert] {
            let text = format!("error connecting to broker \"b:9094\": IO Error: {tls}");
            assert_eq!(classify_opaque(&Opaque(text)), ErrorKind::Tls, "{tls}");
        }
        let sasl = "Sasl handshake failed: Sasl session error: internal mechanism error: SCRAM outcome error: unknown user";
        assert_eq!(classify_opaque(&Opaque(sasl.into())), ErrorKind::Authentication);
        let dropped = "Sasl handshake failed: Request error: Cannot read/write data: broken pipe";
        assert_eq!(classify_opaque(&Opaque(dropped.into())), ErrorKind::Unavailable);
        let refused = "error connecting to broker \"b:9094\": IO Error: Connection refused";
        assert_eq!(classify_opaque(&Opaque(refused.into())), ErrorKind::Unavailable);
    }

    #[test]
    fn a_repeated_header_name_is_refused() {
        let record = OutgoingRecord {
            headers: vec![
                ("a".into(), b"1".to_vec()),
                ("b".into(), b"2".to_vec()),
                ("a".into(), b"3".to_vec()),
            ],
            ..Default::default()
        };
        let err = to_kafka(record, "t").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRecord);
        let fine =
            OutgoingRecord { headers: vec![("a".into(), b"1".to_vec())], ..Default::default() };
        assert_eq!(to_kafka(fine, "t").unwrap().headers.len(), 1);
    }

    #[cfg(not(feature = "producer-zstd"))]
    #[test]
    fn zstd_without_its_feature_names_the_feature() {
        let err = Compression::Zstd.codec().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("`producer-zstd` feature"), "{err}");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let auth = Auth::Mtls(ClientCertificate::Secret { secret_arn: "arn:x".into() });
        assert_eq!(format!("{auth:?}"), r#"Mtls(Secret { secret_arn: "arn:x" })"#);
    }

    #[test]
    fn config_from_servers_and_secrets_stay_out_of_debug() {
        let config = ProducerConfig::new(" b-1:9098, b-2:9098 ,")
            .auth(Auth::Scram { username: "u".into(), password: "hunter2".into() });
        assert_eq!(config.bootstrap_servers, vec!["b-1:9098", "b-2:9098"]);
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
